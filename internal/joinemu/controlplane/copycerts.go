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

package controlplane

// kubeadm's certificate upload, the machines' side of it: kubeadm init
// --upload-certs (the upload-certs phase) and kubeadm join --control-plane
// --certificate-key (control-plane-prepare download-certs). Written from
// kubeadm's design (cmd/kubeadm/app/phases/copycerts), not with the
// operator's code: a double that shared the encryption with what it tests
// would hide the bugs it is for.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// kubeadm's names and figures.
const (
	kubeadmCertsSecret = "kubeadm-certs"
	kubeadmCertsRole   = "kubeadm:kubeadm-certs"
	// certTokenTTL is kubeadm's DefaultCertTokenDuration: the life of the
	// token that owns the kubeadm-certs Secret kubeadm init uploads.
	certTokenTTL = 2 * time.Hour
)

// certFiles are the files a stacked-etcd control plane copies, by their
// Secret keys (their paths under /etc/kubernetes/pki, "/" as "-"), and
// where each is in a ClusterPKI.
func certFiles(p *bootstrap.ClusterPKI) map[string]*[]byte {
	return map[string]*[]byte{
		"ca.crt": &p.CA.Cert, "ca.key": &p.CA.Key,
		"etcd-ca.crt": &p.EtcdCA.Cert, "etcd-ca.key": &p.EtcdCA.Key,
		"front-proxy-ca.crt": &p.FrontProxyCA.Cert, "front-proxy-ca.key": &p.FrontProxyCA.Key,
		"sa.pub": &p.ServiceAccount.Cert, "sa.key": &p.ServiceAccount.Key,
	}
}

func certificateGCM(keyHex string) (cipher.AEAD, error) {
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) != 32 {
		return nil, errors.New("the certificate key is not 32 bytes in hex")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// uploadCerts is kubeadm init's upload-certs phase: a bootstrap token with
// no usage and kubeadm's TTL, the kubeadm-certs Secret it owns (each file
// sealed with AES-GCM, the nonce first), and the Role and RoleBinding that
// let the node token group read that Secret.
func (c *cluster) uploadCerts(ctx context.Context, cs kubernetes.Interface, ud *userData) error {
	gcm, err := certificateGCM(ud.certificateKey)
	if err != nil {
		return err
	}
	id, secret := randomToken(6), randomToken(16)
	owner, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: tokenSecretPrefix + id},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": id, "token-secret": secret,
			"description": "bounds the life of the kubeadm-certs Secret (emulated kubeadm init)",
			"expiration":  time.Now().Add(certTokenTTL).UTC().Format(time.RFC3339),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("the kubeadm-certs token: %w", err)
	}
	data := map[string][]byte{}
	for name, plain := range certFiles(c.pki) {
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		data[name] = gcm.Seal(nonce, nonce, *plain, nil)
	}
	yes := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: kubeadmCertsSecret, Namespace: metav1.NamespaceSystem,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Secret", Name: owner.Name, UID: owner.UID,
				Controller: &yes, BlockOwnerDeletion: &yes}}},
		Data: data,
	}
	if _, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		_, err = cs.CoreV1().Secrets(metav1.NamespaceSystem).Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("the kubeadm-certs Secret: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("the kubeadm-certs Secret: %w", err)
	}
	if _, err := cs.RbacV1().Roles(metav1.NamespaceSystem).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: kubeadmCertsRole},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""},
			Resources: []string{"secrets"}, ResourceNames: []string{kubeadmCertsSecret}}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if _, err := cs.RbacV1().RoleBindings(metav1.NamespaceSystem).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: kubeadmCertsRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: kubeadmCertsRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: nodeTokenGroup}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// errCertsExpired says the kubeadm-certs Secret is gone, in kubeadm's words.
//
//nolint:staticcheck // kubeadm's own sentence, which a failed join shows
var errCertsExpired = errors.New(`Secret "kubeadm-certs" was not found in the "kube-system" Namespace. ` +
	"This Secret might have expired: the certificates must be uploaded again, with a new certificate key")

// downloadCerts is kubeadm join's control-plane-prepare download-certs: the
// kubeadm-certs Secret read through the VIP with the bootstrap token (the
// identity kubeadm has before it joins), every entry decrypted with the
// certificate key of the user data. Its errors never quote the key or the
// Secret's contents.
func (c *cluster) downloadCerts(ctx context.Context, ud *userData) (*bootstrap.ClusterPKI, error) {
	gcm, err := certificateGCM(ud.certificateKey)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host: "https://" + c.dial, BearerToken: ud.token, Timeout: 10 * time.Second,
		// The CA discovery checked against the pinned hashes.
		TLSClientConfig: c.tlsTo(rest.TLSClientConfig{CAData: c.pki.CA.Cert}),
	})
	if err != nil {
		return nil, err
	}
	s, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, kubeadmCertsSecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, errCertsExpired
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("the bootstrap token may not read Secret kube-system/%s (no %s RoleBinding for %s?): %w",
			kubeadmCertsSecret, kubeadmCertsRole, nodeTokenGroup, err)
	case err != nil:
		return nil, fmt.Errorf("downloading Secret kube-system/%s: %w", kubeadmCertsSecret, err)
	}
	if why := c.certsExpired(ctx, s); why != "" {
		return nil, fmt.Errorf("%w (%s)", errCertsExpired, why)
	}
	var p bootstrap.ClusterPKI
	for name, into := range certFiles(&p) {
		sealed := s.Data[name]
		if len(sealed) < gcm.NonceSize() {
			return nil, fmt.Errorf("Secret kube-system/%s has no %s", kubeadmCertsSecret, name) //nolint:staticcheck // a Secret's name
		}
		plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
		if err != nil {
			return nil, fmt.Errorf("the certificate key does not decrypt %s of Secret kube-system/%s: "+
				"a wrong key, or the Secret was uploaded again with another one", name, kubeadmCertsSecret)
		}
		*into = plain
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("the keys in Secret kube-system/%s: %w", kubeadmCertsSecret, err)
	}
	return &p, nil
}

// certsExpired stands in for the token cleaner and the garbage collector,
// which this world does not run: a kubeadm-certs Secret whose owning token
// has expired or is gone would have been deleted, so it is deleted now and
// the reason returned.
func (c *cluster) certsExpired(ctx context.Context, s *corev1.Secret) string {
	ref := metav1.GetControllerOfNoCopy(s)
	if ref == nil || ref.Kind != "Secret" || !strings.HasPrefix(ref.Name, tokenSecretPrefix) {
		return ""
	}
	why := ""
	owner, err := c.admin.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || (err == nil && owner.UID != ref.UID):
		why = "its owner, token " + strings.TrimPrefix(ref.Name, tokenSecretPrefix) + ", is gone"
	case err != nil:
		return ""
	default:
		exp, perr := time.Parse(time.RFC3339, string(owner.Data["expiration"]))
		if perr != nil || exp.After(time.Now()) {
			return ""
		}
		why = "its owner, token " + strings.TrimPrefix(ref.Name, tokenSecretPrefix) + ", expired at " + exp.Format(time.RFC3339)
		_ = c.admin.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, owner.Name, metav1.DeleteOptions{})
	}
	_ = c.admin.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, s.Name, metav1.DeleteOptions{})
	return why
}
