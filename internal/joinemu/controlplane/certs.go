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

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// certValidity is what kubeadm gives the certificates it signs.
const certValidity = 365 * 24 * time.Hour

// certSpec is one certificate kubeadm signs on a machine from a CA it found
// in /etc/kubernetes/pki.
type certSpec struct {
	commonName string
	orgs       []string
	dnsNames   []string
	ips        []net.IP
	usages     []x509.ExtKeyUsage
}

var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	bothAuth   = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
)

// sign returns a new ECDSA P-256 key and a certificate for it signed by ca,
// both PEM-encoded.
func sign(ca bootstrap.KeyPair, spec certSpec) (certPEM, keyPEM []byte, err error) {
	caCerts, err := cert.ParseCertsPEM(ca.Cert)
	if err != nil || len(caCerts) != 1 {
		return nil, nil, errors.New("parsing CA certificate: want exactly one")
	}
	k, err := keyutil.ParsePrivateKeyPEM(ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing CA key: %w", err)
	}
	caKey, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("CA key of type %T cannot sign", k)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(math.MaxInt64))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.orgs},
		DNSNames:     spec.dnsNames,
		IPAddresses:  spec.ips,
		// Backdated as kubeadm does, for clocks that disagree a little.
		NotBefore:   now.Add(-5 * time.Minute).UTC(),
		NotAfter:    now.Add(certValidity).UTC(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: spec.usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCerts[0], key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing %s: %w", spec.commonName, err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = cert.EncodeCertificates(crt)
	return certPEM, keyPEM, err
}

// writeCert signs spec with ca and writes <dir>/<name>.crt and .key (0600),
// as kubeadm's certs phase does.
func writeCert(dir, name string, ca bootstrap.KeyPair, spec certSpec) error {
	crt, key, err := sign(ca, spec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), crt, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".key"), key, 0o600)
}

// clientTLS returns a TLS configuration that trusts ca and presents a new
// client certificate for spec signed by it.
func clientTLS(ca bootstrap.KeyPair, spec certSpec) (*tls.Config, error) {
	spec.usages = clientAuth
	crt, key, err := sign(ca, spec)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.Cert) {
		return nil, errors.New("no CA certificate to trust")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
