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
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

var allRoles = []Role{RoleInitControlPlane, RoleJoinControlPlane, RoleJoinWorker}

func render(t *testing.T, cfg NodeConfig) []byte {
	t.Helper()
	out, err := Render(cfg)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

func TestLabelSystemIDMatchesAPI(t *testing.T) {
	if LabelSystemID != v1alpha1.LabelSystemID {
		t.Errorf("LabelSystemID = %q, api/v1alpha1 says %q", LabelSystemID, v1alpha1.LabelSystemID)
	}
}

func TestProxyWrittenInAllThreePlacesOrNone(t *testing.T) {
	proxyPaths := []string{environmentPath, containerdProxyPath, kubeletProxyPath}
	for _, role := range allRoles {
		for _, proxied := range []bool{false, true} {
			name := string(role) + map[bool]string{false: "/direct", true: "/proxied"}[proxied]
			t.Run(name, func(t *testing.T) {
				cfg := testConfig(t, role)
				if proxied {
					cfg = withProxy(cfg)
				}
				out := render(t, cfg)
				files, cc := renderedFiles(t, out)
				restartsContainerd := slices.ContainsFunc(cc.RunCmd, func(c []string) bool {
					return slices.Equal(c, []string{"systemctl", "restart", "containerd"})
				})
				if !proxied {
					for _, p := range proxyPaths {
						if _, ok := files[p]; ok {
							t.Errorf("%s written without a proxy", p)
						}
					}
					if bytes.Contains(bytes.ToUpper(out), []byte("_PROXY")) || restartsContainerd {
						t.Error("proxy settings rendered without a proxy")
					}
					return
				}
				for _, p := range proxyPaths {
					f, ok := files[p]
					if !ok {
						t.Fatalf("%s not written", p)
					}
					for _, want := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "proxy.example.com:3128"} {
						if !strings.Contains(f.Content, want) {
							t.Errorf("%s lacks %s:\n%s", p, want, f.Content)
						}
					}
				}
				env := files[environmentPath]
				if !env.Append || !strings.Contains(env.Content, "\nhttps_proxy=\"http://user:p%40ss@") {
					t.Errorf("/etc/environment must be appended to and carry lower-case names too:\n%+v", env)
				}
				for _, p := range []string{containerdProxyPath, kubeletProxyPath} {
					c := files[p].Content
					if !strings.HasPrefix(c, "[Service]\n") || !strings.Contains(c, "HTTPS_PROXY=http://user:p%%40ss@") {
						t.Errorf("%s: want a [Service] drop-in with %% doubled for systemd:\n%s", p, c)
					}
				}
				if !restartsContainerd || !slices.ContainsFunc(cc.RunCmd, func(c []string) bool {
					return slices.Equal(c, []string{"systemctl", "daemon-reload"})
				}) {
					t.Errorf("runcmd %q must reload systemd and restart containerd", cc.RunCmd)
				}
			})
		}
	}
}

func TestNoProxy(t *testing.T) {
	cases := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"defaults only", nil,
			[]string{"localhost", "127.0.0.1", "10.0.0.10", "192.168.0.0/16", "10.96.0.0/12", ".svc", ".cluster.local"}},
		{"caller entries follow, deduplicated",
			[]string{"maas.example.com", ".svc", "10.0.0.10", "maas.example.com", "10.10.0.0/16"},
			[]string{"localhost", "127.0.0.1", "10.0.0.10", "192.168.0.0/16", "10.96.0.0/12", ".svc", ".cluster.local", "maas.example.com", "10.10.0.0/16"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := noProxy(fixtureVIP, fixturePodCIDR, fixtureServiceCIDR, tc.extra)
			if !slices.Equal(got, tc.want) {
				t.Errorf("noProxy = %q, want %q", got, tc.want)
			}
		})
	}

	// The rendered files carry exactly that list.
	cfg := withProxy(testConfig(t, RoleJoinWorker))
	files, _ := renderedFiles(t, render(t, cfg))
	want := "NO_PROXY=" + strings.Join(noProxy(fixtureVIP, fixturePodCIDR, fixtureServiceCIDR, cfg.Proxy.NoProxy), ",")
	for _, p := range []string{environmentPath, containerdProxyPath, kubeletProxyPath} {
		line := ""
		for l := range strings.Lines(files[p].Content) {
			if strings.Contains(l, "NO_PROXY=") {
				line = strings.NewReplacer(`"`, "", "Environment=", "", "\n", "").Replace(l)
			}
		}
		if line != want {
			t.Errorf("%s: %q, want %q", p, line, want)
		}
	}
}

// TestKeysOnlyOnTheInitNode: MAAS keeps every machine's user data, for its
// admins and its database backups to read, so the root keys (the CAs', the
// service-account signing key) are in the user data of the one machine that
// creates the cluster and of no machine that joins it.
func TestKeysOnlyOnTheInitNode(t *testing.T) {
	keyFiles := []string{pkiDir + "/ca.key", pkiDir + "/etcd/ca.key", pkiDir + "/front-proxy-ca.key", pkiDir + "/sa.key"}
	certFiles := []string{pkiDir + "/ca.crt", pkiDir + "/etcd/ca.crt", pkiDir + "/front-proxy-ca.crt", pkiDir + "/sa.pub"}
	p := testPKI(t)
	for _, role := range allRoles {
		t.Run(string(role), func(t *testing.T) {
			out := render(t, withProxy(testConfig(t, role)))
			files, _ := renderedFiles(t, out)
			if role.Joins() {
				if bytes.Contains(out, []byte("PRIVATE KEY")) {
					t.Fatalf("%s user data contains a private key", role)
				}
				for _, k := range [][]byte{p.CA.Key, p.EtcdCA.Key, p.FrontProxyCA.Key, p.ServiceAccount.Key} {
					if bytes.Contains(out, bytes.TrimSpace(k)) {
						t.Fatalf("%s user data contains a root key of the cluster", role)
					}
				}
				for _, p := range append(keyFiles, certFiles...) {
					if _, ok := files[p]; ok {
						t.Errorf("%s gets %s", role, p)
					}
				}
				return
			}
			for _, p := range keyFiles {
				f, ok := files[p]
				if !ok || f.Permissions != "0600" || f.Owner != "root:root" || !strings.Contains(f.Content, "PRIVATE KEY") {
					t.Errorf("%s: %+v, want a root-owned 0600 private key", p, f.Path+" "+f.Permissions)
				}
			}
			for _, p := range certFiles {
				if f, ok := files[p]; !ok || f.Permissions != "0644" || strings.Contains(f.Content, "PRIVATE") {
					t.Errorf("%s: missing, not 0644 or holding a private key", p)
				}
			}
			if files[pkiDir+"/ca.key"].Content != string(p.CA.Key) || files[pkiDir+"/etcd/ca.crt"].Content != string(p.EtcdCA.Cert) {
				t.Error("PKI files do not hold the given PKI")
			}
			if f := files[kubeadmConfig]; f.Permissions != "0600" {
				t.Errorf("%s holds the token but is %s", kubeadmConfig, f.Permissions)
			}
		})
	}
}

func TestKubeadmConfigHoldsNoKey(t *testing.T) {
	// Keys go to files kubeadm reads, never into the kubeadm configuration,
	// which kubeadm init uploads to the cluster as a ConfigMap.
	for _, role := range allRoles {
		files, _ := renderedFiles(t, render(t, testConfig(t, role)))
		if strings.Contains(files[kubeadmConfig].Content, "PRIVATE KEY") {
			t.Errorf("%s: kubeadm configuration holds a private key", role)
		}
	}
}

func TestProviderIDAndLabels(t *testing.T) {
	for _, role := range allRoles {
		t.Run(string(role), func(t *testing.T) {
			cfg := testConfig(t, role)
			cfg.SystemID = "x7k2pq"
			cfg.Labels = map[string]string{
				"infra.maasgateway.io/gateway": "gw",
				"node.kubernetes.io/pool":      "a",
				LabelSystemID:                  "x7k2pq", // the same value is accepted
			}
			out := render(t, cfg)
			docs := decodeKubeadm(t, mustFiles(t, out))
			reg := nodeReg(docs)
			args := map[string]string{}
			for _, a := range reg.KubeletExtraArgs {
				args[a.Name] = a.Value
			}
			if args["provider-id"] != "maas://x7k2pq" {
				t.Errorf("provider-id = %q", args["provider-id"])
			}
			wantLabels := "infra.maasgateway.io/gateway=gw,infra.maasgateway.io/system-id=x7k2pq,node.kubernetes.io/pool=a"
			if args["node-labels"] != wantLabels {
				t.Errorf("node-labels = %q, want %q", args["node-labels"], wantLabels)
			}
			intent, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if intent.ProviderID != "maas://x7k2pq" || intent.Labels[LabelSystemID] != "x7k2pq" || intent.Labels["infra.maasgateway.io/gateway"] != "gw" {
				t.Errorf("intent = %+v", intent)
			}
		})
	}
}

func TestTaints(t *testing.T) {
	cases := []struct {
		role           Role
		allowWorkloads bool
		tainted        bool
	}{
		{RoleInitControlPlane, false, true},
		{RoleInitControlPlane, true, false},
		{RoleJoinControlPlane, false, true},
		{RoleJoinControlPlane, true, false},
		{RoleJoinWorker, false, false},
		{RoleJoinWorker, true, false},
	}
	for _, tc := range cases {
		cfg := testConfig(t, tc.role)
		cfg.AllowWorkloads = tc.allowWorkloads
		files := mustFiles(t, render(t, cfg))
		reg := nodeReg(decodeKubeadm(t, files))
		if tc.tainted {
			if len(reg.Taints) != 1 || reg.Taints[0] != controlPlaneTaint {
				t.Errorf("%s allowWorkloads=%v: taints %+v, want the control-plane taint", tc.role, tc.allowWorkloads, reg.Taints)
			}
			continue
		}
		// An untainted node needs an explicit empty list: kubeadm reads a
		// missing or null one as "apply the default control-plane taint".
		var raw map[string]any
		content := files[kubeadmConfig].Content
		if err := yaml.Unmarshal([]byte(content[strings.LastIndex(content, "apiVersion:"):]), &raw); err != nil {
			t.Fatal(err)
		}
		if tc.role == RoleInitControlPlane {
			doc, _, _ := strings.Cut(content, "\n---\n")
			if err := yaml.Unmarshal([]byte(doc), &raw); err != nil {
				t.Fatal(err)
			}
		}
		taints, ok := raw["nodeRegistration"].(map[string]any)["taints"].([]any)
		if !ok || len(taints) != 0 {
			t.Errorf("%s allowWorkloads=%v: taints = %#v, want []", tc.role, tc.allowWorkloads, raw["nodeRegistration"])
		}
	}
}

func TestKubeVIP(t *testing.T) {
	for _, tc := range []struct {
		role       Role
		kubeconfig string
	}{
		{RoleInitControlPlane, superAdminConfPath},
		{RoleJoinControlPlane, adminConfPath},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			cfg := testConfig(t, tc.role)
			cfg.KubeVIPInterface = "bond0.100"
			cfg.Port = 8443
			cfg.KubeVIPImage = "registry.local:5000/kube-vip:v1.0.0"
			files := mustFiles(t, render(t, cfg))
			var pod corev1.Pod
			if err := yaml.UnmarshalStrict([]byte(files[kubeVIPManifestPath].Content), &pod); err != nil {
				t.Fatalf("kube-vip manifest: %v", err)
			}
			if pod.Kind != "Pod" || pod.APIVersion != "v1" || pod.Namespace != "kube-system" || !pod.Spec.HostNetwork {
				t.Errorf("pod = %+v", pod.ObjectMeta)
			}
			c := pod.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			for k, v := range map[string]string{"address": fixtureVIP, "vip_interface": "bond0.100", "vip_arp": "true", "port": "8443", "cp_enable": "true", "vip_leaderelection": "true"} {
				if env[k] != v {
					t.Errorf("env %s = %q, want %q", k, env[k], v)
				}
			}
			if c.Image != cfg.KubeVIPImage {
				t.Errorf("image = %q", c.Image)
			}
			if hp := pod.Spec.Volumes[0].HostPath; hp == nil || hp.Path != tc.kubeconfig {
				t.Errorf("kubeconfig volume = %+v, want %s", pod.Spec.Volumes[0], tc.kubeconfig)
			}
			docs := decodeKubeadm(t, files)
			if tc.role == RoleInitControlPlane {
				if docs.init.LocalAPIEndpoint == nil || docs.init.LocalAPIEndpoint.BindPort != 8443 || docs.cluster.ControlPlaneEndpoint != fixtureVIP+":8443" {
					t.Errorf("port 8443 not carried to kubeadm: %+v %+v", docs.init.LocalAPIEndpoint, docs.cluster)
				}
			} else if docs.join.ControlPlane.LocalAPIEndpoint == nil || docs.join.ControlPlane.LocalAPIEndpoint.BindPort != 8443 {
				t.Errorf("port 8443 not carried to kubeadm: %+v", docs.join.ControlPlane)
			}
		})
	}
	files := mustFiles(t, render(t, testConfig(t, RoleJoinWorker)))
	if _, ok := files[kubeVIPManifestPath]; ok {
		t.Error("a worker runs kube-vip")
	}
}

func TestIPv6Endpoint(t *testing.T) {
	cfg := testConfig(t, RoleJoinControlPlane)
	cfg.ControlPlaneEndpoint = "fd00::10"
	cfg.PodCIDR = "fd01::/48"
	cfg.ServiceCIDR = "fd02::/108"
	out := render(t, cfg)
	files := mustFiles(t, out)
	if got := decodeKubeadm(t, files).join.Discovery.BootstrapToken.APIServerEndpoint; got != "[fd00::10]:6443" {
		t.Errorf("apiServerEndpoint = %q", got)
	}
	if !strings.Contains(files[kubeVIPManifestPath].Content, "value: \"128\"") {
		t.Error("kube-vip vip_cidr is not 128 for an IPv6 VIP")
	}
	if intent, err := Parse(out); err != nil || intent.ControlPlaneEndpoint != "[fd00::10]:6443" {
		t.Errorf("Parse = %+v, %v", intent, err)
	}
}

// The emulated machines of internal/joinemu/controlplane share 127.0.0.0/8:
// their VIPs render like any other, in user data and the admin kubeconfig.
func TestIPv4LoopbackEndpoint(t *testing.T) {
	for _, role := range allRoles {
		cfg := testConfig(t, role)
		cfg.ControlPlaneEndpoint = "127.20.0.10"
		intent, err := Parse(render(t, cfg))
		if err != nil || intent.ControlPlaneEndpoint != "127.20.0.10:6443" {
			t.Errorf("%s: Parse = %+v, %v", role, intent, err)
		}
	}
	kc, err := AdminKubeconfig(AdminKubeconfigConfig{ClusterName: "prod", ControlPlaneEndpoint: "127.20.0.10",
		KubernetesVersion: fixtureVersion, CA: testPKI(t).CA, Now: time.Now()})
	if err != nil || !strings.Contains(string(kc), "server: https://127.20.0.10:6443") {
		t.Errorf("AdminKubeconfig: %v", err)
	}
}

func TestJoinCommand(t *testing.T) {
	for _, role := range []Role{RoleJoinControlPlane, RoleJoinWorker} {
		files, cc := renderedFiles(t, render(t, testConfig(t, role)))
		cmd := cc.RunCmd[len(cc.RunCmd)-1]
		want := []string{"sh", joinScriptPath, kubeadmConfig, "6", "30"}
		if role == RoleJoinControlPlane {
			// The shared keys are downloaded again by each attempt.
			want = append(want, kubeVIPManifestPath)
		}
		if !slices.Equal(cmd, want) {
			t.Errorf("%s runcmd = %q, want %q", role, cmd, want)
		}
		if s := files[joinScriptPath]; s.Content != joinScript || s.Permissions != "0700" {
			t.Errorf("%s: join script missing or not 0700", role)
		}
	}
}

func TestRenderRejectsBadConfig(t *testing.T) {
	secretBits := []string{"0123456789abcdef", "PRIVATE KEY", "p%40ss", "BEGIN"}
	cases := []struct {
		name   string
		role   Role
		mutate func(*NodeConfig)
		want   string
	}{
		{"unknown role", RoleJoinWorker, func(c *NodeConfig) { c.Role = "Leader" }, `role "Leader"`},
		{"bad cluster name", RoleJoinWorker, func(c *NodeConfig) { c.ClusterName = "Prod_1" }, "clusterName"},
		{"bad system ID", RoleJoinWorker, func(c *NodeConfig) { c.SystemID = "" }, "systemID"},
		{"bad version", RoleJoinWorker, func(c *NodeConfig) { c.KubernetesVersion = "1.34" }, "must look like v1.34.2"},
		{"old version", RoleJoinWorker, func(c *NodeConfig) { c.KubernetesVersion = "v1.30.5" }, "older than v1.31.0"},
		{"VIP not an IP", RoleJoinWorker, func(c *NodeConfig) { c.ControlPlaneEndpoint = "api.example.com" }, "not an IP address"},
		{"IPv6 loopback VIP", RoleJoinWorker, func(c *NodeConfig) { c.ControlPlaneEndpoint = "::1" }, "not ::1"},
		{"bad port", RoleJoinWorker, func(c *NodeConfig) { c.Port = 70000 }, "out of range"},
		{"bad pod CIDR", RoleJoinWorker, func(c *NodeConfig) { c.PodCIDR = "192.168.0.0" }, "podCIDR"},
		{"VIP in service CIDR", RoleJoinWorker, func(c *NodeConfig) { c.ControlPlaneEndpoint = "10.96.0.10" }, "contains the control-plane endpoint"},
		{"overlapping CIDRs", RoleJoinWorker, func(c *NodeConfig) { c.PodCIDR = "10.96.0.0/16" }, "overlap"},
		{"no token", RoleJoinWorker, func(c *NodeConfig) { c.Token = BootstrapToken{} }, "token is required"},
		{"no CA hash", RoleJoinWorker, func(c *NodeConfig) { c.CACertHashes = nil }, "caCertHashes"},
		{"bad CA hash", RoleJoinControlPlane, func(c *NodeConfig) { c.CACertHashes = []string{"sha256:abc"} }, "caCertHashes[0]"},
		{"worker with PKI", RoleJoinWorker, func(c *NodeConfig) { c.PKI = testPKI(t) }, "worker must not receive"},
		{"control plane without PKI", RoleInitControlPlane, func(c *NodeConfig) { c.PKI = nil }, "pki is required"},
		{"joining control plane with PKI", RoleJoinControlPlane, func(c *NodeConfig) { c.PKI = testPKI(t) }, "must not receive the cluster PKI"},
		{"joining control plane without key", RoleJoinControlPlane, func(c *NodeConfig) { c.CertificateKey = CertificateKey{} }, "certificateKey is required"},
		{"worker with key", RoleJoinWorker, func(c *NodeConfig) { c.CertificateKey, _ = GenerateCertificateKey() }, "must not receive the certificate key"},
		{"control plane with broken PKI", RoleInitControlPlane, func(c *NodeConfig) {
			p := *testPKI(t)
			p.CA.Key = p.EtcdCA.Key
			c.PKI = &p
		}, "cluster CA: private key does not match"},
		{"no VIP interface", RoleInitControlPlane, func(c *NodeConfig) { c.KubeVIPInterface = "" }, "kubeVIPInterface"},
		{"bad image", RoleInitControlPlane, func(c *NodeConfig) { c.KubeVIPImage = "a b" }, "kubeVIPImage"},
		{"reserved label", RoleJoinWorker, func(c *NodeConfig) { c.Labels = map[string]string{"node-role.kubernetes.io/worker": ""} }, "may not set on its own node"},
		{"bad label value", RoleJoinWorker, func(c *NodeConfig) { c.Labels = map[string]string{"a": "b c"} }, "label a value"},
		{"contradicting system-id label", RoleJoinWorker, func(c *NodeConfig) { c.Labels = map[string]string{LabelSystemID: "other"} }, "contradicts systemID"},
		{"negative TTL", RoleInitControlPlane, func(c *NodeConfig) { c.TokenTTL = -1 }, "tokenTTL"},
		{"proxy not a URL", RoleJoinWorker, func(c *NodeConfig) { c.Proxy.HTTPSProxy = "user:p%40ss@proxy:3128" }, "proxy.httpsProxy: must be an http:// or https:// URL"},
		{"proxy with quote", RoleJoinWorker, func(c *NodeConfig) { c.Proxy.HTTPProxy = `http://u:p%40ss"@proxy:3128` }, "proxy.httpProxy: must not contain"},
		{"noProxy with comma", RoleJoinWorker, func(c *NodeConfig) { c.Proxy = Proxy{HTTPProxy: "http://p:1", NoProxy: []string{"a,b"}} }, "proxy.noProxy[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.role)
			tc.mutate(&cfg)
			out, err := Render(cfg)
			if err == nil {
				t.Fatalf("Render succeeded:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			for _, s := range secretBits {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks %q", err, s)
				}
			}
		})
	}
}

func TestRenderReportsEveryProblem(t *testing.T) {
	cfg := testConfig(t, RoleJoinWorker)
	cfg.ClusterName = ""
	cfg.PodCIDR = "x"
	_, err := Render(cfg)
	if err == nil || !strings.Contains(err.Error(), "clusterName") || !strings.Contains(err.Error(), "podCIDR") {
		t.Errorf("error %v should name both problems", err)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	cfg := withProxy(testConfig(t, RoleInitControlPlane))
	first := render(t, cfg)
	for range 5 {
		if !bytes.Equal(first, render(t, cfg)) {
			t.Fatal("two renderings of one config differ")
		}
	}
}

func TestRenderDoesNotModifyInput(t *testing.T) {
	cfg := withProxy(testConfig(t, RoleJoinWorker))
	noProxyBefore := slices.Clone(cfg.Proxy.NoProxy)
	labelsBefore := len(cfg.Labels)
	render(t, cfg)
	if !slices.Equal(cfg.Proxy.NoProxy, noProxyBefore) || len(cfg.Labels) != labelsBefore {
		t.Error("Render modified its input")
	}
}

func mustFiles(t *testing.T, out []byte) map[string]cloudFile {
	t.Helper()
	files, _ := renderedFiles(t, out)
	return files
}

func nodeReg(d kubeadmDocs) nodeRegistrationOptions {
	if d.init != nil {
		return d.init.NodeRegistration
	}
	return d.join.NodeRegistration
}

func TestValidateNodeLabel(t *testing.T) {
	for k, ok := range map[string]bool{
		"pool":                           true,
		"example.com/pool":               true,
		"infra.maasgateway.io/gateway":   true,
		"node.kubernetes.io/pool":        true,
		"kubelet.kubernetes.io/x":        true,
		"topology.kubernetes.io/zone":    true,
		"kubernetes.io/hostname":         true,
		"node-role.kubernetes.io/worker": false,
		"kubernetes.io/role":             false,
		"k8s.io/x":                       false,
		"sub.k8s.io/x":                   false,
		"topology.kubernetes.io/rack":    false,
		"Bad Key":                        false,
	} {
		if err := validateNodeLabel(k, "v"); (err == nil) != ok {
			t.Errorf("validateNodeLabel(%q) = %v, want ok=%v", k, err, ok)
		}
	}
}

func TestProxyStringRedactsPassword(t *testing.T) {
	for _, p := range []Proxy{
		{HTTPProxy: "http://user:s3cret@proxy:3128", HTTPSProxy: "https://user:s3cret@proxy:3129"},
		{HTTPSProxy: "user:s3cret@proxy:3128"}, // invalid, and so never printed
	} {
		cfg := NodeConfig{Proxy: p}
		for _, s := range []string{p.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg)} {
			if strings.Contains(s, "s3cret") {
				t.Errorf("printed the proxy password: %s", s)
			}
		}
	}
	if got := (Proxy{HTTPProxy: "http://proxy:3128"}).String(); !strings.Contains(got, "http://proxy:3128") {
		t.Errorf("String() = %q, want the URL kept", got)
	}
}

func TestProxyFilesAreRootOnlyWithCredentials(t *testing.T) {
	for _, tt := range []struct {
		p    Proxy
		want string
	}{
		{Proxy{HTTPProxy: "http://proxy.example.com:3128"}, modePublic},
		{Proxy{HTTPSProxy: "http://user:secret@proxy.example.com:3128"}, modeSecret},
		{Proxy{HTTPProxy: "http://proxy.example.com:3128", HTTPSProxy: "http://user@proxy.example.com:3128"}, modeSecret},
	} {
		if got := tt.p.fileMode(); got != tt.want {
			t.Errorf("%s: mode %s, want %s", tt.p, got, tt.want)
		}
	}
}
