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
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

func TestCertificateKey(t *testing.T) {
	k, err := GenerateCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Hex()) != 64 {
		t.Errorf("Hex() has %d digits, want kubeadm's 64", len(k.Hex()))
	}
	back, err := ParseCertificateKey(k.Hex())
	if err != nil || back.Hex() != k.Hex() {
		t.Errorf("ParseCertificateKey(Hex()) = %v", err)
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, k.Hex()) || strings.Contains(s, k.Hex()[:16]) {
			t.Errorf("printing a key leaks it: %q", s)
		}
	}
	for _, bad := range []string{"", "zz" + k.Hex()[2:], k.Hex()[:62], k.Hex() + "00"} {
		_, err := ParseCertificateKey(bad)
		if err == nil {
			t.Errorf("ParseCertificateKey(%q) succeeded", bad)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error %q repeats the input", err)
		}
	}
}

// kubeadmDecrypt opens one entry as kubeadm's download-certs does
// (cmd/kubeadm/app/util/crypto: AES-GCM, the nonce before the sealed data),
// written here from that description rather than with the code under test.
func kubeadmDecrypt(t *testing.T, keyHex string, sealed []byte) ([]byte, error) {
	t.Helper()
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, fmt.Errorf("entry of %d bytes is shorter than a nonce", len(sealed))
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
}

func TestKubeadmCertsRoundTrip(t *testing.T) {
	rsa, err := PKIFromSecretData(rsaPKISecretData(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*ClusterPKI{"ecdsa": testPKI(t), "rsa": rsa} {
		t.Run(name, func(t *testing.T) {
			key, err := GenerateCertificateKey()
			if err != nil {
				t.Fatal(err)
			}
			data, err := p.KubeadmCertsData(key)
			if err != nil {
				t.Fatal(err)
			}
			// kubeadm's names for a stacked-etcd cluster, "/" as "-".
			want := map[string][]byte{
				"ca.crt": p.CA.Cert, "ca.key": p.CA.Key,
				"etcd-ca.crt": p.EtcdCA.Cert, "etcd-ca.key": p.EtcdCA.Key,
				"front-proxy-ca.crt": p.FrontProxyCA.Cert, "front-proxy-ca.key": p.FrontProxyCA.Key,
				"sa.pub": p.ServiceAccount.Cert, "sa.key": p.ServiceAccount.Key,
			}
			if got := slices.Sorted(maps.Keys(data)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
				t.Fatalf("Secret keys %q, want kubeadm's %q", got, slices.Sorted(maps.Keys(want)))
			}
			for k, plain := range want {
				if bytes.Contains(data[k], plain) || bytes.Contains(data[k], []byte("PRIVATE KEY")) {
					t.Errorf("%s is stored in the clear", k)
				}
				got, err := kubeadmDecrypt(t, key.Hex(), data[k])
				if err != nil || !bytes.Equal(got, plain) {
					t.Errorf("%s does not decrypt as kubeadm decrypts it: %v", k, err)
				}
			}
			if !p.HoldsKubeadmCerts(data, key) {
				t.Error("HoldsKubeadmCerts is false for what KubeadmCertsData made")
			}
			other, _ := GenerateCertificateKey()
			if p.HoldsKubeadmCerts(data, other) {
				t.Error("HoldsKubeadmCerts is true under another key")
			}
			if _, err := kubeadmDecrypt(t, other.Hex(), data["ca.key"]); err == nil {
				t.Error("another key decrypts ca.key")
			}
			partial := maps.Clone(data)
			delete(partial, "sa.key")
			if p.HoldsKubeadmCerts(partial, key) {
				t.Error("HoldsKubeadmCerts is true with sa.key missing")
			}
			again, _ := p.KubeadmCertsData(key)
			if bytes.Equal(again["ca.key"], data["ca.key"]) {
				t.Error("two encryptions of ca.key are equal: the nonce is not random")
			}
			var elsewhere ClusterPKI
			if name == "rsa" {
				elsewhere = *testPKI(t)
			} else {
				elsewhere = *rsa
			}
			if elsewhere.HoldsKubeadmCerts(data, key) {
				t.Error("HoldsKubeadmCerts is true for another cluster's PKI")
			}
		})
	}
	if _, err := testPKI(t).KubeadmCertsData(CertificateKey{}); err == nil {
		t.Error("KubeadmCertsData without a key succeeded")
	}
}

func TestKubeadmCertsTokenSecret(t *testing.T) {
	exp := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	s, err := KubeadmCertsTokenSecret(exp)
	if err != nil {
		t.Fatal(err)
	}
	if s.Namespace != "kube-system" || !strings.HasPrefix(s.Name, "bootstrap-token-") || s.Type != bootstrapapi.SecretTypeBootstrapToken {
		t.Errorf("token Secret %s/%s of type %s", s.Namespace, s.Name, s.Type)
	}
	for k := range s.Data {
		if strings.HasPrefix(k, bootstrapapi.BootstrapTokenUsagePrefix) || k == bootstrapapi.BootstrapTokenExtraGroupsKey {
			t.Errorf("the token that bounds the Secret's life has %s: it must authenticate nobody", k)
		}
	}
	if got, ok := KubeadmCertsTokenExpiry(s.Data); !ok || !got.Equal(exp) {
		t.Errorf("expiry %v %v, want %v", got, ok, exp)
	}
}
