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

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// IdentityUID is the UID an object stands for in MAAS: its
// AnnotationIdentityUID when set (a copy made by maas-gateway move keeps
// the identity of the object it was copied from), else metadata.uid. Every
// owner mark the operator writes, the gateway's agent_name, and every
// comparison of a mark with an object go through it, so that a moved
// object and its machines still match; maas-gateway move uses it to give
// each copy the identity of its original.
//
// Trusting the annotation is safe because the webhooks accept it on create
// only and keep it immutable after, and because a mark names the kind,
// namespace and name as well as the UID: an object created with another's
// identity must also have its kind, namespace and name, which the API
// server gives to one live object at a time. It can only take over the
// machines of an object that no longer exists, which is what a move does.
func IdentityUID(obj metav1.Object) string {
	if id := obj.GetAnnotations()[AnnotationIdentityUID]; id != "" {
		return id
	}
	return string(obj.GetUID())
}
