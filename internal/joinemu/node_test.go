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

package joinemu

import (
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

func TestFilter(t *testing.T) {
	intent := func(cluster, ep string) *bootstrap.NodeIntent {
		return &bootstrap.NodeIntent{ClusterName: cluster, ControlPlaneEndpoint: ep}
	}
	tests := []struct {
		name              string
		endpoint, cluster string
		in                *bootstrap.NodeIntent
		want              bool
	}{
		{"no filter", "", "", intent("a", "10.0.0.1:6443"), true},
		{"endpoint", "10.0.0.1:6443", "", intent("a", "10.0.0.1:6443"), true},
		{"other host", "10.0.0.1:6443", "", intent("a", "10.0.0.2:6443"), false},
		{"other port", "10.0.0.1:6443", "", intent("a", "10.0.0.1:443"), false},
		{"mapped IPv4", "10.0.0.1:6443", "", intent("a", "[::ffff:10.0.0.1]:6443"), true},
		{"IPv6", "[fd00::1]:6443", "", intent("a", "[fd00::1]:6443"), true},
		{"cluster", "", "a", intent("a", "10.0.0.1:6443"), true},
		{"other cluster", "", "a", intent("b", "10.0.0.1:6443"), false},
		{"both", "10.0.0.1:6443", "a", intent("a", "10.0.0.1:6443"), true},
		{"both, other cluster", "10.0.0.1:6443", "a", intent("b", "10.0.0.1:6443"), false},
		{"unparsable intent endpoint", "10.0.0.1:6443", "", intent("a", "vip:6443"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter(tt.endpoint, tt.cluster)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.matches(tt.in); got != tt.want {
				t.Fatalf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

// noClient stands in for a client New only checks for presence.
type noClient struct{ client.Client }

func TestNewRefuses(t *testing.T) {
	c := noClient{}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no client", Config{}},
		{"hostname endpoint", Config{Client: c, Endpoint: "vip.example.com:6443"}},
		{"endpoint without port", Config{Client: c, Endpoint: "10.0.0.1"}},
		{"port 0", Config{Client: c, Endpoint: "10.0.0.1:0"}},
		{"negative delay", Config{Client: c, Delay: -time.Second}},
		{"negative heartbeat", Config{Client: c, HeartbeatInterval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	e, err := New(Config{Client: c})
	if err != nil || e.heartbeat != DefaultHeartbeatInterval {
		t.Fatalf("defaults: %v %v", e, err)
	}
}

func TestDesiredNode(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	taint := corev1.Taint{Key: LabelControlPlane, Effect: corev1.TaintEffectNoSchedule}
	machine := maassim.Machine{SystemID: "abc123", Hostname: "Node-01", Arch: "arm64/generic", CPU: 4, MemoryMiB: 2048,
		IPs: []string{"127.0.0.2", "::1"}}
	tests := []struct {
		name       string
		m          maassim.Machine
		role       bootstrap.Role
		taints     []corev1.Taint
		ready      bool
		wantLabels map[string]string
		wantArch   string
		wantReady  corev1.ConditionStatus
	}{
		{
			name: "worker", m: machine, role: bootstrap.RoleJoinWorker, ready: true,
			wantLabels: map[string]string{"kubernetes.io/arch": "arm64"}, wantArch: "arm64", wantReady: corev1.ConditionTrue,
		},
		{
			name: "control plane", m: machine, role: bootstrap.RoleJoinControlPlane, taints: []corev1.Taint{taint}, ready: true,
			wantLabels: map[string]string{"kubernetes.io/arch": "arm64", LabelControlPlane: "", corev1.LabelNodeExcludeBalancers: ""},
			wantArch:   "arm64", wantReady: corev1.ConditionTrue,
		},
		{
			name: "first control plane", m: machine, role: bootstrap.RoleInitControlPlane, ready: true,
			wantLabels: map[string]string{"kubernetes.io/arch": "arm64", LabelControlPlane: "", corev1.LabelNodeExcludeBalancers: ""},
			wantArch:   "arm64", wantReady: corev1.ConditionTrue,
		},
		{
			name: "not ready", m: machine, role: bootstrap.RoleJoinWorker, ready: false,
			wantLabels: map[string]string{"kubernetes.io/arch": "arm64"}, wantArch: "arm64", wantReady: corev1.ConditionFalse,
		},
		{
			name: "Debian arch name", m: func() maassim.Machine { m := machine; m.Arch = "ppc64el/generic"; return m }(),
			role: bootstrap.RoleJoinWorker, ready: true,
			wantLabels: map[string]string{"kubernetes.io/arch": "ppc64le"}, wantArch: "ppc64le", wantReady: corev1.ConditionTrue,
		},
		{
			name: "no arch", m: func() maassim.Machine { m := machine; m.Arch = ""; return m }(),
			role: bootstrap.RoleJoinWorker, ready: true, wantLabels: map[string]string{}, wantReady: corev1.ConditionTrue,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &bootstrap.NodeIntent{
				Role: tt.role, ProviderID: "maas://abc123", KubernetesVersion: "v1.34.2", Taints: tt.taints,
				Labels: map[string]string{bootstrap.LabelSystemID: "abc123", "kubernetes.io/hostname": "override"},
			}
			n := desiredNode(tt.m, in, tt.ready, now)
			if n.Name != "node-01" {
				t.Errorf("name %q", n.Name)
			}
			want := map[string]string{"kubernetes.io/hostname": "override", "kubernetes.io/os": "linux", bootstrap.LabelSystemID: "abc123"}
			maps.Copy(want, tt.wantLabels)
			if !maps.Equal(n.Labels, want) {
				t.Errorf("labels %v, want %v", n.Labels, want)
			}
			if n.Spec.ProviderID != in.ProviderID || len(n.Spec.Taints) != len(tt.taints) {
				t.Errorf("spec %+v", n.Spec)
			}
			if got := readyOf(n); got != tt.wantReady {
				t.Errorf("ready %q, want %q", got, tt.wantReady)
			}
			info := n.Status.NodeInfo
			if info.KubeletVersion != "v1.34.2" || info.Architecture != tt.wantArch || info.OperatingSystem != "linux" {
				t.Errorf("nodeInfo %+v", info)
			}
			wantAddrs := []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.2"},
				{Type: corev1.NodeInternalIP, Address: "::1"},
				{Type: corev1.NodeHostName, Address: "node-01"},
			}
			if len(n.Status.Addresses) != 3 || n.Status.Addresses[0] != wantAddrs[0] || n.Status.Addresses[1] != wantAddrs[1] ||
				n.Status.Addresses[2] != wantAddrs[2] {
				t.Errorf("addresses %v", n.Status.Addresses)
			}
			if n.Status.Capacity.Cpu().Value() != 4 || n.Status.Capacity.Memory().Value() != 2<<30 ||
				n.Status.Allocatable.Pods().Value() != maxPods {
				t.Errorf("capacity %v allocatable %v", n.Status.Capacity, n.Status.Allocatable)
			}
		})
	}
}

func readyOf(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

func TestMergeNode(t *testing.T) {
	cordon := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	cp := corev1.Taint{Key: LabelControlPlane, Effect: corev1.TaintEffectNoSchedule}
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "blue", "pool": "old"}},
		Spec:       corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{cordon, cp}},
	}
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"pool": "new"}},
		Spec: corev1.NodeSpec{ProviderID: "maas://x", Taints: []corev1.Taint{
			{Key: LabelControlPlane, Value: "v", Effect: corev1.TaintEffectNoSchedule}, // same key and effect as cp
			{Key: "k", Effect: corev1.TaintEffectNoExecute},
		}},
	}
	mergeNode(existing, want)
	if !maps.Equal(existing.Labels, map[string]string{"team": "blue", "pool": "new"}) {
		t.Errorf("labels %v", existing.Labels)
	}
	if existing.Spec.ProviderID != "maas://x" || !existing.Spec.Unschedulable {
		t.Errorf("spec %+v", existing.Spec)
	}
	if len(existing.Spec.Taints) != 3 || existing.Spec.Taints[2].Key != "k" {
		t.Errorf("taints %v", existing.Spec.Taints)
	}
}

func TestSyncNotReadyTaint(t *testing.T) {
	other := corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}
	noExec := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	tests := []struct {
		name        string
		taints      []corev1.Taint
		ready       bool
		wantChanged bool
		want        []corev1.Taint
	}{
		{"ready, tainted", []corev1.Taint{other, notReadyTaint}, true, true, []corev1.Taint{other}},
		{"ready, untainted", []corev1.Taint{other}, true, false, []corev1.Taint{other}},
		{"not ready, untainted", []corev1.Taint{other}, false, true, []corev1.Taint{other, notReadyTaint}},
		{"not ready, tainted", []corev1.Taint{notReadyTaint}, false, false, []corev1.Taint{notReadyTaint}},
		{"ready, NoExecute kept", []corev1.Taint{noExec}, true, false, []corev1.Taint{noExec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{Spec: corev1.NodeSpec{Taints: tt.taints}}
			if changed := syncNotReadyTaint(n, tt.ready); changed != tt.wantChanged {
				t.Errorf("changed %v", changed)
			}
			if !slices.EqualFunc(n.Spec.Taints, tt.want, func(a, b corev1.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value }) {
				t.Errorf("taints %v, want %v", n.Spec.Taints, tt.want)
			}
		})
	}
}

func TestMergeStatusKeepsTransitionTimes(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	existing := &corev1.Node{Status: corev1.NodeStatus{Conditions: conditions(false, t0)}}
	mergeStatus(existing, corev1.NodeStatus{Conditions: conditions(true, t1)})
	for _, c := range existing.Status.Conditions {
		want := t0 // unchanged status: the transition is the old one
		if c.Type == corev1.NodeReady {
			want = t1
		}
		if !c.LastTransitionTime.Equal(&want) || !c.LastHeartbeatTime.Equal(&t1) {
			t.Errorf("%s: transition %v heartbeat %v", c.Type, c.LastTransitionTime, c.LastHeartbeatTime)
		}
	}
}

// FuzzDesiredNode feeds arbitrary user data through what the emulator does
// with a deployed machine's: whatever Parse accepts must give a Node the
// API server would take, carrying the intent's identity.
func FuzzDesiredNode(f *testing.F) {
	f.Add([]byte("#cloud-config\nwrite_files:\n- path: " + bootstrap.IntentPath + "\n  content: |\n" +
		"    apiVersion: bootstrap.infra.maasgateway.io/v1alpha1\n    kind: NodeIntent\n    clusterName: gw\n" +
		"    role: JoinWorker\n    controlPlaneEndpoint: 10.0.0.10:6443\n    providerID: maas://abc123\n" +
		"    systemID: abc123\n    kubernetesVersion: v1.34.2\n    labels:\n      infra.maasgateway.io/system-id: abc123\n" +
		"    taints: []\n"))
	f.Add([]byte("#cloud-config\nruncmd: [[true]]\n"))
	f.Add([]byte("not cloud-config"))
	m := maassim.Machine{SystemID: "abc123", Hostname: "node-01", Arch: "amd64/generic", CPU: 1, MemoryMiB: 1, IPs: []string{"127.0.0.2"}}
	flt, err := newFilter("10.0.0.10:6443", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, userData []byte) {
		in, err := bootstrap.Parse(userData)
		if err != nil {
			return
		}
		_ = flt.matches(in)
		n := desiredNode(m, in, true, metav1.Now())
		if n.Spec.ProviderID != in.ProviderID || n.Status.NodeInfo.KubeletVersion != in.KubernetesVersion {
			t.Fatalf("node %+v from intent %+v", n, in)
		}
		for k, v := range n.Labels {
			if errs := validation.IsQualifiedName(k); errs != nil {
				t.Fatalf("label key %q: %v", k, errs)
			}
			if errs := validation.IsValidLabelValue(v); errs != nil {
				t.Fatalf("label %s value %q: %v", k, v, errs)
			}
		}
		for k, v := range in.Labels {
			if n.Labels[k] != v && k != LabelControlPlane && k != corev1.LabelNodeExcludeBalancers {
				t.Fatalf("intent label %s=%s lost: %v", k, v, n.Labels)
			}
		}
	})
}
