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

package controlplane_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// The emulator plays the machines: an operator that imported it could pass
// its own tests without any machine joining.
func TestNotImportedByOperator(t *testing.T) {
	const self = "github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}}",
		"./cmd/manager", "./internal/controller/...", "./internal/operator/...")
	cmd.Dir = envtest.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if slices.Contains(strings.Fields(string(out)), self) {
		t.Fatalf("%s is imported by the operator", self)
	}
}
