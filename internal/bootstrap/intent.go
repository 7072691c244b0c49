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

package bootstrap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// NodeIntent is what a machine's user data asks it to become, as written to
// IntentPath on the machine and read back by Parse.
type NodeIntent struct {
	ClusterName string `json:"clusterName"`
	Role        Role   `json:"role"`
	// ControlPlaneEndpoint is the API server's host:port, e.g. 10.0.0.10:6443.
	ControlPlaneEndpoint string            `json:"controlPlaneEndpoint"`
	ProviderID           string            `json:"providerID"`
	SystemID             string            `json:"systemID"`
	KubernetesVersion    string            `json:"kubernetesVersion"`
	Labels               map[string]string `json:"labels"`
	// Taints are those kubeadm puts on the node: the control-plane taint,
	// unless the node allows workloads.
	Taints []corev1.Taint `json:"taints"`
}

// Joins says whether the machine joins an existing cluster rather than
// creating it.
func (n *NodeIntent) Joins() bool { return n.Role.Joins() }

// The type of the marker document, so a later format can be told apart.
const (
	intentAPIVersion = "bootstrap.infra.maasgateway.io/v1alpha1"
	intentKind       = "NodeIntent"
)

type intentDocument struct {
	metav1.TypeMeta `json:",inline"`
	NodeIntent      `json:",inline"`
}

func marshalIntent(in *NodeIntent) (string, error) {
	b, err := yaml.Marshal(intentDocument{
		TypeMeta:   metav1.TypeMeta{APIVersion: intentAPIVersion, Kind: intentKind},
		NodeIntent: *in,
	})
	if err != nil {
		return "", fmt.Errorf("encoding node intent: %w", err)
	}
	return string(b), nil
}

// MaxUserDataBytes bounds what Parse reads. A control-plane node's user data,
// the largest, is about 20 KiB.
const MaxUserDataBytes = 1 << 20

// ErrNoIntent is returned by Parse for cloud-config user data that carries no
// node intent: a machine deployed by something else than this operator.
var ErrNoIntent = errors.New("user data carries no maas-gateway node intent")

// Parse reads the node intent back from user data Render made, given as is or
// base64-encoded (as the MAAS deploy API carries it). It parses untrusted
// input: anything but a well-formed intent is an error.
func Parse(userData []byte) (*NodeIntent, error) {
	data, err := cloudConfigBytes(userData)
	if err != nil {
		return nil, err
	}
	// Only the fields the marker needs: other files may use cloud-init
	// options this package never writes.
	var cc struct {
		WriteFiles []struct {
			Path     string `json:"path"`
			Encoding string `json:"encoding"`
			Content  string `json:"content"`
		} `json:"write_files"`
	}
	if err := yaml.Unmarshal(data, &cc); err != nil {
		return nil, fmt.Errorf("parsing cloud-config: %w", err)
	}
	marker := -1
	for i := range cc.WriteFiles {
		if cc.WriteFiles[i].Path != IntentPath {
			continue
		}
		if marker >= 0 {
			return nil, fmt.Errorf("cloud-config writes %s more than once", IntentPath)
		}
		marker = i
	}
	if marker < 0 {
		return nil, ErrNoIntent
	}
	f := cc.WriteFiles[marker]
	if f.Encoding != "" && f.Encoding != "text/plain" {
		return nil, fmt.Errorf("%s has encoding %q; want plain text", IntentPath, f.Encoding)
	}
	var doc intentDocument
	if err := yaml.UnmarshalStrict([]byte(f.Content), &doc); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", IntentPath, err)
	}
	if doc.APIVersion != intentAPIVersion || doc.Kind != intentKind {
		return nil, fmt.Errorf("%s is a %s %s; want %s %s", IntentPath, doc.APIVersion, doc.Kind, intentAPIVersion, intentKind)
	}
	if err := doc.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", IntentPath, err)
	}
	return &doc.NodeIntent, nil
}

// cloudConfigBytes returns user data as a #cloud-config document, decoding
// base64 if need be.
func cloudConfigBytes(userData []byte) ([]byte, error) {
	if len(userData) > MaxUserDataBytes*4/3+4 {
		return nil, fmt.Errorf("user data of %d bytes exceeds %d", len(userData), MaxUserDataBytes)
	}
	if !isCloudConfig(userData) {
		decoded, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(userData)))
		if err != nil || !isCloudConfig(decoded) {
			return nil, errors.New("user data is not a #cloud-config document")
		}
		userData = decoded
	}
	if len(userData) > MaxUserDataBytes {
		return nil, fmt.Errorf("user data of %d bytes exceeds %d", len(userData), MaxUserDataBytes)
	}
	return userData, nil
}

// isCloudConfig says whether the first line is cloud-init's #cloud-config.
func isCloudConfig(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(bytes.TrimRight(line, " \t\r")) == cloudConfigHeader
}

func (n *NodeIntent) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !n.Role.valid() {
		bad("role %q is not one of %s, %s, %s", n.Role, RoleInitControlPlane, RoleJoinControlPlane, RoleJoinWorker)
	}
	if msgs := validateDNSSubdomain(n.ClusterName); msgs != "" {
		bad("clusterName %q: %s", n.ClusterName, msgs)
	}
	if msgs := validation.IsDNS1123Label(n.SystemID); msgs != nil {
		bad("systemID %q is not a MAAS system ID", n.SystemID)
	}
	if n.ProviderID != ProviderID(n.SystemID) {
		bad("providerID %q does not match systemID %q", n.ProviderID, n.SystemID)
	}
	if err := validateEndpoint(n.ControlPlaneEndpoint); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseKubernetesVersion(n.KubernetesVersion); err != nil {
		errs = append(errs, err)
	}
	if n.Labels[LabelSystemID] != n.SystemID {
		bad("label %s is %q, not systemID %q", LabelSystemID, n.Labels[LabelSystemID], n.SystemID)
	}
	for _, k := range slices.Sorted(maps.Keys(n.Labels)) {
		if err := validateNodeLabel(k, n.Labels[k]); err != nil {
			errs = append(errs, err)
		}
	}
	for i, t := range n.Taints {
		if msgs := validation.IsQualifiedName(t.Key); msgs != nil {
			bad("taints[%d] key %q is not a qualified name", i, t.Key)
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			bad("taints[%d] effect %q is not NoSchedule, PreferNoSchedule or NoExecute", i, t.Effect)
		}
	}
	return errors.Join(errs...)
}

func validateEndpoint(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("controlPlaneEndpoint %q is not host:port", s)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("controlPlaneEndpoint %q does not start with an IP address", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("controlPlaneEndpoint %q has no port in 1-65535", s)
	}
	return nil
}
