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
	"strings"
	"testing"
	"time"
)

// TestRollingUpdateInvariants rolls full pools of every size and kind with
// both strategies, all machines moving at once or one at a time, with and
// without a failed deployment, checking the roll's invariants at every step.
func TestRollingUpdateInvariants(t *testing.T) {
	for _, strategy := range []Strategy{ExpandFirst, ContractFirst} {
		for _, size := range []int{1, 3, 5} {
			for _, kind := range []string{"workers", "gateway"} {
				for _, tickOne := range []bool{false, true} {
					for _, fails := range []int{0, 1, 2} {
						name := fmt.Sprintf("%s/%s-%d/one-at-a-time=%v/fails=%d", strategy, kind, size, tickOne, fails)
						t.Run(name, func(t *testing.T) {
							p := workers("w", size, "a", "b", "c")
							if kind == "gateway" {
								p = gateway(size, max(1, size-1))
							}
							p.Strategy = strategy
							s := newSim(t, uint64(size*10+fails), p)
							s.tickOne = tickOne
							s.full(p, "old")
							s.guardRoll(p.Name)
							s.failNext[p.Name] = fails
							s.run(200)
							s.converged()
							s.zonesBalanced(p.Name)
							for i := range size {
								if id := fmt.Sprintf("%s-%d", p.Name, i); !s.released[id] {
									t.Errorf("outdated %s never released", id)
								}
							}
							if s.halts != 0 {
								t.Errorf("halted %d times with %d failures", s.halts, fails)
							}
						})
					}
				}
			}
		}
	}
}

// TestGatewayUpgradeHalts: the gateway upgrade stops after its second failed
// deployment, with every old node still Ready, and resumes when the count is reset.
func TestGatewayUpgradeHalts(t *testing.T) {
	for _, size := range []int{1, 3} {
		for _, strategy := range []Strategy{ExpandFirst, ContractFirst} {
			t.Run(fmt.Sprintf("%d-%s", size, strategy), func(t *testing.T) {
				p := gateway(size, max(1, size-1))
				p.Strategy, p.MaxFailures = strategy, 2
				s := newSim(t, 7, p)
				s.full(p, "old")
				s.guardRoll(p.Name)
				s.failNext[p.Name] = 2
				var r Result
				for range 20 {
					if r = s.step(); r.Pools[0].Halted {
						break
					}
					s.tick()
				}
				if !r.Pools[0].Halted || r.Pools[0].Failures != 2 {
					t.Fatalf("not halted after 2 failures: %+v\n%s", r.Pools[0], s.dump())
				}
				if s.seq != 2 {
					t.Errorf("%d machines allocated, want 2 (no third attempt)", s.seq)
				}
				for range 3 {
					s.tick()
					if r = s.step(); len(r.Actions) != 0 {
						t.Fatalf("a halted pool acts: %s", actionsString(r.Actions))
					}
				}
				if c := s.counts(s.pool("gw")); c.ready < p.MinReady || c.outdated < size-1 {
					t.Errorf("after halting: %+v", c)
				}
				// The operator fixes the cause and resets the count.
				s.pool("gw").Failures = 0
				s.run(100)
				s.converged()
			})
		}
	}
}

func TestGatewayResizeOneToThree(t *testing.T) {
	s := newSim(t, 3, gateway(1, 1))
	s.full(gateway(1, 1), "new")
	gw := s.pool("gw")
	gw.Size, gw.MinReady = 3, 2
	s.floor["gw"], s.ceiling["gw"] = 1, 3
	s.run(20)
	s.converged()
	if s.trace[0] != "+gw/1@ +gw/2@" {
		t.Errorf("first plan %q: both new nodes must be allocated at once", s.trace[0])
	}
}

// TestProvisioning creates tenant clusters from nothing: everything is
// allocated in the first plan and deployed in the second, exactly one
// control-plane machine inits, and zones are balanced.
func TestProvisioning(t *testing.T) {
	for _, cp := range []int{1, 3, 5} {
		for _, tickOne := range []bool{false, true} {
			t.Run(fmt.Sprintf("cp=%d/one-at-a-time=%v", cp, tickOne), func(t *testing.T) {
				pools := []Pool{cpPool(cp, "a", "b", "c"), workers("w1", 4, "a", "b"), workers("w2", 2)}
				s := newSim(t, uint64(cp), pools...)
				s.tickOne = tickOne
				s.run(200)
				s.converged()
				for _, p := range pools {
					s.zonesBalanced(p.Name)
				}
				if got := strings.Count(s.trace[0], "+"); got != cp+6 {
					t.Errorf("first plan allocates %d machines, want %d: %s", got, cp+6, s.trace[0])
				}
				if got := strings.Count(s.trace[1], "deploy"); got != cp+6 {
					t.Errorf("second plan deploys %d machines, want %d: %s", got, cp+6, s.trace[1])
				}
				if s.initDeploys["cp"] != 1 {
					t.Errorf("%d init deploys, want 1", s.initDeploys["cp"])
				}
				if !s.pool("cp").Initialised {
					t.Errorf("control plane never initialised")
				}
			})
		}
	}
}

func TestProvisioningInitNodeFails(t *testing.T) {
	s := newSim(t, 5, cpPool(3))
	s.failNext["cp"] = 1 // the first deployment to finish is n01's, slot 0: the init node
	s.run(50)
	s.converged()
	if s.initDeploys["cp"] != 2 {
		t.Errorf("%d init deploys, want 2 (the replacement inits)", s.initDeploys["cp"])
	}
	if !strings.Contains(strings.Join(s.trace, " "), "-n01(deployment failed) +cp/0@") {
		t.Errorf("trace %q", s.trace)
	}
}

// TestJoinTimeout: a new gateway machine whose node never appears is
// released and counted like a failed deployment, and the upgrade goes on.
func TestJoinTimeout(t *testing.T) {
	p := gateway(3, 2)
	s := newSim(t, 9, p)
	s.opts = Options{JoinTimeout: 5 * time.Minute}
	s.full(p, "old")
	s.guardRoll("gw")
	s.joinFailNext["gw"] = 1
	for range 100 {
		s.opts.Now = s.now
		if s.step().Done() {
			break
		}
		s.tick()
	}
	s.converged()
	if !strings.Contains(strings.Join(s.trace, " "), "-n01(node never joined)") {
		t.Errorf("trace %q", s.trace)
	}
	if s.pool("gw").Failures != 0 {
		t.Errorf("failures not reset by the next success: %d", s.pool("gw").Failures)
	}
}

func TestDeletionLoop(t *testing.T) {
	s := newSim(t, 11)
	s.add(
		mach("a", "cp", 0, StateDeployed), mach("b", "cp", 1, StateDeploying), mach("c", "cp", 2, StateAllocated),
		mach("d", "w", 0, StateFailed), mach("e", "w", 1, StateReleasing), mach("f", "w", 2, StateUnknown),
		mach("g", "w", 3, StateReleased), mach("h", "w", 4, StateBroken),
	)
	s.relFailBudget, s.relFailProb = 2, 1
	releases := 0
	for range 20 {
		d := PlanDelete(s.observe())
		if d.Done() {
			if len(s.ms) != 1 || s.ms["g"] == nil {
				t.Fatalf("done with machines left:\n%s", s.dump())
			}
			// Six released once, two of them again after their release failed; e never.
			if releases != 8 {
				t.Errorf("%d releases, want 8", releases)
			}
			return
		}
		releases += len(d.Actions)
		s.apply(Result{Actions: d.Actions})
		s.tick()
	}
	t.Fatalf("deletion not done:\n%s", s.dump())
}
