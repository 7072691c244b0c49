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
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden (and create the PKI fixtures if missing)")

// The fixed inputs of the golden files. The PKI fixture is a real PKI,
// generated once (go test -update creates it if missing) and kept in
// testdata/pki, because generated keys differ on every run.
//
// testdata/pki-rsa is the PKI fixture as the version before ECDSA generated
// it (RSA-2048, PKCS#1), kept as it is: clusters created then hold such keys
// in their Secrets for good. Nothing regenerates it.
const (
	fixtureToken       = "abcdef.0123456789abcdef"
	fixtureCertKey     = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	fixtureVIP         = "10.0.0.10"
	fixturePodCIDR     = "192.168.0.0/16"
	fixtureServiceCIDR = "10.96.0.0/12"
	fixtureVersion     = "v1.34.2"
	fixtureHTTPProxy   = "http://proxy.example.com:3128"
	fixtureHTTPSProxy  = "http://user:p%40ss@proxy.example.com:3129"
	pkiFixtureDir      = "testdata/pki"
	rsaPKIFixtureDir   = "testdata/pki-rsa"
)

// pkiFixtureFiles names the files of a PKI fixture (<name>.crt, <name>.key),
// with the Secret purpose and the ClusterPKI field each pair belongs to.
var pkiFixtureFiles = []struct {
	name    string
	purpose SecretPurpose
	field   func(*ClusterPKI) *KeyPair
}{
	{"ca", PurposeCA, func(p *ClusterPKI) *KeyPair { return &p.CA }},
	{"etcd-ca", PurposeEtcd, func(p *ClusterPKI) *KeyPair { return &p.EtcdCA }},
	{"front-proxy-ca", PurposeFrontProxy, func(p *ClusterPKI) *KeyPair { return &p.FrontProxyCA }},
	{"sa", PurposeServiceAccount, func(p *ClusterPKI) *KeyPair { return &p.ServiceAccount }},
}

var (
	fixtureOnce sync.Once
	fixturePKI  *ClusterPKI
	fixtureErr  error
)

func testPKI(t testing.TB) *ClusterPKI {
	t.Helper()
	fixtureOnce.Do(func() { fixturePKI, fixtureErr = loadPKIFixture() })
	if fixtureErr != nil {
		t.Fatalf("PKI fixture: %v", fixtureErr)
	}
	return fixturePKI
}

func loadPKIFixture() (*ClusterPKI, error) {
	data, err := readPKIFixture(pkiFixtureDir)
	if errors.Is(err, fs.ErrNotExist) && *update {
		return writePKIFixture()
	}
	if err != nil {
		return nil, err
	}
	return PKIFromSecretData(data)
}

// rsaPKISecretData returns the data of the Secrets of a cluster that the
// version before ECDSA created (see rsaPKIFixtureDir).
func rsaPKISecretData(t testing.TB) map[SecretPurpose]map[string][]byte {
	t.Helper()
	data, err := readPKIFixture(rsaPKIFixtureDir)
	if err != nil {
		t.Fatalf("RSA PKI fixture: %v", err)
	}
	return data
}

// readPKIFixture reads the PKI fixture in dir as the data of its Secrets.
func readPKIFixture(dir string) (map[SecretPurpose]map[string][]byte, error) {
	data := make(map[SecretPurpose]map[string][]byte, len(pkiFixtureFiles))
	for _, f := range pkiFixtureFiles {
		crt, err := os.ReadFile(filepath.Join(dir, f.name+".crt"))
		if err != nil {
			return nil, err
		}
		key, err := os.ReadFile(filepath.Join(dir, f.name+".key"))
		if err != nil {
			return nil, err
		}
		data[f.purpose] = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
	}
	return data, nil
}

func writePKIFixture() (*ClusterPKI, error) {
	p, err := GeneratePKI()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pkiFixtureDir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range pkiFixtureFiles {
		kp := f.field(p)
		if err := os.WriteFile(filepath.Join(pkiFixtureDir, f.name+".crt"), kp.Cert, 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(pkiFixtureDir, f.name+".key"), kp.Key, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func testToken(t testing.TB) BootstrapToken {
	t.Helper()
	tok, err := ParseBootstrapToken(fixtureToken)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// testConfig returns a valid NodeConfig of role, without proxy.
func testConfig(t testing.TB, role Role) NodeConfig {
	t.Helper()
	p := testPKI(t)
	hash, err := p.CACertHash()
	if err != nil {
		t.Fatal(err)
	}
	cfg := NodeConfig{
		Role:                 role,
		ClusterName:          "prod",
		SystemID:             "abc123",
		KubernetesVersion:    fixtureVersion,
		ControlPlaneEndpoint: fixtureVIP,
		PodCIDR:              fixturePodCIDR,
		ServiceCIDR:          fixtureServiceCIDR,
		Token:                testToken(t),
		Labels: map[string]string{
			"infra.maasgateway.io/tenant-cluster": "prod",
			"infra.maasgateway.io/pool":           "workers-a",
		},
	}
	if role.ControlPlane() {
		key, err := ParseCertificateKey(fixtureCertKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.CertificateKey = key
		if role == RoleInitControlPlane {
			cfg.PKI = p
		}
		cfg.KubeVIPInterface = "eth0"
		cfg.Labels["infra.maasgateway.io/pool"] = "control-plane"
	}
	if role.Joins() {
		cfg.CACertHashes = []string{hash}
	}
	return cfg
}

func withProxy(cfg NodeConfig) NodeConfig {
	cfg.Proxy = Proxy{
		HTTPProxy:  fixtureHTTPProxy,
		HTTPSProxy: fixtureHTTPSProxy,
		NoProxy:    []string{"maas.example.com", "10.10.0.0/16", ".svc", "localhost"},
	}
	return cfg
}

// withStock installs the packages from pkgs.k8s.io, fetching its key at boot.
func withStock(cfg NodeConfig) NodeConfig {
	cfg.Packages = &NodePackages{}
	return cfg
}

func withStockProxy(cfg NodeConfig) NodeConfig { return withStock(withProxy(cfg)) }

// fixtureMirror is a plain-HTTP mirror of pkgs.k8s.io, trusted through the
// key in testdata/repository.key (a throwaway key made for these tests).
const fixtureMirror = "http://mirror.example.com:8080/kubernetes/core:/stable:/v1.34/deb/"

func fixtureRepositoryKey(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "repository.key"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withMirror installs from fixtureMirror with its key inline, and a
// containerd from another package.
func withMirror(t testing.TB) func(NodeConfig) NodeConfig {
	return func(cfg NodeConfig) NodeConfig {
		cfg.Packages = &NodePackages{
			KubernetesRepository:    fixtureMirror,
			KubernetesRepositoryKey: fixtureRepositoryKey(t),
			ContainerdPackage:       "containerd.io",
		}
		return cfg
	}
}

// renderedFiles decodes user data into its write_files, by path.
func renderedFiles(t testing.TB, userData []byte) (map[string]cloudFile, cloudConfig) {
	t.Helper()
	var cc cloudConfig
	if err := yaml.UnmarshalStrict(userData, &cc); err != nil {
		t.Fatalf("user data does not parse as cloud-config: %v", err)
	}
	files := make(map[string]cloudFile, len(cc.WriteFiles))
	for _, f := range cc.WriteFiles {
		if _, dup := files[f.Path]; dup {
			t.Fatalf("%s written twice", f.Path)
		}
		files[f.Path] = f
	}
	return files, cc
}

// kubeadmDocs decodes the kubeadm configuration written to the node into
// kubeadm's types, strictly: a misspelt field fails the test.
type kubeadmDocs struct {
	init    *initConfiguration
	cluster *clusterConfiguration
	join    *joinConfiguration
}

func decodeKubeadm(t testing.TB, files map[string]cloudFile) kubeadmDocs {
	t.Helper()
	f, ok := files[kubeadmConfig]
	if !ok {
		t.Fatalf("no %s", kubeadmConfig)
	}
	var docs kubeadmDocs
	for doc := range strings.SplitSeq(f.Content, "\n---\n") {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("kubeadm document: %v", err)
		}
		if meta.APIVersion != kubeadmAPIVersion {
			t.Fatalf("kubeadm document apiVersion %q, want %q", meta.APIVersion, kubeadmAPIVersion)
		}
		var into any
		switch meta.Kind {
		case kindInitConfiguration:
			docs.init = &initConfiguration{}
			into = docs.init
		case kindClusterConfiguration:
			docs.cluster = &clusterConfiguration{}
			into = docs.cluster
		case kindJoinConfiguration:
			docs.join = &joinConfiguration{}
			into = docs.join
		default:
			t.Fatalf("unexpected kubeadm kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	return docs
}
