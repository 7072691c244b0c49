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
	"testing"
	"time"
)

func TestLRU(t *testing.T) {
	now := time.Unix(0, 0)
	c := newLRU(10, func() time.Time { return now })

	c.put("a", "A", 4, 0)
	c.put("b", "B", 4, 0)
	if _, ok := c.get("a"); !ok { // a becomes the most recent
		t.Fatal("a missing")
	}
	c.put("c", "C", 4, 0) // 12 > 10: b, the least recent, goes
	if _, ok := c.get("b"); ok {
		t.Fatal("b should have been evicted")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Fatalf("%s evicted", k)
		}
	}
	if got := c.bytes(); got != 8 {
		t.Fatalf("bytes = %d, want 8", got)
	}

	c.put("big", "X", 11, 0) // larger than the bound: not kept, nothing evicted
	if _, ok := c.get("big"); ok || c.bytes() != 8 {
		t.Fatalf("an entry above the bound was stored (bytes %d)", c.bytes())
	}

	c.put("a", "A2", 2, 0) // replacing frees the old size
	if v, _ := c.get("a"); v != "A2" || c.bytes() != 6 {
		t.Fatalf("replace: %v, bytes %d", v, c.bytes())
	}

	c.put("idx", "I", 1, time.Minute)
	now = now.Add(59 * time.Second)
	if _, ok := c.get("idx"); !ok {
		t.Fatal("expired early")
	}
	now = now.Add(time.Second)
	if _, ok := c.get("idx"); ok || c.bytes() != 6 {
		t.Fatalf("expired entry served or still counted (bytes %d)", c.bytes())
	}

	off := newLRU(-1, time.Now)
	off.put("a", "A", 0, 0)
	if _, ok := off.get("a"); ok {
		t.Fatal("disabled cache stored an entry")
	}
}
