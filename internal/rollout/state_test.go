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

package rollout

import (
	"strings"
	"testing"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		in   string
		want State
	}{
		{"Allocated", StateAllocated},
		{"allocated", StateAllocated},
		{"Deploying", StateDeploying},
		{"Deployed", StateDeployed},
		{"Failed deployment", StateFailed},
		{"failed_deployment", StateFailed},
		{"Broken", StateBroken},
		{"Releasing", StateReleasing},
		{"Disk erasing", StateReleasing},
		{"disk_erasing", StateReleasing},
		{"Releasing failed", StateReleaseFailed},
		{"failed_releasing", StateReleaseFailed},
		{"Failed disk erasing", StateReleaseFailed},
		{"Ready", StateReleased},
		{"  DEPLOYED ", StateDeployed},
		{"Rescue mode", StateUnknown},
		{"Testing", StateUnknown},
		{"New", StateUnknown},
		{"Commissioning", StateUnknown},
		{"", StateUnknown},
		{"Deployed2", StateUnknown},
	}
	for _, tt := range tests {
		if got := ParseState(tt.in); got != tt.want {
			t.Errorf("ParseState(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParseState checks that any MAAS status, however odd, maps to a state
// Plan accepts, whatever its case.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"Deployed", "failed_deployment", "Releasing failed", "", "ß", "Disk\terasing"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseState(s)
		if !knownState(got) {
			t.Fatalf("ParseState(%q) = %q, not a known state", s, got)
		}
		if up := ParseState(strings.ToUpper(s)); got != StateUnknown && up != got {
			t.Fatalf("ParseState(%q) = %q but ParseState(upper) = %q", s, got, up)
		}
	})
}
