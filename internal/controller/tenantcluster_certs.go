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

// How a joining control plane gets the cluster's shared keys without them
// being in its MAAS user data (kubeadm's certificate upload):
//
//   - A join round begins when a control-plane machine is deployed and no
//     certificate key is current: a fresh key goes into the record
//     <cluster>-certificate-key (owned by the cluster), valid for
//     CertificateKeyTTL. Every control plane deployed in the round gets it.
//   - Who uploads: the init machine, when the cluster does not run yet
//     (kubeadm init --upload-certs, before kubeadm makes the cluster
//     discoverable, so the control planes deployed beside it find the
//     Secret when they first can reach the cluster); the operator, through
//     its in-memory client to the cluster, before it deploys a control
//     plane into a running cluster (a deploy waits until that worked).
//   - The kubeadm-certs Secret is owned by a bootstrap token without usages
//     that expires with the key: the token cleaner and the garbage
//     collector remove both, whatever happens to the operator.
//   - While a round runs (a control-plane machine deploying, or deployed
//     without its Node) and its key is valid, each reconcile that reaches
//     the cluster puts the Secret back if it is missing or holds another
//     key: after a manager restart mid-join, a key rotated before the init
//     machine came up, a Secret deleted by hand. The key itself survives a
//     restart in its record.
//   - When no control plane is joining, the round ends: the Secret and its
//     token are deleted from the cluster, then the record is emptied, so the
//     next round gets a new key.
//   - A key with less than certKeyRenewBefore left is not handed to a new
//     machine: a new key replaces it (and the Secret with it). A machine of
//     the old key still joining then fails to decrypt, and the join timeout
//     replaces it; it had over an hour.

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

const (
	// certKeyRecordSuffix names the record of a cluster's current
	// certificate key: <cluster>-certificate-key.
	certKeyRecordSuffix = "-certificate-key"
	// certKeyKey and certKeyExpiryKey are the record's keys.
	certKeyKey       = "key"
	certKeyExpiryKey = "expiration"
	// certKeyRenewBefore: a control plane deployed now must still find the
	// Secret when it joins, after a bare-metal deploy (5 to 20 minutes)
	// and the join timeout (20 minutes from Deployed).
	certKeyRenewBefore = time.Hour
)

// Reasons of the events about certificate keys.
const (
	// ReasonCertificateKeyCreated: a join round began with a new key.
	ReasonCertificateKeyCreated = "CertificateKeyCreated"
	// ReasonCertificatesUploaded: the operator put the kubeadm-certs
	// Secret into the cluster.
	ReasonCertificatesUploaded = "CertificatesUploaded"
	// ReasonCertificateKeyRetired: no control plane was joining any more;
	// the Secret and the key are gone.
	ReasonCertificateKeyRetired = "CertificateKeyRetired"
)

func certKeyRecordName(tc *infrav1.TenantCluster) string { return tc.Name + certKeyRecordSuffix }

// tenantCertKeys is where tc keeps its certificate key.
func (r *TenantClusterReconciler) tenantCertKeys(tc *infrav1.TenantCluster) certKeyRecord {
	return certKeyRecord{c: r.Client, owner: tc, name: certKeyRecordName(tc),
		labels: map[string]string{LabelTenantCluster: tc.Name}, ttl: r.CertificateKeyTTL}
}

// ensureCertificateKey returns the certificate key a control plane
// deployed now joins with, and when it expires: the current one, or a new
// one when there is none or it is too close to its end.
func (r *TenantClusterReconciler) ensureCertificateKey(ctx context.Context, tc *infrav1.TenantCluster) (bootstrap.CertificateKey, time.Time, error) {
	key, exp, created, err := r.tenantCertKeys(tc).ensure(ctx)
	if created {
		announceCertificateKey(r.Recorder, tc, exp)
	}
	return key, exp, err
}

// tenantAccess is how the operator reaches tc's API server: at the VIP of
// its spec, with credentials signed from its CA.
func tenantAccess(tc *infrav1.TenantCluster, pki *bootstrap.ClusterPKI) workload.Access {
	return workload.Access{PKI: pki, Endpoint: workload.Endpoint{VIP: tc.Spec.ControlPlaneEndpoint},
		KubernetesVersion: tc.Spec.Profile.KubernetesVersion}
}

// publishCerts makes the cluster's kubeadm-certs Secret hold its PKI
// encrypted with key, owned by a bootstrap token that expires with the key,
// and readable by the node token group; uploaded reports whether it wrote.
func publishCerts(ctx context.Context, cl client.Client, pki *bootstrap.ClusterPKI, key bootstrap.CertificateKey, exp time.Time) (uploaded bool, _ error) {
	nn := types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: bootstrap.KubeadmCertsSecretName}
	s := &corev1.Secret{}
	err := cl.Get(ctx, nn, s)
	found := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading Secret %s: %w", nn, err)
	}
	var oldOwner string
	if found {
		if ref := metav1.GetControllerOfNoCopy(s); ref != nil {
			oldOwner = ref.Name
		}
		if pki.HoldsKubeadmCerts(s.Data, key) && oldOwner != "" && ownerLastsUntil(ctx, cl, oldOwner, exp) {
			return false, nil
		}
	}
	data, err := pki.KubeadmCertsData(key)
	if err != nil {
		return false, err
	}
	ts, err := bootstrap.KubeadmCertsTokenSecret(exp)
	if err != nil {
		return false, err
	}
	owner := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ts.Namespace, Name: ts.Name}, Type: ts.Type, Data: ts.Data}
	if err := cl.Create(ctx, owner); err != nil {
		return false, fmt.Errorf("creating the token that bounds the life of Secret %s: %w", nn, err)
	}
	ref := metav1.NewControllerRef(owner, corev1.SchemeGroupVersion.WithKind("Secret"))
	if found {
		s.Data, s.OwnerReferences = data, []metav1.OwnerReference{*ref}
		err = cl.Update(ctx, s)
	} else {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nn.Namespace, Name: nn.Name, OwnerReferences: []metav1.OwnerReference{*ref}},
			Type: corev1.SecretTypeOpaque, Data: data}
		err = cl.Create(ctx, s)
	}
	if err != nil {
		// The new token owns nothing: let it not outlive this attempt.
		_ = cl.Delete(ctx, owner)
		return false, fmt.Errorf("writing Secret %s: %w", nn, err)
	}
	if oldOwner != "" && oldOwner != owner.Name {
		// It owns nothing any more.
		old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nn.Namespace, Name: oldOwner}}
		if err := cl.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
			return true, fmt.Errorf("deleting the former owner token of Secret %s: %w", nn, err)
		}
	}
	return true, ensureKubeadmCertsRBAC(ctx, cl)
}

// ownerLastsUntil says whether the bootstrap token name (in kube-system)
// exists and expires at exp: a Secret whose owner expires sooner would go
// before the key, one whose owner lasts longer would outlive it.
func ownerLastsUntil(ctx context.Context, cl client.Client, name string, exp time.Time) bool {
	t := &corev1.Secret{}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: name}, t); err != nil {
		return false
	}
	got, ok := bootstrap.KubeadmCertsTokenExpiry(t.Data)
	return ok && got.Equal(exp)
}

// ensureKubeadmCertsRBAC lets the node token group get the kubeadm-certs
// Secret (and nothing else), as kubeadm init --upload-certs does; an init
// machine that uploaded made them already.
func ensureKubeadmCertsRBAC(ctx context.Context, cl client.Client) error {
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: bootstrap.KubeadmCertsRoleName},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""},
			Resources: []string{"secrets"}, ResourceNames: []string{bootstrap.KubeadmCertsSecretName}}},
	}
	if err := cl.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Role kube-system/%s: %w", role.Name, err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: bootstrap.KubeadmCertsRoleName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: bootstrap.KubeadmCertsRoleName},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: bootstrap.NodeTokenGroup}},
	}
	if err := cl.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating RoleBinding kube-system/%s: %w", binding.Name, err)
	}
	return nil
}

// retireCerts deletes the kubeadm-certs Secret and the token that owns it.
func retireCerts(ctx context.Context, cl client.Client) error {
	s := &corev1.Secret{}
	err := cl.Get(ctx, types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: bootstrap.KubeadmCertsSecretName}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ref := metav1.GetControllerOfNoCopy(s); ref != nil && ref.Kind == "Secret" {
		owner := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: ref.Name}}
		if err := cl.Delete(ctx, owner); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := cl.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// tenantJoinRound is tc's certificate upload, through the operator's
// connection to the cluster.
func (r *TenantClusterReconciler) tenantJoinRound(tc *infrav1.TenantCluster, pki *bootstrap.ClusterPKI) joinRound {
	return joinRound{record: r.tenantCertKeys(tc), recorder: r.Recorder, pki: pki, endpoint: tc.Spec.ControlPlaneEndpoint,
		cluster: func(context.Context) (client.Client, error) {
			cl, err := r.Clusters.Get(client.ObjectKeyFromObject(tc), tenantAccess(tc, pki))
			if err != nil {
				return nil, err
			}
			return cl.Client, nil
		}}
}

// joiningControlPlanes says whether a control-plane machine of owned is on
// its way into the cluster: allocated, deploying, or deployed with no Node.
func joiningControlPlanes(owned []maas.Machine, v *workloadView) bool {
	return slices.ContainsFunc(owned, func(m maas.Machine) bool {
		if m.Owner == nil || m.Owner.Pool != infrav1.ControlPlanePoolName {
			return false
		}
		switch rollout.ParseState(m.StatusName) {
		case rollout.StateAllocated, rollout.StateDeploying:
			return true
		case rollout.StateDeployed:
			return v.nodeState(m) == rollout.NodeAbsent
		}
		return false
	})
}

// syncCertificateKey keeps the kubeadm-certs Secret in the cluster while a
// join round runs, and ends the round (Secret, token, record) once no
// control plane is joining. It acts only on a cluster it reached and whose
// Nodes it listed: from outside, the Secret's own expiry is the bound.
func (r *TenantClusterReconciler) syncCertificateKey(ctx context.Context, tc *infrav1.TenantCluster, owned []maas.Machine, v *workloadView) error {
	if v == nil || !v.synced || !v.healthy {
		return nil
	}
	record, _, _, _, err := r.tenantCertKeys(tc).current(ctx)
	if err != nil || record == nil || len(record.Data) == 0 {
		return err
	}
	pki, err := r.ensurePKI(ctx, tc)
	if err != nil {
		return err
	}
	return r.tenantJoinRound(tc, pki).sync(ctx, joiningControlPlanes(owned, v))
}
