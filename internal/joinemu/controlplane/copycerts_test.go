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
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

// A joining control plane whose certificate key does not open the
// kubeadm-certs Secret, or which finds that Secret expired or gone, fails
// its join with kubeadm's reason, before it touches etcd: no member, no
// Node, the machine Deployed in MAAS as on hardware.
func TestControlPlaneJoinNeedsTheCertificateKey(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(4)
	cp1, wrongKey, expired, gone := ms[0], ms[1], ms[2], ms[3]
	srv, maas := startSim(t, ms)
	tn := newTenant(t, "tenant-keys")
	e := newEmulator(t, srv, controlplane.Options{Interval: time.Second})
	ctx := context.Background()

	deploy(t, maas, cp1.SystemID, tn.userData(t, bootstrap.RoleInitControlPlane, cp1.SystemID))
	cs := tn.client(t)
	g.Eventually(func(g Gomega) {
		s, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "kubeadm-certs", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tn.pki.HoldsKubeadmCerts(s.Data, tn.certKey)).To(BeTrue(), "kubeadm init uploaded the keys under the init node's key")
	}).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())

	failsWith := func(systemID, want string) {
		t.Helper()
		g.Eventually(func() error { return e.KubeadmError(systemID) }).
			WithTimeout(time.Minute).WithPolling(100*time.Millisecond).Should(MatchError(ContainSubstring(want)), systemID)
	}

	right := tn.certKey
	tn.certKey, _ = bootstrap.GenerateCertificateKey()
	deploy(t, maas, wrongKey.SystemID, tn.userData(t, bootstrap.RoleJoinControlPlane, wrongKey.SystemID))
	failsWith(wrongKey.SystemID, "the certificate key does not decrypt")
	tn.certKey = right

	// The token that owns the Secret has expired: the token cleaner and
	// the garbage collector would have removed both.
	s, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "kubeadm-certs", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	owner := metav1.GetControllerOf(s)
	g.Expect(owner).NotTo(BeNil(), "the kubeadm-certs Secret is owned by a bootstrap token")
	tok, err := cs.CoreV1().Secrets("kube-system").Get(ctx, owner.Name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tok.Data).NotTo(HaveKey(HavePrefix("usage-")), "the owner token authenticates nobody")
	tok.Data["expiration"] = []byte(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	_, err = cs.CoreV1().Secrets("kube-system").Update(ctx, tok, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	deploy(t, maas, expired.SystemID, tn.userData(t, bootstrap.RoleJoinControlPlane, expired.SystemID))
	failsWith(expired.SystemID, "This Secret might have expired")
	g.Expect(e.KubeadmError(expired.SystemID)).To(MatchError(ContainSubstring("expired at")))

	deploy(t, maas, gone.SystemID, tn.userData(t, bootstrap.RoleJoinControlPlane, gone.SystemID))
	failsWith(gone.SystemID, `Secret "kubeadm-certs" was not found in the "kube-system" Namespace`)

	for _, m := range []string{wrongKey.SystemID, expired.SystemID, gone.SystemID} {
		g.Expect(e.KubeadmError(m).Error()).NotTo(ContainSubstring(right.Hex()))
		g.Expect(e.State(m)).To(Equal(controlplane.MachineState{}), "%s runs nothing", m)
	}
	members, err := e.EtcdMembers(ctx, tn.endpoint())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(members).To(HaveLen(1))
	g.Expect(nodes(g, cs)).To(HaveLen(1))
}
