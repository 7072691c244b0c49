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

// The certificate-key record and join round shared by tenant clusters and
// the gateway: the model is described at the top of tenantcluster_certs.go.

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

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// certKeyRecord is the Secret, next to the cluster's object and owned by
// it, that holds the certificate key of the current join round and when it
// expires. An empty record means no round runs.
type certKeyRecord struct {
	c      client.Client
	owner  client.Object
	name   string
	labels map[string]string
	ttl    time.Duration
}

// current reads the record; ok is false when there is none, or it does not
// parse.
func (k certKeyRecord) current(ctx context.Context) (*corev1.Secret, bootstrap.CertificateKey, time.Time, bool, error) {
	s := &corev1.Secret{}
	err := k.c.Get(ctx, types.NamespacedName{Namespace: k.owner.GetNamespace(), Name: k.name}, s)
	if apierrors.IsNotFound(err) {
		return nil, bootstrap.CertificateKey{}, time.Time{}, false, nil
	}
	if err != nil {
		return nil, bootstrap.CertificateKey{}, time.Time{}, false, fmt.Errorf("reading Secret %s/%s: %w", k.owner.GetNamespace(), k.name, err)
	}
	key, kerr := bootstrap.ParseCertificateKey(string(s.Data[certKeyKey]))
	exp, perr := time.Parse(time.RFC3339, string(s.Data[certKeyExpiryKey]))
	return s, key, exp, kerr == nil && perr == nil, nil
}

// ensure returns the key a control plane deployed now joins with and when
// it expires: the current one, or a new one (created) when there is none
// or it is too close to its end.
func (k certKeyRecord) ensure(ctx context.Context) (_ bootstrap.CertificateKey, _ time.Time, created bool, _ error) {
	now := time.Now()
	s, key, exp, ok, err := k.current(ctx)
	if err != nil {
		return bootstrap.CertificateKey{}, time.Time{}, false, err
	}
	if ok && exp.After(now.Add(certKeyRenewBefore)) {
		return key, exp, false, nil
	}
	if key, err = bootstrap.GenerateCertificateKey(); err != nil {
		return bootstrap.CertificateKey{}, time.Time{}, false, err
	}
	exp = now.Add(k.ttl).UTC().Truncate(time.Second)
	data := map[string][]byte{certKeyKey: []byte(key.Hex()), certKeyExpiryKey: []byte(exp.Format(time.RFC3339))}
	if s != nil {
		s.Data = data
		if err := k.c.Update(ctx, s); err != nil {
			return bootstrap.CertificateKey{}, time.Time{}, false, fmt.Errorf("replacing the certificate key in Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
	} else if err := createOwnedSecret(ctx, k.c, k.owner, k.name, k.labels, data); err != nil {
		return bootstrap.CertificateKey{}, time.Time{}, false, err
	}
	return key, exp, true, nil
}

// createOwnedSecret creates an Opaque Secret next to owner and controlled
// by it, so it goes with it.
func createOwnedSecret(ctx context.Context, c client.Client, owner client.Object, name string, labels map[string]string, data map[string][]byte) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: owner.GetNamespace(), Name: name, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(owner, s, c.Scheme()); err != nil {
		return err
	}
	if err := c.Create(ctx, s); err != nil {
		// AlreadyExists: another reconcile created it since this one read;
		// the error requeues, and the next reconcile reads it.
		return fmt.Errorf("creating Secret %s/%s: %w", owner.GetNamespace(), name, err)
	}
	return nil
}

func announceCertificateKey(rec Recorder, owner client.Object, exp time.Time) {
	rec.Eventf(owner, nil, corev1.EventTypeNormal, ReasonCertificateKeyCreated, "Create",
		"new certificate key for the control planes that join until %s: they download the cluster's keys from its kubeadm-certs Secret with it, and get none in their user data",
		exp.Format(time.RFC3339))
}

// joinRound is one cluster's kubeadm-certs upload as the operator keeps it.
type joinRound struct {
	record   certKeyRecord
	recorder Recorder
	pki      *bootstrap.ClusterPKI
	// endpoint names the cluster in errors.
	endpoint string
	// cluster reaches the cluster's API server with the rights of its
	// control plane in kube-system.
	cluster func(context.Context) (client.Client, error)
}

// upload puts the kubeadm-certs Secret, encrypted with key, into the
// running cluster (or leaves it there when it holds key already).
func (j joinRound) upload(ctx context.Context, key bootstrap.CertificateKey, exp time.Time) error {
	cl, err := j.cluster(ctx)
	if err != nil {
		return fmt.Errorf("reaching the cluster: %w", err)
	}
	uploaded, err := publishCerts(ctx, cl, j.pki, key, exp)
	if err != nil {
		return fmt.Errorf("the cluster's kubeadm-certs Secret at %s: %w", j.endpoint, err)
	}
	if uploaded {
		j.recorder.Eventf(j.record.owner, nil, corev1.EventTypeNormal, ReasonCertificatesUploaded, "Upload",
			"put the cluster's keys, encrypted with the current certificate key, into Secret kube-system/%s until %s, for the control planes that join",
			bootstrap.KubeadmCertsSecretName, exp.Format(time.RFC3339))
	}
	return nil
}

// sync keeps the kubeadm-certs Secret in the cluster while a join round
// runs (joining: a control plane is on its way in), and ends the round
// (Secret, token, record) once none is. Callers call it only when they
// reached the cluster and know who is joining.
func (j joinRound) sync(ctx context.Context, joining bool) error {
	record, key, exp, ok, err := j.record.current(ctx)
	if err != nil || record == nil || len(record.Data) == 0 {
		// No round: never one, or the last one ended.
		return err
	}
	if joining {
		if !ok || !exp.After(time.Now()) {
			// An expired key stays expired: its machines fail their joins
			// and are replaced, and the replacements start a new round.
			return nil
		}
		return j.upload(ctx, key, exp)
	}
	cl, err := j.cluster(ctx)
	if err != nil {
		return fmt.Errorf("reaching the cluster: %w", err)
	}
	if err := retireCerts(ctx, cl); err != nil {
		return fmt.Errorf("deleting Secret kube-system/%s at %s: %w", bootstrap.KubeadmCertsSecretName, j.endpoint, err)
	}
	// The record last: a crash before this line retires again. It is
	// emptied, not deleted: the manager may not delete Secrets. record
	// carries the version read, so a deploy that took a new key meanwhile
	// conflicts, and its round goes on.
	record.Data = nil
	if err := j.record.c.Update(ctx, record); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("emptying Secret %s/%s: %w", record.Namespace, record.Name, err)
	}
	j.recorder.Eventf(j.record.owner, nil, corev1.EventTypeNormal, ReasonCertificateKeyRetired, "Delete",
		"no control plane is joining: deleted Secret kube-system/%s from the cluster and forgot its certificate key", bootstrap.KubeadmCertsSecretName)
	return nil
}
