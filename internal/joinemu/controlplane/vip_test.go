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

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

// A VIP that is not a local address (a Service ClusterIP in kind) is held
// at the local address VIPListen maps it to: kubeadm's joins find the
// cluster through it, and a client dialling there verifies the API server
// as the VIP, as one routed by the Service would.
func TestVIPListen(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(2)
	cp, worker := ms[0], ms[1]
	srv, maas := startSim(t, ms)
	tn := newTenant(t, "routed")
	listen := newVIP() + ":16443"
	tn.vip = "198.51.100.10" // TEST-NET-2: routed nowhere, so only the mapping reaches it
	e := newEmulator(t, srv, controlplane.Options{
		Interval: time.Second, VIPListen: map[string]string{tn.endpoint(): listen},
	})
	deploy(t, maas, cp.SystemID, tn.userData(t, bootstrap.RoleInitControlPlane, cp.SystemID))
	deploy(t, maas, worker.SystemID, tn.userData(t, bootstrap.RoleJoinWorker, worker.SystemID))

	cfg, err := clientcmd.RESTConfigFromKubeConfig(tn.kubeconfig(t))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.Host).To(Equal("https://" + tn.endpoint()))
	cfg.Host, cfg.ServerName, cfg.Timeout = "https://"+listen, tn.vip, 10*time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		g.Expect(nodes(g, cs)).To(HaveLen(2))
	}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
	g.Expect(e.Endpoints()).To(ConsistOf(tn.endpoint()))
	g.Expect(e.State(worker.SystemID)).To(Equal(controlplane.MachineState{Kubelet: true}))

	// The admin configuration the emulator hands tests reaches it too.
	admin, err := e.AdminConfig(tn.endpoint())
	g.Expect(err).NotTo(HaveOccurred())
	_, err = kubernetes.NewForConfigOrDie(admin).Discovery().ServerVersion()
	g.Expect(err).NotTo(HaveOccurred())
}

func TestVIPListenChecked(t *testing.T) {
	for _, m := range []map[string]string{
		{"10.96.0.100": "127.0.0.1:16443"},
		{"10.96.0.100:6443": "16443"},
	} {
		if _, err := controlplane.New(controlplane.Options{BinDir: binDir(t), VIPListen: m}); err == nil {
			t.Errorf("VIPListen %v accepted", m)
		}
	}
}
