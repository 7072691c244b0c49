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
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func TestPausedCondition(t *testing.T) {
	paused := pauseOf(&metav1.ObjectMeta{Annotations: map[string]string{infrav1.AnnotationPaused: ""}})
	byGateway := pause{true, infrav1.ReasonGatewayPaused, "gateway paused"}
	cond := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: infrav1.ConditionPaused, Status: status, Reason: reason}}
	}
	for _, tc := range []struct {
		name       string
		conds      []metav1.Condition
		p          pause
		changed    bool
		wantStatus metav1.ConditionStatus // "" no condition
		wantReason string
	}{
		{"never paused: no condition", nil, pause{}, false, "", ""},
		{"paused by its annotation (any value)", nil, paused, true, metav1.ConditionTrue, infrav1.ReasonPausedByAnnotation},
		{"paused again: nothing to write", []metav1.Condition{{Type: infrav1.ConditionPaused, Status: metav1.ConditionTrue,
			Reason: paused.reason, Message: paused.message}}, paused, false, metav1.ConditionTrue, infrav1.ReasonPausedByAnnotation},
		{"paused for another reason", cond(metav1.ConditionTrue, infrav1.ReasonPausedByAnnotation), byGateway, true,
			metav1.ConditionTrue, infrav1.ReasonGatewayPaused},
		{"resumed", cond(metav1.ConditionTrue, infrav1.ReasonPausedByAnnotation), pause{}, true, metav1.ConditionFalse, infrav1.ReasonResumed},
		{"resumed before: nothing to write", cond(metav1.ConditionFalse, infrav1.ReasonResumed), pause{}, false,
			metav1.ConditionFalse, infrav1.ReasonResumed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conds := tc.conds
			if got := pausedCondition(&conds, 1, tc.p); got != tc.changed {
				t.Errorf("changed = %v, want %v", got, tc.changed)
			}
			c := meta.FindStatusCondition(conds, infrav1.ConditionPaused)
			switch {
			case tc.wantStatus == "" && c != nil:
				t.Errorf("condition %+v, want none", c)
			case tc.wantStatus != "" && (c == nil || c.Status != tc.wantStatus || c.Reason != tc.wantReason):
				t.Errorf("condition %+v, want %s %s", c, tc.wantStatus, tc.wantReason)
			}
		})
	}
	if p := pauseOf(&metav1.ObjectMeta{}); p.paused {
		t.Errorf("an object without the annotation is paused: %+v", p)
	}
}
