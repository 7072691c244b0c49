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

package v1alpha1

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// MachineSnapshots is what the webhooks read of the operator's shared MAAS
// inventory (maas.Inventory, in the same process): the machines of the
// installation in a cloud account's MAAS, as last polled.
type MachineSnapshots interface {
	Snapshot(account string) (*maas.Snapshot, bool)
}

// checkVIPNotMachine refuses a control-plane endpoint that is the address
// of a machine MAAS reports in the account's inventory: kube-vip would
// answer ARP for an address a deployed machine already has. Without a
// snapshot (no inventory wired, the account not validated or not yet
// polled, or its last poll failed) the VIP is admitted, with a warning
// when an inventory is wired:
// the controller reserves it in MAAS before any machine is allocated, and
// MAAS refuses an address a machine holds (any machine, not only the
// installation's, which is all the inventory lists), so the cluster then
// waits with VIPReserved=False naming the machine.
func checkVIPNotMachine(snaps MachineSnapshots, account string, vip netip.Addr) (field.ErrorList, admission.Warnings) {
	if !vip.IsValid() || snaps == nil {
		return nil, nil
	}
	snap, ok := snaps.Snapshot(account)
	if !ok || snap.PolledAt.IsZero() || snap.Err != nil {
		return nil, admission.Warnings{fmt.Sprintf("the machines of CloudAccount %s could not be checked for control-plane endpoint %s "+
			"(no current inventory); the operator reserves it in MAAS before allocating any machine, and the cluster waits if MAAS refuses it", account, vip)}
	}
	if m, ok := machineWithAddress(snap.Machines(), vip); ok {
		return field.ErrorList{field.Invalid(specPath.Child("controlPlaneEndpoint"), vip.String(),
			fmt.Sprintf("is an address of MAAS machine %s (%s) of CloudAccount %s", m.Hostname, m.SystemID, account))}, nil
	}
	return nil, nil
}

// machineWithAddress finds the machine one of whose addresses is a.
func machineWithAddress(machines []maas.Machine, a netip.Addr) (maas.Machine, bool) {
	for _, m := range machines {
		for _, s := range m.Addresses {
			if b, err := netip.ParseAddr(s); err == nil && b.Unmap() == a.Unmap() {
				return m, true
			}
		}
	}
	return maas.Machine{}, false
}

// accountKey is how the inventory names a CloudAccount (as the
// controllers' AccountKey does).
func accountKey(ca *infrav1alpha1.CloudAccount) string { return ca.Namespace + "/" + ca.Name }
