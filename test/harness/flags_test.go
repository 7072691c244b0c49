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

package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHasFlag: the flag package prints a boolean flag alone on its line, so
// a manager that has --observe-tenant-clusters is told to turn it off.
func TestHasFlag(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	usage := "Usage of manager:\n  -observe-tenant-clusters\n    \tRead every tenant cluster's Nodes (default true)\n" +
		"  -webhook-host string\n    \tThe address\n"
	script := "#!/bin/sh\nprintf '%s' \"" + usage + "\" >&2\nexit 2\n"
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"observe-tenant-clusters": true, "webhook-host": true, "observe-tenant": false, "manage-gateway-etcd": false,
	} {
		if got := hasFlag(bin, name); got != want {
			t.Errorf("hasFlag(%q) = %t, want %t", name, got, want)
		}
	}
}
