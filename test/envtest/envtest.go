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

// Package envtest starts the real kube-apiserver and etcd that the project's
// integration suites run against, with the project's CRDs (and, on request,
// its webhooks) installed as they are in production.
package envtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the directory holding go.mod, found from this file's location so
// suites work from any package directory and from IDEs.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns the directory with kube-apiserver, etcd and kubectl:
// KUBEBUILDER_ASSETS when set (make test sets it), otherwise what
// hack/envtest-assets.sh provides (it builds them once when no download works).
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "envtest-assets.sh"))
	cmd.Dir = RepoRoot()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest-assets.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Options select what the environment installs beside the CRDs.
type Options struct {
	// Webhooks installs the webhook configurations of config/webhook; the
	// caller serves them on Environment.WebhookInstallOptions' host and port.
	Webhooks bool
}

// New returns an environment with the project's CRDs, not yet started.
func New(opts Options) (*envtest.Environment, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		// On a loaded 2-core machine the API server can take longer than
		// envtest's default 10 s to serve freshly installed CRDs.
		CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: time.Minute},
	}
	if opts.Webhooks {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(RepoRoot(), "config", "webhook")},
		}
	}
	return env, nil
}
