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
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// gatewayOwner is the owner a Gateway's MAAS marks name.
func gatewayOwner(gw *infrav1.Gateway) maas.Owner {
	return maas.Owner{Kind: gatewayKind, Namespace: gw.Namespace, Name: gw.Name, UID: infrav1.IdentityUID(gw)}
}

// holdGatewayVIP reserves the gateway's control-plane endpoint in MAAS,
// the same way as a TenantCluster's, and records the VIPReserved
// condition. It returns the actions the gateway may take: while the VIP
// is not the gateway's, no machine is allocated or deployed (the nodes it
// has are still looked after: drains, releases, adoption).
func (r *GatewayReconciler) holdGatewayVIP(ctx context.Context, gw *infrav1.Gateway, account string, actions []rollout.Action) []rollout.Action {
	if gw.Spec.ControlPlaneEndpoint == "" {
		meta.RemoveStatusCondition(&gw.Status.Conditions, infrav1.ConditionVIPReserved)
		return actions
	}
	v := r.vips.ensureVIP(ctx, r.Inventory, account, gatewayOwner(gw), gw.Spec.ControlPlaneEndpoint,
		apiDNSName(gw.Name, gw.Spec.Placement.Domain))
	setVIPCondition(r.Recorder, gw, &gw.Status.Conditions, gw.Generation, v)
	if v.held {
		return actions
	}
	return slices.DeleteFunc(actions, func(a rollout.Action) bool {
		return a.Kind == rollout.ActionAllocate || a.Kind == rollout.ActionDeploy
	})
}

// releaseGatewayAddresses releases what MAAS holds for the gateway (its
// VIP) once its machines are released. An account the inventory does not
// hold (never validated) has nothing of the gateway's to release.
func (r *GatewayReconciler) releaseGatewayAddresses(ctx context.Context, gw *infrav1.Gateway, account string) error {
	if _, ok := r.Inventory.Snapshot(account); !ok {
		return nil
	}
	released, err := releaseReservations(ctx, r.Inventory, account, gatewayOwner(gw))
	r.vips.forget(infrav1.IdentityUID(gw))
	for _, what := range released {
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "AddressReleased", "Release", "released %s in MAAS: the gateway is deleted", what)
	}
	return err
}
