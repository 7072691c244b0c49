//go:build e2e

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

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

const realTenant = "tenant-real"

// realVIPService makes realVIP a ClusterIP that routes to the simulator
// Pod's tenant-api port, where the emulated cluster's VIP is held, as
// kube-vip or a load balancer would hold it on a data-centre network. It
// is a NodePort too, so the test on the host reaches the same VIP through
// kind's node.
func realVIPService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: simNamespace, Name: realTenant + "-vip"},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeNodePort,
			ClusterIP: realVIP,
			Selector:  map[string]string{"app.kubernetes.io/name": simName},
			Ports: []corev1.ServicePort{{
				Name: "https", Port: 6443, TargetPort: intstr.FromString("tenant-api"),
			}},
		},
	}
}

// nodeAddress is the kind node's address on the Docker network kind made.
func nodeAddress() string {
	GinkgoHelper()
	n := &corev1.Node{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: env.node}, n)).To(Succeed())
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
			return a.Address
		}
	}
	Fail("the kind node has no IPv4 InternalIP")
	return ""
}

// realTenantClient is a client of the tenant cluster made from the admin
// kubeconfig Secret the operator wrote, unchanged but for where it dials:
// the VIP's NodePort on kind's node, checking the API server's certificate
// as the VIP, as a client the Service routes would.
func realTenantClient(nodePort int32) client.Client {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: realTenant + "-kubeconfig"}, s)).To(Succeed())
	cfg, err := clientcmd.RESTConfigFromKubeConfig(s.Data[bootstrap.KubeconfigSecretKey])
	Expect(err).NotTo(HaveOccurred())
	Expect(cfg.Host).To(Equal("https://" + realVIP + ":6443"))
	cfg.Host = "https://" + net.JoinHostPort(nodeAddress(), strconv.Itoa(int(nodePort)))
	cfg.ServerName = realVIP
	cfg.Timeout = 10 * time.Second
	c, err := client.New(cfg, client.Options{})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// tenantWithRealControlPlane: a TenantCluster whose VIP is a ClusterIP
// gets a real etcd and kube-apiserver in the simulator's Pod; the kind
// cluster's Pods reach its API server at the VIP, and the operator's admin
// kubeconfig lists the Nodes its machines' kubelets registered.
func tenantWithRealControlPlane() {
	svc := realVIPService()
	Expect(k8s.Create(ctx, svc)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, svc))).To(Succeed()) })
	nodePort := svc.Spec.Ports[0].NodePort
	Expect(nodePort).NotTo(BeZero())

	tc := newTenant(realTenant, realVIP)
	tc.Spec.Workers[0].Size = 1
	// The VIP lies in kind's service range, so the tenant's own must not.
	tc.Spec.Network = &infrav1.ClusterNetwork{ServiceCIDR: "172.20.0.0/16"}
	Expect(k8s.Create(ctx, tc)).To(Succeed())
	Eventually(func(g Gomega) { running(g, realTenant, 2) }).WithTimeout(5 * time.Minute).Should(Succeed())
	owned := ownedBy(simMachines(Default), "TenantCluster", realTenant)
	Expect(owned).To(HaveLen(2))
	var providerIDs []string
	for _, m := range owned {
		providerIDs = append(providerIDs, "maas://"+m.SystemID)
	}

	// From inside kind: the VIP's Service reaches the real API server
	// (through kind's API server proxy, which dials the ClusterIP's
	// endpoints; /version is public, as on any cluster).
	Eventually(func(g Gomega) {
		raw, err := clientset.CoreV1().Services(simNamespace).
			ProxyGet("https", svc.Name, "https", "/version", nil).DoRaw(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		var v struct {
			GitVersion string `json:"gitVersion"`
		}
		g.Expect(json.Unmarshal(raw, &v)).To(Succeed())
		g.Expect(v.GitVersion).To(Equal("v1.34.2"))
	}).WithTimeout(2 * time.Minute).Should(Succeed())

	// The operator's admin kubeconfig: both machines registered as Nodes
	// with their MAAS identities, NotReady until a network plugin runs.
	tenantClient := realTenantClient(nodePort)
	readiness := func(g Gomega) map[string]string {
		nodes := &corev1.NodeList{}
		g.Expect(tenantClient.List(ctx, nodes)).To(Succeed())
		out := map[string]string{}
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					out[n.Spec.ProviderID] = fmt.Sprintf("%s %s", c.Status, c.Reason)
				}
			}
		}
		return out
	}
	Eventually(func(g Gomega) {
		got := readiness(g)
		g.Expect(slices.Collect(maps.Keys(got))).To(ConsistOf(providerIDs))
		for id, r := range got {
			g.Expect(r).To(Equal("False KubeletNotReady"), "Node of %s", id)
		}
	}).WithTimeout(3 * time.Minute).Should(Succeed())
	Expect(tenantClient.Create(ctx, controlplane.NetworkPlugin())).To(Succeed())
	Eventually(func(g Gomega) {
		for id, r := range readiness(g) {
			g.Expect(r).To(HavePrefix("True"), "Node of %s", id)
		}
	}).WithTimeout(2 * time.Minute).Should(Succeed())

	// Deleting the cluster releases its machines, and with them its
	// processes: nothing answers at the VIP any more.
	Expect(k8s.Delete(ctx, tc)).To(Succeed())
	Eventually(func(g Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(tc), &infrav1.TenantCluster{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "TenantCluster still there: %v", err)
		g.Expect(ownedBy(simMachines(g), "TenantCluster", realTenant)).To(BeEmpty())
	}).WithTimeout(5 * time.Minute).Should(Succeed())
	Eventually(func() error {
		_, err := clientset.CoreV1().Services(simNamespace).
			ProxyGet("https", svc.Name, "https", "/version", nil).DoRaw(ctx)
		return err
	}).WithTimeout(time.Minute).Should(HaveOccurred())
}
