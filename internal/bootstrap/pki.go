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

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// newKey generates every key this package makes: ECDSA P-256 (see the
// package comment for why).
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// kubeadm's ClusterConfiguration.encryptionAlgorithm values (v1beta4).
const (
	encryptionECDSAP256 = "ECDSA-P256"
	encryptionRSA2048   = "RSA-2048"
	encryptionRSA3072   = "RSA-3072"
	encryptionRSA4096   = "RSA-4096"
)

// encryptionAlgorithmFor returns the encryptionAlgorithm under which
// kubeadm generates keys of the same type as pub, or "" when kubeadm v1.31 (the
// oldest release rendered for) has none. kubeadm signs leaves with a CA of any
// type, so "" only means its default, RSA-2048, for the leaves.
func encryptionAlgorithmFor(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return encryptionECDSAP256
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return encryptionRSA2048
		case 3072:
			return encryptionRSA3072
		case 4096:
			return encryptionRSA4096
		}
	}
	return ""
}

// Common names of the CAs, as kubeadm names those it generates itself, so a
// cluster bootstrapped here looks like any kubeadm cluster to its operators.
const (
	clusterCACommonName    = "kubernetes"
	etcdCACommonName       = "etcd-ca"
	frontProxyCACommonName = "front-proxy-ca"
)

// KeyPair is a PEM-encoded certificate and its PEM-encoded private key. For
// the service-account pair, Cert holds the PEM public key instead ("PUBLIC
// KEY"), as Cluster API's <cluster>-sa Secret does.
type KeyPair struct {
	Cert []byte
	Key  []byte
}

// String describes kp without its private key, so that printing a KeyPair or
// a ClusterPKI by mistake does not leak it.
func (kp KeyPair) String() string {
	return fmt.Sprintf("{Cert:%d bytes Key:<redacted>}", len(kp.Cert))
}

// GoString is String, for %#v.
func (kp KeyPair) GoString() string { return kp.String() }

// ClusterPKI is the key material every control-plane node of one cluster
// shares: with it on disk, kubeadm init and kubeadm join --control-plane
// generate each node's own certificates without uploading keys to the cluster.
type ClusterPKI struct {
	// CA signs the API server's serving certificate, kubelet client
	// certificates and the admin kubeconfig.
	CA KeyPair
	// EtcdCA signs etcd's serving, peer and client certificates.
	EtcdCA KeyPair
	// FrontProxyCA signs the client certificate the API server shows to
	// aggregated API servers.
	FrontProxyCA KeyPair
	// ServiceAccount signs and verifies service-account tokens.
	ServiceAccount KeyPair
}

// SecretPurpose names one of the Secrets a cluster's credentials are kept in;
// the Secret of cluster C for purpose P is named "C-P" (see SecretName).
type SecretPurpose string

// The purposes, and so the Secret name suffixes, Cluster API uses.
const (
	PurposeCA             SecretPurpose = "ca"
	PurposeEtcd           SecretPurpose = "etcd"
	PurposeFrontProxy     SecretPurpose = "proxy"
	PurposeServiceAccount SecretPurpose = "sa"
	PurposeKubeconfig     SecretPurpose = "kubeconfig"
)

// KubeconfigSecretKey is the key of the <cluster>-kubeconfig Secret that holds
// the admin kubeconfig, as in Cluster API.
const KubeconfigSecretKey = "value"

// SecretName returns the name of the Secret that holds cluster's credentials
// for purpose, e.g. "prod-ca".
func SecretName(cluster string, purpose SecretPurpose) string {
	return cluster + "-" + string(purpose)
}

// GeneratePKI generates a new cluster CA, etcd CA, front-proxy CA (each
// self-signed, valid ten years) and service-account key pair, all with ECDSA
// P-256 keys.
func GeneratePKI() (*ClusterPKI, error) {
	ca, err := newCA(clusterCACommonName)
	if err != nil {
		return nil, fmt.Errorf("generating cluster CA: %w", err)
	}
	etcd, err := newCA(etcdCACommonName)
	if err != nil {
		return nil, fmt.Errorf("generating etcd CA: %w", err)
	}
	frontProxy, err := newCA(frontProxyCACommonName)
	if err != nil {
		return nil, fmt.Errorf("generating front-proxy CA: %w", err)
	}
	sa, err := newServiceAccountKeyPair()
	if err != nil {
		return nil, fmt.Errorf("generating service-account key pair: %w", err)
	}
	return &ClusterPKI{CA: ca, EtcdCA: etcd, FrontProxyCA: frontProxy, ServiceAccount: sa}, nil
}

func newCA(commonName string) (KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating key: %w", err)
	}
	crt, err := cert.NewSelfSignedCACert(cert.Config{CommonName: commonName}, key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("self-signing certificate: %w", err)
	}
	certPEM, err := cert.EncodeCertificates(crt)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encoding certificate: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encoding key: %w", err)
	}
	return KeyPair{Cert: certPEM, Key: keyPEM}, nil
}

func newServiceAccountKeyPair() (KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return KeyPair{}, fmt.Errorf("encoding public key: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encoding key: %w", err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: keyutil.PublicKeyBlockType, Bytes: pubDER})
	return KeyPair{Cert: pubPEM, Key: keyPEM}, nil
}

// SecretData returns the data of the four Secrets that keep p, by purpose,
// each with keys tls.crt and tls.key. The maps and slices are copies.
func (p *ClusterPKI) SecretData() map[SecretPurpose]map[string][]byte {
	return map[SecretPurpose]map[string][]byte{
		PurposeCA:             p.CA.secretData(),
		PurposeEtcd:           p.EtcdCA.secretData(),
		PurposeFrontProxy:     p.FrontProxyCA.secretData(),
		PurposeServiceAccount: p.ServiceAccount.secretData(),
	}
}

func (kp KeyPair) secretData() map[string][]byte {
	return map[string][]byte{
		corev1.TLSCertKey:       append([]byte(nil), kp.Cert...),
		corev1.TLSPrivateKeyKey: append([]byte(nil), kp.Key...),
	}
}

// PKIFromSecretData rebuilds a ClusterPKI from the data of its Secrets, as
// SecretData returns it, and checks it (see Validate).
func PKIFromSecretData(data map[SecretPurpose]map[string][]byte) (*ClusterPKI, error) {
	var p ClusterPKI
	for _, s := range []struct {
		purpose SecretPurpose
		into    *KeyPair
	}{
		{PurposeCA, &p.CA},
		{PurposeEtcd, &p.EtcdCA},
		{PurposeFrontProxy, &p.FrontProxyCA},
		{PurposeServiceAccount, &p.ServiceAccount},
	} {
		d, ok := data[s.purpose]
		if !ok {
			return nil, fmt.Errorf("no %q secret data", s.purpose)
		}
		crt, key := d[corev1.TLSCertKey], d[corev1.TLSPrivateKeyKey]
		if len(crt) == 0 || len(key) == 0 {
			return nil, fmt.Errorf("%q secret data lacks %s or %s", s.purpose, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
		}
		*s.into = KeyPair{Cert: append([]byte(nil), crt...), Key: append([]byte(nil), key...)}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks that each CA certificate is a CA and matches its key, and
// that the service-account public key matches its private key. Its errors
// name the pair at fault, never its contents.
func (p *ClusterPKI) Validate() error {
	for _, c := range []struct {
		name string
		kp   KeyPair
	}{
		{"cluster CA", p.CA},
		{"etcd CA", p.EtcdCA},
		{"front-proxy CA", p.FrontProxyCA},
	} {
		if err := validateCA(c.kp); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	if err := validateServiceAccount(p.ServiceAccount); err != nil {
		return fmt.Errorf("service-account key pair: %w", err)
	}
	return nil
}

func validateCA(kp KeyPair) error {
	crt, err := parseCertificate(kp.Cert)
	if err != nil {
		return err
	}
	if !crt.BasicConstraintsValid || !crt.IsCA || crt.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("certificate is not a CA certificate")
	}
	key, err := parseSigner(kp.Key)
	if err != nil {
		return err
	}
	if !publicKeysEqual(key.Public(), crt.PublicKey) {
		return errors.New("private key does not match the certificate")
	}
	return nil
}

func validateServiceAccount(kp KeyPair) error {
	pubs, err := keyutil.ParsePublicKeysPEM(kp.Cert)
	if err != nil {
		return fmt.Errorf("parsing public key: %w", err)
	}
	if len(pubs) != 1 {
		return fmt.Errorf("want one public key, found %d", len(pubs))
	}
	key, err := parseSigner(kp.Key)
	if err != nil {
		return err
	}
	if !publicKeysEqual(key.Public(), pubs[0]) {
		return errors.New("private key does not match the public key")
	}
	return nil
}

// parseCertificate parses exactly one PEM certificate.
func parseCertificate(certPEM []byte) (*x509.Certificate, error) {
	certs, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("want one certificate, found %d", len(certs))
	}
	return certs[0], nil
}

// parseSigner parses a PEM private key. Its errors are keyutil's, which
// describe the encoding and never echo the key.
func parseSigner(keyPEM []byte) (crypto.Signer, error) {
	k, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// CACertHash returns the hash kubeadm join pins the cluster CA with
// (discovery.bootstrapToken.caCertHashes, --discovery-token-ca-cert-hash):
// "sha256:" and the lowercase hex SHA-256 of the certificate's DER
// SubjectPublicKeyInfo.
func CACertHash(caCertPEM []byte) (string, error) {
	crt, err := parseCertificate(caCertPEM)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(crt.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// CACertHash returns CACertHash of the cluster CA.
func (p *ClusterPKI) CACertHash() (string, error) {
	return CACertHash(p.CA.Cert)
}

// kubeadmEncryptionAlgorithm returns the encryptionAlgorithm that makes
// kubeadm generate keys of the cluster CA's type: ECDSA-P256 for a PKI
// generated here, RSA-2048 for one an older version generated, which keeps
// its keys (see encryptionAlgorithmFor).
func (p *ClusterPKI) kubeadmEncryptionAlgorithm() (string, error) {
	crt, err := parseCertificate(p.CA.Cert)
	if err != nil {
		return "", fmt.Errorf("cluster CA: %w", err)
	}
	return encryptionAlgorithmFor(crt.PublicKey), nil
}
