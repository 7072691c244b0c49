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

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kind/pkg/cluster"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// `maas-gateway install` with kind as the bootstrap cluster.
//
// What runs here, for real: the installer binary (go build of
// cmd/maas-gateway) makes the bootstrap cluster with the kind library
// through this host's Docker, from the offline node image (E2E_NODE_IMAGE)
// and a kind config without the default CNI, and loads the manager image
// into it (--operator-image); it installs the operator there from the
// chart embedded in the binary (the Helm SDK waiting for the manager's Pod)
// with --outside-gateway; it creates the Gateway and its Secrets from
// pcg.yaml with spec.initialize; the operator generates the cluster's PKI
// and deploys the first machine, with the Init mark, in a MAAS simulator
// of its own (in the e2e cluster, reached from the bootstrap cluster at the
// e2e node's address through a NodePort, as a MAAS outside both); the
// installer then waits for the new cluster's API server at the VIP, its
// progress naming that step and what it sees, and gives up at --timeout
// (exit 5) keeping the bootstrap cluster. A re-run re-uses that kind
// cluster and finds the steps before done; the spec then deletes it with
// KindBootstrap.Delete, the code of the installer's last step.
//
// What cannot run here: everything from "admin access to the new cluster"
// on. No machine boots from the simulator, so nothing runs kubeadm init
// and no API server ever answers at the VIP: admin access, first node
// Ready, operator in the new cluster, move, all nodes Ready, and the last
// step deleting the bootstrap cluster after a successful move (or keeping
// it with --keep-bootstrap). Those run in the test world instead
// (internal/install/world_test.go: envtest as the bootstrap cluster, the
// controlplane emulator's real API servers and etcds at the VIP, the last
// step deleting once, after the move, and keeping with --keep-bootstrap).
var _ = Describe("maas-gateway install with kind as the bootstrap cluster", Ordered, func() {
	const (
		installSimNS = "maas-sim-install"
		bootName     = "maas-gateway-e2e-boot"
		gwName       = "gw"
		// The first run waits this long at the VIP; the re-run less.
		firstTimeout = "30s"
		rerunTimeout = "5s"
	)
	var (
		dir, bin, bootKubeconfig string
		args                     []string
		boot                     client.Client
	)

	BeforeAll(func() {
		nodeImage := os.Getenv("E2E_NODE_IMAGE")
		Expect(nodeImage).NotTo(BeEmpty(), "E2E_NODE_IMAGE must name the kind node image (make test-e2e sets it)")
		dir = GinkgoT().TempDir()
		bin = filepath.Join(dir, "maas-gateway")
		bootKubeconfig = filepath.Join(dir, bootName+".kubeconfig")

		By("building the installer")
		start := time.Now()
		// The suite's own build settings, so that the packages compiled
		// for it (internal/install, Helm, kind) come from the build cache.
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/maas-gateway")
		build.Dir = env.repo
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		GinkgoWriter.Printf("installer built in %s\n", time.Since(start).Round(time.Second))

		By("running a MAAS simulator of its own, reachable from outside the e2e cluster")
		endpoint := deployInstallSimulator(installSimNS)

		Expect(os.WriteFile(filepath.Join(dir, "pcg.yaml"), fmt.Appendf(nil, `apiVersion: install.maasgateway.io/v1alpha1
kind: GatewayInstallation
name: %s
namespace: %s
replicas: 1
controlPlaneEndpoint: %s
maas:
  endpoint: %s
  insecureAllowHTTP: true
  apiKey: %s
placement:
  resourcePool: gateway
environment:
  podCIDR: 172.20.0.0/16
  serviceCIDR: 172.21.0.0/16
release:
  version: 0.1.0
`, gwName, ns, gatewayVIP, endpoint, maassim.DefaultAPIKey), 0o600)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "values.yaml"),
			[]byte("manager:\n  maasPollInterval: 2s\n  maasRetryInterval: 3s\n"), 0o600)).To(Succeed())
		// kindnetd cannot be had offline; the node image has a static CNI config.
		Expect(os.WriteFile(filepath.Join(dir, "kind.yaml"), []byte(`kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
nodes:
  - role: control-plane
`), 0o600)).To(Succeed())
		args = []string{"install", "-f", filepath.Join(dir, "pcg.yaml"),
			"--kubeconfig-out", filepath.Join(dir, "gateway.kubeconfig"),
			"--bootstrap-name", bootName, "--bootstrap-image", nodeImage,
			"--bootstrap-config", filepath.Join(dir, "kind.yaml"),
			"--operator-image", "maas-gateway/manager:v" + env.version,
			"--values", filepath.Join(dir, "values.yaml")}

		DeferCleanup(func() {
			// Whatever happened: no bootstrap cluster outlives the suite.
			k := &install.KindBootstrap{Name: bootName, Kubeconfig: bootKubeconfig}
			if msg, err := k.Delete(context.Background()); err != nil {
				GinkgoWriter.Printf("deleting %s: %v\n", bootName, err)
			} else {
				GinkgoWriter.Println(msg)
			}
		})
	})

	// runInstaller runs the binary with the timeout of each wait, and
	// returns its exit code, stdout and stderr (also kept as artifacts).
	runInstaller := func(name, timeout string) (int, string, string) {
		GinkgoHelper()
		rctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(rctx, bin, append(slices.Clone(args), "--timeout", timeout)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		GinkgoWriter.Printf("%s: %s\nstdout:\n%s\nstderr:\n%s\n", name, time.Since(start).Round(time.Second), &stdout, &stderr)
		if a := os.Getenv("E2E_ARTIFACTS"); a != "" {
			_ = os.WriteFile(filepath.Join(a, "install-"+name+".log"),
				[]byte(stdout.String()+"\n--- stderr\n"+stderr.String()), 0o600)
		}
		code := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		} else {
			Expect(err).NotTo(HaveOccurred())
		}
		return code, stdout.String(), stderr.String()
	}

	It("makes the kind cluster, installs the operator and the Gateway, and waits at the VIP until --timeout", func() {
		code, stdout, stderr := runInstaller("first", firstTimeout)
		Expect(code).To(Equal(5), "exit code: the install fails at the step it names")
		Expect(stdout).To(ContainSubstring("creating kind cluster %s from %s", bootName, os.Getenv("E2E_NODE_IMAGE")))
		Expect(stdout).To(MatchRegexp(`\[1/10\] bootstrap cluster: done .*kind cluster %s created from .*; loaded maas-gateway/manager:v%s into %s-control-plane; kubeconfig %s; https://127\.0\.0\.1:\d+, Kubernetes v1\.34\.2`,
			bootName, regexp.QuoteMeta(env.version), bootName, regexp.QuoteMeta(bootKubeconfig)))
		Expect(stdout).To(MatchRegexp(`\[2/10\] operator in the bootstrap cluster: done .*release %s/maas-gateway revision 1, chart .* \(outside\)`, ns))
		Expect(stdout).To(MatchRegexp(`\[3/10\] Gateway and Secrets: done .*Gateway %s created \(spec\.initialize\)`, gwName))
		// The progress of the wait: what the installer waits on, as it changes.
		Expect(stdout).To(MatchRegexp(`https://%s:6443 does not answer yet \(phase \w+, \d+ node\(s\) in status\)`, regexp.QuoteMeta(gatewayVIP)))
		Expect(stdout).To(ContainSubstring("[4/10] admin access to the new cluster: failed"))
		Expect(stdout).To(ContainSubstring("summary:"))
		Expect(stderr).To(ContainSubstring("maas-gateway install: admin access to the new cluster: waited %s for "+
			"the new cluster's API server at the VIP", firstTimeout))
		Expect(stderr).To(ContainSubstring("run the same command again to resume"))
		Expect(stdout + stderr).NotTo(ContainSubstring(maassim.DefaultAPIKey))
		// No stack trace of controller-runtime's unset logger (the
		// bootstrap cluster's client is made 30 s in, after kind).
		Expect(stderr).NotTo(ContainSubstring("log.SetLogger(...) was never called"))
	})

	It("keeps the bootstrap cluster after the failure, made by the kind library", func() {
		clusters, err := cluster.NewProvider().List()
		Expect(err).NotTo(HaveOccurred())
		Expect(clusters).To(ContainElement(bootName))
		fi, err := os.Stat(bootKubeconfig)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0o600)))
		cfg, err := clientcmd.BuildConfigFromFlags("", bootKubeconfig)
		Expect(err).NotTo(HaveOccurred())
		boot, err = install.NewClient(cfg)
		Expect(err).NotTo(HaveOccurred())
	})

	It("runs the operator from the embedded chart there, outside the gateway, on the loaded image", func() {
		d := &appsv1.Deployment{}
		Expect(boot.Get(ctx, client.ObjectKey{Namespace: ns, Name: release}, d)).To(Succeed())
		Expect(d.Status.AvailableReplicas).To(BeEquivalentTo(1))
		c := d.Spec.Template.Spec.Containers[0]
		Expect(c.Image).To(Equal("maas-gateway/manager:v" + env.version))
		Expect(c.ImagePullPolicy).To(Equal(corev1.PullIfNotPresent))
		Expect(c.Args).To(ContainElement("--outside-gateway"))
	})

	It("created the Gateway from pcg.yaml with spec.initialize; the operator generated its PKI", func() {
		gw := &infrav1.Gateway{}
		Expect(boot.Get(ctx, client.ObjectKey{Namespace: ns, Name: gwName}, gw)).To(Succeed())
		Expect(gw.Spec.Initialize).To(BeTrue())
		Expect(gw.Spec.ControlPlaneEndpoint).To(Equal(gatewayVIP))
		Expect(boot.Get(ctx, client.ObjectKey{Namespace: ns, Name: gwName + "-ca"}, &corev1.Secret{})).To(Succeed())
	})

	It("allocated and deployed the first machine in the simulator, marked as the init node", func() {
		Eventually(func(g Gomega) {
			owned := ownedBy(simMachinesIn(g, installSimNS), "Gateway", gwName)
			g.Expect(owned).To(HaveLen(1))
			g.Expect(owned[0].StatusName).To(Equal("Deployed"))
			g.Expect(owned[0].Annotations).To(HaveKeyWithValue(maas.AnnotationInit, "true"))
			g.Expect(owned[0].UserData).To(ContainSubstring("kubeadm"))
		}).WithTimeout(time.Minute).Should(Succeed())
	})

	It("resumes in the same kind cluster when run again, repeating nothing", func() {
		code, stdout, _ := runInstaller("rerun", rerunTimeout)
		Expect(code).To(Equal(5))
		Expect(stdout).To(ContainSubstring("kind cluster %s exists (an earlier run's): re-used", bootName))
		Expect(stdout).To(ContainSubstring("its nodes hold maas-gateway/manager:v%s already", env.version))
		Expect(stdout).NotTo(ContainSubstring("creating kind cluster"))
		Expect(stdout).To(ContainSubstring("[2/10] operator in the bootstrap cluster: already done"))
		Expect(stdout).To(ContainSubstring("[3/10] Gateway and Secrets: already done"))
		Expect(stdout).To(ContainSubstring("[4/10] admin access to the new cluster: failed"))
		Consistently(func(g Gomega) {
			g.Expect(ownedBy(simMachinesIn(g, installSimNS), "Gateway", gwName)).To(HaveLen(1))
		}).WithTimeout(3 * time.Second).Should(Succeed())
	})

	It("deletes the kind cluster with the installer's last step's code", func() {
		k := &install.KindBootstrap{Name: bootName, Kubeconfig: bootKubeconfig}
		msg, err := k.Delete(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(msg).To(Equal(fmt.Sprintf("kind cluster %s deleted, with its kubeconfig %s", bootName, bootKubeconfig)))
		clusters, err := cluster.NewProvider().List()
		Expect(err).NotTo(HaveOccurred())
		Expect(clusters).NotTo(ContainElement(bootName))
		_, err = os.Stat(bootKubeconfig)
		Expect(err).To(MatchError(os.ErrNotExist))
	})
})

// deployInstallSimulator runs a MAAS simulator in namespace (no join
// emulator: nothing joins the e2e cluster) behind a NodePort, and returns
// its MAAS URL at the e2e node's address, which other kind clusters on
// Docker's kind network reach.
func deployInstallSimulator(namespace string) string {
	GinkgoHelper()
	createNamespace(namespace)
	labels := map[string]string{"app.kubernetes.io/name": simName}
	objs := []client.Object{
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: simName, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						NodeSelector: map[string]string{"kubernetes.io/hostname": env.node},
						SecurityContext: &corev1.PodSecurityContext{
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name:            "maas-sim",
							Image:           "maas-gateway/maas-sim:v" + env.version,
							ImagePullPolicy: corev1.PullNever,
							Args:            []string{fmt.Sprintf("-listen=:%d", simPort), "-deploy-time=4s", "-deploy-jitter=1s"},
							Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: simPort}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
								HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")},
							}, PeriodSeconds: 2},
							SecurityContext: restricted(),
						}},
					},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: simName, Labels: labels},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: labels,
				Ports:    []corev1.ServicePort{{Name: "http", Port: simPort, TargetPort: intstr.FromString("http")}},
			},
		},
	}
	for _, o := range objs {
		Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, o))).To(Succeed(), "creating %T %s", o, o.GetName())
	}
	deploymentAvailable(namespace, simName)
	svc := &corev1.Service{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: simName}, svc)).To(Succeed())
	node := &corev1.Node{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: env.node}, node)).To(Succeed())
	var ip string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	Expect(ip).NotTo(BeEmpty(), "node %s has no InternalIP", env.node)
	return fmt.Sprintf("http://%s:%d/MAAS", ip, svc.Spec.Ports[0].NodePort)
}
