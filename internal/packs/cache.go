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

package packs

import (
	"container/list"
	"sync"
	"time"
)

// lru is a byte-bounded least-recently-used cache. Entries may expire
// (repository indexes) or not (chart archives, immutable once a version is
// published). Sizes are what the caller says an entry costs.
type lru struct {
	mu    sync.Mutex
	limit int64
	used  int64
	order *list.List // front = most recently used
	items map[string]*list.Element
	now   func() time.Time
}

type lruEntry struct {
	key     string
	value   any
	size    int64
	expires time.Time // zero = never
}

func newLRU(limit int64, now func() time.Time) *lru {
	return &lru{limit: limit, order: list.New(), items: map[string]*list.Element{}, now: now}
}

func (c *lru) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*lruEntry)
	if !e.expires.IsZero() && !c.now().Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.value, true
}

// put stores value unless it alone exceeds the bound; ttl 0 never expires.
func (c *lru) put(key string, value any, size int64, ttl time.Duration) {
	if size < 0 || size > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	e := &lruEntry{key: key, value: value, size: size}
	if ttl > 0 {
		e.expires = c.now().Add(ttl)
	}
	c.items[key] = c.order.PushFront(e)
	c.used += size
	for c.used > c.limit {
		c.remove(c.order.Back())
	}
}

func (c *lru) remove(el *list.Element) {
	e := el.Value.(*lruEntry)
	c.order.Remove(el)
	delete(c.items, e.key)
	c.used -= e.size
}

func (c *lru) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
