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
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func cpPool(size int, zones ...string) Pool {
	return Pool{Name: "cp", Kind: KindControlPlane, Size: size, Zones: zones, Template: "new"}
}

func workers(name string, size int, zones ...string) Pool {
	return Pool{Name: name, Kind: KindWorker, Size: size, Zones: zones, Template: "new"}
}

// gateway is a gateway pool: an initialised control plane whose Ready means Node Ready.
func gateway(size, minReady int) Pool {
	return Pool{Name: "gw", Kind: KindControlPlane, Size: size, Template: "new",
		MinReady: minReady, NodeReadiness: true, Initialised: true}
}

func with(p Pool, f func(*Pool)) Pool { f(&p); return p }

func initialised(p *Pool) { p.Initialised = true }
func contract(p *Pool)    { p.Strategy = ContractFirst }

var (
	old      = onTemplate("old")
	ready    = withNode(NodeReady)
	notReady = withNode(NodeNotReady)
)

type planCase struct {
	name     string
	pools    []Pool
	machines []Machine
	opts     Options
	want     []Action
	check    func(t *testing.T, r Result)
}

func planCases() []planCase {
	return slices.Concat(provisioningCases(), scalingCases(), slotCases(), failureCases(),
		rollingCases(), haltingCases(), remediationCases())
}

// watched is a pool whose Ready means Node Ready, as inside tenant clusters.
func watched(p Pool) Pool { p.NodeReadiness, p.Initialised = true, true; return p }

func remediationCases() []planCase {
	health := Options{Now: t0.Add(30 * time.Minute), UnhealthyTimeout: 10 * time.Minute, MaxUnhealthy: 2}
	return []planCase{
		{
			name:  "a worker whose node stayed not Ready past the timeout is replaced",
			pools: []Pool{watched(workers("w", 3))},
			opts:  health,
			machines: []Machine{
				mach("w0", "w", 0, StateDeployed, ready), mach("w1", "w", 1, StateDeployed, sickSince(t0)),
				mach("w2", "w", 2, StateDeployed, ready),
			},
			want: []Action{rel("w", "w1", 1, ReasonUnhealthy), alloc("w", 1, "")},
			check: func(t *testing.T, r Result) {
				if !slices.Equal(r.Unhealthy, []string{"w1"}) || r.RemediationHeld {
					t.Errorf("Unhealthy = %v, held %v", r.Unhealthy, r.RemediationHeld)
				}
				if len(r.Pools[0].Failed) != 0 {
					t.Errorf("a remediation counted as a failed deployment: %v", r.Pools[0].Failed)
				}
			},
		},
		{
			name:  "a node not Ready for less than the timeout is waited for",
			pools: []Pool{watched(workers("w", 2))},
			opts:  health,
			machines: []Machine{
				mach("w0", "w", 0, StateDeployed, ready), mach("w1", "w", 1, StateDeployed, sickSince(t0.Add(25*time.Minute))),
			},
		},
		{
			name:  "more unhealthy machines than maxUnhealthy hold every remediation",
			pools: []Pool{watched(cpPool(1)), watched(workers("w", 2))},
			opts:  health,
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, sickSince(t0)),
				mach("w0", "w", 0, StateDeployed, sickSince(t0)), mach("w1", "w", 1, StateDeployed, sickSince(t0)),
			},
			check: func(t *testing.T, r Result) {
				if !r.RemediationHeld || len(r.Unhealthy) != 3 {
					t.Errorf("held %v, unhealthy %v", r.RemediationHeld, r.Unhealthy)
				}
			},
		},
		{
			name:  "remediation needs a timeout: without one a sick node is only waited for",
			pools: []Pool{watched(workers("w", 1))},
			opts:  Options{Now: t0.Add(30 * time.Minute), MaxUnhealthy: 5},
			machines: []Machine{
				mach("w0", "w", 0, StateDeployed, sickSince(t0)),
			},
		},
		{
			name:  "a pool not watched inside its cluster is never remediated",
			pools: []Pool{workers("w", 1)},
			opts:  health,
			machines: []Machine{
				mach("w0", "w", 0, StateDeployed, sickSince(t0)),
			},
		},
		{
			name:  "a control plane replaces one unhealthy machine while the others are Ready",
			pools: []Pool{watched(cpPool(3))},
			opts:  health,
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, sickSince(t0)),
				mach("c2", "cp", 2, StateDeployed, ready),
			},
			want: []Action{rel("cp", "c1", 1, ReasonUnhealthy), alloc("cp", 1, "")},
		},
		{
			name:  "a control plane with two unhealthy machines replaces neither",
			pools: []Pool{watched(cpPool(3))},
			opts:  health,
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, sickSince(t0)),
				mach("c2", "cp", 2, StateDeployed, sickSince(t0)),
			},
			check: func(t *testing.T, r Result) {
				if w := r.Pools[0].Waiting; !strings.Contains(w, "not replacing unhealthy control-plane machine") {
					t.Errorf("Waiting = %q", w)
				}
			},
		},
		{
			name:  "a control plane waits for a leaving machine before remediating",
			pools: []Pool{watched(cpPool(3))},
			opts:  health,
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, sickSince(t0)),
				mach("c2", "cp", 2, StateDeployed, ready), mach("c3", "cp", 3, StateReleasing),
			},
			check: func(t *testing.T, r Result) {
				if len(r.Actions) != 0 {
					t.Errorf("actions %s", actionsString(r.Actions))
				}
			},
		},
		{
			name:  "a watched control plane shrinks 5→3 one machine at a time",
			pools: []Pool{watched(cpPool(3))},
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, ready),
				mach("c2", "cp", 2, StateDeployed, ready), mach("c3", "cp", 3, StateDeployed, ready),
				mach("c4", "cp", 4, StateDeployed, ready),
			},
			want: []Action{rel("cp", "c4", 4, ReasonSurplus)},
		},
		{
			name:  "the second step of a shrink waits for the first machine's release",
			pools: []Pool{watched(cpPool(3))},
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, ready),
				mach("c2", "cp", 2, StateDeployed, ready), mach("c3", "cp", 3, StateDeployed, ready),
				mach("c4", "cp", 4, StateReleasing),
			},
			check: func(t *testing.T, r Result) {
				if len(r.Actions) != 0 || !strings.Contains(r.Pools[0].Waiting, "one machine at a time") {
					t.Errorf("actions %s, waiting %q", actionsString(r.Actions), r.Pools[0].Waiting)
				}
			},
		},
		{
			name:  "the second step of a shrink waits until the cluster is whole again",
			pools: []Pool{watched(cpPool(3))},
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, notReady),
				mach("c2", "cp", 2, StateDeployed, ready), mach("c3", "cp", 3, StateDeployed, ready),
			},
			// The machine that is not Ready is the one to go: it serves nothing.
			want: []Action{rel("cp", "c1", 1, ReasonSurplus)},
		},
		{
			name:  "a Ready control-plane machine is not released while another is not Ready",
			pools: []Pool{with(watched(cpPool(3)), func(p *Pool) { p.MinReady = 0 })},
			machines: []Machine{
				mach("c0", "cp", 0, StateDeployed, ready), mach("c1", "cp", 1, StateDeployed, notReady),
				mach("c2", "cp", 2, StateDeployed, ready), mach("c3", "cp", 3, StateDeployed, ready),
				mach("c4", "cp", 4, StateDeployed, notReady, onTemplate("new")),
			},
			// Two must go: the first not-Ready one goes now, the rest waits.
			want: []Action{rel("cp", "c4", 4, ReasonSurplus)},
		},
	}
}

func provisioningCases() []planCase {
	return []planCase{
		{
			name:  "one control plane from nothing",
			pools: []Pool{cpPool(1)},
			want:  []Action{allocInit("")},
			check: func(t *testing.T, r Result) {
				s := r.Pools[0]
				if s.Done || s.Desired != 1 || s.Machines != 0 || !strings.Contains(s.Waiting, "allocating 1") {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:  "three control planes across three zones",
			pools: []Pool{cpPool(3, "a", "b", "c")},
			want:  []Action{allocInit("a"), alloc("cp", 1, "b"), alloc("cp", 2, "c")},
		},
		{
			name:  "five control planes across three zones",
			pools: []Pool{cpPool(5, "a", "b", "c")},
			want: []Action{allocInit("a"), alloc("cp", 1, "b"), alloc("cp", 2, "c"),
				alloc("cp", 3, "a"), alloc("cp", 4, "b")},
		},
		{
			name:  "control plane and worker pools all at once",
			pools: []Pool{cpPool(3, "a", "b", "c"), workers("w1", 4, "a", "b"), workers("w2", 2)},
			want: []Action{allocInit("a"), alloc("cp", 1, "b"), alloc("cp", 2, "c"),
				alloc("w1", 0, "a"), alloc("w1", 1, "b"), alloc("w1", 2, "a"), alloc("w1", 3, "b"),
				alloc("w2", 0, ""), alloc("w2", 1, "")},
		},
		{
			name:  "zone ties follow the pool's zone order",
			pools: []Pool{workers("w", 3, "c", "a", "b")},
			want:  []Action{alloc("w", 0, "c"), alloc("w", 1, "a"), alloc("w", 2, "b")},
		},
		{
			name:  "a zone listed twice counts once",
			pools: []Pool{workers("w", 3, "a", "a", "b")},
			want:  []Action{alloc("w", 0, "a"), alloc("w", 1, "b"), alloc("w", 2, "a")},
		},
		{
			name:  "new machines go to the emptiest zones",
			pools: []Pool{workers("w", 4, "a", "b", "c")},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, inZone("a")),
				mach("m1", "w", 1, StateDeployed, inZone("a")),
			},
			want: []Action{alloc("w", 2, "b"), alloc("w", 3, "c")},
		},
		{
			name:     "machines outside the pool's zones do not count",
			pools:    []Pool{workers("w", 2, "a", "b")},
			machines: []Machine{mach("m0", "w", 0, StateDeployed, inZone("x"))},
			want:     []Action{alloc("w", 1, "a")},
		},
		{
			name:  "the lowest allocated control plane inits, the others join",
			pools: []Pool{cpPool(3)},
			machines: []Machine{
				mach("m0", "cp", 0, StateAllocated), mach("m1", "cp", 1, StateAllocated), mach("m2", "cp", 2, StateAllocated),
			},
			want: []Action{deploy("cp", "m0", 0, RoleInit), deploy("cp", "m1", 1, RoleControlPlane), deploy("cp", "m2", 2, RoleControlPlane)},
			check: func(t *testing.T, r Result) {
				if r.Pools[0].InitNode != "m0" {
					t.Errorf("InitNode = %q, want m0", r.Pools[0].InitNode)
				}
			},
		},
		{
			name:  "the init mark is stable: no second init",
			pools: []Pool{cpPool(3)},
			machines: []Machine{
				mach("m0", "cp", 0, StateAllocated), mach("m1", "cp", 1, StateDeploying, initMark), mach("m2", "cp", 2, StateAllocated),
			},
			want: []Action{deploy("cp", "m0", 0, RoleControlPlane), deploy("cp", "m2", 2, RoleControlPlane)},
			check: func(t *testing.T, r Result) {
				if r.Pools[0].InitNode != "m1" {
					t.Errorf("InitNode = %q, want m1", r.Pools[0].InitNode)
				}
			},
		},
		{
			name:  "an init-marked machine still allocated after a crash inits",
			pools: []Pool{cpPool(3)},
			machines: []Machine{
				mach("m0", "cp", 0, StateAllocated), mach("m1", "cp", 1, StateAllocated, initMark),
			},
			want: []Action{alloc("cp", 2, ""), deploy("cp", "m0", 0, RoleControlPlane), deploy("cp", "m1", 1, RoleInit)},
		},
		{
			name:     "slot 0 not allocated yet: the lowest allocated inits",
			pools:    []Pool{cpPool(3)},
			machines: []Machine{mach("m1", "cp", 1, StateAllocated), mach("m2", "cp", 2, StateAllocated)},
			want:     []Action{alloc("cp", 0, ""), deploy("cp", "m1", 1, RoleInit), deploy("cp", "m2", 2, RoleControlPlane)},
		},
		{
			name:     "an initialised control plane only joins",
			pools:    []Pool{with(cpPool(2), initialised)},
			machines: []Machine{mach("m0", "cp", 0, StateAllocated), mach("m1", "cp", 1, StateAllocated)},
			want:     []Action{deploy("cp", "m0", 0, RoleControlPlane), deploy("cp", "m1", 1, RoleControlPlane)},
			check: func(t *testing.T, r Result) {
				if r.Pools[0].InitNode != "" {
					t.Errorf("InitNode = %q on an initialised control plane", r.Pools[0].InitNode)
				}
			},
		},
		{
			name:     "the init node failed: released, counted and replaced",
			pools:    []Pool{cpPool(1)},
			machines: []Machine{mach("m0", "cp", 0, StateFailed, initMark)},
			want:     []Action{rel("cp", "m0", 0, ReasonDeployFailed), allocInit("")},
			check: func(t *testing.T, r Result) {
				if !slices.Equal(r.Pools[0].Failed, []string{"m0"}) || r.Pools[0].InitNode != "" {
					t.Errorf("summary = %+v", r.Pools[0])
				}
			},
		},
		{
			name:  "the replacement of a failed init node inits",
			pools: []Pool{cpPool(3)},
			machines: []Machine{
				mach("m3", "cp", 0, StateAllocated), mach("m1", "cp", 1, StateDeploying), mach("m2", "cp", 2, StateDeploying),
			},
			want: []Action{deploy("cp", "m3", 0, RoleInit)},
		},
		{
			name:     "workers deploy as workers",
			pools:    []Pool{workers("w", 2)},
			machines: []Machine{mach("m0", "w", 0, StateAllocated), mach("m1", "w", 1, StateAllocated)},
			want:     []Action{deploy("w", "m0", 0, RoleWorker), deploy("w", "m1", 1, RoleWorker)},
		},
		{
			name:  "a converged cluster has nothing to do",
			pools: []Pool{with(cpPool(3), initialised), workers("w", 1)},
			machines: []Machine{
				mach("m0", "cp", 0, StateDeployed), mach("m1", "cp", 1, StateDeployed), mach("m2", "cp", 2, StateDeployed),
				mach("w0", "w", 0, StateDeployed),
			},
			check: func(t *testing.T, r Result) {
				if !r.Done() || r.Pools[0].Waiting != "" || r.Pools[0].Ready != 3 || r.Pools[1].Ready != 1 {
					t.Errorf("result = %+v", r)
				}
			},
		},
	}
}

func scalingCases() []planCase {
	return []planCase{
		{
			name:     "scale up allocates the missing machines at once",
			pools:    []Pool{workers("w", 4, "a", "b")},
			machines: []Machine{mach("m0", "w", 0, StateDeployed, inZone("a")), mach("m1", "w", 1, StateDeployed, inZone("b"))},
			want:     []Action{alloc("w", 2, "a"), alloc("w", 3, "b")},
		},
		{
			name:  "scale down releases the highest slots",
			pools: []Pool{workers("w", 1)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateDeployed), mach("m2", "w", 2, StateDeployed),
			},
			want: []Action{rel("w", "m2", 2, ReasonSurplus), rel("w", "m1", 1, ReasonSurplus)},
		},
		{
			name:  "scale down prefers machines not deployed yet",
			pools: []Pool{workers("w", 2)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateAllocated), mach("m2", "w", 2, StateDeployed),
			},
			want: []Action{rel("w", "m1", 1, ReasonSurplus)},
		},
		{
			name:  "scale down prefers outdated machines",
			pools: []Pool{with(workers("w", 2), contract)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateDeployed, old), mach("m2", "w", 2, StateDeployed),
			},
			want: []Action{rel("w", "m1", 1, ReasonSurplus)},
		},
		{
			name:  "scale down during an expand-first roll replaces the outdated machine",
			pools: []Pool{workers("w", 2)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateDeployed, old), mach("m2", "w", 2, StateDeployed),
			},
			want: []Action{rel("w", "m1", 1, ReasonOutdated)},
		},
		{
			name:  "scale down prefers machines whose node is not Ready",
			pools: []Pool{with(workers("w", 2), func(p *Pool) { p.NodeReadiness = true })},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, ready), mach("m1", "w", 1, StateDeployed, notReady), mach("m2", "w", 2, StateDeployed, ready),
			},
			want: []Action{rel("w", "m1", 1, ReasonSurplus)},
		},
		{
			name: "scale down skips a Ready machine MinReady protects",
			pools: []Pool{with(workers("w", 3), func(p *Pool) {
				p.Strategy, p.MinReady, p.NodeReadiness = ContractFirst, 2, true
			})},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, old, ready), mach("m1", "w", 1, StateDeployed, ready),
				mach("m2", "w", 2, StateDeployed, notReady), mach("m3", "w", 3, StateDeployed, notReady),
			},
			want: []Action{rel("w", "m3", 3, ReasonSurplus)},
		},
		{
			name:  "scale to zero releases everything not already releasing",
			pools: []Pool{workers("w", 0)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateReleasing), mach("m2", "w", 2, StateDeployed, old),
			},
			want: []Action{rel("w", "m2", 2, ReasonSurplus), rel("w", "m0", 0, ReasonSurplus)},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; !s.Done || s.Releasing != 3 {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:     "the init node of an uninitialised control plane is released last",
			pools:    []Pool{cpPool(1)},
			machines: []Machine{mach("m0", "cp", 0, StateDeploying), mach("m1", "cp", 1, StateDeploying, initMark)},
			want:     []Action{rel("cp", "m0", 0, ReasonSurplus)},
		},
	}
}

func slotCases() []planCase {
	return []planCase{
		{
			name:     "duplicate slot: the deployed machine stays",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed), mach("m1", "w", 0, StateAllocated)},
			want:     []Action{rel("w", "m1", 0, ReasonDuplicateSlot)},
		},
		{
			name:  "duplicate slot: Ready beats Deploying beats Allocated",
			pools: []Pool{workers("w", 2)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed),
				mach("m1", "w", 1, StateAllocated), mach("m2", "w", 1, StateDeploying), mach("m3", "w", 1, StateDeployed),
			},
			want: []Action{rel("w", "m2", 1, ReasonDuplicateSlot), rel("w", "m1", 1, ReasonDuplicateSlot)},
		},
		{
			name:     "duplicate slot: the current template beats an outdated one",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed, old), mach("m1", "w", 0, StateDeployed)},
			want:     []Action{rel("w", "m0", 0, ReasonDuplicateSlot)},
		},
		{
			name:     "duplicate slot: equals keep the lowest system ID",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m1", "w", 0, StateDeployed), mach("m0", "w", 0, StateDeployed)},
			want:     []Action{rel("w", "m1", 0, ReasonDuplicateSlot)},
		},
		{
			name:     "duplicate slot: MinReady keeps both until more are Ready",
			pools:    []Pool{gateway(3, 2)},
			machines: []Machine{mach("m0", "gw", 0, StateDeployed, ready), mach("m1", "gw", 0, StateDeployed, ready)},
			want:     []Action{alloc("gw", 1, "")},
			check: func(t *testing.T, r Result) {
				if !strings.Contains(r.Pools[0].Waiting, "keeping m1 beside m0 in slot 0") {
					t.Errorf("Waiting = %q", r.Pools[0].Waiting)
				}
			},
		},
		{
			name:     "an adopted machine without a slot gets one",
			pools:    []Pool{gateway(1, 1)},
			machines: []Machine{mach("adopted", "gw", NoSlot, StateDeployed, ready)},
			want:     []Action{assign("gw", "adopted", 0)},
			check: func(t *testing.T, r Result) {
				if !r.Pools[0].Done || r.Done() {
					t.Errorf("pool done = %v, result done = %v; want true, false", r.Pools[0].Done, r.Done())
				}
			},
		},
		{
			name:  "machines without a slot take the free ones in system ID order",
			pools: []Pool{workers("w", 3)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("b", "w", NoSlot, StateDeployed), mach("a", "w", NoSlot, StateDeployed),
			},
			want: []Action{assign("w", "a", 1), assign("w", "b", 2)},
		},
		{
			name:     "a surplus machine without a slot is released, not marked",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed), mach("x", "w", NoSlot, StateDeployed)},
			want:     []Action{rel("w", "x", 1, ReasonSurplus)},
		},
	}
}

func failureCases() []planCase {
	return []planCase{
		{
			name:     "a failed deployment is released, counted and replaced in its zone",
			pools:    []Pool{workers("w", 2, "a", "b")},
			machines: []Machine{mach("m0", "w", 0, StateDeployed, inZone("a")), mach("m1", "w", 1, StateFailed, inZone("b"))},
			want:     []Action{rel("w", "m1", 1, ReasonDeployFailed), alloc("w", 1, "b")},
			check: func(t *testing.T, r Result) {
				if !slices.Equal(r.Pools[0].Failed, []string{"m1"}) {
					t.Errorf("Failed = %v", r.Pools[0].Failed)
				}
			},
		},
		{
			name:     "a broken machine is released and replaced, not counted",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateBroken)},
			want:     []Action{rel("w", "m0", 0, ReasonBroken), alloc("w", 0, "")},
			check: func(t *testing.T, r Result) {
				if len(r.Pools[0].Failed) != 0 {
					t.Errorf("Failed = %v", r.Pools[0].Failed)
				}
			},
		},
		{
			name:     "a failed release is retried",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateReleaseFailed)},
			want:     []Action{rel("w", "m1", 1, ReasonReleaseRetry)},
			check: func(t *testing.T, r Result) {
				if !r.Pools[0].Done || r.Done() {
					t.Errorf("pool done = %v, result done = %v; want true, false", r.Pools[0].Done, r.Done())
				}
			},
		},
		{
			name:     "a releasing machine frees its slot",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateReleasing)},
			want:     []Action{alloc("w", 0, "")},
		},
		{
			name:     "machines back in the free pool are ignored",
			pools:    []Pool{workers("w", 1)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed), mach("m1", "w", 0, StateReleased)},
			check: func(t *testing.T, r Result) {
				if !r.Done() {
					t.Errorf("not done: %+v", r.Pools[0])
				}
			},
		},
		{
			name:     "a machine in an unknown state keeps its slot and is waited for",
			pools:    []Pool{workers("w", 2)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed), mach("m1", "w", 1, StateUnknown, status("Rescue mode"))},
			check: func(t *testing.T, r Result) {
				if w := r.Pools[0].Waiting; !strings.Contains(w, `m1 is "Rescue mode" in MAAS`) {
					t.Errorf("Waiting = %q", w)
				}
			},
		},
		{
			name:  "a gateway machine whose node never joined is released and counted",
			pools: []Pool{gateway(3, 2)},
			opts:  Options{Now: t0.Add(30 * time.Minute), JoinTimeout: 20 * time.Minute},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, ready), mach("m1", "gw", 1, StateDeployed, ready),
				mach("m2", "gw", 2, StateDeployed, deployedAt(t0)),
			},
			want: []Action{rel("gw", "m2", 2, ReasonJoinTimeout), alloc("gw", 2, "")},
			check: func(t *testing.T, r Result) {
				if !slices.Equal(r.Pools[0].Failed, []string{"m2"}) {
					t.Errorf("Failed = %v", r.Pools[0].Failed)
				}
			},
		},
		{
			name:  "a node that exists but is not Ready is never timed out",
			pools: []Pool{gateway(3, 2)},
			opts:  Options{Now: t0.Add(30 * time.Minute), JoinTimeout: 20 * time.Minute},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, ready), mach("m1", "gw", 1, StateDeployed, ready),
				mach("m2", "gw", 2, StateDeployed, notReady, deployedAt(t0)),
			},
		},
		{
			name:  "a node still within its join timeout is waited for",
			pools: []Pool{gateway(3, 2)},
			opts:  Options{Now: t0.Add(30 * time.Minute), JoinTimeout: 20 * time.Minute},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, ready), mach("m1", "gw", 1, StateDeployed, ready),
				mach("m2", "gw", 2, StateDeployed, deployedAt(t0.Add(15*time.Minute))),
			},
			check: func(t *testing.T, r Result) {
				if w := r.Pools[0].Waiting; !strings.Contains(w, "waiting for a Ready node") {
					t.Errorf("Waiting = %q", w)
				}
			},
		},
	}
}

func rollingCases() []planCase {
	return []planCase{
		{
			name:  "expand-first starts with one extra machine",
			pools: []Pool{workers("w", 3, "a", "b", "c")},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, old, inZone("a")), mach("m1", "w", 1, StateDeployed, old, inZone("b")),
				mach("m2", "w", 2, StateDeployed, old, inZone("c")),
			},
			want: []Action{alloc("w", 3, "a")},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; s.Outdated != 3 || s.Ready != 0 || s.Available != 3 || s.Done {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:  "expand-first waits for the extra machine",
			pools: []Pool{workers("w", 3, "a", "b", "c")},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, old, inZone("a")), mach("m1", "w", 1, StateDeployed, old, inZone("b")),
				mach("m2", "w", 2, StateDeployed, old, inZone("c")), mach("m3", "w", 3, StateDeploying, inZone("a")),
			},
		},
		{
			name:  "expand-first adds no extra machine while a replacement is under way",
			pools: []Pool{workers("w", 3)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, old), mach("m1", "w", 1, StateDeployed, old), mach("m2", "w", 2, StateDeploying),
			},
		},
		{
			name:  "expand-first releases one outdated machine once the extra one is Ready, and adds the next",
			pools: []Pool{workers("w", 3, "a", "b", "c")},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, old, inZone("a")), mach("m1", "w", 1, StateDeployed, old, inZone("b")),
				mach("m2", "w", 2, StateDeployed, old, inZone("c")), mach("m3", "w", 3, StateDeployed, inZone("a")),
			},
			want: []Action{rel("w", "m0", 0, ReasonOutdated), alloc("w", 0, "b")},
		},
		{
			name:  "expand-first replaces an outdated machine whose node is not Ready first",
			pools: []Pool{gateway(3, 2)},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, old, ready), mach("m1", "gw", 1, StateDeployed, old, notReady),
				mach("m2", "gw", 2, StateDeployed, old, ready), mach("m3", "gw", 3, StateDeployed, ready),
			},
			want: []Action{rel("gw", "m1", 1, ReasonOutdated), alloc("gw", 1, "")},
		},
		{
			name:  "expand-first on a gateway waits for the new node, not just MAAS",
			pools: []Pool{gateway(3, 2)},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, old, ready), mach("m1", "gw", 1, StateDeployed, old, ready),
				mach("m2", "gw", 2, StateDeployed, old, ready), mach("m3", "gw", 3, StateDeployed),
			},
		},
		{
			name:  "contract-first releases one outdated machine and replaces it",
			pools: []Pool{with(workers("w", 3, "a", "b", "c"), contract)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed, old, inZone("a")), mach("m1", "w", 1, StateDeployed, old, inZone("b")),
				mach("m2", "w", 2, StateDeployed, old, inZone("c")),
			},
			want: []Action{rel("w", "m0", 0, ReasonOutdated), alloc("w", 0, "a")},
		},
		{
			name:  "contract-first replaces one machine at a time",
			pools: []Pool{with(workers("w", 3), contract)},
			machines: []Machine{
				mach("m3", "w", 0, StateDeploying), mach("m1", "w", 1, StateDeployed, old), mach("m2", "w", 2, StateDeployed, old),
			},
		},
		{
			name:     "contract-first on a 1-node gateway expands first",
			pools:    []Pool{with(gateway(1, 1), contract)},
			machines: []Machine{mach("m0", "gw", 0, StateDeployed, old, ready)},
			want:     []Action{alloc("gw", 1, "")},
		},
		{
			name:  "contract-first on a 3-node gateway keeps 2 Ready",
			pools: []Pool{with(gateway(3, 2), contract)},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, old, ready), mach("m1", "gw", 1, StateDeployed, old, ready),
				mach("m2", "gw", 2, StateDeployed, old, ready),
			},
			want: []Action{rel("gw", "m0", 0, ReasonOutdated), alloc("gw", 0, "")},
		},
		{
			name:     "outdated machines not deployed yet are released at once",
			pools:    []Pool{workers("w", 2)},
			machines: []Machine{mach("m0", "w", 0, StateAllocated, old), mach("m1", "w", 1, StateDeploying, old)},
			want: []Action{rel("w", "m0", 0, ReasonOutdated), rel("w", "m1", 1, ReasonOutdated),
				alloc("w", 0, ""), alloc("w", 1, "")},
		},
		{
			name:     "a pool of size 0 with outdated machines releases them all",
			pools:    []Pool{workers("w", 0)},
			machines: []Machine{mach("m0", "w", 0, StateDeployed, old), mach("m1", "w", 1, StateDeployed, old)},
			want:     []Action{rel("w", "m1", 1, ReasonSurplus), rel("w", "m0", 0, ReasonSurplus)},
		},
	}
}

func haltingCases() []planCase {
	return []planCase{
		{
			name:  "a halted gateway upgrade stops adding machines",
			pools: []Pool{with(gateway(3, 2), func(p *Pool) { p.Failures, p.MaxFailures = 2, 2 })},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, old, ready), mach("m1", "gw", 1, StateDeployed, old, ready),
				mach("m2", "gw", 2, StateDeployed, old, ready),
			},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; !s.Halted || !strings.Contains(s.Waiting, "halted after 2 consecutive failed deployments") {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:  "a halted pool still releases its failed machine",
			pools: []Pool{with(gateway(3, 2), func(p *Pool) { p.Failures, p.MaxFailures = 2, 2 })},
			machines: []Machine{
				mach("m0", "gw", 0, StateDeployed, old, ready), mach("m1", "gw", 1, StateDeployed, old, ready),
				mach("m2", "gw", 2, StateDeployed, old, ready), mach("m3", "gw", 3, StateFailed),
			},
			want: []Action{rel("gw", "m3", 3, ReasonDeployFailed)},
		},
		{
			name:     "a halted pool deploys nothing",
			pools:    []Pool{with(workers("w", 1), func(p *Pool) { p.Failures = DefaultMaxFailures })},
			machines: []Machine{mach("m0", "w", 0, StateAllocated)},
			check: func(t *testing.T, r Result) {
				if !r.Pools[0].Halted {
					t.Errorf("not halted: %+v", r.Pools[0])
				}
			},
		},
		{
			name:     "below the default limit a pool keeps trying",
			pools:    []Pool{with(workers("w", 1), func(p *Pool) { p.Failures = DefaultMaxFailures - 2 })},
			machines: []Machine{mach("m0", "w", 0, StateFailed)},
			want:     []Action{rel("w", "m0", 0, ReasonDeployFailed), alloc("w", 0, "")},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; s.Failures != DefaultMaxFailures-1 || s.Halted {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:     "the failure that reaches the limit gets no replacement",
			pools:    []Pool{with(workers("w", 1), func(p *Pool) { p.Failures = DefaultMaxFailures - 1 })},
			machines: []Machine{mach("m0", "w", 0, StateFailed)},
			want:     []Action{rel("w", "m0", 0, ReasonDeployFailed)},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; s.Failures != DefaultMaxFailures || !s.Halted {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name: "a failure already counted is not counted again",
			pools: []Pool{with(workers("w", 1), func(p *Pool) {
				p.Failures, p.CountedFailures = DefaultMaxFailures-1, []string{"m0"}
			})},
			machines: []Machine{mach("m0", "w", 0, StateFailed)},
			want:     []Action{rel("w", "m0", 0, ReasonDeployFailed), alloc("w", 0, "")},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; len(s.Failed) != 0 || s.Failures != DefaultMaxFailures-1 {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:     "a pool in shape is not reported halted",
			pools:    []Pool{with(workers("w", 1), func(p *Pool) { p.Failures = 9 })},
			machines: []Machine{mach("m0", "w", 0, StateDeployed)},
			check: func(t *testing.T, r Result) {
				if s := r.Pools[0]; s.Halted || !s.Done {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:  "machines of pools no longer in the spec are released",
			pools: []Pool{workers("w", 1)},
			machines: []Machine{
				mach("m0", "w", 0, StateDeployed), mach("x1", "old", 0, StateDeployed),
				mach("x2", "old", 1, StateReleasing), mach("x3", "gone", 0, StateFailed),
			},
			want: []Action{rel("gone", "x3", 0, ReasonPoolRemoved), rel("old", "x1", 0, ReasonPoolRemoved)},
		},
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			pools := clonePools(tc.pools)
			machines := slices.Clone(tc.machines)
			r, err := Plan(pools, machines, tc.opts)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !reflect.DeepEqual(pools, tc.pools) || !reflect.DeepEqual(machines, tc.machines) {
				t.Errorf("Plan changed its input")
			}
			if got, want := actionsString(r.Actions), actionsString(tc.want); got != want {
				t.Errorf("actions\n got: %s\nwant: %s", got, want)
			} else if !slices.Equal(r.Actions, tc.want) {
				t.Errorf("actions\n got: %#v\nwant: %#v", r.Actions, tc.want)
			}
			if len(r.Pools) != len(tc.pools) {
				t.Fatalf("%d summaries for %d pools", len(r.Pools), len(tc.pools))
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestPlanIgnoresMachineOrder replans every table case with its machines
// shuffled: the plan must not change.
func TestPlanIgnoresMachineOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range planCases() {
		want, err := Plan(tc.pools, tc.machines, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for range 8 {
			ms := slices.Clone(tc.machines)
			rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
			got, err := Plan(tc.pools, ms, tc.opts)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: order %v gives\n%+v\nwant\n%+v", tc.name, ids(ms), got, want)
			}
		}
	}
}

func TestPlanCaseCount(t *testing.T) {
	if n := len(planCases()); n < 40 {
		t.Errorf("only %d table cases", n)
	}
}

func ids(ms []Machine) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.SystemID
	}
	return out
}

func clonePools(ps []Pool) []Pool {
	out := slices.Clone(ps)
	for i := range out {
		out[i].Zones = slices.Clone(ps[i].Zones)
		out[i].CountedFailures = slices.Clone(ps[i].CountedFailures)
	}
	return out
}

func TestPlanRejects(t *testing.T) {
	ok := workers("w", 1)
	tests := []struct {
		name     string
		pools    []Pool
		machines []Machine
		opts     Options
		want     string
	}{
		{"unnamed pool", []Pool{with(ok, func(p *Pool) { p.Name = "" })}, nil, Options{}, "no name"},
		{"pool twice", []Pool{ok, ok}, nil, Options{}, "given twice"},
		{"unknown kind", []Pool{with(ok, func(p *Pool) { p.Kind = "Etcd" })}, nil, Options{}, "unknown kind"},
		{"unknown strategy", []Pool{with(ok, func(p *Pool) { p.Strategy = "Recreate" })}, nil, Options{}, "unknown strategy"},
		{"negative size", []Pool{with(ok, func(p *Pool) { p.Size = -1 })}, nil, Options{}, "negative size"},
		{"minReady above size", []Pool{with(ok, func(p *Pool) { p.MinReady = 2 })}, nil, Options{}, "minReady 2"},
		{"negative failures", []Pool{with(ok, func(p *Pool) { p.Failures = -1 })}, nil, Options{}, "negative failure"},
		{"machine without ID", []Pool{ok}, []Machine{mach("", "w", 0, StateDeployed)}, Options{}, "no system ID"},
		{"machine twice", []Pool{ok}, []Machine{mach("m", "w", 0, StateDeployed), mach("m", "w", 1, StateDeployed)}, Options{}, "given twice"},
		{"bad slot", []Pool{ok}, []Machine{mach("m", "w", -2, StateDeployed)}, Options{}, "invalid slot"},
		{"unparsed state", []Pool{ok}, []Machine{mach("m", "w", 0, "Failed deployment")}, Options{}, "unknown state"},
		{"empty state", []Pool{ok}, []Machine{mach("m", "w", 0, "")}, Options{}, "unknown state"},
		{"negative timeout", []Pool{ok}, nil, Options{JoinTimeout: -time.Second}, "negative join timeout"},
		{"timeout without clock", []Pool{ok}, nil, Options{JoinTimeout: time.Minute}, "needs Options.Now"},
		{"negative unhealthy timeout", []Pool{ok}, nil, Options{UnhealthyTimeout: -time.Second}, "negative unhealthy timeout"},
		{"unhealthy timeout without clock", []Pool{ok}, nil, Options{UnhealthyTimeout: time.Minute}, "needs Options.Now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(tt.pools, tt.machines, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestPlanDelete(t *testing.T) {
	tests := []struct {
		name      string
		machines  []Machine
		want      []Action
		remaining int
		releasing int
		done      bool
	}{
		{name: "nothing left", done: true},
		{
			name: "every state is released, deploying ones directly",
			machines: []Machine{
				mach("a", "w", 1, StateDeploying), mach("b", "w", 0, StateDeployed), mach("c", "cp", 0, StateAllocated),
				mach("d", "cp", 1, StateFailed), mach("e", "cp", 2, StateBroken), mach("f", "w", 2, StateUnknown),
				mach("g", "w", 3, StateReleaseFailed),
			},
			want: []Action{
				rel("cp", "c", 0, ReasonDelete), rel("cp", "d", 1, ReasonDelete), rel("cp", "e", 2, ReasonDelete),
				rel("w", "b", 0, ReasonDelete), rel("w", "a", 1, ReasonDelete), rel("w", "f", 2, ReasonDelete),
				rel("w", "g", 3, ReasonDelete),
			},
			remaining: 7,
		},
		{
			name:      "releasing machines are waited for, not released again",
			machines:  []Machine{mach("a", "w", 0, StateReleasing), mach("b", "w", 1, StateDeployed)},
			want:      []Action{rel("w", "b", 1, ReasonDelete)},
			remaining: 2, releasing: 1,
		},
		{
			name:      "only releasing machines left",
			machines:  []Machine{mach("a", "w", 0, StateReleasing)},
			remaining: 1, releasing: 1,
		},
		{
			name:     "released machines are done",
			machines: []Machine{mach("a", "w", 0, StateReleased), mach("b", "w", 1, StateReleased)},
			done:     true,
		},
		{
			name:      "a machine listed twice is released once",
			machines:  []Machine{mach("a", "w", 0, StateDeployed), mach("a", "w", 0, StateDeployed)},
			want:      []Action{rel("w", "a", 0, ReasonDelete)},
			remaining: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := PlanDelete(tt.machines)
			if got, want := actionsString(d.Actions), actionsString(tt.want); got != want {
				t.Errorf("actions\n got: %s\nwant: %s", got, want)
			}
			if d.Remaining != tt.remaining || d.Releasing != tt.releasing || d.Done() != tt.done {
				t.Errorf("remaining %d releasing %d done %v, want %d %d %v",
					d.Remaining, d.Releasing, d.Done(), tt.remaining, tt.releasing, tt.done)
			}
		})
	}
}
