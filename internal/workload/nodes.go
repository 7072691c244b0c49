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

package workload

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// Machine is what the node mapping knows of a MAAS machine.
type Machine struct {
	SystemID string
	Hostname string
}

// NodeFor returns the Node of machine m among nodes, or nil. The kubelet of
// every machine the operator deploys registers with providerID
// maas://<system_id>, which is unique and cannot change once set; a Node with
// no providerID (one adopted from a cluster made by hand) is matched by
// hostname, as the kubelet names Nodes, lowercased. A Node whose providerID
// names another machine never matches, whatever its name.
func NodeFor(nodes []corev1.Node, m Machine) *corev1.Node {
	want := bootstrap.ProviderID(m.SystemID)
	var byName *corev1.Node
	for i := range nodes {
		n := &nodes[i]
		switch {
		case m.SystemID != "" && n.Spec.ProviderID == want:
			return n
		case n.Spec.ProviderID == "" && m.Hostname != "" && n.Name == strings.ToLower(m.Hostname):
			byName = n
		}
	}
	return byName
}

// SystemIDOf returns the MAAS system ID a Node's providerID names, or "".
func SystemIDOf(node *corev1.Node) string {
	id, ok := strings.CutPrefix(node.Spec.ProviderID, bootstrap.ProviderID(""))
	if !ok {
		return ""
	}
	return id
}

// NodeHealth is what a Node's Ready condition says.
type NodeHealth struct {
	Status  corev1.ConditionStatus
	Reason  string
	Message string
}

// Ready reports a Ready=True Node.
func (h NodeHealth) Ready() bool { return h.Status == corev1.ConditionTrue }

// HealthOf reads node's Ready condition; a Node with none is Unknown.
func HealthOf(node *corev1.Node) NodeHealth {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return NodeHealth{Status: c.Status, Reason: c.Reason, Message: c.Message}
		}
	}
	return NodeHealth{Status: corev1.ConditionUnknown, Reason: "NoReadyCondition", Message: "the kubelet has not reported"}
}
