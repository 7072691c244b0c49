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

package joinemu_test

// The tests run the emulator against a real kube-apiserver and etcd
// (envtest), started once for the package when a test first needs it, and a
// MAAS simulator per test that gomaasclient drives as the operator would.

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
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// The cluster the test machines join: its VIP is data in the user data,
// never dialled.
const (
	vip         = "10.11.12.100"
	endpoint    = vip + ":6443"
	clusterName = "gw"
	k8sVersion  = "v1.34.2"
)

var (
	envOnce sync.Once
	env     *ctrlenvtest.Environment
	k8s     client.WithWatch
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}
	os.Exit(code)
}

// cluster returns a client of the envtest API server, starting it once.
func cluster(t *testing.T) client.WithWatch {
	t.Helper()
	envOnce.Do(func() {
		env, envErr = envtest.New(envtest.Options{})
		if envErr != nil {
			return
		}
		// Nodes and Leases are built in: the project's CRDs would only
		// slow the start.
		env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false
		cfg, err := env.Start()
		if err != nil {
			envErr, env = err, nil
			return
		}
		k8s, envErr = client.NewWithWatch(cfg, client.Options{})
	})
	if envErr != nil {
		t.Fatalf("envtest: %v", envErr)
	}
	return k8s
}

var machineSeq atomic.Int32

// newMachines returns n machines with names no other test uses, as Nodes
// are cluster-wide. Their addresses are loopback ones: data, never dialled.
func newMachines(n int) []maassim.MachineSpec {
	specs := make([]maassim.MachineSpec, n)
	for i := range specs {
		seq := machineSeq.Add(1)
		specs[i] = maassim.MachineSpec{
			SystemID:  fmt.Sprintf("sys%04d", seq),
			Hostname:  fmt.Sprintf("Host-%04d", seq), // the kubelet lowercases it
			Arch:      "amd64/generic",
			CPU:       8,
			MemoryMiB: 16384,
			IPs:       []string{fmt.Sprintf("127.0.%d.%d", seq/250+1, seq%250+1)},
		}
	}
	return specs
}

// startSim runs a simulator with machines and returns it with an admin
// gomaasclient.
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

// logRecorder keeps the emulator's log lines, so tests can await what it
// did and check it logged no error.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) count(substrings ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		all := true
		for _, s := range substrings {
			all = all && strings.Contains(l, s)
		}
		if all {
			n++
		}
	}
	return n
}

// errors counts the lines logged with Logger.Error.
func (r *logRecorder) errors() int { return r.count(`"error"=`) }

func newLogger(t *testing.T) (logr.Logger, *logRecorder) {
	rec := &logRecorder{}
	return funcr.New(func(prefix, args string) {
		rec.mu.Lock()
		rec.lines = append(rec.lines, args)
		rec.mu.Unlock()
		t.Log(args)
	}, funcr.Options{Verbosity: 1}), rec
}

// attach runs an emulator on srv for the rest of the test; cfg.Client
// defaults to the envtest client and cfg.Log to a recorder.
func attach(t *testing.T, srv *maassim.Server, cfg joinemu.Config) *logRecorder {
	t.Helper()
	if cfg.Client == nil {
		cfg.Client = cluster(t)
	}
	log, rec := newLogger(t)
	cfg.Log = log
	e, err := joinemu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Attach(srv))
	return rec
}

// nodeConfig is a valid NodeConfig of role for the test cluster.
func nodeConfig(t *testing.T, role bootstrap.Role, systemID string) bootstrap.NodeConfig {
	t.Helper()
	tok, err := bootstrap.GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	cfg := bootstrap.NodeConfig{
		Role:                 role,
		ClusterName:          clusterName,
		SystemID:             systemID,
		KubernetesVersion:    k8sVersion,
		ControlPlaneEndpoint: vip,
		PodCIDR:              "192.168.0.0/16",
		ServiceCIDR:          "10.96.0.0/12",
		Token:                tok,
		Labels:               map[string]string{"infra.maasgateway.io/pool": "workers"},
	}
	if role.ControlPlane() {
		key, err := bootstrap.GenerateCertificateKey()
		if err != nil {
			t.Fatal(err)
		}
		cfg.CertificateKey = key
		if role == bootstrap.RoleInitControlPlane {
			cfg.PKI = testPKI(t)
		}
		cfg.KubeVIPInterface = "eth0"
		cfg.Labels["infra.maasgateway.io/pool"] = "control-plane"
	}
	if role.Joins() {
		hash, err := testPKI(t).CACertHash()
		if err != nil {
			t.Fatal(err)
		}
		cfg.CACertHashes = []string{hash}
	}
	return cfg
}

var (
	pkiOnce sync.Once
	pki     *bootstrap.ClusterPKI
	pkiErr  error
)

func testPKI(t *testing.T) *bootstrap.ClusterPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = bootstrap.GeneratePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func render(t *testing.T, cfg bootstrap.NodeConfig) []byte {
	t.Helper()
	ud, err := bootstrap.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ud
}

// deploy allocates and deploys machine systemID with user data, as the
// operator does.
func deploy(t *testing.T, c *maasclient.Client, systemID string, userData []byte) {
	t.Helper()
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: systemID}); err != nil {
		t.Fatalf("allocate %s: %v", systemID, err)
	}
	params := &entity.MachineDeployParams{}
	if userData != nil {
		params.UserData = base64.StdEncoding.EncodeToString(userData)
	}
	if _, err := c.Machine.Deploy(systemID, params); err != nil {
		t.Fatalf("deploy %s: %v", systemID, err)
	}
}

func release(t *testing.T, c *maasclient.Client, systemID string) {
	t.Helper()
	if _, err := c.Machine.Release(systemID, &entity.MachineReleaseParams{}); err != nil {
		t.Fatalf("release %s: %v", systemID, err)
	}
}

// awaitStatus waits until the simulator shows machine systemID in status.
func awaitStatus(t *testing.T, srv *maassim.Server, systemID string, status maassim.Status) {
	t.Helper()
	NewWithT(t).Eventually(func() maassim.Status {
		m, _ := srv.Machine(systemID)
		return m.Status
	}).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(status))
}

// awaitNode waits until Node name is registered (it has a Ready condition,
// which comes with the status update after its creation) and returns it.
func awaitNode(t *testing.T, name string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{}
	NewWithT(t).Eventually(func() (corev1.ConditionStatus, error) {
		err := cluster(t).Get(context.Background(), client.ObjectKey{Name: name}, node)
		return readyStatus(node), err
	}).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).ShouldNot(BeEmpty())
	return node
}

// awaitNoNode waits until Node name is gone.
func awaitNoNode(t *testing.T, name string) {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(cluster(t).Get(context.Background(), client.ObjectKey{Name: name}, &corev1.Node{}))
	}).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(BeTrue())
}

// absent says whether Node name does not exist now.
func absent(t *testing.T, name string) bool {
	t.Helper()
	err := cluster(t).Get(context.Background(), client.ObjectKey{Name: name}, &corev1.Node{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

func nodeNameOf(spec maassim.MachineSpec) string { return strings.ToLower(spec.Hostname) }
