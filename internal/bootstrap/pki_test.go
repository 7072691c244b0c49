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
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// fixtureCAHash and rsaFixtureCAHash are the hashes of testdata/pki/ca.crt
// and testdata/pki-rsa/ca.crt as kubeadm's documentation computes them,
// independently of this package:
//
//	openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der |
//	  openssl dgst -sha256 -hex
const (
	fixtureCAHash    = "sha256:05f66865a3e2d3f2149dee430f6ab3f8b0c32819ff8dc47c50162021d7fb0f5a"
	rsaFixtureCAHash = "sha256:af9beb61ac93c608af2ebb882586e785edb1b09ef066ce679b6df8f254454be5"
)

func TestGeneratePKI(t *testing.T) {
	p, err := GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("fresh PKI does not validate: %v", err)
	}
	for _, c := range []struct {
		kp KeyPair
		cn string
	}{
		{p.CA, "kubernetes"},
		{p.EtcdCA, "etcd-ca"},
		{p.FrontProxyCA, "front-proxy-ca"},
	} {
		crt := mustParseCert(t, c.kp.Cert)
		if crt.Subject.CommonName != c.cn || !crt.IsCA || !crt.BasicConstraintsValid || crt.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("%s: CN %q, CA %v, usage %v", c.cn, crt.Subject.CommonName, crt.IsCA, crt.KeyUsage)
		}
		// Self-signed: it verifies against a pool holding only itself.
		pool := x509.NewCertPool()
		pool.AddCert(crt)
		if _, err := crt.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
			t.Errorf("%s does not verify against itself: %v", c.cn, err)
		}
		if !isP256(crt.PublicKey) || crt.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			t.Errorf("%s: %T key signed %s, want ECDSA P-256 signed ECDSA-SHA256", c.cn, crt.PublicKey, crt.SignatureAlgorithm)
		}
		if crt.NotAfter.Sub(crt.NotBefore) < 9*365*24*time.Hour {
			t.Errorf("%s valid only until %s", c.cn, crt.NotAfter)
		}
		// SEC 1 "EC PRIVATE KEY", as kubeadm writes its own EC keys.
		if typ := pemType(t, c.kp.Key); typ != keyutil.ECPrivateKeyBlockType {
			t.Errorf("%s key is PEM %q, want %q", c.cn, typ, keyutil.ECPrivateKeyBlockType)
		}
		if key := mustParseKey(t, c.kp.Key); !isP256(key.Public()) {
			t.Errorf("%s private key is %T, want ECDSA P-256", c.cn, key)
		}
	}

	// The service-account pair as kube-apiserver reads it:
	// --service-account-key-file takes sa.pub (kept in Cert as "PUBLIC KEY"),
	// --service-account-signing-key-file sa.key; tokens are then ES256.
	if typ := pemType(t, p.ServiceAccount.Cert); typ != keyutil.PublicKeyBlockType {
		t.Errorf("sa.pub is PEM %q, want %q", typ, keyutil.PublicKeyBlockType)
	}
	if typ := pemType(t, p.ServiceAccount.Key); typ != keyutil.ECPrivateKeyBlockType {
		t.Errorf("sa.key is PEM %q, want %q", typ, keyutil.ECPrivateKeyBlockType)
	}
	pubs, err := keyutil.ParsePublicKeysPEM(p.ServiceAccount.Cert)
	if err != nil || len(pubs) != 1 {
		t.Fatalf("sa.pub: %d keys, %v", len(pubs), err)
	}
	saKey, ok := mustParseKey(t, p.ServiceAccount.Key).(*ecdsa.PrivateKey)
	if !ok || !isP256(pubs[0]) || !saKey.PublicKey.Equal(pubs[0]) {
		t.Fatalf("sa.pub (%T) is not the ECDSA P-256 public key of sa.key (%T)", pubs[0], saKey)
	}
	digest := sha256.Sum256([]byte("header.claims"))
	sig, err := ecdsa.SignASN1(rand.Reader, saKey, digest[:])
	if err != nil || !ecdsa.VerifyASN1(pubs[0].(*ecdsa.PublicKey), digest[:], sig) {
		t.Errorf("a signature by sa.key does not verify with sa.pub: %v", err)
	}

	other, err := GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(p.CA.Key, other.CA.Key) {
		t.Error("two generated PKIs share a CA key")
	}
}

func TestCACertHash(t *testing.T) {
	rsaPKI, err := PKIFromSecretData(rsaPKISecretData(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    *ClusterPKI
		want string
	}{
		{"ECDSA", testPKI(t), fixtureCAHash},
		{"RSA", rsaPKI, rsaFixtureCAHash},
	} {
		got, err := c.p.CACertHash()
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: CACertHash = %s, want %s (openssl)", c.name, got, c.want)
		}
	}
	if _, err := CACertHash([]byte("not PEM")); err == nil {
		t.Error("CACertHash accepted garbage")
	}
	twoCerts := append(append([]byte(nil), testPKI(t).CA.Cert...), testPKI(t).EtcdCA.Cert...)
	if _, err := CACertHash(twoCerts); err == nil {
		t.Error("CACertHash accepted two certificates")
	}
}

func TestSecretDataRoundTrip(t *testing.T) {
	p := testPKI(t)
	data := p.SecretData()
	if len(data) != 4 {
		t.Fatalf("want 4 secrets, got %d", len(data))
	}
	if string(data[PurposeCA][corev1.TLSCertKey]) != string(p.CA.Cert) ||
		string(data[PurposeServiceAccount][corev1.TLSPrivateKeyKey]) != string(p.ServiceAccount.Key) {
		t.Error("secret data does not hold the PKI under tls.crt/tls.key")
	}
	back, err := PKIFromSecretData(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Error("round trip changed the PKI")
	}
	data[PurposeCA][corev1.TLSCertKey][0] ^= 0xff
	if string(p.CA.Cert) != string(back.CA.Cert) {
		t.Error("SecretData shares memory with the PKI")
	}
	if got := SecretName("prod", PurposeFrontProxy); got != "prod-proxy" {
		t.Errorf("SecretName = %q", got)
	}
}

func TestPKIFromSecretDataRejects(t *testing.T) {
	p := testPKI(t)
	leaf := signLeaf(t, p.CA, "leaf")
	cases := []struct {
		name   string
		mutate func(map[SecretPurpose]map[string][]byte)
		want   string
	}{
		{"missing secret", func(d map[SecretPurpose]map[string][]byte) { delete(d, PurposeEtcd) }, `no "etcd" secret data`},
		{"missing key", func(d map[SecretPurpose]map[string][]byte) { delete(d[PurposeCA], corev1.TLSPrivateKeyKey) }, "lacks"},
		{"swapped keys", func(d map[SecretPurpose]map[string][]byte) {
			d[PurposeCA][corev1.TLSPrivateKeyKey] = p.FrontProxyCA.Key
		}, "cluster CA: private key does not match"},
		{"not a CA", func(d map[SecretPurpose]map[string][]byte) {
			d[PurposeFrontProxy] = map[string][]byte{corev1.TLSCertKey: leaf.Cert, corev1.TLSPrivateKeyKey: leaf.Key}
		}, "front-proxy CA: certificate is not a CA"},
		{"garbage key", func(d map[SecretPurpose]map[string][]byte) {
			d[PurposeServiceAccount][corev1.TLSPrivateKeyKey] = []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
		}, "service-account key pair: parsing private key"},
		{"garbage EC key", func(d map[SecretPurpose]map[string][]byte) {
			d[PurposeEtcd][corev1.TLSPrivateKeyKey] = []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")
		}, "etcd CA: parsing private key"},
		{"RSA key of an older cluster under an ECDSA certificate", func(d map[SecretPurpose]map[string][]byte) {
			d[PurposeCA][corev1.TLSPrivateKeyKey] = rsaPKISecretData(t)[PurposeCA][corev1.TLSPrivateKeyKey]
		}, "cluster CA: private key does not match"},
		{"sa mismatch", func(d map[SecretPurpose]map[string][]byte) {
			d[PurposeServiceAccount][corev1.TLSPrivateKeyKey] = p.CA.Key
		}, "service-account key pair: private key does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.SecretData()
			tc.mutate(d)
			_, err := PKIFromSecretData(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			// MII starts base64 DER of an RSA key, MHc of an EC P-256 one.
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "MII") || strings.Contains(err.Error(), "MHc") {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

func TestAdminGroup(t *testing.T) {
	for v, want := range map[string]string{
		"v1.28.9": GroupSystemMasters,
		"v1.29.0": GroupClusterAdmins,
		"v1.34.2": GroupClusterAdmins,
	} {
		got, err := AdminGroup(v)
		if err != nil || got != want {
			t.Errorf("AdminGroup(%s) = %q, %v; want %q", v, got, err, want)
		}
	}
	if _, err := AdminGroup("1.34"); err == nil {
		t.Error("AdminGroup accepted a version without v")
	}
}

func TestAdminKubeconfig(t *testing.T) {
	p := testPKI(t)
	now := time.Now()
	out, err := AdminKubeconfig(AdminKubeconfigConfig{
		ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: fixtureVersion, CA: p.CA, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(out)
	if err != nil {
		t.Fatalf("clientcmd cannot load the kubeconfig: %v", err)
	}
	if err := clientcmd.Validate(*kc); err != nil {
		t.Fatalf("kubeconfig invalid: %v", err)
	}
	ctx := kc.Contexts[kc.CurrentContext]
	cluster, user := kc.Clusters[ctx.Cluster], kc.AuthInfos[ctx.AuthInfo]
	if kc.CurrentContext != "kubernetes-admin@prod" || cluster.Server != "https://10.0.0.10:6443" || string(cluster.CertificateAuthorityData) != string(p.CA.Cert) {
		t.Errorf("context %q, server %q", kc.CurrentContext, cluster.Server)
	}

	crt := mustParseCert(t, user.ClientCertificateData)
	roots := x509.NewCertPool()
	roots.AddCert(mustParseCert(t, p.CA.Cert))
	if _, err := crt.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("client certificate does not verify against the cluster CA: %v", err)
	}
	if crt.Subject.CommonName != "kubernetes-admin" || !reflect.DeepEqual(crt.Subject.Organization, []string{GroupClusterAdmins}) {
		t.Errorf("subject = %v", crt.Subject)
	}
	if crt.IsCA {
		t.Error("client certificate is a CA")
	}
	if !crt.NotBefore.Before(now) || crt.NotAfter.Sub(now) < 364*24*time.Hour {
		t.Errorf("validity %s – %s", crt.NotBefore, crt.NotAfter)
	}
	if _, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData); err != nil {
		t.Errorf("client key does not match its certificate: %v", err)
	}
	if !isP256(crt.PublicKey) || pemType(t, user.ClientKeyData) != keyutil.ECPrivateKeyBlockType {
		t.Errorf("client key is %T in PEM %q, want ECDSA P-256 in %q", crt.PublicKey, pemType(t, user.ClientKeyData), keyutil.ECPrivateKeyBlockType)
	}
	if crt.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b, want digitalSignature only (RFC 5480)", crt.KeyUsage)
	}

	old, err := AdminKubeconfig(AdminKubeconfigConfig{
		ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: "v1.28.0", CA: p.CA, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	oldKC, _ := clientcmd.Load(old)
	if o := mustParseCert(t, oldKC.AuthInfos["kubernetes-admin"].ClientCertificateData).Subject.Organization; !reflect.DeepEqual(o, []string{GroupSystemMasters}) {
		t.Errorf("v1.28 admin group = %v", o)
	}
}

// TestAdminKubeconfigAuthenticates serves TLS on loopback with a certificate
// of the cluster CA, requiring client certificates of that CA, and calls it
// with client-go configured from the kubeconfig: for a PKI generated now and
// for the RSA one of a cluster an older version created.
func TestAdminKubeconfigAuthenticates(t *testing.T) {
	rsaPKI, err := PKIFromSecretData(rsaPKISecretData(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*ClusterPKI{"ECDSA": testPKI(t), "RSA": rsaPKI} {
		t.Run(name, func(t *testing.T) { checkAdminKubeconfigAuthenticates(t, p) })
	}
}

func checkAdminKubeconfigAuthenticates(t *testing.T, p *ClusterPKI) {
	t.Helper()
	out, err := AdminKubeconfig(AdminKubeconfigConfig{
		ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, Port: 443, KubernetesVersion: fixtureVersion, CA: p.CA, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(mustParseCert(t, p.CA.Cert))
	serving := signLeaf(t, p.CA, "kube-apiserver")
	servingPair, err := tls.X509KeyPair(serving.Cert, serving.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.TLS.PeerCertificates[0]
		_, _ = io.WriteString(w, c.Subject.CommonName+"/"+strings.Join(c.Subject.Organization, ","))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{servingPair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	defer srv.Close()

	rc, err := clientcmd.RESTConfigFromKubeConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://10.0.0.10:443" {
		t.Errorf("host = %q", rc.Host)
	}
	rc.Host = srv.URL // the VIP is not here; the loopback server stands in for it
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatalf("TLS with the kubeconfig's credentials failed: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "kubernetes-admin/"+GroupClusterAdmins {
		t.Errorf("server saw %q", body)
	}
}

func TestAdminKubeconfigRejects(t *testing.T) {
	p := testPKI(t)
	good := AdminKubeconfigConfig{ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: fixtureVersion, CA: p.CA, Now: time.Now()}
	for name, mutate := range map[string]func(*AdminKubeconfigConfig){
		"no cluster name": func(c *AdminKubeconfigConfig) { c.ClusterName = "" },
		"hostname":        func(c *AdminKubeconfigConfig) { c.ControlPlaneEndpoint = "api" },
		"bad version":     func(c *AdminKubeconfigConfig) { c.KubernetesVersion = "latest" },
		"no time":         func(c *AdminKubeconfigConfig) { c.Now = time.Time{} },
		"mismatched CA":   func(c *AdminKubeconfigConfig) { c.CA.Key = p.EtcdCA.Key },
		"bad port":        func(c *AdminKubeconfigConfig) { c.Port = -1 },
		"IPv6 loopback":   func(c *AdminKubeconfigConfig) { c.ControlPlaneEndpoint = "::1" },
	} {
		c := good
		mutate(&c)
		if _, err := AdminKubeconfig(c); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "PRIVATE") {
			t.Errorf("%s: error leaks the key: %v", name, err)
		}
	}
}

func TestAdminKubeconfigValidity(t *testing.T) {
	p := testPKI(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for validity, want := range map[time.Duration]time.Time{
		0:                now.Add(365 * 24 * time.Hour),
		90 * time.Second: now.Add(90 * time.Second),
	} {
		cfg := AdminKubeconfigConfig{ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: fixtureVersion,
			CA: p.CA, Now: now, Validity: validity}
		out, err := AdminKubeconfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		crt, err := VerifyAdminKubeconfig(out, cfg)
		if err != nil {
			t.Fatalf("validity %s: its own kubeconfig does not verify: %v", validity, err)
		}
		if !crt.NotAfter.Equal(want) {
			t.Errorf("validity %s: NotAfter %s, want %s", validity, crt.NotAfter, want)
		}
	}
}

// TestVerifyAdminKubeconfigRefuses: only what AdminKubeconfig wrote from the
// cluster CA for this cluster passes; what a user of the namespace could put
// in the Secret instead does not, and no error quotes it.
func TestVerifyAdminKubeconfigRefuses(t *testing.T) {
	p := testPKI(t)
	other, err := GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cfg := AdminKubeconfigConfig{ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: fixtureVersion, CA: p.CA, Now: now}
	good, err := AdminKubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = VerifyAdminKubeconfig(good, cfg); err != nil {
		t.Fatalf("the good kubeconfig: %v", err)
	}
	edit := func(mutate func(*clientcmdapi.Config, *clientcmdapi.AuthInfo)) []byte {
		kc, err := clientcmd.Load(good)
		if err != nil {
			t.Fatal(err)
		}
		mutate(kc, kc.AuthInfos["kubernetes-admin"])
		out, err := clientcmd.Write(*kc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	signed := func(ca KeyPair, cn string, groups []string) func(*clientcmdapi.Config, *clientcmdapi.AuthInfo) {
		return func(_ *clientcmdapi.Config, u *clientcmdapi.AuthInfo) {
			crt, key, err := SignClientCertificate(ca, cn, groups, now, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			u.ClientCertificateData, u.ClientKeyData = crt, key
		}
	}
	otherCluster := cfg
	otherCluster.CA = other.CA
	foreign, err := AdminKubeconfig(otherCluster)
	if err != nil {
		t.Fatal(err)
	}
	for name, kubeconfig := range map[string][]byte{
		"garbage":           []byte("\x00 not: [a kubeconfig"),
		"empty":             nil,
		"another cluster's": foreign,
		"another server": edit(func(kc *clientcmdapi.Config, _ *clientcmdapi.AuthInfo) {
			kc.Clusters["prod"].Server = "https://10.0.0.99:6443"
		}),
		"a token file": edit(func(_ *clientcmdapi.Config, u *clientcmdapi.AuthInfo) {
			u.TokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
		}),
		"an exec plugin": edit(func(_ *clientcmdapi.Config, u *clientcmdapi.AuthInfo) {
			u.Exec = &clientcmdapi.ExecConfig{Command: "sh", APIVersion: "client.authentication.k8s.io/v1"}
		}),
		"insecure": edit(func(kc *clientcmdapi.Config, _ *clientcmdapi.AuthInfo) {
			kc.Clusters["prod"].InsecureSkipTLSVerify = true
		}),
		"a certificate of another CA":  edit(signed(other.CA, "kubernetes-admin", []string{GroupClusterAdmins})),
		"a certificate of the etcd CA": edit(signed(p.EtcdCA, "kubernetes-admin", []string{GroupClusterAdmins})),
		"system:masters":               edit(signed(p.CA, "kubernetes-admin", []string{GroupSystemMasters})),
		"another user":                 edit(signed(p.CA, "someone", []string{GroupClusterAdmins})),
		"a key that does not match": edit(func(_ *clientcmdapi.Config, u *clientcmdapi.AuthInfo) {
			_, key, err := SignClientCertificate(p.CA, "kubernetes-admin", []string{GroupClusterAdmins}, now, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			u.ClientKeyData = key
		}),
	} {
		_, err := VerifyAdminKubeconfig(kubeconfig, cfg)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "PRIVATE") || strings.Contains(err.Error(), "CERTIFICATE") || strings.Contains(err.Error(), "kubeconfig [a") {
			t.Errorf("%s: error quotes the kubeconfig: %v", name, err)
		}
	}
	// Its dates are the caller's to judge: an expired one is still ours.
	expired := cfg
	expired.Now, expired.Validity = now.Add(-48*time.Hour), time.Hour
	old, err := AdminKubeconfig(expired)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAdminKubeconfig(old, cfg); err != nil {
		t.Errorf("an expired kubeconfig the operator wrote: %v", err)
	}
}

func mustParseCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertificate(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustParseKey(t *testing.T, keyPEM []byte) crypto.Signer {
	t.Helper()
	k, err := parseSigner(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pemType returns the type of the only PEM block in b.
func pemType(t *testing.T, b []byte) string {
	t.Helper()
	block, trailing := pem.Decode(b)
	if block == nil || len(strings.TrimSpace(string(trailing))) != 0 {
		t.Fatalf("want exactly one PEM block in %d bytes", len(b))
	}
	return block.Type
}

func isP256(pub crypto.PublicKey) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && k.Curve == elliptic.P256()
}

// signLeaf signs a serving certificate for 127.0.0.1 with ca, for tests.
func signLeaf(t *testing.T, ca KeyPair, cn string) KeyPair {
	t.Helper()
	caCert := mustParseCert(t, ca.Cert)
	caKey, err := parseSigner(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cert.EncodeCertificates(crt)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return KeyPair{Cert: certPEM, Key: keyPEM}
}

func TestPKINeverPrintsKeys(t *testing.T) {
	p := testPKI(t)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{p, *p, p.CA} {
			s := fmt.Sprintf(format, v)
			if strings.Contains(s, "PRIVATE") || strings.Contains(s, "45 45 45") || !strings.Contains(s, "redacted") {
				t.Errorf("%s of %T: %.200s", format, v, s)
			}
		}
	}
}

func TestEncryptionAlgorithmFor(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Only the modulus length matters; generating RSA keys would take seconds.
	rsaPub := func(bits int) *rsa.PublicKey {
		return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
	}
	cases := []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"ECDSA P-256", mustParseCert(t, testPKI(t).CA.Cert).PublicKey, "ECDSA-P256"},
		{"RSA 2048 of an older cluster", mustParseCert(t, rsaPKISecretData(t)[PurposeCA][corev1.TLSCertKey]).PublicKey, "RSA-2048"},
		{"RSA 3072", rsaPub(3072), "RSA-3072"},
		{"RSA 4096", rsaPub(4096), "RSA-4096"},
		// kubeadm's default then: the leaves need not match an imported CA.
		{"RSA 1024", rsaPub(1024), ""},
		{"ECDSA P-384", p384.Public(), ""},
		{"Ed25519", edPub, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := encryptionAlgorithmFor(tc.pub); got != tc.want {
				t.Errorf("encryptionAlgorithmFor = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRSAPKIOfOlderCluster loads the RSA PKI a cluster created by the version
// before ECDSA keeps in its Secrets, and checks it keeps working as it is:
// same keys, same CA pin, kubeadm told RSA-2048, admin kubeconfig signed.
func TestRSAPKIOfOlderCluster(t *testing.T) {
	data := rsaPKISecretData(t)
	p, err := PKIFromSecretData(data)
	if err != nil {
		t.Fatalf("loading the RSA PKI from its Secrets: %v", err)
	}
	if k, ok := mustParseKey(t, p.CA.Key).(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 || pemType(t, p.CA.Key) != keyutil.RSAPrivateKeyBlockType {
		t.Fatalf("fixture: CA key %T in PEM %q, want RSA-2048 PKCS#1", k, pemType(t, p.CA.Key))
	}
	if !reflect.DeepEqual(p.SecretData(), data) {
		t.Error("the Secrets of the loaded PKI differ from those it was loaded from")
	}

	// Only the init node has the keys in its user data; the others
	// download them from the kubeadm-certs Secret (TestKubeadmCertsRoundTrip).
	for _, role := range []Role{RoleInitControlPlane} {
		t.Run(string(role), func(t *testing.T) {
			cfg := testConfig(t, role)
			cfg.PKI = p
			out, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkUserData(t, cfg, out)
			files, _ := renderedFiles(t, out)
			for path, want := range map[string][]byte{
				pkiDir + "/ca.key":             p.CA.Key,
				pkiDir + "/etcd/ca.key":        p.EtcdCA.Key,
				pkiDir + "/front-proxy-ca.key": p.FrontProxyCA.Key,
				pkiDir + "/sa.key":             p.ServiceAccount.Key,
				pkiDir + "/sa.pub":             p.ServiceAccount.Cert,
			} {
				if files[path].Content != string(want) {
					t.Errorf("%s is not the key kept in the Secret", path)
				}
			}
			if role == RoleInitControlPlane && !strings.Contains(files[kubeadmConfig].Content, "encryptionAlgorithm: RSA-2048\n") {
				t.Error("kubeadm init is not told RSA-2048")
			}
		})
	}

	now := time.Now()
	out, err := AdminKubeconfig(AdminKubeconfigConfig{
		ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: fixtureVersion, CA: p.CA, Now: now,
	})
	if err != nil {
		t.Fatalf("AdminKubeconfig with the RSA CA: %v", err)
	}
	kc, err := clientcmd.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	user := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	crt := mustParseCert(t, user.ClientCertificateData)
	roots := x509.NewCertPool()
	roots.AddCert(mustParseCert(t, p.CA.Cert))
	if _, err := crt.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("client certificate does not verify against the RSA CA: %v", err)
	}
	if crt.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("client certificate signed %s, want SHA256-RSA by the RSA CA", crt.SignatureAlgorithm)
	}
	if _, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData); err != nil {
		t.Errorf("client key does not match its certificate: %v", err)
	}
}
