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

// Package version holds the version the binaries were built as. The Makefile
// sets both variables from the VERSION file and git through -ldflags, so the
// chart, the images and every binary's --version agree.
package version

import "fmt"

var (
	// Version is the release version, e.g. 0.1.0.
	Version = "0.0.0-dev"
	// Commit is the short git commit the binary was built from.
	Commit = "unknown"
)

// String is what --version prints.
func String(binary string) string {
	return fmt.Sprintf("%s %s (commit %s)", binary, Version, Commit)
}
