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

package controlplane_test

// The tests run real etcd, kube-apiserver and kube-controller-manager
// processes (the envtest assets), driven by an in-process MAAS simulator
// that gomaasclient allocates and deploys through, as the operator does.
// Machines and VIPs live in 127.120.0.0/15, away from the addresses other
// suites use as data.

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	maasclient "github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

const k8sVersion = "v1.34.2"

// TestMain fails the run if a process an emulator started outlives the
// tests.
func TestMain(m *testing.M) {
	code := m.Run()
	left, err := controlplane.Children()
	if err != nil {
		fmt.Fprintln(os.Stderr, "looking for leaked processes:", err)
		code = 1
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes left running:\n%s\n", strings.Join(left, "\n"))
		code = 1
	}
	os.Exit(code)
}

var (
	assetsOnce sync.Once
	assetsDir  string
	assetsErr  error
)

func binDir(t *testing.T) string {
	t.Helper()
	assetsOnce.Do(func() { assetsDir, assetsErr = envtest.AssetsDir() })
	if assetsErr != nil {
		t.Fatalf("envtest assets: %v", assetsErr)
	}
	return assetsDir
}

// newEmulator starts an emulator for the rest of the test; its Close must
// leave no process behind.
func newEmulator(t *testing.T, srv *maassim.Server, opts controlplane.Options) *controlplane.Emulator {
	t.Helper()
	opts.BinDir = binDir(t)
	opts.Log = funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{Verbosity: 0})
	e, err := controlplane.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dir := e.Dir()
		if err := e.Close(); err != nil {
			t.Error(err)
		}
		if leaks, _ := controlplane.Leaks(dir); len(leaks) > 0 {
			t.Errorf("processes left running after Close: %v", leaks)
		}
	})
	e.Attach(srv)
	return e
}

var (
	seq atomic.Int32
	// subnet is this test binary's /24 in 127.120.0.0/16 (machines) and
	// 127.121.0.0/16 (VIPs): the same tests run from other checkouts at the
	// same time must not serve on the same addresses.
	subnet = os.Getpid() % 250
)

// newMachines returns n machines with loopback addresses of their own.
func newMachines(n int) []maassim.MachineSpec {
	specs := make([]maassim.MachineSpec, n)
	for i := range specs {
		s := seq.Add(1)
		specs[i] = maassim.MachineSpec{
			SystemID:  fmt.Sprintf("cp%04d", s),
			Hostname:  fmt.Sprintf("Node-%04d", s),
			Arch:      "amd64/generic",
			CPU:       4,
			MemoryMiB: 8192,
			IPs:       []string{fmt.Sprintf("127.120.%d.%d", subnet, 1+s%250)},
		}
	}
	return specs
}

// newVIP returns a loopback VIP no other test uses.
func newVIP() string { return fmt.Sprintf("127.121.%d.%d", subnet, 1+seq.Add(1)%250) }

func startSim(t *testing.T, machines []maassim.MachineSpec) (*maassim.Server, *maasclient.Client) {
	t.Helper()
	cfg := maassim.DefaultConfig()
	cfg.Inventory = machines
	cfg.DeployTime, cfg.DeployJitter = 20*time.Millisecond, 0
	cfg.ReleaseTime, cfg.ReleaseJitter = 20*time.Millisecond, 0
	srv, err := maassim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := maasclient.GetClient(srv.URL, srv.DefaultAPIKey(), "2.0")
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// tenant is what the operator holds for one cluster: its PKI, token and VIP.
type tenant struct {
	name  string
	vip   string
	pki   *bootstrap.ClusterPKI
	token bootstrap.BootstrapToken
	// certKey is what the init node uploads the shared keys with and what
	// joining control planes download them with.
	certKey bootstrap.CertificateKey
}

func newTenant(t *testing.T, name string) *tenant {
	t.Helper()
	p, err := bootstrap.GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := bootstrap.GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	key, err := bootstrap.GenerateCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &tenant{name: name, vip: newVIP(), pki: p, token: tok, certKey: key}
}

func (tn *tenant) endpoint() string { return tn.vip + ":6443" }

// userData renders machine systemID's user data for role, as the operator
// does.
func (tn *tenant) userData(t *testing.T, role bootstrap.Role, systemID string) []byte {
	t.Helper()
	cfg := bootstrap.NodeConfig{
		Role: role, ClusterName: tn.name, SystemID: systemID, KubernetesVersion: k8sVersion,
		ControlPlaneEndpoint: tn.vip, PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12",
		Token: tn.token, Labels: map[string]string{"infra.maasgateway.io/pool": "workers"},
	}
	if role.ControlPlane() {
		cfg.CertificateKey, cfg.KubeVIPInterface = tn.certKey, "lo"
		cfg.Labels["infra.maasgateway.io/pool"] = "control-plane"
	}
	if role == bootstrap.RoleInitControlPlane {
		cfg.PKI = tn.pki
	}
	if role.Joins() {
		h, err := tn.pki.CACertHash()
		if err != nil {
			t.Fatal(err)
		}
		cfg.CACertHashes = []string{h}
	}
	ud, err := bootstrap.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ud
}

// kubeconfig is the admin kubeconfig the operator writes for the tenant.
func (tn *tenant) kubeconfig(t *testing.T) []byte {
	t.Helper()
	kc, err := bootstrap.AdminKubeconfig(bootstrap.AdminKubeconfigConfig{
		ClusterName: tn.name, ControlPlaneEndpoint: tn.vip, KubernetesVersion: k8sVersion,
		CA: tn.pki.CA, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func (tn *tenant) client(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(tn.kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func deploy(t *testing.T, c *maasclient.Client, systemID string, userData []byte) {
	t.Helper()
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: systemID}); err != nil {
		t.Fatalf("allocate %s: %v", systemID, err)
	}
	if _, err := c.Machine.Deploy(systemID, &entity.MachineDeployParams{UserData: base64.StdEncoding.EncodeToString(userData)}); err != nil {
		t.Fatalf("deploy %s: %v", systemID, err)
	}
}

func release(t *testing.T, c *maasclient.Client, systemID string) {
	t.Helper()
	if _, err := c.Machine.Release(systemID, &entity.MachineReleaseParams{}); err != nil {
		t.Fatalf("release %s: %v", systemID, err)
	}
}

func awaitStatus(t *testing.T, srv *maassim.Server, systemID string, status maassim.Status) {
	t.Helper()
	NewWithT(t).Eventually(func() maassim.Status {
		m, _ := srv.Machine(systemID)
		return m.Status
	}).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(status))
}

func nodeName(spec maassim.MachineSpec) string { return strings.ToLower(spec.Hostname) }

func ready(n corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func nodes(g Gomega, cs kubernetes.Interface) []corev1.Node {
	list, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return list.Items
}
