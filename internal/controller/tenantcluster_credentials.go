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
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// ensureCredentials makes sure the PKI and kubeconfig Secrets exist. Secrets
// are read from the API server (operator.ClientOptions), so a cluster at rest
// reads only its kubeconfig's: the PKI is needed only to write a new one.
func (r *TenantClusterReconciler) ensureCredentials(ctx context.Context, tc *infrav1.TenantCluster) error {
	name := bootstrap.SecretName(tc.Name, bootstrap.PurposeKubeconfig)
	switch err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: name}, &corev1.Secret{}); {
	case err == nil:
		tc.Status.KubeconfigSecretRef = &infrav1.LocalObjectReference{Name: name}
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("kubeconfig Secret %s/%s: %w", tc.Namespace, name, err)
	}
	pki, err := r.ensurePKI(ctx, tc)
	if err != nil {
		return err
	}
	return r.ensureKubeconfig(ctx, tc, pki)
}

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
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: tc.Namespace, Name: name, Labels: map[string]string{LabelTenantCluster: tc.Name}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(tc, s, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, s); err != nil {
		// AlreadyExists: another reconcile created it since this one read;
		// the error requeues, and the next reconcile reads it.
		return fmt.Errorf("creating Secret %s/%s: %w", tc.Namespace, name, err)
	}
	return nil
}

// ensureKubeconfig creates the admin kubeconfig Secret once and points status at it.
func (r *TenantClusterReconciler) ensureKubeconfig(ctx context.Context, tc *infrav1.TenantCluster, pki *bootstrap.ClusterPKI) error {
	name := bootstrap.SecretName(tc.Name, bootstrap.PurposeKubeconfig)
	s := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		kubeconfig, kerr := bootstrap.AdminKubeconfig(bootstrap.AdminKubeconfigConfig{
			ClusterName:          tc.Name,
			ControlPlaneEndpoint: tc.Spec.ControlPlaneEndpoint,
			KubernetesVersion:    tc.Spec.Profile.KubernetesVersion,
			CA:                   pki.CA,
			Now:                  time.Now(),
		})
		if kerr != nil {
			return fmt.Errorf("writing the admin kubeconfig of TenantCluster %s/%s: %w", tc.Namespace, tc.Name, kerr)
		}
		err = r.createOwnedSecret(ctx, tc, name, map[string][]byte{bootstrap.KubeconfigSecretKey: kubeconfig})
	}
	if err != nil {
		return fmt.Errorf("kubeconfig Secret %s/%s: %w", tc.Namespace, name, err)
	}
	tc.Status.KubeconfigSecretRef = &infrav1.LocalObjectReference{Name: name}
	return nil
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
