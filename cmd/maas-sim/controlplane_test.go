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

package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// TestRunControlPlanes: with -control-planes, machines get loopback
// addresses and a machine deployed with kubeadm-init user data becomes a real
// API server on the cluster's VIP, reached with the admin kubeconfig the
// operator would write; on shutdown no process is left.
func TestRunControlPlanes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	g := NewWithT(t)
	assets, err := envtest.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	// The emulator works under the temporary directory: a fresh one tells
	// its processes from other tests'.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	inv := filepath.Join(t.TempDir(), "inv.yaml")
	g.Expect(os.WriteFile(inv, []byte("machines:\n"+
		"- {hostname: cp-01, systemID: cp0001, cpu: 4, memoryMiB: 8192, ips: [10.43.1.2]}\n"), 0o600)).To(Succeed())
	out := &lineWriter{re: regexp.MustCompile(`MAAS API at (\S+) `), match: make(chan []string, 1)}
	errOut := &lineWriter{re: regexp.MustCompile(`kubeadm failed`), match: make(chan []string, 1)}
	// The VIP is not a local address, as a Service ClusterIP in kind is
	// not: the simulator holds it at listen, where the Service would route.
	const vip, listen = "198.51.100.20", "127.43.100.1:16443"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-inventory", inv, "-deploy-time", "10ms",
			"-deploy-jitter", "0s", "-control-planes", assets, "-control-plane-vip", vip + ":6443=" + listen}, out, errOut)
	}()
	var url string
	select {
	case m := <-out.match:
		url = m[1]
	case code := <-done:
		t.Fatalf("run exited with %d: %s", code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no start banner: %s", out.String())
	}
	c, err := client.GetClient(url, maassim.DefaultAPIKey, "2.0")
	g.Expect(err).NotTo(HaveOccurred())

	pki, err := bootstrap.GeneratePKI()
	g.Expect(err).NotTo(HaveOccurred())
	tok, err := bootstrap.GenerateBootstrapToken()
	g.Expect(err).NotTo(HaveOccurred())
	ud, err := bootstrap.Render(bootstrap.NodeConfig{
		Role: bootstrap.RoleInitControlPlane, ClusterName: "solo", SystemID: "cp0001", KubernetesVersion: "v1.34.2",
		ControlPlaneEndpoint: vip, PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12", Token: tok,
		PKI: pki, KubeVIPInterface: "lo",
	})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: "cp0001"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Machine.Deploy("cp0001", &entity.MachineDeployParams{UserData: base64.StdEncoding.EncodeToString(ud)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() ([]string, error) {
		got, err := c.Machine.Get("cp0001")
		if err != nil {
			return nil, err
		}
		var ips []string
		for _, ip := range got.IPAddresses {
			ips = append(ips, ip.String())
		}
		return ips, nil
	}).WithTimeout(30*time.Second).Should(Equal([]string{"127.43.1.2"}), "the machine's address moved to loopback")

	kc, err := bootstrap.AdminKubeconfig(bootstrap.AdminKubeconfigConfig{
		ClusterName: "solo", ControlPlaneEndpoint: vip, KubernetesVersion: "v1.34.2", CA: pki.CA, Now: time.Now(),
	})
	g.Expect(err).NotTo(HaveOccurred())
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Host, cfg.ServerName = "https://"+listen, vip
	tenant, err := ctrlclient.New(cfg, ctrlclient.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() ([]string, error) {
		nodes := &corev1.NodeList{}
		if err := tenant.List(ctx, nodes); err != nil {
			return nil, err
		}
		var names []string
		for _, n := range nodes.Items {
			names = append(names, n.Name+" "+n.Spec.ProviderID)
		}
		return names, nil
	}).WithTimeout(2*time.Minute).WithPolling(500*time.Millisecond).Should(Equal([]string{"cp-01 maas://cp0001"}),
		"the init machine's Node in its own cluster, through the VIP's listener")

	cancel()
	select {
	case code := <-done:
		g.Expect(code).To(BeZero(), errOut.String())
	case <-time.After(time.Minute):
		t.Fatal("no shutdown")
	}
	leaks, err := controlplane.Leaks(tmp)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(leaks).To(BeEmpty(), "processes outlived maas-sim")
}
