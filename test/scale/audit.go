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

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// auditReport counts what the audit found; any non-zero field but the
// first three is a failure.
type auditReport struct {
	Machines int `json:"machines"`
	Owned    int `json:"owned"`
	Free     int `json:"free"`
	// Foreign: a machine taken with another agent name (or none) than the
	// installation's.
	Foreign []string `json:"foreign,omitempty"`
	// Orphans: taken with our agent name, but no live object (same UID)
	// claims it, or its claim is gone from the spec.
	Orphans []string `json:"orphans,omitempty"`
	// Duplicates: two machines in one slot of one object's pool.
	Duplicates []string `json:"duplicates,omitempty"`
	// Unsettled: owned by a live object but not Deployed, or outside the
	// spec's size, after the workload converged.
	Unsettled []string `json:"unsettled,omitempty"`
	// Missing: a live cluster holding fewer machines than it wants.
	Missing []string `json:"missing,omitempty"`
	// Leaks: a Secret value found in the manager's log, an event or a status.
	Leaks []string `json:"leaks,omitempty"`
	// Reservations counts the installation's marked addresses and ranges
	// in MAAS (VIPs, LoadBalancer pools); OrphanAddresses are those whose
	// owner no longer exists with that UID.
	Reservations    int      `json:"reservations"`
	OrphanAddresses []string `json:"orphanAddresses,omitempty"`
	// SecretsChecked and Haystack say how much was searched.
	SecretsChecked int `json:"secretValuesChecked"`
	HaystackBytes  int `json:"haystackBytes"`
}

func (a auditReport) failed() bool {
	return len(a.Foreign)+len(a.Orphans)+len(a.Duplicates)+len(a.Unsettled)+len(a.Missing)+len(a.Leaks)+
		len(a.OrphanAddresses) > 0
}

// auditReservations checks the simulator's reserved ranges: each one
// marked by the installation must name a live owner (by UID). Ranges of
// other installations, or without marks, are not ours to judge.
func auditReservations(ranges []maassim.IPRangeInfo, agentName string, owners []ownerObject) (int, []string) {
	live := map[string]bool{}
	for _, o := range owners {
		live[o.Kind+"/"+o.Namespace+"/"+o.Name+"/"+o.UID] = true
	}
	n := 0
	var orphans []string
	for _, r := range ranges {
		m, ok := maas.ParseMarks(r.Comment)
		if !ok || m.Installation != agentName {
			continue
		}
		n++
		if !live[m.Kind+"/"+m.Namespace+"/"+m.Name+"/"+m.UID] {
			orphans = append(orphans, fmt.Sprintf("%s %s-%s: owner %s %s/%s uid %s does not exist",
				m.Purpose, r.Start, r.End, m.Kind, m.Namespace, m.Name, m.UID))
		}
	}
	return n, orphans
}

// ownerObject is a live object that may own machines: its identity and
// the size of each pool it wants.
type ownerObject struct {
	Kind, Namespace, Name, UID string
	Pools                      map[string]int
}

func (o ownerObject) key() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }

// auditMachines is the pure part of the audit: every machine against the
// objects that exist.
func auditMachines(machines []maassim.Machine, agentName string, owners []ownerObject) auditReport {
	r := auditReport{Machines: len(machines)}
	byKey := map[string]ownerObject{}
	for _, o := range owners {
		byKey[o.key()] = o
	}
	slots := map[string][]string{}
	held := map[string]int{}
	for _, m := range machines {
		free := m.StatusName == "Ready" && m.Owner == "" && m.AgentName == ""
		if free {
			r.Free++
			continue
		}
		r.Owned++
		desc := fmt.Sprintf("%s (%s, %s)", m.SystemID, m.Hostname, m.StatusName)
		if m.AgentName == "" {
			// MAAS clears the agent name when a release starts: a machine
			// left like this is a release that never completed.
			owner := m.Annotations[maas.AnnotationOwnerNamespace] + "/" + m.Annotations[maas.AnnotationOwnerName]
			r.Orphans = append(r.Orphans,
				fmt.Sprintf("%s: owned by %q without an agent name, last owner %s: a release that never completed",
					desc, m.Owner, owner))
			continue
		}
		if m.AgentName != agentName {
			r.Foreign = append(r.Foreign, fmt.Sprintf("%s: agent name %q", desc, m.AgentName))
			continue
		}
		a := m.Annotations
		o, ok := byKey[a[maas.AnnotationOwnerKind]+"/"+a[maas.AnnotationOwnerNamespace]+"/"+a[maas.AnnotationOwnerName]]
		if !ok || o.UID != a[maas.AnnotationOwnerUID] {
			r.Orphans = append(r.Orphans, fmt.Sprintf("%s: owner %s %s/%s uid %s does not exist", desc,
				a[maas.AnnotationOwnerKind], a[maas.AnnotationOwnerNamespace], a[maas.AnnotationOwnerName],
				a[maas.AnnotationOwnerUID]))
			continue
		}
		pool := a[maas.AnnotationPool]
		_, wanted := o.Pools[pool]
		slot, err := strconv.Atoi(a[maas.AnnotationSlot])
		switch {
		case !wanted:
			r.Orphans = append(r.Orphans, fmt.Sprintf("%s: %s has no pool %q", desc, o.key(), pool))
			continue
		case err != nil || slot < 0:
			// A slot may exceed the size: an expand-first roll gives its
			// extra machine slot Size and keeps it there. Too many machines
			// in the pool is what counts (below).
			r.Unsettled = append(r.Unsettled, fmt.Sprintf("%s: slot %q of %s pool %s is not a slot", desc,
				a[maas.AnnotationSlot], o.key(), pool))
		case m.StatusName != "Deployed":
			r.Unsettled = append(r.Unsettled, fmt.Sprintf("%s: %s pool %s slot %d not Deployed", desc, o.key(), pool,
				slot))
		}
		k := o.key() + " pool " + pool + " slot " + a[maas.AnnotationSlot]
		slots[k] = append(slots[k], m.SystemID)
		held[o.key()+"\x00"+pool]++
	}
	for _, k := range slices.Sorted(maps.Keys(slots)) {
		if ids := slots[k]; len(ids) > 1 {
			r.Duplicates = append(r.Duplicates, fmt.Sprintf("%s held by %s", k, strings.Join(ids, ", ")))
		}
	}
	for _, o := range owners {
		for _, pool := range slices.Sorted(maps.Keys(o.Pools)) {
			switch n := held[o.key()+"\x00"+pool]; {
			case n < o.Pools[pool]:
				r.Missing = append(r.Missing, fmt.Sprintf("%s pool %s holds %d of %d machines", o.key(), pool, n,
					o.Pools[pool]))
			case n > o.Pools[pool]:
				r.Unsettled = append(r.Unsettled, fmt.Sprintf("%s pool %s holds %d machines, %d more than its size",
					o.key(), pool, n, n-o.Pools[pool]))
			}
		}
	}
	return r
}

// secretNeedles are the strings that must never appear outside Secrets:
// every whole value, each part of an API key, their base64 forms, and the
// long lines of PEM blocks (a key printed in part is still a leak).
func secretNeedles(secrets []corev1.Secret) []string {
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= 12 {
			seen[s] = true
		}
	}
	for _, s := range secrets {
		for k, v := range s.Data {
			if publicKeys[k] {
				continue
			}
			val := string(v)
			add(val)
			add(base64.StdEncoding.EncodeToString(v))
			if k == infrav1.DefaultAPIKeyKey {
				for part := range strings.SplitSeq(val, ":") {
					add(part)
				}
			}
			if strings.Contains(val, "-----BEGIN") {
				for line := range strings.SplitSeq(val, "\n") {
					if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
						add(line)
					}
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// publicKeys are Secret keys whose values are not secret: certificates
// (which the operator may quote), and a bootstrap token's ID, expiry and
// usage flags.
var publicKeys = map[string]bool{
	"tls.crt": true, "ca.crt": true, "expiration": true, "token-id": true, "description": true,
	"usage-bootstrap-authentication": true, "usage-bootstrap-signing": true, "auth-extra-groups": true,
}

// findLeaks reports each needle found in a haystack.
func findLeaks(needles []string, haystacks map[string]string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(haystacks)) {
		h := haystacks[name]
		for _, n := range needles {
			if strings.Contains(h, n) {
				out = append(out, fmt.Sprintf("%s contains a Secret value (%d characters, starting %q)", name, len(n),
					n[:4]))
			}
		}
	}
	return out
}

// audit runs the whole audit against the environment. sampleSecrets bounds
// how many clusters' Secrets are searched for (the API key Secret always is):
// the search is quadratic.
func audit(ctx context.Context, env *harness.Env, _ []string) (auditReport, error) {
	k := env.Client
	gw := &infrav1.Gateway{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: namespace, Name: gatewayName}, gw); err != nil {
		return auditReport{}, err
	}
	var tcs infrav1.TenantClusterList
	if err := k.List(ctx, &tcs); err != nil {
		return auditReport{}, err
	}
	var owners []ownerObject
	for _, tc := range tcs.Items {
		o := ownerObject{Kind: "TenantCluster", Namespace: tc.Namespace, Name: tc.Name, UID: string(tc.UID),
			Pools: map[string]int{infrav1.ControlPlanePoolName: int(max(tc.Spec.ControlPlane.Size, 1))}}
		if tc.DeletionTimestamp != nil {
			o.Pools = nil
		}
		for _, w := range tc.Spec.Workers {
			if o.Pools != nil {
				o.Pools[w.Name] = int(w.Size)
			}
		}
		owners = append(owners, o)
	}
	// The gateway's own pool: a gateway without a control-plane endpoint
	// takes no machine (the workload's does not).
	gwOwner := ownerObject{Kind: "Gateway", Namespace: gw.Namespace, Name: gw.Name, UID: string(gw.UID),
		Pools: map[string]int{}}
	if gw.Spec.ControlPlaneEndpoint != "" {
		gwOwner.Pools["gateway"] = int(gw.Spec.Replicas)
	}
	owners = append(owners, gwOwner)
	r := auditMachines(env.Sim.Machines(), "maas-gateway-"+string(gw.UID), owners)
	r.Reservations, r.OrphanAddresses = auditReservations(env.Sim.IPAM().Ranges, "maas-gateway-"+string(gw.UID), owners)

	// Secrets: the API key always, and up to 20 clusters' generated ones.
	var secrets corev1.SecretList
	if err := k.List(ctx, &secrets); err != nil {
		return r, err
	}
	var checked []corev1.Secret
	clusters := map[string]bool{}
	for _, s := range secrets.Items {
		if s.Type == corev1.SecretTypeServiceAccountToken {
			continue
		}
		owner := ""
		for _, ref := range s.OwnerReferences {
			owner = ref.Name
		}
		if owner != "" && !clusters[owner] {
			if len(clusters) >= 20 {
				continue
			}
			clusters[owner] = true
		}
		checked = append(checked, s)
	}
	needles := secretNeedles(checked)
	r.SecretsChecked = len(needles)
	hay := map[string]string{}
	if log, err := os.ReadFile(env.Manager.LogPath()); err == nil {
		hay["manager log"] = string(log)
	}
	var ev1 eventsv1.EventList
	if err := k.List(ctx, &ev1); err == nil {
		var b strings.Builder
		for _, e := range ev1.Items {
			b.WriteString(e.Reason + " " + e.Action + " " + e.Note + "\n")
		}
		hay["events"] = b.String()
	}
	var ev corev1.EventList
	if err := k.List(ctx, &ev); err == nil {
		var b strings.Builder
		for _, e := range ev.Items {
			b.WriteString(e.Reason + " " + e.Message + "\n")
		}
		hay["core events"] = b.String()
	}
	statuses := func(name string, list any) {
		if data, err := json.Marshal(list); err == nil {
			hay[name] = string(data)
		}
	}
	statuses("TenantCluster objects", tcs.Items)
	var gws infrav1.GatewayList
	if err := k.List(ctx, &gws); err == nil {
		statuses("Gateway objects", gws.Items)
	}
	var cas infrav1.CloudAccountList
	if err := k.List(ctx, &cas); err == nil {
		statuses("CloudAccount objects", cas.Items)
	}
	for _, h := range hay {
		r.HaystackBytes += len(h)
	}
	r.Leaks = findLeaks(needles, hay)
	return r, nil
}
