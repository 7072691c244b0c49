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
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func TestMachineNewsGoesFirst(t *testing.T) {
	news := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], name string) {
		tc := &infrav1.TenantCluster{}
		tc.Namespace, tc.Name = "ns", name
		machineNews().Generic(context.Background(), event.GenericEvent{Object: tc}, q)
	}
	req := func(name string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}
	}

	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	for _, name := range []string{"new-1", "new-2", "new-3"} {
		q.Add(req(name))
	}
	news(q, "deploying")
	if got, _ := q.Get(); got != req("deploying") {
		t.Fatalf("first out of the queue: %v, want the cluster whose machines changed", got)
	}

	// A queue without priorities still gets the request.
	plain := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer plain.ShutDown()
	news(plain, "deploying")
	if got, _ := plain.Get(); got != req("deploying") {
		t.Fatalf("plain queue: %v", got)
	}
}
