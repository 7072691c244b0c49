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
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Groups an admin client certificate can carry.
const (
	// GroupClusterAdmins is bound to cluster-admin by the ClusterRoleBinding
	// kubeadm init creates since Kubernetes 1.29: admin rights that RBAC grants,
	// and so can revoke.
	GroupClusterAdmins = "kubeadm:cluster-admins"
	// GroupSystemMasters bypasses RBAC altogether and cannot be revoked short
	// of rotating the CA; kubeadm keeps it for its break-glass super-admin.conf.
	GroupSystemMasters = "system:masters"
)

// DefaultAdminKubeconfigValidity matches the one year kubeadm gives the
// certificates it signs; the controller renews the kubeconfig well before it ends.
const DefaultAdminKubeconfigValidity = 365 * 24 * time.Hour

const (
	adminCommonName = "kubernetes-admin"
	// clockSkew backdates certificates so a node or client whose clock runs
	// a little behind the operator's accepts them at once.
	clockSkew = 5 * time.Minute
)

// clusterAdminsSince is the first Kubernetes version whose kubeadm creates the
// kubeadm:cluster-admins binding.
var clusterAdminsSince = version.MajorMinor(1, 29)

// AdminGroup returns the group the admin kubeconfig of a cluster running
// kubernetesVersion (e.g. "v1.34.2") should carry: kubeadm:cluster-admins
// where kubeadm binds it to cluster-admin (1.29 and later), otherwise
// system:masters. A kubeconfig that leaves the cluster (it is kept in a Secret
// of the gateway) should hold rights that can be revoked.
func AdminGroup(kubernetesVersion string) (string, error) {
	v, err := parseKubernetesVersion(kubernetesVersion)
	if err != nil {
		return "", err
	}
	if v.AtLeast(clusterAdminsSince) {
		return GroupClusterAdmins, nil
	}
	return GroupSystemMasters, nil
}

// AdminKubeconfigConfig says which admin kubeconfig AdminKubeconfig writes.
type AdminKubeconfigConfig struct {
	// ClusterName names the cluster, user and context in the kubeconfig.
	ClusterName string
	// ControlPlaneEndpoint is the VIP of the cluster's API server.
	ControlPlaneEndpoint string
	// Port is the API server port; 0 means 6443.
	Port int32
	// KubernetesVersion picks the admin group (see AdminGroup).
	KubernetesVersion string
	// CA is the cluster CA that signs the client certificate.
	CA KeyPair
	// Now is the time the certificate becomes valid (less a clock-skew margin).
	Now time.Time
	// Validity is how long after Now the certificate expires; zero means
	// DefaultAdminKubeconfigValidity.
	Validity time.Duration
}

// AdminKubeconfig returns a kubeconfig for https://<VIP>:<port> that trusts
// the cluster CA and authenticates with a new client certificate (CN
// kubernetes-admin, O AdminGroup) signed by it, valid Validity from Now.
func AdminKubeconfig(cfg AdminKubeconfigConfig) ([]byte, error) {
	server, group, err := adminTarget(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Now.IsZero() {
		return nil, errors.New("now is required to date the client certificate")
	}
	if err := validateCA(cfg.CA); err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	validity := cfg.Validity
	if validity == 0 {
		validity = DefaultAdminKubeconfigValidity
	}
	certPEM, keyPEM, err := SignClientCertificate(cfg.CA, adminCommonName, []string{group}, cfg.Now, validity)
	if err != nil {
		return nil, fmt.Errorf("signing the admin client certificate: %w", err)
	}
	return encodeAdminKubeconfig(cfg.ClusterName, server, cfg.CA.Cert, certPEM, keyPEM)
}

// adminTarget is the server URL and the group of cfg's admin kubeconfig.
func adminTarget(cfg AdminKubeconfigConfig) (server, group string, err error) {
	if errs := validateDNSSubdomain(cfg.ClusterName); errs != "" {
		return "", "", fmt.Errorf("invalid cluster name %q: %s", cfg.ClusterName, errs)
	}
	vip, err := parseVIP(cfg.ControlPlaneEndpoint)
	if err != nil {
		return "", "", err
	}
	port, err := apiServerPort(cfg.Port)
	if err != nil {
		return "", "", err
	}
	group, err = AdminGroup(cfg.KubernetesVersion)
	if err != nil {
		return "", "", err
	}
	return "https://" + net.JoinHostPort(vip.String(), strconv.Itoa(int(port))), group, nil
}

func encodeAdminKubeconfig(clusterName, server string, caPEM, certPEM, keyPEM []byte) ([]byte, error) {
	user := adminCommonName
	context := user + "@" + clusterName
	kc := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{clusterName: {
			Server:                   server,
			CertificateAuthorityData: caPEM,
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{user: {
			ClientCertificateData: certPEM,
			ClientKeyData:         keyPEM,
		}},
		Contexts: map[string]*clientcmdapi.Context{context: {
			Cluster:  clusterName,
			AuthInfo: user,
		}},
		CurrentContext: context,
	}
	out, err := clientcmd.Write(kc)
	if err != nil {
		return nil, fmt.Errorf("encoding kubeconfig: %w", err)
	}
	return out, nil
}

// VerifyAdminKubeconfig checks that kubeconfig is an admin kubeconfig
// AdminKubeconfig wrote for cfg (Now and Validity aside) and returns its
// client certificate, whose dates say until when it is valid; it does not
// judge them. Anything else the kubeconfig holds, or anything different (a
// server, a token, a token file, an exec plugin, another user or context),
// makes it fail: the kubeconfig lives in a Secret users of its namespace may
// write, and only what the operator signed from the cluster CA is to be
// trusted or kept. Its errors never quote the kubeconfig.
func VerifyAdminKubeconfig(kubeconfig []byte, cfg AdminKubeconfigConfig) (*x509.Certificate, error) {
	server, group, err := adminTarget(cfg)
	if err != nil {
		return nil, err
	}
	ca, err := parseCertificate(cfg.CA.Cert)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	// Parse errors are not wrapped: a YAML or JSON error may quote the input.
	loaded, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, errors.New("not a kubeconfig")
	}
	current := loaded.Contexts[loaded.CurrentContext]
	if current == nil || loaded.AuthInfos[current.AuthInfo] == nil {
		return nil, errors.New("its current context names no user")
	}
	user := loaded.AuthInfos[current.AuthInfo]
	// Written again from its own certificate and key, it must come out the
	// same to the byte: nothing added, nothing changed.
	want, err := encodeAdminKubeconfig(cfg.ClusterName, server, cfg.CA.Cert, user.ClientCertificateData, user.ClientKeyData)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(want, kubeconfig) {
		return nil, fmt.Errorf("it is not only the admin kubeconfig for %s with the cluster CA and a client certificate", server)
	}
	crt, err := parseCertificate(user.ClientCertificateData)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	if !bytes.Equal(crt.RawIssuer, ca.RawSubject) || crt.CheckSignatureFrom(ca) != nil {
		return nil, errors.New("its client certificate is not signed by the cluster CA")
	}
	key, err := parseSigner(user.ClientKeyData)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	if !publicKeysEqual(key.Public(), crt.PublicKey) {
		return nil, errors.New("its client key does not match its certificate")
	}
	if crt.Subject.CommonName != adminCommonName || !slices.Equal(crt.Subject.Organization, []string{group}) ||
		!slices.Equal(crt.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		return nil, fmt.Errorf("its client certificate is not for %s in group %s, for client authentication only", adminCommonName, group)
	}
	return crt, nil
}

// SignClientCertificate returns a new key and a client-auth certificate for
// it, signed by ca, for commonName in groups, valid from now (less a margin
// for clock skew) for validity. The operator signs its own short-lived
// credentials for the clusters it runs with it, in memory.
func SignClientCertificate(ca KeyPair, commonName string, groups []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if now.IsZero() || validity <= 0 {
		return nil, nil, errors.New("a start time and a positive validity are required")
	}
	caCert, err := parseCertificate(ca.Cert)
	if err != nil {
		return nil, nil, err
	}
	caKey, err := parseSigner(ca.Key)
	if err != nil {
		return nil, nil, err
	}
	// ECDSA under an RSA CA too (a cluster an older version made): a
	// certificate's key type need not match its issuer's.
	key, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(math.MaxInt64))
	if err != nil {
		return nil, nil, fmt.Errorf("generating serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		// Serial numbers must be positive.
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: commonName, Organization: groups},
		NotBefore:    now.Add(-clockSkew).UTC(),
		NotAfter:     now.Add(validity).UTC(),
		// Not keyEncipherment: that is RSA key transport, which RFC 5480
		// rules out for EC keys.
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("creating certificate: %w", err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing the new certificate: %w", err)
	}
	certPEM, err = cert.EncodeCertificates(crt)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding certificate: %w", err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding key: %w", err)
	}
	return certPEM, keyPEM, nil
}

// parseVIP parses the control-plane endpoint, which must be a plain unicast
// IP address: kube-vip holds it by ARP, and it names the API server in every
// kubeconfig and certificate.
//
// IPv4 loopback addresses (127.0.0.0/8) are accepted: the emulated machines
// of internal/joinemu/controlplane live there, each on an address of its own,
// and render their user data with this package like real ones. Whether a
// real cluster may have such a VIP is policy, which the webhook decides; this
// package only refuses what no cluster could use (::1 is one address, so no
// emulated cluster of several machines can share it either).
func parseVIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("control-plane endpoint %q is not an IP address", s)
	}
	a = a.Unmap()
	if a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || (a.IsLoopback() && !a.Is4()) {
		return netip.Addr{}, fmt.Errorf("control-plane endpoint %q must be a unicast IP address without zone, not ::1", s)
	}
	return a, nil
}

func apiServerPort(p int32) (int32, error) {
	switch {
	case p == 0:
		return defaultAPIServerPort, nil
	case p < 1 || p > 65535:
		return 0, fmt.Errorf("API server port %d is out of range 1-65535", p)
	}
	return p, nil
}

// parseKubernetesVersion parses a release version as kubeadm takes it: "v"
// and a semantic version, e.g. v1.34.2.
func parseKubernetesVersion(s string) (*version.Version, error) {
	if len(s) < 2 || s[0] != 'v' {
		return nil, fmt.Errorf("kubernetes version %q must look like v1.34.2", s)
	}
	v, err := version.ParseSemantic(s)
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q must look like v1.34.2", s)
	}
	return v, nil
}
