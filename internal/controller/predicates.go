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
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// lostState passes the updates that take away what the operator keeps on
// its objects: a finalizer removed by hand, or a status wiped (a restore
// from backup carries none). The controllers filter their own status writes
// out by generation, so without this neither would be put back until the
// object's spec changed.
func lostState() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if !slices.Equal(e.ObjectOld.GetFinalizers(), e.ObjectNew.GetFinalizers()) {
				return true
			}
			return observedGeneration(e.ObjectNew) == 0 && observedGeneration(e.ObjectOld) != 0
		},
	}
}

func observedGeneration(o client.Object) int64 {
	switch o := o.(type) {
	case *infrav1.Gateway:
		return o.Status.ObservedGeneration
	case *infrav1.TenantCluster:
		return o.Status.ObservedGeneration
	case *infrav1.CloudAccount:
		return o.Status.ObservedGeneration
	}
	return -1
}
