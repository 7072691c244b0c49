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
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// DefaultOrphanMemberGrace is how long an etcd member no machine accounts
// for is left alone before it is removed: a kubeadm join adds its member
// moments before MAAS and the cluster show the machine everywhere.
const DefaultOrphanMemberGrace = 2 * time.Minute

// DefaultWorkloadCheckInterval is how often a tenant cluster at rest is
// looked at inside: one etcd member list and one status call per member,
// well inside the per-tenant request budget (DESIGN §6).
const DefaultWorkloadCheckInterval = 5 * time.Minute

// orphanMembers remembers since when each etcd member was seen with no
// machine of its cluster to account for it. In memory: after a restart the
// grace starts again, which only delays a removal.
type orphanMembers struct {
	mu    sync.Mutex
	since map[types.NamespacedName]map[uint64]time.Time
}

// due records the orphans of cluster key seen now and returns those
// orphaned for at least grace, and how long until the next of the others
// is (0 when none waits); members no longer orphaned are forgotten.
func (o *orphanMembers) due(key types.NamespacedName, orphans []workload.Member, now time.Time, grace time.Duration) ([]workload.Member, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since == nil {
		o.since = map[types.NamespacedName]map[uint64]time.Time{}
	}
	seen := o.since[key]
	next := make(map[uint64]time.Time, len(orphans))
	var out []workload.Member
	var wait time.Duration
	for _, m := range orphans {
		t, ok := seen[m.ID]
		if !ok {
			t = now
		}
		next[m.ID] = t
		if left := grace - now.Sub(t); left <= 0 {
			out = append(out, m)
		} else if wait == 0 || left < wait {
			wait = left
		}
	}
	if len(next) == 0 {
		delete(o.since, key)
	} else {
		o.since[key] = next
	}
	return out, wait
}

func (o *orphanMembers) forget(key types.NamespacedName) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.since, key)
}

// removeOrphanMembers removes the etcd members that no control-plane
// machine of tc accounts for (by Node name, hostname or address) once they
// have been so for the grace period: a join that failed after adding its
// member, or a crash between removing a machine's member and releasing it
// the other way round, leaves one behind, and a learner left over blocks
// every later join (etcd admits one learner at a time). Cluster API leaves
// these to people (its issue 13221). Removal keeps quorum like any other.
// It returns how soon to look again for an orphan still in its grace.
func (r *TenantClusterReconciler) removeOrphanMembers(ctx context.Context, tc *infrav1.TenantCluster, owned []maas.Machine, v *workloadView) time.Duration {
	if v == nil || v.members == nil {
		return 0
	}
	key := types.NamespacedName{Namespace: tc.Namespace, Name: tc.Name}
	grace := r.OrphanMemberGrace
	if grace <= 0 {
		grace = DefaultOrphanMemberGrace
	}
	due, wait := r.orphans.due(key, workload.Orphans(v.members, controlPlaneMachines(owned, v)), time.Now(), grace)
	if len(due) == 0 {
		return wait
	}
	cl, err := r.tenantConnection(ctx, tc)
	if err != nil {
		return wait
	}
	log := logf.FromContext(ctx)
	ctx, cancel := context.WithTimeout(ctx, 2*etcdObserveTimeout)
	defer cancel()
	etcd, err := cl.Etcd(ctx, controlPlaneAddresses(owned), time.Now())
	if err != nil {
		log.Info("cannot reach etcd to remove orphaned members", "error", err.Error())
		return wait
	}
	defer func() { _ = etcd.Close() }()
	for _, m := range due {
		if err := etcd.RemoveMember(ctx, m.ID); err != nil {
			log.Info("an orphaned etcd member stays for now", "member", m.Name, "id", fmt.Sprintf("%x", m.ID), "error", err.Error())
			continue
		}
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "EtcdMemberRemoved", "RemoveMember",
			"removed etcd member %s (%x, peer %s): no machine of the cluster accounts for it", memberName(m), m.ID, strings.Join(m.PeerURLs, ","))
	}
	return wait
}

// controlPlaneMachines are tc's control-plane machines (whatever their
// MAAS state: a machine still deploying may already have a member), for
// workload.Orphans.
func controlPlaneMachines(owned []maas.Machine, v *workloadView) []workload.MemberMachine {
	var out []workload.MemberMachine
	for _, m := range owned {
		if m.Owner == nil || m.Owner.Pool != infrav1.ControlPlanePoolName {
			continue
		}
		out = append(out, memberMachine(m, workload.NodeFor(v.nodes, workload.Machine{SystemID: m.SystemID, Hostname: m.Hostname})))
	}
	return out
}

func memberName(m workload.Member) string {
	if m.Name != "" {
		return m.Name
	}
	return "(not started)"
}
