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

	"github.com/maas-gateway/maas-gateway/internal/maas"
)

func TestDeployedSince(t *testing.T) {
	var d deployedSince
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	deploying := maas.Machine{SystemID: "a", Status: maas.StatusDeploying}
	deployed := maas.Machine{SystemID: "a", Status: maas.StatusDeployed}
	if got := d.at(deploying, t0); !got.IsZero() {
		t.Fatalf("deploying: %v, want zero", got)
	}
	if got := d.at(deployed, t0.Add(time.Minute)); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first seen deployed: %v", got)
	}
	if got := d.at(deployed, t0.Add(time.Hour)); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("seen again: %v, want the first sighting", got)
	}
	// Released and deployed again: the clock starts anew.
	d.at(maas.Machine{SystemID: "a", Status: maas.StatusReleasing}, t0.Add(2*time.Hour))
	if got := d.at(deployed, t0.Add(3*time.Hour)); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("deployed again: %v", got)
	}
	d.forget(func(string) bool { return false })
	if len(d.since) != 0 {
		t.Fatalf("forget left %v", d.since)
	}
}
