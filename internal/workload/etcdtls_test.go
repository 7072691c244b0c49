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

package workload

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// A connection signs one etcd client certificate and reuses it until two
// thirds of its validity have passed.
func TestEtcdCredentialsAreReusedUntilRenewal(t *testing.T) {
	pki, err := bootstrap.GeneratePKI()
	if err != nil {
		t.Fatal(err)
	}
	x := &Cluster{access: Access{PKI: pki}}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	first, err := x.etcdTLSConfig(t0)
	if err != nil {
		t.Fatal(err)
	}
	again, err := x.etcdTLSConfig(t0.Add(etcdCredentialValidity / 2))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("a second reconcile within the validity signed a new certificate")
	}
	renewed, err := x.etcdTLSConfig(t0.Add(etcdCredentialValidity * 2 / 3))
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first {
		t.Fatalf("the certificate was not renewed at two thirds of its validity")
	}
	cert, err := x509.ParseCertificate(renewed.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(etcdCredentialValidity * 5 / 3); cert.NotAfter.Before(want.Add(-time.Minute)) {
		t.Errorf("renewed certificate expires at %s, want about %s", cert.NotAfter, want)
	}
}
