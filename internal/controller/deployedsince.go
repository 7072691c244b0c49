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
	"sync"
	"time"

	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// deployedSince remembers when this process first saw each machine
// Deployed: the start of its join timeout. MAAS keeps no such time, and
// bare-metal boots are slow, so the clock starts at Deployed, not at
// allocation. It lives in memory: after a restart the clock starts again,
// which can only delay a remediation, never hasten one.
type deployedSince struct {
	mu    sync.Mutex
	since map[string]time.Time
}

// at returns when m was first seen Deployed, or zero while it is not.
func (d *deployedSince) at(m maas.Machine, now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.since == nil {
		d.since = map[string]time.Time{}
	}
	if m.Status != maas.StatusDeployed {
		delete(d.since, m.SystemID)
		return time.Time{}
	}
	t, ok := d.since[m.SystemID]
	if !ok {
		t = now
		d.since[m.SystemID] = t
	}
	return t
}

// forget drops the machines not in keep (released, or another owner's).
func (d *deployedSince) forget(keep func(systemID string) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.since {
		if !keep(id) {
			delete(d.since, id)
		}
	}
}
