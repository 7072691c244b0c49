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

package pcg

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	webhookv1alpha1 "github.com/maas-gateway/maas-gateway/internal/webhook/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// TestOfflineSchemaAgreesWithAPIServer creates (dry run, no webhook) each
// Gateway of the shared table in a real kube-apiserver with the generated
// CRDs, and compares its verdict with the offline evaluation: the same
// fields refused, with the same messages. This is what shows that checking
// a pcg.yaml without a cluster is the cluster's check. It starts an
// envtest control plane (a few seconds), so -short skips it.
func TestOfflineSchemaAgreesWithAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver; run without -short")
	}
	env, err := envtest.New(envtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = infrav1.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultNamespace}}); err != nil {
		t.Fatal(err)
	}
	s, err := gatewaySchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range specCases {
		t.Run(c.name, func(t *testing.T) {
			spec := validSpec()
			c.edit(&spec)
			offline := offlineCauses(t, s, spec)

			gw := &infrav1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: DefaultNamespace}, Spec: spec}
			if err := (&webhookv1alpha1.GatewayDefaulter{}).Default(ctx, gw); err != nil {
				t.Fatal(err)
			}
			server := causes(t, k8s.Create(ctx, gw, client.DryRunAll), "spec.")
			if !slices.Equal(keys(server), keys(offline)) {
				t.Fatalf("the API server refuses %q, the offline schema %q:\nserver:  %v\noffline: %v",
					keys(server), keys(offline), server, offline)
			}
			for f, msgs := range server {
				if f == "" {
					continue // the note that CEL rules were skipped, in words of its own
				}
				if len(msgs) != len(offline[f]) {
					t.Errorf("%s: the API server says %q, the offline schema %q", f, msgs, offline[f])
					continue
				}
				// The value a message quotes is the only difference: this
				// API server (v1.34) quotes a CEL rule's type where the
				// v1.37 library quotes the value.
				for i, m := range msgs {
					if !strings.HasSuffix(m, offline[f][i]) {
						t.Errorf("%s: the API server says %q, the offline schema %q", f, m, offline[f][i])
					}
				}
			}
		})
	}
}
