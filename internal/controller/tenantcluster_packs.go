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

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/packs"
)

// Packs are installed into a tenant cluster with Helm once its API server
// answers: the cni pack first (no Node is Ready without it), then the others
// in the profile's order, each its own release. Every reconcile applies
// them again, which costs one read of each release when nothing changed and
// puts back what someone removed by hand; a failed pack is retried after a
// delay that doubles up to maxPackBackoff, and never holds up the others
// (except the cni pack, which the others wait for) nor the cluster's
// deletion, which does not touch them.
const (
	firstPackBackoff = 10 * time.Second
	maxPackBackoff   = 5 * time.Minute
	// maxPackMessage bounds Helm's message in status.
	maxPackMessage = 2048
)

// packBackoff is how long after its last attempt a pack that failed n times
// in a row is tried again.
func packBackoff(failures int32) time.Duration {
	d := firstPackBackoff
	for i := int32(1); i < failures && d < maxPackBackoff; i++ {
		d *= 2
	}
	return min(d, maxPackBackoff)
}

// PackInstaller installs packs into a cluster (packs.Installer).
type PackInstaller interface {
	Apply(ctx context.Context, cfg *rest.Config, p packs.Pack) (packs.Result, error)
	Uninstall(ctx context.Context, cfg *rest.Config, name, namespace string) error
	List(ctx context.Context, cfg *rest.Config) ([]packs.Release, error)
}

// installOrder is the profile's packs as they are installed: the cni pack
// first, then the others in the profile's order.
func installOrder(profile *infrav1.ClusterProfileSpec) []infrav1.Pack {
	out := make([]infrav1.Pack, 0, len(profile.Packs))
	for _, p := range profile.Packs {
		if p.Layer == infrav1.PackLayerCNI {
			out = append(out, p)
		}
	}
	for _, p := range profile.Packs {
		if p.Layer != infrav1.PackLayerCNI {
			out = append(out, p)
		}
	}
	return out
}

// packNamespace is where a pack is installed: the schema defaults it.
func packNamespace(p infrav1.Pack) string {
	if p.Namespace == "" {
		return metav1.NamespaceSystem
	}
	return p.Namespace
}

// reconcilePacks installs, upgrades and uninstalls tc's packs, writes
// status.packs and PacksReady, and returns when to look again (0: when
// something else brings the cluster back).
func (r *TenantClusterReconciler) reconcilePacks(ctx context.Context, tc *infrav1.TenantCluster, view *workloadView) time.Duration {
	desired := installOrder(tc.Spec.Profile)
	previous := map[string]infrav1.PackStatus{}
	for _, st := range tc.Status.Packs {
		previous[st.Name] = st
	}
	if len(desired) == 0 && (len(previous) == 0 || r.Packs == nil || !r.insideClusters()) {
		// Nothing to install, and nothing this manager could uninstall.
		tc.Status.Packs = nil
		setPacksReady(tc, nil)
		return 0
	}
	waiting := func(why string) time.Duration {
		out := make([]infrav1.PackStatus, 0, len(desired))
		for _, p := range desired {
			st := previous[p.Name]
			if st.State == "" {
				st = infrav1.PackStatus{Name: p.Name, Namespace: packNamespace(p), State: infrav1.PackPending}
			}
			out = append(out, st)
		}
		tc.Status.Packs = out
		setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantPacksReady, metav1.ConditionFalse, infrav1.ReasonPacksPending, why)
		return 0
	}
	switch {
	case r.Packs == nil || !r.insideClusters():
		return waiting("this manager does not install packs: it does not look inside its clusters")
	case view == nil || view.err != nil || !view.healthy:
		return waiting("waiting for the cluster's API server to answer")
	}
	cl, err := r.tenantConnection(ctx, tc)
	if err != nil {
		return waiting("cannot reach the cluster's API server: " + err.Error())
	}
	cfg := cl.RESTConfig()
	now := time.Now()
	var next time.Duration
	later := func(d time.Duration) {
		if next == 0 || d < next {
			next = d
		}
	}
	out := make([]infrav1.PackStatus, 0, len(desired))
	cniInstalled := true
	for _, p := range desired {
		st := previous[p.Name]
		st.Name, st.Namespace = p.Name, packNamespace(p)
		if st.State == "" {
			st.State = infrav1.PackPending
		}
		if p.Layer != infrav1.PackLayerCNI && !cniInstalled {
			st.State, st.Message = infrav1.PackPending, "waiting for the cni pack"
			out = append(out, st)
			continue
		}
		if st.State == infrav1.PackFailed && st.LastAttemptTime != nil {
			if wait := st.LastAttemptTime.Add(packBackoff(st.Failures)).Sub(now); wait > 0 {
				later(wait)
				cniInstalled = cniInstalled && p.Layer != infrav1.PackLayerCNI
				out = append(out, st)
				continue
			}
		}
		st = r.applyPack(ctx, tc, cfg, p, st, now)
		if st.State != infrav1.PackInstalled {
			cniInstalled = cniInstalled && p.Layer != infrav1.PackLayerCNI
			later(packBackoff(st.Failures))
		}
		out = append(out, st)
	}
	tc.Status.Packs = out
	if err := r.uninstallRemovedPacks(ctx, tc, cfg, desired); err != nil {
		logf.FromContext(ctx).Info("uninstalling packs removed from the profile", "error", err.Error())
		later(firstPackBackoff)
	}
	setPacksReady(tc, out)
	return next
}

// applyPack installs or upgrades one pack and returns its new status.
func (r *TenantClusterReconciler) applyPack(ctx context.Context, tc *infrav1.TenantCluster, cfg *rest.Config, p infrav1.Pack, st infrav1.PackStatus, now time.Time) infrav1.PackStatus {
	fail := func(err error) infrav1.PackStatus {
		msg := err.Error()
		if len(msg) > maxPackMessage {
			msg = msg[:maxPackMessage-3] + "..."
		}
		if st.State != infrav1.PackFailed || st.Message != msg {
			r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "PackFailed", "InstallPack", "pack %s: %s", p.Name, msg)
		}
		st.State, st.Message = infrav1.PackFailed, msg
		st.Failures++
		st.LastAttemptTime = &metav1.Time{Time: now}
		return st
	}
	pk, err := r.packFor(ctx, tc, p)
	if err != nil {
		return fail(err)
	}
	res, err := r.Packs.Apply(ctx, cfg, pk)
	if err != nil {
		return fail(err)
	}
	if res.Changed {
		verb := "installed"
		if res.Revision > 1 {
			verb = "upgraded"
		}
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "PackInstalled", "InstallPack", "pack %s %s: chart %s %s, revision %d",
			p.Name, verb, res.ChartName, res.ChartVersion, res.Revision)
		st.LastAttemptTime = &metav1.Time{Time: now}
	}
	st.State, st.Message, st.Failures = infrav1.PackInstalled, "", 0
	st.Chart, st.Version, st.Revision = res.ChartName, res.ChartVersion, int32(res.Revision)
	return st
}

// packFor is pack p as the installer takes it: the profile's values with
// the cluster's override merged on, and the repository's credentials.
func (r *TenantClusterReconciler) packFor(ctx context.Context, tc *infrav1.TenantCluster, p infrav1.Pack) (packs.Pack, error) {
	override := ""
	if i := slices.IndexFunc(tc.Spec.PackOverrides, func(o infrav1.PackOverride) bool { return o.Name == p.Name }); i >= 0 {
		override = tc.Spec.PackOverrides[i].Values
	}
	values, err := packs.MergeValues(p.Values, override)
	if err != nil {
		return packs.Pack{}, err
	}
	if err := withLoadBalancerRange(tc, p.Name, values); err != nil {
		return packs.Pack{}, err
	}
	pk := packs.Pack{Name: p.Name, Namespace: packNamespace(p), Values: values}
	if p.Chart == nil {
		pk.Source.Manifests = p.Manifests
		return pk, nil
	}
	pk.Source.Repository, pk.Source.Chart, pk.Source.Version = p.Chart.Repository, p.Chart.Name, p.Chart.Version
	if ref := p.Chart.CredentialsSecretRef; ref != nil {
		auth, err := r.repositoryAuth(ctx, types.NamespacedName{Namespace: tc.Namespace, Name: ref.Name})
		if err != nil {
			return packs.Pack{}, err
		}
		pk.Source.Auth = auth
	}
	return pk, nil
}

// repositoryAuth reads a chart repository's credentials from the API
// server (Secrets are not cached, see operator.ClientOptions). Nothing of
// the Secret's content goes into a message.
func (r *TenantClusterReconciler) repositoryAuth(ctx context.Context, key types.NamespacedName) (*packs.Auth, error) {
	s := &corev1.Secret{}
	if err := r.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("the repository credentials Secret %s does not exist", key)
		}
		return nil, fmt.Errorf("reading the repository credentials Secret %s: %w", key, err)
	}
	auth := &packs.Auth{Username: string(s.Data["username"]), Password: string(s.Data["password"]), CA: s.Data["ca.crt"]}
	if (auth.Username == "") != (auth.Password == "") {
		return nil, fmt.Errorf("the repository credentials Secret %s has one of username and password without the other", key)
	}
	return auth, nil
}

// uninstallRemovedPacks uninstalls the releases this operator installed
// that are no pack of the profile any more. Releases it did not install are
// never touched (packs.Installer.List only returns its own).
func (r *TenantClusterReconciler) uninstallRemovedPacks(ctx context.Context, tc *infrav1.TenantCluster, cfg *rest.Config, desired []infrav1.Pack) error {
	releases, err := r.Packs.List(ctx, cfg)
	if err != nil {
		return err
	}
	var errs []string
	for _, rel := range releases {
		if slices.ContainsFunc(desired, func(p infrav1.Pack) bool { return p.Name == rel.Name && packNamespace(p) == rel.Namespace }) {
			continue
		}
		if err := r.Packs.Uninstall(ctx, cfg, rel.Name, rel.Namespace); err != nil {
			errs = append(errs, fmt.Sprintf("%s/%s: %v", rel.Namespace, rel.Name, err))
			continue
		}
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "PackUninstalled", "UninstallPack", "pack %s uninstalled from namespace %s: no longer in the profile", rel.Name, rel.Namespace)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// setPacksReady sets PacksReady from the packs' states.
func setPacksReady(tc *infrav1.TenantCluster, sts []infrav1.PackStatus) {
	var failed, pending []string
	for _, st := range sts {
		switch st.State {
		case infrav1.PackFailed:
			failed = append(failed, fmt.Sprintf("%s: %s", st.Name, st.Message))
		case infrav1.PackPending:
			pending = append(pending, st.Name)
		}
	}
	gen := tc.Generation
	switch {
	case len(failed) > 0:
		setCondition(&tc.Status.Conditions, gen, infrav1.TenantPacksReady, metav1.ConditionFalse, infrav1.ReasonPackFailed,
			"failed: "+strings.Join(failed, "; "))
	case len(pending) > 0:
		setCondition(&tc.Status.Conditions, gen, infrav1.TenantPacksReady, metav1.ConditionFalse, infrav1.ReasonPacksPending,
			"not installed yet: "+strings.Join(pending, ", "))
	default:
		setCondition(&tc.Status.Conditions, gen, infrav1.TenantPacksReady, metav1.ConditionTrue, infrav1.ReasonPacksInstalled,
			fmt.Sprintf("%d pack(s) installed", len(sts)))
	}
}
