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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
)

// pausedByAnnotation reports whether obj carries AnnotationPaused (any
// value: presence pauses, as Cluster API's paused annotation does).
func pausedByAnnotation(obj metav1.Object) bool {
	_, ok := obj.GetAnnotations()[infrav1.AnnotationPaused]
	return ok
}

// pause says whether, and why, a reconciler leaves an object alone.
type pause struct {
	paused  bool
	reason  string
	message string
}

// pauseOf is the pause an object's own annotation asks for.
func pauseOf(obj metav1.Object) pause {
	if !pausedByAnnotation(obj) {
		return pause{}
	}
	return pause{true, infrav1.ReasonPausedByAnnotation,
		fmt.Sprintf("annotation %s is set: nothing is changed in MAAS or the cluster until it is removed", infrav1.AnnotationPaused)}
}

// pausedCondition sets the Paused condition for p and reports whether it
// changed. An object never paused gets no condition at all; one resumed
// keeps Paused False, so that whoever paused it sees that it was resumed.
func pausedCondition(conds *[]metav1.Condition, generation int64, p pause) bool {
	old := meta.FindStatusCondition(*conds, infrav1.ConditionPaused)
	switch {
	case p.paused:
		if old != nil && old.Status == metav1.ConditionTrue && old.Reason == p.reason && old.Message == p.message {
			return false
		}
		setCondition(conds, generation, infrav1.ConditionPaused, metav1.ConditionTrue, p.reason, p.message)
	case old == nil || old.Status == metav1.ConditionFalse:
		return false
	default:
		setCondition(conds, generation, infrav1.ConditionPaused, metav1.ConditionFalse, infrav1.ReasonResumed,
			"the object is reconciled again")
	}
	return true
}

// syncPaused records p in obj's Paused condition (conds is obj's) and
// writes the status when it changed; it reports whether obj is paused, in
// which case the reconcile stops there: no MAAS request, no finalizer work,
// no other write. The write of a resume goes first, so the reconcile that
// follows starts from a status that says so. writes, when not nil, learns
// of the write (the controllers that wait for their cache).
func syncPaused(ctx context.Context, c client.Client, obj client.Object, conds *[]metav1.Condition, p pause, writes *ownWrites) (bool, error) {
	if pausedCondition(conds, obj.GetGeneration(), p) {
		rv := obj.GetResourceVersion()
		if err := c.Status().Update(ctx, obj); err != nil {
			return p.paused, fmt.Errorf("recording the Paused condition: %w", err)
		}
		if writes != nil {
			writes.wrote(client.ObjectKeyFromObject(obj), rv, obj.GetResourceVersion())
		}
	}
	if p.paused {
		logf.FromContext(ctx).V(1).Info("paused: nothing done", "reason", p.reason)
	}
	return p.paused, nil
}

// pauseOf is the pause of a CloudAccount: its own annotation, or its
// Gateway's. A paused Gateway is an installation being moved: the accounts
// bound to it must not sweep orphans either, or the side being left would
// release machines whose owners now live on the other side (and look gone
// from here). A Gateway that cannot be read does not pause the account;
// validation reports it.
func (r *CloudAccountReconciler) pauseOf(ctx context.Context, account *infrav1.CloudAccount) pause {
	if p := pauseOf(account); p.paused {
		return p
	}
	gw := &infrav1.Gateway{}
	if err := r.Get(ctx, dependents.GatewayOf(account), gw); err == nil && pausedByAnnotation(gw) {
		return pause{true, infrav1.ReasonGatewayPaused,
			fmt.Sprintf("Gateway %s is paused (annotation %s): nothing is swept or validated until it is resumed",
				dependents.GatewayOf(account), infrav1.AnnotationPaused)}
	}
	return pause{}
}
