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

	"k8s.io/apimachinery/pkg/types"

	"github.com/maas-gateway/maas-gateway/internal/workload"
)

func TestOrphanMembersWaitOutTheirGrace(t *testing.T) {
	var o orphanMembers
	key := types.NamespacedName{Namespace: "ns", Name: "tc"}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	a, b := workload.Member{ID: 1}, workload.Member{ID: 2}
	const grace = time.Minute

	steps := []struct {
		at      time.Duration
		orphans []workload.Member
		due     []uint64
		wait    time.Duration
	}{
		{0, []workload.Member{a}, nil, time.Minute},
		{30 * time.Second, []workload.Member{a, b}, nil, 30 * time.Second},
		{time.Minute, []workload.Member{a, b}, []uint64{1}, 30 * time.Second},
		// a found its machine again: forgotten, and its grace starts over.
		{70 * time.Second, []workload.Member{b}, nil, 20 * time.Second},
		{80 * time.Second, []workload.Member{a, b}, nil, 10 * time.Second},
		{90 * time.Second, []workload.Member{a, b}, []uint64{2}, 50 * time.Second},
		{2 * time.Minute, nil, nil, 0},
	}
	for i, s := range steps {
		due, wait := o.due(key, s.orphans, t0.Add(s.at), grace)
		var ids []uint64
		for _, m := range due {
			ids = append(ids, m.ID)
		}
		if len(ids) != len(s.due) || (len(ids) > 0 && ids[0] != s.due[0]) || wait != s.wait {
			t.Errorf("step %d (%s): due %v wait %s, want %v wait %s", i, s.at, ids, wait, s.due, s.wait)
		}
	}
	if len(o.since) != 0 {
		t.Errorf("a cluster with no orphan is still remembered: %v", o.since)
	}
}
