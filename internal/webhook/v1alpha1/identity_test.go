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

package v1alpha1

import (
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

const (
	someUID  = "0b6f3c2e-7d1a-4f4e-9c36-1d2b3a4c5d6e"
	otherUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
)

func withIdentity(id string) metav1.Object {
	o := &metav1.ObjectMeta{}
	if id != "-" {
		o.Annotations = map[string]string{infrav1alpha1.AnnotationIdentityUID: id}
	}
	return o
}

func TestValidateIdentity(t *testing.T) {
	const none = "-"
	for _, tc := range []struct {
		name     string
		old, new string // "" old means a create; "-" means no annotation
		want     string // "" accepted
	}{
		{"create without", "", none, ""},
		{"create with a UID (move)", "", someUID, ""},
		{"create with something else", "", "mine", "must be a UID"},
		{"create with an empty value", "", "", "must be a UID"},
		{"update keeping it", someUID, someUID, ""},
		{"update never having it", none, none, ""},
		{"update setting it", none, someUID, "may only be set when the object is created"},
		{"update changing it", someUID, otherUID, "is immutable"},
		{"update removing it", someUID, none, "is immutable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old metav1.Object
			if tc.old != "" {
				old = withIdentity(tc.old)
			}
			errs := validateIdentity(old, withIdentity(tc.new))
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("refused: %v", errs)
			case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", errs, tc.want)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), "metadata.annotations["+infrav1alpha1.AnnotationIdentityUID+"]"):
				t.Fatalf("error does not name the annotation: %v", errs)
			}
		})
	}
}

var _ = Describe("The identity annotation", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		warnings.take()
	})

	set := func(o metav1.Object, id string) {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[infrav1alpha1.AnnotationIdentityUID] = id
		o.SetAnnotations(a)
	}
	refused := func(err error, by string) {
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "status: %v", err)
		Expect(err.Error()).To(ContainSubstring(by))
		Expect(err.Error()).To(ContainSubstring(infrav1alpha1.AnnotationIdentityUID))
	}

	It("is accepted when a TenantCluster or CloudAccount is created with it, and cannot change after", func() {
		tc := tenantIn(ns, func(tc *infrav1alpha1.TenantCluster) { set(tc, someUID) })
		Expect(create(tc)).To(Succeed())
		set(tc, otherUID)
		refused(update(tc), byTenantWebhook)
		delete(tc.Annotations, infrav1alpha1.AnnotationIdentityUID)
		refused(update(tc), byTenantWebhook)

		ca := accountIn(ns, func(ca *infrav1alpha1.CloudAccount) { set(ca, someUID) })
		Expect(create(ca)).To(Succeed())
		set(ca, otherUID)
		refused(update(ca), byCloudAccountWebhook)
	})

	It("cannot be added to an existing object, not even with an unchanged spec", func() {
		Expect(createThenUpdate(ns, func(tc *infrav1alpha1.TenantCluster) { set(tc, someUID) })).
			To(MatchError(ContainSubstring("may only be set when the object is created")))
		refused(updateSharedGateway(func(g *infrav1alpha1.Gateway) { set(g, someUID) }), byGatewayWebhook)
	})

	It("refuses a value that is not a UID", func() {
		refused(create(tenantIn(ns, func(tc *infrav1alpha1.TenantCluster) { set(tc, "someone-else") })), byTenantWebhook)
	})
})
