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
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

const (
	// TenantClusterFinalizer keeps a TenantCluster until every MAAS machine
	// it allocated is back in MAAS's free pool (or it is force-deleted).
	TenantClusterFinalizer = "infra.maasgateway.io/tenantcluster"

	// LabelTenantCluster and LabelTenantPool are put on every Node of a
	// tenant cluster, naming the cluster and the pool the machine serves.
	LabelTenantCluster = "infra.maasgateway.io/tenant-cluster"
	LabelTenantPool    = "infra.maasgateway.io/pool"
	// TagLabelPrefix prefixes the labels a cluster's spec.tags put on its
	// Nodes (see TagLabels).
	TagLabelPrefix = "tags.infra.maasgateway.io/"

	// DefaultForceDeleteAfter is how long a cluster must have been deleting
	// before the force-delete annotation is honoured (the reference's figure).
	DefaultForceDeleteAfter = 14 * time.Minute

	tenantKind = "TenantCluster"
	// Used when neither the cluster nor its gateway names a range: Calico's
	// default pod range and kubeadm's default service range.
	defaultPodCIDR     = "192.168.0.0/16"
	defaultServiceCIDR = "10.96.0.0/12"
	defaultVIPIface    = "eth0"
	// tokenSecretKey and tokenExpiryKey are the keys of the
	// <cluster>-bootstrap-token Secret.
	tokenSecretKey = "token"
	tokenExpiryKey = "expiration"
	// tokenPendingKey marks a renewed token not yet created in the cluster.
	tokenPendingKey = "pending"
)

// TenantClusterReconciler provisions, updates and deletes bare-metal
// Kubernetes clusters whose nodes are MAAS machines.
type TenantClusterReconciler struct {
	client.Client
	Recorder  Recorder
	Inventory OwnerInventory
	Finder    dependents.Finder
	// ForceDeleteAfter is how long after deletion began the force-delete
	// annotation is honoured; default DefaultForceDeleteAfter.
	ForceDeleteAfter time.Duration
	// Clock tells the time force delete is judged by; nil means the real
	// clock. Tests step a fake one past the delay instead of waiting 14 minutes.
	Clock clock.PassiveClock
	// KubeconfigValidity is how long the admin kubeconfig's certificate is
	// valid; it is renewed when a third of that is left. Default
	// bootstrap.DefaultAdminKubeconfigValidity (a year, as kubeadm's).
	KubeconfigValidity time.Duration
	// TokenTTL is the lifetime of the bootstrap token nodes join with;
	// default bootstrap.DefaultTokenTTL.
	TokenTTL time.Duration
	// CertificateKeyTTL is the life of a certificate key, and of the
	// kubeadm-certs Secret joining control planes download the cluster's
	// keys from; default bootstrap.DefaultCertificateKeyTTL.
	CertificateKeyTTL time.Duration
	// Tokens creates a renewed bootstrap token inside a running cluster;
	// default a WorkloadTokenPublisher on Clusters.
	Tokens TokenPublisher
	// Clusters holds the connections to the tenant clusters' API servers.
	Clusters *workload.Cache
	// ObserveWorkloads reads each cluster's Nodes and etcd members into
	// status.workload (through Clusters). Off only in test worlds whose
	// clusters have no API servers and whose addresses are mere data.
	ObserveWorkloads bool
	// WorkloadEvents wakes a cluster whose Nodes or health changed, as the
	// cluster cache reports them; nil for none.
	WorkloadEvents <-chan event.GenericEvent
	// JoinTimeout is how long a machine MAAS deployed may take to appear as
	// a Node before it is released and replaced (with ObserveWorkloads);
	// default DefaultTenantJoinTimeout. Counted from Deployed: bare-metal
	// boots are slow, and Cluster API's 10 minutes from creation replace
	// machines that were about to join.
	JoinTimeout time.Duration
	// OrphanMemberGrace is how long an etcd member no machine accounts for
	// is left before it is removed; default DefaultOrphanMemberGrace.
	OrphanMemberGrace time.Duration
	// WorkloadCheckInterval is how often a cluster at rest is looked at
	// inside (etcd membership is not watched); default
	// DefaultWorkloadCheckInterval.
	WorkloadCheckInterval time.Duration
	// Packs installs the profiles' packs into the clusters (with
	// ObserveWorkloads); nil installs none, and a cluster with packs is
	// then never Running.
	Packs PackInstaller

	deployed deployedSince
	orphans  orphanMembers
	vips     vipKeeper
	pools    vipKeeper
	// RequeueInterval is the safety net while machines are on their way;
	// inventory events normally come first.
	RequeueInterval time.Duration
	// ReleaseCheckInterval is how often a deleting cluster reads each
	// machine whose release began (it has left the installation's list, so
	// the shared poll no longer sees it) until MAAS has it back; default
	// the inventory's poll interval.
	ReleaseCheckInterval time.Duration
	// MaxConcurrentReconciles is how many clusters reconcile at once; default
	// 10. A reconcile mostly waits for MAAS, so more workers overlap that
	// wait; the MAAS rate limit, not this, bounds the load on MAAS.
	MaxConcurrentReconciles int

	// CapacityBackoff is how long a pool waits after MAAS first found no
	// machine for it, doubled for each further NoCapacity answer up to
	// CapacityBackoffMax; defaults DefaultCapacityBackoff and
	// DefaultCapacityBackoffMax.
	CapacityBackoff, CapacityBackoffMax time.Duration

	// writes tells a cluster read from a cache that has not seen this
	// controller's last write to it yet.
	writes ownWrites
	// capacity holds pools MAAS has no machine for, across reconciles.
	capacity capacityBackoff
	// releaseRetries paces the releases asked again of machines whose
	// release MAAS keeps failing.
	releaseRetries releaseRetries
}

// Every verb below is justified in the README ("What the manager may do").
// Secrets: get, create and update by name, never list or watch (see
// operator.ClientOptions); they go with the cluster through their owner
// reference, so the manager never deletes one.
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=tenantclusters,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=tenantclusters/status,verbs=update
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=tenantclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=cloudaccounts;gateways;clusterprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile takes one step towards the cluster's spec, or its deletion.
func (r *TenantClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tc := &infrav1.TenantCluster{}
	if err := r.Get(ctx, req.NamespacedName, tc); err != nil {
		if apierrors.IsNotFound(err) {
			r.writes.forget(req.NamespacedName)
			r.orphans.forget(req.NamespacedName)
			r.capacity.forget(req.NamespacedName)
			if r.Clusters != nil {
				// Its connection would otherwise probe a VIP that is gone.
				r.Clusters.Disconnect(req.NamespacedName)
			}
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.writes.behind(tc) {
		// Status would be compared with a version this controller already
		// wrote over: a status equal to that stale one would not be written,
		// though the API server holds another (say Pending, written while
		// the CloudAccount was not Ready). Wait for the cache instead.
		return ctrl.Result{RequeueAfter: cacheLagRequeue}, nil
	}
	if paused, err := syncPaused(ctx, r.Client, tc, &tc.Status.Conditions, pauseOf(tc), &r.writes); paused || err != nil {
		return ctrl.Result{}, err
	}
	applied, err := r.loadProfile(ctx, tc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !tc.DeletionTimestamp.IsZero() {
		if applied == nil {
			tc.Spec.Profile = lastKnownProfile(tc)
		}
		return r.reconcileDelete(ctx, tc)
	}
	if controllerutil.AddFinalizer(tc, TenantClusterFinalizer) {
		if err := r.update(ctx, tc); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := tc.Status.DeepCopy()
	var result ctrl.Result
	if tc.Spec.ProfileRef != nil {
		setProfileResolved(tc, applied != nil)
	} else {
		// The cluster's own profile now: nothing to resolve.
		meta.RemoveStatusCondition(&tc.Status.Conditions, infrav1.TenantProfileResolved)
	}
	if applied != nil {
		result, err = r.reconcileCluster(ctx, tc, before, *applied)
	}
	if err == nil {
		result = renewalRequeue(result, time.Now(), r.KubeconfigValidity, tc.Status.KubeconfigExpiresAt)
	}
	tc.Status.ObservedGeneration = tc.Generation
	if !apiequality.Semantic.DeepEqual(before, &tc.Status) {
		if uerr := r.updateStatus(ctx, tc); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	return result, err
}

// updateStatus writes tc's status and remembers the version it replaced.
func (r *TenantClusterReconciler) updateStatus(ctx context.Context, tc *infrav1.TenantCluster) error {
	rv := tc.ResourceVersion
	if err := r.Status().Update(ctx, tc); err != nil {
		return err
	}
	r.writes.wrote(client.ObjectKeyFromObject(tc), rv, tc.ResourceVersion)
	return nil
}

// update writes tc (metadata and spec) and remembers the version it replaced.
func (r *TenantClusterReconciler) update(ctx context.Context, tc *infrav1.TenantCluster) error {
	defer specForUpdate(tc)()
	rv := tc.ResourceVersion
	if err := r.Update(ctx, tc); err != nil {
		return err
	}
	r.writes.wrote(client.ObjectKeyFromObject(tc), rv, tc.ResourceVersion)
	return nil
}

// resolve finds the cluster's CloudAccount, which must be Ready, and its
// Gateway; when either is missing it says why as reason and message.
func (r *TenantClusterReconciler) resolve(ctx context.Context, tc *infrav1.TenantCluster) (*infrav1.CloudAccount, *infrav1.Gateway, string, string, error) {
	account := &infrav1.CloudAccount{}
	key := types.NamespacedName{Namespace: tc.Namespace, Name: tc.Spec.CloudAccountRef.Name}
	if err := r.Get(ctx, key, account); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, infrav1.ReasonCloudAccountNotFound, fmt.Sprintf("CloudAccount %s does not exist", key), nil
		}
		return nil, nil, "", "", err
	}
	if ready := meta.FindStatusCondition(account.Status.Conditions, infrav1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		msg := fmt.Sprintf("waiting for CloudAccount %s to be validated", key)
		if ready != nil {
			msg = fmt.Sprintf("CloudAccount %s is not Ready: %s", key, ready.Message)
		}
		return account, nil, infrav1.ReasonCloudAccountNotReady, msg, nil
	}
	gw := &infrav1.Gateway{}
	if err := r.Get(ctx, dependents.GatewayOf(account), gw); err != nil {
		if apierrors.IsNotFound(err) {
			return account, nil, infrav1.ReasonGatewayNotFound, fmt.Sprintf("Gateway %s of CloudAccount %s does not exist", dependents.GatewayOf(account), key), nil
		}
		return nil, nil, "", "", err
	}
	// The account's Ready condition says so too, once its controller has
	// seen the Gateway's change; until then this keeps the cluster from
	// using it. A namespace selector is left to that condition: reading the
	// namespace in every reconcile of every cluster would cost an API
	// request each.
	if gw.Spec.AllowedCloudAccounts.Namespaces.From != infrav1.NamespacesFromSelector {
		if ok, why := dependents.Allows(gw, account.Namespace, nil); !ok {
			return nil, nil, infrav1.ReasonCloudAccountNotReady, fmt.Sprintf("CloudAccount %s is not usable: %s", key, why), nil
		}
	}
	return account, gw, "", "", nil
}

func (r *TenantClusterReconciler) reconcileCluster(ctx context.Context, tc *infrav1.TenantCluster, before *infrav1.TenantClusterStatus, applied infrav1.AppliedProfile) (ctrl.Result, error) {
	account, gw, reason, msg, err := r.resolve(ctx, tc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if reason != "" {
		pending(tc, reason, msg)
		// The account and gateway watches normally bring us back; the safety
		// net covers an account whose status was wiped and rebuilt between
		// two reads (make chaos: a restore from backup).
		return ctrl.Result{RequeueAfter: r.RequeueInterval}, nil
	}
	key := AccountKey(client.ObjectKeyFromObject(account))
	snap, ok := r.Inventory.Snapshot(key)
	if !ok || snap.PolledAt.IsZero() {
		setWaitingForMAAS(tc, nil)
		// The first poll wakes no object that owns no machine yet: come back
		// after one poll interval, not the long safety net.
		return ctrl.Result{RequeueAfter: r.ReleaseCheckInterval}, nil
	}
	if snap.Err != nil {
		// Acting on a stale list could allocate twice: wait for MAAS.
		setWaitingForMAAS(tc, snap.Err)
		return ctrl.Result{RequeueAfter: r.RequeueInterval}, nil
	}
	if res, held, err := r.holdForVIP(ctx, tc, key, snap); held {
		return res, err
	}
	r.ensureLoadBalancerPool(ctx, tc, key)

	owned := ownedBy(snap, tenantKind, tc)
	if len(owned) == 0 && meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayUpgrading) {
		msg := setQueuedCondition(tc, gw)
		if !meta.IsStatusConditionTrue(before.Conditions, infrav1.TenantQueued) {
			r.Recorder.Eventf(tc, gw, corev1.EventTypeNormal, "Queued", "Provision", "%s", msg)
		}
		return ctrl.Result{}, nil // the Gateway watch brings us back
	}
	clearQueuedCondition(tc)

	view := r.lookInside(ctx, tc, owned)
	plan, err := r.planTenant(tc, owned, view)
	if err != nil {
		return ctrl.Result{}, err
	}

	var done executed
	var runErr error
	// Status describes the pools as this reconcile leaves them.
	final := plan
	if len(plan.Actions) > 0 {
		exec, blocked, err := r.executor(ctx, tc, gw, key, snap)
		if err != nil {
			return ctrl.Result{}, err
		}
		if blocked != "" {
			setInvalidConfiguration(tc, blocked)
			return ctrl.Result{}, nil // a spec change brings us back
		}
		done, runErr = exec.run(ctx, plan.Actions)
		if len(done.allocated) > 0 && runErr == nil {
			// Deploy what was just allocated now: waiting for the poll that
			// shows it would put every deployment of a busy installation
			// behind all other clusters' reconciles. Only deployments run in
			// this pass; anything else waits for a current list from MAAS.
			final, runErr = r.deployAllocated(ctx, tc, key, exec, &done, plan, view)
		}
		r.announce(tc, done, plan)
	} else if err := r.ensureKubeconfig(ctx, tc, nil); err != nil {
		// Nothing to deploy, but the kubeconfig may be due for renewal, or
		// deleted, or rewritten by someone else.
		return ctrl.Result{}, err
	}
	for _, p := range plan.Pools {
		for _, id := range p.Failed {
			if slices.Contains(done.released, id) {
				tc.Status.FailedDeployments++
			}
		}
	}
	latest := snapshotAfter(r.Inventory, key, snap)
	after := ownedBy(latest, tenantKind, tc)
	if err := r.syncCertificateKey(ctx, tc, after, view); err != nil && runErr == nil {
		runErr = err
	}
	tc.Status.Machines = tenantMachines(after)
	releasing, relErr := r.pendingReleases(ctx, tc, key, latest, before.Machines, after, done.released)
	tc.Status.Machines = withReleasing(tc.Status.Machines, releasing)
	runErr = errors.Join(runErr, relErr)
	r.announceDeployed(tc, before.Machines)
	// The Nodes seen first: status names the machines still without one.
	view.record(tc)
	packsNext := r.reconcilePacks(ctx, tc, view)
	tenantStatus(tc, final, done, view)
	if meta.IsStatusConditionTrue(tc.Status.Conditions, infrav1.ConditionReady) {
		tc.Status.Profile = &applied
	}
	setNodesDrained(&tc.Status.Conditions, tc.Generation, infrav1.TenantNodesDrained, done.waiting)
	setNodesHealthy(tc, final, view)
	var orphanWait time.Duration
	if len(done.waiting) == 0 && runErr == nil {
		// A machine on its way out removes its own member.
		orphanWait = r.removeOrphanMembers(ctx, tc, owned, view)
	}
	if runErr != nil {
		return ctrl.Result{}, runErr
	}
	if len(done.waiting) > 0 {
		// A drain under way: look again soon, as Cluster API does (20 s);
		// Node news from the cluster cache may come sooner.
		return ctrl.Result{RequeueAfter: min(r.RequeueInterval, drainRequeue)}, nil
	}
	if !final.Done() {
		return ctrl.Result{RequeueAfter: done.requeue(sooner(r.RequeueInterval, packsNext), r.now())}, nil
	}
	var releaseNext time.Duration
	if len(releasing) > 0 {
		// The inventory tells of the followed machines' changes; this is
		// the safety net, at the poll interval, no MAAS request of its own.
		releaseNext = r.ReleaseCheckInterval
		packsNext = sooner(packsNext, releaseNext)
	}
	if view != nil {
		// Node changes come from the cluster cache's watch; etcd's
		// membership is not watched, so a cluster at rest is looked at
		// again now and then (an orphaned member, a member gone unhealthy).
		next := r.WorkloadCheckInterval
		return ctrl.Result{RequeueAfter: sooner(sooner(next, orphanWait), packsNext)}, nil
	}
	return ctrl.Result{RequeueAfter: releaseNext}, nil
}

// sooner is the earlier of two delays, 0 meaning none.
func sooner(a, b time.Duration) time.Duration {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// drainRequeue is how soon a cluster waiting for a drain looks again.
const drainRequeue = 10 * time.Second

// DefaultTenantJoinTimeout is TenantClusterReconciler.JoinTimeout's default:
// kubeadm join takes minutes after the OS is up, so a Node missing this long
// after MAAS said Deployed will not come.
const DefaultTenantJoinTimeout = 20 * time.Minute

// planTenant plans tc's pools over the machines it owns in MAAS. Inside
// clusters a machine counts Ready only when the cluster says so (its Node
// Ready, its etcd member healthy), as view saw it, and one whose Node has not
// appeared JoinTimeout after MAAS deployed it is replaced; otherwise (test
// worlds whose clusters have no API servers) when MAAS says Deployed.
func (r *TenantClusterReconciler) planTenant(tc *infrav1.TenantCluster, owned []maas.Machine, view *workloadView) (rollout.Result, error) {
	inside := r.insideClusters()
	pools := tenantPools(tc)
	for i := range pools {
		pools[i].NodeReadiness = inside
	}
	now := time.Now()
	machines := make([]rollout.Machine, 0, len(owned))
	for _, m := range owned {
		pm := plannerMachine(m, view.nodeState(m))
		pm.DeployedAt = r.deployed.at(m, now)
		pm.UnhealthySince = view.unhealthySince(m)
		machines = append(machines, pm)
	}
	pools[0].Initialised = initialised(owned, infrav1.ControlPlanePoolName)
	opts := rollout.Options{Now: now}
	if remediates(inside, view) {
		opts.JoinTimeout = r.JoinTimeout
		opts.UnhealthyTimeout, opts.MaxUnhealthy = healthCheckOf(tc)
	}
	plan, err := rollout.Plan(pools, machines, opts)
	if err != nil {
		return rollout.Result{}, fmt.Errorf("planning the machines of TenantCluster %s/%s: %w", tc.Namespace, tc.Name, err)
	}
	return plan, nil
}

// remediates says whether view may condemn a machine (a Node that never
// appeared, or stays NotReady): only a view that listed the cluster's Nodes
// from an API server that answers now. A Node list the watch synced before
// the API server stopped answering is stale, and an unreachable cluster
// replaces no machine: every Node would look missing or sick at once.
func remediates(inside bool, view *workloadView) bool {
	return inside && view != nil && view.err == nil && view.synced && view.healthy
}

// deployAllocated plans again over the inventory as this reconcile left it
// (it records its own allocations at once) and runs that plan's
// deployments. It returns the plan that status is to describe.
func (r *TenantClusterReconciler) deployAllocated(ctx context.Context, tc *infrav1.TenantCluster, key string, exec *poolExecutor, done *executed, first rollout.Result, view *workloadView) (rollout.Result, error) {
	snap, ok := r.Inventory.Snapshot(key)
	if !ok {
		return first, nil
	}
	plan, err := r.planTenant(tc, ownedBy(snap, tenantKind, tc), view)
	if err != nil {
		return first, err
	}
	var deploys []rollout.Action
	for _, a := range plan.Actions {
		if a.Kind == rollout.ActionDeploy {
			deploys = append(deploys, a)
		}
	}
	exec.snap = snap
	more, err := exec.run(ctx, deploys)
	done.deployed = append(done.deployed, more.deployed...)
	return plan, err
}

// initialised derives from MAAS alone whether the control plane was ever
// initialised: the init machine, or any machine of the control-plane pool
// (pool), is Deployed. Status is not consulted, so a restart or a restore
// without status never makes a second init node.
func initialised(owned []maas.Machine, pool string) bool {
	for _, m := range owned {
		if m.Owner != nil && m.Owner.Pool == pool && rollout.ParseState(m.StatusName) == rollout.StateDeployed {
			return true
		}
	}
	return false
}

// tenantPools is the planner's view of the spec: the control plane first.
func tenantPools(tc *infrav1.TenantCluster) []rollout.Pool {
	cp := tc.Spec.ControlPlane
	size := int(cp.Size)
	if size == 0 {
		size = 1
	}
	pools := []rollout.Pool{{
		Name:     infrav1.ControlPlanePoolName,
		Kind:     rollout.KindControlPlane,
		Size:     size,
		Zones:    cp.Zones,
		Template: tenantTemplate(tc, cp.MachineTemplate),
		Strategy: rollout.Strategy(cp.RollingUpdate),
		// etcd keeps quorum: a release never leaves fewer than a majority.
		MinReady:    size/2 + 1,
		MaxFailures: 1 << 20, // a cluster keeps trying; failures are counted in status
	}}
	for _, w := range tc.Spec.Workers {
		pools = append(pools, rollout.Pool{
			Name:        w.Name,
			Kind:        rollout.KindWorker,
			Size:        int(w.Size),
			Zones:       w.Zones,
			Template:    tenantTemplate(tc, w.MachineTemplate),
			Strategy:    rollout.Strategy(w.RollingUpdate),
			MaxFailures: 1 << 20,
		})
	}
	return pools
}

// TagLabels are the Node labels of a cluster's tags: "env:prod" becomes
// tags.infra.maasgateway.io/env=prod and "gpu" tags.infra.maasgateway.io/gpu
// with an empty value. A tag that makes no valid label is left out (the
// webhook warns of it). Nodes get them when they join.
func TagLabels(tags []string) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		k, v, _ := strings.Cut(t, ":")
		key := TagLabelPrefix + k
		if len(validation.IsQualifiedName(key)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			continue
		}
		out[key] = v
	}
	return out
}

// diskEraseOf is how the disks of pool's machines are wiped on release: as
// the pool says, and Quick for control-plane machines of a pool that says
// nothing (written before the field, or a pool no longer in the spec),
// since they hold the cluster's keys and etcd data.
func diskEraseOf(tc *infrav1.TenantCluster, pool string) infrav1.DiskErase {
	if pool == infrav1.ControlPlanePoolName {
		if e := tc.Spec.ControlPlane.DiskErase; e != "" {
			return e
		}
		return infrav1.DiskEraseQuick
	}
	for _, w := range tc.Spec.Workers {
		if w.Name == pool && w.DiskErase != "" {
			return w.DiskErase
		}
	}
	return infrav1.DiskEraseNone
}

// nodePackages is what a stock OS image installs at boot; nil when the
// profile's image has it all.
func nodePackages(p *infrav1.NodePackages) *bootstrap.NodePackages {
	if p == nil {
		return nil
	}
	return &bootstrap.NodePackages{KubernetesRepository: p.KubernetesRepository,
		KubernetesRepositoryKey: p.KubernetesRepositoryKey, ContainerdPackage: p.ContainerdPackage}
}

// tenantTemplate names what a pool's machines are allocated and deployed
// with: a change of any of it replaces them.
func tenantTemplate(tc *infrav1.TenantCluster, t infrav1.MachineTemplate) string {
	return templateHash(tenantOSImage(tc), tc.Spec.Profile.KubernetesVersion, t.ResourcePool, t.MachineConstraints)
}

func tenantOSImage(tc *infrav1.TenantCluster) string {
	if tc.Spec.Profile.OSImage != "" {
		return tc.Spec.Profile.OSImage
	}
	return defaultOSImage
}

// poolTemplate is the spec's template of the named pool.
func poolTemplate(tc *infrav1.TenantCluster, pool string) infrav1.MachineTemplate {
	if pool == infrav1.ControlPlanePoolName {
		return tc.Spec.ControlPlane.MachineTemplate
	}
	for _, w := range tc.Spec.Workers {
		if w.Name == pool {
			return w.MachineTemplate
		}
	}
	return infrav1.MachineTemplate{}
}

// executor prepares the steps on the cluster's machines. blocked says why
// no user data can be rendered (a configuration error the user must fix).
func (r *TenantClusterReconciler) executor(ctx context.Context, tc *infrav1.TenantCluster, gw *infrav1.Gateway, key string, snap *maas.Snapshot) (*poolExecutor, string, error) {
	owner := maas.Owner{Kind: tenantKind, Namespace: tc.Namespace, Name: tc.Name, UID: infrav1.IdentityUID(tc),
		Description: tc.Spec.Description, Tags: strings.Join(tc.Spec.Tags, ",")}
	cfg, pending, err := r.nodeConfig(ctx, tc, gw)
	if invalidProxy, ok := errors.AsType[*proxyError](err); ok {
		return nil, invalidProxy.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	// A token renewed after the init node was deployed exists only here
	// until it is created inside the cluster; joiners wait for that.
	var unpublished error
	if pending && initialised(ownedBy(snap, tenantKind, tc), infrav1.ControlPlanePoolName) {
		unpublished = r.publishToken(ctx, tc, cfg.Token)
	}
	// Render once up front, so a bad spec stops before any machine is taken.
	probe := *cfg
	probe.Role, probe.SystemID = bootstrap.RoleInitControlPlane, "probe"
	if _, err := bootstrap.Render(probe); err != nil {
		return nil, err.Error(), nil
	}
	e := &poolExecutor{
		inv:      r.Inventory,
		account:  key,
		owner:    owner,
		snap:     snap,
		domain:   tc.Spec.Domain,
		capacity: &r.capacity,
		now:      r.now,
		erase:    func(pool string) infrav1.DiskErase { return diskEraseOf(tc, pool) },
		constraints: func(pool string) maas.Constraints {
			t := poolTemplate(tc, pool)
			return constraintsOf("", t.ResourcePool, t.MachineConstraints)
		},
		template: func(pool string) string {
			t := poolTemplate(tc, pool)
			return tenantTemplate(tc, t)
		},
		assignSlot: func(ctx context.Context, systemID string, slot int) error {
			o := owner
			o.Slot = fmt.Sprint(slot)
			if m, ok := snap.Machine(systemID); ok && m.Owner != nil {
				o.Pool, o.Template, o.Init = m.Owner.Pool, m.Owner.Template, m.Owner.Init
			}
			_, err := r.Inventory.Adopt(ctx, key, systemID, o)
			return err
		},
	}
	if r.ObserveWorkloads && r.Clusters != nil {
		// Operating inside the cluster: a machine leaves it before MAAS
		// gets it back. Without (test worlds whose clusters have no API
		// servers) machines are released as MAAS allows.
		e.beforeRelease = r.tenantBeforeRelease(tc, ownedBy(snap, tenantKind, tc))
	}
	e.deploy = func(ctx context.Context, m maas.Machine, role rollout.Role) (maas.DeployParams, error) {
		if role == rollout.RoleInit && (m.Owner == nil || !m.Owner.Init) {
			// Mark the init node in MAAS before it is deployed as one: after
			// a crash between the two, the mark still names the only one.
			o := owner
			if m.Owner != nil {
				o = *m.Owner
			}
			o.Init = true
			if _, err := r.Inventory.Adopt(ctx, key, m.SystemID, o); err != nil {
				return maas.DeployParams{}, fmt.Errorf("marking the init node: %w", err)
			}
		}
		if role != rollout.RoleInit && unpublished != nil {
			return maas.DeployParams{}, fmt.Errorf("the renewed join token %s is not in the cluster yet: %w", cfg.Token.ID(), unpublished)
		}
		node := *cfg
		if role == rollout.RoleInit || role == rollout.RoleControlPlane {
			key, exp, err := r.ensureCertificateKey(ctx, tc)
			if err != nil {
				return maas.DeployParams{}, err
			}
			node.CertificateKey = key
			// Into a running cluster the operator uploads the keys; into
			// one still to come, the init machine does.
			if role == rollout.RoleControlPlane && r.insideClusters() && initialised(ownedBy(snap, tenantKind, tc), infrav1.ControlPlanePoolName) {
				if err := r.tenantJoinRound(tc, cfg.PKI).upload(ctx, key, exp); err != nil {
					return maas.DeployParams{}, fmt.Errorf("a control plane joins only once the cluster holds its keys for it: %w", err)
				}
			}
		}
		node.SystemID = m.SystemID
		pool := ""
		if m.Owner != nil {
			pool = m.Owner.Pool
		}
		node.Labels = map[string]string{LabelTenantCluster: tc.Name, LabelTenantPool: pool}
		maps.Copy(node.Labels, TagLabels(tc.Spec.Tags))
		switch role {
		case rollout.RoleInit:
			node.Role = bootstrap.RoleInitControlPlane
		case rollout.RoleControlPlane:
			// MAAS keeps user data: the shared keys come from the cluster.
			node.Role, node.PKI = bootstrap.RoleJoinControlPlane, nil
		default:
			// A worker never holds the cluster's CA keys.
			node.Role, node.PKI, node.AllowWorkloads = bootstrap.RoleJoinWorker, nil, false
		}
		userData, err := bootstrap.Render(node)
		if err != nil {
			return maas.DeployParams{}, fmt.Errorf("rendering user data: %w", err)
		}
		osystem, series := splitImage(tenantOSImage(tc))
		return maas.DeployParams{OSystem: osystem, DistroSeries: series, UserData: userData,
			Comment: fmt.Sprintf("maas-gateway: %s node of TenantCluster %s/%s", pool, tc.Namespace, tc.Name)}, nil
	}
	return e, "", nil
}

// nodeConfig is what every node of the cluster is deployed with, before
// its role, system ID and labels are set.
func (r *TenantClusterReconciler) nodeConfig(ctx context.Context, tc *infrav1.TenantCluster, gw *infrav1.Gateway) (*bootstrap.NodeConfig, bool, error) {
	pki, err := r.ensurePKI(ctx, tc)
	if err != nil {
		return nil, false, err
	}
	if err := r.ensureKubeconfig(ctx, tc, pki); err != nil {
		return nil, false, err
	}
	hash, err := pki.CACertHash()
	if err != nil {
		return nil, false, fmt.Errorf("hashing the CA certificate of TenantCluster %s/%s: %w", tc.Namespace, tc.Name, err)
	}
	token, expires, pending, err := r.ensureToken(ctx, tc)
	if err != nil {
		return nil, false, err
	}
	env := gw.Spec.Environment
	// The cluster's own proxy, its credentials in its namespace; or the
	// gateway's, with the gateway's.
	proxy, err := proxyOf(ctx, r.Client, gw.Namespace, env.ProxySettings)
	if tc.Spec.Proxy != nil {
		proxy, err = proxyOf(ctx, r.Client, tc.Namespace, *tc.Spec.Proxy)
	}
	if err != nil {
		return nil, false, err
	}
	network := infrav1.ClusterNetwork{}
	if tc.Spec.Network != nil {
		network = *tc.Spec.Network
	}
	iface := tc.Spec.VIPInterface
	if iface == "" {
		iface = defaultVIPIface
	}
	return &bootstrap.NodeConfig{
		ClusterName:          tc.Name,
		KubernetesVersion:    tc.Spec.Profile.KubernetesVersion,
		ControlPlaneEndpoint: tc.Spec.ControlPlaneEndpoint,
		PodCIDR:              firstOf(network.PodCIDR, env.PodCIDR, defaultPodCIDR),
		ServiceCIDR:          firstOf(network.ServiceCIDR, env.ServiceCIDR, defaultServiceCIDR),
		Proxy:                proxy,
		Token:                token,
		// The init node creates the token in the new cluster: make it
		// expire when the stored one does.
		TokenTTL:         max(time.Until(expires).Round(time.Second), time.Second),
		CACertHashes:     []string{hash},
		PKI:              pki,
		AllowWorkloads:   tc.Spec.ControlPlane.AllowWorkloads,
		KubeVIPInterface: iface,
		Packages:         nodePackages(tc.Spec.Profile.NodePackages),
	}, pending, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// announce records an event per step taken.
func (r *TenantClusterReconciler) announce(tc *infrav1.TenantCluster, done executed, plan rollout.Result) {
	for _, id := range done.allocated {
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "MachineAllocated", "Allocate", "allocated machine %s", id)
	}
	for _, id := range done.deployed {
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "MachineDeploying", "Deploy", "deploying machine %s", id)
	}
	neverJoined := map[string]bool{}
	for _, a := range plan.Actions {
		if a.Kind == rollout.ActionRelease && a.Reason == rollout.ReasonJoinTimeout {
			neverJoined[a.SystemID] = true
		}
	}
	failed := map[string]bool{}
	for _, p := range plan.Pools {
		for _, id := range p.Failed {
			failed[id] = true
			if neverJoined[id] {
				r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "NodeNeverJoined", "Remediate",
					"machine %s of pool %s was deployed but its Node did not appear in the cluster within %s; it is released and replaced",
					id, p.Name, r.JoinTimeout)
				continue
			}
			r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "DeploymentFailed", "Deploy",
				"MAAS failed to deploy machine %s of pool %s; it is released and replaced", id, p.Name)
		}
	}
	unhealthy := map[string]string{}
	for _, a := range plan.Actions {
		if a.Kind == rollout.ActionRelease && a.Reason == rollout.ReasonUnhealthy {
			unhealthy[a.SystemID] = a.Pool
		}
	}
	for _, id := range done.released {
		switch pool, sick := unhealthy[id]; {
		case sick:
			timeout, _ := healthCheckOf(tc)
			r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "NodeUnhealthy", "Remediate",
				"machine %s of pool %s was released to be replaced: its Node was not Ready for more than %s", id, pool, timeout)
		case !failed[id]:
			r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "MachineReleased", "Release", "released machine %s", id)
		}
	}
	for pool, why := range done.noCapacity {
		r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "NoCapacity", "Allocate", "no MAAS machine for pool %s: %s", pool, why)
	}
}

// announceDeployed records an event for each machine newly Deployed.
func (r *TenantClusterReconciler) announceDeployed(tc *infrav1.TenantCluster, before []infrav1.MachineStatus) {
	was := map[string]string{}
	for _, m := range before {
		was[m.SystemID] = m.State
	}
	for _, m := range tc.Status.Machines {
		if m.State == "Deployed" && was[m.SystemID] != "Deployed" {
			r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "MachineDeployed", "Deploy",
				"machine %s (%s) of pool %s is deployed", m.SystemID, m.Hostname, m.Pool)
		}
	}
}

// SetupWithManager watches TenantClusters, the inventory's news of their
// machines, their CloudAccounts and Gateways, and the Secrets they own.
func (r *TenantClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.ForceDeleteAfter == 0 {
		r.ForceDeleteAfter = DefaultForceDeleteAfter
	}
	if r.CertificateKeyTTL == 0 {
		r.CertificateKeyTTL = bootstrap.DefaultCertificateKeyTTL
	}
	if r.TokenTTL == 0 {
		r.TokenTTL = bootstrap.DefaultTokenTTL
	}
	if r.Tokens == nil {
		if r.Clusters == nil {
			return errors.New("the TenantCluster controller needs a cluster cache or a token publisher")
		}
		r.Tokens = WorkloadTokenPublisher{Clusters: r.Clusters}
	}
	if r.WorkloadCheckInterval == 0 {
		r.WorkloadCheckInterval = DefaultWorkloadCheckInterval
	}
	if r.RequeueInterval == 0 {
		r.RequeueInterval = 30 * time.Second
	}
	if r.ReleaseCheckInterval == 0 {
		r.ReleaseCheckInterval = maas.DefaultPollInterval
	}
	if r.MaxConcurrentReconciles == 0 {
		r.MaxConcurrentReconciles = 10
	}
	r.capacity.base, r.capacity.max = r.CapacityBackoff, r.CapacityBackoffMax
	r.releaseRetries.base, r.releaseRetries.max = r.CapacityBackoff, r.CapacityBackoffMax
	if r.JoinTimeout == 0 {
		r.JoinTimeout = DefaultTenantJoinTimeout
	}
	if r.KubeconfigValidity == 0 {
		r.KubeconfigValidity = bootstrap.DefaultAdminKubeconfigValidity
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.WorkloadEvents != nil {
		b = b.WatchesRawSource(source.Channel(r.WorkloadEvents, &handler.EnqueueRequestForObject{}))
	}
	return b.
		// Not Owns(&corev1.Secret{}): that would cache every Secret of the
		// cluster. A deleted or rewritten kubeconfig Secret is written
		// again by the cluster's next reconcile (ensureKubeconfig).
		For(&infrav1.TenantCluster{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, lostState()))).
		Watches(&infrav1.CloudAccount{}, handler.EnqueueRequestsFromMapFunc(r.clustersOfAccount), builder.WithPredicates(readinessChanged())).
		Watches(&infrav1.Gateway{}, handler.EnqueueRequestsFromMapFunc(r.clustersOfGateway), builder.WithPredicates(upgradingChanged())).
		Watches(&infrav1.ClusterProfile{}, handler.EnqueueRequestsFromMapFunc(r.clustersOfProfile), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.Inventory.Events(tenantKind), machineNews())).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("tenantcluster").
		Complete(r)
}

func (r *TenantClusterReconciler) clustersOfProfile(ctx context.Context, o client.Object) []ctrl.Request {
	list := &infrav1.TenantClusterList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{dependents.ProfileRefField: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing TenantClusters of a ClusterProfile", "clusterProfile", client.ObjectKeyFromObject(o))
		return nil
	}
	return requestsOf(list.Items)
}

func (r *TenantClusterReconciler) clustersOfAccount(ctx context.Context, o client.Object) []ctrl.Request {
	return r.clustersUsing(ctx, []types.NamespacedName{client.ObjectKeyFromObject(o)})
}

func (r *TenantClusterReconciler) clustersOfGateway(ctx context.Context, o client.Object) []ctrl.Request {
	accounts, err := r.Finder.CloudAccountsOf(ctx, client.ObjectKeyFromObject(o))
	if err != nil {
		logf.FromContext(ctx).Error(err, "listing CloudAccounts of a Gateway", "gateway", client.ObjectKeyFromObject(o))
		return nil
	}
	return r.clustersUsing(ctx, accounts)
}

func (r *TenantClusterReconciler) clustersUsing(ctx context.Context, accounts []types.NamespacedName) []ctrl.Request {
	var reqs []ctrl.Request
	for _, a := range accounts {
		list := &infrav1.TenantClusterList{}
		if err := r.List(ctx, list, client.InNamespace(a.Namespace), client.MatchingFields{dependents.CloudAccountRefField: a.Name}); err != nil {
			logf.FromContext(ctx).Error(err, "listing TenantClusters of a CloudAccount", "cloudAccount", a)
			continue
		}
		reqs = append(reqs, requestsOf(list.Items)...)
	}
	return reqs
}

// readinessChanged passes CloudAccount changes of generation or of the
// Ready condition, not the periodic revalidations in between.
func readinessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*infrav1.CloudAccount), e.ObjectNew.(*infrav1.CloudAccount)
			return o.Generation != n.Generation ||
				meta.IsStatusConditionTrue(o.Status.Conditions, infrav1.ConditionReady) != meta.IsStatusConditionTrue(n.Status.Conditions, infrav1.ConditionReady)
		},
	}
}

// upgradingChanged passes Gateway changes of the Upgrading condition (which
// queues and releases new clusters) and of the environment clusters inherit.
func upgradingChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*infrav1.Gateway), e.ObjectNew.(*infrav1.Gateway)
			return o.Generation != n.Generation ||
				meta.IsStatusConditionTrue(o.Status.Conditions, infrav1.GatewayUpgrading) != meta.IsStatusConditionTrue(n.Status.Conditions, infrav1.GatewayUpgrading)
		},
	}
}
