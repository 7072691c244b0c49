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

package workload

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	maasclient "github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// The clusters of these tests are real etcd and kube-apiserver processes
// played by internal/joinemu/controlplane for machines of an in-process
// MAAS simulator, on addresses of 127.21.0.0/16.

const k8sVersion = "v1.34.2"

var worldSeq atomic.Int32

// world is one emulated tenant cluster and what the operator holds for it.
type world struct {
	t        *testing.T
	sim      *maassim.Server
	maas     *maasclient.Client
	emu      *controlplane.Emulator
	name     string
	vip      string
	pki      *bootstrap.ClusterPKI
	token    bootstrap.BootstrapToken
	certKey  bootstrap.CertificateKey
	machines []maassim.MachineSpec
}

// newWorld starts a simulator with n machines and an emulator attached to it.
func newWorld(t *testing.T, n int, opts controlplane.Options) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("runs etcd and kube-apiserver processes")
	}
	s := worldSeq.Add(1)
	w := &world{t: t, name: fmt.Sprintf("w%d", s), vip: fmt.Sprintf("127.21.%d.100", s)}
	for i := range n {
		w.machines = append(w.machines, maassim.MachineSpec{
			SystemID: fmt.Sprintf("w%dm%d", s, i), Hostname: fmt.Sprintf("w%d-m%d", s, i),
			Arch: "amd64/generic", CPU: 4, MemoryMiB: 8192,
			IPs: []string{fmt.Sprintf("127.21.%d.%d", s, 10+i)},
		})
	}
	cfg := maassim.DefaultConfig()
	cfg.Inventory = w.machines
	cfg.DeployTime, cfg.DeployJitter = 20*time.Millisecond, 0
	cfg.ReleaseTime, cfg.ReleaseJitter = 20*time.Millisecond, 0
	var err error
	if w.sim, err = maassim.Start(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	if w.maas, err = maasclient.GetClient(w.sim.URL, w.sim.DefaultAPIKey(), "2.0"); err != nil {
		t.Fatal(err)
	}
	if opts.BinDir, err = envtest.AssetsDir(); err != nil {
		t.Fatal(err)
	}
	opts.Log = funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{})
	if w.emu, err = controlplane.New(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dir := w.emu.Dir()
		if err := w.emu.Close(); err != nil {
			t.Error(err)
		}
		if leaks, _ := controlplane.Leaks(dir); len(leaks) > 0 {
			t.Errorf("processes left running: %v", leaks)
		}
	})
	w.emu.Attach(w.sim)
	if w.pki, err = bootstrap.GeneratePKI(); err != nil {
		t.Fatal(err)
	}
	if w.certKey, err = bootstrap.GenerateCertificateKey(); err != nil {
		t.Fatal(err)
	}
	if w.token, err = bootstrap.GenerateBootstrapToken(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) access() Access {
	return Access{PKI: w.pki, Endpoint: Endpoint{VIP: w.vip}, KubernetesVersion: k8sVersion}
}

func (w *world) machine(i int) Machine {
	return Machine{SystemID: w.machines[i].SystemID, Hostname: w.machines[i].Hostname}
}

func (w *world) ip(i int) string { return w.machines[i].IPs[0] }

func (w *world) nodeName(i int) string { return strings.ToLower(w.machines[i].Hostname) }

// deploy allocates and deploys machine i with the user data the operator
// renders for role.
func (w *world) deploy(i int, role bootstrap.Role) {
	w.t.Helper()
	id := w.machines[i].SystemID
	cfg := bootstrap.NodeConfig{
		Role: role, ClusterName: w.name, SystemID: id, KubernetesVersion: k8sVersion,
		ControlPlaneEndpoint: w.vip, PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12", Token: w.token,
	}
	if role.ControlPlane() {
		// The init machine uploads the keys, the others download them.
		cfg.CertificateKey, cfg.KubeVIPInterface = w.certKey, "lo"
	}
	if role == bootstrap.RoleInitControlPlane {
		cfg.PKI = w.pki
	}
	if role.Joins() {
		h, err := w.pki.CACertHash()
		if err != nil {
			w.t.Fatal(err)
		}
		cfg.CACertHashes = []string{h}
	}
	ud, err := bootstrap.Render(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.maas.Machines.Allocate(&entity.MachineAllocateParams{SystemID: id}); err != nil {
		w.t.Fatalf("allocate %s: %v", id, err)
	}
	if _, err := w.maas.Machine.Deploy(id, &entity.MachineDeployParams{UserData: base64.StdEncoding.EncodeToString(ud)}); err != nil {
		w.t.Fatalf("deploy %s: %v", id, err)
	}
	NewWithT(w.t).Eventually(func() maassim.Status {
		m, _ := w.sim.Machine(id)
		return m.Status
	}).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(maassim.StatusDeployed))
}
