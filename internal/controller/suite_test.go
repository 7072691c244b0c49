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

// The controller suites run the operator as production does (operator.Setup
// on a controller-runtime manager with the production cache and client
// options, as a ServiceAccount holding exactly the roles of config/rbac)
// against a real kube-apiserver and etcd (envtest) and the MAAS simulator on
// loopback.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

var (
	suiteCtx context.Context
	cfg      *rest.Config
	k8s      client.Client
	scheme   = runtime.NewScheme()
	// managerCfg is the manager's identity: cfg impersonating the
	// ServiceAccount that managerIdentity binds to config/rbac's roles.
	managerCfg *rest.Config
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	// envtest and the simulator are fast, but the machine may be loaded: the
	// timeouts bound a wait for a condition, they do not measure speed.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	SetDefaultConsistentlyDuration(time.Second)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(infrav1.AddToScheme(scheme)).To(Succeed())

	env, err := envtest.New(envtest.Options{})
	Expect(err).NotTo(HaveOccurred())
	cfg, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)

	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	var cancel context.CancelFunc
	suiteCtx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	managerCfg = managerIdentity(ctx)
}, NodeTimeout(5*time.Minute))

// The ServiceAccount the operator runs as in these suites.
const (
	managerNamespace      = "maas-gateway-system"
	managerServiceAccount = "controller-manager"
	// catalogNamespace stands for the release's namespace, where the chart
	// puts the release catalog and binds the leader-election Role.
	catalogNamespace = "default"
)

// managerIdentity binds the ClusterRole of config/rbac/role.yaml, and in
// catalogNamespace the Role of config/rbac/leader_election_role.yaml, to a
// ServiceAccount, and returns cfg impersonating it. Every spec then runs the
// operator with exactly what its manifests grant: a verb the code needs and
// the markers lack fails a spec here, not an install.
func managerIdentity(ctx context.Context) *rest.Config {
	GinkgoHelper()
	user := "system:serviceaccount:" + managerNamespace + ":" + managerServiceAccount
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: managerNamespace, Name: managerServiceAccount}}
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}})).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: managerNamespace, Name: managerServiceAccount}})).To(Succeed())

	role := &rbacv1.ClusterRole{}
	readManifest("config/rbac/role.yaml", role)
	role.ObjectMeta = metav1.ObjectMeta{Name: "maas-gateway-manager"}
	Expect(k8s.Create(ctx, role)).To(Succeed())
	Expect(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   subject,
	})).To(Succeed())

	ns := &rbacv1.Role{}
	readManifest("config/rbac/leader_election_role.yaml", ns)
	ns.ObjectMeta = metav1.ObjectMeta{Namespace: catalogNamespace, Name: "maas-gateway-release-namespace"}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: catalogNamespace, Name: ns.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ns.Name},
		Subjects:   subject,
	})).To(Succeed())

	// The admission policy on the manager's Secrets, naming this account.
	b, err := os.ReadFile(filepath.Join(envtest.RepoRoot(), "config/rbac/secret_policy.yaml"))
	Expect(err).NotTo(HaveOccurred())
	policy, binding, ok := strings.Cut(string(b), "\n---\n")
	Expect(ok).To(BeTrue(), "config/rbac/secret_policy.yaml: a policy and its binding")
	vap := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	Expect(yaml.Unmarshal([]byte(policy), vap)).To(Succeed())
	Expect(vap.Spec.MatchConditions).To(HaveLen(1))
	vap.Spec.MatchConditions[0].Expression = fmt.Sprintf("request.userInfo.username == %q", user)
	Expect(k8s.Create(ctx, vap)).To(Succeed())
	vapb := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	Expect(yaml.Unmarshal([]byte(binding), vapb)).To(Succeed())
	Expect(k8s.Create(ctx, vapb)).To(Succeed())

	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	// Only worth anything if the API server authorizes with RBAC: show it
	// refuses this identity what the role does not grant.
	as, err := client.New(c, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() error { return as.List(ctx, &corev1.SecretList{}) }).Should(Satisfy(apierrors.IsForbidden),
		"the manager's identity may not list Secrets (and the API server must enforce RBAC)")
	Expect(as.List(ctx, &infrav1.GatewayList{})).To(Succeed())
	// And that the policy is in force before any spec runs: this identity
	// may not make a service-account token.
	Eventually(func() error {
		return as.Create(ctx, serviceAccountToken(managerNamespace, "probe"), client.DryRunAll)
	}).Should(MatchError(ContainSubstring("only Opaque Secrets")))
	return c
}

// serviceAccountToken is a Secret the token controller fills with a token
// of the named ServiceAccount: what a manager taken over would create to
// act as that account.
func serviceAccountToken(ns, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
}

// readManifest decodes the one object of a file of the repository.
func readManifest(rel string, into any) {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(envtest.RepoRoot(), rel))
	Expect(err).NotTo(HaveOccurred())
	Expect(yaml.Unmarshal(b, into)).To(Succeed(), rel)
}

// fastOptions make the operator poll and retry in test time.
var fastOptions = operator.Options{
	// The production limit (10 requests/s per region) would make polls every
	// 200 ms of several accounts queue behind each other and starve validation.
	MAAS: maas.Options{MaxAttempts: 2, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		RateLimit: 1000, RateBurst: 1000},
	PollInterval:             200 * time.Millisecond,
	RevalidateInterval:       2 * time.Second,
	RetryInterval:            200 * time.Millisecond,
	CredentialsCheckInterval: 200 * time.Millisecond,
	CapacityBackoff:          200 * time.Millisecond,
	CapacityBackoffMax:       2 * time.Second,
	// The gateway cluster of these suites is envtest, whose etcd is its
	// own and not signed by the gateway's etcd CA: no gateway member is
	// there to remove. The specs that play the gateway's control planes
	// with real processes turn this off.
	SkipGatewayEtcd: true,
}

// startOperator runs the operator in its own manager until the returned stop
// function is called, so a test can restart it as a crash would.
func startOperator(opts operator.Options) (*operator.Operator, func()) {
	GinkgoHelper()
	return startOperatorAs(managerCfg, opts)
}

// startOperatorAs is startOperator with the manager talking to the API
// server through restCfg.
func startOperatorAs(restCfg *rest.Config, opts operator.Options) (*operator.Operator, func()) {
	GinkgoHelper()
	skipNameValidation := true
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Cache:                  opts.CacheOptions(),
		Client:                 operator.ClientOptions(),
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skipNameValidation},
	})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(suiteCtx)
	op, err := operator.Setup(ctx, mgr, opts)
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return op, func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
	}
}

// startSimulator runs a MAAS simulator for one test.
func startSimulator(mutate func(*maassim.Config)) *maassim.Server {
	GinkgoHelper()
	c := maassim.DefaultConfig()
	if mutate != nil {
		mutate(&c)
	}
	srv, err := maassim.Start(c)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	return srv
}

// newNamespace creates a namespace for one test, so tests do not see each other's objects.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	Expect(k8s.Create(suiteCtx, ns)).To(Succeed())
	return ns.Name
}

func apiKeySecret(ns, name, key string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{infrav1.DefaultAPIKeyKey: key},
	}
}

// newGateway makes the test's Gateway "gw", whose API key is in Secret "maas".
func newGateway(ns, endpoint string) *infrav1.Gateway {
	return &infrav1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec: infrav1.GatewaySpec{
			MAAS: infrav1.MAASConnection{Endpoint: endpoint, CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas"}},
			// The specs' clean-up deletes the Gateway and expects every
			// machine it allocated back in MAAS.
			DeletionPolicy: infrav1.GatewayDecommission,
		},
	}
}

// newCloudAccount makes an account of the test's Gateway "gw".
func newCloudAccount(ns, name, endpoint, secret string) *infrav1.CloudAccount {
	return &infrav1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1.CloudAccountSpec{
			GatewayRef: infrav1.GatewayReference{Name: "gw"},
			MAASConnection: infrav1.MAASConnection{
				Endpoint: endpoint, CredentialsSecretRef: infrav1.SecretKeyReference{Name: secret},
			},
		},
	}
}

// condition returns the named condition of obj as last read, or nil.
func conditionOf(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// startControlPlanes plays the tenant clusters' machines of srv with real
// etcd and kube-apiserver processes until the spec ends; the machines must
// have loopback addresses (maassim.Loopback). No process may outlive it.
func startControlPlanes(srv *maassim.Server, mutate ...func(*controlplane.Options)) *controlplane.Emulator {
	GinkgoHelper()
	assets, err := envtest.AssetsDir()
	Expect(err).NotTo(HaveOccurred())
	opts := controlplane.Options{BinDir: assets, Interval: time.Second, Log: zap.New(zap.WriteTo(GinkgoWriter))}
	for _, m := range mutate {
		m(&opts)
	}
	emu, err := controlplane.New(opts)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		dir := emu.Dir()
		Expect(emu.Close()).To(Succeed())
		Expect(controlplane.Leaks(dir)).To(BeEmpty(), "processes outlived the emulator")
	})
	emu.Attach(srv)
	return emu
}

// watchReleases records when MAAS last finished releasing each machine of
// sim, from now until the spec ends, and returns a reader of that record.
// A released machine may be Ready for a moment only (whoever lacks a
// machine allocates it again at once), so specs that prove a release
// read it here rather than await the Ready state.
func watchReleases(sim *maassim.Server) (releasedAt func(systemID string) time.Time) {
	var (
		mu       sync.Mutex
		released = map[string]time.Time{}
	)
	DeferCleanup(sim.Subscribe(func(e maassim.Event) {
		if e.Type == maassim.EventReleased {
			mu.Lock()
			released[e.Machine.SystemID] = e.Time
			mu.Unlock()
		}
	}))
	return func(systemID string) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return released[systemID]
	}
}
