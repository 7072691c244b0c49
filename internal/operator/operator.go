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

// Package operator wires the operator into a controller-runtime manager:
// the shared MAAS inventory, field indexes, controllers and webhooks. The
// manager binary, the integration suites, the demo and the benchmarks all
// set the operator up through Setup, so they run exactly the same wiring.
package operator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/packs"
	webhookv1alpha1 "github.com/maas-gateway/maas-gateway/internal/webhook/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// Options configure the operator. Zero values take the defaults.
type Options struct {
	// MAAS tunes the MAAS clients (timeouts, retries, rate limit).
	MAAS maas.Options
	// PollInterval is how often each cloud account's machines are listed.
	PollInterval time.Duration
	// RevalidateInterval is how often a valid CloudAccount is checked again.
	RevalidateInterval time.Duration
	// RetryInterval is how soon an unreachable MAAS is tried again.
	RetryInterval time.Duration
	// CredentialsCheckInterval is how often each CloudAccount's Secret is
	// read again to notice a rotated or newly created key (one GET, no
	// MAAS request unless the key changed); default 30 s.
	CredentialsCheckInterval time.Duration
	// UnclaimedGrace is how long an allocated machine may stay without an
	// owner annotation before it is released.
	UnclaimedGrace time.Duration
	// JoinTimeout is how long a deployed machine may take to join as a Ready Node.
	JoinTimeout time.Duration
	// RequeueInterval is the safety-net requeue while machines are on their way.
	RequeueInterval time.Duration
	// CapacityBackoff and CapacityBackoffMax bound how long a pool waits
	// after MAAS found no machine for it; defaults
	// controller.DefaultCapacityBackoff and DefaultCapacityBackoffMax.
	CapacityBackoff, CapacityBackoffMax time.Duration
	// ForceDeleteAfter is how long a TenantCluster must have been deleting
	// before the force-delete annotation is honoured; default 14 minutes.
	ForceDeleteAfter time.Duration
	// Clock judges force-delete delays; nil means the real clock.
	Clock clock.PassiveClock
	// TenantClusterConcurrency is how many TenantClusters reconcile at once; default 10.
	TenantClusterConcurrency int
	// TenantTokenTTL is the lifetime of tenant clusters' bootstrap tokens;
	// zero means bootstrap.DefaultTokenTTL.
	TenantTokenTTL time.Duration
	// TenantKubeconfigValidity is how long the admin kubeconfig of a tenant
	// cluster is valid (renewed when a third is left); zero means a year.
	TenantKubeconfigValidity time.Duration
	// TenantTokens creates renewed bootstrap tokens inside tenant clusters;
	// nil means through the cluster cache.
	TenantTokens controller.TokenPublisher
	// ReleaseCatalog is the ConfigMap the Helm chart publishes the gateway
	// releases in; empty Name for none.
	ReleaseCatalog types.NamespacedName
	// Webhooks registers the admission webhooks with the manager's webhook server.
	Webhooks bool
	// TenantJoinTimeout is how long a tenant machine MAAS deployed may take
	// to appear as a Node before it is replaced; zero means the controller's
	// default.
	TenantJoinTimeout time.Duration
	// TenantOrphanMemberGrace is how long an etcd member no machine accounts
	// for is left before it is removed; zero means the controller's default.
	TenantOrphanMemberGrace time.Duration
	// TenantWorkloadCheckInterval is how often a tenant cluster at rest is
	// looked at inside; zero means the controller's default.
	TenantWorkloadCheckInterval time.Duration
	// ObserveTenantClusters reads every tenant cluster's Nodes and etcd
	// members into its status, through the cluster cache. The manager turns
	// it on; test worlds whose clusters have no API servers leave it off.
	ObserveTenantClusters bool
	// GatewayDrainTimeout is how long a gateway node's drain may wait before
	// the Gateway says DrainTimedOut; zero means the controller's default.
	GatewayDrainTimeout time.Duration
	// SkipGatewayEtcd leaves the gateway's etcd membership alone when its
	// nodes leave, and uploads no kubeadm-certs for those that join: only
	// for test worlds whose gateway cluster is envtest or kind (see
	// controller.GatewayNodes.SkipEtcd).
	SkipGatewayEtcd bool
	// OutsideGateway says the manager runs outside the gateway cluster (the
	// bootstrap cluster of maas-gateway install): see
	// controller.GatewayNodes.Outside.
	OutsideGateway bool
	// NodeName is the Node the manager runs on (from the downward API),
	// empty outside a cluster: a Gateway decommissioned releases that
	// node's machine last (see controller.GatewayNodes.Self).
	NodeName string
	// Admission tunes the webhooks (see webhookv1alpha1.Options).
	Admission webhookv1alpha1.Options
}

// CacheOptions is what the manager's cache holds. Secrets are not in it at
// all (see ClientOptions); ConfigMaps only as the release catalog.
func (o Options) CacheOptions() cache.Options {
	// No controller reads managedFields; at 1000 clusters they are a good
	// part of every cached TenantCluster (status writes add entries).
	c := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if o.ReleaseCatalog.Name != "" {
		// Only the catalog ConfigMap is cached, not every ConfigMap of the
		// cluster; the manager may read ConfigMaps in that namespace only.
		c.ByObject = map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {
			Namespaces: map[string]cache.Config{o.ReleaseCatalog.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", o.ReleaseCatalog.Name),
		}}
	}
	return c
}

// ClientOptions make the manager's client read Secrets from the API server,
// by name, when a reconcile needs one: no informer lists or watches Secrets.
// A cache of Secrets would hold every Secret of the cluster (Helm keeps each
// release in one, so thousands are common, most of them foreign to us) and
// would need RBAC to list and watch every Secret, which RBAC cannot narrow
// by label. A label-selected cache would bound the memory but not the
// permission, so the operator needs neither: it reads the few Secrets it
// knows by name (a TenantCluster's PKI, kubeconfig and token, an account's
// API key) with get, and notices a changed API key by reading it again
// (CredentialsCheckInterval) instead of watching.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// Operator is what Setup added to the manager, for callers that look inside
// (tests, benchmarks).
type Operator struct {
	Inventory *maas.Inventory
	MAAS      *maas.Factory
	// Clusters holds the connections to the tenant clusters.
	Clusters *workload.Cache
}

// Setup adds the operator to mgr. Call it before mgr.Start.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Operator, error) {
	op := &Operator{
		Inventory: maas.NewInventory(maas.InventoryOptions{Interval: opts.PollInterval, Logger: mgr.GetLogger().WithName("inventory")}),
		MAAS:      maas.NewFactory(opts.MAAS),
	}
	if err := mgr.Add(op.Inventory); err != nil {
		return nil, fmt.Errorf("adding the MAAS inventory: %w", err)
	}
	// The cache wakes the TenantCluster whose Nodes or health changed. A
	// full channel drops the news: the cluster's next reconcile reads the
	// cache's current state anyway.
	tenantNews := make(chan event.GenericEvent, 256)
	op.Clusters = workload.NewCache(workload.CacheOptions{
		Scheme: mgr.GetScheme(), Log: mgr.GetLogger().WithName("clusters"),
		OnChange: func(key types.NamespacedName) {
			tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
			select {
			case tenantNews <- event.GenericEvent{Object: tc}:
			default:
			}
		},
	})
	if err := mgr.Add(op.Clusters); err != nil {
		return nil, fmt.Errorf("adding the cluster cache: %w", err)
	}
	if err := dependents.SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, fmt.Errorf("indexing dependents: %w", err)
	}
	finder := dependents.Finder{Cache: mgr.GetClient(), Live: mgr.GetAPIReader()}

	if err := (&controller.CloudAccountReconciler{
		Client:             mgr.GetClient(),
		Recorder:           mgr.GetEventRecorder("cloudaccount-controller"),
		MAAS:               op.MAAS,
		Inventory:          op.Inventory,
		Finder:             finder,
		RevalidateInterval: opts.RevalidateInterval,
		RetryInterval:      opts.RetryInterval,
		CredentialsCheck:   opts.CredentialsCheckInterval,
		UnclaimedGrace:     opts.UnclaimedGrace,
	}).SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("setting up the CloudAccount controller: %w", err)
	}

	clientset, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("clientset for evictions: %w", err)
	}
	evicter := workload.RESTEvicter{Client: clientset}
	// Drains read the gateway's Pods and PodDisruptionBudgets from the API
	// server: through the manager's client they would start informers
	// holding every pod of the cluster.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), HTTPClient: mgr.GetHTTPClient(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, fmt.Errorf("uncached client for drains: %w", err)
	}

	version, err := clusterVersion(mgr)
	if err != nil {
		return nil, err
	}
	// Chart downloads go through the gateway's proxy, which the Gateway
	// controller reads from the Gateway.
	gatewayProxy := &controller.GatewayProxy{}
	installer := packs.NewInstaller(packs.Options{Proxy: gatewayProxy.Proxy, Log: mgr.GetLogger().WithName("packs")})
	if err := (&controller.GatewayReconciler{
		Client:    mgr.GetClient(),
		Recorder:  mgr.GetEventRecorder("gateway-controller"),
		Inventory: op.Inventory,
		Finder:    finder,
		Proxy:     gatewayProxy,
		Nodes: controller.GatewayNodes{
			Client: direct, Evicter: evicter,
			DrainTimeout: opts.GatewayDrainTimeout, SkipEtcd: opts.SkipGatewayEtcd, Outside: opts.OutsideGateway,
			Self: opts.NodeName,
		},
		ClusterVersion:  version,
		JoinTimeout:     opts.JoinTimeout,
		RequeueInterval: opts.RequeueInterval,
		Catalog:         opts.ReleaseCatalog,
		CapacityBackoff: opts.CapacityBackoff, CapacityBackoffMax: opts.CapacityBackoffMax,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Gateway controller: %w", err)
	}

	if err := (&controller.TenantClusterReconciler{
		Client:                  mgr.GetClient(),
		Recorder:                mgr.GetEventRecorder("tenantcluster-controller"),
		Inventory:               op.Inventory,
		Finder:                  finder,
		ForceDeleteAfter:        opts.ForceDeleteAfter,
		Clock:                   opts.Clock,
		RequeueInterval:         opts.RequeueInterval,
		CapacityBackoff:         opts.CapacityBackoff,
		CapacityBackoffMax:      opts.CapacityBackoffMax,
		ReleaseCheckInterval:    opts.PollInterval,
		MaxConcurrentReconciles: opts.TenantClusterConcurrency,
		TokenTTL:                opts.TenantTokenTTL,
		KubeconfigValidity:      opts.TenantKubeconfigValidity,
		Tokens:                  opts.TenantTokens,
		Clusters:                op.Clusters,
		ObserveWorkloads:        opts.ObserveTenantClusters,
		JoinTimeout:             opts.TenantJoinTimeout,
		OrphanMemberGrace:       opts.TenantOrphanMemberGrace,
		WorkloadCheckInterval:   opts.TenantWorkloadCheckInterval,
		WorkloadEvents:          tenantNews,
		Packs:                   installer,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TenantCluster controller: %w", err)
	}

	if opts.Webhooks {
		if opts.Admission.Machines == nil {
			opts.Admission.Machines = op.Inventory
		}
		for name, setup := range map[string]func(ctrl.Manager, webhookv1alpha1.Options) error{
			"Gateway":        webhookv1alpha1.SetupGatewayWebhookWithManager,
			"CloudAccount":   webhookv1alpha1.SetupCloudAccountWebhookWithManager,
			"TenantCluster":  webhookv1alpha1.SetupTenantClusterWebhookWithManager,
			"ClusterProfile": webhookv1alpha1.SetupClusterProfileWebhookWithManager,
		} {
			if err := setup(mgr, opts.Admission); err != nil {
				return nil, fmt.Errorf("setting up the %s webhook: %w", name, err)
			}
		}
	}
	return op, nil
}

// clusterVersion reads the Kubernetes version of the cluster the operator
// runs in (the gateway), which nodes joining it install.
func clusterVersion(mgr ctrl.Manager) (func(context.Context) (string, error), error) {
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return func(context.Context) (string, error) {
		v, err := dc.ServerVersion()
		if err != nil {
			return "", err
		}
		return v.GitVersion, nil
	}, nil
}
