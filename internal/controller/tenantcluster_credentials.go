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

// The TenantCluster's credentials: its PKI, the admin kubeconfig and the
// bootstrap token nodes join with, each kept in a Secret the cluster owns.

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

var pkiPurposes = []bootstrap.SecretPurpose{bootstrap.PurposeCA, bootstrap.PurposeEtcd, bootstrap.PurposeFrontProxy, bootstrap.PurposeServiceAccount}

// ensurePKI reads the cluster's CAs and service-account key from their
// Secrets, generating them the first time. A cluster whose control plane
// runs already never gets new ones: its machines trust the old.
func (r *TenantClusterReconciler) ensurePKI(ctx context.Context, tc *infrav1.TenantCluster) (*bootstrap.ClusterPKI, error) {
	data := map[bootstrap.SecretPurpose]map[string][]byte{}
	var missing []bootstrap.SecretPurpose
	for _, p := range pkiPurposes {
		s := &corev1.Secret{}
		err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: bootstrap.SecretName(tc.Name, p)}, s)
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, p)
		case err != nil:
			return nil, fmt.Errorf("reading Secret %s: %w", bootstrap.SecretName(tc.Name, p), err)
		default:
			data[p] = s.Data
		}
	}
	if len(missing) > 0 {
		if len(missing) < len(pkiPurposes) && len(tc.Status.Machines) > 0 {
			return nil, fmt.Errorf("the Secret %s/%s of a running cluster is missing: restore it from a backup; a new key pair would not be trusted by the cluster's machines",
				tc.Namespace, bootstrap.SecretName(tc.Name, missing[0]))
		}
		fresh, err := bootstrap.GeneratePKI()
		if err != nil {
			return nil, err
		}
		generated := fresh.SecretData()
		for _, p := range missing {
			if err := r.createOwnedSecret(ctx, tc, bootstrap.SecretName(tc.Name, p), generated[p]); err != nil {
				return nil, err
			}
			data[p] = generated[p]
		}
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "PKIGenerated", "Generate",
			"generated the cluster's certificate authorities and service-account key pair")
	}
	pki, err := bootstrap.PKIFromSecretData(data)
	if err != nil {
		return nil, fmt.Errorf("the PKI Secrets of TenantCluster %s/%s: %w", tc.Namespace, tc.Name, err)
	}
	return pki, nil
}

// createOwnedSecret creates a Secret owned by the cluster, so it goes with it.
func (r *TenantClusterReconciler) createOwnedSecret(ctx context.Context, tc *infrav1.TenantCluster, name string, data map[string][]byte) error {
	return createOwnedSecret(ctx, r.Client, tc, name, map[string]string{LabelTenantCluster: tc.Name}, data)
}

// Reasons of the events about the admin kubeconfig Secret.
const (
	// ReasonKubeconfigCreated: the Secret did not exist; a kubeconfig was
	// signed from the cluster CA and written to it.
	ReasonKubeconfigCreated = "KubeconfigCreated"
	// ReasonKubeconfigRenewed: the kubeconfig's certificate had a third or
	// less of its validity left (or was valid for longer than the operator
	// now signs for); a new one replaced it.
	ReasonKubeconfigRenewed = "KubeconfigRenewed"
	// ReasonKubeconfigRewritten: the Secret held something other than a
	// kubeconfig the operator signed from the cluster CA for this cluster
	// (edited, replaced, a leftover of another cluster); a new one replaced it.
	ReasonKubeconfigRewritten = "KubeconfigRewritten"
)

const (
	// kubeconfigRenewDivisor: a kubeconfig is renewed when 1/kubeconfigRenewDivisor
	// of its validity is left, cert-manager's default renewBefore. A year's
	// kubeconfig is renewed four months early: a controller down for weeks
	// still renews it in time, and a user who copied it out has months to
	// fetch the new one.
	kubeconfigRenewDivisor = 3
	// kubeconfigClockTolerance is how much longer than the configured
	// validity a certificate may still run before it counts as signed under
	// a longer validity: clocks of replicas differ a little.
	kubeconfigClockTolerance = time.Minute
)

// kubeconfigPlan is what planKubeconfig decided.
type kubeconfigPlan struct {
	// write is the reason (an event reason) to write a new kubeconfig; empty
	// keeps the one in the Secret.
	write string
	// renewAt is when the kept kubeconfig is to be renewed.
	renewAt time.Time
}

// planKubeconfig decides whether the admin kubeconfig Secret gets a new
// kubeconfig now, and if not, when. found says the Secret exists, ours that
// it holds a kubeconfig the operator signed from the cluster CA, notAfter
// when that one's certificate expires. validity is how long the operator
// signs them for: the renewal point is counted from it, not from the
// certificate's own span (backdated for clock skew, which would swamp
// the short validities of tests).
func planKubeconfig(now time.Time, validity time.Duration, found, ours bool, notAfter time.Time) kubeconfigPlan {
	if validity <= 0 {
		// As AdminKubeconfig reads it; a zero would renew at every look.
		validity = bootstrap.DefaultAdminKubeconfigValidity
	}
	switch {
	case !found:
		return kubeconfigPlan{write: ReasonKubeconfigCreated}
	case !ours:
		return kubeconfigPlan{write: ReasonKubeconfigRewritten}
	}
	renewAt := notAfter.Add(-validity / kubeconfigRenewDivisor)
	if !now.Before(renewAt) || notAfter.Sub(now) > validity+kubeconfigClockTolerance {
		// A validity shortened (a policy change) applies at once, not
		// months later when the old certificate nears its end.
		return kubeconfigPlan{write: ReasonKubeconfigRenewed}
	}
	return kubeconfigPlan{renewAt: renewAt}
}

// renewalRequeue brings the cluster back when its admin kubeconfig is to be
// renewed, if nothing else brings it back sooner. No Secret is watched (see
// operator.ClientOptions): this requeue is what renews it, and expiresAt is
// what this or an earlier reconcile read from the certificate in the Secret.
func renewalRequeue(result ctrl.Result, now time.Time, validity time.Duration, expiresAt *metav1.Time) ctrl.Result {
	if expiresAt == nil {
		return result
	}
	plan := planKubeconfig(now, validity, true, true, expiresAt.Time)
	if plan.write != "" {
		// Due, but this reconcile did not get to the Secret (it waits for
		// an account, say): the requeue it chose brings it back.
		return result
	}
	if wait := plan.renewAt.Sub(now); result.RequeueAfter == 0 || wait < result.RequeueAfter {
		result.RequeueAfter = wait
	}
	return result
}

// ensureKubeconfig makes the admin kubeconfig Secret hold a kubeconfig the
// operator signed from the cluster CA, renewed a third of its validity
// before it expires, and sets status from the certificate actually in the
// Secret. pki may be nil: the cluster CA is then read from its Secret alone,
// as a cluster at rest needs nothing else.
func (r *TenantClusterReconciler) ensureKubeconfig(ctx context.Context, tc *infrav1.TenantCluster, pki *bootstrap.ClusterPKI) error {
	key := types.NamespacedName{Namespace: tc.Namespace, Name: bootstrap.SecretName(tc.Name, bootstrap.PurposeKubeconfig)}
	s := &corev1.Secret{}
	err := r.Get(ctx, key, s)
	found := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kubeconfig Secret %s: %w", key, err)
	}
	ca, err := r.clusterCA(ctx, tc, pki)
	if err != nil {
		return err
	}
	want := bootstrap.AdminKubeconfigConfig{
		ClusterName:          tc.Name,
		ControlPlaneEndpoint: tc.Spec.ControlPlaneEndpoint,
		KubernetesVersion:    tc.Spec.Profile.KubernetesVersion,
		CA:                   ca,
		Validity:             r.KubeconfigValidity,
	}
	var crt *x509.Certificate
	var invalid error
	if found {
		crt, invalid = bootstrap.VerifyAdminKubeconfig(s.Data[bootstrap.KubeconfigSecretKey], want)
	}
	var was time.Time
	if crt != nil {
		was = crt.NotAfter
	}
	now := time.Now()
	plan := planKubeconfig(now, r.KubeconfigValidity, found, invalid == nil, was)
	if plan.write != "" {
		if crt, err = r.writeKubeconfig(ctx, tc, s, found, want, now); err != nil {
			return err
		}
		until := crt.NotAfter.UTC().Format(time.RFC3339)
		switch plan.write {
		case ReasonKubeconfigCreated:
			r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, plan.write, "Create",
				"wrote the admin kubeconfig to Secret %s; its certificate is valid until %s", key.Name, until)
		case ReasonKubeconfigRenewed:
			r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, plan.write, "Renew",
				"renewed the admin kubeconfig in Secret %s: its certificate was valid until %s, the new one until %s",
				key.Name, was.UTC().Format(time.RFC3339), until)
		default:
			// invalid never quotes the Secret (VerifyAdminKubeconfig).
			r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, plan.write, "Rewrite",
				"Secret %s did not hold the admin kubeconfig this operator signed from the cluster CA (%v); wrote a new one, valid until %s",
				key.Name, invalid, until)
		}
	}
	tc.Status.KubeconfigSecretRef = &infrav1.LocalObjectReference{Name: key.Name}
	expires := metav1.NewTime(crt.NotAfter)
	tc.Status.KubeconfigExpiresAt = &expires
	return nil
}

// clusterCA is the cluster CA: pki's, or read from its Secret, or (when
// that is missing) ensurePKI's, which generates it for a new cluster and
// refuses to for a running one.
func (r *TenantClusterReconciler) clusterCA(ctx context.Context, tc *infrav1.TenantCluster, pki *bootstrap.ClusterPKI) (bootstrap.KeyPair, error) {
	if pki != nil {
		return pki.CA, nil
	}
	name := bootstrap.SecretName(tc.Name, bootstrap.PurposeCA)
	s := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: name}, s)
	if err != nil && !apierrors.IsNotFound(err) {
		return bootstrap.KeyPair{}, fmt.Errorf("reading Secret %s/%s: %w", tc.Namespace, name, err)
	}
	if crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]; err == nil && len(crt) > 0 && len(key) > 0 {
		return bootstrap.KeyPair{Cert: crt, Key: key}, nil
	}
	// Missing or incomplete: ensurePKI says which and why, or makes it.
	if pki, err = r.ensurePKI(ctx, tc); err != nil {
		return bootstrap.KeyPair{}, err
	}
	return pki.CA, nil
}

// writeKubeconfig signs a new admin kubeconfig and writes it to the Secret
// (s as read, when found), returning the certificate now in the Secret.
func (r *TenantClusterReconciler) writeKubeconfig(ctx context.Context, tc *infrav1.TenantCluster, s *corev1.Secret, found bool,
	cfg bootstrap.AdminKubeconfigConfig, now time.Time) (*x509.Certificate, error) {
	cfg.Now = now
	kubeconfig, err := bootstrap.AdminKubeconfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("writing the admin kubeconfig of TenantCluster %s/%s: %w", tc.Namespace, tc.Name, err)
	}
	// Status is to say what the Secret holds: read it from what is written.
	crt, err := bootstrap.VerifyAdminKubeconfig(kubeconfig, cfg)
	if err != nil {
		return nil, fmt.Errorf("the admin kubeconfig just signed for TenantCluster %s/%s: %w", tc.Namespace, tc.Name, err)
	}
	data := map[string][]byte{bootstrap.KubeconfigSecretKey: kubeconfig}
	name := bootstrap.SecretName(tc.Name, bootstrap.PurposeKubeconfig)
	if !found {
		return crt, r.createOwnedSecret(ctx, tc, name, data)
	}
	// The whole data is replaced: the Secret is the cluster's, and a key
	// someone added beside the kubeconfig would pass for part of it.
	s.Data = data
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[LabelTenantCluster] = tc.Name
	// Refused if another controller owns a Secret of that name: it is not
	// this cluster's to take.
	if err := controllerutil.SetControllerReference(tc, s, r.Scheme()); err != nil {
		return nil, fmt.Errorf("taking the kubeconfig Secret %s/%s: %w", tc.Namespace, name, err)
	}
	// s carries the resourceVersion read: a write since then conflicts and
	// the next reconcile judges the new content.
	if err := r.Update(ctx, s); err != nil {
		return nil, fmt.Errorf("writing the admin kubeconfig to Secret %s/%s: %w", tc.Namespace, name, err)
	}
	return crt, nil
}

// ensureToken returns the cluster's bootstrap token and when it expires,
// replacing it when it is about to: a node deploying now must still be
// able to join with it. pending is true for a replacement not yet created
// inside the cluster (the first token travels with the init node).
func (r *TenantClusterReconciler) ensureToken(ctx context.Context, tc *infrav1.TenantCluster) (_ bootstrap.BootstrapToken, _ time.Time, pending bool, _ error) {
	name := tc.Name + "-bootstrap-token"
	now := time.Now()
	s := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: name}, s)
	found := err == nil
	switch {
	case found:
		exp, perr := time.Parse(time.RFC3339, string(s.Data[tokenExpiryKey]))
		t, terr := bootstrap.ParseBootstrapToken(string(s.Data[tokenSecretKey]))
		if perr == nil && terr == nil && exp.After(now.Add(tokenRenewBefore)) {
			return t, exp, string(s.Data[tokenPendingKey]) == "true", nil
		}
	case !apierrors.IsNotFound(err):
		return bootstrap.BootstrapToken{}, time.Time{}, false, fmt.Errorf("reading Secret %s/%s: %w", tc.Namespace, name, err)
	}
	t, err := bootstrap.GenerateBootstrapToken()
	if err != nil {
		return bootstrap.BootstrapToken{}, time.Time{}, false, err
	}
	exp := now.Add(r.TokenTTL).UTC().Truncate(time.Second)
	data := map[string][]byte{tokenSecretKey: []byte(t.Value()), tokenExpiryKey: []byte(exp.Format(time.RFC3339))}
	if found {
		data[tokenPendingKey] = []byte("true")
		s.Data = data
		if err := r.Update(ctx, s); err != nil {
			return bootstrap.BootstrapToken{}, time.Time{}, false, fmt.Errorf("renewing the bootstrap token in Secret %s/%s: %w", tc.Namespace, name, err)
		}
	} else if err := r.createOwnedSecret(ctx, tc, name, data); err != nil {
		return bootstrap.BootstrapToken{}, time.Time{}, false, err
	}
	r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "TokenCreated", "Create",
		"created bootstrap token %s for joining nodes, valid until %s", t.ID(), exp.Format(time.RFC3339))
	return t, exp, found, nil
}

// publishToken creates the cluster's current bootstrap token inside the
// cluster, reached with credentials signed from its CA at the VIP of its
// spec (never through the kubeconfig Secret), and records that it is there.
func (r *TenantClusterReconciler) publishToken(ctx context.Context, tc *infrav1.TenantCluster, t bootstrap.BootstrapToken) error {
	name := tc.Name + "-bootstrap-token"
	s := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: name}, s); err != nil {
		return err
	}
	exp, err := time.Parse(time.RFC3339, string(s.Data[tokenExpiryKey]))
	if err != nil {
		return fmt.Errorf("the expiry in Secret %s/%s: %w", tc.Namespace, name, err)
	}
	pki, err := r.ensurePKI(ctx, tc)
	if err != nil {
		return err
	}
	ts, err := t.Secret(time.Until(exp), time.Now())
	if err != nil {
		return err
	}
	access := workload.Access{PKI: pki, Endpoint: workload.Endpoint{VIP: tc.Spec.ControlPlaneEndpoint},
		KubernetesVersion: tc.Spec.Profile.KubernetesVersion}
	if err := r.Tokens.PublishToken(ctx, client.ObjectKeyFromObject(tc), access, ts); err != nil {
		return err
	}
	delete(s.Data, tokenPendingKey)
	if err := r.Update(ctx, s); err != nil {
		return fmt.Errorf("recording that token %s is in the cluster: %w", t.ID(), err)
	}
	r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "TokenPublished", "Create",
		"created the renewed bootstrap token %s inside the cluster for the machines that join next", t.ID())
	return nil
}
