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

package rollout

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// sim is a fake MAAS and a fake controller around the planner: it plans,
// takes the steps, checks invariants, and moves machines through MAAS's
// states, one tick at a time.
type sim struct {
	t     testing.TB
	rng   *rand.Rand
	pools []Pool
	ms    map[string]*Machine
	seq   int
	now   time.Time
	opts  Options
	// tickOne advances one random machine per tick instead of all of them.
	tickOne bool

	// Fault injection.
	failNext      map[string]int // pool → deployments that will fail
	joinFailNext  map[string]int // pool → deployed machines whose node will never appear
	neverJoins    map[string]bool
	failBudget    int // random deployment failures left
	failProb      float64
	relFailBudget int // random release failures left
	relFailProb   float64

	// What the fake controller records.
	everReady   map[string]bool
	released    map[string]bool
	initDeploys map[string]int
	halts       int
	trace       []string

	// Invariants per pool, checked after each plan is applied.
	floor    map[string]int // fewest Ready machines
	ceiling  map[string]int // most machines
	inflight map[string]int // most current machines not Ready yet
}

func newSim(t testing.TB, seed uint64, pools ...Pool) *sim {
	return &sim{
		t: t, rng: rand.New(rand.NewPCG(seed, 0x5eed)), pools: clonePools(pools),
		ms: map[string]*Machine{}, now: t0,
		failNext: map[string]int{}, joinFailNext: map[string]int{}, neverJoins: map[string]bool{},
		everReady: map[string]bool{}, released: map[string]bool{}, initDeploys: map[string]int{},
		floor: map[string]int{}, ceiling: map[string]int{}, inflight: map[string]int{},
	}
}

func (s *sim) add(ms ...Machine) {
	for _, m := range ms {
		s.ms[m.SystemID] = &m
	}
}

// full adds size Ready machines on template tmpl to pool p, spread over its zones.
func (s *sim) full(p Pool, tmpl string) {
	for i := range p.Size {
		zone := ""
		if len(p.Zones) > 0 {
			zone = p.Zones[i%len(p.Zones)]
		}
		s.add(mach(fmt.Sprintf("%s-%d", p.Name, i), p.Name, i, StateDeployed,
			onTemplate(tmpl), inZone(zone), withNode(NodeReady)))
	}
}

func (s *sim) pool(name string) *Pool {
	for i := range s.pools {
		if s.pools[i].Name == name {
			return &s.pools[i]
		}
	}
	return nil
}

func isMember(m *Machine) bool {
	switch m.State {
	case StateAllocated, StateDeploying, StateDeployed, StateUnknown:
		return true
	}
	return false
}

func isReady(p *Pool, m *Machine) bool {
	return m.State == StateDeployed && (!p.NodeReadiness || m.Node == NodeReady)
}

type poolCounts struct{ members, ready, outdated, inflight int }

func (s *sim) counts(p *Pool) poolCounts {
	var c poolCounts
	for _, m := range s.ms {
		if m.Pool != p.Name || !isMember(m) {
			continue
		}
		c.members++
		r := isReady(p, m)
		if r {
			c.ready++
		}
		if m.Template != p.Template {
			c.outdated++
		} else if !r {
			c.inflight++
		}
	}
	return c
}

func (s *sim) sortedIDs() []string {
	return slices.Sorted(maps.Keys(s.ms))
}

func (s *sim) observe() []Machine {
	out := make([]Machine, 0, len(s.ms))
	for _, id := range s.sortedIDs() {
		out = append(out, *s.ms[id])
	}
	s.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func expands(p *Pool) bool { return p.Strategy != ContractFirst || p.MinReady > p.Size-1 }

// step is one reconcile: record what a controller would, plan, check the
// plan does not depend on the order of machines, take the steps, check.
func (s *sim) step() Result {
	s.t.Helper()
	for _, id := range s.sortedIDs() {
		m := s.ms[id]
		p := s.pool(m.Pool)
		if p == nil {
			continue
		}
		if m.Template == p.Template && isReady(p, m) && !s.everReady[id] {
			s.everReady[id] = true
			p.Failures = 0
		}
		if p.Kind == KindControlPlane && !p.Initialised && m.Init && m.State == StateDeployed {
			p.Initialised = true
		}
	}
	obs := s.observe()
	r, err := Plan(s.pools, obs, s.opts)
	if err != nil {
		s.t.Fatalf("step %d: Plan: %v", len(s.trace), err)
	}
	s.rng.Shuffle(len(obs), func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
	if again, _ := Plan(s.pools, obs, s.opts); !reflect.DeepEqual(again, r) {
		s.t.Fatalf("step %d: the plan depends on the order of machines:\n%+v\n%+v", len(s.trace), r, again)
	}
	before := map[string]poolCounts{}
	prev := map[string]State{}
	for id, m := range s.ms {
		prev[id] = m.State
	}
	for i := range s.pools {
		p := &s.pools[i]
		before[p.Name] = s.counts(p)
		sum := r.Pools[i]
		for _, id := range sum.Failed {
			if slices.Contains(p.CountedFailures, id) {
				s.t.Fatalf("step %d: %s reported failed twice", len(s.trace), id)
			}
			p.CountedFailures = append(p.CountedFailures, id)
		}
		p.Failures = sum.Failures
		if sum.Halted {
			s.halts++
		}
	}
	s.apply(r)
	s.check(r, before, prev)
	s.trace = append(s.trace, actionsString(r.Actions))
	return r
}

func (s *sim) apply(r Result) {
	s.t.Helper()
	for _, a := range r.Actions {
		m := s.ms[a.SystemID]
		if a.Kind != ActionAllocate && m == nil {
			s.t.Fatalf("step %d: %s on unknown machine", len(s.trace), show(a))
		}
		switch a.Kind {
		case ActionRelease:
			s.release(a, m)
		case ActionAllocate:
			s.allocate(a)
		case ActionDeploy:
			s.deploy(a, m)
		case ActionAssignSlot:
			if m.Slot != NoSlot {
				s.t.Fatalf("step %d: %s: machine has slot %d", len(s.trace), show(a), m.Slot)
			}
			m.Slot = a.Slot
		}
	}
}

func (s *sim) release(a Action, m *Machine) {
	s.t.Helper()
	if !releasable(m.State) {
		s.t.Fatalf("step %d: %s: machine is %s", len(s.trace), show(a), m.State)
	}
	if s.released[m.SystemID] && m.State != StateReleaseFailed {
		s.t.Fatalf("step %d: %s released twice", len(s.trace), m.SystemID)
	}
	s.released[m.SystemID] = true
	m.State = StateReleasing
}

func (s *sim) allocate(a Action) {
	s.t.Helper()
	p := s.pool(a.Pool)
	if p == nil {
		s.t.Fatalf("step %d: %s for an unknown pool", len(s.trace), show(a))
	}
	if len(p.Zones) == 0 && a.Zone != "" || len(p.Zones) > 0 && !slices.Contains(p.Zones, a.Zone) {
		s.t.Fatalf("step %d: %s: zone not in %v", len(s.trace), show(a), p.Zones)
	}
	for _, o := range s.ms {
		if o.Pool == a.Pool && o.Slot == a.Slot && isMember(o) {
			s.t.Fatalf("step %d: %s: slot taken by %s", len(s.trace), show(a), o.SystemID)
		}
	}
	s.seq++
	id := fmt.Sprintf("n%02d", s.seq)
	s.ms[id] = &Machine{SystemID: id, Pool: a.Pool, Slot: a.Slot, Zone: a.Zone,
		Template: p.Template, State: StateAllocated, Status: "Allocated"}
}

func (s *sim) deploy(a Action, m *Machine) {
	s.t.Helper()
	p := s.pool(a.Pool)
	if p == nil || m.State != StateAllocated || m.Pool != a.Pool || m.Template != p.Template {
		s.t.Fatalf("step %d: %s: machine is %+v", len(s.trace), show(a), *m)
	}
	want := RoleWorker
	if p.Kind == KindControlPlane {
		want = RoleControlPlane
	}
	if a.Role == RoleInit {
		if p.Kind != KindControlPlane || p.Initialised {
			s.t.Fatalf("step %d: %s in pool %+v", len(s.trace), show(a), *p)
		}
		for _, o := range s.ms {
			if o != m && o.Pool == p.Name && o.Init && isMember(o) {
				s.t.Fatalf("step %d: %s while %s is the init node", len(s.trace), show(a), o.SystemID)
			}
		}
		m.Init = true
		s.initDeploys[p.Name]++
	} else if a.Role != want {
		s.t.Fatalf("step %d: %s, want role %s", len(s.trace), show(a), want)
	}
	m.State = StateDeploying
}

// check asserts what must hold after any plan, from any state.
func (s *sim) check(r Result, before map[string]poolCounts, prev map[string]State) {
	s.t.Helper()
	perPool := map[string][]Action{}
	for _, a := range r.Actions {
		perPool[a.Pool] = append(perPool[a.Pool], a)
	}
	for i := range s.pools {
		p := &s.pools[i]
		b, c := before[p.Name], s.counts(p)
		if c.ready < min(b.ready, p.MinReady) {
			s.t.Fatalf("step %d: pool %s: %d Ready after the plan, %d before, MinReady %d",
				len(s.trace), p.Name, c.ready, b.ready, p.MinReady)
		}
		var allocs, rolled int
		for _, a := range perPool[p.Name] {
			switch {
			case a.Kind == ActionAllocate:
				allocs++
			case a.Kind == ActionRelease && a.Reason == ReasonOutdated && (prev[a.SystemID] == StateDeployed || prev[a.SystemID] == StateUnknown):
				rolled++
			}
		}
		limit := p.Size
		if expands(p) && b.outdated > 0 {
			limit++
		}
		if allocs > 0 && c.members > limit {
			s.t.Fatalf("step %d: pool %s: %d machines after allocating, limit %d", len(s.trace), p.Name, c.members, limit)
		}
		if allocs > 0 && c.members > p.Size && c.inflight > allocs {
			s.t.Fatalf("step %d: pool %s: an extra machine while %d replacement(s) are under way",
				len(s.trace), p.Name, c.inflight-allocs)
		}
		if rolled > 1 {
			s.t.Fatalf("step %d: pool %s: %d deployed outdated machines released at once", len(s.trace), p.Name, rolled)
		}
		if f, ok := s.floor[p.Name]; ok && c.ready < f {
			s.t.Fatalf("step %d: pool %s: %d Ready, floor %d\n%s", len(s.trace), p.Name, c.ready, f, s.dump())
		}
		if n, ok := s.inflight[p.Name]; ok && c.inflight > n {
			s.t.Fatalf("step %d: pool %s: %d replacements at once, at most %d\n%s", len(s.trace), p.Name, c.inflight, n, s.dump())
		}
		if ceil, ok := s.ceiling[p.Name]; ok && c.members > ceil {
			s.t.Fatalf("step %d: pool %s: %d machines, ceiling %d\n%s", len(s.trace), p.Name, c.members, ceil, s.dump())
		}
	}
}

func (s *sim) dump() string {
	out := ""
	for _, id := range s.sortedIDs() {
		m := s.ms[id]
		out += fmt.Sprintf("  %s %s/%d %s %s node=%d\n", id, m.Pool, m.Slot, m.Template, m.State, m.Node)
	}
	return out + fmt.Sprintf("  trace: %q\n", s.trace)
}

// advance moves one machine one transition; false if it has none.
func (s *sim) advance(m *Machine) bool {
	p := s.pool(m.Pool)
	switch m.State {
	case StateDeploying:
		if s.failNext[m.Pool] > 0 {
			s.failNext[m.Pool]--
			m.State = StateFailed
			return true
		}
		if s.failBudget > 0 && s.rng.Float64() < s.failProb {
			s.failBudget--
			m.State = StateFailed
			return true
		}
		m.State, m.Node, m.DeployedAt = StateDeployed, NodeAbsent, s.now
		if p != nil && p.NodeReadiness && s.joinFailNext[m.Pool] > 0 {
			s.joinFailNext[m.Pool]--
			s.neverJoins[m.SystemID] = true
		}
	case StateDeployed:
		if m.Node == NodeReady || s.neverJoins[m.SystemID] {
			return false
		}
		m.Node = NodeReady
	case StateUnknown:
		// An admin finishes with it (rescue mode exited).
		m.State, m.Node, m.DeployedAt = StateDeployed, NodeReady, s.now
	case StateReleasing:
		if s.relFailBudget > 0 && s.rng.Float64() < s.relFailProb {
			s.relFailBudget--
			m.State = StateReleaseFailed
			return true
		}
		delete(s.ms, m.SystemID)
	default:
		return false
	}
	return true
}

func (s *sim) tick() {
	s.now = s.now.Add(time.Minute)
	ids := s.sortedIDs()
	if !s.tickOne {
		for _, id := range ids {
			s.advance(s.ms[id])
		}
		return
	}
	s.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		if s.advance(s.ms[id]) {
			return
		}
	}
}

// run plans and ticks until a plan has nothing left to do, at most steps times.
func (s *sim) run(steps int) {
	s.t.Helper()
	var r Result
	for range steps {
		if r = s.step(); r.Done() {
			return
		}
		s.tick()
	}
	s.t.Fatalf("not converged after %d steps\n%+v\n%s", steps, r.Pools, s.dump())
}

// converged asserts every pool holds Size machines, Ready, on its template,
// in distinct slots, and every other machine is on its way out.
func (s *sim) converged() {
	s.t.Helper()
	for i := range s.pools {
		p := &s.pools[i]
		c := s.counts(p)
		if c.members != p.Size || c.ready != p.Size || c.outdated != 0 {
			s.t.Fatalf("pool %s: %+v, size %d\n%s", p.Name, c, p.Size, s.dump())
		}
		slots := map[int]string{}
		for _, m := range s.ms {
			if m.Pool != p.Name || !isMember(m) {
				continue
			}
			if o, dup := slots[m.Slot]; dup || m.Slot == NoSlot {
				s.t.Fatalf("pool %s: %s in slot %d (%q)\n%s", p.Name, m.SystemID, m.Slot, o, s.dump())
			}
			slots[m.Slot] = m.SystemID
		}
	}
	for _, m := range s.ms {
		if releasable(m.State) && (s.pool(m.Pool) == nil || !isMember(m)) {
			s.t.Fatalf("machine %s of pool %s left %s\n%s", m.SystemID, m.Pool, m.State, s.dump())
		}
	}
}

// zonesBalanced asserts that no zone of the pool holds two machines more than another.
func (s *sim) zonesBalanced(name string) {
	s.t.Helper()
	p := s.pool(name)
	if len(p.Zones) == 0 {
		return
	}
	load := map[string]int{}
	for _, m := range s.ms {
		if m.Pool == name && isMember(m) {
			load[m.Zone]++
		}
	}
	lo, hi := p.Size, 0
	for _, z := range p.Zones {
		lo, hi = min(lo, load[z]), max(hi, load[z])
	}
	if hi-lo > 1 {
		s.t.Fatalf("pool %s: zones unbalanced %v", name, load)
	}
}

// guardRoll sets the invariants of a rolling update of a full, Ready pool:
// ExpandFirst never below Size Ready nor above Size+1 machines,
// ContractFirst never above Size machines nor below Size-1 Ready (or
// MinReady), and one replacement at a time.
func (s *sim) guardRoll(name string) {
	p := s.pool(name)
	if expands(p) {
		s.floor[name], s.ceiling[name] = p.Size, p.Size+1
	} else {
		s.floor[name], s.ceiling[name] = max(p.Size-1, p.MinReady), p.Size
	}
	s.inflight[name] = 1
}

func TestRollingUpdateStepByStep(t *testing.T) {
	tests := []struct {
		name  string
		pool  Pool
		trace []string
	}{
		{
			name: "expand-first, 3 workers in 3 zones",
			pool: workers("w", 3, "a", "b", "c"),
			trace: []string{
				"+w/3@a", "deploy n01 as worker",
				"-w-0(outdated) +w/0@b", "deploy n02 as worker",
				"-w-1(outdated) +w/1@c", "deploy n03 as worker",
				"-w-2(outdated)", "-",
			},
		},
		{
			name: "contract-first, 3 workers in 3 zones",
			pool: with(workers("w", 3, "a", "b", "c"), contract),
			trace: []string{
				"-w-0(outdated) +w/0@a", "deploy n01 as worker",
				"-w-1(outdated) +w/1@b", "deploy n02 as worker",
				"-w-2(outdated) +w/2@c", "deploy n03 as worker", "-",
			},
		},
		{
			name: "1-node gateway: expand first, wait for the node",
			pool: gateway(1, 1),
			trace: []string{
				"+gw/1@", "deploy n01 as control-plane", "-", "-gw-0(outdated)", "-",
			},
		},
		{
			name: "3-node gateway, contract-first, MinReady 2",
			pool: with(gateway(3, 2), contract),
			trace: []string{
				"-gw-0(outdated) +gw/0@", "deploy n01 as control-plane", "-",
				"-gw-1(outdated) +gw/1@", "deploy n02 as control-plane", "-",
				"-gw-2(outdated) +gw/2@", "deploy n03 as control-plane", "-", "-",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 1, tt.pool)
			s.full(tt.pool, "old")
			s.guardRoll(tt.pool.Name)
			s.run(50)
			s.converged()
			if !slices.Equal(s.trace, tt.trace) {
				t.Errorf("trace\n got: %q\nwant: %q", s.trace, tt.trace)
			}
		})
	}
}
