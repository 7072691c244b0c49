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

package v1alpha1

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	projectenvtest "github.com/maas-gateway/maas-gateway/test/envtest"
)

// The suite serves the webhooks from a manager, as main.go does, and installs
// config/webhook's configurations into a real kube-apiserver, so every
// request below goes through the API server's admission chain: defaulting
// webhooks, schema and CEL validation, then validating webhooks.
var (
	ctx        context.Context
	cancel     context.CancelFunc
	testEnv    *envtest.Environment
	restConfig *rest.Config
	scheme     = runtime.NewScheme()
	k8sClient  client.Client // records the warnings and errors it gets
	mgrCache   client.Reader // what the webhooks read through
	warnings   = &recorder{}
)

func TestAPIs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Webhook Suite")
}

// recorder keeps every warning the API server returns and every admission
// error a test saw, so the suite can check that none repeats an API key.
type recorder struct {
	mu       sync.Mutex
	pending  []string
	messages []string
}

func (r *recorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, text)
	r.messages = append(r.messages, text)
}

// take returns the warnings received since the last call.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.pending
	r.pending = nil
	return w
}

func (r *recorder) seen(err error) error {
	if err != nil {
		r.mu.Lock()
		r.messages = append(r.messages, err.Error())
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	// The machines these run on are shared and often loaded: waiting for the
	// webhook server or an informer may take seconds, not milliseconds.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.Background())
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(infrav1alpha1.AddToScheme(scheme)).To(Succeed())

	var err error
	testEnv, err = projectenvtest.New(projectenvtest.Options{Webhooks: true})
	Expect(err).NotTo(HaveOccurred())
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	restConfig = cfg

	clientCfg := rest.CopyConfig(cfg)
	clientCfg.WarningHandlerWithContext = warnings
	k8sClient, err = client.New(clientCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	opts := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: opts.LocalServingHost, Port: opts.LocalServingPort, CertDir: opts.LocalServingCertDir,
		}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(dependents.SetupIndexes(ctx, mgr.GetFieldIndexer())).To(Succeed())
	Expect(SetupGatewayWebhookWithManager(mgr, Options{})).To(Succeed())
	Expect(SetupCloudAccountWebhookWithManager(mgr, Options{})).To(Succeed())
	Expect(SetupTenantClusterWebhookWithManager(mgr, Options{})).To(Succeed())
	Expect(SetupClusterProfileWebhookWithManager(mgr, Options{})).To(Succeed())
	mgrCache = mgr.GetClient()

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	dialer := &net.Dialer{Timeout: time.Second}
	addr := net.JoinHostPort(opts.LocalServingHost, fmt.Sprint(opts.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return err
		}
		return conn.Close()
	}).Should(Succeed())

	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gatewayNamespace}})).To(Succeed())
	createSecrets(gatewayNamespace)
	Expect(k8sClient.Create(ctx, sharedGateway())).To(Succeed())
	gatewayCreateWarnings = warnings.take()
})

var _ = AfterSuite(func() {
	By("checking that no admission message repeated an API key")
	msgs := warnings.all()
	Expect(msgs).NotTo(BeEmpty())
	for _, m := range msgs {
		for _, part := range apiKeyParts {
			Expect(m).NotTo(ContainSubstring(part))
		}
	}
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})

// Credentials used by the suite. Each part is distinctive so that a message
// repeating any of them is caught.
const (
	goodAPIKey  = "cK3yQ9xZ1mP8rT2vW4:tK7nB5hJ2gF6dS9aL3:sEcReT0123456789abcdefghijKLMNOP"
	twoPartKey  = "cK3yQ9xZ1mP8rT2vW4:tK7nB5hJ2gF6dS9aL3"
	shortSecret = "cK3yQ9xZ1mP8rT2vW4:tK7nB5hJ2gF6dS9aL3:shortSecretXYZ"
)

var apiKeyParts = []string{"cK3yQ9xZ1mP8rT2vW4", "tK7nB5hJ2gF6dS9aL3", "sEcReT0123456789", "shortSecretXYZ"}

const (
	gatewayNamespace = "maas-system"
	gatewayName      = "gw"
	maasEndpoint     = "https://10.11.12.13:5443/MAAS"
	gatewayVIP       = "10.11.12.50"
	gatewayPodCIDR   = "172.20.0.0/16"
	gatewayProxy     = "http://proxy.example.com:3128"
)

// gatewayCreateWarnings are what creating the shared Gateway returned.
var gatewayCreateWarnings []string

// createSecrets creates the credentials Secrets every test namespace holds:
// maas (a good key), maas-two-parts and maas-short (bad keys), maas-custom
// (a good key under another key name).
func createSecrets(ns string) {
	for name, data := range map[string]map[string]string{
		"maas":           {"apiKey": goodAPIKey},
		"maas-two-parts": {"apiKey": twoPartKey},
		"maas-short":     {"apiKey": shortSecret},
		"maas-custom":    {"maasKey": goodAPIKey + "\n"},
	} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
	}
}

// sharedGateway is the cluster's one Gateway: one replica, a pod range of
// its own, the default service range, and a proxy whose noProxy misses MAAS.
func sharedGateway() *infrav1alpha1.Gateway {
	return &infrav1alpha1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: gatewayNamespace, Name: gatewayName},
		Spec: infrav1alpha1.GatewaySpec{
			Replicas: 1,
			MAAS: infrav1alpha1.MAASConnection{Endpoint: maasEndpoint,
				CredentialsSecretRef: infrav1alpha1.SecretKeyReference{Name: "maas"}},
			Environment: infrav1alpha1.Environment{
				ProxySettings: infrav1alpha1.ProxySettings{HTTPProxy: gatewayProxy, HTTPSProxy: gatewayProxy,
					NoProxy: []string{".svc"}},
				ClusterNetwork: infrav1alpha1.ClusterNetwork{PodCIDR: gatewayPodCIDR},
			},
			ControlPlaneEndpoint: gatewayVIP,
			// Every spec makes its own namespace with an account of this
			// Gateway.
			AllowedCloudAccounts: infrav1alpha1.AllowedCloudAccounts{
				Namespaces: infrav1alpha1.AccountNamespaces{From: infrav1alpha1.NamespacesFromAll}},
		},
	}
}

// newNamespace creates a namespace with the credentials Secrets and a
// validated CloudAccount "acct" of the shared Gateway.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	createSecrets(ns.Name)
	newAccount(ns.Name, "acct", true)
	DeferCleanup(func() {
		// envtest runs no namespace controller: delete the clusters so the
		// Gateway deletion guard sees only its own test's.
		Expect(k8sClient.DeleteAllOf(ctx, &infrav1alpha1.TenantCluster{}, client.InNamespace(ns.Name))).To(Succeed())
	})
	return ns.Name
}

func account(ns, name string) *infrav1alpha1.CloudAccount {
	return &infrav1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1alpha1.CloudAccountSpec{
			GatewayRef: infrav1alpha1.GatewayReference{Name: gatewayName, Namespace: gatewayNamespace},
			MAASConnection: infrav1alpha1.MAASConnection{Endpoint: maasEndpoint,
				CredentialsSecretRef: infrav1alpha1.SecretKeyReference{Name: "maas"}},
		},
	}
}

// newAccount creates a CloudAccount and, when validated, records in its
// status what the CloudAccount controller would have found in MAAS.
func newAccount(ns, name string, validated bool) *infrav1alpha1.CloudAccount {
	ca := account(ns, name)
	Expect(k8sClient.Create(ctx, ca)).To(Succeed())
	warnings.take()
	if validated {
		ca.Status = infrav1alpha1.CloudAccountStatus{
			Zones:         []string{"az1", "az2"},
			ResourcePools: []string{"default", "gpu"},
			Domains:       []string{"maas"},
			OSImages:      []string{"ubuntu/jammy", "ubuntu/noble"},
			Conditions: []metav1.Condition{{Type: infrav1alpha1.CloudAccountCredentialsValid, Status: metav1.ConditionTrue,
				Reason: infrav1alpha1.ReasonValid, Message: "MAAS accepted the key", LastTransitionTime: metav1.Now()}},
		}
		Expect(k8sClient.Status().Update(ctx, ca)).To(Succeed())
		// The webhooks read the status through the manager's cache.
		Eventually(func() []string {
			var seen infrav1alpha1.CloudAccount
			_ = mgrCache.Get(ctx, client.ObjectKeyFromObject(ca), &seen)
			return seen.Status.Zones
		}).ShouldNot(BeEmpty())
	}
	return ca
}

// tenant is a small valid cluster with nothing defaulted: 3 control-plane
// machines, a worker pool of 2 in zone az1.
func tenant(ns, name, vip string) *infrav1alpha1.TenantCluster {
	return &infrav1alpha1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1alpha1.TenantClusterSpec{
			CloudAccountRef:      infrav1alpha1.LocalObjectReference{Name: "acct"},
			Profile:              &infrav1alpha1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
			ControlPlaneEndpoint: vip,
			ControlPlane:         infrav1alpha1.ControlPlanePool{Size: 3},
			Workers: []infrav1alpha1.NodePool{{Name: "w", Size: 2,
				MachineTemplate: infrav1alpha1.MachineTemplate{Zones: []string{"az1"}}}},
		},
	}
}

// vipCounter hands out distinct VIPs: one cluster's VIP refuses another's.
var vipCounter = struct {
	sync.Mutex
	n int
}{}

func nextVIP() string {
	vipCounter.Lock()
	defer vipCounter.Unlock()
	vipCounter.n++
	return fmt.Sprintf("10.11.%d.%d", 100+vipCounter.n/250, 1+vipCounter.n%250)
}

// missing returns the substrings of want that s lacks.
func missing(s string, want []string) []string {
	var out []string
	for _, w := range want {
		if !strings.Contains(s, w) {
			out = append(out, w)
		}
	}
	return out
}
