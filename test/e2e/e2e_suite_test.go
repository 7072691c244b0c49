//go:build e2e

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

// Package e2e runs the operator as users meet it: the chart installed with
// Helm on a real (kind) cluster, the MAAS simulator running in that cluster,
// and the whole life cycle through the API server. hack/kind/test-e2e.sh
// (make test-e2e) brings the cluster up, runs this suite and tears it down.
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// env is what the suite runs against, from the environment test-e2e.sh sets.
var env struct {
	kubeconfig string
	cluster    string // kind cluster name
	node       string // its (only) node: a Docker container
	version    string // of the images loaded into the cluster
	baseline   string // file of the host's sysctls before the cluster existed
	repo       string // repository root
	chart      string // the chart's directory: E2E_CHART or charts/maas-gateway
}

var (
	ctx       context.Context
	cfg       *rest.Config
	k8s       client.Client
	clientset *kubernetes.Clientset
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(3 * time.Minute)
	SetDefaultEventuallyPollingInterval(time.Second)
	SetDefaultConsistentlyDuration(10 * time.Second)
	SetDefaultConsistentlyPollingInterval(time.Second)
	RunSpecs(t, "maas-gateway e2e (kind)")
}

var _ = BeforeSuite(func() {
	env.kubeconfig = os.Getenv("KUBECONFIG")
	Expect(env.kubeconfig).NotTo(BeEmpty(), "KUBECONFIG must name the kind cluster's kubeconfig (make test-e2e sets it)")
	env.cluster = getenv("E2E_KIND_CLUSTER", "maas-gateway-e2e")
	env.node = env.cluster + "-control-plane"
	env.version = getenv("E2E_VERSION", "")
	if env.version == "" {
		v, err := os.ReadFile("../../VERSION")
		Expect(err).NotTo(HaveOccurred())
		env.version = string(trimSpace(v))
	}
	env.baseline = os.Getenv("E2E_SYSCTL_BASELINE")
	repo, err := filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	env.repo = repo
	env.chart = getenv("E2E_CHART", filepath.Join(repo, "charts", "maas-gateway"))

	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)

	cfg, err = clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(infrav1.AddToScheme(scheme)).To(Succeed())
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
})

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
