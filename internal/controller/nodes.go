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

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// NodeRemover takes a Node out of the gateway cluster before its machine is
// released: cordon, drain through the eviction API (PodDisruptionBudgets
// respected), then removal. A real cluster's removal also takes the node's
// etcd member out (kubeadm reset on the node, or the etcd API); that part is
// behind this interface so the controller does not depend on how.
type NodeRemover interface {
	// RemoveNode returns an error wrapping errWaiting while a
	// PodDisruptionBudget keeps a pod on the node: the caller retries later.
	RemoveNode(ctx context.Context, node *corev1.Node) error
}

// DrainingNodeRemover cordons and drains a Node, then deletes the Node object.
type DrainingNodeRemover struct {
	Client client.Client
	// Reader lists the node's pods without a cache (pods are not cached).
	Reader client.Reader
	// Evicter evicts once per call; nil means through Client, whose client-go
	// retries a PodDisruptionBudget's 429 Retry-After inside the call.
	Evicter workload.Evicter
	// RemoveMember takes the node out of the control plane (etcd) once it is
	// drained; nil when nothing beyond deleting the Node is needed.
	RemoveMember func(ctx context.Context, node *corev1.Node) error
}

// RemoveNode implements NodeRemover.
func (d DrainingNodeRemover) RemoveNode(ctx context.Context, node *corev1.Node) error {
	if !node.Spec.Unschedulable {
		patch := client.MergeFrom(node.DeepCopy())
		node.Spec.Unschedulable = true
		if err := d.Client.Patch(ctx, node, patch); err != nil {
			return fmt.Errorf("cordoning %s: %w", node.Name, client.IgnoreNotFound(err))
		}
	}
	pods := &corev1.PodList{}
	if err := d.Reader.List(ctx, pods, client.MatchingFields{"spec.nodeName": node.Name}); err != nil {
		return fmt.Errorf("listing the pods of %s: %w", node.Name, err)
	}
	blocked := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if !workload.MovedByDrain(p) {
			continue
		}
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
		var err error
		if d.Evicter != nil {
			err = d.Evicter.Evict(ctx, ev)
		} else {
			err = d.Client.SubResource("eviction").Create(ctx, p, ev)
		}
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsTooManyRequests(err):
			blocked++ // a PodDisruptionBudget says not now
		default:
			return fmt.Errorf("evicting %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	if blocked > 0 {
		return fmt.Errorf("%d pods on %s wait for their PodDisruptionBudgets: %w", blocked, node.Name, errWaiting)
	}
	if d.RemoveMember != nil {
		if err := d.RemoveMember(ctx, node); err != nil {
			return fmt.Errorf("removing %s from the control plane: %w", node.Name, err)
		}
	}
	return client.IgnoreNotFound(d.Client.Delete(ctx, node))
}
