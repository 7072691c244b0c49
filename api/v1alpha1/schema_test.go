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

package v1alpha1_test

// These tests install the generated CRDs into a real kube-apiserver and prove
// that the schema (OpenAPI and CEL rules) refuses what it should, accepts
// what it should, and applies its defaults. No webhook runs here.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

var k8s client.Client

func TestMain(m *testing.M) {
	env, err := envtest.New(envtest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		os.Exit(1)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = infrav1.AddToScheme(scheme)
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err == nil {
		err = k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "schema"}})
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

func gateway(name string, mutate func(*infrav1.Gateway)) *infrav1.Gateway {
	g := &infrav1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "schema"},
		Spec: infrav1.GatewaySpec{
			MAAS: infrav1.MAASConnection{
				Endpoint:             "https://10.11.12.13:5443/MAAS",
				CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas-credentials"},
			},
			ControlPlaneEndpoint: "10.11.12.100",
			Environment: infrav1.Environment{
				ClusterNetwork: infrav1.ClusterNetwork{PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12"},
			},
		},
	}
	if mutate != nil {
		mutate(g)
	}
	return g
}

func cloudAccount(name string, mutate func(*infrav1.CloudAccount)) *infrav1.CloudAccount {
	a := &infrav1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "schema"},
		Spec: infrav1.CloudAccountSpec{
			GatewayRef: infrav1.GatewayReference{Name: "gw"},
			MAASConnection: infrav1.MAASConnection{
				Endpoint:             "https://maas.example.com:5443/MAAS",
				CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas-credentials"},
			},
		},
	}
	if mutate != nil {
		mutate(a)
	}
	return a
}

func tenant(name string, mutate func(*infrav1.TenantCluster)) *infrav1.TenantCluster {
	c := &infrav1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "schema"},
		Spec: infrav1.TenantClusterSpec{
			CloudAccountRef:      infrav1.LocalObjectReference{Name: "default"},
			Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
			ControlPlaneEndpoint: "10.20.0.10",
			ControlPlane:         infrav1.ControlPlanePool{Size: 3},
			Workers: []infrav1.NodePool{
				{Name: "workers", Size: 2, MachineTemplate: infrav1.MachineTemplate{Zones: []string{"az1", "az2"}}},
			},
		},
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// TestSchemaRefusesInvalidObjects is the table of objects the API server must refuse,
// each with the message an operator would see from kubectl.
func TestSchemaRefusesInvalidObjects(t *testing.T) {
	cases := []struct {
		name string
		obj  client.Object
		want string
	}{
		{"gateway replicas 2", gateway("bad-replicas", func(g *infrav1.Gateway) { g.Spec.Replicas = 2 }),
			"replicas must be 1 or 3"},
		{"gateway name longer than a label value", gateway(strings.Repeat("g", 64), nil),
			"at most 63 characters"},
		{"tenant cluster of more than 200 machines", tenant("too-many", func(c *infrav1.TenantCluster) {
			c.Spec.Workers = []infrav1.NodePool{{Name: "a", Size: 100}, {Name: "b", Size: 98}}
		}), "a TenantCluster has at most 200 machines"},
		{"gateway endpoint not http", gateway("bad-endpoint", func(g *infrav1.Gateway) { g.Spec.MAAS.Endpoint = "ftp://maas/MAAS" }),
			"endpoint must be an http:// or https:// URL"},
		{"gateway endpoint without host", gateway("no-host", func(g *infrav1.Gateway) { g.Spec.MAAS.Endpoint = "http:///MAAS" }),
			"endpoint must be an http:// or https:// URL"},
		{"gateway http beyond loopback", gateway("plain-http", func(g *infrav1.Gateway) { g.Spec.MAAS.Endpoint = "http://10.11.12.13:5240/MAAS" }),
			"sends the MAAS API key in cleartext"},
		{"cloud account http beyond loopback", cloudAccount("plain-http", func(a *infrav1.CloudAccount) { a.Spec.Endpoint = "http://maas.example.com:5240/MAAS" }),
			"spec.endpoint: Forbidden: an http:// endpoint sends the MAAS API key in cleartext"},
		{"cloud account http to a loopback-looking name", cloudAccount("plain-http-name", func(a *infrav1.CloudAccount) { a.Spec.Endpoint = "http://127.0.0.1.nip.io/MAAS" }),
			"sends the MAAS API key in cleartext"},
		{"gateway without credentials secret", gateway("no-secret", func(g *infrav1.Gateway) { g.Spec.MAAS.CredentialsSecretRef.Name = "" }),
			"spec.maas.credentialsSecretRef.name"},
		{"gateway secret key with a slash", gateway("bad-key", func(g *infrav1.Gateway) { g.Spec.MAAS.CredentialsSecretRef.Key = "a/b" }),
			"spec.maas.credentialsSecretRef.key"},
		{"gateway pod CIDR not a CIDR", gateway("bad-pod-cidr", func(g *infrav1.Gateway) { g.Spec.Environment.PodCIDR = "192.168.0.0/33" }),
			"podCIDR must be a CIDR"},
		{"gateway service CIDR not a CIDR", gateway("bad-svc-cidr", func(g *infrav1.Gateway) { g.Spec.Environment.ServiceCIDR = "ten.96/12" }),
			"serviceCIDR must be a CIDR"},
		{"gateway CIDRs overlap", gateway("overlap", func(g *infrav1.Gateway) { g.Spec.Environment.ServiceCIDR = "192.168.128.0/20" }),
			"podCIDR and serviceCIDR must not overlap"},
		{"gateway VIP not an IP", gateway("bad-vip", func(g *infrav1.Gateway) { g.Spec.ControlPlaneEndpoint = "10.11.12" }),
			"controlPlaneEndpoint must be an IP address"},
		{"gateway VIP inside pod CIDR", gateway("vip-in-pods", func(g *infrav1.Gateway) { g.Spec.ControlPlaneEndpoint = "192.168.3.4" }),
			"controlPlaneEndpoint must lie outside podCIDR"},
		{"gateway VIP inside service CIDR", gateway("vip-in-svc", func(g *infrav1.Gateway) { g.Spec.ControlPlaneEndpoint = "10.96.0.1" }),
			"controlPlaneEndpoint must lie outside serviceCIDR"},
		{"gateway http proxy without https proxy", gateway("half-proxy", func(g *infrav1.Gateway) {
			g.Spec.Environment.HTTPProxy = "http://proxy.example.com:3128"
		}), "httpProxy and httpsProxy are set together"},
		{"gateway proxy not a URL", gateway("bad-proxy", func(g *infrav1.Gateway) {
			g.Spec.Environment.HTTPProxy = "proxy:3128"
			g.Spec.Environment.HTTPSProxy = "http://proxy.example.com:3128"
		}), "httpProxy must be an http:// or https:// URL"},
		{"gateway adopts a bad system id", gateway("bad-adopt", func(g *infrav1.Gateway) { g.Spec.AdoptMachines = []string{"Not An ID"} }),
			"spec.adoptMachines[0]"},
		{"gateway adopts four machines", gateway("too-many-adopt", func(g *infrav1.Gateway) { g.Spec.AdoptMachines = []string{"a", "b", "c", "d"} }),
			"must have at most 3 items"},
		{"gateway initializes and adopts", gateway("init-adopt", func(g *infrav1.Gateway) {
			g.Spec.Initialize, g.Spec.AdoptMachines = true, []string{"abc123"}
		}), "initialize creates the gateway cluster and adoptMachines names nodes of one that exists"},
		{"gateway initializes without a VIP", gateway("init-no-vip", func(g *infrav1.Gateway) {
			g.Spec.Initialize, g.Spec.ControlPlaneEndpoint = true, ""
		}), "initialize needs controlPlaneEndpoint"},
		{"gateway release version not semver", gateway("bad-release", func(g *infrav1.Gateway) { g.Spec.Release = &infrav1.Release{Version: "latest"} }),
			"spec.release.version"},
		{"gateway negative min CPU", gateway("neg-cpu", func(g *infrav1.Gateway) { g.Spec.Placement.MinCPU = -1 }),
			"spec.placement.minCPU"},
		{"gateway selects namespaces without a selector", gateway("from-selector-no-selector", func(g *infrav1.Gateway) {
			g.Spec.AllowedCloudAccounts.Namespaces.From = infrav1.NamespacesFromSelector
		}), "selector is required when from is Selector, and only then"},
		{"gateway with a selector it does not use", gateway("from-all-selector", func(g *infrav1.Gateway) {
			g.Spec.AllowedCloudAccounts.Namespaces = infrav1.AccountNamespaces{From: infrav1.NamespacesFromAll,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}
		}), "selector is required when from is Selector, and only then"},
		{"gateway allows namespaces from nowhere known", gateway("from-other", func(g *infrav1.Gateway) {
			g.Spec.AllowedCloudAccounts.Namespaces.From = "Others"
		}), "spec.allowedCloudAccounts.namespaces.from"},
		{"cloud account endpoint not a URL", cloudAccount("bad-endpoint", func(a *infrav1.CloudAccount) { a.Spec.Endpoint = "maas.example.com" }),
			"endpoint must be an http:// or https:// URL"},
		{"cloud account without gateway", cloudAccount("no-gateway", func(a *infrav1.CloudAccount) { a.Spec.GatewayRef.Name = "" }),
			"spec.gatewayRef.name"},
		{"tenant control plane of 2", tenant("cp2", func(c *infrav1.TenantCluster) { c.Spec.ControlPlane.Size = 2 }),
			"control-plane size must be 1, 3 or 5"},
		{"tenant control plane of 7", tenant("cp7", func(c *infrav1.TenantCluster) { c.Spec.ControlPlane.Size = 7 }),
			"control-plane size must be 1, 3 or 5"},
		{"tenant duplicate worker pools", tenant("dup-pools", func(c *infrav1.TenantCluster) {
			c.Spec.Workers = append(c.Spec.Workers, infrav1.NodePool{Name: "workers", Size: 1})
		}), "Duplicate value"},
		{"tenant worker pool named control-plane", tenant("reserved-pool", func(c *infrav1.TenantCluster) { c.Spec.Workers[0].Name = "control-plane" }),
			"worker pool name control-plane is reserved"},
		{"tenant worker pool name with capitals", tenant("caps-pool", func(c *infrav1.TenantCluster) { c.Spec.Workers[0].Name = "Workers" }),
			"spec.workers[0].name"},
		{"tenant negative pool size", tenant("neg-size", func(c *infrav1.TenantCluster) { c.Spec.Workers[0].Size = -1 }),
			"spec.workers[0].size"},
		{"tenant unknown rolling update", tenant("sideways", func(c *infrav1.TenantCluster) { c.Spec.Workers[0].RollingUpdate = "Sideways" }),
			`Unsupported value: "Sideways"`},
		{"tenant kubernetes version without v", tenant("bad-k8s", func(c *infrav1.TenantCluster) { c.Spec.Profile.KubernetesVersion = "1.34" }),
			"spec.profile.kubernetesVersion"},
		{"tenant VIP not an IP", tenant("bad-vip", func(c *infrav1.TenantCluster) { c.Spec.ControlPlaneEndpoint = "cluster.example.com" }),
			"controlPlaneEndpoint must be an IP address"},
		{"tenant VIP inside its pod CIDR", tenant("vip-in-pods", func(c *infrav1.TenantCluster) {
			c.Spec.Network = &infrav1.ClusterNetwork{PodCIDR: "10.20.0.0/16"}
		}), "controlPlaneEndpoint must lie outside podCIDR"},
		{"tenant CIDRs overlap", tenant("overlap", func(c *infrav1.TenantCluster) {
			c.Spec.Network = &infrav1.ClusterNetwork{PodCIDR: "10.0.0.0/8", ServiceCIDR: "10.96.0.0/12"}
		}), "podCIDR and serviceCIDR must not overlap"},
		{"tenant without cloud account", tenant("no-account", func(c *infrav1.TenantCluster) { c.Spec.CloudAccountRef.Name = "" }),
			"spec.cloudAccountRef.name"},
		{"tenant maxUnhealthy above 100%", tenant("max-unhealthy-pct", func(c *infrav1.TenantCluster) {
			c.Spec.HealthCheck = &infrav1.HealthCheck{MaxUnhealthy: new(intstr.FromString("140%"))}
		}), "maxUnhealthy must be a non-negative number or a percentage"},
		{"tenant maxUnhealthy a word", tenant("max-unhealthy-word", func(c *infrav1.TenantCluster) {
			c.Spec.HealthCheck = &infrav1.HealthCheck{MaxUnhealthy: new(intstr.FromString("many"))}
		}), "maxUnhealthy must be a non-negative number or a percentage"},
		{"tenant negative maxUnhealthy", tenant("max-unhealthy-neg", func(c *infrav1.TenantCluster) {
			c.Spec.HealthCheck = &infrav1.HealthCheck{MaxUnhealthy: new(intstr.FromInt32(-1))}
		}), "maxUnhealthy must be a non-negative number or a percentage"},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8s.Create(ctx, tc.obj)
			if err == nil {
				_ = k8s.Delete(ctx, tc.obj)
				t.Fatalf("created; want refusal containing %q", tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err.Error(), tc.want)
			}
		})
	}
}

func TestSchemaAcceptsValidObjectsWithDefaults(t *testing.T) {
	ctx := context.Background()

	g := gateway("defaults", nil)
	if err := k8s.Create(ctx, g); err != nil {
		t.Fatalf("create gateway: %v", err)
	}
	if g.Spec.Replicas != 1 {
		t.Errorf("gateway replicas defaulted to %d, want 1", g.Spec.Replicas)
	}
	if g.Spec.MAAS.CredentialsSecretRef.Key != infrav1.DefaultAPIKeyKey {
		t.Errorf("credentials key defaulted to %q, want %q", g.Spec.MAAS.CredentialsSecretRef.Key, infrav1.DefaultAPIKeyKey)
	}
	if err := k8s.Create(ctx, gateway("from-selector", func(g *infrav1.Gateway) {
		g.Spec.AllowedCloudAccounts.Namespaces = infrav1.AccountNamespaces{From: infrav1.NamespacesFromSelector,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"maas-gateway/tenant": "true"}}}
	})); err != nil {
		t.Errorf("create gateway allowing namespaces by selector: %v", err)
	}

	a := cloudAccount("defaults", nil)
	if err := k8s.Create(ctx, a); err != nil {
		t.Fatalf("create cloud account: %v", err)
	}
	// http:// is accepted on loopback, or beyond it when opted into.
	for name, mutate := range map[string]func(*infrav1.CloudAccount){
		"http-loopback":  func(a *infrav1.CloudAccount) { a.Spec.Endpoint = "http://127.0.0.1:5240/MAAS" },
		"http-loopback6": func(a *infrav1.CloudAccount) { a.Spec.Endpoint = "http://[::1]:5240/MAAS" },
		"http-localhost": func(a *infrav1.CloudAccount) { a.Spec.Endpoint = "http://localhost:5240/MAAS" },
		"http-opted-in": func(a *infrav1.CloudAccount) {
			a.Spec.Endpoint, a.Spec.InsecureAllowHTTP = "http://maas.example.com:5240/MAAS", true
		},
	} {
		if err := k8s.Create(ctx, cloudAccount(name, mutate)); err != nil {
			t.Errorf("create cloud account %s: %v", name, err)
		}
	}
	if err := k8s.Create(ctx, gateway("http-opted-in", func(g *infrav1.Gateway) {
		g.Spec.MAAS.Endpoint, g.Spec.MAAS.InsecureAllowHTTP = "http://10.11.12.13:5240/MAAS", true
	})); err != nil {
		t.Errorf("create gateway with insecureAllowHTTP: %v", err)
	}
	if a.Spec.CredentialsSecretRef.Key != infrav1.DefaultAPIKeyKey {
		t.Errorf("cloud account key defaulted to %q", a.Spec.CredentialsSecretRef.Key)
	}

	c := tenant("defaults", func(c *infrav1.TenantCluster) {
		c.Spec.ControlPlane = infrav1.ControlPlanePool{}
		c.Spec.Proxy = &infrav1.ProxySettings{
			HTTPProxy: "http://proxy.example.com:3128", HTTPSProxy: "http://proxy.example.com:3128",
			NoProxy: []string{"maas.example.com", "10.10.0.0/16"},
		}
		c.Spec.Network = &infrav1.ClusterNetwork{PodCIDR: "172.16.0.0/16", ServiceCIDR: "172.17.0.0/16"}
	})
	if err := k8s.Create(ctx, c); err != nil {
		t.Fatalf("create tenant cluster: %v", err)
	}
	if c.Spec.ControlPlane.Size != 1 {
		t.Errorf("control-plane size defaulted to %d, want 1", c.Spec.ControlPlane.Size)
	}
	if c.Spec.ControlPlane.RollingUpdate != infrav1.ExpandFirst || c.Spec.Workers[0].RollingUpdate != infrav1.ExpandFirst {
		t.Errorf("rolling update defaulted to %q/%q, want ExpandFirst", c.Spec.ControlPlane.RollingUpdate, c.Spec.Workers[0].RollingUpdate)
	}
	hc := tenant("health-defaults", func(c *infrav1.TenantCluster) { c.Spec.HealthCheck = &infrav1.HealthCheck{} })
	if err := k8s.Create(ctx, hc); err != nil {
		t.Fatalf("create tenant cluster with an empty healthCheck: %v", err)
	}
	if h := hc.Spec.HealthCheck; h.UnhealthyTimeout == nil || h.UnhealthyTimeout.Duration != 10*time.Minute ||
		h.MaxUnhealthy == nil || h.MaxUnhealthy.String() != "40%" {
		t.Errorf("healthCheck defaulted to %+v, want 10m and 40%%", h)
	}
	for _, ok := range []intstr.IntOrString{intstr.FromInt32(2), intstr.FromString("0%"), intstr.FromString("100%")} {
		c := tenant("health-"+strings.TrimSuffix(ok.String(), "%"), func(c *infrav1.TenantCluster) {
			c.Spec.HealthCheck = &infrav1.HealthCheck{MaxUnhealthy: &ok}
		})
		if err := k8s.Create(ctx, c); err != nil {
			t.Errorf("maxUnhealthy %s refused: %v", ok.String(), err)
		}
	}
	if c.Spec.Profile.OSImage != "ubuntu/jammy" {
		t.Errorf("OS image defaulted to %q, want ubuntu/jammy", c.Spec.Profile.OSImage)
	}
	ipv6 := tenant("ipv6", func(c *infrav1.TenantCluster) {
		c.Spec.ControlPlaneEndpoint = "fd00::10"
		c.Spec.Network = &infrav1.ClusterNetwork{PodCIDR: "fd01::/48", ServiceCIDR: "fd02::/108"}
	})
	if err := k8s.Create(ctx, ipv6); err != nil {
		t.Fatalf("create IPv6 tenant cluster: %v", err)
	}
}

func TestSchemaImmutableAndTransitionRules(t *testing.T) {
	ctx := context.Background()

	c := tenant("immutable", nil)
	if err := k8s.Create(ctx, c); err != nil {
		t.Fatalf("create: %v", err)
	}
	updates := []struct {
		name   string
		mutate func(*infrav1.TenantCluster)
		want   string
	}{
		{"cloud account", func(c *infrav1.TenantCluster) { c.Spec.CloudAccountRef.Name = "other" }, "cloudAccountRef is immutable"},
		{"control-plane endpoint", func(c *infrav1.TenantCluster) { c.Spec.ControlPlaneEndpoint = "10.20.0.11" }, "controlPlaneEndpoint is immutable"},
	}
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			changed := c.DeepCopy()
			u.mutate(changed)
			err := k8s.Update(ctx, changed)
			if err == nil || !strings.Contains(err.Error(), u.want) {
				t.Fatalf("update: got %v, want refusal containing %q", err, u.want)
			}
		})
	}
	scaled := c.DeepCopy()
	scaled.Spec.Workers[0].Size = 5
	if err := k8s.Update(ctx, scaled); err != nil {
		t.Fatalf("scaling a worker pool must be allowed: %v", err)
	}
	c = scaled

	// The control plane grows freely and shrinks one step at a time.
	for _, step := range []struct {
		size int32
		want string
	}{{5, ""}, {1, "shrinks one step at a time"}, {3, ""}, {1, ""}, {5, ""}} {
		resized := c.DeepCopy()
		resized.Spec.ControlPlane.Size = step.size
		err := k8s.Update(ctx, resized)
		switch {
		case step.want == "" && err != nil:
			t.Fatalf("control plane %d→%d: %v", c.Spec.ControlPlane.Size, step.size, err)
		case step.want != "" && (err == nil || !strings.Contains(err.Error(), step.want)):
			t.Fatalf("control plane %d→%d: got %v, want refusal containing %q", c.Spec.ControlPlane.Size, step.size, err, step.want)
		case err == nil:
			c = resized
		}
	}

	g := gateway("shrink", func(g *infrav1.Gateway) { g.Spec.Replicas = 3 })
	if err := k8s.Create(ctx, g); err != nil {
		t.Fatalf("create 3-node gateway: %v", err)
	}
	g.Spec.Replicas = 1
	if err := k8s.Update(ctx, g); err == nil || !strings.Contains(err.Error(), "cannot be shrunk to 1 node") {
		t.Fatalf("3→1: got %v, want refusal naming quorum", err)
	}

	// Whether the operator creates the gateway cluster is decided once.
	for _, from := range []bool{false, true} {
		g := gateway(fmt.Sprintf("initialize-%t", from), func(g *infrav1.Gateway) { g.Spec.Initialize = from })
		if err := k8s.Create(ctx, g); err != nil {
			t.Fatalf("create gateway with initialize %t: %v", from, err)
		}
		g.Spec.Initialize = !from
		if err := k8s.Update(ctx, g); err == nil || !strings.Contains(err.Error(), "initialize is immutable") {
			t.Fatalf("initialize %t→%t: got %v, want refusal", from, !from, err)
		}
	}
}

// TestGatewayScaleSubresource makes the calls kubectl scale makes.
func TestGatewayScaleSubresource(t *testing.T) {
	ctx := context.Background()
	g := gateway("scalable", nil)
	if err := k8s.Create(ctx, g); err != nil {
		t.Fatalf("create: %v", err)
	}
	g.Status.ReadyReplicas = 1
	g.Status.Selector = infrav1.LabelGateway + "=scalable"
	if err := k8s.Status().Update(ctx, g); err != nil {
		t.Fatalf("status update: %v", err)
	}

	scale := &autoscalingv1.Scale{}
	if err := k8s.SubResource("scale").Get(ctx, g, scale); err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if scale.Spec.Replicas != 1 || scale.Status.Replicas != 1 || scale.Status.Selector != g.Status.Selector {
		t.Fatalf("scale = %+v, want spec 1, status 1, selector %q", scale, g.Status.Selector)
	}

	scale.Spec.Replicas = 2
	if err := k8s.SubResource("scale").Update(ctx, g, client.WithSubResourceBody(scale)); err == nil ||
		!strings.Contains(err.Error(), "replicas must be 1 or 3") {
		t.Fatalf("scale to 2: got %v, want refusal", err)
	}

	if err := k8s.SubResource("scale").Get(ctx, g, scale); err != nil {
		t.Fatalf("get scale: %v", err)
	}
	scale.Spec.Replicas = 3
	if err := k8s.SubResource("scale").Update(ctx, g, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("scale to 3: %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(g), g); err != nil {
		t.Fatalf("get: %v", err)
	}
	if g.Spec.Replicas != 3 {
		t.Fatalf("spec.replicas = %d after scaling to 3", g.Spec.Replicas)
	}
}

// TestSamplesAreValid creates every object of config/samples with strict
// field validation: the samples users copy, and the bundle's alm-examples,
// are objects the API server accepts as they are.
func TestSamplesAreValid(t *testing.T) {
	dir := envtest.RepoRoot() + "/config/samples"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "infra_") {
			continue
		}
		data, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.UnmarshalStrict(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		obj.SetNamespace("schema")
		if err := k8s.Create(context.Background(), obj, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			t.Errorf("%s is refused: %v", e.Name(), err)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("found %d samples, want one per kind", n)
	}
}
