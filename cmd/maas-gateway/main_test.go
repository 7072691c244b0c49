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
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = "../../config/samples/pcg.yaml"

// sampleKey is the placeholder key of the sample.
const sampleKey = "AAAAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBB:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pcg.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sampleWith(t *testing.T, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("the sample has no %q", old)
	}
	return writeFile(t, strings.Replace(string(b), old, new, 1))
}

// commandCase is one run of the command line and what it must print.
type commandCase struct {
	name       string
	args       []string
	stdin      string
	code       int
	stdout     []string
	stderr     []string
	noStderr   bool
	notInAll   []string
	goldenFile string
}

func TestCommands(t *testing.T) {
	twoErrors := sampleWith(t, "replicas: 3", "replicas: 2\nnodes: 3")
	badKey := sampleWith(t, sampleKey, sampleKey[:len(sampleKey)-1])
	oneNode := sampleWith(t, "replicas: 3", "replicas: 1")
	tests := []commandCase{
		{name: "a valid file", args: []string{"validate", "-f", sample}, code: exitOK,
			stdout: []string{sample + " is valid: Gateway maas-system/gateway, 3 node(s), MAAS https://maas.example.com:5443/MAAS, " +
				"API server at 10.11.12.100; 2 Secret(s) to create"}, noStderr: true},
		{name: "warnings go to stderr", args: []string{"validate", "--file", oneNode}, code: exitOK,
			stderr: []string{oneNode + ": warning: replicas is 1: a 1-node gateway is not recommended"}},
		{name: "every error, with file, line and field", args: []string{"validate", "-f", twoErrors}, code: exitInvalid,
			stderr: []string{
				twoErrors + ":14: replicas: Invalid value: 2: must be 1 or 3",
				twoErrors + ":15: nodes: is not a field of a pcg.yaml",
				twoErrors + ": 2 errors; fix the fields named above and run this again",
			}},
		{name: "a bad key, not shown", args: []string{"render", "--show-secrets", "-f", badKey}, code: exitInvalid,
			stderr:   []string{badKey + ":29: maas.apiKey: is not a MAAS API key", ": 1 error;"},
			notInAll: []string{"BBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCCC"}},
		{name: "standard input", args: []string{"validate", "-f", "-"}, stdin: "name: [\n", code: exitInvalid,
			stderr: []string{"<stdin>: is not YAML"}},
		{name: "no -f", args: []string{"validate"}, code: exitUsage, stderr: []string{"-f is required"}},
		{name: "an argument instead of -f", args: []string{"validate", sample}, code: exitUsage,
			stderr: []string{"unexpected argument", "give the file with -f"}},
		{name: "an unknown flag", args: []string{"render", "--show-secret", "-f", sample}, code: exitUsage,
			stderr: []string{"maas-gateway render: unknown flag: --show-secret", "maas-gateway render --help"}},
		{name: "an unknown command", args: []string{"deploy", "-f", sample}, code: exitUsage,
			stderr: []string{`unknown command "deploy"`}},
		{name: "a missing file", args: []string{"validate", "-f", "/nonexistent/pcg.yaml"}, code: exitUnreadable,
			stderr: []string{"maas-gateway: cannot read /nonexistent/pcg.yaml: no such file or directory"}},
		{name: "a directory", args: []string{"render", "-f", t.TempDir()}, code: exitUnreadable,
			stderr: []string{"it is a directory"}},
		{name: "render, redacted", args: []string{"render", "-f", sample}, code: exitOK, noStderr: true,
			goldenFile: "../../internal/pcg/testdata/render/sample.golden", notInAll: []string{sampleKey, "change-me"}},
		{name: "render, secrets shown", args: []string{"render", "-f", sample, "--show-secrets"}, code: exitOK, noStderr: true,
			goldenFile: "../../internal/pcg/testdata/render/sample.show-secrets.golden", stdout: []string{sampleKey}},
		{name: "the version", args: []string{"--version"}, code: exitOK, stdout: []string{"maas-gateway "}},
		{name: "move without its flags", args: []string{"move"}, code: exitUsage,
			stderr: []string{"maas-gateway move: [--from-kubeconfig --to-kubeconfig -n] required"}},
		{name: "move without a namespace", args: []string{"move", "--from-kubeconfig", "a", "--to-kubeconfig", "b"}, code: exitUsage,
			stderr: []string{"maas-gateway move: [-n] required"}},
		{name: "move with an argument", args: []string{"move", "kubeconfig"}, code: exitUsage,
			stderr: []string{`unexpected argument "kubeconfig"`}},
		{name: "move onto the same cluster", args: []string{"move", "--from-kubeconfig", sample, "--to-kubeconfig", "./" + sample, "-n", "x"},
			code: exitUsage, stderr: []string{"are the same file"}},
		{name: "move from a missing kubeconfig", args: []string{"move", "--from-kubeconfig", "/nonexistent/a", "--to-kubeconfig", "/nonexistent/b", "-n", "x"},
			code: exitUnreadable, stderr: []string{"cannot read --from-kubeconfig /nonexistent/a: no such file or directory"}},
		{name: "move from a file that is no kubeconfig", args: []string{"move", "--from-kubeconfig", sample, "--to-kubeconfig", "/nonexistent/b", "-n", "x"},
			code: exitUnreadable, stderr: []string{"cannot read --from-kubeconfig " + sample}},
		{name: "move with an unknown flag", args: []string{"move", "--kubeconfig", "a"}, code: exitUsage,
			stderr: []string{"maas-gateway move: unknown flag: --kubeconfig"}},
	}
	tests = append(tests, installCases(t)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
			if tt.noStderr && stderr.Len() > 0 {
				t.Errorf("stderr:\n%s", &stderr)
			}
			for _, s := range tt.notInAll {
				if strings.Contains(stdout.String()+stderr.String(), s) {
					t.Errorf("the output shows %q", s)
				}
			}
			if tt.goldenFile != "" {
				want, err := os.ReadFile(tt.goldenFile)
				if err != nil {
					t.Fatal(err)
				}
				if stdout.String() != string(want) {
					t.Errorf("stdout is not %s:\n%s", tt.goldenFile, &stdout)
				}
			}
		})
	}
}
