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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
)

// Recorder records events.k8s.io/v1 Events; the manager's GetEventRecorder
// provides one.
type Recorder = events.EventRecorder

// maxConditionMessage keeps condition messages within what the API accepts
// (32 KiB) with room to spare, and readable in kubectl describe.
const maxConditionMessage = 1024

// setCondition sets one condition, moving lastTransitionTime only when the
// status changes (meta.SetStatusCondition's rule).
func setCondition(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) {
	if len(message) > maxConditionMessage {
		message = message[:maxConditionMessage-3] + "..."
	}
	if reason == "" {
		reason = string(status)
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             reason,
		Message:            message,
	})
}

// maasUnreachable is the message of a condition that waits for MAAS to answer.
func maasUnreachable(err error) string {
	return "MAAS does not answer, so no machine is allocated or released until it does (retried at each poll): " + err.Error()
}
