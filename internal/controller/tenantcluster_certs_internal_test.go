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

package controller

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// What the operator puts into a tenant cluster for a join round, and takes
// out when it ends, against a client of that cluster.
func TestPublishAndRetireCerts(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(scheme).Build()
	pki, err := bootstrap.GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := bootstrap.GenerateCertificateKey()
	exp := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)

	certs := func() (*corev1.Secret, *corev1.Secret) {
		t.Helper()
		s := &corev1.Secret{}
		if err := cl.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, s); err != nil {
			t.Fatalf("kubeadm-certs: %v", err)
		}
		ref := metav1.GetControllerOf(s)
		if ref == nil || ref.Kind != "Secret" {
			t.Fatalf("kubeadm-certs is owned by %+v, want a bootstrap token", ref)
		}
		owner := &corev1.Secret{}
		if err := cl.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: ref.Name}, owner); err != nil {
			t.Fatalf("its owner: %v", err)
		}
		return s, owner
	}

	uploaded, err := publishCerts(ctx, cl, pki, key, exp)
	if err != nil || !uploaded {
		t.Fatalf("first publish: uploaded %v, %v", uploaded, err)
	}
	s, owner := certs()
	if !pki.HoldsKubeadmCerts(s.Data, key) {
		t.Error("the Secret does not hold the PKI under the key")
	}
	if got, ok := bootstrap.KubeadmCertsTokenExpiry(owner.Data); !ok || !got.Equal(exp) {
		t.Errorf("owner token expires %v, want with the key at %v", got, exp)
	}
	role, binding := &rbacv1.Role{}, &rbacv1.RoleBinding{}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm:kubeadm-certs"}, role); err != nil ||
		len(role.Rules) != 1 || role.Rules[0].ResourceNames[0] != "kubeadm-certs" || role.Rules[0].Verbs[0] != "get" {
		t.Errorf("Role: %v %+v", err, role.Rules)
	}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm:kubeadm-certs"}, binding); err != nil ||
		binding.Subjects[0].Name != bootstrap.NodeTokenGroup {
		t.Errorf("RoleBinding: %v %+v", err, binding.Subjects)
	}

	if uploaded, err := publishCerts(ctx, cl, pki, key, exp); err != nil || uploaded {
		t.Errorf("publish again with the same key: uploaded %v, %v; want nothing written", uploaded, err)
	}

	// A new round's key replaces the Secret and its owner.
	next, _ := bootstrap.GenerateCertificateKey()
	if uploaded, err := publishCerts(ctx, cl, pki, next, exp.Add(time.Hour)); err != nil || !uploaded {
		t.Fatalf("publish a new key: uploaded %v, %v", uploaded, err)
	}
	s2, owner2 := certs()
	if !pki.HoldsKubeadmCerts(s2.Data, next) || pki.HoldsKubeadmCerts(s2.Data, key) {
		t.Error("the Secret is not under the new key alone")
	}
	if owner2.Name == owner.Name {
		t.Error("the owner token was not replaced")
	}
	if err := cl.Get(ctx, client.ObjectKeyFromObject(owner), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the former owner token is left: %v", err)
	}

	if err := retireCerts(ctx, cl); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kubeadm-certs", owner2.Name} {
		if err := cl.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: name}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s left after the round: %v", name, err)
		}
	}
	if err := retireCerts(ctx, cl); err != nil {
		t.Errorf("retiring twice: %v", err)
	}
}

func TestJoiningControlPlanes(t *testing.T) {
	cp := func(id, status string) maas.Machine {
		return maas.Machine{SystemID: id, Hostname: id, StatusName: status, Owner: &maas.Owner{Pool: infrav1.ControlPlanePoolName}}
	}
	worker := maas.Machine{SystemID: "w", StatusName: "Deploying", Owner: &maas.Owner{Pool: "workers"}}
	node := func(name string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: bootstrap.ProviderID(name)}}
	}
	seen := &workloadView{synced: true, healthy: true, nodes: []corev1.Node{node("a"), node("b")}}
	for _, tc := range []struct {
		name  string
		owned []maas.Machine
		want  bool
	}{
		{"all joined", []maas.Machine{cp("a", "Deployed"), cp("b", "Deployed"), worker}, false},
		{"one deployed without its Node", []maas.Machine{cp("a", "Deployed"), cp("c", "Deployed")}, true},
		{"one deploying", []maas.Machine{cp("a", "Deployed"), cp("c", "Deploying")}, true},
		{"one allocated", []maas.Machine{cp("a", "Deployed"), cp("c", "Allocated")}, true},
		{"one releasing", []maas.Machine{cp("a", "Deployed"), cp("c", "Releasing")}, false},
		{"one failed", []maas.Machine{cp("a", "Deployed"), cp("c", "Failed deployment")}, false},
		{"workers do not count", []maas.Machine{cp("a", "Deployed"), worker}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := joiningControlPlanes(tc.owned, seen); got != tc.want {
				t.Errorf("joining = %v, want %v (states %v)", got, tc.want, rollout.ParseState(tc.owned[len(tc.owned)-1].StatusName))
			}
		})
	}
}
