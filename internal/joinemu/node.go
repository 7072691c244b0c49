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
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// LabelControlPlane is the role label kubeadm puts on control-plane nodes.
const LabelControlPlane = "node-role.kubernetes.io/control-plane"

// maxPods is the kubelet's default --max-pods, reported as pod capacity.
const maxPods = 110

// filter selects the join requests the emulator answers; zero fields match
// anything.
type filter struct {
	endpoint netip.AddrPort
	cluster  string
}

func newFilter(endpoint, cluster string) (filter, error) {
	f := filter{cluster: cluster}
	if endpoint == "" {
		return f, nil
	}
	ap, err := netip.ParseAddrPort(endpoint)
	if err != nil || ap.Port() == 0 {
		return filter{}, fmt.Errorf("endpoint %q is not IP:port, e.g. 10.11.12.100:6443", endpoint)
	}
	f.endpoint = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return f, nil
}

func (f filter) matches(in *bootstrap.NodeIntent) bool {
	if f.cluster != "" && in.ClusterName != f.cluster {
		return false
	}
	if f.endpoint.IsValid() {
		ap, err := netip.ParseAddrPort(in.ControlPlaneEndpoint)
		if err != nil || netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) != f.endpoint {
			return false
		}
	}
	return true
}

// nodeName is the name the kubelet registers under: the machine's hostname,
// lowercased as the kubelet does.
func nodeName(m maassim.Machine) string { return strings.ToLower(m.Hostname) }

// DesiredNode is the Node the kubelet of machine m registers after joining
// as in asks, with the status it reports at now: Ready, or not ready as a
// kubelet without a CNI plugin says. The emulated kubelets of
// internal/joinemu/controlplane register the same Node in tenant clusters.
func DesiredNode(m maassim.Machine, in *bootstrap.NodeIntent, ready bool, now metav1.Time) *corev1.Node {
	return desiredNode(m, in, ready, now)
}

// desiredNode is the Node the kubelet of machine m registers after joining
// as in asks, with the status it reports.
func desiredNode(m maassim.Machine, in *bootstrap.NodeIntent, ready bool, now metav1.Time) *corev1.Node {
	name := nodeName(m)
	labels := map[string]string{
		corev1.LabelHostname: name,
		corev1.LabelOSStable: "linux",
	}
	arch := archOf(m.Arch)
	if arch != "" {
		labels[corev1.LabelArchStable] = arch
	}
	// --node-labels are applied over the kubelet's own, then kubeadm marks
	// a control-plane node once it has joined.
	maps.Copy(labels, in.Labels)
	if in.Role.ControlPlane() {
		labels[LabelControlPlane] = ""
		labels[corev1.LabelNodeExcludeBalancers] = ""
	}

	addresses := make([]corev1.NodeAddress, 0, len(m.IPs)+1)
	for _, ip := range m.IPs {
		addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})

	capacity := corev1.ResourceList{
		corev1.ResourcePods: *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	if m.CPU > 0 {
		capacity[corev1.ResourceCPU] = *resource.NewQuantity(int64(m.CPU), resource.DecimalSI)
	}
	if m.MemoryMiB > 0 {
		capacity[corev1.ResourceMemory] = *resource.NewQuantity(m.MemoryMiB<<20, resource.BinarySI)
	}

	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.NodeSpec{
			ProviderID: in.ProviderID,
			Taints:     slices.Clone(in.Taints),
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Conditions:  conditions(ready, now),
			Addresses:   addresses,
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:  in.KubernetesVersion,
				OperatingSystem: "linux",
				Architecture:    arch,
			},
		},
	}
}

// archOf turns MAAS's "arch/subarch" into the GOARCH a kubelet reports.
func archOf(maasArch string) string {
	arch, _, _ := strings.Cut(maasArch, "/")
	if arch == "ppc64el" { // Debian's name
		return "ppc64le"
	}
	return arch
}

// conditions are those a healthy kubelet reports; a node that is not ready
// reports what a kubelet without a CNI plugin says, the usual reason.
func conditions(ready bool, now metav1.Time) []corev1.NodeCondition {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	readyCond := cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	if !ready {
		readyCond = cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady",
			"container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		readyCond,
	}
}

// mergeNode brings an already registered Node (a redeployed machine, or a
// Node left from an earlier run) to what the kubelet registers, keeping what
// others added: their labels and taints, and a cordon.
func mergeNode(existing, want *corev1.Node) {
	if existing.Labels == nil {
		existing.Labels = map[string]string{}
	}
	maps.Copy(existing.Labels, want.Labels)
	if existing.Spec.ProviderID == "" {
		existing.Spec.ProviderID = want.Spec.ProviderID
	}
	for _, t := range want.Spec.Taints {
		if !slices.ContainsFunc(existing.Spec.Taints, func(e corev1.Taint) bool { return e.MatchTaint(&t) }) {
			existing.Spec.Taints = append(existing.Spec.Taints, t)
		}
	}
}

// mergeStatus sets the status the kubelet reports, keeping a condition's
// transition time while its status holds.
func mergeStatus(existing *corev1.Node, want corev1.NodeStatus) {
	old := existing.Status.Conditions
	existing.Status = *want.DeepCopy()
	for i := range existing.Status.Conditions {
		c := &existing.Status.Conditions[i]
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
}

// notReadyTaint is the taint the API server puts on every new Node and the
// node lifecycle controller keeps while the Node is not Ready.
var notReadyTaint = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}

// syncNotReadyTaint does the node lifecycle controller's part, which envtest
// lacks: a Ready Node loses the not-ready taint, another gets it. It says
// whether node changed.
func syncNotReadyTaint(node *corev1.Node, ready bool) bool {
	i := slices.IndexFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.MatchTaint(&notReadyTaint) })
	switch {
	case ready && i >= 0:
		node.Spec.Taints = slices.Delete(node.Spec.Taints, i, i+1)
		return true
	case !ready && i < 0:
		node.Spec.Taints = append(node.Spec.Taints, notReadyTaint)
		return true
	}
	return false
}
