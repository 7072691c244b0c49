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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestPlanKubeconfig(t *testing.T) {
	const year = 365 * 24 * time.Hour
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		validity time.Duration
		found    bool
		ours     bool
		notAfter time.Time
		want     kubeconfigPlan
	}{
		{"no Secret", year, false, false, time.Time{}, kubeconfigPlan{write: ReasonKubeconfigCreated}},
		{"not a kubeconfig the operator signed", year, true, false, now.Add(year), kubeconfigPlan{write: ReasonKubeconfigRewritten}},
		{"just signed: renewed at two thirds", year, true, true, now.Add(year),
			kubeconfigPlan{renewAt: now.Add(year - year/3)}},
		{"a second more than a third left", year, true, true, now.Add(year/3 + time.Second),
			kubeconfigPlan{renewAt: now.Add(time.Second)}},
		{"exactly a third left", year, true, true, now.Add(year / 3), kubeconfigPlan{write: ReasonKubeconfigRenewed}},
		{"a day left", year, true, true, now.Add(24 * time.Hour), kubeconfigPlan{write: ReasonKubeconfigRenewed}},
		{"expired", year, true, true, now.Add(-time.Hour), kubeconfigPlan{write: ReasonKubeconfigRenewed}},
		{"signed for a year, validity now 30 days", 30 * 24 * time.Hour, true, true, now.Add(year - time.Hour),
			kubeconfigPlan{write: ReasonKubeconfigRenewed}},
		{"a replica's clock a little behind", year, true, true, now.Add(year + 30*time.Second),
			kubeconfigPlan{renewAt: now.Add(year + 30*time.Second - year/3)}},
		{"seconds, as tests use", 9 * time.Second, true, true, now.Add(8 * time.Second),
			kubeconfigPlan{renewAt: now.Add(5 * time.Second)}},
		{"seconds, due", 9 * time.Second, true, true, now.Add(3 * time.Second), kubeconfigPlan{write: ReasonKubeconfigRenewed}},
		{"zero validity means a year, not renewal at every look", 0, true, true, now.Add(year - time.Hour),
			kubeconfigPlan{renewAt: now.Add(year - time.Hour - year/3)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := planKubeconfig(now, tt.validity, tt.found, tt.ours, tt.notAfter)
			if got.write != tt.want.write || !got.renewAt.Equal(tt.want.renewAt) {
				t.Errorf("planKubeconfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRenewalRequeue(t *testing.T) {
	const validity = 9 * time.Second
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }
	for _, tt := range []struct {
		name      string
		result    ctrl.Result
		expiresAt *metav1.Time
		want      time.Duration
	}{
		{"no kubeconfig yet", ctrl.Result{}, nil, 0},
		{"no other requeue: at the renewal", ctrl.Result{}, at(9 * time.Second), 6 * time.Second},
		{"a later requeue is brought forward", ctrl.Result{RequeueAfter: time.Minute}, at(9 * time.Second), 6 * time.Second},
		{"a sooner requeue is kept", ctrl.Result{RequeueAfter: time.Second}, at(9 * time.Second), time.Second},
		{"due but not renewed by this reconcile: its own requeue", ctrl.Result{RequeueAfter: 30 * time.Second}, at(2 * time.Second), 30 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := renewalRequeue(tt.result, now, validity, tt.expiresAt); got.RequeueAfter != tt.want {
				t.Errorf("RequeueAfter = %s, want %s", got.RequeueAfter, tt.want)
			}
		})
	}
}
