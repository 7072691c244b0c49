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
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestRenderGolden(t *testing.T) {
	allowWorkloads := func(c NodeConfig) NodeConfig { c.AllowWorkloads = true; return c }
	cases := []struct {
		name   string
		role   Role
		adjust func(NodeConfig) NodeConfig
	}{
		{"init-control-plane", RoleInitControlPlane, nil},
		{"init-control-plane-proxy", RoleInitControlPlane, withProxy},
		{"init-control-plane-allow-workloads", RoleInitControlPlane, allowWorkloads},
		{"join-control-plane", RoleJoinControlPlane, nil},
		{"join-control-plane-proxy", RoleJoinControlPlane, withProxy},
		{"join-control-plane-allow-workloads", RoleJoinControlPlane, allowWorkloads},
		{"join-worker", RoleJoinWorker, nil},
		{"join-worker-proxy", RoleJoinWorker, withProxy},
		{"init-control-plane-stock", RoleInitControlPlane, withStock},
		{"init-control-plane-stock-proxy", RoleInitControlPlane, withStockProxy},
		{"join-control-plane-stock", RoleJoinControlPlane, withStock},
		{"join-control-plane-stock-proxy", RoleJoinControlPlane, withStockProxy},
		{"join-worker-stock", RoleJoinWorker, withStock},
		{"join-worker-stock-proxy", RoleJoinWorker, withStockProxy},
		{"join-worker-stock-mirror", RoleJoinWorker, withMirror(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.role)
			if tc.adjust != nil {
				cfg = tc.adjust(cfg)
			}
			out, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/bootstrap -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("user data differs from %s (run go test ./internal/bootstrap -update and review the diff)", golden)
			}
			checkUserData(t, cfg, out)
		})
	}
}

// checkUserData checks what every rendering must satisfy, whatever its role.
func checkUserData(t *testing.T, cfg NodeConfig, out []byte) {
	t.Helper()
	if !bytes.HasPrefix(out, []byte("#cloud-config\n")) {
		t.Fatalf("user data starts with %q", out[:min(len(out), 20)])
	}
	var generic map[string]any
	if err := yaml.Unmarshal(out, &generic); err != nil {
		t.Fatalf("user data is not YAML: %v", err)
	}
	if len(out) > MaxUserDataBytes/8 {
		t.Errorf("user data of %d bytes is close to MaxUserDataBytes (%d)", len(out), MaxUserDataBytes)
	}
	files, cc := renderedFiles(t, out)
	docs := decodeKubeadm(t, files)
	kubeadmCmd := kubeadmCommand(t, cfg, files, cc)
	endpoint := fixtureVIP + ":6443"

	var reg nodeRegistrationOptions
	switch cfg.Role {
	case RoleInitControlPlane:
		if docs.init == nil || docs.cluster == nil || docs.join != nil {
			t.Fatalf("init node: want Init and ClusterConfiguration only, got %+v", docs)
		}
		c := docs.cluster
		if c.ControlPlaneEndpoint != endpoint || c.KubernetesVersion != fixtureVersion ||
			c.Networking.PodSubnet != fixturePodCIDR || c.Networking.ServiceSubnet != fixtureServiceCIDR || c.ClusterName != cfg.ClusterName {
			t.Errorf("ClusterConfiguration = %+v", c)
		}
		if want := wantEncryptionAlgorithm(t, cfg.PKI); c.EncryptionAlgorithm != want {
			t.Errorf("encryptionAlgorithm = %q, want %q for the keys of the PKI", c.EncryptionAlgorithm, want)
		}
		if len(docs.init.BootstrapTokens) != 1 || docs.init.BootstrapTokens[0].Token != fixtureToken ||
			!slices.Equal(docs.init.BootstrapTokens[0].Groups, []string{NodeTokenGroup}) ||
			docs.init.BootstrapTokens[0].TTL.Duration != DefaultTokenTTL {
			t.Errorf("InitConfiguration.bootstrapTokens = %+v", docs.init.BootstrapTokens)
		}
		reg = docs.init.NodeRegistration
		wantCmd := []string{"kubeadm", "init", "--config", kubeadmConfig}
		if !cfg.CertificateKey.IsZero() {
			wantCmd = append(wantCmd, "--upload-certs")
		}
		if !slices.Equal(kubeadmCmd, wantCmd) {
			t.Errorf("kubeadm command = %q, want %q", kubeadmCmd, wantCmd)
		}
		if docs.init.CertificateKey != cfg.CertificateKey.Hex() {
			t.Error("InitConfiguration.certificateKey is not the configured key")
		}
	default:
		if docs.join == nil || docs.init != nil || docs.cluster != nil {
			t.Fatalf("joining node: want JoinConfiguration only, got %+v", docs)
		}
		bt := docs.join.Discovery.BootstrapToken
		if bt == nil || bt.Token != fixtureToken || bt.APIServerEndpoint != endpoint || !slices.Equal(bt.CACertHashes, cfg.CACertHashes) {
			t.Errorf("discovery.bootstrapToken = %+v", bt)
		}
		if docs.join.Timeouts == nil || docs.join.Timeouts.Discovery.Duration != discoveryTimeout {
			t.Errorf("timeouts = %+v", docs.join.Timeouts)
		}
		if (docs.join.ControlPlane != nil) != (cfg.Role == RoleJoinControlPlane) {
			t.Errorf("controlPlane = %+v for %s", docs.join.ControlPlane, cfg.Role)
		}
		if cp := docs.join.ControlPlane; cp != nil && (cp.CertificateKey == "" || cp.CertificateKey != cfg.CertificateKey.Hex()) {
			t.Error("controlPlane.certificateKey is not the configured key")
		}
		// MAAS keeps user data: what joins must find its keys elsewhere.
		if bytes.Contains(out, []byte("PRIVATE KEY")) {
			t.Errorf("the user data of a %s holds a private key", cfg.Role)
		}
		reg = docs.join.NodeRegistration
		if len(kubeadmCmd) < 5 || kubeadmCmd[1] != joinScriptPath || kubeadmCmd[2] != kubeadmConfig {
			t.Errorf("kubeadm command = %q, want the join script", kubeadmCmd)
		}
	}

	wantArgs := []kubeadmArg{
		{Name: "node-labels", Value: joinLabels(mergedLabels(cfg))},
		{Name: "provider-id", Value: "maas://" + cfg.SystemID},
	}
	if !reflect.DeepEqual(reg.KubeletExtraArgs, wantArgs) {
		t.Errorf("kubeletExtraArgs = %+v, want %+v", reg.KubeletExtraArgs, wantArgs)
	}
	if reg.Taints == nil {
		t.Error("taints decoded as null: kubeadm would apply its default taint")
	}
	if want := wantTaints(cfg); !reflect.DeepEqual(reg.Taints, want) {
		t.Errorf("taints = %+v, want %+v", reg.Taints, want)
	}
	if reg.CRISocket != containerdSocket {
		t.Errorf("criSocket = %q", reg.CRISocket)
	}

	intent, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &NodeIntent{
		ClusterName:          cfg.ClusterName,
		Role:                 cfg.Role,
		ControlPlaneEndpoint: endpoint,
		ProviderID:           "maas://" + cfg.SystemID,
		SystemID:             cfg.SystemID,
		KubernetesVersion:    fixtureVersion,
		Labels:               mergedLabels(cfg),
		Taints:               wantTaints(cfg),
	}
	if !reflect.DeepEqual(intent, want) {
		t.Errorf("Parse = %+v, want %+v", intent, want)
	}
	if intent.Joins() != cfg.Role.Joins() {
		t.Errorf("Joins() = %v for %s", intent.Joins(), cfg.Role)
	}
}

// kubeadmCommand returns the command that runs kubeadm, the last in runcmd.
// On a stock image the installation runs it, so that a failed installation
// stops it: then it must be the only command, and the installation's files
// must be in place.
func kubeadmCommand(t *testing.T, cfg NodeConfig, files map[string]cloudFile, cc cloudConfig) []string {
	t.Helper()
	if len(cc.RunCmd) == 0 {
		t.Fatal("no runcmd")
	}
	last := cc.RunCmd[len(cc.RunCmd)-1]
	if cfg.Packages == nil {
		if _, ok := files[installScriptPath]; ok {
			t.Errorf("%s written for an image that has the packages", installScriptPath)
		}
		return last
	}
	if len(cc.RunCmd) != 1 {
		t.Errorf("runcmd = %q, want only the installation: the commands after it run even when it fails", cc.RunCmd)
	}
	if len(last) < 7 || last[0] != "sh" || last[1] != installScriptPath || last[2] != strings.TrimPrefix(cfg.KubernetesVersion, "v") || last[5] != "--" {
		t.Fatalf("runcmd = %q, want the installation script", last)
	}
	for _, p := range []string{installScriptPath, aptSourcePath, modulesLoadPath, sysctlPath} {
		if _, ok := files[p]; !ok {
			t.Errorf("user data writes no %s", p)
		}
	}
	_, keyWritten := files[aptKeyringPath]
	if keyWritten != (cfg.Packages.KubernetesRepositoryKey != "") || keyWritten != (last[4] == "") {
		t.Errorf("key written %v, key URL %q, for key %q", keyWritten, last[4], cfg.Packages.KubernetesRepositoryKey)
	}
	if _, ok := files[aptProxyPath]; ok != cfg.Proxy.Enabled() {
		t.Errorf("apt proxy written %v, proxy enabled %v", ok, cfg.Proxy.Enabled())
	}
	return last[6:]
}

func mergedLabels(cfg NodeConfig) map[string]string {
	m := map[string]string{LabelSystemID: cfg.SystemID}
	maps.Copy(m, cfg.Labels)
	return m
}

func wantTaints(cfg NodeConfig) []corev1.Taint {
	if cfg.Role.ControlPlane() && !cfg.AllowWorkloads {
		return []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	}
	return []corev1.Taint{}
}

// wantEncryptionAlgorithm is the encryptionAlgorithm for the two kinds of PKI
// a cluster can hold: generated now (ECDSA P-256) or by the version before
// (RSA-2048).
func wantEncryptionAlgorithm(t *testing.T, p *ClusterPKI) string {
	t.Helper()
	switch k := mustParseCert(t, p.CA.Cert).PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA-P256"
	case *rsa.PublicKey:
		return "RSA-2048"
	default:
		t.Fatalf("CA key of type %T", k)
		return ""
	}
}
