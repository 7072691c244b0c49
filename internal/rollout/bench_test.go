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
)

// benchCluster is a cluster in the middle of a rolling update: each pool has
// its size deployed, half of it outdated, one extra machine deploying and one
// failed deployment, in shuffled order.
func benchCluster(pools, size int) ([]Pool, []Machine) {
	ps := make([]Pool, 0, pools)
	ms := make([]Machine, 0, pools*(size+2))
	zones := []string{"a", "b", "c"}
	for i := range pools {
		p := workers(fmt.Sprintf("w%d", i), size, zones...)
		if i == 0 && size <= 5 {
			p = with(cpPool(size, zones...), initialised)
		}
		ps = append(ps, p)
		for slot := range size + 2 {
			m := mach(fmt.Sprintf("%s-%04d", p.Name, slot), p.Name, slot, StateDeployed, inZone(zones[slot%3]))
			switch {
			case slot == size:
				m.State = StateDeploying
			case slot == size+1:
				m.State = StateFailed
			case slot%2 == 0:
				m.Template = "old"
			}
			ms = append(ms, m)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	return ps, ms
}

func BenchmarkPlan(b *testing.B) {
	for _, bc := range []struct {
		name        string
		pools, size int
	}{
		{"5-pool-cluster", 5, 5},
		{"1000-machines-10-pools", 10, 98},
		{"1000-machines-1-pool", 1, 998},
	} {
		pools, machines := benchCluster(bc.pools, bc.size)
		b.Run(fmt.Sprintf("%s/%d-machines", bc.name, len(machines)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Plan(pools, machines, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
