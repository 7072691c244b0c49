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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func TestOwnWrites(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "tc"}
	read := func(rv string) *infrav1.TenantCluster {
		return &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: rv}}
	}
	type step struct {
		wrote  string // a write replaced this version ("" for none)
		noop   bool   // the write changed nothing: the version stays
		read   string // then the cache shows this version
		behind bool
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"never written", []step{{read: "1", behind: false}}},
		{"the cache still shows what the write replaced", []step{{wrote: "1", read: "1", behind: true}}},
		{"the cache shows the write", []step{{wrote: "1", read: "2", behind: false}}},
		{"caught up once, trusted from then on", []step{
			{wrote: "1", read: "1", behind: true}, {read: "2", behind: false}, {read: "1", behind: false},
		}},
		{"two writes in one reconcile (finalizer, then status): both replaced versions are stale", []step{
			{wrote: "1"}, {wrote: "2", read: "1", behind: true}, {read: "2", behind: true}, {read: "3", behind: false},
		}},
		{"someone else wrote after us: a later version is current", []step{{wrote: "1", read: "7", behind: false}}},
		{"a write that changed nothing keeps its version: nothing to wait for", []step{{wrote: "1", noop: true, read: "1", behind: false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var w ownWrites
			for i, s := range tt.steps {
				if s.wrote != "" {
					now := s.wrote + "+"
					if s.noop {
						now = s.wrote
					}
					w.wrote(key, s.wrote, now)
				}
				if s.read == "" {
					continue
				}
				if got := w.behind(read(s.read)); got != s.behind {
					t.Errorf("step %d: behind(rv %s) = %v, want %v", i, s.read, got, s.behind)
				}
			}
		})
	}

	t.Run("forget: a deleted object's record goes", func(t *testing.T) {
		var w ownWrites
		w.wrote(key, "1", "2")
		w.forget(key)
		if w.behind(read("1")) {
			t.Error("behind after forget")
		}
	})
	t.Run("other objects are not affected", func(t *testing.T) {
		var w ownWrites
		w.wrote(key, "1", "2")
		other := read("1")
		other.Name = "other"
		if w.behind(other) {
			t.Error("another object of the same resourceVersion is behind")
		}
	})
}
