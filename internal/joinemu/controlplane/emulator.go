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
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// Defaults of Options.
const (
	// DefaultInterval is how often a kubelet renews its Lease and reports
	// its Node's status, a quarter of the kubelet's 40 s lease.
	DefaultInterval = 10 * time.Second
	// DefaultPodSyncInterval is how often a kubelet looks at its Pods.
	DefaultPodSyncInterval = time.Second
	// DefaultNodeMonitorGracePeriod is kube-controller-manager's: how long a
	// Node's Lease may go unrenewed before its Node is marked unknown.
	DefaultNodeMonitorGracePeriod = 40 * time.Second
	// DefaultStartTimeout bounds the start of one process (etcd,
	// kube-apiserver) on a loaded machine.
	DefaultStartTimeout = 90 * time.Second
)

// DefaultControllers are the kube-controller-manager controllers run when
// Options.ControllerManager is set: the disruption controller, which keeps
// PodDisruptionBudget status (the eviction API checks it).
var DefaultControllers = []string{"disruption"}

// The binaries Options.BinDir must hold.
const (
	etcdBinary              = "etcd"
	apiServerBinary         = "kube-apiserver"
	controllerManagerBinary = "kube-controller-manager"
)

// Options configure an Emulator.
type Options struct {
	// BinDir holds etcd, kube-apiserver and (with ControllerManager)
	// kube-controller-manager: the envtest assets (KUBEBUILDER_ASSETS).
	// Required.
	BinDir string
	// TempDir is where the emulator makes its working directory (machines'
	// files, etcd data, logs); empty means os.TempDir().
	TempDir string
	// ClusterName, when set, answers only joins to this cluster.
	ClusterName string
	// ControllerManager runs a kube-controller-manager beside each emulated
	// kube-apiserver, with Controllers (DefaultControllers when empty).
	ControllerManager bool
	Controllers       []string
	// Interval is how often kubelets renew their Leases and report status,
	// and how often the stand-ins for cluster controllers (node lifecycle,
	// the CNI a kubelet sees) look; 0 means DefaultInterval.
	Interval time.Duration
	// PodSyncInterval is how often kubelets look at their Pods; 0 means
	// DefaultPodSyncInterval.
	PodSyncInterval time.Duration
	// NodeMonitorGracePeriod is how long a Lease may go unrenewed before
	// its Node is marked unknown; 0 means DefaultNodeMonitorGracePeriod.
	NodeMonitorGracePeriod time.Duration
	// StartTimeout bounds the start of each process; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// IgnoreEndpoints are control-plane endpoints (VIP:port) whose joins
	// another emulator answers: the gateway's, whose cluster is the test's
	// own API server and whose kubelets internal/joinemu plays.
	IgnoreEndpoints []string
	// JoinFails names machines (system ID or hostname) whose kubeadm fails:
	// MAAS reports them Deployed, but no process starts and no Node appears.
	JoinFails []string
	// VIPListen maps control-plane endpoints (VIP:port) that are not
	// loopback addresses to the local address (host:port) the VIP's load
	// balancer listens on instead. Where the operator runs elsewhere (a Pod
	// in kind), a Service whose ClusterIP is the VIP routes there; clients
	// still see the VIP, which the API servers' certificates name.
	VIPListen map[string]string
	// Log receives what the emulator does; it never logs keys or tokens.
	Log logr.Logger
}

// Emulator runs the machines' side of kubeadm for the machines of the
// simulators it is attached to; see the package documentation.
type Emulator struct {
	opts Options
	dir  string
	log  logr.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex          // guards everything below
	clusters  map[string]*cluster // by control-plane endpoint (VIP:port)
	machines  map[string]*machine // by system ID
	joinFails map[string]bool
	failOnce  map[string]bool // FailNextJoin: the next deployment only
	ops       map[string]*op
	unsubs    []func()
	stopped   bool
	wg        sync.WaitGroup // operations and event deliveries under way
}

type op struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks opts and returns an Emulator with a working directory of its
// own; Close removes it.
func New(opts Options) (*Emulator, error) {
	if opts.BinDir == "" {
		return nil, errors.New("controlplane: BinDir (the envtest assets) is required")
	}
	bins := []string{etcdBinary, apiServerBinary}
	if opts.ControllerManager {
		bins = append(bins, controllerManagerBinary)
	}
	for _, b := range bins {
		if fi, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("controlplane: no executable %s in %s", b, opts.BinDir)
		}
	}
	if opts.Interval < 0 || opts.PodSyncInterval < 0 || opts.NodeMonitorGracePeriod < 0 || opts.StartTimeout < 0 {
		return nil, errors.New("controlplane: intervals and timeouts must not be negative")
	}
	opts.Interval = orDefault(opts.Interval, DefaultInterval)
	opts.PodSyncInterval = orDefault(opts.PodSyncInterval, DefaultPodSyncInterval)
	opts.NodeMonitorGracePeriod = orDefault(opts.NodeMonitorGracePeriod, DefaultNodeMonitorGracePeriod)
	opts.StartTimeout = orDefault(opts.StartTimeout, DefaultStartTimeout)
	if len(opts.Controllers) == 0 {
		opts.Controllers = DefaultControllers
	}
	dir, err := os.MkdirTemp(opts.TempDir, workDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("controlplane: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{
		opts: opts, dir: dir, log: opts.Log, ctx: ctx, cancel: cancel,
		clusters:  map[string]*cluster{},
		machines:  map[string]*machine{},
		joinFails: map[string]bool{},
		failOnce:  map[string]bool{},
		ops:       map[string]*op{},
	}
	for _, n := range opts.JoinFails {
		e.joinFails[n] = true
	}
	for vip, listen := range opts.VIPListen {
		if _, err := netip.ParseAddrPort(vip); err != nil {
			cancel()
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("controlplane: VIPListen: endpoint %q is not IPv4:port: %w", vip, err)
		}
		if _, _, err := net.SplitHostPort(listen); err != nil {
			cancel()
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("controlplane: VIPListen: listen address %q of %s: %w", listen, vip, err)
		}
	}
	return e, nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// Dir is the emulator's working directory: every process it starts has it
// on its command line (see Leaks).
func (e *Emulator) Dir() string { return e.dir }

// Attach answers the machines of src (a *maassim.Sim or *maassim.Server)
// from now on, until detach is called or the emulator closes: those whose
// user data has a node intent for a cluster whose VIP is an IPv4 loopback
// address (and, with Options.ClusterName, of that cluster).
func (e *Emulator) Attach(src joinemu.Source) (detach func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return func() {}
	}
	unsub := src.Subscribe(e.deliver)
	e.unsubs = append(e.unsubs, unsub)
	return unsub
}

// FailJoin makes the kubeadm of machine (system ID or hostname) fail from
// its next deployment on.
func (e *Emulator) FailJoin(machine string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.joinFails[machine] = true
}

// FailNextJoin makes the kubeadm of machine (system ID or hostname) fail
// on its next deployment only, as a transient fault would: deployed again
// later (MAAS may hand the same machine out again), it joins.
func (e *Emulator) FailNextJoin(machine string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failOnce[machine] = true
}

// Close stops every machine (killing and reaping their processes, freeing
// their ports), every cluster's VIP, and removes the working directory. It
// returns an error naming any process of the emulator still alive.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	unsubs := e.unsubs
	e.unsubs = nil
	e.mu.Unlock()
	for _, u := range unsubs {
		u()
	}
	e.cancel()
	e.wg.Wait()

	e.mu.Lock()
	machines := make([]*machine, 0, len(e.machines))
	for _, m := range e.machines {
		machines = append(machines, m)
	}
	clusters := make([]*cluster, 0, len(e.clusters))
	for _, c := range e.clusters {
		clusters = append(clusters, c)
	}
	e.mu.Unlock()
	for _, m := range machines {
		m.stop(true)
	}
	for _, c := range clusters {
		c.shutdown()
	}
	leaks, err := Leaks(e.dir)
	if err == nil && len(leaks) > 0 {
		err = fmt.Errorf("controlplane: processes left running:\n%s", strings.Join(leaks, "\n"))
	}
	if rmErr := os.RemoveAll(e.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

func (e *Emulator) deliver(ev maassim.Event) {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	defer e.wg.Done()
	e.handle(ev)
}

func (e *Emulator) handle(ev maassim.Event) {
	sm := ev.Machine
	log := e.log.WithValues("systemID", sm.SystemID, "hostname", sm.Hostname)
	switch {
	case ev.Type == maassim.EventDeployed:
		ud, ok := e.userData(log, sm)
		if !ok {
			return
		}
		e.mu.Lock()
		fails := e.joinFails[sm.SystemID] || e.joinFails[sm.Hostname] || e.failOnce[sm.SystemID] || e.failOnce[sm.Hostname]
		delete(e.failOnce, sm.SystemID)
		delete(e.failOnce, sm.Hostname)
		e.mu.Unlock()
		if fails {
			log.Info("kubeadm fails on this machine (JoinFails)", "cluster", ud.intent.ClusterName, "role", ud.intent.Role)
			return
		}
		e.schedule(sm.SystemID, func(ctx context.Context) { e.boot(ctx, log, sm, ud) })
	case ev.Type == maassim.EventReleasing, ev.Type == maassim.EventReleased,
		ev.Type == maassim.EventDiskErasing, ev.Type == maassim.EventDeployFailed:
		e.schedule(sm.SystemID, func(context.Context) { e.powerOff(log, sm.SystemID, true) })
	case ev.Type == maassim.EventPower && sm.PowerState == "off":
		// Powered off while deployed: everything stops, the disk stays.
		e.schedule(sm.SystemID, func(context.Context) { e.powerOff(log, sm.SystemID, false) })
	case ev.Type == maassim.EventPower && sm.PowerState == "on" && sm.Status == maassim.StatusDeployed:
		e.schedule(sm.SystemID, func(ctx context.Context) { e.powerOn(ctx, log, sm.SystemID) })
	}
}

// userData reads the node intent and kubeadm configuration of a deployed
// machine, if it asks to join a cluster this emulator answers for.
func (e *Emulator) userData(log logr.Logger, sm maassim.Machine) (*userData, bool) {
	if len(sm.UserData) == 0 {
		return nil, false
	}
	ud, err := parseUserData(sm.UserData)
	switch {
	case errors.Is(err, bootstrap.ErrNoIntent):
		return nil, false
	case err != nil:
		log.Info("ignoring machine whose user data kubeadm could not use", "reason", err.Error())
		return nil, false
	case e.opts.ClusterName != "" && ud.intent.ClusterName != e.opts.ClusterName,
		slices.Contains(e.opts.IgnoreEndpoints, ud.intent.ControlPlaneEndpoint):
		return nil, false
	}
	// Only clusters whose VIP is a loopback address or mapped to a local
	// listener live in this world; a cluster whose VIP is data (the gateway
	// cluster that internal/joinemu plays in envtest) is another emulator's.
	if _, mapped := e.opts.VIPListen[ud.intent.ControlPlaneEndpoint]; mapped {
		return ud, true
	}
	if ap, err := netip.ParseAddrPort(ud.intent.ControlPlaneEndpoint); err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
		log.V(1).Info("ignoring machine of a cluster whose VIP is not a loopback address", "endpoint", ud.intent.ControlPlaneEndpoint)
		return nil, false
	}
	return ud, true
}

// schedule runs fn as machine systemID's next operation, after the previous
// one (cancelled) has ended: a release always wins over a boot under way.
func (e *Emulator) schedule(systemID string, fn func(ctx context.Context)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return
	}
	prev := e.ops[systemID]
	if prev != nil {
		prev.cancel()
	}
	ctx, cancel := context.WithCancel(e.ctx)
	o := &op{cancel: cancel, done: make(chan struct{})}
	e.ops[systemID] = o
	e.wg.Go(func() {
		defer close(o.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		fn(ctx)
		e.mu.Lock()
		if e.ops[systemID] == o {
			delete(e.ops, systemID)
		}
		e.mu.Unlock()
	})
}

// machineIP is the machine's first address, which must be IPv4 loopback:
// the emulated machines serve on it, and nothing else is theirs to bind.
func machineIP(sm maassim.Machine) (netip.Addr, error) {
	if len(sm.IPs) == 0 {
		return netip.Addr{}, errors.New("the machine has no address in MAAS")
	}
	a, err := netip.ParseAddr(sm.IPs[0])
	if err != nil || !a.Is4() || !a.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("address %q is not in 127.0.0.0/8: emulated machines serve on loopback addresses only", sm.IPs[0])
	}
	return a, nil
}

// lookup finds a machine by system ID or hostname.
func (e *Emulator) lookup(name string) (*machine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m, ok := e.machines[name]; ok {
		return m, nil
	}
	for _, m := range e.machines {
		if strings.EqualFold(m.hostname, name) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("controlplane: no running machine %q", name)
}

// KillKubelet makes machine's kubelet die: its Lease and Node status stop
// being renewed (the Node goes unknown after NodeMonitorGracePeriod) and its
// Pods are left as they are. Its etcd and API server keep running.
func (e *Emulator) KillKubelet(machine string) error {
	m, err := e.lookup(machine)
	if err != nil {
		return err
	}
	m.stopKubelet()
	return nil
}

// CrashEtcd kills machine's etcd: its member stays in the member list,
// unreachable, and its API server, which uses only the local etcd as
// kubeadm's stacked etcd does, stops serving; the VIP sends clients
// elsewhere. The etcd mirror Pod shows CrashLoopBackOff. It stays down
// until the machine is power-cycled.
func (e *Emulator) CrashEtcd(machine string) error {
	m, err := e.lookup(machine)
	if err != nil {
		return err
	}
	m.mu.Lock()
	p, c := m.etcd, m.c
	m.mu.Unlock()
	if p == nil {
		return fmt.Errorf("controlplane: machine %q runs no etcd", machine)
	}
	p.kill()
	if c != nil {
		// The VIP's health check finds the API server unready at once.
		c.fwd.prune(c.apiBackends())
	}
	return nil
}

// MachineState says which of a machine's parts are running.
type MachineState struct {
	Etcd, APIServer, ControllerManager, Kubelet bool
}

// KubeadmError returns the error the kubeadm of machine (system ID or
// hostname) failed with on its current deployment: nil while it runs, once
// it succeeded, and for a machine the emulator does not run.
func (e *Emulator) KubeadmError(machine string) error {
	m, err := e.lookup(machine)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failed
}

// State returns what runs on machine (system ID or hostname); all false for
// a machine the emulator does not run.
func (e *Emulator) State(machine string) MachineState {
	m, err := e.lookup(machine)
	if err != nil {
		return MachineState{}
	}
	return m.state()
}

// cluster returns the cluster served at endpoint (VIP:port).
func (e *Emulator) cluster(endpoint string) (*cluster, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.clusters[endpoint]
	if !ok {
		return nil, fmt.Errorf("controlplane: no cluster at %s", endpoint)
	}
	return c, nil
}

// AdminConfig returns a client configuration for the cluster at endpoint
// (VIP:port) with its super-admin identity (group system:masters, as
// kubeadm's super-admin.conf), through the VIP. Tests use it to look inside
// a cluster without going through the operator.
func (e *Emulator) AdminConfig(endpoint string) (*rest.Config, error) {
	c, err := e.cluster(endpoint)
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(c.adminConfig), nil
}

// Endpoints lists the control-plane endpoints of the clusters the
// emulator has seen initialised, sorted.
func (e *Emulator) Endpoints() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.clusters))
	for ep := range e.clusters {
		out = append(out, ep)
	}
	slices.Sort(out)
	return out
}
