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

package bootstrap

// Control-plane joins by kubeadm's certificate upload: the shared keys of a
// cluster travel inside the cluster, encrypted, in the kube-system/
// kubeadm-certs Secret, and a joining control plane's user data (which MAAS
// stores, for its admins and its backups to read) carries only the key that
// decrypts them. The Secret expires with the bootstrap token that owns it,
// and with it the key.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// Names kubeadm gives the certificate upload's objects in kube-system: a
// joining control plane looks for the Secret by this name, and the bootstrap
// token group may read it through the Role and RoleBinding of that name.
const (
	KubeadmCertsSecretName = "kubeadm-certs"
	KubeadmCertsRoleName   = "kubeadm:kubeadm-certs"
)

// certificateKeySize is the length of a certificate key in bytes: an
// AES-256 key, as kubeadm's.
const certificateKeySize = 32

// DefaultCertificateKeyTTL is how long a certificate key, and the
// kubeadm-certs Secret encrypted with it, lasts: kubeadm's two hours.
const DefaultCertificateKeyTTL = 2 * time.Hour

// CertificateKey decrypts the kubeadm-certs Secret. It prints redacted, so
// that logging one by mistake does not leak it; Hex returns it whole.
type CertificateKey struct {
	b []byte
}

// GenerateCertificateKey returns a new random key from crypto/rand.
func GenerateCertificateKey() (CertificateKey, error) {
	b := make([]byte, certificateKeySize)
	if _, err := rand.Read(b); err != nil {
		return CertificateKey{}, fmt.Errorf("generating certificate key: %w", err)
	}
	return CertificateKey{b: b}, nil
}

// ParseCertificateKey parses a stored key: 64 hex digits. Its error never
// repeats the input.
func ParseCertificateKey(s string) (CertificateKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != certificateKeySize {
		return CertificateKey{}, fmt.Errorf("certificate key must be %d hex digits", 2*certificateKeySize)
	}
	return CertificateKey{b: b}, nil
}

// IsZero says whether k is the zero value, i.e. no key.
func (k CertificateKey) IsZero() bool { return len(k.b) == 0 }

// Hex returns the key as kubeadm's --certificate-key takes it.
func (k CertificateKey) Hex() string { return hex.EncodeToString(k.b) }

// String returns "<redacted>".
func (k CertificateKey) String() string { return "<redacted>" }

// GoString returns the key redacted, for %#v.
func (k CertificateKey) GoString() string { return "bootstrap.CertificateKey{<redacted>}" }

// kubeadmCertsEntries are the files kubeadm copies between control planes
// of a stacked-etcd cluster, by their names under /etc/kubernetes/pki, and
// where in a ClusterPKI each one is. The leaf certificates and kubeconfigs
// are not among them: every control plane makes its own.
func (p *ClusterPKI) kubeadmCertsEntries() map[string]*[]byte {
	return map[string]*[]byte{
		"ca.crt": &p.CA.Cert, "ca.key": &p.CA.Key,
		"etcd/ca.crt": &p.EtcdCA.Cert, "etcd/ca.key": &p.EtcdCA.Key,
		"front-proxy-ca.crt": &p.FrontProxyCA.Cert, "front-proxy-ca.key": &p.FrontProxyCA.Key,
		"sa.pub": &p.ServiceAccount.Cert, "sa.key": &p.ServiceAccount.Key,
	}
}

// kubeadmCertsKey is the Secret data key of a file: its path with "/" as
// "-", since Secret keys hold no slash (etcd/ca.crt is etcd-ca.crt).
func kubeadmCertsKey(name string) string {
	return strings.ReplaceAll(name, "/", "-")
}

// KubeadmCertsData returns the data of the kubeadm-certs Secret: each of the
// cluster's shared certificates and keys encrypted on its own with key, by
// AES-256-GCM with the random nonce before the ciphertext, as kubeadm join
// --control-plane --certificate-key decrypts them.
func (p *ClusterPKI) KubeadmCertsData(key CertificateKey) (map[string][]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, plain := range p.kubeadmCertsEntries() {
		if len(*plain) == 0 {
			return nil, fmt.Errorf("the cluster PKI has no %s", name)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypting %s: %w", name, err)
		}
		out[kubeadmCertsKey(name)] = aead.Seal(nonce, nonce, *plain, nil)
	}
	return out, nil
}

// HoldsKubeadmCerts says whether data, a kubeadm-certs Secret's, is this
// PKI encrypted with key: false for another key, another cluster's PKI, an
// entry missing or one too many.
func (p *ClusterPKI) HoldsKubeadmCerts(data map[string][]byte, key CertificateKey) bool {
	aead, err := newAEAD(key)
	if err != nil {
		return false
	}
	entries := p.kubeadmCertsEntries()
	if len(data) != len(entries) {
		return false
	}
	for name, want := range entries {
		sealed := data[kubeadmCertsKey(name)]
		if len(sealed) < aead.NonceSize() {
			return false
		}
		plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
		if err != nil || !bytes.Equal(plain, *want) {
			return false
		}
	}
	return true
}

func newAEAD(key CertificateKey) (cipher.AEAD, error) {
	if len(key.b) != certificateKeySize {
		return nil, errors.New("no certificate key")
	}
	block, err := aes.NewCipher(key.b)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

const certsTokenDescription = "maas-gateway: bounds the life of the kubeadm-certs Secret, which it owns"

// KubeadmCertsTokenSecret returns the bootstrap-token Secret whose
// expiration bounds the kubeadm-certs Secret's life (the Secret is owned by
// it, so garbage collection removes it once the token cleaner removed the
// token), as kubeadm does. The token has no usage: it authenticates nobody
// and signs nothing.
func KubeadmCertsTokenSecret(expires time.Time) (TokenSecret, error) {
	s, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return TokenSecret{}, fmt.Errorf("generating the kubeadm-certs token: %w", err)
	}
	t, err := ParseBootstrapToken(s)
	if err != nil {
		return TokenSecret{}, err
	}
	return TokenSecret{
		Namespace: metav1.NamespaceSystem,
		Name:      bootstraputil.BootstrapTokenSecretName(t.id),
		Type:      bootstrapapi.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:          []byte(t.id),
			bootstrapapi.BootstrapTokenSecretKey:      []byte(t.secret),
			bootstrapapi.BootstrapTokenDescriptionKey: []byte(certsTokenDescription),
			bootstrapapi.BootstrapTokenExpirationKey:  []byte(expires.UTC().Format(time.RFC3339)),
		},
	}, nil
}

// KubeadmCertsTokenExpiry reads the expiration of a kubeadm-certs owner
// token Secret's data; false when it has none that parses.
func KubeadmCertsTokenExpiry(data map[string][]byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, string(data[bootstrapapi.BootstrapTokenExpirationKey]))
	return t, err == nil
}
