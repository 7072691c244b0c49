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

package controller_test

// How the operator holds Secrets: it reads the ones it can name, never lists
// or watches any, so the Secrets of everything else in the cluster (Helm
// releases, service-account tokens, other operators' keys) neither cost it
// memory nor are within its reach; and it still notices a rotated API key.

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// requestLog records every request a manager sends to the API server.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// matching returns "METHOD path?query" of the requests pred accepts.
func (l *requestLog) matching(pred func(*http.Request) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		if pred(r) {
			out = append(out, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		}
	}
	return out
}

// secretCollectionReads are lists and watches of Secrets, in one namespace
// or all: what an informer (a cache, Owns, Watches) sends.
func secretCollectionReads(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/secrets")
}

var _ = Describe("Secrets", func() {
	It("are read by name, never listed or watched, so a foreign Secret never reaches the manager", func() {
		ns := newNamespace()
		sim := startSimulator(nil)
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		// A Secret as Helm keeps a release, in the same namespace: nothing
		// of the operator's, so nothing the manager may hold.
		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sh.helm.release.v1.app.v1", Labels: map[string]string{"owner": "helm"}},
			Type:       "helm.sh/release.v1",
			Data:       map[string][]byte{"release": bytes.Repeat([]byte("x"), 10<<10)},
		}
		Expect(k8s.Create(suiteCtx, foreign)).To(Succeed())

		log := &requestLog{}
		c := rest.CopyConfig(managerCfg)
		c.Wrap(log.wrap)
		_, stop := startOperatorAs(c, tenantOptions())
		DeferCleanup(stop)

		gw := newGateway(ns, sim.URL)
		gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
		tc := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: tenantVIP,
				ControlPlane:         infrav1.ControlPlanePool{Size: 1},
			},
		}
		Expect(k8s.Create(suiteCtx, tc)).To(Succeed())
		// Deleted while the operator runs (cleanups run last-in first-out),
		// so its finalizers release what it allocated.
		DeferCleanup(func() {
			for _, obj := range []ctrlclient.Object{tc, gw} {
				Expect(ctrlclient.IgnoreNotFound(k8s.Delete(suiteCtx, obj))).To(Succeed())
				Eventually(func() error {
					return k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(obj), obj)
				}).Should(MatchError(ContainSubstring("not found")))
			}
		})

		// Running, with everything it keeps in Secrets: the account's key
		// read, the PKI and token made and read back, the kubeconfig issued.
		Eventually(func(g Gomega) {
			got := &infrav1.TenantCluster{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(tc), got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(infrav1.TenantPhaseRunning))
			g.Expect(got.Status.KubeconfigSecretRef).NotTo(BeNil())
		}).Should(Succeed())
		for _, name := range []string{bootstrap.SecretName("tc", bootstrap.PurposeCA), "tc-bootstrap-token"} {
			s := &corev1.Secret{}
			Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, s)).To(Succeed())
			Expect(metav1.IsControlledBy(s, tc)).To(BeTrue(), name)
		}
		// A change a watch would deliver.
		foreign.Labels["status"] = "superseded"
		Expect(k8s.Update(suiteCtx, foreign)).To(Succeed())

		Expect(log.matching(secretCollectionReads)).To(BeEmpty(),
			"the manager listed or watched Secrets: a cache of Secrets holds every Secret of the cluster")
		Expect(log.matching(func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/secrets/")
		})).NotTo(BeEmpty(), "the manager reads Secrets by name: the log sees its requests")
		Consistently(func() []string {
			return log.matching(func(r *http.Request) bool { return strings.Contains(r.URL.Path, foreign.Name) })
		}).Should(BeEmpty())
	})

	It("the manager may write are its own only: no service-account token, no rewrite of another's Secret", func() {
		ns := newNamespace()
		as, err := ctrlclient.New(managerCfg, ctrlclient.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		foreign := apiKeySecret(ns, "someone-elses", "x")
		Expect(k8s.Create(suiteCtx, foreign)).To(Succeed())

		// RBAC lets the manager create and update Secrets anywhere; the
		// admission policy of config/rbac/secret_policy.yaml narrows that.
		Expect(as.Create(suiteCtx, serviceAccountToken(ns, "minted"))).To(MatchError(ContainSubstring("only Opaque Secrets")))
		Expect(as.Create(suiteCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unlabelled"}})).To(
			MatchError(ContainSubstring("carry its labels")))
		foreign.StringData = nil
		foreign.Data = map[string][]byte{"apiKey": []byte("y")}
		Expect(as.Update(suiteCtx, foreign)).To(MatchError(ContainSubstring("ValidatingAdmissionPolicy")))
		foreign.Labels = map[string]string{controller.LabelTenantCluster: "tc"}
		Expect(as.Update(suiteCtx, foreign)).To(MatchError(ContainSubstring("only its own Secrets")),
			"labelling another's Secret does not make it the manager's")

		own := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc-ca", Labels: map[string]string{controller.LabelTenantCluster: "tc"}},
			Data:       map[string][]byte{"tls.crt": []byte("x")},
		}
		Expect(as.Create(suiteCtx, own)).To(Succeed())
		own.Data["tls.key"] = []byte("y")
		Expect(as.Update(suiteCtx, own)).To(Succeed())
	})

	Context("of a CloudAccount", func() {
		var (
			ns  string
			sim *maassim.Server
		)
		BeforeEach(func() {
			ns = newNamespace()
			sim = startSimulator(nil)
			// Revalidation an hour away: only the Secret check can notice
			// a changed key in this test's time.
			opts := fastOptions
			opts.RevalidateInterval = time.Hour
			_, stop := startOperator(opts)
			DeferCleanup(stop)
			Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
			Expect(k8s.Create(suiteCtx, newGateway(ns, sim.URL))).To(Succeed())
			// The gateway's default account validated first, so that the
			// simulator's counts below are this test's account's alone.
			Eventually(func(g Gomega) bool {
				a := &infrav1.CloudAccount{}
				g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw-default"}, a)).To(Succeed())
				return meta.IsStatusConditionTrue(a.Status.Conditions, infrav1.ConditionReady)
			}).Should(BeTrue())
		})
		account := func(g Gomega) *infrav1.CloudAccount {
			a := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "acct"}, a)).To(Succeed())
			return a
		}
		setKey := func(key string) {
			GinkgoHelper()
			s := &corev1.Secret{}
			Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "acct-key"}, s)).To(Succeed())
			s.Data = map[string][]byte{infrav1.DefaultAPIKeyKey: []byte(key)}
			Expect(k8s.Update(suiteCtx, s)).To(Succeed())
		}

		It("validates a rotated key without watching Secrets", func() {
			Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "acct-key", sim.DefaultAPIKey()))).To(Succeed())
			Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "acct-key"))).To(Succeed())
			Eventually(account).Should(HaveField("Status.User", Not(BeEmpty())))
			first := account(Default).Status.User

			setKey(sim.AddUser("rotated", true))
			Eventually(account).WithTimeout(10 * time.Second).Should(HaveField("Status.User", "rotated"))
			Expect(first).NotTo(Equal("rotated"))
		})

		It("finds a Secret created after its account", func() {
			Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "acct-key"))).To(Succeed())
			Eventually(account).Should(WithTransform(func(a *infrav1.CloudAccount) string {
				if c := meta.FindStatusCondition(a.Status.Conditions, infrav1.CloudAccountCredentialsValid); c != nil {
					return c.Reason
				}
				return ""
			}, Equal(infrav1.ReasonSecretNotFound)))
			Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "acct-key", sim.DefaultAPIKey()))).To(Succeed())
			Eventually(account).WithTimeout(10 * time.Second).Should(WithTransform(func(a *infrav1.CloudAccount) bool {
				return meta.IsStatusConditionTrue(a.Status.Conditions, infrav1.ConditionReady)
			}, BeTrue()))
		})

		It("does not ask MAAS again about a key it refused until the key changes", func() {
			bad := "aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc"
			Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "acct-key", bad))).To(Succeed())
			Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "acct-key"))).To(Succeed())
			Eventually(account).Should(WithTransform(func(a *infrav1.CloudAccount) string {
				if c := meta.FindStatusCondition(a.Status.Conditions, infrav1.CloudAccountCredentialsValid); c != nil {
					return c.Reason
				}
				return ""
			}, Equal(infrav1.ReasonUnauthorized)))
			whoami := func() int {
				n := 0
				for k, c := range sim.Counts() {
					if k.Op == "whoami" {
						n += c
					}
				}
				return n
			}
			// Refused once; ten Secret checks later, MAAS was not asked again.
			asked := whoami()
			Consistently(whoami).WithTimeout(10 * fastOptions.CredentialsCheckInterval).Should(Equal(asked))

			setKey(sim.DefaultAPIKey())
			Eventually(account).WithTimeout(10 * time.Second).Should(WithTransform(func(a *infrav1.CloudAccount) bool {
				return meta.IsStatusConditionTrue(a.Status.Conditions, infrav1.ConditionReady)
			}, BeTrue()))
		})
	})
})
