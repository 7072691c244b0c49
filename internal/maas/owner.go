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

package maas

import (
	"fmt"
	"time"
)

// Workload annotation keys recording a machine's owner; see the package
// documentation. They are short because MAAS shows them in its UI.
const (
	AnnotationOwnerKind      = "maas-gateway.owner-kind"
	AnnotationOwnerNamespace = "maas-gateway.owner-namespace"
	AnnotationOwnerName      = "maas-gateway.owner-name"
	AnnotationOwnerUID       = "maas-gateway.owner-uid"
	AnnotationPool           = "maas-gateway.pool"
	AnnotationSlot           = "maas-gateway.slot"
	// AnnotationTemplate is the hash of what the machine is deployed with;
	// AnnotationInit marks the node that initialises a new control plane.
	AnnotationTemplate = "maas-gateway.template"
	AnnotationInit     = "maas-gateway.init"
	// AnnotationDescription and AnnotationTags carry the owner's
	// description and tags (comma-separated), for people looking at the
	// machine in MAAS; nothing reads them back.
	AnnotationDescription = "maas-gateway.description"
	AnnotationTags        = "maas-gateway.tags"
)

// Owner is the Kubernetes object a machine was allocated for.
type Owner struct {
	Kind      string
	Namespace string
	Name      string
	// UID tells a recreated object from the one that allocated the machine.
	UID string
	// Pool is the node pool within the owner (e.g. "control-plane").
	Pool string
	// Slot is the machine's place within the pool, as the owner numbers it.
	Slot string
	// Template is the hash of what the machine is (to be) deployed with,
	// so a planner can tell outdated machines after a restart.
	Template string
	// Init marks the machine that initialises a new control plane, so that
	// a restart never makes a second one.
	Init bool
	// Description and Tags (comma-separated) are the owner's, for people
	// reading MAAS; they go with the annotations set at allocation, so they
	// cost no request.
	Description string
	Tags        string
}

func (o Owner) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// SameObject reports whether o and p name the same object (UID included).
func (o Owner) SameObject(p Owner) bool {
	return o.Kind == p.Kind && o.Namespace == p.Namespace && o.Name == p.Name && o.UID == p.UID
}

// sameMarks reports whether o and p record the same ownership: every field
// but Description and Tags, which the inventory does not read back (they
// would cost memory on every machine of every poll, and nothing acts on
// them), so that a machine is not annotated again for them alone.
func (o Owner) sameMarks(p Owner) bool {
	return o.Kind == p.Kind && o.Namespace == p.Namespace && o.Name == p.Name && o.UID == p.UID &&
		o.Pool == p.Pool && o.Slot == p.Slot && o.Template == p.Template && o.Init == p.Init
}

func (o Owner) validate() error {
	if o.Kind == "" || o.Name == "" || o.UID == "" {
		return fmt.Errorf("owner needs a kind, a name and a UID")
	}
	return nil
}

func (o Owner) annotations() map[string]string {
	return map[string]string{
		AnnotationOwnerKind:      o.Kind,
		AnnotationOwnerNamespace: o.Namespace,
		AnnotationOwnerName:      o.Name,
		AnnotationOwnerUID:       o.UID,
		AnnotationPool:           o.Pool,
		AnnotationSlot:           o.Slot,
		AnnotationTemplate:       o.Template,
		AnnotationInit:           initMark(o.Init),
		AnnotationDescription:    o.Description,
		AnnotationTags:           o.Tags,
	}
}

// initMark is the annotation value of Init: empty (which deletes the
// annotation in MAAS) when false.
func initMark(init bool) string {
	if init {
		return "true"
	}
	return ""
}

// ownerFromAnnotations reads the owner back; a machine without kind, name
// and UID has no owner.
func ownerFromAnnotations(a map[string]string) *Owner {
	oa := ownerAnnotations{
		Kind:      a[AnnotationOwnerKind],
		Namespace: a[AnnotationOwnerNamespace],
		Name:      a[AnnotationOwnerName],
		UID:       a[AnnotationOwnerUID],
		Pool:      a[AnnotationPool],
		Slot:      a[AnnotationSlot],
		Template:  a[AnnotationTemplate],
		Init:      a[AnnotationInit],
	}
	return oa.owner()
}

// Unclaimed is a machine with the installation's agent_name but no owner
// annotation: its allocator crashed (or failed) before annotating it.
type Unclaimed struct {
	Machine Machine
	// Since is when the inventory first saw it unclaimed. MAAS keeps no
	// allocation time, so after an operator restart the clock starts again:
	// the grace period can only get longer, never shorter.
	Since time.Time
}

// ReleasableUnclaimed is the clock of unclaimed machines: those that have
// stayed unclaimed for at least grace by now. A machine still being adopted
// is, by then, annotated and no longer unclaimed. Which states may be
// released at all is the caller's policy (only Allocated ones, which
// nothing was deployed on).
func ReleasableUnclaimed(unclaimed []Unclaimed, now time.Time, grace time.Duration) []Machine {
	var out []Machine
	for _, u := range unclaimed {
		if !u.Since.IsZero() && now.Sub(u.Since) >= grace {
			out = append(out, u.Machine)
		}
	}
	return out
}
