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
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cacheLagRequeue is how soon a reconcile that found its object older than
// its own last write looks again: the watch normally brings that write into
// the cache within milliseconds, and the controllers' predicates filter the
// write's own event out, so nothing else would bring the object back.
const cacheLagRequeue = 50 * time.Millisecond

// ownWrites remembers which versions of its objects a controller has
// written over, until its cache shows a later one. A controller reads its
// objects from the cache and skips a status write when the status it
// computes equals the one it read; right after its own write the cache may
// still hold the version that write replaced, so "equal" would be judged
// against a status the API server no longer has, and the write that mattered
// would be skipped for good (make chaos: clusters left Pending after a
// restore from backup, once their CloudAccount was Ready again). Only
// resourceVersion equality is used: versions are opaque, never ordered.
type ownWrites struct {
	mu sync.Mutex
	// replaced holds, by object, the resourceVersions this controller's
	// writes replaced since the cache last showed the object.
	replaced map[types.NamespacedName][]string
}

// wrote records that a successful write replaced version rv of key with
// version now. A write that changed nothing keeps its version (the API
// server does not bump it): recording that one would wait for a newer
// version that may never come.
func (w *ownWrites) wrote(key types.NamespacedName, rv, now string) {
	if rv == "" || rv == now {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.replaced == nil {
		w.replaced = map[types.NamespacedName][]string{}
	}
	if !slices.Contains(w.replaced[key], rv) {
		w.replaced[key] = append(w.replaced[key], rv)
	}
}

// behind reports whether obj, as read from the cache, is a version one of
// this controller's writes already replaced. Once a later version is read
// the record is dropped: the cache has caught up.
func (w *ownWrites) behind(obj client.Object) bool {
	key := client.ObjectKeyFromObject(obj)
	w.mu.Lock()
	defer w.mu.Unlock()
	rvs, ok := w.replaced[key]
	if !ok {
		return false
	}
	if slices.Contains(rvs, obj.GetResourceVersion()) {
		return true
	}
	delete(w.replaced, key)
	return false
}

// forget drops what is known of key (the object is gone).
func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.replaced, key)
}
