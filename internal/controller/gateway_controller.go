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
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

const (
	// GatewayFinalizer keeps a Gateway until no TenantCluster depends on it
	// and the machines it allocated are released.
	GatewayFinalizer = "infra.maasgateway.io/gateway"

	gatewayKind = "Gateway"
	// gatewayPool is the name of the gateway's single pool of nodes.
	gatewayPool = "gateway"
	// defaultOSImage is deployed when the gateway names no release.
	defaultOSImage = "ubuntu/jammy"
	// tokenRenewBefore is how long before expiry a bootstrap token is replaced,
	// so a node deploying for the usual 5–20 minutes can still join with it.
	tokenRenewBefore = 45 * time.Minute
	// allocatedRequeue is how soon a reconcile that allocated comes back to deploy.
	allocatedRequeue = 100 * time.Millisecond
	// firstPollRequeue is how soon a gateway waiting for the inventory's
	// first list looks again: that list wakes only objects owning machines.
	firstPollRequeue = time.Second
)

// GatewayReconciler manages the gateway cluster's own nodes as MAAS machines,
// and its default CloudAccount.
type GatewayReconciler struct {
	client.Client
	Recorder  Recorder
	Inventory OwnerInventory
	Finder    dependents.Finder
	// Proxy is given the gateway's proxy settings, with their credentials,
	// for the packs' chart downloads; nil for none.
	Proxy *GatewayProxy
	// Nodes takes the gateway's own nodes out of its cluster before their
	// machines are released.
	Nodes GatewayNodes
	// ClusterVersion is the Kubernetes version of the gateway cluster, which
	// joining nodes install unless the release names another.
	ClusterVersion func(ctx context.Context) (string, error)
	// JoinTimeout is how long a deployed machine may take to join as a Ready
	// Node before it is replaced.
	JoinTimeout time.Duration
	// TokenTTL is the lifetime of the bootstrap tokens nodes join with.
	TokenTTL time.Duration
	// RequeueInterval is the safety net while machines are on their way;
	// inventory and Node events normally come first.
	RequeueInterval time.Duration
	// Catalog is the ConfigMap holding the release catalog (key
	// releases.yaml); empty Name for none.
	Catalog types.NamespacedName
	// CapacityBackoff and CapacityBackoffMax are as the TenantCluster
	// controller's: how long the gateway's pool waits after MAAS found no
	// machine for it.
	CapacityBackoff, CapacityBackoffMax time.Duration

	vips vipKeeper
	// capacity holds the gateway's pool while MAAS has no machine for it.
	capacity capacityBackoff
	// releaseRetries paces the releases asked again of machines whose
	// release MAAS keeps failing.
	releaseRetries releaseRetries
}

// Every verb below is justified in the README ("What the manager may do").
// The release catalog ConfigMap is read with the Role of the release's
// namespace (config/rbac/leader_election_role.yaml), not cluster-wide.
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=gateways,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=gateways/status,verbs=update
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=gateways/finalizers,verbs=update
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=cloudaccounts,verbs=create
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list
// +kubebuilder:rbac:groups="",resources=pods/eviction,verbs=create
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=list
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update

// Reconcile brings the gateway's nodes to spec.replicas.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// The gateway's own resize and upgrade draw on the share of the MAAS
	// request rate kept for them: tenants saturating the endpoint's limit
	// never starve the cluster the operator runs in.
	ctx = maas.WithPriority(ctx)
	gw := &infrav1.Gateway{}
	if err := r.Get(ctx, req.NamespacedName, gw); err != nil {
		if apierrors.IsNotFound(err) {
			r.capacity.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if paused, err := syncPaused(ctx, r.Client, gw, &gw.Status.Conditions, pauseOf(gw), nil); paused || err != nil {
		return ctrl.Result{}, err
	}
	if !gw.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, gw)
	}
	if controllerutil.AddFinalizer(gw, GatewayFinalizer) {
		if err := r.Update(ctx, gw); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.publishProxy(ctx, gw)
	account, err := r.ensureDefaultAccount(ctx, gw)
	if err != nil {
		return ctrl.Result{}, err
	}

	before := gw.Status.DeepCopy()
	result, err := r.reconcileNodes(ctx, gw, account)
	gw.Status.ObservedGeneration = gw.Generation
	gw.Status.DefaultCloudAccount = account.Name
	gw.Status.Selector = infrav1.LabelGateway + "=" + gw.Name
	summarizeGateway(gw)
	if !equalStatus(before, &gw.Status) {
		if uerr := r.Status().Update(ctx, gw); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	return result, err
}

// ensureDefaultAccount creates the gateway's default CloudAccount, owned by
// it, and keeps its MAAS connection the gateway's.
func (r *GatewayReconciler) ensureDefaultAccount(ctx context.Context, gw *infrav1.Gateway) (*infrav1.CloudAccount, error) {
	account := &infrav1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: DefaultAccountName(gw)}}
	op, err := controllerutil.CreateOrUpdate(ctx, r.Client, account, func() error {
		if account.Labels == nil {
			account.Labels = map[string]string{}
		}
		account.Labels[infrav1.LabelGateway] = gw.Name
		account.Spec.GatewayRef = infrav1.GatewayReference{Name: gw.Name}
		account.Spec.MAASConnection = gw.Spec.MAAS
		return controllerutil.SetControllerReference(gw, account, r.Scheme())
	})
	if err != nil {
		return nil, fmt.Errorf("default CloudAccount %s: %w", account.Name, err)
	}
	if op == controllerutil.OperationResultCreated {
		r.Recorder.Eventf(gw, account, corev1.EventTypeNormal, "CloudAccountCreated", "Create",
			"created the default CloudAccount %s for the gateway's MAAS", account.Name)
	}
	return account, nil
}

// DefaultAccountName is the name of a Gateway's default CloudAccount.
func DefaultAccountName(gw *infrav1.Gateway) string { return gw.Name + "-default" }

// gatewayView is what one reconcile observed of the gateway's nodes.
type gatewayView struct {
	account string
	snap    *maas.Snapshot
	owned   []maas.Machine
	// nodes by MAAS system ID.
	nodes map[string]*corev1.Node
	// adopted are the records of the machines named in spec.adoptMachines.
	adopted []infrav1.GatewayNode
	// release the nodes are to run.
	release infrav1.Release
}

func (r *GatewayReconciler) reconcileNodes(ctx context.Context, gw *infrav1.Gateway, account *infrav1.CloudAccount) (ctrl.Result, error) {
	ready := meta.FindStatusCondition(account.Status.Conditions, infrav1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		reason, msg := infrav1.ReasonCloudAccountNotReady, "waiting for the default CloudAccount "+account.Name+" to be validated"
		if ready != nil {
			reason, msg = ready.Reason, "default CloudAccount "+account.Name+": "+ready.Message
		}
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayMAASReachable, metav1.ConditionFalse, reason, msg)
		return ctrl.Result{}, nil // the account's status change brings us back
	}
	key := AccountKey(client.ObjectKeyFromObject(account))
	snap, ok := r.Inventory.Snapshot(key)
	if !ok || snap.PolledAt.IsZero() {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayMAASReachable, metav1.ConditionUnknown, infrav1.ReasonPolling, "waiting for the first list of machines from MAAS")
		return ctrl.Result{RequeueAfter: firstPollRequeue}, nil
	}
	if snap.Err != nil {
		// Acting on a stale list could allocate twice: wait for MAAS.
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayMAASReachable, metav1.ConditionFalse, infrav1.ReasonUnreachable, maasUnreachable(snap.Err))
		return ctrl.Result{RequeueAfter: r.RequeueInterval}, nil
	}
	setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayMAASReachable, metav1.ConditionTrue, infrav1.ReasonValid, "MAAS answers")

	rel, err := r.resolveRelease(ctx, gw)
	if err != nil {
		return ctrl.Result{}, err
	}
	template := gatewayTemplate(gw, rel.target)
	view, err := r.observe(ctx, gw, key, snap, template, rel.target)
	if err != nil {
		return ctrl.Result{}, err
	}
	pool, machines := gatewayPlannerInput(gw, view, template, r.Nodes.Outside)
	if !r.Nodes.SkipEtcd {
		r.requireVotingMembers(ctx, gw, view, pool, machines)
	}
	if err := r.rolloutPool(ctx, gw, key, &pool, machines, rel); err != nil {
		return ctrl.Result{}, err
	}
	plan, err := rollout.Plan([]rollout.Pool{pool}, machines, rollout.Options{Now: time.Now(), JoinTimeout: r.JoinTimeout})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("planning the gateway's nodes: %w", err)
	}

	var done executed
	actions, retiring, err := r.retireAdopted(ctx, gw, view, plan.Actions)
	if err != nil {
		return ctrl.Result{}, err
	}
	actions = r.holdGatewayVIP(ctx, gw, key, actions)
	if len(actions) > 0 {
		exec, blocked := r.executor(ctx, gw, key, snap, view)
		if blocked != "" && (hasKind(actions, rollout.ActionDeploy) || hasKind(actions, rollout.ActionAllocate)) {
			// A machine that cannot join is not worth taking from MAAS.
			setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayResized, metav1.ConditionFalse, infrav1.ReasonCannotJoin, blocked)
			actions = slices.DeleteFunc(actions, func(a rollout.Action) bool {
				return a.Kind == rollout.ActionDeploy || a.Kind == rollout.ActionAllocate
			})
		}
		done, err = exec.run(ctx, actions)
		r.announce(gw, done)
	}
	leaving := append(retiring, done.waiting...)
	r.nodesDrained(gw, leaving)
	after := snapshotAfter(r.Inventory, key, snap)
	nodes, releasing, relErr := r.withReleasingNodes(ctx, gw, key, after, gatewayNodes(gw, view, after), done.released)
	gw.Status.Nodes, err = nodes, errors.Join(err, relErr)
	gw.Status.ReadyReplicas = 0
	for _, n := range gw.Status.Nodes {
		if n.Ready {
			gw.Status.ReadyReplicas++
		}
	}
	summary := untilLeft(plan.Pools[0], leaving)
	gw.Status.FailedDeployments += int32(done.failedDeployments)
	resized(gw, summary, done)
	r.waitingForMove(gw)
	r.recordRollout(gw, summary, done, rel, machines)
	ids := make([]string, 0, len(machines))
	for _, m := range machines {
		// A machine released in this pass left the cluster (its Node was
		// removed first), though this reconcile observed it: its kubelet
		// no longer runs. Counting it made the status that announces a
		// completed upgrade still list the old version.
		if !slices.Contains(done.released, m.SystemID) {
			ids = append(ids, m.SystemID)
		}
	}
	gw.Status.Components = components(view.nodes, ids)
	r.upgradeConditions(gw, rel)
	if cerr := r.clearRetry(ctx, gw); cerr != nil {
		return ctrl.Result{}, cerr
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.syncCertificateKey(ctx, gw, view, ownedBy(after, gatewayKind, gw)); err != nil {
		return ctrl.Result{}, fmt.Errorf("the gateway's certificate key: %w", err)
	}
	if len(done.allocated) > 0 {
		// A machine allocated now is deployed on the next pass; nothing else
		// would wake this controller (its own status writes do not).
		return ctrl.Result{RequeueAfter: allocatedRequeue}, nil
	}
	// A machine on its way back to MAAS: the inventory tells of its
	// changes; the requeue is the safety net.
	if !summary.Done || len(actions) > 0 || releasing {
		return ctrl.Result{RequeueAfter: done.requeue(r.RequeueInterval, time.Now())}, nil
	}
	return ctrl.Result{}, nil
}

// gatewayPlannerInput is the gateway's single pool and its machines, owned
// and adopted, as the planner sees them (readiness from their Nodes).
// From outside the gateway cluster (outside) only its first node is.
func gatewayPlannerInput(gw *infrav1.Gateway, view *gatewayView, template string, outside bool) (rollout.Pool, []rollout.Machine) {
	pool := rollout.Pool{
		Name:          gatewayPool,
		Kind:          rollout.KindControlPlane,
		Size:          int(gw.Spec.Replicas),
		Template:      template,
		Strategy:      rollout.ExpandFirst,
		MinReady:      int(gw.Spec.Replicas) - 1,
		NodeReadiness: true,
		Initialised:   gatewayInitialised(gw, view.owned),
		MaxFailures:   1 << 20, // halting belongs to upgrades; a resize keeps trying
	}
	if outside {
		pool.Size = 1
	}
	if pool.MinReady < 1 || outside {
		pool.MinReady = 1
	}
	if gw.Spec.Placement.Zone != "" {
		pool.Zones = []string{gw.Spec.Placement.Zone}
	}
	machines := make([]rollout.Machine, 0, len(view.owned)+len(view.adopted))
	for _, m := range view.owned {
		machines = append(machines, plannerMachine(m, nodeState(view.nodes[m.SystemID])))
	}
	for i, a := range view.adopted {
		machines = append(machines, rollout.Machine{
			SystemID: a.SystemID, Pool: gatewayPool, Slot: i, Zone: a.Zone, Template: a.Template,
			State: rollout.StateDeployed, Status: "Deployed", Node: nodeState(view.nodes[a.SystemID]),
		})
	}
	return pool, machines
}

// untilLeft keeps a pool's summary not Done while nodes wait to leave. The
// plan counts a node it releases as gone, but one whose drain or etcd
// member waits still serves: neither the resize nor the upgrade is over
// until it has left the cluster.
func untilLeft(s rollout.PoolSummary, leaving []string) rollout.PoolSummary {
	if len(leaving) > 0 {
		s.Done = false
		s.Waiting = "a node waits to leave the cluster: " + leaving[0]
	}
	return s
}

func hasKind(actions []rollout.Action, k rollout.ActionKind) bool {
	return slices.ContainsFunc(actions, func(a rollout.Action) bool { return a.Kind == k })
}

// observe reads the gateway's machines from the inventory, the adopted
// machines from MAAS (once: their record is kept in status), and the Nodes.
func (r *GatewayReconciler) observe(ctx context.Context, gw *infrav1.Gateway, key string, snap *maas.Snapshot, template string, release infrav1.Release) (*gatewayView, error) {
	v := &gatewayView{account: key, snap: snap, owned: ownedBy(snap, gatewayKind, gw), nodes: map[string]*corev1.Node{}, release: release}
	for _, id := range gw.Spec.AdoptMachines {
		if slices.Contains(gw.Status.RetiredMachines, id) {
			continue
		}
		i := slices.IndexFunc(gw.Status.Nodes, func(n infrav1.GatewayNode) bool { return n.SystemID == id && n.Hostname != "" })
		if i >= 0 {
			rec := gw.Status.Nodes[i]
			if rec.Template == "" {
				rec.Template = template // adopted before templates were recorded
			}
			v.adopted = append(v.adopted, rec)
			continue
		}
		m, err := r.Inventory.Machine(ctx, key, id)
		if err != nil {
			return nil, fmt.Errorf("reading adopted machine %s: %w", id, err)
		}
		rec := infrav1.GatewayNode{MachineStatus: machineStatus(m), Adopted: true}
		rec.Pool = gatewayPool
		// An adopted node runs what the gateway was installed with: it is
		// current until the release changes.
		rec.Template = template
		v.adopted = append(v.adopted, rec)
	}

	nodes, err := r.gatewayNodeList(ctx, gw, release)
	if err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	byHost := map[string]string{}
	for _, a := range v.adopted {
		byHost[a.Hostname] = a.SystemID
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if id := systemIDOf(n); id != "" {
			v.nodes[id] = n
		} else if id, ok := byHost[n.Name]; ok {
			v.nodes[id] = n
		}
	}
	return v, nil
}

// systemIDOf is the MAAS system ID a Node says it runs on.
func systemIDOf(n *corev1.Node) string {
	if id := n.Labels[infrav1.LabelSystemID]; id != "" {
		return id
	}
	if id, ok := strings.CutPrefix(n.Spec.ProviderID, "maas://"); ok {
		return strings.TrimPrefix(id, "/")
	}
	return ""
}

// gatewayTemplate names what the gateway's nodes are deployed with.
func gatewayTemplate(gw *infrav1.Gateway, release infrav1.Release) string {
	p := gw.Spec.Placement
	return templateHash(release, p.ResourcePool, p.MachineConstraints)
}

// osImage is the image gateway nodes are deployed with.
func osImage(release infrav1.Release) string {
	if release.OSImage != "" {
		return release.OSImage
	}
	return defaultOSImage
}

// executor prepares the steps on the gateway's machines. blocked says why
// no machine can be deployed to join the gateway yet ("" when one can).
func (r *GatewayReconciler) executor(ctx context.Context, gw *infrav1.Gateway, key string, snap *maas.Snapshot, view *gatewayView) (*poolExecutor, string) {
	e := &poolExecutor{
		inv:      r.Inventory,
		account:  key,
		owner:    maas.Owner{Kind: gatewayKind, Namespace: gw.Namespace, Name: gw.Name, UID: infrav1.IdentityUID(gw)},
		snap:     snap,
		capacity: &r.capacity,
		constraints: func(string) maas.Constraints {
			p := gw.Spec.Placement
			return constraintsOf(p.Zone, p.ResourcePool, p.MachineConstraints)
		},
		template: func(string) string { return gatewayTemplate(gw, view.release) },
		domain:   gw.Spec.Placement.Domain,
		// Every gateway node is a control plane: its disks hold the
		// gateway's CA keys and etcd, where every tenant's keys live.
		erase: func(string) infrav1.DiskErase { return infrav1.DiskEraseQuick },
		beforeRelease: func(ctx context.Context, systemID string) error {
			victim, ok := findMachine(view.owned, systemID)
			node := view.nodes[systemID]
			if !ok || (victim.Status != maas.StatusDeployed && node == nil) {
				// Never deployed, or not any more: nothing of it is in the cluster.
				return nil
			}
			staying := stayingAddresses(gatewayMembers(view.owned, view.adopted), systemID)
			return r.leaveGateway(ctx, gw, victim, node, staying)
		},
		assignSlot: func(ctx context.Context, systemID string, slot int) error {
			owner := maas.Owner{Kind: gatewayKind, Namespace: gw.Namespace, Name: gw.Name, UID: infrav1.IdentityUID(gw),
				Pool: gatewayPool, Slot: fmt.Sprint(slot), Template: gatewayTemplate(gw, view.release)}
			_, err := r.Inventory.Adopt(ctx, key, systemID, owner)
			return err
		},
	}
	join, blocked := r.joinConfig(ctx, gw, view.release)
	if !gatewayInitialised(gw, view.owned) {
		// The first node creates the cluster: it joins nothing.
		blocked = ""
	}
	e.deploy = func(ctx context.Context, m maas.Machine, role rollout.Role) (maas.DeployParams, error) {
		if role == rollout.RoleInit {
			return r.initParams(ctx, gw, key, m, view)
		}
		if join == nil {
			return maas.DeployParams{}, fmt.Errorf("cannot join: %s", blocked)
		}
		key, err := r.certificateKey(ctx, gw, join)
		if err != nil {
			return maas.DeployParams{}, fmt.Errorf("a node joins only once the gateway cluster holds its keys for it: %w", err)
		}
		cfg := join.node
		cfg.CertificateKey = key
		cfg.SystemID = m.SystemID
		return r.deployParams(gw, view, cfg)
	}
	return e, blocked
}

// deployParams deploys a gateway node with the user data of cfg.
func (r *GatewayReconciler) deployParams(gw *infrav1.Gateway, view *gatewayView, cfg bootstrap.NodeConfig) (maas.DeployParams, error) {
	userData, err := bootstrap.Render(cfg)
	if err != nil {
		return maas.DeployParams{}, fmt.Errorf("rendering user data: %w", err)
	}
	osystem, series := splitImage(osImage(view.release))
	return maas.DeployParams{OSystem: osystem, DistroSeries: series, UserData: userData,
		Comment: fmt.Sprintf("maas-gateway: node of Gateway %s/%s", gw.Namespace, gw.Name)}, nil
}

// joinConfig is what a node joining the gateway cluster as a control-plane
// member is deployed with, or why there can be none yet.
func (r *GatewayReconciler) joinConfig(ctx context.Context, gw *infrav1.Gateway, release infrav1.Release) (*gatewayJoin, string) {
	pki, version, blocked := r.gatewayAccess(ctx, gw, release)
	if blocked != "" {
		return nil, blocked
	}
	hash, err := pki.CACertHash()
	if err != nil {
		return nil, "the gateway's CA certificate: " + err.Error()
	}
	node, err := r.nodeConfig(ctx, gw, version)
	if err != nil {
		return nil, err.Error()
	}
	// No PKI: the keys reach a joining node through kubeadm-certs
	// (gateway_certs.go), never through MAAS.
	node.Role, node.CACertHashes = bootstrap.RoleJoinControlPlane, []string{hash}
	return &gatewayJoin{pki: pki, node: node}, ""
}

// nodeConfig is what every node of gw is deployed with, whatever its role:
// the cluster's endpoint, ranges and proxies, and the bootstrap token.
func (r *GatewayReconciler) nodeConfig(ctx context.Context, gw *infrav1.Gateway, version string) (bootstrap.NodeConfig, error) {
	token, err := r.ensureToken(ctx, gw)
	if err != nil {
		return bootstrap.NodeConfig{}, fmt.Errorf("bootstrap token: %w", err)
	}
	env := gw.Spec.Environment
	proxy, err := proxyOf(ctx, r.Client, gw.Namespace, env.ProxySettings)
	if err != nil {
		return bootstrap.NodeConfig{}, err
	}
	return bootstrap.NodeConfig{
		ClusterName:          gw.Name,
		KubernetesVersion:    version,
		ControlPlaneEndpoint: gw.Spec.ControlPlaneEndpoint,
		PodCIDR:              env.PodCIDR,
		ServiceCIDR:          env.ServiceCIDR,
		Proxy:                proxy,
		Token:                token,
		Labels:               map[string]string{infrav1.LabelGateway: gw.Name},
		KubeVIPInterface:     gw.Spec.VIPInterface,
	}, nil
}

// gatewayAccess is the gateway cluster's PKI and the Kubernetes version its
// joining nodes install, or why they are not known yet.
func (r *GatewayReconciler) gatewayAccess(ctx context.Context, gw *infrav1.Gateway, release infrav1.Release) (*bootstrap.ClusterPKI, string, string) {
	if gw.Spec.ControlPlaneEndpoint == "" {
		return nil, "", "spec.controlPlaneEndpoint (the gateway's API server VIP) must be set for nodes to join"
	}
	pki, missing, err := r.gatewayPKI(ctx, gw)
	if err != nil {
		return nil, "", err.Error()
	}
	if missing != "" {
		return nil, "", missing
	}
	version := release.KubernetesVersion
	if version == "" {
		if version, err = r.ClusterVersion(ctx); err != nil {
			return nil, "", "reading the gateway's Kubernetes version: " + err.Error()
		}
	}
	return pki, version, ""
}

// gatewayPKI reads the gateway cluster's CAs and service-account key, which
// new control-plane members need. They come from the first node's
// /etc/kubernetes/pki (see the README); missing says which Secret is absent.
func (r *GatewayReconciler) gatewayPKI(ctx context.Context, gw *infrav1.Gateway) (*bootstrap.ClusterPKI, string, error) {
	data := map[bootstrap.SecretPurpose]map[string][]byte{}
	for _, p := range []bootstrap.SecretPurpose{bootstrap.PurposeCA, bootstrap.PurposeEtcd, bootstrap.PurposeFrontProxy, bootstrap.PurposeServiceAccount} {
		s := &corev1.Secret{}
		name := bootstrap.SecretName(gw.Name, p)
		if err := r.Get(ctx, types.NamespacedName{Namespace: gw.Namespace, Name: name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Sprintf("Secret %s/%s with the gateway cluster's %s key pair is missing (see the README: resizing a gateway)", gw.Namespace, name, p), nil
			}
			return nil, "", err
		}
		data[p] = s.Data
	}
	pki, err := bootstrap.PKIFromSecretData(data)
	if err != nil {
		return nil, "", fmt.Errorf("the gateway's PKI Secrets: %w", err)
	}
	return pki, "", nil
}

// ensureToken returns a bootstrap token of the gateway cluster valid long
// enough for a node to deploy and join, creating one when there is none.
// The token lives in kube-system, where kubeadm looks for it. Which token is
// current is kept in a Secret of the gateway's own (<gateway>-bootstrap-token,
// next to the Gateway), because the manager may only read Secrets it can name:
// listing kube-system's would hand it every credential the cluster keeps there.
func (r *GatewayReconciler) ensureToken(ctx context.Context, gw *infrav1.Gateway) (bootstrap.BootstrapToken, error) {
	now := time.Now()
	key := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name + "-bootstrap-token"}
	record := &corev1.Secret{}
	err := r.Get(ctx, key, record)
	found := err == nil
	switch {
	case found:
		exp, perr := time.Parse(time.RFC3339, string(record.Data[tokenExpiryKey]))
		t, terr := bootstrap.ParseBootstrapToken(string(record.Data[tokenSecretKey]))
		if perr == nil && terr == nil && exp.After(now.Add(tokenRenewBefore)) {
			// Still there unless someone deleted it (the token cleaner
			// removes expired tokens only): put it back then.
			return t, r.publishToken(ctx, gw, t, exp, now)
		}
	case !apierrors.IsNotFound(err):
		return bootstrap.BootstrapToken{}, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	t, err := bootstrap.GenerateBootstrapToken()
	if err != nil {
		return bootstrap.BootstrapToken{}, err
	}
	exp := now.Add(r.TokenTTL).UTC().Truncate(time.Second)
	data := map[string][]byte{tokenSecretKey: []byte(t.Value()), tokenExpiryKey: []byte(exp.Format(time.RFC3339))}
	// The record first: a crash before the token reaches kube-system leaves a
	// record the next reconcile publishes, never a token nobody knows of.
	if found {
		record.Data = data
		if err := r.Update(ctx, record); err != nil {
			return bootstrap.BootstrapToken{}, fmt.Errorf("renewing the bootstrap token in Secret %s: %w", key, err)
		}
	} else {
		record = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{infrav1.LabelGateway: gw.Name}},
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}
		if err := controllerutil.SetControllerReference(gw, record, r.Scheme()); err != nil {
			return bootstrap.BootstrapToken{}, err
		}
		if err := r.Create(ctx, record); err != nil {
			return bootstrap.BootstrapToken{}, fmt.Errorf("creating Secret %s: %w", key, err)
		}
	}
	if err := r.publishToken(ctx, gw, t, exp, now); err != nil {
		return bootstrap.BootstrapToken{}, err
	}
	r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "TokenCreated", "Create",
		"created bootstrap token %s for joining nodes, valid until %s", t.ID(), exp.Format(time.RFC3339))
	return t, nil
}

// publishToken makes sure the bootstrap-token Secret of t is in kube-system.
// From outside the gateway cluster there is none to publish it in: the
// first node's kubeadm init creates it there.
func (r *GatewayReconciler) publishToken(ctx context.Context, gw *infrav1.Gateway, t bootstrap.BootstrapToken, exp, now time.Time) error {
	if r.Nodes.Outside {
		return nil
	}
	ts, err := t.Secret(exp.Sub(now), now)
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: ts.Namespace, Name: ts.Name}
	switch err := r.Get(ctx, key, &corev1.Secret{}); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading bootstrap token %s: %w", t.ID(), err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ts.Namespace, Name: ts.Name, Labels: map[string]string{infrav1.LabelGateway: gw.Name}},
		Type:       ts.Type,
		Data:       ts.Data,
	}
	if err := r.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating bootstrap token %s in %s: %w", t.ID(), ts.Namespace, err)
	}
	return nil
}

func splitImage(image string) (osystem, series string) {
	if o, s, ok := strings.Cut(image, "/"); ok {
		return o, s
	}
	return "", image
}

// gatewayNodes is status.nodes: the adopted machines and the owned ones.
func gatewayNodes(gw *infrav1.Gateway, v *gatewayView, snap *maas.Snapshot) []infrav1.GatewayNode {
	var out []infrav1.GatewayNode
	add := func(rec infrav1.GatewayNode) {
		if n := v.nodes[rec.SystemID]; n != nil {
			rec.NodeName = n.Name
			rec.Ready = nodeState(n) == rollout.NodeReady
		}
		out = append(out, rec)
	}
	for _, a := range v.adopted {
		add(a)
	}
	for _, m := range ownedBy(snap, gatewayKind, gw) {
		add(infrav1.GatewayNode{MachineStatus: machineStatus(m)})
	}
	slices.SortFunc(out, func(a, b infrav1.GatewayNode) int { return strings.Compare(a.SystemID, b.SystemID) })
	return out
}

// announce records an event per step taken.
func (r *GatewayReconciler) announce(gw *infrav1.Gateway, done executed) {
	for _, id := range done.allocated {
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "MachineAllocated", "Allocate", "allocated machine %s for a gateway node", id)
	}
	for _, id := range done.deployed {
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "MachineDeploying", "Deploy", "deploying machine %s to join the gateway", id)
	}
	for _, id := range done.released {
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "MachineReleased", "Release", "released machine %s", id)
	}
	for pool, why := range done.noCapacity {
		r.Recorder.Eventf(gw, nil, corev1.EventTypeWarning, "NoCapacity", "Allocate", "no MAAS machine for pool %s: %s", pool, why)
	}
}

// resized sets the Resized condition from the plan's summary.
func resized(gw *infrav1.Gateway, s rollout.PoolSummary, done executed) {
	if why, ok := done.noCapacity[gatewayPool]; ok {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayResized, metav1.ConditionFalse, infrav1.ReasonNoCapacity,
			"MAAS has no machine matching the gateway's placement: "+why)
		return
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayResized); c != nil && c.Reason == infrav1.ReasonCannotJoin && c.ObservedGeneration == gw.Generation && !s.Done {
		return
	}
	if (s.Done || gw.Status.Upgrade != nil) && gw.Status.ReadyReplicas >= gw.Spec.Replicas {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayResized, metav1.ConditionTrue, infrav1.ReasonResized,
			fmt.Sprintf("%d of %d nodes Ready", gw.Status.ReadyReplicas, gw.Spec.Replicas))
		return
	}
	msg := fmt.Sprintf("%d of %d nodes Ready", gw.Status.ReadyReplicas, gw.Spec.Replicas)
	if s.Waiting != "" {
		msg += "; " + s.Waiting
	}
	setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayResized, metav1.ConditionFalse, infrav1.ReasonResizing, msg)
}

// summarizeGateway sets phase and Ready from the other conditions.
func summarizeGateway(gw *infrav1.Gateway) {
	reach := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayMAASReachable)
	size := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayResized)
	upgrading := meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayUpgrading)
	switch {
	case upgrading && gw.Status.ReadyReplicas > 0:
		gw.Status.Phase = infrav1.GatewayPhaseUpgrading
		c := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayUpgrading)
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonUpgrading,
			fmt.Sprintf("%d of %d nodes Ready; %s", gw.Status.ReadyReplicas, gw.Spec.Replicas, c.Message))
		return
	case size != nil && size.Status == metav1.ConditionTrue:
		gw.Status.Phase = infrav1.GatewayPhaseReady
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonReady, size.Message)
		return
	case gw.Status.ReadyReplicas == 0:
		gw.Status.Phase = infrav1.GatewayPhaseProvisioning
	case gw.Status.ReadyReplicas < gw.Spec.Replicas && len(gw.Status.Nodes) > int(gw.Status.ReadyReplicas):
		gw.Status.Phase = infrav1.GatewayPhaseResizing
	default:
		gw.Status.Phase = infrav1.GatewayPhaseDegraded
	}
	reason, msg := infrav1.ReasonNotReady, fmt.Sprintf("%d of %d gateway nodes Ready; status.nodes shows each node's state", gw.Status.ReadyReplicas, gw.Spec.Replicas)
	if reach != nil && reach.Status != metav1.ConditionTrue {
		reason, msg = reach.Reason, reach.Message
	} else if size != nil {
		reason, msg = size.Reason, size.Message
	}
	setCondition(&gw.Status.Conditions, gw.Generation, infrav1.ConditionReady, metav1.ConditionFalse, reason, msg)
}

// SetupWithManager watches Gateways, their default CloudAccounts, the Nodes
// that carry their label, and the inventory's news of their machines.
func (r *GatewayReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.JoinTimeout == 0 {
		r.JoinTimeout = 45 * time.Minute
	}
	if r.TokenTTL == 0 {
		r.TokenTTL = 2 * time.Hour
	}
	if r.RequeueInterval == 0 {
		r.RequeueInterval = 30 * time.Second
	}
	r.capacity.base, r.capacity.max = r.CapacityBackoff, r.CapacityBackoffMax
	r.releaseRetries.base, r.releaseRetries.max = r.CapacityBackoff, r.CapacityBackoffMax
	b := ctrl.NewControllerManagedBy(mgr).
		For(&infrav1.Gateway{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, lostState()))).
		Owns(&infrav1.CloudAccount{}).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfNode), builder.WithPredicates(nodeReadinessChanged())).
		WatchesRawSource(source.Channel(r.Inventory.Events(gatewayKind), machineNews()))
	if r.Catalog.Name != "" {
		// A helm upgrade that publishes a release is announced at once.
		b = b.Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.gatewaysOfCatalog))
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Named("gateway").
		Complete(r)
}

// gatewaysOfNode maps a Node (or the catalog) to the Gateways of its
// namespace-less world: there is one Gateway per cluster, so every Gateway
// is asked.
func (r *GatewayReconciler) gatewaysOfNode(ctx context.Context, _ client.Object) []ctrl.Request {
	list := &infrav1.GatewayList{}
	if err := r.List(ctx, list); err != nil {
		return nil
	}
	return requestsOf(list.Items)
}

// nodeReadinessChanged passes Node creations, deletions and changes of
// readiness or identity, not the heartbeats in between.
func nodeReadinessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*corev1.Node), e.ObjectNew.(*corev1.Node)
			return nodeState(o) != nodeState(n) || systemIDOf(o) != systemIDOf(n) || o.Spec.Unschedulable != n.Spec.Unschedulable
		},
	}
}

// nodesDrained sets NodesDrained from what the nodes leaving the gateway
// wait for, and warns once when a drain passes its timeout: a
// PodDisruptionBudget that never allows holds the machine, and only a
// person can settle that.
func (r *GatewayReconciler) nodesDrained(gw *infrav1.Gateway, waiting []string) {
	// A copy: setNodesDrained changes the condition in place.
	was := ""
	if c := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayNodesDrained); c != nil {
		was = c.Reason
	}
	reason := setNodesDrained(&gw.Status.Conditions, gw.Generation, infrav1.GatewayNodesDrained, waiting)
	if reason != infrav1.ReasonDrained && was != reason {
		kind := corev1.EventTypeNormal
		if reason == infrav1.ReasonDrainTimedOut {
			kind = corev1.EventTypeWarning
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayNodesDrained)
		r.Recorder.Eventf(gw, nil, kind, reason, "Drain", "%s", c.Message)
	}
}

func ignoreWaiting(err error) error {
	if errors.Is(err, errWaiting) {
		return nil
	}
	return err
}

// equalStatus reports whether a reconcile changed nothing worth writing.
func equalStatus(a, b *infrav1.GatewayStatus) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}
