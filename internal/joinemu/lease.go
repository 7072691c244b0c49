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

package joinemu

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// minLeaseDuration is the kubelet's default node lease duration, which it
// renews every quarter of it.
const minLeaseDuration = 40 * time.Second

// heartbeats renews the Leases of joined Nodes until the runner stops.
func (r *runner) heartbeats() {
	t := time.NewTicker(r.e.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.beat()
		}
	}
}

// beat renews every joined Node's Lease. A Node that is gone, or was
// registered again by another machine, is forgotten: like a kubelet whose
// Node was deleted, the emulator does not bring it back.
func (r *runner) beat() {
	r.hbMu.Lock()
	defer r.hbMu.Unlock()
	for id, j := range r.joined {
		log := r.e.log.WithValues("systemID", id, "node", j.name)
		node := &corev1.Node{}
		err := r.e.c.Get(r.ctx, client.ObjectKey{Name: j.name}, node)
		switch {
		case apierrors.IsNotFound(err) || (err == nil && node.Spec.ProviderID != j.providerID):
			log.Info("node deleted by someone else; no more heartbeats")
			delete(r.joined, id)
			continue
		case err != nil:
			if r.ctx.Err() == nil {
				log.Error(err, "reading node for its heartbeat")
			}
			continue
		}
		if err := r.renewLease(r.ctx, node); err != nil && r.ctx.Err() == nil {
			log.Error(err, "renewing node lease")
		}
	}
}

// renewLease creates or renews node's Lease as its kubelet does, owned by
// the Node so that a real cluster's garbage collector deletes it with the
// Node.
func (r *runner) renewLease(ctx context.Context, node *corev1.Node) error {
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: node.Name}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.e.c, lease, func() error {
		lease.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
		}}
		lease.Spec.HolderIdentity = new(node.Name)
		lease.Spec.LeaseDurationSeconds = new(int32(max(minLeaseDuration, 4*r.e.heartbeat) / time.Second))
		lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("renewing lease %s/%s: %w", corev1.NamespaceNodeLease, node.Name, err)
	}
	return nil
}

func (r *runner) deleteLease(ctx context.Context, name string) error {
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: name}}
	if err := r.e.c.Delete(ctx, lease); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting lease %s/%s: %w", corev1.NamespaceNodeLease, name, err)
	}
	return nil
}
