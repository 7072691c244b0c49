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
	"slices"
	"strings"
	"testing"
)

// fakeSystemCommand stands in for every command of the installation script
// that would change the machine running the tests: it logs its call, fails
// when named in FAKE_FAIL, and acts just enough for the script to go on.
const fakeSystemCommand = `#!/bin/sh
name=$(basename "$0")
echo "$name $*" >> "$FAKE_DIR/calls"
[ "$name" = "${FAKE_FAIL:-}" ] && exit 1
case "$name" in
curl)
    echo "https_proxy=${https_proxy:-} no_proxy=${no_proxy:-}" > "$FAKE_DIR/curl-env"
    while [ "$#" -gt 0 ]; do
        [ "$1" = --output ] && out=$2
        shift
    done
    printf '%s' "$FAKE_CURL_BODY" > "$out" ;;
containerd)
    printf '%s' "$FAKE_CONTAINERD_CONFIG" ;;
esac
`

var fakedCommands = []string{"swapoff", "modprobe", "sysctl", "curl", "apt-get", "apt-mark", "containerd", "systemctl", "kubeadm"}

const containerdDefaultConfig = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = ""
  SystemdCgroup = false
`

const fstabWithSwap = `UUID=1234 / ext4 defaults 0 1
/swap.img	none	swap	sw	0	0
# /old.img none swap sw 0 0
`

type installRun struct {
	root   string
	calls  []string
	err    error
	output string
	dir    string
}

// runInstallScript runs the installation script in a directory of its own,
// with fakes for the commands that would change this machine, and kubeadm
// init as the command it chains to.
func runInstallScript(t *testing.T, keyURL string, env ...string) installRun {
	t.Helper()
	return runInstallScriptArgs(t, []string{"1.34.2", "containerd", keyURL, "--", "kubeadm", "init", "--config", "/run/kubeadm/kubeadm.yaml"}, env...)
}

func runInstallScriptArgs(t *testing.T, args []string, env ...string) installRun {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	root := filepath.Join(dir, "root")
	for _, d := range []string{bin, filepath.Join(root, "etc"), filepath.Join(root, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range fakedCommands {
		writeFile(t, filepath.Join(bin, c), fakeSystemCommand, 0o755)
	}
	writeFile(t, filepath.Join(root, "etc", "fstab"), fstabWithSwap, 0o644)
	writeFile(t, filepath.Join(root, "etc", "environment"), `PATH="`+bin+":"+os.Getenv("PATH")+`"`+"\n"+
		environmentFile(proxyVars(Proxy{HTTPSProxy: fixtureHTTPSProxy}, []string{"localhost", "mirror.example.com"})), 0o644)
	script := filepath.Join(root, "run", "install-packages.sh")
	writeFile(t, script, installScript, 0o700)

	cmd := exec.Command(sh, append([]string{script}, args...)...)
	cmd.Env = append([]string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"FAKE_DIR=" + dir,
		"INSTALL_PACKAGES_ROOT=" + root,
		"FAKE_CURL_BODY=" + fixtureRepositoryKey(t),
		"FAKE_CONTAINERD_CONFIG=" + containerdDefaultConfig,
	}, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("install script output:\n%s", out)
	logged, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return installRun{root: root, calls: strings.Split(strings.TrimSpace(string(logged)), "\n"), err: err, output: string(out), dir: dir}
}

func (r installRun) ran(name string) bool {
	return slices.ContainsFunc(r.calls, func(c string) bool { return strings.HasPrefix(c, name+" ") })
}

func (r installRun) read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInstallScriptInstallsThenRunsKubeadm(t *testing.T) {
	const keyURL = "https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key"
	r := runInstallScript(t, keyURL)
	if r.err != nil {
		t.Fatalf("install script failed: %v", r.err)
	}
	want := []string{
		"swapoff -a",
		"modprobe overlay",
		"modprobe br_netfilter",
		"sysctl --system",
		"curl --fail --silent --show-error --location --retry 5 --proto =https --proto-redir =https --output " +
			filepath.Join(r.root, aptKeyringPath) + ".tmp " + keyURL,
		"apt-get -o DPkg::Lock::Timeout=600 update",
		"apt-get -o DPkg::Lock::Timeout=600 install -y containerd kubelet=1.34.2-* kubeadm=1.34.2-* kubectl=1.34.2-*",
		"apt-mark hold kubelet kubeadm kubectl",
		"containerd config default",
		"systemctl daemon-reload",
		"systemctl restart containerd",
		"systemctl enable kubelet",
		"kubeadm init --config /run/kubeadm/kubeadm.yaml",
	}
	if !slices.Equal(r.calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(r.calls, "\n"), strings.Join(want, "\n"))
	}
	if got := r.read(t, aptKeyringPath); got != fixtureRepositoryKey(t) {
		t.Errorf("keyring = %q", got)
	}
	if got := r.read(t, "/etc/containerd/config.toml"); got != strings.Replace(containerdDefaultConfig, "SystemdCgroup = false", "SystemdCgroup = true", 1) {
		t.Errorf("containerd config:\n%s", got)
	}
	wantFstab := strings.Replace(fstabWithSwap, "/swap.img", "#/swap.img", 1)
	if got := r.read(t, "/etc/fstab"); got != wantFstab {
		t.Errorf("fstab:\n%s\nwant:\n%s", got, wantFstab)
	}
	curlEnv, err := os.ReadFile(filepath.Join(r.dir, "curl-env"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(curlEnv)), "https_proxy="+fixtureHTTPSProxy+" no_proxy=localhost,mirror.example.com"; got != want {
		t.Errorf("curl ran with %q, want the proxy of /etc/environment: %q", got, want)
	}
}

func TestInstallScriptUsesTheKeyGiven(t *testing.T) {
	r := runInstallScript(t, "")
	if r.err != nil {
		t.Fatalf("install script failed: %v", r.err)
	}
	if r.ran("curl") {
		t.Errorf("curl ran although the user data wrote the key: %q", r.calls)
	}
	if !r.ran("kubeadm") {
		t.Errorf("kubeadm did not run: %q", r.calls)
	}
}

// Whatever step fails, the script stops there and kubeadm never runs: a
// node half installed must not join the cluster.
func TestInstallScriptStopsBeforeKubeadm(t *testing.T) {
	cases := []struct {
		name string
		env  []string
	}{
		{"key not served as a key", []string{"FAKE_CURL_BODY=<html>captive portal</html>"}},
		{"no SystemdCgroup in containerd's config", []string{"FAKE_CONTAINERD_CONFIG=version = 2\n"}},
	}
	for _, c := range fakedCommands {
		if c != "kubeadm" {
			cases = append(cases, struct {
				name string
				env  []string
			}{c + " fails", []string{"FAKE_FAIL=" + c}})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstallScript(t, "https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key", tc.env...)
			if r.err == nil {
				t.Fatal("install script succeeded")
			}
			if r.ran("kubeadm") {
				t.Errorf("kubeadm ran after a failed installation: %q", r.calls)
			}
		})
	}
	t.Run("bad usage", func(t *testing.T) {
		// Without "--" the script must not take kubeadm's arguments for its own.
		r := runInstallScriptArgs(t, []string{"1.34.2", "containerd", "", "kubeadm", "init"})
		if r.err == nil || !strings.Contains(r.output, "usage") || r.calls[0] != "" {
			t.Errorf("bad usage: %v, calls %q", r.err, r.calls)
		}
	})
}
