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
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// joined renders errors and warnings into one string for substring checks.
func joined(errs field.ErrorList, warns []string) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String() + strings.Join(warns, "\n")
}

func validGatewaySpec() infrav1alpha1.GatewaySpec {
	return infrav1alpha1.GatewaySpec{
		Replicas: 3,
		MAAS: infrav1alpha1.MAASConnection{
			Endpoint:             "https://10.11.12.13:5443/MAAS",
			CredentialsSecretRef: infrav1alpha1.SecretKeyReference{Name: "maas", Key: "apiKey"},
		},
		Environment: infrav1alpha1.Environment{
			ClusterNetwork: infrav1alpha1.ClusterNetwork{PodCIDR: DefaultPodCIDR, ServiceCIDR: DefaultServiceCIDR},
		},
		ControlPlaneEndpoint: "10.11.12.50",
	}
}

func TestValidateGatewaySpec(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*infrav1alpha1.GatewaySpec)
		wantErr   string
		wantWarn  string
		wantClean bool
	}{
		{name: "3 replicas with a VIP", mutate: func(*infrav1alpha1.GatewaySpec) {}, wantClean: true},
		{name: "2 replicas", mutate: func(s *infrav1alpha1.GatewaySpec) { s.Replicas = 2 },
			wantErr: "spec.replicas: Invalid value: 2: must be 1 or 3"},
		{name: "1 replica warned", mutate: func(s *infrav1alpha1.GatewaySpec) { s.Replicas = 1 },
			wantWarn: "not recommended for production; resize it with kubectl scale mgw/gw --replicas=3"},
		{name: "3 replicas without a VIP warned", mutate: func(s *infrav1alpha1.GatewaySpec) { s.ControlPlaneEndpoint = "" },
			wantWarn: "spec.controlPlaneEndpoint is empty"},
		{name: "VIP in the pod range", mutate: func(s *infrav1alpha1.GatewaySpec) { s.ControlPlaneEndpoint = "192.168.7.7" },
			wantErr: "spec.controlPlaneEndpoint: Invalid value: \"192.168.7.7\": lies inside the pod range"},
		{name: "pod range too small for 3 nodes and a spare",
			mutate:  func(s *infrav1alpha1.GatewaySpec) { s.Environment.PodCIDR = "172.16.0.0/23" },
			wantErr: "has room for 2 nodes (a /24 each) but the cluster asks for 4 machines"},
		{name: "service range wider than /12 refused for a 1.33 release",
			mutate: func(s *infrav1alpha1.GatewaySpec) {
				s.Environment.ServiceCIDR = "10.0.0.0/8"
				s.Environment.PodCIDR = "172.16.0.0/16"
				s.Release = &infrav1alpha1.Release{Version: "1.0.0", KubernetesVersion: "v1.33.4"}
			},
			wantErr: "spec.environment.serviceCIDR: Invalid value: \"10.0.0.0/8\": too large"},
		{name: "proxy without the MAAS host in noProxy",
			mutate: func(s *infrav1alpha1.GatewaySpec) {
				s.Environment.HTTPProxy = "http://proxy.example.com:3128"
				s.Environment.HTTPSProxy = "http://proxy.example.com:3128"
				s.Environment.NoProxy = []string{".svc", "10.0.0.0/33"}
			},
			wantWarn: "spec.environment.noProxy does not include the MAAS endpoint host 10.11.12.13"},
		{name: "proxy with the MAAS network in noProxy",
			mutate: func(s *infrav1alpha1.GatewaySpec) {
				s.Environment.HTTPProxy = "http://proxy.example.com:3128"
				s.Environment.HTTPSProxy = "http://proxy.example.com:3128"
				s.Environment.NoProxy = []string{"10.11.0.0/16"}
			}, wantClean: true},
		{name: "proxy credentials warned without echoing them",
			mutate: func(s *infrav1alpha1.GatewaySpec) {
				s.Environment.HTTPProxy = "http://alice:s3cret@proxy.example.com:3128"
				s.Environment.HTTPSProxy = "http://proxy.example.com:3128"
				s.Environment.NoProxy = []string{"10.11.12.13"}
			},
			wantWarn: "spec.environment.httpProxy embeds credentials"},
		{name: "caBundle that is not PEM",
			mutate:  func(s *infrav1alpha1.GatewaySpec) { s.MAAS.CABundle = "not a certificate" },
			wantErr: "spec.maas.caBundle: Invalid value: \"(PEM data)\": is not PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validGatewaySpec()
			tt.mutate(&spec)
			errs, warns := ValidateGatewaySpec(specPath, &spec, "gw", Options{})
			got := joined(errs, warns)
			if tt.wantClean && (len(errs) > 0 || len(warns) > 0) {
				t.Fatalf("want no error or warning, got %s", got)
			}
			if tt.wantErr != "" && (len(errs) == 0 || !strings.Contains(got, tt.wantErr)) {
				t.Errorf("want an error containing %q, got %s", tt.wantErr, got)
			}
			if tt.wantErr == "" && len(errs) > 0 {
				t.Errorf("want no error, got %v", errs)
			}
			if tt.wantWarn != "" && !strings.Contains(strings.Join(warns, "\n"), tt.wantWarn) {
				t.Errorf("want a warning containing %q, got %q", tt.wantWarn, warns)
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("a message repeats the proxy password: %s", got)
			}
		})
	}
}

// TestValidateGatewaySpecNamesFieldsFromItsPath: the installer validates a
// pcg.yaml, whose fields are the spec's without "spec.", with a nil path;
// every error and warning must then name the field as the file does.
func TestValidateGatewaySpecNamesFieldsFromItsPath(t *testing.T) {
	spec := validGatewaySpec()
	spec.Replicas = 1
	spec.ControlPlaneEndpoint = "192.168.1.1"
	spec.MAAS.Endpoint = "http://10.11.12.13:5240/MAAS"
	spec.Environment.HTTPProxy = "http://proxy.example.com:3128"
	spec.Environment.HTTPSProxy = "http://proxy.example.com:3128"
	errs, warns := ValidateGatewaySpec(nil, &spec, "gw", Options{})
	got := joined(errs, warns)
	for _, want := range []string{
		"controlPlaneEndpoint: Invalid value",
		"maas.endpoint: Forbidden",
		"set maas.insecureAllowHTTP: true",
		"replicas is 1",
		"environment.noProxy does not include",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "spec.") {
		t.Errorf("a message names a field by the Gateway's path, not the caller's:\n%s", got)
	}
}

func TestValidateGatewayTransition(t *testing.T) {
	tests := []struct {
		name    string
		oldSpec func(*infrav1alpha1.GatewaySpec)
		mutate  func(*infrav1alpha1.GatewaySpec)
		wantErr []string
	}{
		{name: "1 to 3 replicas", oldSpec: func(s *infrav1alpha1.GatewaySpec) { s.Replicas = 1 },
			mutate: func(s *infrav1alpha1.GatewaySpec) { s.Replicas = 3 }},
		{name: "3 to 1 replicas", mutate: func(s *infrav1alpha1.GatewaySpec) { s.Replicas = 1 },
			wantErr: []string{"spec.replicas: Forbidden: a 3-node gateway cannot be shrunk to 1 node", "quorum"}},
		{name: "another MAAS", mutate: func(s *infrav1alpha1.GatewaySpec) { s.MAAS.Endpoint = "https://10.9.9.9:5443/MAAS" },
			wantErr: []string{"spec.maas.endpoint: Forbidden: is immutable once set", "cannot move to another MAAS"}},
		{name: "pod range", mutate: func(s *infrav1alpha1.GatewaySpec) { s.Environment.PodCIDR = "172.16.0.0/16" },
			wantErr: []string{"spec.environment.podCIDR: Forbidden: is immutable once set (was \"192.168.0.0/16\")"}},
		{name: "service range", mutate: func(s *infrav1alpha1.GatewaySpec) { s.Environment.ServiceCIDR = "10.128.0.0/16" },
			wantErr: []string{"spec.environment.serviceCIDR: Forbidden: is immutable once set"}},
		{name: "VIP changed", mutate: func(s *infrav1alpha1.GatewaySpec) { s.ControlPlaneEndpoint = "10.11.12.51" },
			wantErr: []string{"spec.controlPlaneEndpoint: Forbidden: is immutable once set"}},
		{name: "VIP removed", mutate: func(s *infrav1alpha1.GatewaySpec) { s.ControlPlaneEndpoint = "" },
			wantErr: []string{"spec.controlPlaneEndpoint: Forbidden"}},
		{name: "VIP set once", oldSpec: func(s *infrav1alpha1.GatewaySpec) { s.ControlPlaneEndpoint = "" },
			mutate: func(s *infrav1alpha1.GatewaySpec) { s.ControlPlaneEndpoint = "10.11.12.50" }},
		{name: "proxy and credentials may change", mutate: func(s *infrav1alpha1.GatewaySpec) {
			s.Environment.NoProxy = []string{".svc"}
			s.MAAS.CredentialsSecretRef.Name = "maas-rotated"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldSpec := validGatewaySpec()
			if tt.oldSpec != nil {
				tt.oldSpec(&oldSpec)
			}
			spec := *oldSpec.DeepCopy()
			tt.mutate(&spec)
			errs := validateGatewayTransition(&oldSpec, &spec)
			if len(tt.wantErr) == 0 {
				if len(errs) > 0 {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", errs)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errs[0].Error(), want) {
					t.Errorf("error %q does not contain %q", errs[0].Error(), want)
				}
			}
		})
	}
}

func validTenantSpec() infrav1alpha1.TenantClusterSpec {
	return infrav1alpha1.TenantClusterSpec{
		CloudAccountRef:      infrav1alpha1.LocalObjectReference{Name: "acct"},
		Profile:              &infrav1alpha1.ClusterProfileSpec{OSImage: "ubuntu/jammy", KubernetesVersion: "v1.34.2"},
		ControlPlaneEndpoint: "10.11.12.100",
		Network:              &infrav1alpha1.ClusterNetwork{PodCIDR: DefaultPodCIDR, ServiceCIDR: DefaultServiceCIDR},
		ControlPlane: infrav1alpha1.ControlPlanePool{Size: 3, RollingUpdate: infrav1alpha1.ExpandFirst,
			MachineTemplate: infrav1alpha1.MachineTemplate{ResourcePool: "pool-a", Zones: []string{"az1"}}},
		Workers: []infrav1alpha1.NodePool{{Name: "w", Size: 2, RollingUpdate: infrav1alpha1.ExpandFirst,
			MachineTemplate: infrav1alpha1.MachineTemplate{ResourcePool: "pool-a", Zones: []string{"az1", "az2"}}}},
	}
}

func TestValidateTenantSpec(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*infrav1alpha1.TenantClusterSpec)
		wantErr  string
		wantWarn string
	}{
		{name: "valid", mutate: func(*infrav1alpha1.TenantClusterSpec) {}},
		{name: "control plane of 2", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.ControlPlane.Size = 2 },
			wantErr: "spec.controlPlane.size: Invalid value: 2: must be 1, 3 or 5: etcd needs an odd number"},
		{name: "control plane of 1 warned", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.ControlPlane.Size = 1 },
			wantWarn: "spec.controlPlane.size is 1"},
		{name: "ContractFirst on one control-plane machine warned", mutate: func(s *infrav1alpha1.TenantClusterSpec) {
			s.ControlPlane.Size = 1
			s.ControlPlane.RollingUpdate = infrav1alpha1.ContractFirst
		}, wantWarn: "the API server is down while it is replaced"},
		{name: "negative worker size", mutate: func(s *infrav1alpha1.TenantClusterSpec) {
			s.Workers[0].Size = -1
			s.ControlPlane.AllowWorkloads = true
		},
			wantErr: "spec.workers[0].size: Invalid value: -1: must be 0 or more"},
		{name: "no workers and no workloads on the control plane", mutate: func(s *infrav1alpha1.TenantClusterSpec) {
			s.Workers[0].Size = 0
		}, wantWarn: "ordinary pods will have nowhere to run"},
		{name: "VIP in the service range", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.ControlPlaneEndpoint = "10.96.0.10" },
			wantErr: "spec.controlPlaneEndpoint: Invalid value: \"10.96.0.10\": lies inside the service range"},
		{name: "overlapping ranges", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.Network.PodCIDR = "10.64.0.0/10" },
			wantErr: "spec.network.serviceCIDR: Invalid value: \"10.96.0.0/12\": overlaps spec.network.podCIDR 10.64.0.0/10"},
		{name: "pod range too small for 5 machines and a spare",
			mutate:  func(s *infrav1alpha1.TenantClusterSpec) { s.Network.PodCIDR = "172.16.0.0/22" },
			wantErr: "has room for 4 nodes (a /24 each) but the cluster asks for 6 machines"},
		{name: "service range limit follows the cluster's version", mutate: func(s *infrav1alpha1.TenantClusterSpec) {
			s.Profile.KubernetesVersion = "v1.31.0"
			s.Network = &infrav1alpha1.ClusterNetwork{PodCIDR: "172.16.0.0/16", ServiceCIDR: "10.128.0.0/10"}
		}, wantErr: "Kubernetes before v1.34 accepts a service range of /12 or narrower"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validTenantSpec()
			tt.mutate(&spec)
			c := validateTenantSpec(&spec, Options{})
			got := joined(c.errs, c.warns)
			switch {
			case tt.wantErr == "" && len(c.errs) > 0:
				t.Errorf("want no error, got %v", c.errs)
			case tt.wantErr != "" && (len(c.errs) != 1 || !strings.Contains(c.errs[0].Error(), tt.wantErr)):
				t.Errorf("want one error containing %q, got %v", tt.wantErr, c.errs)
			}
			if tt.wantWarn == "" && len(c.warns) > 0 {
				t.Errorf("want no warning, got %q", c.warns)
			}
			if tt.wantWarn != "" && !strings.Contains(got, tt.wantWarn) {
				t.Errorf("want a warning containing %q, got %q", tt.wantWarn, c.warns)
			}
		})
	}
}

func TestValidateTenantTransition(t *testing.T) {
	oldSpec := validTenantSpec()
	spec := *oldSpec.DeepCopy()
	spec.Workers[0].Size = 10
	spec.Profile.OSImage = "ubuntu/noble"
	if errs := validateTenantTransition(&oldSpec, &spec); len(errs) != 0 {
		t.Errorf("resize and OS change refused: %v", errs)
	}
	spec.Network.ServiceCIDR = "10.128.0.0/16"
	errs := validateTenantTransition(&oldSpec, &spec)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(),
		"spec.network.serviceCIDR: Forbidden: is immutable once set (was \"10.96.0.0/12\")") {
		t.Errorf("service range change: got %v", errs)
	}
	spec.Network = nil
	if errs := validateTenantTransition(&oldSpec, &spec); len(errs) != 2 {
		t.Errorf("network removed: want 2 errors, got %v", errs)
	}
	oldSpec.Network = nil
	fresh := validTenantSpec()
	if errs := validateTenantTransition(&oldSpec, &fresh); len(errs) != 0 {
		t.Errorf("ranges set where none were: %v", errs)
	}
}

func validatedAccount() *infrav1alpha1.CloudAccount {
	return &infrav1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "acct"},
		Spec: infrav1alpha1.CloudAccountSpec{
			MAASConnection: infrav1alpha1.MAASConnection{Endpoint: "http://10.11.12.13:5240/MAAS"},
		},
		Status: infrav1alpha1.CloudAccountStatus{
			Zones:         []string{"az1", "az2"},
			ResourcePools: []string{"pool-a", "default"},
			Domains:       []string{"maas"},
			OSImages:      []string{"ubuntu/jammy", "ubuntu/noble", "custom/hardened"},
			Conditions: []metav1.Condition{{Type: infrav1alpha1.CloudAccountCredentialsValid,
				Status: metav1.ConditionTrue, Reason: infrav1alpha1.ReasonValid, LastTransitionTime: metav1.Now()}},
		},
	}
}

func TestCheckInventory(t *testing.T) {
	tests := []struct {
		name     string
		account  func(*infrav1alpha1.CloudAccount)
		old      func(*infrav1alpha1.TenantClusterSpec)
		mutate   func(*infrav1alpha1.TenantClusterSpec)
		wantErrs []string
		wantWarn string
	}{
		{name: "all known", mutate: func(*infrav1alpha1.TenantClusterSpec) {}},
		{name: "unknown zone", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.Workers[0].Zones[1] = "az9" },
			wantErrs: []string{"spec.workers[0].zones[1]: Invalid value: \"az9\": no zone \"az9\" in the MAAS of CloudAccount team/acct (known: az1, az2)"}},
		{name: "unknown resource pool on the control plane",
			mutate:   func(s *infrav1alpha1.TenantClusterSpec) { s.ControlPlane.ResourcePool = "gpu" },
			wantErrs: []string{"spec.controlPlane.resourcePool: Invalid value: \"gpu\": no resource pool \"gpu\""}},
		{name: "unknown domain", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.Domain = "lab" },
			wantErrs: []string{"spec.domain: Invalid value: \"lab\": no domain"}},
		{name: "unknown OS image", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.Profile.OSImage = "centos/8" },
			wantErrs: []string{"spec.profile.osImage: Invalid value: \"centos/8\": no OS image"}},
		{name: "custom image by its bare name", mutate: func(s *infrav1alpha1.TenantClusterSpec) { s.Profile.OSImage = "hardened" }},
		{name: "no images reported: not checked",
			account: func(a *infrav1alpha1.CloudAccount) { a.Status.OSImages = nil },
			mutate:  func(s *infrav1alpha1.TenantClusterSpec) { s.Profile.OSImage = "centos/8" }},
		{name: "account not validated: warned, not refused",
			account: func(a *infrav1alpha1.CloudAccount) {
				a.Status.Conditions[0].Status = metav1.ConditionFalse
			},
			mutate:   func(s *infrav1alpha1.TenantClusterSpec) { s.Workers[0].Zones[0] = "az9" },
			wantWarn: "CloudAccount team/acct has not been validated against MAAS yet"},
		{name: "update leaves an unchanged pool alone",
			old: func(s *infrav1alpha1.TenantClusterSpec) { s.Workers[0].Zones = []string{"gone"} },
			mutate: func(s *infrav1alpha1.TenantClusterSpec) {
				s.Workers[0].Zones = []string{"gone"}
				s.Workers[0].Size = 7
			}},
		{name: "update checks a changed pool",
			mutate:   func(s *infrav1alpha1.TenantClusterSpec) { s.Workers[0].ResourcePool = "gone" },
			old:      func(*infrav1alpha1.TenantClusterSpec) {},
			wantErrs: []string{"spec.workers[0].resourcePool"}},
		{name: "update checks a new pool", old: func(*infrav1alpha1.TenantClusterSpec) {},
			mutate: func(s *infrav1alpha1.TenantClusterSpec) {
				s.Workers = append(s.Workers, infrav1alpha1.NodePool{Name: "new", Size: 1,
					MachineTemplate: infrav1alpha1.MachineTemplate{Zones: []string{"az7"}}})
			},
			wantErrs: []string{"spec.workers[1].zones[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := validatedAccount()
			if tt.account != nil {
				tt.account(ca)
			}
			var oldSpec *infrav1alpha1.TenantClusterSpec
			if tt.old != nil {
				o := validTenantSpec()
				tt.old(&o)
				oldSpec = &o
			}
			spec := validTenantSpec()
			tt.mutate(&spec)
			errs, warns := checkInventory(ca, oldSpec, &spec)
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("got errors %v, want %d", errs, len(tt.wantErrs))
			}
			for i, want := range tt.wantErrs {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %q does not contain %q", errs[i].Error(), want)
				}
			}
			if (tt.wantWarn == "") != (len(warns) == 0) ||
				(tt.wantWarn != "" && !strings.Contains(strings.Join(warns, "\n"), tt.wantWarn)) {
				t.Errorf("warnings %q, want %q", warns, tt.wantWarn)
			}
		})
	}
}

func TestListSome(t *testing.T) {
	if got := listSome([]string{"a", "b"}); got != "a, b" {
		t.Errorf("listSome = %q", got)
	}
	many := strings.Split("a b c d e f g h i j k l", " ")
	if got := listSome(many); got != "a, b, c, d, e, f, g, h, i, j and 2 more" {
		t.Errorf("listSome = %q", got)
	}
}

func TestCheckReachable(t *testing.T) {
	gw := &infrav1alpha1.Gateway{Spec: validGatewaySpec()}
	gw.Status.Nodes = []infrav1alpha1.GatewayNode{{MachineStatus: infrav1alpha1.MachineStatus{
		SystemID: "abc123", Hostname: "gw-1", Addresses: []string{"172.20.5.5", "not-an-ip"}}}}
	tests := []struct {
		name     string
		pod, svc string
		vip      string
		gw       *infrav1alpha1.Gateway
		wantErrs []string
	}{
		{name: "clear", pod: DefaultPodCIDR, svc: DefaultServiceCIDR, vip: "10.11.12.100", gw: gw},
		{name: "pod range holds MAAS", pod: "10.11.0.0/16", svc: DefaultServiceCIDR, vip: "10.12.0.1", gw: gw,
			wantErrs: []string{"spec.network.podCIDR: Invalid value: \"10.11.0.0/16\": contains the MAAS endpoint 10.11.12.13",
				"contains the gateway's control-plane endpoint 10.11.12.50"}},
		{name: "service range holds the gateway VIP", pod: DefaultPodCIDR, svc: "10.11.12.0/24", vip: "10.20.0.1", gw: gw,
			wantErrs: []string{"contains the MAAS endpoint", "contains the gateway's control-plane endpoint 10.11.12.50"}},
		{name: "pod range holds a gateway node", pod: "172.20.0.0/16", svc: DefaultServiceCIDR, vip: "10.11.12.100", gw: gw,
			wantErrs: []string{"contains the address of gateway node gw-1 172.20.5.5"}},
		{name: "VIP is the gateway's", pod: DefaultPodCIDR, svc: DefaultServiceCIDR, vip: "10.11.12.50", gw: gw,
			wantErrs: []string{"spec.controlPlaneEndpoint: Invalid value: \"10.11.12.50\": is the gateway's control-plane endpoint"}},
		{name: "VIP is MAAS", pod: DefaultPodCIDR, svc: DefaultServiceCIDR, vip: "10.11.12.13", gw: nil,
			wantErrs: []string{"is the address of the MAAS endpoint"}},
		{name: "no gateway: MAAS still checked", pod: "10.0.0.0/8", svc: "172.30.0.0/16", vip: "192.168.1.1", gw: nil,
			wantErrs: []string{"contains the MAAS endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validTenantSpec()
			spec.Network = &infrav1alpha1.ClusterNetwork{PodCIDR: tt.pod, ServiceCIDR: tt.svc}
			spec.ControlPlaneEndpoint = tt.vip
			c := validateTenantSpec(&spec, Options{})
			if len(c.errs) > 0 {
				t.Fatalf("spec itself invalid: %v", c.errs)
			}
			errs := checkReachable(c, validatedAccount(), tt.gw)
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("got %v, want %d errors", errs, len(tt.wantErrs))
			}
			for i, want := range tt.wantErrs {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %q does not contain %q", errs[i].Error(), want)
				}
			}
		})
	}
}

// fataler is what selfSignedPEM needs of testing.TB and of GinkgoT().
type fataler interface {
	Helper()
	Fatal(args ...any)
}

// selfSignedPEM returns a throwaway CA certificate in PEM.
func selfSignedPEM(t fataler) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "maas-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestCheckCABundle(t *testing.T) {
	cert := selfSignedPEM(t)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	badCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}))
	tests := []struct {
		name    string
		bundle  string
		wantErr string
	}{
		{name: "one certificate", bundle: cert},
		{name: "two certificates and blank lines", bundle: cert + "\n\n" + cert + "\n"},
		{name: "text", bundle: "hello", wantErr: "is not PEM"},
		{name: "blank", bundle: "  \n", wantErr: "holds no certificate"},
		{name: "private key", bundle: cert + keyPEM, wantErr: "type \"PRIVATE KEY\""},
		{name: "broken certificate", bundle: badCert, wantErr: "certificate 1 does not parse"},
		{name: "trailing garbage", bundle: cert + "garbage", wantErr: "has data after certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCABundle(tt.bundle)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkCABundle: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("checkCABundle error = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error repeats PEM content: %v", err)
			}
		})
	}
}

func TestCheckMAASConnectionWarnsOfUnusedBundle(t *testing.T) {
	c := infrav1alpha1.MAASConnection{Endpoint: "http://10.11.12.13:5240/MAAS", CABundle: selfSignedPEM(t), InsecureAllowHTTP: true}
	errs, warns := checkMAASConnection(field.NewPath("spec"), c)
	if len(errs) != 0 || len(warns) != 2 || !strings.Contains(warns[1], "spec.caBundle is ignored") {
		t.Errorf("http endpoint with a bundle: errs %v, warns %q", errs, warns)
	}
	c.Endpoint = "https://maas.example.com/MAAS"
	if errs, warns := checkMAASConnection(field.NewPath("spec"), c); len(errs) != 0 || len(warns) != 0 {
		t.Errorf("https endpoint with a bundle: errs %v, warns %q", errs, warns)
	}
}

// TestCheckMAASConnectionPlainHTTP: the API key travels in every request
// (OAuth PLAINTEXT), so http:// beyond loopback needs the opt-in, and every
// http:// endpoint let through draws a warning.
func TestCheckMAASConnectionPlainHTTP(t *testing.T) {
	tests := []struct {
		endpoint string
		optIn    bool
		wantErr  string
		wantWarn string
	}{
		{endpoint: "https://maas.example.com/MAAS"},
		{endpoint: "https://10.11.12.13:5443/MAAS", optIn: true},
		{endpoint: "http://10.11.12.13:5240/MAAS", wantErr: "spec.endpoint: Forbidden: http:// sends the MAAS API key in cleartext to 10.11.12.13"},
		{endpoint: "HTTP://maas.example.com:5240/MAAS", wantErr: "set spec.insecureAllowHTTP: true"},
		{endpoint: " http://[fd00::5]:5240/MAAS", wantErr: "in cleartext to fd00::5"},
		{endpoint: "http://10.11.12.13:5240/MAAS", optIn: true, wantWarn: "spec.insecureAllowHTTP is set: the MAAS API key crosses the network"},
		{endpoint: "http://127.0.0.1:5240/MAAS", wantWarn: "plain http:// on loopback"},
		{endpoint: "http://127.20.1.10:5240/MAAS", wantWarn: "plain http:// on loopback"},
		{endpoint: "http://[::1]:5240/MAAS", wantWarn: "plain http:// on loopback"},
		{endpoint: "http://localhost:5240/MAAS", wantWarn: "plain http:// on loopback"},
		{endpoint: "http://localhost.evil.example:5240/MAAS", wantErr: "in cleartext to localhost.evil.example"},
		{endpoint: "http://127.0.0.1.nip.io:5240/MAAS", wantErr: "in cleartext"},
	}
	for _, tc := range tests {
		c := infrav1alpha1.MAASConnection{Endpoint: tc.endpoint, InsecureAllowHTTP: tc.optIn}
		errs, warns := checkMAASConnection(field.NewPath("spec"), c)
		got := errs.ToAggregate()
		switch {
		case tc.wantErr != "" && (got == nil || !strings.Contains(got.Error(), tc.wantErr)):
			t.Errorf("%s (opt-in %v): errors %v, want %q", tc.endpoint, tc.optIn, got, tc.wantErr)
		case tc.wantErr == "" && got != nil:
			t.Errorf("%s (opt-in %v): refused: %v", tc.endpoint, tc.optIn, got)
		}
		switch {
		case tc.wantWarn == "" && len(warns) != 0:
			t.Errorf("%s (opt-in %v): warnings %q, want none", tc.endpoint, tc.optIn, warns)
		case tc.wantWarn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tc.wantWarn)):
			t.Errorf("%s (opt-in %v): warnings %q, want %q", tc.endpoint, tc.optIn, warns, tc.wantWarn)
		}
	}
}

func TestGatewayDefaulter(t *testing.T) {
	gw := &infrav1alpha1.Gateway{}
	if err := (&GatewayDefaulter{}).Default(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	s := gw.Spec
	if s.Replicas != 1 || s.MAAS.CredentialsSecretRef.Key != "apiKey" ||
		s.Environment.PodCIDR != "192.168.0.0/16" || s.Environment.ServiceCIDR != "10.96.0.0/12" {
		t.Errorf("defaults: %+v", s)
	}
	gw.Spec.Environment.PodCIDR = "172.16.0.0/16"
	gw.Spec.Replicas = 3
	if err := (&GatewayDefaulter{}).Default(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	if gw.Spec.Environment.PodCIDR != "172.16.0.0/16" || gw.Spec.Replicas != 3 {
		t.Errorf("defaulter overwrote set fields: %+v", gw.Spec)
	}
}

func TestCloudAccountDefaulter(t *testing.T) {
	ca := &infrav1alpha1.CloudAccount{}
	if err := (&CloudAccountDefaulter{}).Default(context.Background(), ca); err != nil {
		t.Fatal(err)
	}
	if ca.Spec.CredentialsSecretRef.Key != "apiKey" {
		t.Errorf("key = %q", ca.Spec.CredentialsSecretRef.Key)
	}
	ca.Spec.CredentialsSecretRef.Key = "other"
	_ = (&CloudAccountDefaulter{}).Default(context.Background(), ca)
	if ca.Spec.CredentialsSecretRef.Key != "other" {
		t.Errorf("defaulter overwrote the key: %q", ca.Spec.CredentialsSecretRef.Key)
	}
}
