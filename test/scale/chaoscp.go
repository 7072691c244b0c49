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
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// cpSize is the control-plane size of the chaos run's real clusters.
const cpSize = 3

// etcdCheck is one look at a real cluster's etcd members.
type etcdCheck struct {
	At        string   `json:"at"` // "kill 3", "end"
	Cluster   string   `json:"cluster"`
	Members   int      `json:"members"`
	Reachable int      `json:"reachable"`
	Problems  []string `json:"problems,omitempty"`
}

// controlPlaneChaos is the chaos run's control-plane phase: TenantClusters
// of three real control-plane machines each (etcd and kube-apiserver
// processes, internal/joinemu/controlplane), observed from inside, rolled
// (a Kubernetes version change replaces every machine) while the manager is
// SIGKILLed; etcd's members are read after every kill and all along.
type controlPlaneChaos struct {
	Clusters   []string `json:"clusters"`
	Strategies []string `json:"strategies"`
	Rolled     string   `json:"rolled"`
	Kills      int      `json:"kills"`
	RolledIn   string   `json:"rolledIn"`
	// Samples are the reads of every cluster's members during the roll
	// (every 500 ms), Violations what they and the checks after each kill
	// found wrong; ReadErrors the reads that failed (etcd unreadable for
	// longer than etcdUnreadable is a violation).
	Samples    int            `json:"samples"`
	ReadErrors int            `json:"readErrors"`
	MaxMembers map[string]int `json:"maxMembers"`
	Checks     []etcdCheck    `json:"checks"`
	Violations []string       `json:"violations,omitempty"`
	Audit      auditReport    `json:"audit"`
	Error      string         `json:"error,omitempty"`
}

func (r *controlPlaneChaos) failed() bool {
	return r.Error != "" || len(r.Violations) > 0 || r.Audit.failed()
}

// etcdUnreadable is how long a cluster's member list may fail to be read
// before it counts as a lost quorum.
const etcdUnreadable = 15 * time.Second

// memberProblems holds one member list against the control plane's size
// (cpSize):
// during a roll (final false) the list has size members, or one more while
// an expand-first step adds its machine before removing one (one fewer for
// contract-first), and a quorum of them answers; at the end (final true)
// exactly size members, every one answering, voting, and on a machine the
// cluster holds (machineIPs).
func memberProblems(ms []controlplane.Member, strategy infrav1.RollingUpdateStrategy, final bool,
	machineIPs map[string]bool) []string {
	const size = cpSize
	var out []string
	up := reachable(ms)
	lo, hi := size, size+1
	if strategy == infrav1.ContractFirst {
		lo, hi = size-1, size
	}
	if final {
		lo, hi = size, size
	}
	if len(ms) < lo || len(ms) > hi {
		out = append(out, fmt.Sprintf("%d members, want %d..%d", len(ms), lo, hi))
	}
	if up < len(ms)/2+1 {
		out = append(out, fmt.Sprintf("quorum lost: %d of %d members reachable", up, len(ms)))
	}
	if !final {
		return out
	}
	for _, m := range ms {
		name := m.Name
		if name == "" {
			name = fmt.Sprintf("%x (unstarted)", m.ID)
		}
		switch {
		case !m.Reachable:
			out = append(out, "member "+name+" unreachable")
		case m.Learner:
			out = append(out, "member "+name+" still a learner")
		}
		if !onMachine(m, machineIPs) {
			out = append(out, fmt.Sprintf("member %s (%v) is on no machine of the cluster: an orphan", name, m.PeerURLs))
		}
	}
	return out
}

func onMachine(m controlplane.Member, machineIPs map[string]bool) bool {
	for _, u := range m.PeerURLs {
		if p, err := url.Parse(u); err == nil {
			if host, _, err := net.SplitHostPort(p.Host); err == nil && machineIPs[host] {
				return true
			}
		}
	}
	return false
}

// realCluster is one of the phase's clusters.
type realCluster struct {
	name, endpoint string
	strategy       infrav1.RollingUpdateStrategy
}

// runControlPlaneChaos runs the control-plane phase in an environment of
// its own (every simulated machine on loopback, the manager observing its
// clusters), so that the main chaos run's clusters, which have no API
// servers, are not observed.
func runControlPlaneChaos(ctx context.Context, c config) (res controlPlaneChaos) {
	if err := controlPlaneChaosIn(ctx, c, &res); err != nil {
		res.Error = err.Error()
	}
	return res
}

func controlPlaneChaosIn(ctx context.Context, c config, res *controlPlaneChaos) error {
	progress("chaos: control-plane phase: %d clusters of %d real control planes, rolled under %d kills",
		c.cpClusters, cpSize, c.cpKills)
	cc := c
	// The machines' boots (etcd, kube-apiserver) take their own time; the
	// simulator's need not add much.
	cc.deployTime, cc.releaseTime = min(c.deployTime, 5*time.Second), min(c.releaseTime, time.Second)
	env, err := startEnvWith(ctx, cc, c.cpClusters*(cpSize+1), nil, func(o *harness.Options) {
		o.ControlPlanes = true
		o.ControlPlaneOptions.StartTimeout = 5 * time.Minute
		// Machines and VIPs of their own (10.72.0.0/16, 10.101.0.0/16, on
		// loopback 127.72/127.101), apart from -mode=tenants' (10.64,
		// 10.100): the two may run on one host at once.
		for i := range o.Sim.Inventory {
			o.Sim.Inventory[i].IPs = shiftIPs(o.Sim.Inventory[i].IPs, 8)
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	clusters := make([]realCluster, c.cpClusters)
	err = parallel(ctx, c.cpClusters, c.cpStartConc, func(i int) error {
		tc := newCluster(i, 1)
		tc.Spec.ControlPlane.Size = cpSize
		tc.Spec.ControlPlaneEndpoint = env.TenantVIP(fmt.Sprintf("10.101.%d.%d", i/250, i%250+2))
		tc.Spec.ControlPlane.RollingUpdate = infrav1.ExpandFirst
		if i%2 == 1 {
			tc.Spec.ControlPlane.RollingUpdate = infrav1.ContractFirst
		}
		clusters[i] = realCluster{name: tc.Name, endpoint: tc.Spec.ControlPlaneEndpoint + ":6443",
			strategy: tc.Spec.ControlPlane.RollingUpdate}
		if err := retry(ctx, func() error { return env.Client.Create(ctx, tc) }); err != nil {
			return err
		}
		return startTenant(ctx, env, tc.Name, clusters[i].endpoint, cpSize, 10*time.Minute)
	})
	if err != nil {
		return err
	}
	res.MaxMembers = map[string]int{}
	for _, rc := range clusters {
		res.Clusters = append(res.Clusters, rc.name)
		res.Strategies = append(res.Strategies, string(rc.strategy))
	}
	progress("chaos: %d real clusters Running", len(clusters))

	// Watch every cluster's members all through the roll.
	o := &cpObserver{env: env, res: res, clusters: clusters}
	violate := o.violate
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		o.watch(watchCtx)
	}()
	defer func() { stopWatch(); <-watched }()
	afterKill := o.afterKill

	// Roll every cluster, and kill the manager while the rolls run.
	oldTemplate := map[string]string{}
	for _, rc := range clusters {
		tc := &infrav1.TenantCluster{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: rc.name}, tc); err != nil {
			return err
		}
		if len(tc.Status.Machines) > 0 {
			oldTemplate[rc.name] = tc.Status.Machines[0].Template
		}
		if err := patchCluster(ctx, env, rc.name, func(tc *infrav1.TenantCluster) {
			tc.Spec.Profile.KubernetesVersion = rolledVersion
		}); err != nil {
			return fmt.Errorf("rolling %s: %w", rc.name, err)
		}
	}
	res.Rolled = "spec.profile.kubernetesVersion " + k8sVersion + " → " + rolledVersion
	t0 := time.Now()
	killCtx, stopKills := context.WithCancel(ctx)
	defer stopKills()
	rng := rand.New(rand.NewPCG(uint64(c.seed), 21))
	k := startKiller(killCtx, env, c.cpKills, c.killMin, c.killMax, rng, afterKill)
	lastShown := time.Now()
	var state string
	err = waitFor(ctx, 20*time.Minute, "every real cluster rolled", func() (bool, error) {
		tcs, err := listClusters(ctx, env.Client)
		if err != nil {
			return false, err
		}
		done := 0
		for i := range tcs {
			if rolled(&tcs[i], oldTemplate[tcs[i].Name]) {
				done++
			}
		}
		state = fmt.Sprintf("%d/%d clusters rolled, %d kills", done, len(clusters), k.count())
		if time.Since(lastShown) >= 10*time.Second {
			lastShown = time.Now()
			progress("chaos: control planes: %s", state)
		}
		return done == len(clusters) && k.count() > 0, nil
	})
	stopKills()
	if kerr := k.wait(); kerr != nil && killCtx.Err() == nil {
		return kerr
	}
	res.Kills = k.count()
	if !env.Manager.Running() {
		if err := env.Manager.Start(ctx); err != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("%w (%s)", err, state)
	}
	res.RolledIn = time.Since(t0).Round(time.Second).String()
	progress("chaos: control planes rolled in %s under %d kills; checking etcd", res.RolledIn, res.Kills)
	stopWatch()
	<-watched

	// The end: exactly the size, every member answering, none orphaned.
	// A member orphaned by a kill is removed after the operator's grace
	// (two minutes): wait that long and a little more.
	for _, rc := range clusters {
		ch := etcdCheck{At: "end", Cluster: rc.name}
		err := waitFor(ctx, 4*time.Minute, rc.name+"'s etcd at its size", func() (bool, error) {
			ms, err := env.ControlPlanes.EtcdMembers(ctx, rc.endpoint)
			if err != nil {
				ch.Problems = []string{"cannot read the members: " + err.Error()}
				return false, nil
			}
			ch.Members, ch.Reachable = len(ms), reachable(ms)
			ch.Problems = memberProblems(ms, rc.strategy, true, clusterIPs(env, rc.name))
			return len(ch.Problems) == 0, nil
		})
		if err != nil {
			for _, p := range ch.Problems {
				violate("%s at the end: %s", rc.name, p)
			}
		}
		res.Checks = append(res.Checks, ch)
	}
	// The audit takes a machine MAAS is still releasing for an orphan:
	// wait for the last replaced machine to be back.
	err = waitFor(ctx, 2*time.Minute, "no machine deploying or releasing", func() (bool, error) {
		st := simCounts(env)
		return st["Deploying"]+st["Allocated"]+st["Releasing"]+st["Disk erasing"] == 0, nil
	})
	if err != nil {
		violate("machines did not settle: %v (%v)", err, simCounts(env))
	}
	res.Audit, err = audit(ctx, env, nil)
	return err
}

// cpObserver reads the real clusters' etcd members during the roll and
// records what breaks the rules (memberProblems) in res.
type cpObserver struct {
	env      *harness.Env
	res      *controlPlaneChaos
	clusters []realCluster
	mu       sync.Mutex
}

func (o *cpObserver) violate(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.res.Violations) < 50 {
		o.res.Violations = append(o.res.Violations, fmt.Sprintf(format, args...))
	}
}

// watch samples every cluster's members until ctx ends.
func (o *cpObserver) watch(ctx context.Context) {
	lastRead := map[string]time.Time{}
	for _, rc := range o.clusters {
		lastRead[rc.name] = time.Now()
	}
	for ctx.Err() == nil {
		for _, rc := range o.clusters {
			ms, err := o.env.ControlPlanes.EtcdMembers(ctx, rc.endpoint)
			if ctx.Err() != nil {
				return
			}
			o.mu.Lock()
			o.res.Samples++
			if err != nil {
				o.res.ReadErrors++
			} else {
				o.res.MaxMembers[rc.name] = max(o.res.MaxMembers[rc.name], len(ms))
			}
			o.mu.Unlock()
			if err != nil {
				if since := time.Since(lastRead[rc.name]); since > etcdUnreadable {
					o.violate("%s: etcd members unreadable for %v: %v", rc.name, since.Round(time.Second), err)
					lastRead[rc.name] = time.Now() // one violation per period
				}
				continue
			}
			lastRead[rc.name] = time.Now()
			for _, p := range memberProblems(ms, rc.strategy, false, nil) {
				o.violate("%s during the roll: %s", rc.name, p)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond): // the sampling period
		}
	}
}

// afterKill checks, after kill n and before the manager starts again,
// what the manager left.
func (o *cpObserver) afterKill(ctx context.Context, n int) {
	for _, rc := range o.clusters {
		ch := etcdCheck{At: fmt.Sprintf("kill %d", n), Cluster: rc.name}
		// A read may fail while a member stops; etcd unreadable for
		// etcdUnreadable counts as a lost quorum.
		var ms []controlplane.Member
		var readErr error
		err := waitFor(ctx, etcdUnreadable, "", func() (bool, error) {
			ms, readErr = o.env.ControlPlanes.EtcdMembers(ctx, rc.endpoint)
			return readErr == nil, nil
		})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			ch.Problems = []string{"cannot read the members: " + errors.Join(readErr, err).Error()}
		default:
			ch.Members, ch.Reachable = len(ms), reachable(ms)
			ch.Problems = memberProblems(ms, rc.strategy, false, nil)
		}
		for _, p := range ch.Problems {
			o.violate("%s after kill %d: %s", rc.name, n, p)
		}
		o.mu.Lock()
		o.res.Checks = append(o.res.Checks, ch)
		o.mu.Unlock()
	}
}

// rolled says whether tc converged with its Nodes Ready on machines none of
// which has the template old.
func rolled(tc *infrav1.TenantCluster, old string) bool {
	if observedReady([]infrav1.TenantCluster{*tc}) != 1 || len(tc.Status.Machines) != int(wanted(tc)) {
		return false
	}
	for _, m := range tc.Status.Machines {
		if m.Template == old {
			return false
		}
	}
	return true
}

func reachable(ms []controlplane.Member) int {
	n := 0
	for _, m := range ms {
		if m.Reachable {
			n++
		}
	}
	return n
}

// clusterIPs are the addresses of the simulated machines cluster name holds.
func clusterIPs(env *harness.Env, name string) map[string]bool {
	out := map[string]bool{}
	for _, m := range env.Sim.Machines() {
		if m.Annotations[maas.AnnotationOwnerName] == name && m.StatusName == "Deployed" {
			for _, ip := range m.IPs {
				out[ip] = true
			}
		}
	}
	return out
}

// shiftIPs adds d to the second octet of every IPv4 address in ips.
func shiftIPs(ips []string, d int) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			b := a.As4()
			b[1] += byte(d)
			ip = netip.AddrFrom4(b).String()
		}
		out = append(out, ip)
	}
	return out
}
