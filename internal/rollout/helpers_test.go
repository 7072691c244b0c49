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
	"time"
)

// t0 is an arbitrary fixed instant: tests never read the clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type machineOpt func(*Machine)

func inZone(z string) machineOpt      { return func(m *Machine) { m.Zone = z } }
func onTemplate(t string) machineOpt  { return func(m *Machine) { m.Template = t } }
func withNode(n NodeState) machineOpt { return func(m *Machine) { m.Node = n } }
func initMark(m *Machine)             { m.Init = true }
func deployedAt(at time.Time) machineOpt {
	return func(m *Machine) { m.DeployedAt = at }
}
func sickSince(at time.Time) machineOpt {
	return func(m *Machine) { m.Node, m.UnhealthySince = NodeNotReady, at }
}
func status(s string) machineOpt { return func(m *Machine) { m.Status = s } }

// mach builds a machine on template "new".
func mach(id, pool string, slot int, st State, opts ...machineOpt) Machine {
	m := Machine{SystemID: id, Pool: pool, Slot: slot, Template: "new", State: st, Status: string(st)}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func alloc(pool string, slot int, zone string) Action {
	return Action{Kind: ActionAllocate, Pool: pool, Slot: slot, Zone: zone}
}

// allocInit is the allocation, for slot 0 of control plane "cp", of the
// machine that will initialise it.
func allocInit(zone string) Action {
	a := alloc("cp", 0, zone)
	a.Role = RoleInit
	return a
}

func deploy(pool, id string, slot int, role Role) Action {
	return Action{Kind: ActionDeploy, Pool: pool, SystemID: id, Slot: slot, Role: role}
}

func rel(pool, id string, slot int, reason Reason) Action {
	return Action{Kind: ActionRelease, Pool: pool, SystemID: id, Slot: slot, Reason: reason}
}

func assign(pool, id string, slot int) Action {
	return Action{Kind: ActionAssignSlot, Pool: pool, SystemID: id, Slot: slot}
}

func show(a Action) string {
	switch a.Kind {
	case ActionAllocate:
		return fmt.Sprintf("+%s/%d@%s", a.Pool, a.Slot, a.Zone)
	case ActionDeploy:
		return fmt.Sprintf("deploy %s as %s", a.SystemID, a.Role)
	case ActionRelease:
		return fmt.Sprintf("-%s(%s)", a.SystemID, a.Reason)
	case ActionAssignSlot:
		return fmt.Sprintf("%s=%s/%d", a.SystemID, a.Pool, a.Slot)
	}
	return fmt.Sprintf("%#v", a)
}

func actionsString(as []Action) string {
	if len(as) == 0 {
		return "-"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = show(a)
	}
	return strings.Join(s, " ")
}
