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
// on a controller-runtime manager) against a real kube-apiserver and etcd
// (envtest) and the MAAS simulator on loopback.

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

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
}, NodeTimeout(5*time.Minute))

// fastOptions make the operator poll and retry in test time.
var fastOptions = operator.Options{
	// The production limit (10 requests/s per region) would make polls every
	// 200 ms of several accounts queue behind each other and starve validation.
	MAAS: maas.Options{MaxAttempts: 2, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		RateLimit: 1000, RateBurst: 1000},
	PollInterval:       200 * time.Millisecond,
	RevalidateInterval: 2 * time.Second,
	RetryInterval:      200 * time.Millisecond,
}

// startOperator runs the operator in its own manager until the returned stop
// function is called, so a test can restart it as a crash would.
func startOperator(opts operator.Options) (*operator.Operator, func()) {
	GinkgoHelper()
	skipNameValidation := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
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

// cniDaemonSet is what a CNI installs, as kubelets see it: a DaemonSet whose
// pods mount /etc/cni/net.d from the host.
func cniDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{"app": "cni"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cni"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "cni", Image: "registry.invalid/cni:1"}},
					Volumes: []corev1.Volume{{Name: "net", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/etc/cni/net.d"}}}},
				},
			},
		},
	}
}
