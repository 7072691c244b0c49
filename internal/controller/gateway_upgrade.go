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

package controller

// The upgrade part of the Gateway controller. An upgrade is a change of the
// gateway's template (spec.release, resolved against the release catalog):
// the node planner replaces outdated nodes one at a time, and this file
// decides how (strategy, failure limit), records the rollout in status so a
// restarted manager resumes it, announces newer releases, and reports the
// components running.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/version"
)

// upgradeMaxFailures halts an upgrade at the second consecutive failed
// deployment of a new node: a release whose image does not deploy must not
// eat the resource pool, and the administrator decides (retry or roll back).
const upgradeMaxFailures = 2

// gatewayRelease is what the gateway's nodes are to run.
type gatewayRelease struct {
	// catalog is the published release catalog; nil when there is none.
	catalog *catalog.Catalog
	// target is the release nodes are deployed with. It is spec.release
	// resolved against the catalog, or, when that fails, the release the
	// nodes already run: an unusable spec must not roll anything.
	target infrav1.Release
	// components are the component versions the target release names.
	components map[string]string
	// problem says why spec.release cannot be used ("" when it can).
	problem string
	// catalogProblem says why the catalog could not be read ("" when fine).
	catalogProblem string
}

// loadCatalog reads the release catalog ConfigMap. A missing one is an
// empty catalog: releases can still be named in full in spec.release.
func (r *GatewayReconciler) loadCatalog(ctx context.Context) (*catalog.Catalog, string, error) {
	if r.Catalog.Name == "" {
		return nil, "", nil
	}
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, r.Catalog, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("reading the release catalog %s: %w", r.Catalog, err)
	}
	c, err := catalog.Parse([]byte(cm.Data[catalog.DataKey]))
	if err != nil {
		return nil, fmt.Sprintf("release catalog %s: %v", r.Catalog, err), nil
	}
	return c, "", nil
}

// resolveRelease decides the release the nodes are to run.
func (r *GatewayReconciler) resolveRelease(ctx context.Context, gw *infrav1.Gateway) (gatewayRelease, error) {
	c, problem, err := r.loadCatalog(ctx)
	if err != nil {
		return gatewayRelease{}, err
	}
	rel := gatewayRelease{catalog: c, catalogProblem: problem}
	if gw.Spec.Release == nil {
		return rel, nil
	}
	if c == nil {
		c = &catalog.Catalog{}
	}
	resolved, err := c.Resolve(*gw.Spec.Release)
	if err != nil {
		rel.problem = err.Error()
		if gw.Status.CurrentRelease != nil {
			rel.target = *gw.Status.CurrentRelease
		}
		return rel, nil
	}
	rel.target = resolved.API()
	rel.components = resolved.Components
	return rel, nil
}

// rolloutPool sets the pool's strategy and failure accounting for an
// upgrade in progress, starting the record of one when machines are outdated.
func (r *GatewayReconciler) rolloutPool(ctx context.Context, gw *infrav1.Gateway, key string, pool *rollout.Pool, machines []rollout.Machine, rel gatewayRelease) error {
	outdated := 0
	for _, m := range machines {
		if m.Template != pool.Template && m.State != rollout.StateReleasing {
			outdated++
		}
	}
	up := gw.Status.Upgrade
	if up != nil && releaseOf(up.To) != rel.target {
		// spec.release changed mid-rollout (a rollback, or a newer release):
		// the old record and its failures no longer apply.
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "UpgradeSuperseded", "Upgrade",
			"the rollout of %s stopped at %d updated node(s): the gateway now asks for %s", releaseName(releaseOf(up.To)), up.UpdatedNodes, releaseName(rel.target))
		up, gw.Status.Upgrade = nil, nil
	}
	if up == nil && outdated > 0 {
		up = &infrav1.UpgradeStatus{From: gw.Status.CurrentRelease, StartedAt: metav1.Now(), Strategy: infrav1.ExpandFirst}
		if rel.target.Version != "" {
			t := rel.target
			up.To = &t
		}
		if gw.Spec.Replicas == 3 {
			c := gw.Spec.Placement
			spare, err := r.Inventory.Available(ctx, key, constraintsOf(c.Zone, c.ResourcePool, c.MachineConstraints))
			if err != nil {
				return fmt.Errorf("asking MAAS for a spare gateway machine: %w", err)
			}
			if !spare {
				// Two nodes keep etcd's quorum and serve while the third is replaced.
				up.Strategy = infrav1.ContractFirst
			}
		}
		gw.Status.Upgrade = up
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "UpgradeStarted", "Upgrade",
			"rolling %s onto %d node(s), one at a time, %s", releaseName(rel.target), outdated, strategyWords(up.Strategy))
	}
	if up == nil {
		return nil
	}
	if _, retry := gw.Annotations[infrav1.AnnotationRetryUpgrade]; retry && (up.Halted || up.Failures > 0) {
		up.Failures, up.Halted = 0, false
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "UpgradeRetried", "Upgrade", "retrying the rollout of %s", releaseName(releaseOf(up.To)))
	}
	// The strategy is chosen once: machines on their way back to MAAS after
	// a failed deployment must not flip an expand-first rollout into
	// releasing a serving node.
	pool.Strategy = rollout.Strategy(up.Strategy)
	pool.MaxFailures = upgradeMaxFailures
	pool.Failures = int(up.Failures)
	pool.CountedFailures = up.CountedFailures
	return nil
}

// recordRollout keeps the upgrade record current after a plan, and ends it
// when every node runs the target release.
func (r *GatewayReconciler) recordRollout(gw *infrav1.Gateway, s rollout.PoolSummary, done executed, rel gatewayRelease, observed []rollout.Machine) {
	up := gw.Status.Upgrade
	if up != nil {
		if _, short := done.noCapacity[gatewayPool]; short && up.Strategy == infrav1.ExpandFirst && gw.Spec.Replicas == 3 {
			up.Strategy = infrav1.ContractFirst
			r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "UpgradeContractFirst", "Upgrade",
				"MAAS has no spare machine for the gateway: nodes are replaced contract-first, two keep serving")
		}
		failures := s.Failures
		if int32(s.Ready) > up.UpdatedNodes && len(s.Failed) == 0 {
			failures = 0 // a node came up on the new release since the last failure
		}
		up.UpdatedNodes = int32(s.Ready)
		up.Failures = int32(failures)
		counted := append(slices.Clone(up.CountedFailures), s.Failed...)
		up.CountedFailures = slices.DeleteFunc(counted, func(id string) bool {
			return !slices.ContainsFunc(observed, func(m rollout.Machine) bool { return m.SystemID == id })
		})
		slices.Sort(up.CountedFailures)
		up.CountedFailures = slices.Compact(up.CountedFailures)
		if s.Halted && !up.Halted {
			r.Recorder.Eventf(gw, nil, corev1.EventTypeWarning, "UpgradeHalted", "Upgrade",
				"the rollout of %s stopped after %d failed deployments (%s); no further node is touched. "+
					"Retry with the annotation %s, or roll back by setting spec.release to the previous release",
				releaseName(releaseOf(up.To)), s.Failures, strings.Join(s.Failed, ", "), infrav1.AnnotationRetryUpgrade)
		}
		up.Halted = s.Halted
		if s.Done && s.Outdated == 0 {
			r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "UpgradeCompleted", "Upgrade",
				"all %d node(s) run %s (rollout took %s)", s.Desired, releaseName(releaseOf(up.To)), time.Since(up.StartedAt.Time).Round(time.Second))
			gw.Status.Upgrade = nil
		}
	}
	if s.Done && s.Outdated == 0 && rel.target.Version != "" {
		t := rel.target
		gw.Status.CurrentRelease = &t
	}
}

// upgradeConditions sets Upgrading and Upgraded, the components running and
// the upgrade notification.
func (r *GatewayReconciler) upgradeConditions(gw *infrav1.Gateway, rel gatewayRelease) {
	up := gw.Status.Upgrade
	switch {
	case up != nil && up.Halted:
		msg := fmt.Sprintf("rollout of %s halted after %d failed deployments: set the annotation %s to retry, or set spec.release back to roll back",
			releaseName(releaseOf(up.To)), up.Failures, infrav1.AnnotationRetryUpgrade)
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgrading, metav1.ConditionFalse, infrav1.ReasonHalted, msg)
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionFalse, infrav1.ReasonHalted, msg)
	case up != nil:
		msg := fmt.Sprintf("rolling %s onto the nodes: %d/%d nodes updated (%s)", releaseName(releaseOf(up.To)), up.UpdatedNodes, gw.Spec.Replicas, strategyWords(up.Strategy))
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgrading, metav1.ConditionTrue, infrav1.ReasonRollingNodes, msg)
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionFalse, infrav1.ReasonUpgrading, msg)
	default:
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgrading, metav1.ConditionFalse, infrav1.ReasonNotUpgrading, "no rollout in progress")
		switch {
		case rel.problem != "":
			setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionFalse, infrav1.ReasonUnknownRelease, rel.problem)
		case rel.components[managerComponent] != "" && !sameVersion(rel.components[managerComponent], version.Version):
			setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionFalse, infrav1.ReasonComponentsPending,
				fmt.Sprintf("the nodes run %s, whose manager is %s; this manager is %s: helm upgrade the chart of that release",
					releaseName(rel.target), rel.components[managerComponent], version.Version))
		case rel.target.Version == "":
			setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionTrue, infrav1.ReasonNoRelease,
				"the nodes run the default image; set spec.release to pin a release from the catalog")
		default:
			setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionTrue, infrav1.ReasonUpToDate,
				"every node runs "+releaseName(rel.target))
		}
	}
	if rel.catalogProblem != "" {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayUpgraded, metav1.ConditionFalse, infrav1.ReasonCatalogInvalid, rel.catalogProblem)
	}
	r.announceUpgrade(gw, rel)
}

// announceUpgrade sets status.availableUpgrade to the newest release newer
// than the one asked for (or run), and tells the administrator once.
func (r *GatewayReconciler) announceUpgrade(gw *infrav1.Gateway, rel gatewayRelease) {
	var (
		next  *infrav1.Release
		notes string
	)
	if rel.catalog != nil {
		var (
			found catalog.Release
			ok    bool
		)
		switch {
		case gw.Spec.Release != nil:
			found, ok = rel.catalog.UpgradeFrom(gw.Spec.Release.Version)
		case gw.Status.CurrentRelease != nil:
			found, ok = rel.catalog.UpgradeFrom(gw.Status.CurrentRelease.Version)
		default:
			found, ok = rel.catalog.Newest()
		}
		if ok {
			api := found.API()
			next, notes = &api, firstLine(found.Notes)
		}
	}
	prev := gw.Status.AvailableUpgrade
	gw.Status.AvailableUpgrade = next
	if next != nil && (prev == nil || prev.Version != next.Version) {
		msg := fmt.Sprintf("release %s is available (OS image %s, Kubernetes %s); apply it by setting spec.release.version to %s",
			next.Version, next.OSImage, next.KubernetesVersion, next.Version)
		if notes != "" {
			msg += ". Notes: " + notes
		}
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "UpgradeAvailable", "Announce", "%s", msg)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// managerComponent is the catalog's name for the operator itself.
const managerComponent = "manager"

// components lists what runs: this manager and the gateway nodes' kubelets.
func components(nodes map[string]*corev1.Node, ids []string) []infrav1.ComponentVersion {
	out := []infrav1.ComponentVersion{{Name: managerComponent, Version: version.Version}}
	kubelets := map[string]bool{}
	for _, id := range ids {
		if n := nodes[id]; n != nil && n.Status.NodeInfo.KubeletVersion != "" {
			kubelets[n.Status.NodeInfo.KubeletVersion] = true
		}
	}
	if len(kubelets) > 0 {
		vs := make([]string, 0, len(kubelets))
		for v := range kubelets {
			vs = append(vs, v)
		}
		slices.Sort(vs)
		out = append(out, infrav1.ComponentVersion{Name: "kubelet", Version: strings.Join(vs, ",")})
	}
	return out
}

// releaseOf is the release a record points at; the zero release for none.
func releaseOf(r *infrav1.Release) infrav1.Release {
	if r == nil {
		return infrav1.Release{}
	}
	return *r
}

func releaseName(r infrav1.Release) string {
	if r.Version == "" {
		return "the default image"
	}
	return "release " + r.Version
}

func strategyWords(s infrav1.RollingUpdateStrategy) string {
	if s == infrav1.ContractFirst {
		return "contract-first: MAAS has no spare machine, two nodes keep serving"
	}
	return "expand-first: a new node joins before an old one leaves"
}

func sameVersion(a, b string) bool {
	return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
}

// clearRetry removes the retry annotation once it was acted on.
func (r *GatewayReconciler) clearRetry(ctx context.Context, gw *infrav1.Gateway) error {
	if _, ok := gw.Annotations[infrav1.AnnotationRetryUpgrade]; !ok {
		return nil
	}
	// Patch a copy: the answer carries the stored status, which must not
	// overwrite the one this reconcile computed.
	obj := gw.DeepCopy()
	patch := client.MergeFrom(obj.DeepCopy())
	delete(obj.Annotations, infrav1.AnnotationRetryUpgrade)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return err
	}
	delete(gw.Annotations, infrav1.AnnotationRetryUpgrade)
	gw.ResourceVersion = obj.ResourceVersion
	return nil
}

// gatewaysOfCatalog maps the catalog ConfigMap to every Gateway.
func (r *GatewayReconciler) gatewaysOfCatalog(ctx context.Context, o client.Object) []ctrl.Request {
	if (types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}) != r.Catalog {
		return nil
	}
	return r.gatewaysOfNode(ctx, o)
}

// retireAdopted takes the steps on adopted machines out of the plan: they
// are not the operator's to deploy or release. When an upgrade replaces an
// adopted node, its Node is drained and removed like any other, and the
// machine is recorded as retired, with a warning that tells its owner to
// release it in MAAS.
func (r *GatewayReconciler) retireAdopted(ctx context.Context, gw *infrav1.Gateway, view *gatewayView, actions []rollout.Action) ([]rollout.Action, []string, error) {
	out := make([]rollout.Action, 0, len(actions))
	var waiting []string
	for _, a := range actions {
		if a.Kind == rollout.ActionAllocate || !slices.Contains(gw.Spec.AdoptMachines, a.SystemID) {
			out = append(out, a)
			continue
		}
		if a.Kind != rollout.ActionRelease || a.Reason != rollout.ReasonOutdated {
			continue
		}
		i := slices.IndexFunc(view.adopted, func(n infrav1.GatewayNode) bool { return n.SystemID == a.SystemID })
		if i < 0 {
			continue
		}
		staying := stayingAddresses(gatewayMembers(view.owned, view.adopted), a.SystemID)
		if err := r.leaveGateway(ctx, gw, adoptedMachine(view.adopted[i]), view.nodes[a.SystemID], staying); err != nil {
			if errors.Is(err, errWaiting) {
				waiting = append(waiting, err.Error())
				continue
			}
			return nil, nil, fmt.Errorf("removing the node of adopted machine %s: %w", a.SystemID, client.IgnoreNotFound(err))
		}
		gw.Status.RetiredMachines = append(gw.Status.RetiredMachines, a.SystemID)
		r.Recorder.Eventf(gw, nil, corev1.EventTypeWarning, "AdoptedNodeRetired", "Upgrade",
			"machine %s left the gateway: it was adopted (deployed by another MAAS user), so the operator does not release it; release it in MAAS and remove it from spec.adoptMachines",
			a.SystemID)
	}
	if len(waiting) > 0 {
		// The plan counted the adopted node gone and made room for a new
		// machine: taken now, the next plan (which sees the node still
		// there) would release it as surplus, again and again while the
		// drain or quorum waits. The executor holds a pool the same way.
		out = slices.DeleteFunc(out, func(a rollout.Action) bool { return a.Kind == rollout.ActionAllocate })
	}
	return out, waiting, nil
}
