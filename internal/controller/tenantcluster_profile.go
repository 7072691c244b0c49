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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// loadProfile puts the profile tc is built from into tc.Spec.Profile, in
// memory only: the rest of the reconcile reads the cluster as it is to be
// built, whether its profile is its own or a ClusterProfile. It returns the
// revision loaded, or nil when spec.profileRef names no ClusterProfile (yet).
// r.update never writes the loaded profile back (see specForUpdate).
func (r *TenantClusterReconciler) loadProfile(ctx context.Context, tc *infrav1.TenantCluster) (*infrav1.AppliedProfile, error) {
	ref := tc.Spec.ProfileRef
	if ref == nil {
		if tc.Spec.Profile == nil {
			// The schema refuses this; a cluster written around it gets an
			// empty profile, which renders no node.
			tc.Spec.Profile = &infrav1.ClusterProfileSpec{}
		}
		return &infrav1.AppliedProfile{Revision: tc.Generation, KubernetesVersion: tc.Spec.Profile.KubernetesVersion}, nil
	}
	cp := &infrav1.ClusterProfile{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: ref.Name}, cp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading ClusterProfile %s/%s: %w", tc.Namespace, ref.Name, err)
	}
	tc.Spec.Profile = cp.Spec.DeepCopy()
	return &infrav1.AppliedProfile{Name: cp.Name, Revision: cp.Generation, KubernetesVersion: cp.Spec.KubernetesVersion}, nil
}

// lastKnownProfile is what a cluster whose ClusterProfile is gone is known
// to run, from status: enough to reach its API server (drains during
// deletion), not to build a machine.
func lastKnownProfile(tc *infrav1.TenantCluster) *infrav1.ClusterProfileSpec {
	p := &infrav1.ClusterProfileSpec{}
	if tc.Status.Profile != nil {
		p.KubernetesVersion = tc.Status.Profile.KubernetesVersion
	}
	return p
}

// specForUpdate undoes loadProfile on tc before tc is written, and returns
// what puts it back: a cluster that names a ClusterProfile must not have the
// profile's copy written into its spec.
func specForUpdate(tc *infrav1.TenantCluster) (restore func()) {
	if tc.Spec.ProfileRef == nil || tc.Spec.Profile == nil {
		return func() {}
	}
	loaded := tc.Spec.Profile
	tc.Spec.Profile = nil
	return func() { tc.Spec.Profile = loaded }
}

// setProfileResolved records whether the profile tc names exists.
func setProfileResolved(tc *infrav1.TenantCluster, found bool) {
	if found {
		setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantProfileResolved, metav1.ConditionTrue, infrav1.ReasonResolved, "")
		return
	}
	msg := fmt.Sprintf("waiting for ClusterProfile %s/%s: nothing is provisioned until it exists", tc.Namespace, tc.Spec.ProfileRef.Name)
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantProfileResolved, metav1.ConditionFalse, infrav1.ReasonProfileNotFound, msg)
	if len(tc.Status.Machines) == 0 {
		pending(tc, infrav1.ReasonProfileNotFound, msg)
		return
	}
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonProfileNotFound,
		msg+"; the machines are left as they are")
}
