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

package controlplane

import (
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

func renderFor(t *testing.T, role bootstrap.Role, pki *bootstrap.ClusterPKI) []byte {
	t.Helper()
	return renderWithPackages(t, role, pki, nil)
}

const fixedCertKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func testCertKey(t *testing.T) bootstrap.CertificateKey {
	t.Helper()
	k, err := bootstrap.ParseCertificateKey(fixedCertKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// renderWithPackages renders the user data of a stock image, which installs
// packages, when packages is set.
func renderWithPackages(t *testing.T, role bootstrap.Role, pki *bootstrap.ClusterPKI, packages *bootstrap.NodePackages) []byte {
	t.Helper()
	tok, err := bootstrap.GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	cfg := bootstrap.NodeConfig{
		Role: role, ClusterName: "c", SystemID: "abc123", KubernetesVersion: "v1.34.2",
		ControlPlaneEndpoint: "127.20.200.1", PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12", Token: tok,
	}
	if role.ControlPlane() {
		cfg.CertificateKey, cfg.KubeVIPInterface = testCertKey(t), "lo"
	}
	if role == bootstrap.RoleInitControlPlane {
		cfg.PKI = pki
	}
	if role.Joins() {
		h, _ := pki.CACertHash()
		cfg.CACertHashes = []string{h}
	}
	cfg.Packages = packages
	ud, err := bootstrap.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ud
}

// The user data internal/bootstrap renders carries what each role's
// kubeadm needs, and parseUserData finds it.
func TestParseUserData(t *testing.T) {
	pki, err := bootstrap.GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := pki.CACertHash()

	ud, err := parseUserData(renderFor(t, bootstrap.RoleInitControlPlane, pki))
	if err != nil {
		t.Fatal(err)
	}
	if ud.pki == nil || string(ud.pki.CA.Cert) != string(pki.CA.Cert) || string(ud.pki.ServiceAccount.Key) != string(pki.ServiceAccount.Key) {
		t.Error("init: the cluster PKI is not read back")
	}
	if !ud.uploadCerts || ud.certificateKey != fixedCertKey {
		t.Errorf("init: uploadCerts %v, certificate key read back %v", ud.uploadCerts, ud.certificateKey == fixedCertKey)
	}
	if ud.serviceSubnet != "10.96.0.0/12" || ud.podSubnet != "192.168.0.0/16" || ud.token == "" || ud.tokenTTL != bootstrap.DefaultTokenTTL {
		t.Errorf("init: subnets %q %q, token set %v, ttl %s", ud.serviceSubnet, ud.podSubnet, ud.token != "", ud.tokenTTL)
	}
	if !strings.Contains(ud.clusterConfiguration, "kind: ClusterConfiguration") || strings.Contains(ud.clusterConfiguration, ud.token) {
		t.Errorf("init: ClusterConfiguration to upload:\n%s", ud.clusterConfiguration)
	}

	ud, err = parseUserData(renderFor(t, bootstrap.RoleJoinControlPlane, pki))
	if err != nil {
		t.Fatal(err)
	}
	// The keys come from the kubeadm-certs Secret, with the key.
	if ud.pki != nil || ud.certificateKey != fixedCertKey || len(ud.caCertHashes) != 1 || ud.caCertHashes[0] != hash || ud.token == "" {
		t.Errorf("join control plane: pki %v, certificate key read back %v, hashes %v", ud.pki != nil, ud.certificateKey == fixedCertKey, ud.caCertHashes)
	}

	ud, err = parseUserData(renderFor(t, bootstrap.RoleJoinWorker, pki))
	if err != nil {
		t.Fatal(err)
	}
	if ud.pki != nil || len(ud.caCertHashes) != 1 {
		t.Errorf("worker: pki %v, hashes %v", ud.pki != nil, ud.caCertHashes)
	}

	// A stock image's user data, which installs the packages first, carries
	// the same for every role.
	for _, role := range []bootstrap.Role{bootstrap.RoleInitControlPlane, bootstrap.RoleJoinControlPlane, bootstrap.RoleJoinWorker} {
		ud, err := parseUserData(renderWithPackages(t, role, pki, &bootstrap.NodePackages{}))
		if err != nil {
			t.Fatalf("stock %s: %v", role, err)
		}
		if ud.intent.Role != role || (ud.pki != nil) != (role == bootstrap.RoleInitControlPlane) || ud.uploadCerts != (role == bootstrap.RoleInitControlPlane) ||
			ud.token == "" || (len(ud.caCertHashes) == 1) != role.Joins() {
			t.Errorf("stock %s: role %s, pki %v, token set %v, hashes %v", role, ud.intent.Role, ud.pki != nil, ud.token != "", ud.caCertHashes)
		}
	}

	// A control plane whose user data lost a key is refused, without
	// quoting the key material.
	broken := strings.Replace(string(renderFor(t, bootstrap.RoleInitControlPlane, pki)), "path: /etc/kubernetes/pki/sa.key", "path: /etc/kubernetes/pki/sa.key.old", 1)
	if _, err := parseUserData([]byte(broken)); err == nil || strings.Contains(err.Error(), "PRIVATE") {
		t.Errorf("broken PKI: %v", err)
	}
}

func TestLifecycleTaints(t *testing.T) {
	cp := corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	keys := func(ts []corev1.Taint) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Key+":"+string(t.Effect))
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		in      []corev1.Taint
		ready   corev1.ConditionStatus
		want    string
		changed bool
	}{
		{[]corev1.Taint{cp}, corev1.ConditionTrue, cp.Key + ":NoSchedule", false},
		{[]corev1.Taint{cp, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}}, corev1.ConditionTrue, cp.Key + ":NoSchedule", true},
		{[]corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}}, corev1.ConditionFalse,
			corev1.TaintNodeNotReady + ":NoSchedule," + corev1.TaintNodeNotReady + ":NoExecute", true},
		{[]corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}},
			corev1.ConditionUnknown, corev1.TaintNodeUnreachable + ":NoSchedule," + corev1.TaintNodeUnreachable + ":NoExecute", true},
	} {
		got, changed := lifecycleTaints(c.in, c.ready)
		if keys(got) != c.want || changed != c.changed {
			t.Errorf("%s with %s: got %s (changed %v), want %s (changed %v)", keys(c.in), c.ready, keys(got), changed, c.want, c.changed)
		}
	}
}

func TestMountsCNIConf(t *testing.T) {
	ds := func(paths ...string) appsv1.DaemonSet {
		var d appsv1.DaemonSet
		for _, p := range paths {
			d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p}},
			})
		}
		return d
	}
	for paths, want := range map[string]bool{
		"/etc/cni/net.d": true, "/etc/cni/net.d/": true, "/etc/cni": true,
		"/opt/cni/bin": false, "": false, "/var/log,/etc/cni/net.d": true,
	} {
		var ps []string
		if paths != "" {
			ps = strings.Split(paths, ",")
		}
		if got := mountsCNIConf(ds(ps...)); got != want {
			t.Errorf("%q: %v, want %v", paths, got, want)
		}
	}
}

// The VIP relays to a live backend, skips dead ones, and frees its port
// on close.
func TestForwarder(t *testing.T) {
	echo, err := net.Listen("tcp", "127.20.200.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = echo.Close() }()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	dead, err := net.Listen("tcp", "127.20.200.3:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close()

	f, err := listenForwarder("127.20.200.1:0", func() []string { return []string{deadAddr, echo.Addr().String()} })
	if err != nil {
		t.Fatal(err)
	}
	addr := f.ln.Addr().String()
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("relay: %q, %v", buf, err)
		}
		_ = c.Close()
	}
	open, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.close()
	_ = open.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Error("a relayed connection outlived the forwarder")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not freed: %v", err)
	}
	_ = ln.Close()
}

// A process group is killed whole, and Leaks finds what runs under a
// directory until then.
func TestProcessKillAndLeaks(t *testing.T) {
	dir := t.TempDir()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	// A shell runs another in the background, which waits on a sleep:
	// all are in the group, and both shells mention dir.
	script := `sh -c "sleep 300; : ` + dir + `" & wait; : ` + dir
	p, err := startProcess("sh", sh, []string{"-c", script}, dir+"/log")
	if err != nil {
		t.Fatal(err)
	}
	g := NewWithT(t)
	g.Eventually(func() ([]string, error) { return Leaks(dir) }).
		WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).Should(HaveLen(2), "the two shells")
	if kids, err := Children(); err != nil || len(kids) != 0 {
		// Its working directory is not an emulator's.
		t.Errorf("Children = %v, %v", kids, err)
	}
	p.kill()
	g.Expect(p.exited()).To(BeTrue(), "not reaped")
	// The inner shell and the sleep are orphans that init reaps, not us:
	// the group kill has them gone soon after.
	g.Eventually(func() ([]string, error) { return Leaks(dir) }).
		WithTimeout(5 * time.Second).WithPolling(20 * time.Millisecond).Should(BeEmpty())
	_ = os.Remove(dir + "/log")
}

func TestNewChecksOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no BinDir accepted")
	}
	if _, err := New(Options{BinDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Errorf("BinDir without binaries: %v", err)
	}
}
