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

package bootstrap

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeKubeadm stands in for kubeadm: "join" fails until its budget of
// failures is spent, "reset" deletes the files kubeadm reset would (here the
// preserved ones), and every call is logged.
const fakeKubeadm = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
case "$1" in
join)
    n=$(cat "$FAKE_DIR/failures")
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$FAKE_DIR/failures"; exit 1; fi
    [ -f "$FAKE_KEY" ] || { echo "key missing at join" >&2; exit 3; } ;;
reset)
    rm -rf "$FAKE_PKI" ;;
esac
`

func runJoinScript(t *testing.T, failures, attempts int) (calls []string, pkiDir string, err error) {
	t.Helper()
	sh, lookErr := exec.LookPath("sh")
	if lookErr != nil {
		t.Skip("no sh on PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	pkiDir = filepath.Join(dir, "etc", "pki")
	key := filepath.Join(pkiDir, "etcd", "ca.key")
	for _, d := range []string{bin, filepath.Dir(key), filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(bin, "kubeadm"), fakeKubeadm, 0o755)
	writeFile(t, filepath.Join(dir, "failures"), strconv.Itoa(failures), 0o644)
	writeFile(t, key, "secret key\n", 0o600)
	writeFile(t, filepath.Join(dir, "run", "kubeadm.yaml"), "config\n", 0o600)
	script := filepath.Join(dir, "run", "kubeadm-join.sh")
	writeFile(t, script, joinScript, 0o700)

	cmd := exec.Command(sh, script, filepath.Join(dir, "run", "kubeadm.yaml"), strconv.Itoa(attempts), "0", key)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_DIR="+dir, "FAKE_KEY="+key, "FAKE_PKI="+pkiDir)
	out, err := cmd.CombinedOutput()
	t.Logf("join script output:\n%s", out)
	logged, readErr := os.ReadFile(filepath.Join(dir, "calls"))
	if readErr != nil {
		t.Fatal(readErr)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "run", "preserve.*"))
	if len(leftovers) != 0 {
		t.Errorf("preserved copies left behind: %v", leftovers)
	}
	return strings.Split(strings.TrimSpace(string(logged)), "\n"), pkiDir, err
}

func TestJoinScriptRetriesAndRestoresFiles(t *testing.T) {
	calls, pki, err := runJoinScript(t, 2, 6)
	if err != nil {
		t.Fatalf("join script failed: %v", err)
	}
	want := []string{"join --config", "reset --force", "join --config", "reset --force", "join --config"}
	if len(calls) != len(want) {
		t.Fatalf("kubeadm calls %q, want %q", calls, want)
	}
	for i := range want {
		if !strings.HasPrefix(calls[i], want[i]) {
			t.Errorf("call %d = %q, want %q", i, calls[i], want[i])
		}
	}
	key := filepath.Join(pki, "etcd", "ca.key")
	b, err := os.ReadFile(key)
	if err != nil || string(b) != "secret key\n" {
		t.Fatalf("key not restored after reset: %q, %v", b, err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("restored key mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestJoinScriptGivesUp(t *testing.T) {
	calls, _, err := runJoinScript(t, 100, 3)
	if err == nil {
		t.Fatal("join script succeeded although every join failed")
	}
	joins := 0
	for _, c := range calls {
		if strings.HasPrefix(c, "join") {
			joins++
		}
	}
	if joins != 3 {
		t.Errorf("%d join attempts, want 3: %q", joins, calls)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
