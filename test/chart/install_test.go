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

package chart_test

// These tests install the chart with the Helm SDK into the envtest API
// server, as `helm install` would, and look at what was created. Nothing
// runs the manager here (envtest has no kubelet): they check objects, not
// pods. They run one after another, each uninstalling its release, because
// the webhook configurations and ClusterRoles are cluster-wide.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
)

var projectCRDs = []string{"gateways.infra.maasgateway.io", "cloudaccounts.infra.maasgateway.io", "tenantclusters.infra.maasgateway.io"}

// release installs, upgrades and uninstalls one release of the chart.
type release struct {
	t         *testing.T
	name, ns  string
	conf      *action.Configuration
	installed bool
}

func newRelease(t *testing.T, name, ns string) *release {
	t.Helper()
	createNamespace(t, ns, restricted)
	r := &release{t: t, name: name, ns: ns, conf: helmConfig(t, ns)}
	t.Cleanup(func() {
		if r.installed {
			r.uninstall()
		}
	})
	return r
}

func (r *release) install(vals map[string]any) {
	r.t.Helper()
	in := action.NewInstall(r.conf)
	in.ReleaseName, in.Namespace, in.Timeout = r.name, r.ns, 2*time.Minute
	if _, err := in.Run(loadChart(r.t), vals); err != nil {
		r.t.Fatalf("helm install %s: %v", r.name, err)
	}
	r.installed = true
}

func (r *release) upgrade(vals map[string]any) {
	r.t.Helper()
	up := action.NewUpgrade(r.conf)
	up.Namespace, up.Timeout = r.ns, 2*time.Minute
	if _, err := up.Run(r.name, loadChart(r.t), vals); err != nil {
		r.t.Fatalf("helm upgrade %s: %v", r.name, err)
	}
}

func (r *release) uninstall() {
	r.t.Helper()
	un := action.NewUninstall(r.conf)
	un.Wait, un.Timeout = true, 2*time.Minute
	if _, err := un.Run(r.name); err != nil {
		r.t.Fatalf("helm uninstall %s: %v", r.name, err)
	}
	r.installed = false
}

func get(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatalf("%T %s/%s: %v", obj, ns, name, err)
	}
}

func gone(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	if !apierrors.IsNotFound(err) {
		t.Errorf("%T %s/%s still there after uninstall (%v)", obj, ns, name, err)
	}
}

func crdsKept(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		get(t, "", n, &apiextensionsv1.CustomResourceDefinition{})
	}
}

// TestInstallSelfSigned installs with a certificate the chart generates
// (no cert-manager), upgrades, and uninstalls.
func TestInstallSelfSigned(t *testing.T) {
	r := newRelease(t, "ss", "selfsigned")
	vals := with(nil, map[string]any{"webhook.certManager.enabled": false})
	r.install(vals)
	const full = "ss-maas-gateway"
	for _, n := range projectCRDs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		get(t, "", n, crd)
	}

	// The manager, its ServiceAccount and RBAC.
	dep := &appsv1.Deployment{}
	get(t, r.ns, full, dep)
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "maas-gateway/manager:v0.1.0" || !slices.Contains(c.Args, "--release-catalog=selfsigned/"+full+"-releases") ||
		!slices.Contains(c.Args, "--leader-elect") || dep.Spec.Template.Spec.ServiceAccountName != full {
		t.Errorf("Deployment: image %s, args %v, service account %s", c.Image, c.Args, dep.Spec.Template.Spec.ServiceAccountName)
	}
	get(t, r.ns, full, &corev1.ServiceAccount{})
	crb := &rbacv1.ClusterRoleBinding{}
	get(t, "", full+"-manager", crb)
	if crb.RoleRef.Name != full+"-manager" || len(crb.Subjects) != 1 || crb.Subjects[0].Name != full || crb.Subjects[0].Namespace != r.ns {
		t.Errorf("ClusterRoleBinding: %+v %+v", crb.RoleRef, crb.Subjects)
	}
	cr := &rbacv1.ClusterRole{}
	get(t, "", full+"-manager", cr)
	if len(cr.Rules) == 0 {
		t.Error("the manager ClusterRole has no rules")
	}
	get(t, r.ns, full+"-leader-election", &rbacv1.Role{})
	get(t, r.ns, full+"-leader-election", &rbacv1.RoleBinding{})
	for _, n := range []string{"-metrics-auth", "-metrics-reader", "-edit", "-view"} {
		get(t, "", full+n, &rbacv1.ClusterRole{})
	}

	// Services.
	svc := &corev1.Service{}
	get(t, r.ns, full+"-webhook", svc)
	if svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "webhook-server" {
		t.Errorf("webhook Service ports: %+v", svc.Spec.Ports)
	}
	get(t, r.ns, full+"-metrics", svc)
	if svc.Spec.Ports[0].Port != 8443 {
		t.Errorf("metrics Service ports: %+v", svc.Spec.Ports)
	}

	// The certificate: signed by the CA in caBundle, for the Service's name.
	secret := &corev1.Secret{}
	get(t, r.ns, full+"-webhook-cert", secret)
	caPEM := secret.Data["ca.crt"]
	verifyServing(t, caPEM, secret.Data["tls.crt"], full+"-webhook.selfsigned.svc")
	checkWebhooks(t, full, r.ns, caPEM, false)

	// The release catalog.
	cm := &corev1.ConfigMap{}
	get(t, r.ns, full+"-releases", cm)
	if _, err := catalog.Parse([]byte(cm.Data[catalog.DataKey])); err != nil {
		t.Errorf("catalog: %v", err)
	}

	// An upgrade keeps the certificate: nothing to roll, the CA stays trusted.
	r.upgrade(with(vals, map[string]any{"manager.logLevel": "debug"}))
	after := &corev1.Secret{}
	get(t, r.ns, full+"-webhook-cert", after)
	if string(after.Data["tls.crt"]) != string(secret.Data["tls.crt"]) || string(after.Data["ca.crt"]) != string(caPEM) {
		t.Error("helm upgrade generated a new certificate")
	}
	checkWebhooks(t, full, r.ns, caPEM, false)
	get(t, r.ns, full, dep)
	if !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--zap-log-level=debug") {
		t.Error("helm upgrade did not change the Deployment")
	}

	r.uninstall()
	gone(t, r.ns, full, &appsv1.Deployment{})
	gone(t, "", full+"-manager", &rbacv1.ClusterRole{})
	gone(t, "", full+"-validating", &admissionregistrationv1.ValidatingWebhookConfiguration{})
	gone(t, "", full+"-mutating", &admissionregistrationv1.MutatingWebhookConfiguration{})
	gone(t, r.ns, full+"-webhook-cert", &corev1.Secret{})
	crdsKept(t, projectCRDs...)
}

// verifyServing checks that the serving certificate chains to the CA for dnsName.
func verifyServing(t *testing.T, caPEM, certPEM []byte, dnsName string) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("tls.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: pool}); err != nil {
		t.Errorf("the webhook certificate does not verify for %s: %v", dnsName, err)
	}
}

// checkWebhooks checks both webhook configurations point at the release's
// Service, and carry caBundle (self-signed) or the cert-manager annotation.
func checkWebhooks(t *testing.T, full, ns string, caPEM []byte, certManager bool) {
	t.Helper()
	mut := &admissionregistrationv1.MutatingWebhookConfiguration{}
	get(t, "", full+"-mutating", mut)
	val := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	get(t, "", full+"-validating", val)
	var configs []admissionregistrationv1.WebhookClientConfig
	for _, w := range mut.Webhooks {
		configs = append(configs, w.ClientConfig)
	}
	for _, w := range val.Webhooks {
		configs = append(configs, w.ClientConfig)
	}
	// Defaulting for Gateway, CloudAccount and TenantCluster; validation
	// for those and ClusterProfile.
	if len(configs) != 7 {
		t.Errorf("%d webhooks installed, want 7", len(configs))
	}
	for _, cc := range configs {
		if cc.Service == nil || cc.Service.Name != full+"-webhook" || cc.Service.Namespace != ns {
			t.Errorf("webhook calls %+v", cc.Service)
		}
		if certManager && len(cc.CABundle) != 0 {
			t.Error("caBundle set although cert-manager injects it")
		}
		if !certManager && string(cc.CABundle) != string(caPEM) {
			t.Errorf("caBundle of %s is not the Secret's CA", *cc.Service.Path)
		}
	}
	want := ""
	if certManager {
		want = ns + "/" + full + "-webhook"
	}
	for _, a := range []map[string]string{mut.Annotations, val.Annotations} {
		if a["cert-manager.io/inject-ca-from"] != want {
			t.Errorf("inject-ca-from = %q, want %q", a["cert-manager.io/inject-ca-from"], want)
		}
	}
}

// installCRDs creates CRDs from YAML files and waits until they are served.
func installCRDs(t *testing.T, paths ...string) []string {
	t.Helper()
	var names []string
	for _, p := range paths {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, crd); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := k8s.Create(context.Background(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s: %v", p, err)
		}
		names = append(names, crd.Name)
	}
	for _, n := range names {
		err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: n}, crd); err != nil {
				return false, err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", n, err)
		}
	}
	return names
}

// TestInstallCertManager installs with cert-manager's Issuer and Certificate
// (cert-manager's CRDs installed first, as on a cluster that runs it), plus
// the ServiceMonitor and NetworkPolicy.
func TestInstallCertManager(t *testing.T) {
	needCluster(t)
	cmDir, err := certManagerCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := filepath.Glob(filepath.Join(cmDir, "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("cert-manager CRDs: %v", err)
	}
	installCRDs(t, append(crds, filepath.Join("testdata", "servicemonitor-crd.yaml"))...)

	r := newRelease(t, "cm", "certmanager")
	r.install(with(nil, map[string]any{"metrics.serviceMonitor.enabled": true, "networkPolicy.enabled": true}))
	const full = "cm-maas-gateway"

	issuer := getCR(t, "cert-manager.io/v1", "Issuer", r.ns, full+"-selfsigned")
	if _, ok, _ := unstructured.NestedMap(issuer.Object, "spec", "selfSigned"); !ok {
		t.Errorf("Issuer is not self-signed: %v", issuer.Object["spec"])
	}
	cert := getCR(t, "cert-manager.io/v1", "Certificate", r.ns, full+"-webhook")
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	issuerName, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	if secretName != full+"-webhook-cert" || !slices.Contains(dnsNames, full+"-webhook.certmanager.svc") || issuerName != full+"-selfsigned" {
		t.Errorf("Certificate spec: %v", cert.Object["spec"])
	}
	dep := &appsv1.Deployment{}
	get(t, r.ns, full, dep)
	if v := dep.Spec.Template.Spec.Volumes; !slices.ContainsFunc(v, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == secretName
	}) {
		t.Errorf("the manager does not mount the Certificate's Secret: %+v", v)
	}
	// cert-manager, not the chart, writes the Secret.
	gone(t, r.ns, secretName, &corev1.Secret{})
	checkWebhooks(t, full, r.ns, nil, true)

	sm := getCR(t, "monitoring.coreos.com/v1", "ServiceMonitor", r.ns, full)
	if port, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints"); len(port) != 1 {
		t.Errorf("ServiceMonitor endpoints: %v", port)
	}
	np := &networkingv1.NetworkPolicy{}
	get(t, r.ns, full, np)
	var ports []int
	for _, in := range np.Spec.Ingress {
		for _, p := range in.Ports {
			ports = append(ports, p.Port.IntValue())
		}
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []int{8443, 9443}) {
		t.Errorf("NetworkPolicy admits ports %v, want 8443 and 9443", ports)
	}

	r.uninstall()
	gone(t, r.ns, full+"-webhook", &corev1.Service{})
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: r.ns, Name: full + "-webhook"}, certificateObj()); !apierrors.IsNotFound(err) {
		t.Errorf("Certificate still there after uninstall (%v)", err)
	}
	crdsKept(t, projectCRDs...)
}

func certificateObj() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"})
	return u
}

func getCR(t *testing.T, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	get(t, ns, name, u)
	return u
}

// TestInstallGateway installs with the Gateway and an extra CloudAccount
// made from values (webhooks off: nothing serves them in envtest, and the
// API server refuses objects whose webhook it cannot call). The CRDs' own
// validation (CEL included) accepts them. An upgrade leaves an edited
// Gateway alone, uninstall keeps the Gateway and its Secrets, and a
// reinstall adopts them.
func TestInstallGateway(t *testing.T) {
	r := newRelease(t, "gw", "gateway-ns")
	vals := with(fullValues(t), map[string]any{
		"webhook.enabled":                false,
		"metrics.serviceMonitor.enabled": false,
	})
	r.install(vals)
	ctx := context.Background()

	gw := &infrav1.Gateway{}
	get(t, r.ns, "gateway", gw)
	if gw.Spec.Replicas != 3 || gw.Spec.MAAS.CredentialsSecretRef.Name != "maas-gateway-maas-credentials" ||
		gw.Spec.Placement.Zone != "az1" || gw.Spec.Environment.PodCIDR != "192.168.0.0/16" || gw.Spec.ControlPlaneEndpoint != "10.11.12.100" {
		t.Errorf("Gateway spec: %+v", gw.Spec)
	}
	ca := &infrav1.CloudAccount{}
	get(t, r.ns, "second-maas", ca)
	if ca.Spec.GatewayRef.Name != "gateway" || ca.Spec.CredentialsSecretRef.Name != "maas-gateway-second-maas-credentials" {
		t.Errorf("CloudAccount spec: %+v", ca.Spec)
	}
	// maas.insecureAllowHTTP opts the Gateway's http:// endpoint in, and not
	// an account with an https:// endpoint of its own.
	if !gw.Spec.MAAS.InsecureAllowHTTP || ca.Spec.InsecureAllowHTTP {
		t.Errorf("insecureAllowHTTP: Gateway %v, CloudAccount %v; want true, false", gw.Spec.MAAS.InsecureAllowHTTP, ca.Spec.InsecureAllowHTTP)
	}
	for _, n := range []string{"maas-gateway-maas-credentials", "maas-gateway-second-maas-credentials"} {
		s := &corev1.Secret{}
		get(t, r.ns, n, s)
		if !strings.Contains(string(s.Data["apiKey"]), ":") {
			t.Errorf("Secret %s holds no API key", n)
		}
	}
	dep := &appsv1.Deployment{}
	get(t, r.ns, "maas-gateway", dep)
	if e := dep.Spec.Template.Spec.Containers[0].Env[0]; e.Name != "ENABLE_WEBHOOKS" || e.Value != "false" {
		t.Errorf("webhooks off, but the manager has %v", e)
	}
	gone(t, "", "maas-gateway-validating", &admissionregistrationv1.ValidatingWebhookConfiguration{})

	// The administrator edits the Gateway; helm upgrade leaves it be.
	uid := gw.UID
	patch := client.MergeFrom(gw.DeepCopy())
	gw.Spec.Placement.Zone = "az2"
	if err := k8s.Patch(ctx, gw, patch); err != nil {
		t.Fatal(err)
	}
	r.upgrade(with(vals, map[string]any{"gateway.placement.zone": "az3"}))
	get(t, r.ns, "gateway", gw)
	if gw.UID != uid || gw.Spec.Placement.Zone != "az2" {
		t.Errorf("helm upgrade replaced or changed the Gateway: uid %s→%s, zone %s", uid, gw.UID, gw.Spec.Placement.Zone)
	}

	r.uninstall()
	gone(t, r.ns, "maas-gateway", &appsv1.Deployment{})
	get(t, r.ns, "gateway", &infrav1.Gateway{})
	get(t, r.ns, "second-maas", &infrav1.CloudAccount{})
	get(t, r.ns, "maas-gateway-maas-credentials", &corev1.Secret{})
	crdsKept(t, projectCRDs...)

	// A reinstall finds them: no conflict, no second Gateway.
	r.install(vals)
	get(t, r.ns, "gateway", gw)
	if gw.UID != uid {
		t.Error("the reinstall replaced the Gateway")
	}
	r.uninstall()
}
