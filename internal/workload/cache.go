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

package workload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// Defaults of CacheOptions. Together they keep a connected cluster at rest
// under one request a minute: a probe every two minutes, and the Node watch
// the API server ends every five to ten minutes.
const (
	DefaultCredentialValidity = 24 * time.Hour
	DefaultProbeInterval      = 2 * time.Minute
	DefaultProbeTimeout       = 5 * time.Second
	DefaultProbeFailures      = 3
)

// ErrNotConnected is returned for a cluster the cache holds no connection to.
var ErrNotConnected = errors.New("not connected to the cluster")

// Access is what reaching a cluster takes: the PKI and endpoint the operator
// generated for it, and the Kubernetes version it runs (which picks the
// admin group). Nothing here comes from a kubeconfig.
type Access struct {
	PKI               *bootstrap.ClusterPKI
	Endpoint          Endpoint
	KubernetesVersion string
}

// CacheOptions configure a Cache; zero values mean the defaults.
type CacheOptions struct {
	// Scheme of the clients; it must know core/v1 and policy/v1.
	Scheme *runtime.Scheme
	// CredentialValidity is the life of the client certificates signed for
	// a connection; a connection older than two thirds of it is rebuilt.
	CredentialValidity time.Duration
	// ProbeInterval, ProbeTimeout: how often and how patiently a cluster's
	// API server is asked whether it is ready. After ProbeFailures failures
	// in a row the cluster is unhealthy until a probe succeeds.
	ProbeInterval, ProbeTimeout time.Duration
	ProbeFailures               int
	// OnChange is called with a cluster's key when its Nodes change or its
	// health does; a controller turns it into a reconcile (a channel source).
	// It must not block.
	OnChange func(types.NamespacedName)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log logr.Logger
}

// Cache keeps one connection per cluster the operator runs: an uncached
// client for what the operator does there (drains, Node deletions), a watch
// of its Nodes alone (managed fields and image lists stripped) and a health
// probe. Pods, Secrets and everything else are read on demand, never cached:
// what a cluster's workloads hold must not grow the operator's memory.
type Cache struct {
	opts CacheOptions

	mu       sync.Mutex
	clusters map[types.NamespacedName]*Cluster
	ctx      context.Context // set by Start; connections live under it
}

// NewCache returns a Cache; connections start once Start runs.
func NewCache(opts CacheOptions) *Cache {
	if opts.CredentialValidity <= 0 {
		opts.CredentialValidity = DefaultCredentialValidity
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	if opts.ProbeFailures <= 0 {
		opts.ProbeFailures = DefaultProbeFailures
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnChange == nil {
		opts.OnChange = func(types.NamespacedName) {}
	}
	return &Cache{opts: opts, clusters: map[types.NamespacedName]*Cluster{}}
}

// Start lets connections run until ctx ends, then stops them all; it
// implements manager.Runnable.
func (c *Cache) Start(ctx context.Context) error {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, cl := range c.clusters {
		cl.stop()
		delete(c.clusters, key)
	}
	return nil
}

// Get returns the connection to cluster key, connecting with access when
// there is none, when access names another endpoint or CA, or when its
// credentials are due for renewal. It does not wait for the cluster: a new
// connection reports NodesSynced false until its first list answered.
func (c *Cache) Get(key types.NamespacedName, access Access) (*Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return nil, errors.New("the cluster cache has not started")
	}
	if c.ctx.Err() != nil {
		return nil, c.ctx.Err()
	}
	now := c.opts.Now()
	if cl, ok := c.clusters[key]; ok {
		if cl.serves(access) && now.Before(cl.renewAt) {
			return cl, nil
		}
		cl.stop()
		delete(c.clusters, key)
	}
	cl, err := c.connect(key, access, now)
	if err != nil {
		return nil, err
	}
	c.clusters[key] = cl
	return cl, nil
}

// Current returns the connection to key when there is one to endpoint ep
// for Kubernetes version, not yet due for renewal: a caller that has it
// needs no PKI to reach the cluster.
func (c *Cache) Current(key types.NamespacedName, ep Endpoint, version string) (*Cluster, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clusters[key]
	if !ok || cl.access.Endpoint != ep || cl.access.KubernetesVersion != version || !c.opts.Now().Before(cl.renewAt) {
		return nil, false
	}
	return cl, true
}

// Peek returns the connection to key if there is one, without connecting.
func (c *Cache) Peek(key types.NamespacedName) (*Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clusters[key]; ok {
		return cl, nil
	}
	return nil, ErrNotConnected
}

// Disconnect stops the connection to key (a deleted cluster).
func (c *Cache) Disconnect(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clusters[key]; ok {
		cl.stop()
		delete(c.clusters, key)
	}
}

// Len is how many clusters the cache is connected to.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clusters)
}

func (c *Cache) connect(key types.NamespacedName, access Access, now time.Time) (*Cluster, error) {
	cfg, err := RESTConfig(access.PKI, access.Endpoint, access.KubernetesVersion, now, c.opts.CredentialValidity)
	if err != nil {
		return nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: c.opts.Scheme, HTTPClient: httpClient})
	if err != nil {
		return nil, fmt.Errorf("client for cluster %s: %w", key, err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	// The Node watch shares the connection but not the client's Timeout:
	// http.Client.Timeout bounds a whole request, body included, so it
	// would end every watch after 10 s and the reflector would watch again,
	// six requests a minute per cluster at rest. Without it a watch lasts
	// until the API server ends it (the reflector asks for 5 to 10 minutes),
	// and the transport's HTTP/2 pings find a connection that died.
	watchCfg := rest.CopyConfig(cfg)
	watchCfg.Timeout = 0
	watchCS, err := kubernetes.NewForConfigAndClient(watchCfg, &http.Client{Transport: httpClient.Transport})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(c.ctx)
	x := &Cluster{
		key: key, Client: cl, access: access, clientset: cs, config: cfg,
		renewAt:  now.Add(c.opts.CredentialValidity * 2 / 3),
		expires:  now.Add(c.opts.CredentialValidity),
		cancel:   cancel,
		onChange: func() { c.opts.OnChange(key) },
		healthy:  true,
	}
	x.nodes = toolscache.NewSharedIndexInformer(
		toolscache.NewListWatchFromClient(watchCS.CoreV1().RESTClient(), "nodes", metav1.NamespaceAll,
			fields.Everything()),
		&corev1.Node{}, 0, toolscache.Indexers{})
	if err := x.nodes.SetTransform(stripNode); err != nil {
		cancel()
		return nil, err
	}
	if _, err := x.nodes.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { x.onChange() },
		UpdateFunc: func(old, cur any) { x.nodeUpdated(old, cur) },
		DeleteFunc: func(any) { x.onChange() },
	}); err != nil {
		cancel()
		return nil, err
	}
	log := c.opts.Log.WithValues("cluster", key)
	x.wg.Go(func() { x.nodes.RunWithContext(ctx) })
	x.wg.Go(func() { x.probeLoop(ctx, log, c.opts) })
	log.V(1).Info("connected", "endpoint", cfg.Host)
	return x, nil
}

// Cluster is one connection of the Cache.
type Cluster struct {
	key types.NamespacedName
	// Client reads from and writes to the cluster's API server directly.
	Client    client.Client
	clientset kubernetes.Interface
	config    *rest.Config
	access    Access
	renewAt   time.Time
	expires   time.Time
	nodes     toolscache.SharedIndexInformer
	onChange  func()
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu       sync.Mutex
	healthy  bool
	failures int
	lastErr  error
	// etcdTLS is the etcd client configuration, signed once and reused
	// until etcdRenewAt: signing a key per reconcile would cost more than
	// the etcd calls themselves.
	etcdTLS     *tls.Config
	etcdRenewAt time.Time
}

// etcdCredentialValidity is how long the etcd client certificate of a
// connection is valid; it is replaced at two thirds of it.
const etcdCredentialValidity = time.Hour

func (x *Cluster) etcdTLSConfig(now time.Time) (*tls.Config, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.etcdTLS != nil && now.Before(x.etcdRenewAt) {
		return x.etcdTLS, nil
	}
	cfg, err := EtcdTLS(x.access.PKI, now, etcdCredentialValidity)
	if err != nil {
		return nil, err
	}
	x.etcdTLS, x.etcdRenewAt = cfg, now.Add(etcdCredentialValidity*2/3)
	return cfg, nil
}

func (x *Cluster) serves(a Access) bool {
	return x.access.Endpoint == a.Endpoint && x.access.KubernetesVersion == a.KubernetesVersion &&
		x.access.PKI != nil && a.PKI != nil && slices.Equal(x.access.PKI.CA.Cert, a.PKI.CA.Cert)
}

func (x *Cluster) stop() {
	x.cancel()
	x.wg.Wait()
}

// Evicter evicts pods of the cluster, one request per call.
func (x *Cluster) Evicter() Evicter { return RESTEvicter{Client: x.clientset} }

// RESTConfig is a copy of the connection's client configuration, for
// clients the cache does not make (Helm's); its credentials expire with the
// connection's.
func (x *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(x.config) }

// CredentialsExpire is when the connection's client certificate expires.
func (x *Cluster) CredentialsExpire() time.Time { return x.expires }

// Nodes returns the cluster's Nodes as last watched, and whether the watch
// has listed them at least once (until then the slice means nothing).
func (x *Cluster) Nodes() ([]corev1.Node, bool) {
	if !x.nodes.HasSynced() {
		return nil, false
	}
	objs := x.nodes.GetStore().List()
	out := make([]corev1.Node, 0, len(objs))
	for _, o := range objs {
		out = append(out, *o.(*corev1.Node))
	}
	slices.SortFunc(out, func(a, b corev1.Node) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, true
}

// Health reports whether the API server answered its recent probes, and the
// last probe error when it did not.
func (x *Cluster) Health() (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.healthy, x.lastErr
}

// Etcd connects to the etcd members at the given machine addresses with a
// client certificate signed by the cluster's etcd CA. Close it when done.
func (x *Cluster) Etcd(ctx context.Context, addrs []string, now time.Time) (*Etcd, error) {
	if x.access.PKI == nil {
		return nil, errors.New("no PKI for the cluster")
	}
	tlsConfig, err := x.etcdTLSConfig(now)
	if err != nil {
		return nil, err
	}
	endpoints := make([]string, 0, len(addrs))
	for _, a := range addrs {
		endpoints = append(endpoints, EtcdEndpoint(a))
	}
	return DialEtcd(ctx, endpoints, tlsConfig)
}

// nodeUpdated passes on Node updates that matter to the operator: not the
// heartbeat times a kubelet refreshes.
func (x *Cluster) nodeUpdated(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 || o.ResourceVersion == n.ResourceVersion {
		return
	}
	if HealthOf(o) != HealthOf(n) || o.Spec.Unschedulable != n.Spec.Unschedulable ||
		o.Spec.ProviderID != n.Spec.ProviderID || o.Status.NodeInfo.KubeletVersion != n.Status.NodeInfo.KubeletVersion {
		x.onChange()
	}
}

func (x *Cluster) probeLoop(ctx context.Context, log logr.Logger, opts CacheOptions) {
	t := time.NewTicker(opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, opts.ProbeTimeout)
		err := x.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").Do(pctx).Error()
		cancel()
		if ctx.Err() != nil {
			return
		}
		x.mu.Lock()
		was := x.healthy
		if err == nil {
			x.failures, x.lastErr, x.healthy = 0, nil, true
		} else {
			x.failures++
			x.lastErr = err
			if x.failures >= opts.ProbeFailures {
				x.healthy = false
			}
		}
		now := x.healthy
		x.mu.Unlock()
		if was != now {
			log.Info("cluster health changed", "healthy", now, "error", errString(err))
			x.onChange()
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// stripNode keeps what the operator reads of a Node: its name, labels,
// spec, conditions, addresses and versions. Managed fields and the list of
// images a kubelet holds are most of a Node's size.
func stripNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	n.ManagedFields = nil
	n.Status.Images = nil
	n.Annotations = nil
	return n, nil
}
