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
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

const (
	simNamespace = "maas-sim"
	simName      = "maas-sim"
	simPort      = 5240
	// gatewayVIP is the gateway's control-plane endpoint; the simulator's
	// join emulator answers only joins to it, so gateway machines become
	// Nodes of the kind cluster and tenant machines do not.
	gatewayVIP = "10.11.12.100"
	// realVIP is the VIP of the tenant cluster whose control plane is real
	// processes in the simulator's Pod: a ClusterIP of kind's service range
	// (10.96.0.0/16) whose Service routes to realVIPTargetPort there.
	realVIP           = "10.96.0.100"
	realVIPTargetPort = 16443
)

// simEndpoint is the MAAS URL the operator reaches the simulator at.
var simEndpoint = fmt.Sprintf("http://%s.%s.svc:%d/MAAS", simName, simNamespace, simPort)

// restricted is the container security context the restricted Pod Security
// Standard asks for.
func restricted() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: new(false),
		RunAsNonRoot:             new(true),
		RunAsUser:                ptr.To[int64](65532),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		ReadOnlyRootFilesystem:   new(true),
	}
}

// createNamespace creates ns, enforcing the restricted Pod Security Standard.
func createNamespace(ns string) {
	GinkgoHelper()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, obj))).To(Succeed())
}

// deploySimulator runs the MAAS simulator in the cluster with its default
// inventory, fast timings, and the join emulator writing Nodes through an
// in-cluster kubeconfig (its ServiceAccount's token).
func deploySimulator() {
	GinkgoHelper()
	createNamespace(simNamespace)
	labels := map[string]string{"app.kubernetes.io/name": simName}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: simNamespace, Name: simName}},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-maas-sim-join"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status"},
					Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
					Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-maas-sim-join"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-maas-sim-join"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: simNamespace, Name: simName}},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: simNamespace, Name: simName + "-kubeconfig"},
			Data: map[string]string{"kubeconfig": `apiVersion: v1
kind: Config
clusters:
  - name: in-cluster
    cluster:
      server: https://kubernetes.default.svc
      certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
users:
  - name: maas-sim
    user:
      tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
contexts:
  - name: in-cluster
    context: {cluster: in-cluster, user: maas-sim}
current-context: in-cluster
`},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: simNamespace, Name: simName, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: simName,
						// Pods the scheduler binds to the emulated Nodes never
						// run: keep this one on the kind node.
						NodeSelector: map[string]string{"kubernetes.io/hostname": env.node},
						SecurityContext: &corev1.PodSecurityContext{
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name:            "maas-sim",
							Image:           "maas-gateway/maas-sim:v" + env.version,
							ImagePullPolicy: corev1.PullNever,
							Args: []string{
								fmt.Sprintf("-listen=:%d", simPort),
								"-deploy-time=4s", "-deploy-jitter=1s",
								"-release-time=1s", "-release-jitter=500ms",
								"-join-kubeconfig=/etc/maas-sim/kubeconfig",
								"-join-endpoint=" + gatewayVIP + ":6443",
								// Tenant clusters whose VIP is realVIP get real
								// control planes, their VIP held at tenant-api.
								"-control-planes=/usr/local/kubebuilder/bin",
								fmt.Sprintf("-control-plane-vip=%s:6443=:%d", realVIP, realVIPTargetPort),
								// MAAS must know a subnet holding realVIP for
								// the operator to reserve it (the default
								// subnets hold gatewayVIP and the tenantVIPs).
								"-subnet=10.96.0.0/24",
							},
							Ports: []corev1.ContainerPort{
								{Name: "http", ContainerPort: simPort},
								{Name: "tenant-api", ContainerPort: realVIPTargetPort},
							},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
								HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")},
							}, PeriodSeconds: 2},
							SecurityContext: restricted(),
							VolumeMounts: []corev1.VolumeMount{
								{Name: "kubeconfig", MountPath: "/etc/maas-sim"},
								// etcd data, certificates and logs of the
								// emulated control planes.
								{Name: "tmp", MountPath: "/tmp"},
							},
						}},
						Volumes: []corev1.Volume{
							{Name: "kubeconfig", VolumeSource: corev1.VolumeSource{
								ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: simName + "-kubeconfig"}},
							}},
							{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						},
					},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: simNamespace, Name: simName, Labels: labels},
			Spec: corev1.ServiceSpec{
				Selector: labels,
				Ports:    []corev1.ServicePort{{Name: "http", Port: simPort, TargetPort: intstr.FromString("http")}},
			},
		},
	}
	for _, o := range objs {
		Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, o))).To(Succeed(), "creating %T %s", o, o.GetName())
	}
	deploymentAvailable(simNamespace, simName)
}

// deploymentAvailable waits until every replica of a Deployment is updated and
// available.
func deploymentAvailable(ns, name string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
		g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
		g.Expect(d.Status.UpdatedReplicas).To(Equal(*d.Spec.Replicas))
		g.Expect(d.Status.AvailableReplicas).To(Equal(*d.Spec.Replicas))
		g.Expect(d.Status.Replicas).To(Equal(*d.Spec.Replicas), "old Pods still terminating")
	}).Should(Succeed(), "Deployment %s/%s available", ns, name)
}

// simGetIn GETs a path of the admin API of the simulator in namespace
// through the API server's service proxy (the test talks to nothing but
// the API server). The request
// reaches the simulator from off loopback, so it carries the admin key, in
// the simulator's own header: the API server consumes Authorization.
func simGetIn(namespace, path string) ([]byte, error) {
	return clientset.CoreV1().RESTClient().Get().
		Namespace(namespace).Resource("services").SubResource("proxy").
		Name("http:"+simName+":http").Suffix(path).
		SetHeader(maassim.AdminKeyHeader, maassim.DefaultAPIKey).
		DoRaw(ctx)
}

// simMachine is a machine as /sim/machines shows it, user data included
// (maassim.Machine shows it as text but does not read it back).
type simMachine struct {
	maassim.Machine
	UserData string `json:"userData"`
}

// simMachines is the simulator's view of every machine.
func simMachines(g Gomega) []simMachine { return simMachinesIn(g, simNamespace) }

// simMachinesIn is simMachines of the simulator in namespace.
func simMachinesIn(g Gomega, namespace string) []simMachine {
	raw, err := simGetIn(namespace, "/sim/machines")
	g.Expect(err).NotTo(HaveOccurred())
	var ms []simMachine
	g.Expect(json.Unmarshal(raw, &ms)).To(Succeed())
	return ms
}

// ownedBy lists the machines whose owner annotations name kind/name in the
// operator's namespace.
func ownedBy(ms []simMachine, kind, name string) []simMachine {
	var out []simMachine
	for _, m := range ms {
		a := m.Annotations
		if a["maas-gateway.owner-kind"] == kind && a["maas-gateway.owner-namespace"] == ns && a["maas-gateway.owner-name"] == name {
			out = append(out, m)
		}
	}
	return out
}

// helmConfig is a Helm action configuration for namespace ns.
func helmConfig(ns string) *action.Configuration {
	GinkgoHelper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &env.kubeconfig
	flags.Namespace = &ns
	c := &action.Configuration{}
	Expect(c.Init(flags, ns, "secret", func(format string, v ...any) {
		GinkgoWriter.Printf("helm: "+format+"\n", v...)
	})).To(Succeed())
	return c
}

// helmInstall installs the chart from the working tree and waits for it.
func helmInstall(ns, release string, values map[string]any) {
	GinkgoHelper()
	chart, err := loader.Load(env.chart)
	Expect(err).NotTo(HaveOccurred())
	install := action.NewInstall(helmConfig(ns))
	install.ReleaseName, install.Namespace = release, ns
	install.Wait, install.Timeout = true, 4*time.Minute
	_, err = install.RunWithContext(ctx, chart, values)
	if err != nil && strings.Contains(err.Error(), "failed post-install") && strings.Contains(err.Error(), "failed calling webhook") {
		// Helm waits for the manager to be Ready, not for kube-proxy to
		// route the webhook Service (on a loaded machine that can lag by
		// seconds): once the webhook answers through the API server, an
		// upgrade with the same values runs the hooks again.
		GinkgoWriter.Printf("helm install: hooks failed before the webhook was routed (%v); retrying them with helm upgrade\n", err)
		webhookServing()
		helmUpgrade(ns, release, values)
		return
	}
	Expect(err).NotTo(HaveOccurred(), "helm install")
}

// webhookServing waits until the Gateway webhooks answer through the API
// server: a server-side dry run of a Gateway create is admitted.
func webhookServing() {
	GinkgoHelper()
	Eventually(func() error {
		gw := &infrav1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "e2e-webhook-probe"},
			Spec: infrav1.GatewaySpec{MAAS: infrav1.MAASConnection{
				Endpoint: simEndpoint, CredentialsSecretRef: infrav1.SecretKeyReference{Name: "none"}, InsecureAllowHTTP: true,
			}},
		}
		err := k8s.Create(ctx, gw, client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "failed calling webhook") {
			return err
		}
		return nil
	}).Should(Succeed(), "the webhook answers through its Service")
}

// helmUpgrade upgrades the release to the working tree's chart with values.
func helmUpgrade(ns, release string, values map[string]any) {
	GinkgoHelper()
	chart, err := loader.Load(env.chart)
	Expect(err).NotTo(HaveOccurred())
	upgrade := action.NewUpgrade(helmConfig(ns))
	upgrade.Namespace = ns
	upgrade.Wait, upgrade.Timeout = true, 4*time.Minute
	_, err = upgrade.RunWithContext(ctx, release, chart, values)
	Expect(err).NotTo(HaveOccurred(), "helm upgrade")
}

// helmUninstall uninstalls the release and waits for its resources to go.
func helmUninstall(ns, release string) {
	GinkgoHelper()
	un := action.NewUninstall(helmConfig(ns))
	un.Wait, un.Timeout = true, 3*time.Minute
	_, err := un.Run(release)
	Expect(err).NotTo(HaveOccurred(), "helm uninstall")
}

// nodeExec runs a command in the kind node's container.
func nodeExec(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", "-i", env.node}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("docker exec %s %v: %w: %s", env.node, args, err, stderr.String())
	}
	return out, nil
}

// httpsGetFromNode GETs path from ip:port over TLS from inside the kind node
// (where Service ClusterIPs route), sending token as a bearer token when it
// is not empty; it returns the status code and the body. socat keeps the
// connection open after the request (ignoreeof) until the server answers and
// closes it: a half-closed connection cancels the request. The request goes
// through stdin, so the token appears in no command line or log.
func httpsGetFromNode(ip string, port int32, path, token string) (int, string, error) {
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.0\r\nHost: %s\r\n", path, ip)
	if token != "" {
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", token)
	}
	req.WriteString("\r\n")
	out, err := nodeExec([]byte(req.String()), "socat", "-t", "10", "-T", "20", "-,ignoreeof",
		fmt.Sprintf("OPENSSL:%s:%d,verify=0", ip, port))
	if err != nil {
		return 0, "", err
	}
	r := bufio.NewReader(bytes.NewReader(out))
	status, err := r.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("no HTTP answer from %s:%d (%q)", ip, port, out)
	}
	var code int
	if _, err := fmt.Sscanf(status, "HTTP/%s %d", new(string), &code); err != nil {
		return 0, "", fmt.Errorf("status line %q: %w", status, err)
	}
	_, body, _ := strings.Cut(string(out), "\r\n\r\n")
	return code, body, nil
}

// nodeFile reads a file of the kind node.
func nodeFile(path string) []byte {
	GinkgoHelper()
	out, err := nodeExec(nil, "cat", path)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// hostSysctls reads the baseline file test-e2e.sh wrote (name=value lines)
// and the current values of the same sysctls; names without a baseline are
// skipped.
func hostSysctls() (before, now map[string]string) {
	GinkgoHelper()
	before, now = map[string]string{}, map[string]string{}
	if env.baseline == "" {
		Skip("E2E_SYSCTL_BASELINE not set: run the suite through make test-e2e")
	}
	raw, err := os.ReadFile(env.baseline)
	Expect(err).NotTo(HaveOccurred())
	for line := range strings.SplitSeq(strings.TrimSpace(string(raw)), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		before[name] = value
		cur, err := os.ReadFile("/proc/sys/" + name)
		Expect(err).NotTo(HaveOccurred())
		now[name] = strings.ReplaceAll(strings.TrimSpace(string(cur)), "\t", " ")
	}
	Expect(before).NotTo(BeEmpty(), "empty sysctl baseline %s", env.baseline)
	return before, now
}

// isWebhookDenial tells a refusal by an admission webhook from other errors.
func isWebhookDenial(err error) bool {
	var status apierrors.APIStatus
	if err == nil {
		return false
	}
	if s, ok := err.(apierrors.APIStatus); ok {
		status = s
	} else {
		return false
	}
	return strings.Contains(status.Status().Message, "admission webhook") && strings.Contains(status.Status().Message, "denied the request")
}

// eventuallyGone waits until obj no longer exists.
func eventuallyGone(obj client.Object, timeout time.Duration) {
	GinkgoHelper()
	Eventually(func() bool {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err)
	}).WithTimeout(timeout).Should(BeTrue(), "%T %s deleted", obj, obj.GetName())
}
