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
	"math"
	"sync"
	"time"
)

// releaseRetries (nil: none) spaces the releases asked again of a machine whose
// release MAAS keeps failing: a machine whose BMC does not answer fails
// every power-off, and each release asked again is a MAAS request, an
// event and a status write. The first is asked at once; each further one
// waits as the capacity backoff does (doubling from base up to max: both
// wait on MAAS). In memory only, like capacityBackoff: after a restart
// the next one is asked at once, so a restart can make it sooner, never
// later.
type releaseRetries struct {
	// base and max are the first and the longest wait; zero takes the
	// capacity backoff's defaults.
	base, max time.Duration

	mu    sync.Mutex
	tried map[string]releaseRetry // by system ID
}

// releaseRetry is one machine's releases asked again in a row.
type releaseRetry struct {
	count int
	next  time.Time
}

// due says whether machine id's release may be asked again at now, and
// otherwise when it may.
func (b *releaseRetries) due(id string, now time.Time) (bool, time.Time) {
	if b == nil {
		return true, time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tried[id]
	if !ok || !now.Before(t.next) {
		return true, time.Time{}
	}
	return false, t.next
}

// asked records that machine id's release was asked again at now, and
// returns how many times in a row and when the next may be. Records of
// machines not asked for in twice the longest wait are dropped: they are
// no longer followed (released, or their owner gone).
func (b *releaseRetries) asked(id string, now time.Time) (int, time.Time) {
	if b == nil {
		return 1, now
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tried == nil {
		b.tried = map[string]releaseRetry{}
	}
	stale := 2 * doubling(math.MaxInt32, b.base, b.max) // twice the longest wait
	for k, t := range b.tried {
		if now.Sub(t.next) > stale {
			delete(b.tried, k)
		}
	}
	t := b.tried[id]
	t.count++
	t.next = now.Add(doubling(t.count, b.base, b.max))
	b.tried[id] = t
	return t.count, t.next
}

// forget drops machine id's record: MAAS has it back, or it is gone.
func (b *releaseRetries) forget(id string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.tried, id)
}
