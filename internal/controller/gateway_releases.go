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
	"time"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// withReleasingNodes is status.nodes: nodes (the adopted and owned ones),
// and the machines the gateway released (an upgrade, a resize, a failed
// deployment replaced) until MAAS has them back, each released again
// should MAAS fail its release (followReleases). Without this a gateway
// machine whose release failed stayed out of MAAS's pool, owned by
// nobody. The records of the released machines come from status.nodes as
// this reconcile found it, which holds them across restarts; adopted
// nodes are not the gateway's to release. releasing is whether any is
// still on its way back.
func (r *GatewayReconciler) withReleasingNodes(ctx context.Context, gw *infrav1.Gateway, key string, latest *maas.Snapshot,
	nodes []infrav1.GatewayNode, released []string) (out []infrav1.GatewayNode, releasing bool, err error) {
	was := make([]infrav1.MachineStatus, 0, len(gw.Status.Nodes))
	for _, n := range gw.Status.Nodes {
		if !n.Adopted {
			was = append(was, n.MachineStatus)
		}
	}
	recs, err := followReleases(ctx, r.Inventory, r.Recorder, releasedBy{
		owner:   maas.Owner{Kind: gatewayKind, Namespace: gw.Namespace, Name: gw.Name, UID: infrav1.IdentityUID(gw)},
		account: key,
		object:  gw,
		comment: fmt.Sprintf("maas-gateway: retrying the release of a node of Gateway %s/%s", gw.Namespace, gw.Name),
		retries: &r.releaseRetries, now: time.Now(),
	}, latest, was, ownedBy(latest, gatewayKind, gw), released)
	for _, m := range recs {
		nodes = append(nodes, infrav1.GatewayNode{MachineStatus: m})
	}
	slices.SortFunc(nodes, func(a, b infrav1.GatewayNode) int { return strings.Compare(a.SystemID, b.SystemID) })
	return nodes, len(recs) > 0, err
}

// leavingMAASState reports whether a machine in this MAAS state (or
// stateReleasing) is on its way back to MAAS's free pool.
func leavingMAASState(state string) bool {
	switch rollout.ParseState(state) {
	case rollout.StateReleasing, rollout.StateReleaseFailed, rollout.StateReleased:
		return true
	}
	return false
}
