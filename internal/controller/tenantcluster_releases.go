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

package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// pendingReleases follows the machines a live cluster released (a rolling
// update, a scale-down, a failed deployment replaced) until MAAS has them
// back, and releases again those whose release MAAS failed: see
// followReleases. was is status.machines before this reconcile.
func (r *TenantClusterReconciler) pendingReleases(ctx context.Context, tc *infrav1.TenantCluster, account string, latest *maas.Snapshot,
	was []infrav1.MachineStatus, owned []maas.Machine, released []string) ([]infrav1.MachineStatus, error) {
	return followReleases(ctx, r.Inventory, r.Recorder, releasedBy{
		owner:   maas.Owner{Kind: tenantKind, Namespace: tc.Namespace, Name: tc.Name, UID: infrav1.IdentityUID(tc)},
		account: account,
		object:  tc,
		comment: fmt.Sprintf("maas-gateway: retrying the release of a machine of TenantCluster %s/%s", tc.Namespace, tc.Name),
		retries: &r.releaseRetries, now: r.now(),
	}, latest, was, owned, released)
}

// withReleasing is status.machines: the owned machines' records, then as
// many of the released ones as status has room for, sorted by system ID.
// Beyond that bound a released machine is followed in memory only: a
// restart then forgets it, should its release fail.
func withReleasing(owned, releasing []infrav1.MachineStatus) []infrav1.MachineStatus {
	if room := maxStatusMachines - len(owned); len(releasing) > room {
		releasing = releasing[:max(room, 0)]
	}
	if len(releasing) == 0 {
		return owned
	}
	out := append(owned, releasing...)
	slices.SortFunc(out, func(a, b infrav1.MachineStatus) int { return strings.Compare(a.SystemID, b.SystemID) })
	return out
}
