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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	kjson "sigs.k8s.io/json"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// tenantClusterMutator is the TenantCluster defaulting webhook. It answers
// as admission.WithDefaulter would with TenantClusterDefaulter, but builds
// the patch from the fields the defaulter reports instead of marshalling the
// defaulted object and diffing it against the request's JSON: that diff was
// most of the webhook's CPU (docs/performance.md, "Webhook latency").
type tenantClusterMutator struct {
	defaulter *TenantClusterDefaulter
	decoder   admission.Decoder
}

func newTenantClusterMutator(scheme *runtime.Scheme, d *TenantClusterDefaulter) *tenantClusterMutator {
	return &tenantClusterMutator{defaulter: d, decoder: admission.NewDecoder(scheme)}
}

// tenantClusterMutatingWebhook is the webhook the server runs at
// tenantClusterMutatePath.
func tenantClusterMutatingWebhook(scheme *runtime.Scheme, d *TenantClusterDefaulter) *admission.Webhook {
	return &admission.Webhook{Handler: newTenantClusterMutator(scheme, d), LogConstructor: tenantClusterWebhookLog}
}

// tenantClusterWebhookLog names the webhook in its log lines, as the webhook
// builder does for the webhooks it registers.
func tenantClusterWebhookLog(base logr.Logger, req *admission.Request) logr.Logger {
	return admission.DefaultLogConstructor(base.WithValues(
		"webhookGroup", infrav1alpha1.GroupVersion.Group, "webhookKind", "TenantCluster"), req)
}

// Handle implements admission.Handler.
func (m *tenantClusterMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation == admissionv1.Delete {
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
			Allowed: true, Result: &metav1.Status{Code: http.StatusOK}}}
	}
	ctx = admission.NewContextWithRequest(ctx, req)
	tc := &infrav1alpha1.TenantCluster{}
	if err := m.decoder.Decode(req, tc); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var changed [][]string
	if err := m.defaulter.setDefaults(ctx, tc, func(path ...string) { changed = append(changed, path) }); err != nil {
		// A lookup that failed keeps its status (503: clients retry).
		var apiStatus apierrors.APIStatus
		if errors.As(err, &apiStatus) {
			status := apiStatus.Status()
			return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
		}
		return admission.Denied(err.Error())
	}
	if len(changed) == 0 {
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: true}}
	}
	ops, err := defaultsPatch(req.Object.Raw, tc, changed)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	patchType := admissionv1.PatchTypeJSONPatch
	return admission.Response{Patches: ops, AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed: true, PatchType: &patchType}}
}

// defaultsPatch returns the JSON Patch that gives the fields at paths in raw
// their values in tc. A field whose container raw lacks, or has as null,
// cannot be added by itself: the container is written whole instead, from
// tc, as a diff of the two documents would.
func defaultsPatch(raw []byte, tc *infrav1alpha1.TenantCluster, paths [][]string) ([]jsonpatch.Operation, error) {
	doc := requestShape{raw: raw}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &doc); err != nil {
		return nil, fmt.Errorf("reading the request's object: %w", err)
	}
	ops := make([]jsonpatch.Operation, 0, len(paths))
	for _, path := range paths {
		op, err := doc.operation(tc, path)
		if err != nil {
			return nil, err
		}
		// Fields in one missing container share its operation; a field
		// cannot lie under another's operation otherwise, since a container
		// is written whole only where raw lacks it.
		if !slices.ContainsFunc(ops, func(o jsonpatch.Operation) bool { return o.Path == op.Path }) {
			ops = append(ops, op)
		}
	}
	return ops, nil
}

// operation writes the field at path, or its outermost container that raw
// lacks or has as null: "add" where raw has no such member, "replace" where
// it has one, null included.
func (doc *requestShape) operation(tc *infrav1alpha1.TenantCluster, path []string) (jsonpatch.Operation, error) {
	for n := 1; n <= len(path); n++ {
		state, value, err := doc.at(tc, path[:n])
		if err != nil {
			return jsonpatch.Operation{}, err
		}
		if n < len(path) && state == memberGiven {
			continue
		}
		if state == memberAbsentOrNull {
			if state, err = memberAt(doc.raw, path[:n]); err != nil {
				return jsonpatch.Operation{}, err
			}
		}
		op := "add"
		if state != memberAbsent {
			op = "replace"
		}
		return jsonpatch.NewOperation(op, jsonPointer(path[:n]), value), nil
	}
	return jsonpatch.Operation{}, errors.New("no path to patch")
}

// at returns what raw holds at path (a field setDefaults sets, or one of its
// containers) and the defaulted value there.
func (doc *requestShape) at(tc *infrav1alpha1.TenantCluster, path []string) (memberState, any, error) {
	spec, shape := &tc.Spec, doc.Spec
	switch {
	case path[0] != "spec":
	case len(path) == 1:
		return given(shape), spec, nil
	case path[1] == "profile" && len(path) == 2:
		return given(shape.Profile), &spec.Profile, nil
	case path[1] == "profile" && path[2] == "osImage":
		return shape.Profile.OSImage, spec.Profile.OSImage, nil
	case path[1] == "controlPlane" && len(path) == 2:
		return given(shape.ControlPlane), &spec.ControlPlane, nil
	case path[1] == "controlPlane" && path[2] == "size":
		return shape.ControlPlane.Size, spec.ControlPlane.Size, nil
	case path[1] == "controlPlane" && path[2] == "rollingUpdate":
		return shape.ControlPlane.RollingUpdate, spec.ControlPlane.RollingUpdate, nil
	case path[1] == "workers" && len(path) == 2:
		// Pools in the typed object were items of an array in raw.
		return memberGiven, spec.Workers, nil
	case path[1] == "workers":
		if state, value, ok := doc.workerAt(tc, path); ok {
			return state, value, nil
		}
	case path[1] == "network" && len(path) == 2:
		return shape.Network.state, spec.Network, nil
	case path[1] == "network" && path[2] == "podCIDR":
		return shape.Network.v.PodCIDR, spec.Network.PodCIDR, nil
	case path[1] == "network" && path[2] == "serviceCIDR":
		return shape.Network.v.ServiceCIDR, spec.Network.ServiceCIDR, nil
	case path[1] == "proxy":
		return shape.Proxy, spec.Proxy, nil
	}
	return memberAbsent, nil, fmt.Errorf("defaulting patch: no rule for %s", jsonPointer(path))
}

// workerAt is at for spec.workers[i] and its rollingUpdate; false for any
// other path under spec.workers.
func (doc *requestShape) workerAt(tc *infrav1alpha1.TenantCluster, path []string) (memberState, any, bool) {
	spec, shape := &tc.Spec, doc.Spec
	i, err := strconv.Atoi(path[2])
	if err != nil || i < 0 || i >= len(spec.Workers) || i >= len(shape.Workers) {
		return memberAbsent, nil, false
	}
	switch {
	case len(path) == 3 && shape.Workers[i] == nil:
		return memberNull, &spec.Workers[i], true // an array holds its items, if only as null
	case len(path) == 3:
		return memberGiven, &spec.Workers[i], true
	case path[3] == "rollingUpdate":
		return shape.Workers[i].RollingUpdate, spec.Workers[i].RollingUpdate, true
	}
	return memberAbsent, nil, false
}

// memberAt reads whether raw has the object member at path, whose
// containers it has as objects. It decodes all of raw: it serves only
// requests that lack spec, spec.profile or spec.controlPlane (the schema
// refuses them after the webhooks) or, outside an API server, have them null.
func memberAt(raw []byte, path []string) (memberState, error) {
	var doc any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &doc); err != nil {
		return memberAbsent, fmt.Errorf("reading the request's object: %w", err)
	}
	for _, token := range path {
		obj, ok := doc.(map[string]any)
		if !ok {
			return memberAbsent, fmt.Errorf("defaulting patch: no object holds %s", jsonPointer(path))
		}
		if doc, ok = obj[token]; !ok {
			return memberAbsent, nil
		}
	}
	if doc == nil {
		return memberNull, nil
	}
	return memberGiven, nil
}

// pointerEscaper escapes a JSON Pointer reference token (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(pointerEscaper.Replace(t))
	}
	return b.String()
}

// requestShape is the part of a TenantCluster's JSON that says where the
// fields setDefaults sets are: whether the request has each of them and
// their containers, and whether as null. The typed object cannot say: it
// decodes absent, null and empty alike.
//
// It is decoded in one pass: containers are pointers, nil where raw lacks
// them or has them null (which memberAt then tells apart), except network,
// which the defaulter adds whole to most requests.
type requestShape struct {
	raw  []byte
	Spec *struct {
		Profile *struct {
			OSImage memberState `json:"osImage"`
		} `json:"profile"`
		ControlPlane *struct {
			Size          memberState `json:"size"`
			RollingUpdate memberState `json:"rollingUpdate"`
		} `json:"controlPlane"`
		Workers []*struct {
			RollingUpdate memberState `json:"rollingUpdate"`
		} `json:"workers"`
		Network member[struct {
			PodCIDR     memberState `json:"podCIDR"`
			ServiceCIDR memberState `json:"serviceCIDR"`
		}] `json:"network"`
		Proxy memberState `json:"proxy"`
	} `json:"spec"`
}

// memberState is whether a JSON object has a member, and whether it is null.
type memberState uint8

const (
	memberAbsent memberState = iota
	memberNull
	memberGiven
	// memberAbsentOrNull is a container decoded as a nil pointer.
	memberAbsentOrNull
)

// given is the state of a container decoded as a pointer.
func given[T any](p *T) memberState {
	if p == nil {
		return memberAbsentOrNull
	}
	return memberGiven
}

var jsonNull = []byte("null")

// UnmarshalJSON records that the member is there; its value does not matter.
func (s *memberState) UnmarshalJSON(b []byte) error {
	*s = memberGiven
	if bytes.Equal(b, jsonNull) {
		*s = memberNull
	}
	return nil
}

// member is a container whose absence and null the shape tells apart.
type member[T any] struct {
	state memberState
	v     T
}

// UnmarshalJSON records the member and decodes its value as the API
// machinery decodes the typed object: case-sensitively.
func (m *member[T]) UnmarshalJSON(b []byte) error {
	if err := m.state.UnmarshalJSON(b); err != nil || m.state == memberNull {
		return err
	}
	return kjson.UnmarshalCaseSensitivePreserveInts(b, &m.v)
}
