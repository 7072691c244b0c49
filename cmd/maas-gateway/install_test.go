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
	"os"
	"path/filepath"
	"testing"
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
			stderr: []string{"maas-gateway install: [--bootstrap-kubeconfig --kubeconfig-out] required"}},
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
			stdout: []string{"[1/9] bootstrap cluster: failed"}, stderr: []string{"maas-gateway install: bootstrap cluster:"}},
		{name: "install through an unreachable bootstrap cluster", args: flags(), code: exitFailed,
			stdout:   []string{"[1/9] bootstrap cluster: failed", "summary:"},
			stderr:   []string{"maas-gateway install: bootstrap cluster:", "run the same command again to resume"},
			notInAll: []string{sampleKey}},
	}
}
