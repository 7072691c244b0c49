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

package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
)

// cluster is one kubeadm cluster: what its first control plane's user data
// set up, its VIP, and the stand-ins for the parts of a real cluster this
// world has no process for (the node lifecycle controller, the CNI that
// kubelets see on disk).
type cluster struct {
	e             *Emulator
	log           logr.Logger
	endpoint      string // VIP:port
	listen        string // where the VIP's load balancer listens: endpoint unless Options.VIPListen maps it
	dial          string // where the emulator itself reaches the VIP's load balancer
	vip           netip.Addr
	port          uint16
	name          string
	pki           *bootstrap.ClusterPKI
	serviceSubnet netip.Prefix
	podSubnet     netip.Prefix

	adminTLS    *tls.Config  // super-admin client certificate (system:masters)
	adminConfig *rest.Config // the same, through the VIP
	admin       kubernetes.Interface
	etcdTLS     *tls.Config // etcd client certificate (as kubeadm's healthcheck client)
	fwd         *forwarder

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	poke   chan struct{} // asks the stand-in controllers to look now

	mu        sync.Mutex
	machines  map[string]*machine // by system ID: joined or joining, not released
	network   bool                // a CNI is installed
	networkCh chan struct{}       // closed when network changes
	podIPs    int                 // pod addresses handed out
	shut      bool
}

// initCluster makes the cluster machine m's kubeadm init creates. A cluster
// whose control planes are all gone is replaced; one with a control plane
// left is not: kubeadm init there would make a second cluster on one VIP.
func (e *Emulator) initCluster(m *machine) (*cluster, error) {
	ep := m.ud.intent.ControlPlaneEndpoint
	e.mu.Lock()
	old := e.clusters[ep]
	e.mu.Unlock()
	if old != nil {
		if old.hasControlPlane(m) {
			return nil, fmt.Errorf("a cluster already runs at %s", ep)
		}
		old.shutdown()
	}
	c, err := newCluster(e, m.ud)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		c.shutdown()
		return nil, errors.New("the emulator is stopping")
	}
	e.clusters[ep] = c
	e.mu.Unlock()
	return c, nil
}

func newCluster(e *Emulator, ud *userData) (*cluster, error) {
	ap, err := netip.ParseAddrPort(ud.intent.ControlPlaneEndpoint)
	if err != nil {
		return nil, err
	}
	listen, dial := ap.String(), ap.String()
	if l, ok := e.opts.VIPListen[ap.String()]; ok {
		listen, dial = l, localDial(l)
	} else if !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("control-plane endpoint %s is not in 127.0.0.0/8 nor mapped by VIPListen: emulated clusters serve on loopback addresses only", ap)
	}
	svc, err := netip.ParsePrefix(ud.serviceSubnet)
	if err != nil {
		return nil, err
	}
	pods, err := netip.ParsePrefix(ud.podSubnet)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		e: e, log: e.log.WithValues("cluster", ud.intent.ClusterName, "endpoint", ap.String()),
		endpoint: ap.String(), listen: listen, dial: dial, vip: ap.Addr(), port: ap.Port(), name: ud.intent.ClusterName,
		pki: ud.pki, serviceSubnet: svc, podSubnet: pods,
		poke: make(chan struct{}, 1), machines: map[string]*machine{}, networkCh: make(chan struct{}),
	}
	// kubeadm's super-admin.conf identity: the emulator's stand-ins and
	// kubeadm's own steps act as it.
	crt, key, err := sign(ud.pki.CA, certSpec{commonName: "kubernetes-super-admin", orgs: []string{"system:masters"}, usages: clientAuth})
	if err != nil {
		return nil, err
	}
	if c.adminTLS, err = tlsConfig(crt, key, ud.pki.CA.Cert); err != nil {
		return nil, err
	}
	c.adminConfig = &rest.Config{
		Host:            "https://" + c.dial,
		TLSClientConfig: c.tlsTo(rest.TLSClientConfig{CAData: ud.pki.CA.Cert, CertData: crt, KeyData: key}),
		Timeout:         10 * time.Second,
		UserAgent:       "joinemu-controlplane",
	}
	if c.admin, err = kubernetes.NewForConfig(c.adminConfig); err != nil {
		return nil, err
	}
	if c.etcdTLS, err = clientTLS(ud.pki.EtcdCA, certSpec{commonName: "kube-etcd-healthcheck-client"}); err != nil {
		return nil, err
	}
	if c.fwd, err = listenForwarder(c.listen, c.apiBackends); err != nil {
		return nil, fmt.Errorf("holding the VIP: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(e.ctx)
	c.wg.Go(c.standIns)
	return c, nil
}

// localDial is where the emulator reaches a listener at listen: an
// unspecified host means every local address, loopback among them.
func localDial(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return listen
}

// tlsTo completes a client TLS configuration for the VIP: through a
// mapped listener the dialled address is not the VIP, so the certificate
// is checked against the VIP, as a client outside would.
func (c *cluster) tlsTo(t rest.TLSClientConfig) rest.TLSClientConfig {
	if c.dial != c.endpoint {
		t.ServerName = c.vip.String()
	}
	return t
}

func tlsConfig(crt, key, ca []byte) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, err
	}
	pool := x509CertPool(ca)
	if pool == nil {
		return nil, errors.New("no CA certificate to trust")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// shutdown releases the VIP and stops the stand-ins; the cluster's
// machines are stopped by their own releases.
func (c *cluster) shutdown() {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return
	}
	c.shut = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.fwd.close()
	c.e.mu.Lock()
	if c.e.clusters[c.endpoint] == c {
		delete(c.e.clusters, c.endpoint)
	}
	c.e.mu.Unlock()
	c.log.Info("cluster gone: no control plane left")
}

func (c *cluster) addMachine(m *machine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.machines[m.systemID] = m
}

// hasControlPlane says whether a control-plane machine other than except
// still belongs to the cluster.
func (c *cluster) hasControlPlane(except *machine) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.machines {
		if m != except && m.controlPlane() {
			return true
		}
	}
	return false
}

func (c *cluster) controlPlanes() []*machine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*machine
	for _, m := range c.machines {
		if m.controlPlane() {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *machine) int { return strings.Compare(a.systemID, b.systemID) })
	return out
}

// apiBackends are the API servers the VIP may send clients to.
func (c *cluster) apiBackends() []string {
	var out []string
	for _, m := range c.controlPlanes() {
		if m.servesAPI() {
			out = append(out, m.apiAddr())
		}
	}
	return out
}

// machineStopped forgets a released machine; the cluster goes with its last
// control plane.
func (c *cluster) machineStopped(m *machine, wiped bool) {
	if m.controlPlane() {
		c.fwd.drop(m.apiAddr())
	}
	if !wiped {
		return
	}
	c.mu.Lock()
	delete(c.machines, m.systemID)
	c.mu.Unlock()
	if !c.hasControlPlane(nil) {
		c.shutdown()
	}
}

// sameCA says whether a joining control plane's PKI has the cluster's CA.
func (c *cluster) sameCA(p *bootstrap.ClusterPKI) bool {
	return p != nil && bytes.Equal(p.CA.Cert, c.pki.CA.Cert) && bytes.Equal(p.EtcdCA.Cert, c.pki.EtcdCA.Cert)
}

// networkReady says whether kubelets find a CNI configuration, and returns
// a channel closed when that changes.
func (c *cluster) networkReady() (bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.network, c.networkCh
}

// podIP hands out the next pod address from the cluster's pod subnet, as
// the CNI's IPAM would.
func (c *cluster) podIP() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.podIPs++
	a := c.podSubnet.Masked().Addr()
	for range c.podIPs {
		a = a.Next()
	}
	return a.String()
}

// writeKubeconfig writes a kubeconfig under the machine's /etc/kubernetes
// for its local API server, with a client certificate for spec signed by
// the cluster CA, as kubeadm's kubeconfig phase does.
func (m *machine) writeKubeconfig(name string, spec certSpec) error {
	spec.usages = clientAuth
	crt, key, err := sign(m.ud.pki.CA, spec)
	if err != nil {
		return err
	}
	kc := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{m.c.name: {Server: "https://" + m.apiAddr(), CertificateAuthorityData: m.ud.pki.CA.Cert}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{spec.commonName: {ClientCertificateData: crt, ClientKeyData: key}},
		Contexts:       map[string]*clientcmdapi.Context{"default": {Cluster: m.c.name, AuthInfo: spec.commonName}},
		CurrentContext: "default",
	}
	b, err := clientcmd.Write(kc)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.dir, "etc", "kubernetes", name), b, 0o600)
}

// localAdmin is the super-admin client of machine m's own API server.
func (c *cluster) localAdmin(m *machine) (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(c.adminConfig)
	cfg.Host = "https://" + m.apiAddr()
	return kubernetes.NewForConfig(cfg)
}

// The bootstrap objects' names, as kubeadm makes them.
const (
	clusterAdminsBinding = "kubeadm:cluster-admins"
	clusterInfoName      = "cluster-info"
	kubeadmConfigName    = "kubeadm-config"
	clusterInfoRole      = "kubeadm:bootstrap-signer-clusterinfo"
	tokenSecretPrefix    = "bootstrap-token-"
	nodeTokenGroup       = "system:bootstrappers:kubeadm:default-node-token"
)

// initialise is what kubeadm init does once the API server answers: the
// binding that gives the admin kubeconfig's group cluster-admin, the
// bootstrap token, the kubeadm-config ConfigMap (the ClusterConfiguration
// of the user data, as written) and the cluster-info ConfigMap joining
// nodes discover the cluster with.
func (c *cluster) initialise(ctx context.Context, m *machine) error {
	cs, err := c.localAdmin(m)
	if err != nil {
		return err
	}
	id, secret, ok := strings.Cut(m.ud.token, ".")
	if !ok {
		return errors.New("bootstrap token is not <id>.<secret>")
	}
	kc, err := clientcmd.Write(clientcmdapi.Config{Clusters: map[string]*clientcmdapi.Cluster{"": {
		Server: "https://" + c.endpoint, CertificateAuthorityData: c.pki.CA.Cert,
	}}})
	if err != nil {
		return err
	}
	objs := []func(context.Context) error{
		func(ctx context.Context) error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: clusterAdminsBinding},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: bootstrap.GroupClusterAdmins}},
			}, metav1.CreateOptions{})
			return err
		},
		func(ctx context.Context) error {
			data := map[string]string{
				"token-id": id, "token-secret": secret,
				"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
				"auth-extra-groups": nodeTokenGroup,
				"description":       "bootstrap token made by kubeadm init (emulated)",
			}
			if m.ud.tokenTTL > 0 {
				data["expiration"] = time.Now().Add(m.ud.tokenTTL).UTC().Format(time.RFC3339)
			}
			_, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: tokenSecretPrefix + id},
				Type:       corev1.SecretTypeBootstrapToken,
				StringData: data,
			}, metav1.CreateOptions{})
			return err
		},
		func(ctx context.Context) error {
			_, err := cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: kubeadmConfigName},
				Data:       map[string]string{"ClusterConfiguration": m.ud.clusterConfiguration},
			}, metav1.CreateOptions{})
			return err
		},
		func(ctx context.Context) error {
			_, err := cs.CoreV1().ConfigMaps(metav1.NamespacePublic).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: clusterInfoName},
				Data:       map[string]string{"kubeconfig": string(kc)},
			}, metav1.CreateOptions{})
			return err
		},
		func(ctx context.Context) error {
			_, err := cs.RbacV1().Roles(metav1.NamespacePublic).Create(ctx, &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: clusterInfoRole},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""},
					Resources: []string{"configmaps"}, ResourceNames: []string{clusterInfoName}}},
			}, metav1.CreateOptions{})
			return err
		},
		func(ctx context.Context) error {
			_, err := cs.RbacV1().RoleBindings(metav1.NamespacePublic).Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: clusterInfoRole},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: clusterInfoRole},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:anonymous"}},
			}, metav1.CreateOptions{})
			return err
		},
	}
	if m.ud.uploadCerts {
		// kubeadm's upload-certs phase runs before its bootstrap-token
		// phase: by the time a joining machine can discover the cluster,
		// the Secret it downloads the keys from is there.
		upload := func(ctx context.Context) error { return c.uploadCerts(ctx, cs, m.ud) }
		objs = append(objs[:1], append([]func(context.Context) error{upload}, objs[1:]...)...)
	}
	for _, create := range objs {
		if err := retry(ctx, 30*time.Second, func(ctx context.Context) error {
			if err := create(ctx); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			return nil
		}); err != nil {
			return fmt.Errorf("kubeadm init's bootstrap objects: %w", err)
		}
	}
	return nil
}

// discover is kubeadm join's discovery: it waits for the cluster's API
// server at the VIP (kubeadm retries, then the join script retries
// kubeadm), fetches cluster-info anonymously, checks its CA against the
// pinned hashes and authenticates with the bootstrap token.
func (e *Emulator) discover(ctx context.Context, m *machine) (*cluster, error) {
	ep := m.ud.intent.ControlPlaneEndpoint
	var lastErr error
	wait := 200 * time.Millisecond
	for {
		e.mu.Lock()
		c := e.clusters[ep]
		e.mu.Unlock()
		err := errors.New("no API server answers at the VIP yet")
		if c != nil {
			err = c.discoveryCheck(ctx, m.ud)
			if err == nil {
				return c, nil
			}
		}
		if lastErr == nil || err.Error() != lastErr.Error() {
			m.log.Info("kubeadm join waits", "endpoint", ep, "reason", err.Error())
		}
		lastErr = err
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (c *cluster) discoveryCheck(ctx context.Context, ud *userData) error {
	if len(c.apiBackends()) == 0 {
		return errors.New("no API server answers at the VIP yet")
	}
	// Like kubeadm: cluster-info is fetched without trusting the server,
	// then trusted only if its CA matches a pinned hash.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // verified by the CA hash below
	}}
	defer anon.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"https://"+c.dial+"/api/v1/namespaces/kube-public/configmaps/"+clusterInfoName, nil)
	if err != nil {
		return err
	}
	resp, err := anon.Do(req)
	if err != nil {
		return fmt.Errorf("fetching cluster-info: %w", err)
	}
	var cm corev1.ConfigMap
	err = decodeJSON(resp, &cm)
	if err != nil {
		return fmt.Errorf("fetching cluster-info: %w", err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data["kubeconfig"]))
	if err != nil || len(kc.Clusters) != 1 {
		return errors.New("cluster-info holds no kubeconfig of one cluster")
	}
	var caPEM []byte
	for _, cl := range kc.Clusters {
		caPEM = cl.CertificateAuthorityData
	}
	hash, err := bootstrap.CACertHash(caPEM)
	if err != nil {
		return fmt.Errorf("cluster-info CA: %w", err)
	}
	if !slices.Contains(ud.caCertHashes, hash) {
		return fmt.Errorf("cluster CA found in cluster-info (%s) matches none of caCertHashes", hash)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host: "https://" + c.dial, BearerToken: ud.token, Timeout: 5 * time.Second,
		TLSClientConfig: c.tlsTo(rest.TLSClientConfig{CAData: caPEM}),
	})
	if err != nil {
		return err
	}
	if _, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("authenticating with the bootstrap token: %w", err)
	}
	return nil
}

// markControlPlane is kubeadm's mark-control-plane phase: once the Node is
// registered, the control-plane role label and the exclusion from external
// load balancers, which a kubelet may not set on itself.
func (c *cluster) markControlPlane(ctx context.Context, m *machine) error {
	return retry(ctx, m.e.opts.StartTimeout, func(ctx context.Context) error {
		node, err := c.admin.CoreV1().Nodes().Get(ctx, m.nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if _, ok := node.Labels[joinemu.LabelControlPlane]; ok {
			return nil
		}
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		node.Labels[joinemu.LabelControlPlane] = ""
		node.Labels[corev1.LabelNodeExcludeBalancers] = ""
		_, err = c.admin.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// retry runs fn until it succeeds, ctx ends or timeout passes.
func retry(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// standIns runs what a real cluster's controllers and nodes' disks would
// do and this world has no process for, every Interval or when poked.
func (c *cluster) standIns() {
	t := time.NewTicker(c.e.opts.Interval)
	defer t.Stop()
	for {
		c.fwd.prune(c.apiBackends())
		c.lookForCNI(c.ctx)
		c.nodeLifecycle(c.ctx)
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.poke:
		}
	}
}

func (c *cluster) pokeStandIns() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// cniConfDir is where a CNI plugin writes the configuration whose absence
// keeps a kubelet NotReady; CNI DaemonSets mount it from the host.
const cniConfDir = "/etc/cni/net.d"

// lookForCNI stands in for every kubelet looking at /etc/cni/net.d: a CNI
// is installed once a DaemonSet mounts that host directory.
func (c *cluster) lookForCNI(ctx context.Context) {
	list, err := c.admin.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		if ctx.Err() == nil {
			c.log.V(1).Info("listing DaemonSets", "error", err.Error())
		}
		return
	}
	found := slices.ContainsFunc(list.Items, mountsCNIConf)
	c.mu.Lock()
	changed := found != c.network
	if changed {
		c.network = found
		close(c.networkCh)
		c.networkCh = make(chan struct{})
	}
	c.mu.Unlock()
	if changed {
		c.log.Info("kubelets see a CNI configuration", "installed", found)
	}
}

func mountsCNIConf(ds appsv1.DaemonSet) bool {
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		p := path.Clean(v.HostPath.Path)
		if p == cniConfDir || p == path.Dir(cniConfDir) {
			return true
		}
	}
	return false
}

// Node lifecycle controller facts (pkg/controller/nodelifecycle).
const (
	nodeStatusUnknown        = "NodeStatusUnknown"
	nodeStatusUnknownMessage = "Kubelet stopped posting node status."
)

// nodeLifecycle stands in for kube-controller-manager's node lifecycle
// controller: a Node whose Lease is older than the grace period has its
// conditions set Unknown, and every Node carries the not-ready or
// unreachable taints its Ready condition calls for.
func (c *cluster) nodeLifecycle(ctx context.Context) {
	nodes, err := c.admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	leases, err := c.admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	renewed := map[string]time.Time{}
	for _, l := range leases.Items {
		if l.Spec.RenewTime != nil {
			renewed[l.Name] = l.Spec.RenewTime.Time
		}
	}
	now := time.Now()
	for i := range nodes.Items {
		node := &nodes.Items[i]
		last := node.CreationTimestamp.Time
		if r, ok := renewed[node.Name]; ok && r.After(last) {
			last = r
		}
		if now.Sub(last) > c.e.opts.NodeMonitorGracePeriod && readyOf(node) != corev1.ConditionUnknown {
			for j := range node.Status.Conditions {
				cond := &node.Status.Conditions[j]
				cond.Status, cond.Reason, cond.Message = corev1.ConditionUnknown, nodeStatusUnknown, nodeStatusUnknownMessage
				cond.LastTransitionTime = metav1.NewTime(now)
			}
			updated, err := c.admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
			if err != nil {
				continue
			}
			node = updated
			c.log.Info("node stopped posting status", "node", node.Name)
		}
		if taints, changed := lifecycleTaints(node.Spec.Taints, readyOf(node)); changed {
			node.Spec.Taints = taints
			if _, err := c.admin.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
				c.log.V(1).Info("updating node taints", "node", node.Name, "error", err.Error())
			}
		}
	}
}

func readyOf(node *corev1.Node) corev1.ConditionStatus {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status
		}
	}
	return corev1.ConditionUnknown
}

// lifecycleTaints returns taints with the node lifecycle controller's
// taints as a Node whose Ready condition is ready should carry them.
func lifecycleTaints(taints []corev1.Taint, ready corev1.ConditionStatus) ([]corev1.Taint, bool) {
	var want []string
	switch ready {
	case corev1.ConditionFalse:
		want = []string{corev1.TaintNodeNotReady}
	case corev1.ConditionUnknown:
		want = []string{corev1.TaintNodeUnreachable}
	}
	managed := func(t corev1.Taint) bool {
		return (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable) &&
			(t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute)
	}
	out := slices.DeleteFunc(slices.Clone(taints), func(t corev1.Taint) bool { return managed(t) && !slices.Contains(want, t.Key) })
	for _, key := range want {
		for _, eff := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
			if !slices.ContainsFunc(out, func(t corev1.Taint) bool { return t.Key == key && t.Effect == eff }) {
				t := corev1.Taint{Key: key, Effect: eff}
				if eff == corev1.TaintEffectNoExecute {
					now := metav1.Now()
					t.TimeAdded = &now
				}
				out = append(out, t)
			}
		}
	}
	changed := len(out) != len(taints)
	for i := range out {
		if changed || !out[i].MatchTaint(&taints[i]) {
			changed = true
			break
		}
	}
	return out, changed
}
