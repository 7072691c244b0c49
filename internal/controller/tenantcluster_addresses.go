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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// tenantOwner is the owner a TenantCluster's MAAS marks name.
func tenantOwner(tc *infrav1.TenantCluster) maas.Owner {
	return maas.Owner{Kind: tenantKind, Namespace: tc.Namespace, Name: tc.Name, UID: infrav1.IdentityUID(tc)}
}

// holdForVIP reserves the cluster's control-plane endpoint in MAAS before
// anything else happens to it, and records the VIPReserved condition. held
// is true when the reconcile must stop here: the VIP is not the cluster's,
// and the cluster owns no machine yet (one that already has machines goes
// on being looked after, with the condition saying what is wrong).
func (r *TenantClusterReconciler) holdForVIP(ctx context.Context, tc *infrav1.TenantCluster, account string, snap *maas.Snapshot) (ctrl.Result, bool, error) {
	if tc.Spec.ControlPlaneEndpoint == "" {
		return ctrl.Result{}, false, nil
	}
	v := r.vips.ensureVIP(ctx, r.Inventory, account, tenantOwner(tc), tc.Spec.ControlPlaneEndpoint,
		apiDNSName(tc.Name, tc.Spec.Domain))
	setVIPCondition(r.Recorder, tc, &tc.Status.Conditions, tc.Generation, v)
	if v.held {
		return ctrl.Result{}, false, nil
	}
	logf.FromContext(ctx).V(1).Info("control-plane endpoint not held", "vip", tc.Spec.ControlPlaneEndpoint, "reason", v.reason)
	if len(ownedBy(snap, tenantKind, tc)) > 0 {
		return ctrl.Result{}, false, nil
	}
	pending(tc, v.reason, v.message)
	if v.transient {
		return ctrl.Result{}, true, fmt.Errorf("%s", v.message)
	}
	// The holder's deletion or a change in MAAS is not watched: look again.
	return ctrl.Result{RequeueAfter: r.RequeueInterval}, true, nil
}

// releaseAddresses releases what MAAS holds for the cluster (its VIP),
// once its machines are gone. wait is true when deletion must wait (MAAS
// did not answer); the Ready condition then says why.
func (r *TenantClusterReconciler) releaseAddresses(ctx context.Context, tc *infrav1.TenantCluster, account string) (wait bool, err error) {
	if _, ok := r.Inventory.Snapshot(account); !ok {
		// The account is not registered (never validated, or refused
		// since): nothing can be released through it; the sweep releases
		// what is left once it is valid again and the cluster is gone.
		return false, nil
	}
	released, err := releaseReservations(ctx, r.Inventory, account, tenantOwner(tc))
	r.vips.forget(infrav1.IdentityUID(tc))
	r.pools.forget(infrav1.IdentityUID(tc))
	for _, what := range released {
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "AddressReleased", "Release", "released %s in MAAS: the cluster is deleted", what)
	}
	if err != nil {
		setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, "Deleting",
			"every machine is released; deletion waits for MAAS to release the cluster's reserved addresses: "+err.Error())
		return true, err
	}
	return false, nil
}

// forceReleaseAddresses releases the cluster's reservations on force
// delete, once, without waiting: it returns what to add to the force-delete
// message (what was released, or what may be left for the sweep).
func (r *TenantClusterReconciler) forceReleaseAddresses(ctx context.Context, tc *infrav1.TenantCluster, account string) string {
	if account == "" {
		return ""
	}
	if _, ok := r.Inventory.Snapshot(account); !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, forceReleaseTimeout)
	defer cancel()
	released, err := releaseReservations(ctx, r.Inventory, account, tenantOwner(tc))
	r.vips.forget(infrav1.IdentityUID(tc))
	r.pools.forget(infrav1.IdentityUID(tc))
	var b strings.Builder
	if len(released) > 0 {
		fmt.Fprintf(&b, "; released in MAAS: %s", strings.Join(released, ", "))
	}
	if err != nil {
		fmt.Fprintf(&b, "; addresses reserved for the cluster may be left in MAAS (%v); the CloudAccount's sweep releases them once the cluster is gone", err)
	}
	return b.String()
}

// forceReleaseTimeout bounds the release of addresses on force delete,
// which is asked for when MAAS is in trouble.
const forceReleaseTimeout = 10 * time.Second
