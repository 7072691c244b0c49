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
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func TestLeavingMAASState(t *testing.T) {
	for _, tt := range []struct {
		state string
		want  bool
	}{
		{stateReleasing, true},
		{"Disk erasing", true},
		{"Releasing failed", true},
		{"Failed disk erasing", true},
		{"Ready", true},
		{"Deployed", false},
		{"Deploying", false},
		{"Failed deployment", false},
		{"Allocated", false},
		{"", false},
	} {
		if got := leavingMAASState(tt.state); got != tt.want {
			t.Errorf("leavingMAASState(%q) = %v, want %v", tt.state, got, tt.want)
		}
	}
}

// TestRetainNamesNoReleasingNode: status.nodes keeps the machines the
// gateway released until MAAS has them back; a Gateway deleted meanwhile
// must not say they stay deployed.
func TestRetainNamesNoReleasingNode(t *testing.T) {
	rec := events.NewFakeRecorder(1)
	r := &GatewayReconciler{Recorder: rec}
	node := func(id, state string, adopted bool) infrav1.GatewayNode {
		return infrav1.GatewayNode{MachineStatus: infrav1.MachineStatus{SystemID: id, State: state}, Adopted: adopted}
	}
	gw := &infrav1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw"}}
	gw.Status.Nodes = []infrav1.GatewayNode{
		node("adopted", "Deployed", true),
		node("kept", "Deployed", false),
		node("leaving", stateReleasing, false),
		node("failed", "Releasing failed", false),
	}
	r.retain(context.Background(), gw)
	e := <-rec.Events
	if !strings.Contains(e, "machines kept stay deployed") {
		t.Errorf("event %q does not name the deployed machine", e)
	}
	for _, id := range []string{"adopted", "leaving", "failed"} {
		if strings.Contains(e, "machines "+id) || strings.Contains(e, ", "+id) {
			t.Errorf("event %q names %s as kept", e, id)
		}
	}
}
