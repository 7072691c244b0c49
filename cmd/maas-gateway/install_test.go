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

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// installCases are install's command-line errors: each is refused before
// any cluster is touched, or (an unreachable cluster) at the first step,
// with the exit code the other commands use.
func installCases(t *testing.T) []commandCase {
	dir := t.TempDir()
	out := filepath.Join(dir, "gateway.kubeconfig")
	notYAML := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(notYAML, []byte("image: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A cluster nothing answers for: port 1 of loopback refuses at once.
	unreachable := filepath.Join(dir, "bootstrap.kubeconfig")
	if err := os.WriteFile(unreachable, []byte(`apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: b, user: {token: x}}]
contexts: [{name: b, context: {cluster: b, user: b}}]
current-context: b
`), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := sampleWith(t, "replicas: 3", "replicas: 2")
	flags := func(extra ...string) []string {
		return append([]string{"install", "-f", sample, "--bootstrap-kubeconfig", unreachable, "--kubeconfig-out", out}, extra...)
	}
	return []commandCase{
		{name: "install without its flags", args: []string{"install", "-f", sample}, code: exitUsage,
			stderr: []string{"maas-gateway install: [--kubeconfig-out] required"}},
		{name: "install without --kubeconfig-out", args: []string{"install", "-f", sample, "--bootstrap-kubeconfig", unreachable},
			code: exitUsage, stderr: []string{"maas-gateway install: [--kubeconfig-out] required"}},
		{name: "install without -f", args: []string{"install", "--bootstrap-kubeconfig", unreachable, "--kubeconfig-out", out},
			code: exitUsage, stderr: []string{"-f is required"}},
		{name: "install with an argument", args: []string{"install", sample}, code: exitUsage,
			stderr: []string{"unexpected argument"}},
		{name: "install over the bootstrap kubeconfig",
			args: []string{"install", "-f", sample, "--bootstrap-kubeconfig", unreachable, "--kubeconfig-out", dir + "/./bootstrap.kubeconfig"},
			code: exitUsage, stderr: []string{"--kubeconfig-out is --bootstrap-kubeconfig"}},
		{name: "install with an unknown flag", args: flags("--kind"), code: exitUsage,
			stderr: []string{"maas-gateway install: unknown flag: --kind"}},
		{name: "install with kind's flags and a bootstrap kubeconfig",
			args: flags("--keep-bootstrap", "--operator-image", "m:v1", "--bootstrap-name", "b"), code: exitUsage,
			stderr: []string{"[--bootstrap-name --keep-bootstrap --operator-image] apply to the kind cluster install makes " +
				"without --bootstrap-kubeconfig", "never deleted"}},
		{name: "install with kind's node image and a bootstrap kubeconfig", args: flags("--bootstrap-image", "n:v1"),
			code: exitUsage, stderr: []string{"[--bootstrap-image] apply to the kind cluster"}},
		{name: "install with a bad kind cluster name",
			args: []string{"install", "-f", sample, "--kubeconfig-out", out, "--bootstrap-name", "Boot_1"},
			code: exitUsage, stderr: []string{`--bootstrap-name "Boot_1" is not a kind cluster name`}},
		{name: "install over the kind cluster's kubeconfig",
			args: []string{"install", "-f", sample, "--kubeconfig-out", filepath.Join(dir, "boot.kubeconfig"), "--bootstrap-name", "boot"},
			code: exitUsage, stderr: []string{"is where the kind cluster boot's kubeconfig goes"}},
		{name: "install with an operator image without a tag",
			args: []string{"install", "-f", sample, "--kubeconfig-out", out, "--operator-image", "localhost:5000/manager"},
			code: exitUsage, stderr: []string{`--operator-image "localhost:5000/manager": write it as REPOSITORY:TAG`}},
		{name: "install with a missing kind config",
			args: []string{"install", "-f", sample, "--kubeconfig-out", out, "--bootstrap-config", "/nonexistent/kind.yaml"},
			code: exitUnreadable, stderr: []string{"cannot read --bootstrap-config /nonexistent/kind.yaml: no such file or directory"}},
		{name: "install an invalid pcg.yaml",
			args: []string{"install", "-f", invalid, "--bootstrap-kubeconfig", unreachable, "--kubeconfig-out", out},
			code: exitInvalid, stderr: []string{"replicas: Invalid value: 2"}},
		{name: "install from a missing pcg.yaml",
			args: []string{"install", "-f", "/nonexistent/pcg.yaml", "--bootstrap-kubeconfig", unreachable, "--kubeconfig-out", out},
			code: exitUnreadable, stderr: []string{"cannot read /nonexistent/pcg.yaml"}},
		{name: "install with a missing bootstrap kubeconfig",
			args: []string{"install", "-f", sample, "--bootstrap-kubeconfig", "/nonexistent/k", "--kubeconfig-out", out},
			code: exitUnreadable, stderr: []string{"cannot read --bootstrap-kubeconfig /nonexistent/k: no such file or directory"}},
		{name: "install with a bootstrap kubeconfig that is none",
			args: []string{"install", "-f", sample, "--bootstrap-kubeconfig", sample, "--kubeconfig-out", out},
			code: exitUnreadable, stderr: []string{"cannot read --bootstrap-kubeconfig " + sample}, notInAll: []string{sampleKey}},
		{name: "install with missing values", args: flags("--values", "/nonexistent/v.yaml"), code: exitUnreadable,
			stderr: []string{"cannot read --values /nonexistent/v.yaml: no such file or directory"}},
		{name: "install with values that are not YAML", args: flags("--values", notYAML), code: exitInvalid,
			stderr: []string{"--values " + notYAML + " is not YAML"}},
		{name: "install with two network plugins",
			args: flags("--network-plugin-manifests", notYAML, "--network-plugin-chart", "oci://registry.invalid/cni"),
			code: exitUsage, stderr: []string{"give one network plugin"}},
		{name: "install with a network plugin version but no chart", args: flags("--network-plugin-version", "1.2.3"),
			code: exitUsage, stderr: []string{"--network-plugin-version and --network-plugin-values go with --network-plugin-chart"}},
		{name: "install with a network plugin chart from a repository URL",
			args: flags("--network-plugin-chart", "https://charts.invalid/cni"),
			code: exitUsage, stderr: []string{"--network-plugin-chart https://charts.invalid/cni: an oci:// reference"}},
		{name: "install with missing network plugin manifests", args: flags("--network-plugin-manifests", "/nonexistent/cni.yaml"),
			code: exitUnreadable, stderr: []string{"cannot read --network-plugin-manifests /nonexistent/cni.yaml: no such file or directory"}},
		{name: "install with network plugin values that are not YAML",
			args: flags("--network-plugin-chart", "oci://registry.invalid/cni", "--network-plugin-values", notYAML),
			code: exitInvalid, stderr: []string{"--network-plugin-values " + notYAML + " is not YAML"}},
		{name: "install with a network plugin through an unreachable bootstrap cluster",
			args: flags("--network-plugin-chart", "oci://registry.invalid/cni", "--network-plugin-version", "1.2.3"), code: exitFailed,
			stdout: []string{"[1/10] bootstrap cluster: failed"}, stderr: []string{"maas-gateway install: bootstrap cluster:"}},
		{name: "install through an unreachable bootstrap cluster", args: flags(), code: exitFailed,
			stdout:   []string{"[1/10] bootstrap cluster: failed", "summary:"},
			stderr:   []string{"maas-gateway install: bootstrap cluster:", "run the same command again to resume"},
			notInAll: []string{sampleKey}},
	}
}

// fakeKind is kind without Docker (the kind library runs in the e2e suite).
type fakeKind struct {
	clusters, calls []string
	kubeconfig      string
}

func (f *fakeKind) Clusters() ([]string, error) { return f.clusters, nil }

func (f *fakeKind) Create(name, image, configFile, kubeconfig string, _ time.Duration) error {
	f.calls = append(f.calls, strings.Join([]string{"create", name, image, configFile, kubeconfig}, " "))
	f.clusters = append(f.clusters, name)
	return nil
}

func (f *fakeKind) Kubeconfig(string) (string, error) { return f.kubeconfig, nil }

func (f *fakeKind) LoadImages(_ context.Context, name string, images []string) ([]string, error) {
	f.calls = append(f.calls, "load "+name+" "+strings.Join(images, ","))
	return images, nil
}

func (f *fakeKind) Delete(name, _ string) error {
	f.calls = append(f.calls, "delete "+name)
	return nil
}

// Without --bootstrap-kubeconfig the flags reach kind: the cluster is made
// from the node image and config given, the operator image loaded, the
// kubeconfig written beside --kubeconfig-out; a failed run keeps it.
func TestInstallThroughKind(t *testing.T) {
	dir := t.TempDir()
	kindConfig := filepath.Join(dir, "kind.yaml")
	if err := os.WriteFile(kindConfig, []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := &fakeKind{clusters: []string{"other"}, kubeconfig: `apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: b, user: {token: x}}]
contexts: [{name: b, context: {cluster: b, user: b}}]
current-context: b
`}
	kindAPI = fake
	t.Cleanup(func() { kindAPI = nil })

	var stdout, stderr bytes.Buffer
	code := run([]string{"install", "-f", sample, "--kubeconfig-out", filepath.Join(dir, "gw.kubeconfig"),
		"--bootstrap-name", "boot", "--bootstrap-image", "node:v1", "--bootstrap-config", kindConfig,
		"--operator-image", "maas-gateway/manager:v9", "--timeout", "1s"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitFailed {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, &stdout, &stderr)
	}
	want := []string{"create boot node:v1 " + kindConfig + " " + filepath.Join(dir, "boot.kubeconfig"),
		"load boot maas-gateway/manager:v9"}
	if !slices.Equal(fake.calls, want) {
		t.Errorf("kind calls %q, want %q", fake.calls, want)
	}
	for _, s := range []string{"creating kind cluster boot from node:v1", "[1/10] bootstrap cluster: failed"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("stdout lacks %q:\n%s", s, &stdout)
		}
	}
	if !strings.Contains(stderr.String(), "the bootstrap cluster at https://127.0.0.1:1 does not answer") {
		t.Errorf("stderr:\n%s", &stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "boot.kubeconfig")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the kind cluster's kubeconfig: %v", err)
	}
}

func TestSplitImage(t *testing.T) {
	for _, tt := range []struct{ image, repo, tag string }{
		{"maas-gateway/manager:v0.1.0", "maas-gateway/manager", "v0.1.0"},
		{"localhost:5000/manager:dev", "localhost:5000/manager", "dev"},
		{"localhost:5000/manager", "", ""},
		{"manager", "", ""},
		{"manager:", "", ""},
		{"manager@sha256:0123", "", ""},
	} {
		repo, tag, ok := splitImage(tt.image)
		if repo != tt.repo || tag != tt.tag || ok != (tt.repo != "") {
			t.Errorf("splitImage(%q) = %q, %q, %v", tt.image, repo, tag, ok)
		}
	}
}
