/*
Copyright 2026 The maas-gateway Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	// Import all Kubernetes client auth plugins (e.g. Azure, GCP, OIDC, etc.)
	// to ensure that exec-entrypoint and run can make use of them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/operator"
	"github.com/maas-gateway/maas-gateway/internal/version"
	// +kubebuilder:scaffold:imports
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))

	utilruntime.Must(infrav1alpha1.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

// nolint:gocyclo
func main() {
	var metricsAddr string
	var metricsCertPath, metricsCertName, metricsCertKey string
	var webhookCertPath, webhookCertName, webhookCertKey string
	var webhookPort int
	var webhookHost string
	var enableLeaderElection bool
	var probeAddr string
	var secureMetrics bool
	var pprofAddr string
	var enableHTTP2 bool
	var tlsOpts []func(*tls.Config)
	var showVersion bool
	var checkURL, releaseCatalog string
	var opts operator.Options
	flag.BoolVar(&showVersion, "version", false, "Print the version and exit.")
	flag.StringVar(&checkURL, "check-url", "",
		"Only GET this URL (a self-signed certificate is accepted), exit 0 on a 2xx answer and 1 otherwise; for helm test.")
	flag.StringVar(&releaseCatalog, "release-catalog", "",
		"NAMESPACE/NAME of the ConfigMap holding the gateway release catalog (key releases.yaml); empty for none.")
	flag.DurationVar(&opts.PollInterval, "maas-poll-interval", 10*time.Second,
		"How often the machines of each cloud account are listed from MAAS (one request per account).")
	flag.DurationVar(&opts.RevalidateInterval, "revalidate-interval", 5*time.Minute,
		"How often a valid CloudAccount's credentials are checked again.")
	flag.DurationVar(&opts.CredentialsCheckInterval, "credentials-check-interval", 30*time.Second,
		"How often each CloudAccount's API-key Secret is read again, so a rotated key is validated "+
			"(Secrets are read by name, never watched).")
	flag.DurationVar(&opts.RetryInterval, "maas-retry-interval", 15*time.Second,
		"How soon an unreachable MAAS is tried again.")
	flag.Float64Var(&opts.MAAS.RateLimit, "maas-rate-limit", maas.DefaultOptions().RateLimit,
		"Requests per second the operator sends to one MAAS region (shared by every account on it); "+
			"raise it for a region that answers quickly.")
	flag.IntVar(&opts.MAAS.RateBurst, "maas-rate-burst", maas.DefaultOptions().RateBurst,
		"Requests the operator may send to one MAAS region at once above --maas-rate-limit.")
	flag.Float64Var(&opts.MAAS.PriorityShare, "maas-gateway-share", maas.DefaultPriorityShare,
		"Part (0 to 1) of --maas-rate-limit and --maas-rate-burst kept for the Gateway's own resize and upgrade, "+
			"which tenant clusters never use; the Gateway also uses the rest when it is free sooner.")
	flag.IntVar(&opts.TenantClusterConcurrency, "tenantcluster-concurrency", 10,
		"How many TenantClusters reconcile at once.")
	flag.DurationVar(&opts.TenantJoinTimeout, "tenant-join-timeout", controller.DefaultTenantJoinTimeout,
		"How long a tenant machine MAAS deployed may take to appear as a Node in its cluster before it is released "+
			"and replaced (counted from Deployed, with --observe-tenant-clusters).")
	flag.DurationVar(&opts.TenantKubeconfigValidity, "tenant-kubeconfig-validity",
		bootstrap.DefaultAdminKubeconfigValidity,
		"How long the admin kubeconfig the operator writes for each tenant cluster is valid; it is renewed when a third "+
			"of that is left, and status.kubeconfigExpiresAt says until when the current one is valid.")
	flag.BoolVar(&opts.ObserveTenantClusters, "observe-tenant-clusters", true,
		"Read every tenant cluster's Nodes and etcd members into its status, reaching its API server at its VIP and "+
			"its etcd at its control-plane machines' addresses. Off only for test worlds whose clusters have no API servers.")
	manageGatewayEtcd := true
	flag.BoolVar(&manageGatewayEtcd, "manage-gateway-etcd", true,
		"Remove a leaving gateway node's etcd member through the members that stay, quorum kept, and upload the "+
			"gateway's keys to its VIP for joining nodes. Off only for test worlds whose gateway nodes run no etcd; "+
			"a real gateway upgraded without it loses quorum, and resized without it cannot join nodes.")
	flag.BoolVar(&opts.OutsideGateway, "outside-gateway", false,
		"The manager runs outside the gateway cluster (the bootstrap cluster of maas-gateway install): it reads the "+
			"gateway's Nodes at its VIP and deploys only its first node; the rest join once the gateway is moved into itself.")
	flag.StringVar(&opts.NodeName, "node-name", os.Getenv("NODE_NAME"),
		"The Node this manager runs on (the chart sets NODE_NAME from the downward API): a Gateway deleted with "+
			"deletionPolicy Decommission releases that node's machine last, without draining the manager off it.")
	flag.BoolVar(&opts.Admission.AllowLoopbackEndpoints, "allow-loopback-endpoints", false,
		"Accept loopback control-plane endpoints (127.0.0.0/8, ::1) with a warning. Only for test worlds whose "+
			"emulated machines share one host; real machines cannot share a loopback VIP.")
	flag.DurationVar(&opts.ForceDeleteAfter, "force-delete-after", 14*time.Minute,
		"How long a TenantCluster must have been deleting before the "+
			"infra.maasgateway.io/force-delete annotation may drop its finalizer.")
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "",
		"The address net/http/pprof is served on (for profiling, e.g. 127.0.0.1:6060); empty disables it.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. "+
			"Enabling this will ensure there is only one active controller manager.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS. Use --metrics-secure=false to use HTTP instead.")
	flag.StringVar(&webhookCertPath, "webhook-cert-path", "", "The directory that contains the webhook certificate.")
	flag.StringVar(&webhookCertName, "webhook-cert-name", "tls.crt", "The name of the webhook certificate file.")
	flag.StringVar(&webhookCertKey, "webhook-cert-key", "tls.key", "The name of the webhook key file.")
	flag.StringVar(&webhookHost, "webhook-host", "", "The address the webhook server binds to; empty for every interface.")
	flag.IntVar(&webhookPort, "webhook-port", 9443, "Port the webhook server listens on. "+
		"Defaults to 9443. Set -1 to disable the webhook server.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "",
		"The directory that contains the metrics server certificate.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics and webhook servers")
	logOpts := zap.Options{}
	logOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	opts.SkipGatewayEtcd = !manageGatewayEtcd
	if s := opts.MAAS.PriorityShare; s <= 0 || s >= 1 {
		// The client would put the default in its place: say so instead.
		fmt.Fprintf(os.Stderr, "--maas-gateway-share=%g: it must lie between 0 and 1, both excluded\n", s)
		os.Exit(2)
	}
	if showVersion {
		fmt.Println(version.String("maas-gateway-manager"))
		return
	}
	if checkURL != "" {
		if err := check(checkURL, 10*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("ok:", checkURL)
		return
	}
	if releaseCatalog != "" {
		ns, name, ok := strings.Cut(releaseCatalog, "/")
		if !ok || ns == "" || name == "" {
			fmt.Fprintf(os.Stderr, "--release-catalog %q: want NAMESPACE/NAME\n", releaseCatalog)
			os.Exit(2)
		}
		opts.ReleaseCatalog = types.NamespacedName{Namespace: ns, Name: name}
	}

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&logOpts)))

	// if the enable-http2 flag is false (the default), http/2 should be disabled
	// due to its vulnerabilities. More specifically, disabling http/2 will
	// prevent from being vulnerable to the HTTP/2 Stream Cancellation and
	// Rapid Reset CVEs. For more information see:
	// - https://github.com/advisories/GHSA-qppj-fm5r-hxr3
	// - https://github.com/advisories/GHSA-4374-p667-p6c8
	disableHTTP2 := func(c *tls.Config) {
		setupLog.Info("Disabling HTTP/2")
		c.NextProtos = []string{"http/1.1"}
	}

	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, disableHTTP2)
	}

	// Initial webhook TLS options
	webhookTLSOpts := tlsOpts
	webhookServerOptions := webhook.Options{
		TLSOpts: webhookTLSOpts,
		Host:    webhookHost,
		Port:    webhookPort,
	}

	if len(webhookCertPath) > 0 {
		setupLog.Info("Initializing webhook certificate watcher using provided certificates",
			"webhook-cert-path", webhookCertPath, "webhook-cert-name", webhookCertName, "webhook-cert-key", webhookCertKey)

		webhookServerOptions.CertDir = webhookCertPath
		webhookServerOptions.CertName = webhookCertName
		webhookServerOptions.KeyName = webhookCertKey
	}

	webhookServer := webhook.NewServer(webhookServerOptions)

	// Metrics endpoint is enabled in 'config/default/kustomization.yaml'. The Metrics options configure the server.
	// More info:
	// - https://pkg.go.dev/sigs.k8s.io/controller-runtime@v0.25.0/pkg/metrics/server
	// - https://book.kubebuilder.io/reference/metrics.html
	metricsServerOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}

	if secureMetrics {
		// FilterProvider is used to protect the metrics endpoint with authn/authz.
		// These configurations ensure that only authorized users and service accounts
		// can access the metrics endpoint. The RBAC are configured in 'config/rbac/kustomization.yaml'. More info:
		// https://pkg.go.dev/sigs.k8s.io/controller-runtime@v0.25.0/pkg/metrics/filters#WithAuthenticationAndAuthorization
		metricsServerOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	// If the certificate is not specified, controller-runtime will automatically
	// generate self-signed certificates for the metrics server. While convenient for development and testing,
	// this setup is not recommended for production.
	//
	// TODO(user): If you enable certManager, uncomment the following lines:
	// - [METRICS-WITH-CERTS] at config/default/kustomization.yaml to generate and use certificates
	// managed by cert-manager for the metrics server.
	// - [PROMETHEUS-WITH-CERTS] at config/prometheus/kustomization.yaml for TLS certification.
	if len(metricsCertPath) > 0 {
		setupLog.Info("Initializing metrics certificate watcher using provided certificates",
			"metrics-cert-path", metricsCertPath, "metrics-cert-name", metricsCertName, "metrics-cert-key", metricsCertKey)

		metricsServerOptions.CertDir = metricsCertPath
		metricsServerOptions.CertName = metricsCertName
		metricsServerOptions.KeyName = metricsCertKey
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Cache:                  opts.CacheOptions(),
		Client:                 operator.ClientOptions(),
		Scheme:                 scheme,
		Metrics:                metricsServerOptions,
		WebhookServer:          webhookServer,
		HealthProbeBindAddress: probeAddr,
		PprofBindAddress:       pprofAddr,
		LeaderElection:         enableLeaderElection,
		LeaderElectionID:       "maas-gateway.maasgateway.io",
		// LeaderElectionReleaseOnCancel defines if the leader should step down voluntarily
		// when the Manager ends. This requires the binary to immediately end when the
		// Manager is stopped, otherwise, this setting is unsafe. Setting this significantly
		// speeds up voluntary leader transitions as the new leader don't have to wait
		// LeaseDuration time first.
		//
		// In the default scaffold provided, the program ends immediately after
		// the manager stops, so would be fine to enable this option. However,
		// if you are doing or is intended to do any operation such as perform cleanups
		// after the manager stops then its usage might be unsafe.
		// LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "Failed to start manager")
		os.Exit(1)
	}

	ctx := ctrl.SetupSignalHandler()
	opts.Webhooks = os.Getenv("ENABLE_WEBHOOKS") != "false" && webhookPort >= 0
	if _, err := operator.Setup(ctx, mgr, opts); err != nil {
		setupLog.Error(err, "Failed to set up the operator")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up health check")
		os.Exit(1)
	}
	readyz := healthz.Ping
	if opts.Webhooks {
		// Ready only once the webhook server listens, so that helm install
		// --wait creates objects only when admission can answer.
		readyz = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", readyz); err != nil {
		setupLog.Error(err, "Failed to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "Failed to run manager")
		os.Exit(1)
	}
}
