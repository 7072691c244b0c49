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
	"math/rand/v2"
	"testing"
	"time"
)

// randomCluster builds a random cluster: pools of every kind and strategy,
// and machines in random states, slots (duplicates and missing ones
// included), templates, zones and node states, some of a pool that is gone.
func randomCluster(rng *rand.Rand) ([]Pool, []Machine) {
	zonesOf := func() []string {
		return []string{"a", "b", "c"}[:rng.IntN(4)]
	}
	strategy := func() Strategy {
		return []Strategy{"", ExpandFirst, ContractFirst}[rng.IntN(3)]
	}
	var pools []Pool
	if rng.IntN(2) == 0 {
		pools = append(pools, Pool{Name: "cp", Kind: KindControlPlane, Size: []int{1, 3, 5}[rng.IntN(3)],
			Zones: zonesOf(), Template: "new", Strategy: strategy(), Initialised: rng.IntN(2) == 0})
	}
	for i := range rng.IntN(4) {
		p := Pool{Name: fmt.Sprintf("w%d", i), Kind: KindWorker, Size: rng.IntN(7), Zones: zonesOf(),
			Template: "new", Strategy: strategy()}
		if rng.IntN(3) == 0 {
			p.NodeReadiness = true
			p.MinReady = rng.IntN(p.Size + 1)
		}
		pools = append(pools, p)
	}
	if rng.IntN(3) == 0 {
		size := []int{1, 3}[rng.IntN(2)]
		pools = append(pools, Pool{Name: "gw", Kind: KindControlPlane, Size: size, Template: "new",
			Strategy: strategy(), MinReady: max(1, size-1), NodeReadiness: true, Initialised: true})
	}
	for i := range pools {
		pools[i].MaxFailures = []int{0, 2, 4}[rng.IntN(3)]
	}
	states := []State{StateAllocated, StateDeploying, StateDeployed, StateDeployed, StateDeployed,
		StateFailed, StateBroken, StateReleasing, StateReleaseFailed, StateReleased, StateUnknown}
	var machines []Machine
	add := func(pool string, size int) {
		for range rng.IntN(size + 4) {
			m := Machine{
				SystemID: fmt.Sprintf("r%03d", len(machines)), Pool: pool, Slot: rng.IntN(size + 3),
				Zone: []string{"a", "b", "c", "x"}[rng.IntN(4)], Template: []string{"new", "old"}[rng.IntN(2)],
				State: states[rng.IntN(len(states))], Node: NodeState(rng.IntN(3)),
				Init: pool == "cp" && rng.IntN(8) == 0,
			}
			if rng.IntN(10) == 0 {
				m.Slot = NoSlot
			}
			machines = append(machines, m)
		}
	}
	for _, p := range pools {
		add(p.Name, p.Size)
	}
	if rng.IntN(3) == 0 {
		add("gone", 2)
	}
	return pools, machines
}

// TestConvergesFromRandomStates runs the plan-act-tick loop from random
// states with random faults (failed deployments, failed releases, nodes that
// never join) until it converges, checking at every step that MinReady
// holds, that allocations never take a pool past its size (plus one while
// rolling expand-first), that deployed machines are rolled one at a time,
// that no machine is released twice nor a slot given twice, that at most one
// machine inits a control plane, and that plans ignore the order of machines.
func TestConvergesFromRandomStates(t *testing.T) {
	seeds := make([]uint64, 200)
	for i := range seeds {
		seeds[i] = uint64(i*7919 + 1)
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			pools, machines := randomCluster(rng)
			s := newSim(t, seed, pools...)
			s.add(machines...)
			s.tickOne = rng.IntN(2) == 0
			s.failBudget, s.failProb = rng.IntN(4), 0.25
			s.relFailBudget, s.relFailProb = rng.IntN(3), 0.3
			for _, p := range pools {
				if p.NodeReadiness && rng.IntN(2) == 0 {
					s.opts.JoinTimeout = 5 * time.Minute
					s.joinFailNext[p.Name] = 1
				}
			}
			converged := false
			for range 3000 {
				s.opts.Now = s.now
				r := s.step()
				if r.Done() {
					converged = true
					break
				}
				for i, sum := range r.Pools {
					if sum.Halted {
						// The operator fixes the cause and resets the count.
						s.pools[i].Failures = 0
					}
				}
				s.tick()
			}
			if !converged {
				t.Fatalf("not converged\n%s", s.dump())
			}
			s.converged()
		})
	}
}
