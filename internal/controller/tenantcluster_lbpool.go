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
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// ensureLoadBalancerPool reserves spec.loadBalancer in MAAS as a reserved
// range marked with the installation and the cluster, and records it in
// status and condition LoadBalancerPoolReserved. MAAS's answer decides
// (ReserveRange returns the range the cluster already holds), so a restart
// or a wiped status finds the same range; once held, this process does not
// ask again. The machines never wait for it: only the pack it is handed to.
func (r *TenantClusterReconciler) ensureLoadBalancerPool(ctx context.Context, tc *infrav1.TenantCluster, account string) {
	lb := tc.Spec.LoadBalancer
	if lb == nil {
		tc.Status.LoadBalancer = nil
		meta.RemoveStatusCondition(&tc.Status.Conditions, infrav1.ConditionLoadBalancerPoolReserved)
		return
	}
	if st := tc.Status.LoadBalancer; st != nil && r.pools.holds(infrav1.IdentityUID(tc), account, st.Start+"-"+st.End) {
		return
	}
	fail := func(reason, msg string) {
		setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionLoadBalancerPoolReserved, metav1.ConditionFalse, reason, msg)
	}
	owner := tenantOwner(tc)
	subnet := lb.Subnet
	if subnet == "" {
		all, err := r.Inventory.Reservations(ctx, account)
		if err != nil {
			fail(infrav1.ReasonPoolReservationFailed, "listing the cluster's reservations in MAAS: "+err.Error())
			return
		}
		for _, res := range all.Of(owner) {
			if res.Marks.Purpose == maas.PurposeVIP {
				subnet = res.SubnetCIDR
			}
		}
		if subnet == "" {
			fail(infrav1.ReasonPoolNoSubnet, "waiting for the control-plane endpoint's reservation, whose subnet the pool is taken from")
			return
		}
	}
	res, err := r.Inventory.ReserveRange(ctx, account, maas.RangeRequest{Owner: owner, Purpose: maas.PurposeLoadBalancer,
		Subnet: subnet, Start: lb.Start, End: lb.End, Count: int(lb.Addresses)})
	if err != nil {
		fail(poolReason(err), "reserving the LoadBalancer pool in MAAS: "+err.Error())
		return
	}
	tc.Status.LoadBalancer = &infrav1.LoadBalancerStatus{Start: res.Start.String(), End: res.End.String(), Subnet: res.SubnetCIDR}
	r.pools.remember(infrav1.IdentityUID(tc), account, res.Start.String()+"-"+res.End.String())
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionLoadBalancerPoolReserved, metav1.ConditionTrue, infrav1.ReasonPoolReserved,
		fmt.Sprintf("%d addresses %s-%s reserved in MAAS on subnet %s", res.Size(), res.Start, res.End, res.SubnetCIDR))
}

// poolReason is the condition reason of a failed range reservation.
func poolReason(err error) string {
	var me *maas.Error
	if !errors.As(err, &me) {
		return infrav1.ReasonPoolReservationFailed
	}
	switch me.Reason {
	case maas.ReasonRangeOverlap:
		return infrav1.ReasonPoolTaken
	case maas.ReasonSubnetFull:
		return infrav1.ReasonPoolSubnetFull
	case maas.ReasonNoSubnet:
		return infrav1.ReasonPoolNoSubnet
	}
	return infrav1.ReasonPoolReservationFailed
}

// withLoadBalancerRange sets the cluster's reserved range ("first-last") at
// the pool's valuesKey in the values of the pack it is handed to; an error
// while the range is not reserved yet, so that the pack waits.
func withLoadBalancerRange(tc *infrav1.TenantCluster, pack string, values map[string]any) error {
	lb := tc.Spec.LoadBalancer
	if lb == nil || lb.Pack != pack {
		return nil
	}
	st := tc.Status.LoadBalancer
	if st == nil {
		return errors.New("waiting for the LoadBalancer pool to be reserved in MAAS (condition LoadBalancerPoolReserved)")
	}
	key := lb.ValuesKey
	if key == "" {
		key = "loadBalancerRange"
	}
	path := strings.Split(key, ".")
	m := values
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = st.Start + "-" + st.End
	return nil
}
