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

package joinemu

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// DefaultHeartbeatInterval is how often Leases are renewed, as a kubelet
// renews its own (a quarter of the 40 s lease).
const DefaultHeartbeatInterval = 10 * time.Second

// Config configures an Emulator.
type Config struct {
	// Client writes the Nodes and Leases of the cluster the machines join;
	// its scheme must know core/v1 and coordination.k8s.io/v1 (client-go's
	// does). Required.
	Client client.Client
	// Endpoint, when set, answers only joins to this control-plane endpoint
	// (IP:port, e.g. 10.11.12.100:6443, the cluster's VIP).
	Endpoint string
	// ClusterName, when set, answers only joins to this cluster.
	ClusterName string
	// Delay is the time from a machine reaching Deployed to its Node
	// appearing (cloud-init, kubeadm join, kubelet start).
	Delay time.Duration
	// NotReady names machines (system ID or hostname) whose Node joins but
	// never becomes Ready.
	NotReady []string
	// NeverJoin names machines (system ID or hostname) whose Node never
	// appears, as when kubeadm join fails.
	NeverJoin []string
	// HeartbeatInterval is how often joined Nodes' Leases are renewed; 0
	// means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// Log receives what the emulator does and the errors it retries.
	Log logr.Logger
}

// Emulator makes deployed simulator machines appear as Nodes; see Attach.
type Emulator struct {
	c         client.Client
	filter    filter
	delay     time.Duration
	notReady  map[string]bool
	neverJoin map[string]bool
	heartbeat time.Duration
	log       logr.Logger
	backoff   wait.Backoff
}

// New checks cfg and returns an Emulator.
func New(cfg Config) (*Emulator, error) {
	if cfg.Client == nil {
		return nil, errors.New("joinemu: a client is required")
	}
	f, err := newFilter(cfg.Endpoint, cfg.ClusterName)
	if err != nil {
		return nil, fmt.Errorf("joinemu: %w", err)
	}
	if cfg.Delay < 0 || cfg.HeartbeatInterval < 0 {
		return nil, errors.New("joinemu: delay and heartbeat interval must not be negative")
	}
	e := &Emulator{
		c:         cfg.Client,
		filter:    f,
		delay:     cfg.Delay,
		notReady:  set(cfg.NotReady),
		neverJoin: set(cfg.NeverJoin),
		heartbeat: cfg.HeartbeatInterval,
		log:       cfg.Log,
		// Six attempts over about six seconds: enough for an API server
		// that is restarting or a conflict with another writer.
		backoff: wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 5},
	}
	if e.heartbeat == 0 {
		e.heartbeat = DefaultHeartbeatInterval
	}
	return e, nil
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func named(m maassim.Machine, names map[string]bool) bool {
	return names[m.SystemID] || names[m.Hostname]
}

// Source is what the emulator watches: a *maassim.Sim (or the
// *maassim.Server that embeds it).
type Source interface {
	Subscribe(fn func(maassim.Event)) (cancel func())
}

// Attach answers the join requests of machines of src that deploy from now
// on, until stop is called. stop waits for work under way to end; the Nodes
// stay, as a cluster keeps the Nodes of kubelets that stopped.
func (e *Emulator) Attach(src Source) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{e: e, ctx: ctx, ops: map[string]*op{}, joined: map[string]joinedNode{}}
	r.wg.Go(r.heartbeats)
	unsubscribe := src.Subscribe(r.deliver)
	var once sync.Once
	return func() {
		once.Do(func() {
			unsubscribe()
			r.mu.Lock()
			r.stopped = true
			r.mu.Unlock()
			cancel()
			r.wg.Wait()
		})
	}
}

// runner is one attachment's state. Work on one machine is serialised: each
// event replaces the machine's previous operation, which is cancelled and
// finishes before the next starts, so a release always wins over a join
// still waiting out its delay or retrying.
type runner struct {
	e   *Emulator
	ctx context.Context

	mu      sync.Mutex // guards ops and stopped, and orders wg.Go before wg.Wait
	ops     map[string]*op
	stopped bool
	wg      sync.WaitGroup

	// hbMu guards joined and is held through a heartbeat round, so that a
	// Node being removed gets no Lease renewed after its removal began.
	hbMu   sync.Mutex
	joined map[string]joinedNode // by system ID
}

type op struct {
	cancel context.CancelFunc
	done   chan struct{}
}

type joinedNode struct {
	name, providerID string
}

// deliver handles one simulator event; it counts as work under way so that
// stop does not return while an event is being handled.
func (r *runner) deliver(ev maassim.Event) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()
	r.handle(ev)
}

func (r *runner) handle(ev maassim.Event) {
	m := ev.Machine
	log := r.e.log.WithValues("systemID", m.SystemID, "hostname", m.Hostname)
	switch ev.Type {
	case maassim.EventDeployed:
		in, ok := r.intent(log, m)
		if !ok {
			return
		}
		if named(m, r.e.neverJoin) {
			log.Info("machine never joins (NeverJoin)", "cluster", in.ClusterName)
			return
		}
		r.schedule(m.SystemID, func(ctx context.Context) { r.join(ctx, log, m, in) })
	case maassim.EventReleasing, maassim.EventReleased:
		r.schedule(m.SystemID, func(ctx context.Context) { r.remove(ctx, log, m) })
	}
}

// intent returns the node intent of a deployed machine's user data, if it
// asks to join the cluster the emulator answers for.
func (r *runner) intent(log logr.Logger, m maassim.Machine) (*bootstrap.NodeIntent, bool) {
	if len(m.UserData) == 0 {
		log.V(1).Info("ignoring machine deployed without user data")
		return nil, false
	}
	in, err := bootstrap.Parse(m.UserData)
	switch {
	case errors.Is(err, bootstrap.ErrNoIntent):
		log.V(1).Info("ignoring machine whose user data has no node intent")
		return nil, false
	case err != nil:
		// Parse's errors name fields and formats, never the user data's
		// secrets (token, keys).
		log.Info("ignoring machine whose user data has no valid node intent", "reason", err.Error())
		return nil, false
	case !r.e.filter.matches(in):
		log.V(1).Info("ignoring join to another cluster", "cluster", in.ClusterName, "endpoint", in.ControlPlaneEndpoint)
		return nil, false
	}
	if in.SystemID != m.SystemID {
		// A kubelet registers what its configuration says, so the Node
		// carries the wrong providerID: the operator under test has to
		// notice.
		log.Info("user data was rendered for another machine", "intentSystemID", in.SystemID)
	}
	return in, true
}

// schedule runs fn as machine systemID's next operation.
func (r *runner) schedule(systemID string, fn func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	prev := r.ops[systemID]
	if prev != nil {
		prev.cancel()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	o := &op{cancel: cancel, done: make(chan struct{})}
	r.ops[systemID] = o
	r.wg.Go(func() {
		defer close(o.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		fn(ctx)
		r.mu.Lock()
		if r.ops[systemID] == o {
			delete(r.ops, systemID)
		}
		r.mu.Unlock()
	})
}

// join registers machine m's Node after the configured delay.
func (r *runner) join(ctx context.Context, log logr.Logger, m maassim.Machine, in *bootstrap.NodeIntent) {
	if r.e.delay > 0 {
		t := time.NewTimer(r.e.delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	ready := !named(m, r.e.notReady)
	var node *corev1.Node
	err := r.retry(ctx, log, "registering node", func(ctx context.Context) error {
		var err error
		node, err = r.register(ctx, m, in, ready)
		return err
	})
	if err != nil {
		return
	}
	r.hbMu.Lock()
	r.joined[m.SystemID] = joinedNode{name: node.Name, providerID: node.Spec.ProviderID}
	if err := r.renewLease(ctx, node); err != nil && ctx.Err() == nil {
		log.Error(err, "creating node lease; the next heartbeat retries")
	}
	r.hbMu.Unlock()
	log.Info("node joined", "node", node.Name, "cluster", in.ClusterName, "role", in.Role, "ready", ready)
}

// errNameTaken marks a Node of the same name registered by another machine:
// retrying cannot help.
var errNameTaken = errors.New("a node of that name has another providerID")

// register creates or updates machine m's Node, then sets its status: a
// Node with a Ready condition is completely registered.
func (r *runner) register(ctx context.Context, m maassim.Machine, in *bootstrap.NodeIntent, ready bool) (*corev1.Node, error) {
	want := desiredNode(m, in, ready, metav1.Now())
	node := &corev1.Node{}
	update := false
	err := r.e.c.Get(ctx, client.ObjectKey{Name: want.Name}, node)
	switch {
	case apierrors.IsNotFound(err):
		node = want.DeepCopy()
		node.Status = corev1.NodeStatus{}
		if err := r.e.c.Create(ctx, node); err != nil {
			return nil, fmt.Errorf("creating node %s: %w", want.Name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading node %s: %w", want.Name, err)
	case node.Spec.ProviderID != "" && node.Spec.ProviderID != want.Spec.ProviderID:
		return nil, fmt.Errorf("node %s (providerID %s) not registered as %s: %w",
			want.Name, node.Spec.ProviderID, want.Spec.ProviderID, errNameTaken)
	default:
		mergeNode(node, want)
		update = true
	}
	if syncNotReadyTaint(node, ready) || update {
		if err := r.e.c.Update(ctx, node); err != nil {
			return nil, fmt.Errorf("updating node %s: %w", want.Name, err)
		}
	}
	mergeStatus(node, want.Status)
	if err := r.e.c.Status().Update(ctx, node); err != nil {
		return nil, fmt.Errorf("updating status of node %s: %w", want.Name, err)
	}
	return node, nil
}

// remove deletes machine m's Node and Lease, if the Node is still the one
// this machine registered: the operator may have deleted it already (after
// draining), or another machine may have taken the name since.
func (r *runner) remove(ctx context.Context, log logr.Logger, m maassim.Machine) {
	want := joinedNode{name: nodeName(m), providerID: bootstrap.ProviderID(m.SystemID)}
	r.hbMu.Lock()
	if j, ok := r.joined[m.SystemID]; ok {
		want = j
		delete(r.joined, m.SystemID)
	}
	r.hbMu.Unlock()
	_ = r.retry(ctx, log, "removing node", func(ctx context.Context) error {
		node := &corev1.Node{}
		err := r.e.c.Get(ctx, client.ObjectKey{Name: want.name}, node)
		switch {
		case apierrors.IsNotFound(err):
			// A real cluster's garbage collector deletes the Lease
			// with its Node; envtest has none.
			log.V(1).Info("node already gone", "node", want.name)
			return r.deleteLease(ctx, want.name)
		case err != nil:
			return fmt.Errorf("reading node %s: %w", want.name, err)
		case node.Spec.ProviderID != want.providerID:
			log.V(1).Info("node belongs to another machine; left alone", "node", want.name, "providerID", node.Spec.ProviderID)
			return nil
		}
		if err := r.deleteLease(ctx, want.name); err != nil {
			return err
		}
		// The UID precondition fails (409) if the Node was deleted and
		// registered again since it was read.
		switch err := r.e.c.Delete(ctx, node, client.Preconditions{UID: &node.UID}); {
		case err == nil:
			log.Info("node removed", "node", want.name)
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			log.V(1).Info("node deleted or replaced meanwhile; left alone", "node", want.name)
		default:
			return fmt.Errorf("deleting node %s: %w", want.name, err)
		}
		return nil
	})
}

// retry runs fn until it succeeds, fails for good, ctx ends (a later event
// superseded the operation) or the attempts are spent, logging each failure.
func (r *runner) retry(ctx context.Context, log logr.Logger, what string, fn func(context.Context) error) error {
	b := r.e.backoff
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errNameTaken) || b.Steps == 0:
			log.Error(err, what+" failed; giving up", "attempts", attempt)
			return err
		}
		log.Error(err, what+" failed; retrying", "attempt", attempt)
		t := time.NewTimer(b.Step())
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
