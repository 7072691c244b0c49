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
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/maas-gateway/maas-gateway/internal/maas"
)

const (
	// DefaultCapacityBackoff is how long a pool waits after MAAS first
	// answers that no machine matches it; each further answer doubles the
	// wait, up to DefaultCapacityBackoffMax. Every allocate that finds
	// nothing is a search of MAAS's machines under its allocation lock.
	DefaultCapacityBackoff    = 30 * time.Second
	DefaultCapacityBackoffMax = 10 * time.Minute
)

// capacityBackoff remembers, per object, pool and constraint set, that
// MAAS had no machine for it and when to ask again. It lives in memory
// only: after a restart every pool asks at once, so a restart can make
// the next attempt sooner, never later.
type capacityBackoff struct {
	// base and max are the first and the longest wait; zero takes the defaults.
	base, max time.Duration

	mu    sync.Mutex
	waits map[capacityKey]*capacityWait
}

// capacityKey names what was asked: a changed constraint set (or zone) is
// another key, so a spec change asks again at once.
type capacityKey struct {
	object      types.NamespacedName
	uid         types.UID
	pool        string
	zone        string
	constraints string
}

// capacityWait is one pool's state after NoCapacity answers in a row.
type capacityWait struct {
	// answers counts MAAS's NoCapacity answers in a row.
	answers int
	// last is when MAAS last answered; next is when to ask again.
	last, next time.Time
	// why is MAAS's last answer.
	why         string
	constraints maas.Constraints
}

// message is what status says of the pool while it waits.
func (w capacityWait) message() string {
	return fmt.Sprintf("%s; next attempt at %s (NoCapacity %d time(s) in a row; sooner when a matching machine is released)",
		w.why, w.next.UTC().Format(time.RFC3339), w.answers)
}

// newCapacityKey is the key of pool's allocations under c. The zone is kept
// apart: a pool spread over zones waits for each on its own, and a change
// of its other constraints drops the waits of every zone.
func newCapacityKey(object types.NamespacedName, uid types.UID, pool string, c maas.Constraints) capacityKey {
	zone := c.Zone
	c.Zone = ""
	b, _ := json.Marshal(c)
	return capacityKey{object: object, uid: uid, pool: pool, zone: zone, constraints: string(b)}
}

// hold says whether the pool of k must not ask MAAS now: MAAS said
// NoCapacity, the wait has not passed, and returned (the machines MAAS got
// back since a moment, Snapshot.ReturnedSince; nil for none) shows none
// that would match. A pool that is not held may ask.
func (b *capacityBackoff) hold(k capacityKey, now time.Time, returned func(time.Time) []maas.Machine) (capacityWait, bool) {
	if b == nil {
		return capacityWait{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.waits[k]
	if !ok || !now.Before(w.next) {
		return capacityWait{}, false
	}
	if returned != nil {
		for _, m := range returned(w.last) {
			if m.Satisfies(w.constraints) {
				// Capacity came back: ask now, and start the backoff anew
				// should MAAS still have nothing (someone else took it).
				delete(b.waits, k)
				return capacityWait{}, false
			}
		}
	}
	return *w, true
}

// noCapacity records MAAS's NoCapacity answer for k at now and returns the
// wait it starts. Waits for the same pool under other constraints are
// dropped: they no longer describe the spec.
func (b *capacityBackoff) noCapacity(k capacityKey, c maas.Constraints, now time.Time, why string) capacityWait {
	if b == nil {
		return capacityWait{why: why, last: now, next: now}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waits == nil {
		b.waits = map[capacityKey]*capacityWait{}
	}
	b.dropOthersLocked(k)
	w, ok := b.waits[k]
	if !ok {
		w = &capacityWait{}
		b.waits[k] = w
	}
	w.answers++
	w.last, w.why, w.constraints = now, why, c
	w.next = now.Add(b.delay(w.answers))
	return *w
}

// allocated forgets k's wait: MAAS had a machine.
func (b *capacityBackoff) allocated(k capacityKey) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.waits, k)
}

// forget drops every wait of an object (it is gone).
func (b *capacityBackoff) forget(object types.NamespacedName) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.waits {
		if k.object == object {
			delete(b.waits, k)
		}
	}
}

// dropOthersLocked drops the waits of k's pool under other constraints,
// or of an earlier object of the same name.
func (b *capacityBackoff) dropOthersLocked(k capacityKey) {
	for o := range b.waits {
		if o.object == k.object && (o.uid != k.uid || o.pool == k.pool && o.constraints != k.constraints) {
			delete(b.waits, o)
		}
	}
}

// delay is the wait after n NoCapacity answers in a row.
func (b *capacityBackoff) delay(n int) time.Duration { return doubling(n, b.base, b.max) }

// doubling is the wait after n refusals in a row: base after the first,
// twice the wait before after each further one, never more than maxDelay
// (zero base and maxDelay take the capacity backoff's defaults).
func doubling(n int, base, maxDelay time.Duration) time.Duration {
	if base <= 0 {
		base = DefaultCapacityBackoff
	}
	if maxDelay <= 0 {
		maxDelay = DefaultCapacityBackoffMax
	}
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}
