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

// DeleteResult is a deletion plan.
type DeleteResult struct {
	// Actions are the releases to issue now, sorted by pool, slot, system ID.
	Actions []Action
	// Remaining counts machines not yet back in MAAS's free pool.
	Remaining int
	// Releasing counts those already on their way.
	Releasing int
}

// Done reports whether every machine is released.
func (d DeleteResult) Done() bool { return d.Remaining == 0 }

// PlanDelete plans the deletion of a cluster: every machine not yet
// releasing is released, whatever its state (Deploying included: see the
// package documentation); releasing machines are waited for; machines back
// in the free pool are done. A machine listed twice is released once.
func PlanDelete(machines []Machine) DeleteResult {
	var d DeleteResult
	seen := make(map[string]bool, len(machines))
	for _, i := range sortedOrder(machines) {
		m := &machines[i]
		if seen[m.SystemID] || m.State == StateReleased {
			continue
		}
		seen[m.SystemID] = true
		d.Remaining++
		if m.State == StateReleasing {
			d.Releasing++
			continue
		}
		d.Actions = append(d.Actions, releaseOf(m, ReasonDelete))
	}
	return d
}
