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
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Plan computes the steps to take now so that pools converge, given every
// machine the operator owns for the cluster (machines of pools not listed
// are released). The result depends on the order of pools only, never on the
// order of machines. Plan fails only on malformed input.
func Plan(pools []Pool, machines []Machine, opts Options) (Result, error) {
	if err := validate(pools, machines, opts); err != nil {
		return Result{}, err
	}
	// One sort serves every pool: each gets its run of machines, by slot.
	order := sortedOrder(machines)
	runs := make(map[string][]int, len(pools))
	for i := 0; i < len(order); {
		pool := machines[order[i]].Pool
		j := i + 1
		for j < len(order) && machines[order[j]].Pool == pool {
			j++
		}
		runs[pool] = order[i:j:j]
		i = j
	}
	res := Result{Pools: make([]PoolSummary, 0, len(pools))}
	sick := unhealthy(pools, machines, opts)
	for id := range sick {
		res.Unhealthy = append(res.Unhealthy, id)
	}
	slices.Sort(res.Unhealthy)
	if len(sick) > opts.MaxUnhealthy {
		res.RemediationHeld = true
		sick = nil
	}
	for _, p := range pools {
		pp := newPoolPlanner(p, machines, runs[p.Name], opts)
		pp.sick = sick
		delete(runs, p.Name)
		res.Pools = append(res.Pools, pp.plan())
		res.Actions = append(res.Actions, pp.actions...)
	}
	for _, i := range order {
		m := &machines[i]
		if _, orphan := runs[m.Pool]; orphan && releasable(m.State) {
			res.Actions = append(res.Actions, releaseOf(m, ReasonPoolRemoved))
		}
	}
	return res, nil
}

func validate(pools []Pool, machines []Machine, opts Options) error {
	names := make(map[string]bool, len(pools))
	for i, p := range pools {
		if p.Name == "" {
			return fmt.Errorf("rollout: pool %d has no name", i)
		}
		if names[p.Name] {
			return fmt.Errorf("rollout: pool %q given twice", p.Name)
		}
		names[p.Name] = true
		switch {
		case p.Kind != KindControlPlane && p.Kind != KindWorker:
			return fmt.Errorf("rollout: pool %q: unknown kind %q", p.Name, p.Kind)
		case p.Strategy != "" && p.Strategy != ExpandFirst && p.Strategy != ContractFirst:
			return fmt.Errorf("rollout: pool %q: unknown strategy %q", p.Name, p.Strategy)
		case p.Size < 0:
			return fmt.Errorf("rollout: pool %q: negative size %d", p.Name, p.Size)
		case p.MinReady < 0 || p.MinReady > p.Size:
			// Above Size no outdated machine could ever be released.
			return fmt.Errorf("rollout: pool %q: minReady %d outside 0..size %d", p.Name, p.MinReady, p.Size)
		case p.Failures < 0 || p.MaxFailures < 0:
			return fmt.Errorf("rollout: pool %q: negative failure count", p.Name)
		}
	}
	ids := make(map[string]bool, len(machines))
	for i := range machines {
		m := &machines[i]
		switch {
		case m.SystemID == "":
			return fmt.Errorf("rollout: machine of pool %q has no system ID", m.Pool)
		case ids[m.SystemID]:
			return fmt.Errorf("rollout: machine %s given twice", m.SystemID)
		case m.Slot < NoSlot:
			return fmt.Errorf("rollout: machine %s: invalid slot %d", m.SystemID, m.Slot)
		case !knownState(m.State):
			return fmt.Errorf("rollout: machine %s: unknown state %q (use ParseState)", m.SystemID, m.State)
		}
		ids[m.SystemID] = true
	}
	if opts.JoinTimeout < 0 {
		return fmt.Errorf("rollout: negative join timeout %s", opts.JoinTimeout)
	}
	if opts.JoinTimeout > 0 && opts.Now.IsZero() {
		return fmt.Errorf("rollout: a join timeout needs Options.Now")
	}
	if opts.UnhealthyTimeout < 0 || opts.MaxUnhealthy < 0 {
		return fmt.Errorf("rollout: negative unhealthy timeout %s or maxUnhealthy %d", opts.UnhealthyTimeout, opts.MaxUnhealthy)
	}
	if opts.UnhealthyTimeout > 0 && opts.Now.IsZero() {
		return fmt.Errorf("rollout: an unhealthy timeout needs Options.Now")
	}
	return nil
}

// unhealthy returns the machines of NodeReadiness pools whose Node has
// not been Ready for Options.UnhealthyTimeout.
func unhealthy(pools []Pool, machines []Machine, opts Options) map[string]bool {
	if opts.UnhealthyTimeout <= 0 {
		return nil
	}
	watched := make(map[string]bool, len(pools))
	for _, p := range pools {
		watched[p.Name] = p.NodeReadiness
	}
	var sick map[string]bool
	for i := range machines {
		m := &machines[i]
		if watched[m.Pool] && m.State == StateDeployed && m.Node == NodeNotReady &&
			!m.UnhealthySince.IsZero() && opts.Now.Sub(m.UnhealthySince) >= opts.UnhealthyTimeout {
			if sick == nil {
				sick = map[string]bool{}
			}
			sick[m.SystemID] = true
		}
	}
	return sick
}

func knownState(s State) bool {
	switch s {
	case StateAllocated, StateDeploying, StateDeployed, StateFailed, StateBroken,
		StateReleasing, StateReleaseFailed, StateReleased, StateUnknown:
		return true
	}
	return false
}

// releasable is false for machines already on their way out or gone, so
// that no machine is released twice.
func releasable(s State) bool {
	return s != StateReleasing && s != StateReleased
}

// sortedOrder returns the indices of machines by pool, slot and system ID:
// sorting indices spares moving whole machines around.
func sortedOrder(machines []Machine) []int {
	order := make([]int, len(machines))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ma, mb := &machines[a], &machines[b]
		return cmp.Or(strings.Compare(ma.Pool, mb.Pool), bySlot(ma, mb))
	})
	return order
}

func bySlot(a, b *Machine) int {
	return cmp.Or(cmp.Compare(a.Slot, b.Slot), strings.Compare(a.SystemID, b.SystemID))
}

func releaseOf(m *Machine, reason Reason) Action {
	return Action{Kind: ActionRelease, Pool: m.Pool, SystemID: m.SystemID, Slot: m.Slot, Reason: reason}
}

// member is a machine that counts toward its pool's size.
type member struct {
	Machine
	ready    bool
	current  bool
	assigned bool // Slot was given by this plan
	gone     bool // released by this plan
}

// rank orders machines sharing a slot: the highest is kept.
func (m *member) rank() int {
	switch {
	case m.ready:
		return 4
	case m.State == StateDeployed:
		return 3
	case m.State == StateDeploying:
		return 2
	case m.State == StateAllocated:
		return 1
	}
	return 0
}

func (m *member) deployed() bool {
	return m.State != StateAllocated && m.State != StateDeploying
}

type poolPlanner struct {
	p         Pool
	opts      Options
	members   []*member // sorted by slot, then system ID
	ready     int       // Ready members, whatever their template
	releasing int
	failed    []string
	init      *member
	allocated int
	blocked   []string
	sick      map[string]bool // machines to remediate, when not held
	actions   []Action
}

func newPoolPlanner(p Pool, machines []Machine, idx []int, opts Options) *poolPlanner {
	var zones []string
	for _, z := range p.Zones {
		if !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	p.Zones = zones
	pp := &poolPlanner{p: p, opts: opts, members: make([]*member, 0, len(idx))}
	store := make([]member, 0, len(idx))
	for _, i := range idx {
		if mem, ok := pp.observe(&machines[i]); ok {
			store = append(store, mem)
			pp.members = append(pp.members, &store[len(store)-1])
		}
	}
	return pp
}

// observe sorts a machine out: it returns the member it makes, or false
// for a machine on its way out, released here if need be.
func (pp *poolPlanner) observe(m *Machine) (member, bool) {
	switch m.State {
	case StateReleased:
	case StateReleasing:
		pp.releasing++
	case StateReleaseFailed:
		pp.releaseMachine(m, ReasonReleaseRetry)
	case StateFailed:
		pp.releaseMachine(m, ReasonDeployFailed)
		pp.failed = append(pp.failed, m.SystemID)
	case StateBroken:
		pp.releaseMachine(m, ReasonBroken)
	default:
		if pp.neverJoined(m) {
			pp.releaseMachine(m, ReasonJoinTimeout)
			pp.failed = append(pp.failed, m.SystemID)
			return member{}, false
		}
		mem := member{
			Machine: *m,
			ready:   m.State == StateDeployed && (!pp.p.NodeReadiness || m.Node == NodeReady),
			current: m.Template == pp.p.Template,
		}
		if mem.ready {
			pp.ready++
		}
		return mem, true
	}
	return member{}, false
}

func (pp *poolPlanner) neverJoined(m *Machine) bool {
	return pp.p.NodeReadiness && m.State == StateDeployed && m.Node == NodeAbsent &&
		pp.opts.JoinTimeout > 0 && !m.DeployedAt.IsZero() &&
		pp.opts.Now.Sub(m.DeployedAt) >= pp.opts.JoinTimeout
}

func (pp *poolPlanner) releaseMachine(m *Machine, reason Reason) {
	pp.actions = append(pp.actions, releaseOf(m, reason))
	pp.releasing++
}

func (pp *poolPlanner) release(m *member, reason Reason) {
	pp.releaseMachine(&m.Machine, reason)
	m.gone = true
	if m.ready {
		pp.ready--
	}
}

// mayRelease reports whether releasing m leaves at least floor Ready
// machines. A machine that is not Ready may always go.
func (pp *poolPlanner) mayRelease(m *member, floor int) bool {
	return !m.ready || pp.ready-1 >= floor
}

func (pp *poolPlanner) block(format string, args ...any) {
	pp.blocked = append(pp.blocked, fmt.Sprintf(format, args...))
}

func (pp *poolPlanner) compact() {
	pp.members = slices.DeleteFunc(pp.members, func(m *member) bool { return m.gone })
}

func (pp *poolPlanner) outdated() []*member {
	var out []*member
	for _, m := range pp.members {
		if !m.current {
			out = append(out, m)
		}
	}
	return out
}

// inflight counts current machines not Ready yet: a replacement under way.
func (pp *poolPlanner) inflight() int {
	n := 0
	for _, m := range pp.members {
		if m.current && !m.ready {
			n++
		}
	}
	return n
}

// expand reports whether outdated machines are replaced expand-first. A
// ContractFirst pool that MinReady forbids to ever lose a Ready machine at
// full size could never start contracting.
func (pp *poolPlanner) expand() bool {
	return pp.p.Strategy != ContractFirst || pp.p.MinReady > pp.p.Size-1
}

func (pp *poolPlanner) rolling() bool {
	return pp.p.Size > 0 && len(pp.outdated()) > 0
}

// newFailures lists the failed machines the caller has not counted yet.
func (pp *poolPlanner) newFailures() []string {
	var out []string
	for _, id := range pp.failed {
		if !slices.Contains(pp.p.CountedFailures, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (pp *poolPlanner) halted(failures int) bool {
	limit := pp.p.MaxFailures
	if limit == 0 {
		limit = DefaultMaxFailures
	}
	return failures >= limit
}

func (pp *poolPlanner) plan() PoolSummary {
	pp.resolveDuplicates()
	pp.assignSlots()
	pp.releaseUnfinishedOutdated()
	pp.remediate()
	if pp.p.Kind == KindControlPlane && !pp.p.Initialised {
		for _, m := range pp.members {
			if m.Init {
				pp.init = m
				break
			}
		}
	}
	pp.releaseSurplus()
	failed := pp.newFailures()
	failures := pp.p.Failures + len(failed)
	halted := pp.halted(failures)
	if !halted {
		pp.roll()
		pp.allocate()
		pp.deploy()
	}
	for _, m := range pp.members {
		if m.assigned {
			pp.actions = append(pp.actions, Action{Kind: ActionAssignSlot, Pool: pp.p.Name, SystemID: m.SystemID, Slot: m.Slot})
		}
	}
	return pp.summary(halted, failed, failures)
}

func (pp *poolPlanner) resolveDuplicates() {
	for i := 0; i < len(pp.members); {
		j := i + 1
		for j < len(pp.members) && pp.members[j].Slot == pp.members[i].Slot {
			j++
		}
		if slot := pp.members[i].Slot; slot != NoSlot && j-i > 1 {
			group := slices.Clone(pp.members[i:j])
			slices.SortFunc(group, func(a, b *member) int {
				return cmp.Or(cmp.Compare(b.rank(), a.rank()), compareBool(b.current, a.current),
					strings.Compare(a.SystemID, b.SystemID))
			})
			for _, m := range group[1:] {
				if pp.mayRelease(m, pp.p.MinReady) {
					pp.release(m, ReasonDuplicateSlot)
				} else {
					pp.block("keeping %s beside %s in slot %d: releasing it would leave fewer than %d Ready",
						m.SystemID, group[0].SystemID, slot, pp.p.MinReady)
				}
			}
		}
		i = j
	}
	pp.compact()
}

// freeSlots hands out the lowest slots no member holds, in increasing order.
type freeSlots struct {
	used map[int]bool
	next int
}

func (pp *poolPlanner) freeSlots() *freeSlots {
	used := make(map[int]bool, len(pp.members))
	for _, m := range pp.members {
		if m.Slot != NoSlot {
			used[m.Slot] = true
		}
	}
	return &freeSlots{used: used}
}

func (f *freeSlots) take() int {
	for f.used[f.next] {
		f.next++
	}
	f.next++
	return f.next - 1
}

// assignSlots gives machines without a slot the lowest free ones, in system
// ID order (the members are sorted so, and NoSlot sorts first).
func (pp *poolPlanner) assignSlots() {
	free := pp.freeSlots()
	for _, m := range pp.members {
		if m.Slot != NoSlot {
			break
		}
		m.Slot = free.take()
		m.assigned = true
	}
	slices.SortFunc(pp.members, func(a, b *member) int { return bySlot(&a.Machine, &b.Machine) })
}

// remediate releases the members whose Node stayed not Ready too long,
// to be replaced. A control plane loses one at a time, only while no other
// machine of it is on its way out and all the others are Ready, as Cluster
// API's control plane remediates: etcd must keep its quorum through it.
func (pp *poolPlanner) remediate() {
	for _, m := range pp.members {
		if !pp.sick[m.SystemID] {
			continue
		}
		if pp.p.Kind == KindControlPlane {
			if pp.releasing > 0 || pp.ready < len(pp.members)-1 {
				pp.block("not replacing unhealthy control-plane machine %s while other control-plane machines are not Ready or leaving", m.SystemID)
				return
			}
			pp.release(m, ReasonUnhealthy)
			break
		}
		pp.release(m, ReasonUnhealthy)
	}
	pp.compact()
}

// releaseUnfinishedOutdated releases outdated machines that are not deployed
// yet: they serve nothing, and would need deploying with a template whose
// constraints they may not meet.
func (pp *poolPlanner) releaseUnfinishedOutdated() {
	for _, m := range pp.members {
		if !m.current && !m.deployed() {
			pp.release(m, ReasonOutdated)
		}
	}
	pp.compact()
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (pp *poolPlanner) releaseSurplus() {
	limit := pp.p.Size
	if pp.rolling() && pp.expand() {
		limit++
	}
	n := len(pp.members) - limit
	if n <= 0 {
		return
	}
	if pp.p.Kind == KindControlPlane && pp.p.NodeReadiness {
		// One etcd member at a time, each removal only once the cluster
		// is whole again after the last: a 5→3 shrink is two steps.
		if pp.releasing > 0 {
			pp.block("shrinking the control plane one machine at a time: waiting for the last one to be released")
			return
		}
		n = 1
	}
	cands := slices.Clone(pp.members)
	slices.SortFunc(cands, func(a, b *member) int {
		return cmp.Or(
			compareBool(a == pp.init, b == pp.init),
			compareBool(a.deployed(), b.deployed()),
			compareBool(a.current, b.current),
			compareBool(a.ready, b.ready),
			cmp.Compare(b.Slot, a.Slot),
			strings.Compare(a.SystemID, b.SystemID))
	})
	// Skipping a Ready machine MinReady protects always leaves enough
	// candidates: MinReady ≤ Size, so at least n members are not Ready.
	for _, m := range cands {
		if n == 0 {
			break
		}
		if !pp.mayRelease(m, pp.p.MinReady) {
			continue
		}
		if pp.p.Kind == KindControlPlane && pp.p.NodeReadiness && m.ready && pp.ready < len(pp.members) {
			pp.block("shrinking the control plane one machine at a time: waiting for every control-plane machine to be Ready before releasing %s", m.SystemID)
			break
		}
		pp.release(m, ReasonSurplus)
		n--
	}
	pp.compact()
}

// roll releases one outdated machine when the strategy allows it: only
// once no replacement is under way, so every current machine is Ready, and
// an outdated machine that is not Ready goes first. Releasing a Ready one
// thus leaves all the others Ready: at least Size with expand-first, which
// waits until the pool is above its size, and at least Size-1 ≥ MinReady
// with contract-first, which expand() rules out when MinReady > Size-1.
func (pp *poolPlanner) roll() {
	outdated := pp.outdated()
	if pp.p.Size == 0 || len(outdated) == 0 || pp.inflight() > 0 {
		return
	}
	if pp.expand() && len(pp.members) <= pp.p.Size || len(pp.members) < pp.p.Size {
		return
	}
	slices.SortFunc(outdated, func(a, b *member) int {
		return cmp.Or(compareBool(a.ready, b.ready), bySlot(&a.Machine, &b.Machine))
	})
	pp.release(outdated[0], ReasonOutdated)
	pp.compact()
}

func (pp *poolPlanner) allocate() {
	want := pp.p.Size
	if pp.rolling() && pp.expand() && pp.inflight() == 0 && len(pp.members) >= pp.p.Size {
		want++
	}
	n := want - len(pp.members)
	if n <= 0 {
		return
	}
	free := pp.freeSlots()
	load := make(map[string]int, len(pp.p.Zones))
	for _, m := range pp.members {
		// Outdated machines will all go: balance what stays.
		if m.current {
			load[m.Zone]++
		}
	}
	// The machine that will initialise the control plane is marked as such
	// when it is allocated, so deploying it needs no second mark (and no
	// second MAAS request); deploy() would otherwise pick the first
	// Allocated machine.
	initRole := pp.p.Kind == KindControlPlane && !pp.p.Initialised && pp.init == nil && !pp.hasAllocated()
	for range n {
		slot := free.take()
		zone := ""
		for i, z := range pp.p.Zones {
			if i == 0 || load[z] < load[zone] {
				zone = z
			}
		}
		load[zone]++
		pp.allocated++
		a := Action{Kind: ActionAllocate, Pool: pp.p.Name, Slot: slot, Zone: zone}
		if initRole {
			a.Role, initRole = RoleInit, false
		}
		pp.actions = append(pp.actions, a)
	}
}

func (pp *poolPlanner) hasAllocated() bool {
	for _, m := range pp.members {
		if m.State == StateAllocated {
			return true
		}
	}
	return false
}

func (pp *poolPlanner) deploy() {
	initialising := pp.p.Kind == KindControlPlane && !pp.p.Initialised
	if pp.init != nil && pp.init.gone {
		pp.init = nil
	}
	for _, m := range pp.members {
		if m.State != StateAllocated {
			continue
		}
		role := RoleWorker
		if pp.p.Kind == KindControlPlane {
			role = RoleControlPlane
			if initialising && pp.init == nil {
				pp.init = m
			}
			if initialising && pp.init == m {
				role = RoleInit
			}
		}
		pp.actions = append(pp.actions, Action{Kind: ActionDeploy, Pool: pp.p.Name, SystemID: m.SystemID, Slot: m.Slot, Role: role})
	}
}

func (pp *poolPlanner) summary(halted bool, failed []string, failures int) PoolSummary {
	s := PoolSummary{
		Name:      pp.p.Name,
		Desired:   pp.p.Size,
		Machines:  len(pp.members),
		Available: pp.ready,
		Releasing: pp.releasing,
		Failed:    failed,
		Failures:  failures,
	}
	if pp.init != nil {
		s.InitNode = pp.init.SystemID
	}
	var deploying, joining int
	var unknown []string
	for _, m := range pp.members {
		if m.current {
			s.Updated++
			if m.ready {
				s.Ready++
			}
		} else {
			s.Outdated++
		}
		switch {
		case m.ready:
		case m.State == StateAllocated || m.State == StateDeploying:
			deploying++
		case m.State == StateDeployed:
			joining++
		default:
			unknown = append(unknown, fmt.Sprintf("%s is %q in MAAS", m.SystemID, cmp.Or(m.Status, string(m.State))))
		}
	}
	s.Done = s.Machines == s.Desired && s.Ready == s.Desired
	s.Halted = halted && !s.Done
	if s.Done {
		return s
	}
	var why []string
	if s.Halted {
		why = append(why, fmt.Sprintf("halted after %d consecutive failed deployments", failures))
	}
	if len(pp.failed) > 0 {
		why = append(why, fmt.Sprintf("releasing %d failed deployment(s)", len(pp.failed)))
	}
	if pp.allocated > 0 {
		why = append(why, fmt.Sprintf("allocating %d machine(s)", pp.allocated))
	}
	if deploying > 0 {
		why = append(why, fmt.Sprintf("%d machine(s) deploying", deploying))
	}
	if joining > 0 {
		why = append(why, fmt.Sprintf("%d deployed machine(s) waiting for a Ready node", joining))
	}
	why = append(why, unknown...)
	if s.Outdated > 0 {
		why = append(why, fmt.Sprintf("%d outdated machine(s) to replace", s.Outdated))
	}
	why = append(why, pp.blocked...)
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("%d of %d machines", s.Machines, s.Desired))
	}
	s.Waiting = strings.Join(why, "; ")
	return s
}
