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
	"sync"
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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// CloudAccountFinalizer keeps a CloudAccount, and so the credentials its
// tenant clusters need to release their machines, until none uses it.
const CloudAccountFinalizer = "infra.maasgateway.io/cloudaccount"

// accountKind is the kind the inventory names accounts by in its events.
const accountKind = "CloudAccount"

// AccountRegistry is where validated accounts are made known to the shared
// MAAS inventory, which polls each registered account once per interval.
type AccountRegistry interface {
	Register(account string, c *maas.Client, agentName string) error
	Unregister(account string)
	// Registered reports whether account is registered with a client of
	// this fingerprint and with this agent name.
	Registered(account, fingerprint, agentName string) bool
	Snapshot(account string) (*maas.Snapshot, bool)
	Release(ctx context.Context, account, systemID string, p maas.ReleaseParams) (maas.Machine, error)
	// Machine reads one machine from MAAS (the sweep of orphans reads a
	// machine again before it releases it).
	Machine(ctx context.Context, account, systemID string) (maas.Machine, error)
	// Events tells of accounts whose unclaimed machines changed.
	Events(kind string) <-chan event.GenericEvent
	// The installation's address reservations, for the sweep of orphans.
	AddressInventory
}

// AccountKey is how the inventory names a CloudAccount.
func AccountKey(account types.NamespacedName) string { return account.String() }

// CloudAccountReconciler validates CloudAccounts against MAAS and registers
// valid ones with the shared inventory.
type CloudAccountReconciler struct {
	client.Client
	// writes are the versions of accounts this controller wrote over.
	writes    ownWrites
	Recorder  Recorder
	MAAS      *maas.Factory
	Inventory AccountRegistry
	Finder    dependents.Finder

	// RevalidateInterval is how often a valid account is checked again.
	RevalidateInterval time.Duration
	// RetryInterval is how soon an unreachable MAAS is tried again.
	RetryInterval time.Duration
	// CredentialsCheck is how often the account's Secret is read again.
	// Secrets are not watched (the manager may not list them), so this is
	// how a rotated key, or a Secret created after its account, is noticed:
	// one GET of the Secret per account per interval, and a MAAS request
	// only when the key differs from the one last validated or refused.
	CredentialsCheck time.Duration
	// UnclaimedGrace is how long a machine allocated with this installation's
	// agent_name may stay without an owner annotation (its allocator crashed
	// between the two calls) before it is released. The allocating object
	// adopts it well within that time when it still wants it. Machines and
	// address reservations of an owner that no longer exists wait as long
	// (see orphanPolicy).
	UnclaimedGrace time.Duration

	// refused holds, per account key, the key MAAS last refused, so that
	// reading the same Secret every CredentialsCheck does not ask MAAS again
	// before RevalidateInterval (no retry storm with a revoked key).
	refused sync.Map // string → refusal

	addressSweeps addressSweeps
	machineSweeps machineSweeps
}

// refusal is a key MAAS refused: its client's fingerprint (never the key).
type refusal struct {
	fingerprint string
	at          time.Time
}

// refusedBefore says whether MAAS refused this very key less than
// RevalidateInterval ago, and the account's status still says so.
func (r *CloudAccountReconciler) refusedBefore(account *infrav1.CloudAccount, fingerprint string, now time.Time) (*metav1.Condition, bool) {
	v, ok := r.refused.Load(AccountKey(client.ObjectKeyFromObject(account)))
	if !ok {
		return nil, false
	}
	f := v.(refusal)
	creds := meta.FindStatusCondition(account.Status.Conditions, infrav1.CloudAccountCredentialsValid)
	if f.fingerprint != fingerprint || !now.Before(f.at.Add(r.RevalidateInterval)) || creds == nil || creds.Status != metav1.ConditionFalse {
		return nil, false
	}
	return creds, true
}

// nextCheck is when a valid account next reads its Secret: at the check
// interval, or sooner when its revalidation is due first.
func (r *CloudAccountReconciler) nextCheck(untilRevalidation time.Duration) time.Duration {
	return min(untilRevalidation, r.CredentialsCheck)
}

// fresh says whether account is Ready from a validation less than
// RevalidateInterval ago whose client (endpoint, key, CA) and agent name
// the inventory still holds: the inventory's frequent news of unclaimed
// machines then costs no validation (six MAAS requests). A refusal
// unregisters the account, and a restart starts with none registered, so
// both validate again.
func (r *CloudAccountReconciler) fresh(account *infrav1.CloudAccount, fingerprint, agentName string, now time.Time) bool {
	ready := meta.FindStatusCondition(account.Status.Conditions, infrav1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || account.Status.LastValidated == nil ||
		!now.Before(account.Status.LastValidated.Add(r.RevalidateInterval)) {
		return false
	}
	return r.Inventory.Registered(AccountKey(client.ObjectKeyFromObject(account)), fingerprint, agentName)
}

// Every verb below is justified in the README ("What the manager may do").
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=cloudaccounts,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=cloudaccounts/status,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile validates one CloudAccount.
func (r *CloudAccountReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	account := &infrav1.CloudAccount{}
	if err := r.Get(ctx, req.NamespacedName, account); err != nil {
		if apierrors.IsNotFound(err) {
			r.Inventory.Unregister(AccountKey(req.NamespacedName))
			r.refused.Delete(AccountKey(req.NamespacedName))
			r.writes.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.writes.behind(account) {
		// A status judged against a version this controller already wrote
		// over could validate again for nothing, or skip a write that
		// mattered (as TenantClusters did): wait for the cache.
		return ctrl.Result{RequeueAfter: cacheLagRequeue}, nil
	}
	if paused, err := syncPaused(ctx, r.Client, account, &account.Status.Conditions, r.pauseOf(ctx, account), &r.writes); paused || err != nil {
		return ctrl.Result{}, err
	}
	if !account.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, account)
	}
	if controllerutil.AddFinalizer(account, CloudAccountFinalizer) {
		rv := account.ResourceVersion
		if err := r.Update(ctx, account); err != nil {
			return ctrl.Result{}, err
		}
		r.writes.wrote(client.ObjectKeyFromObject(account), rv, account.ResourceVersion)
	}

	before := account.Status.DeepCopy()
	result, verdict := r.validate(ctx, account)
	account.Status.ObservedGeneration = account.Generation
	if verdict.credentials != "" {
		setCondition(&account.Status.Conditions, account.Generation, infrav1.CloudAccountCredentialsValid, verdict.credentials, verdict.reason, verdict.message)
	}
	setCondition(&account.Status.Conditions, account.Generation, infrav1.ConditionReady, verdict.ready, verdict.reason, verdict.message)
	r.announce(account, before, verdict)
	if !apiequality.Semantic.DeepEqual(before, &account.Status) {
		rv := account.ResourceVersion
		if err := r.Status().Update(ctx, account); err != nil {
			return ctrl.Result{}, err
		}
		r.writes.wrote(client.ObjectKeyFromObject(account), rv, account.ResourceVersion)
	}
	if verdict.ready == metav1.ConditionTrue {
		next, err := r.sweepMachines(ctx, account)
		if err != nil {
			return ctrl.Result{}, err
		}
		if next > 0 && next < result.RequeueAfter {
			result.RequeueAfter = next
		}
		if next, err = r.sweepAddresses(ctx, account); err != nil {
			return ctrl.Result{}, err
		}
		if next > 0 && next < result.RequeueAfter {
			result.RequeueAfter = next
		}
	}
	return result, nil
}

// verdict is the outcome of one validation, as conditions say it.
type verdict struct {
	// credentials is empty when the validation learnt nothing of the key.
	credentials metav1.ConditionStatus
	ready       metav1.ConditionStatus
	reason      string
	message     string
}

func (r *CloudAccountReconciler) validate(ctx context.Context, account *infrav1.CloudAccount) (ctrl.Result, verdict) {
	key := types.NamespacedName{Namespace: account.Namespace, Name: account.Name}
	refused := func(reason, message string) (ctrl.Result, verdict) {
		r.Inventory.Unregister(AccountKey(key))
		// The Gateway watch brings the account back when its Gateway
		// changes; a fixed Secret is found at the next check, and a key
		// fixed on the MAAS side at the next revalidation (refusedBefore).
		return ctrl.Result{RequeueAfter: r.CredentialsCheck}, verdict{metav1.ConditionFalse, metav1.ConditionFalse, reason, message}
	}

	gw := &infrav1.Gateway{}
	if err := r.Get(ctx, dependents.GatewayOf(account), gw); err != nil {
		if apierrors.IsNotFound(err) {
			return refused(infrav1.ReasonGatewayNotFound, fmt.Sprintf("Gateway %s does not exist", dependents.GatewayOf(account)))
		}
		return ctrl.Result{}, verdict{metav1.ConditionUnknown, metav1.ConditionFalse, infrav1.ReasonValidationFailed, err.Error()}
	}
	allowed, why, err := r.Finder.AllowsAccount(ctx, gw, account.Namespace)
	if err != nil {
		return ctrl.Result{}, verdict{"", metav1.ConditionFalse, infrav1.ReasonValidationFailed, err.Error()}
	}
	if !allowed {
		// Not used: its clusters wait, nothing of the installation is done
		// with its key. The Gateway watch brings it back when the Gateway
		// changes, the next credentials check when its namespace's labels
		// do (namespaces are not watched, as Secrets are not); the key says
		// nothing here, so CredentialsValid keeps what was last known.
		r.Inventory.Unregister(AccountKey(key))
		return ctrl.Result{RequeueAfter: r.CredentialsCheck}, verdict{"", metav1.ConditionFalse, infrav1.ReasonNotAllowedByGateway, why}
	}

	// r.Client reads Secrets from the API server (operator.ClientOptions):
	// this is the key as it is now, not as a watch last delivered it.
	cfg, reason, err := credentials(ctx, r.Client, account.Namespace, account.Spec.MAASConnection)
	if err != nil {
		return refused(reason, err.Error())
	}
	mc, err := r.MAAS.Client(cfg)
	if err != nil {
		return refused(infrav1.ReasonValidationFailed, err.Error())
	}
	if now := time.Now(); r.fresh(account, mc.Fingerprint(), AgentName(gw), now) {
		ready := meta.FindStatusCondition(account.Status.Conditions, infrav1.ConditionReady)
		return ctrl.Result{RequeueAfter: r.nextCheck(account.Status.LastValidated.Add(r.RevalidateInterval).Sub(now))},
			verdict{metav1.ConditionTrue, metav1.ConditionTrue, ready.Reason, ready.Message}
	}
	if creds, ok := r.refusedBefore(account, mc.Fingerprint(), time.Now()); ok {
		return refused(creds.Reason, creds.Message)
	}
	refusedByMAAS := func(reason, message string) (ctrl.Result, verdict) {
		r.refused.Store(AccountKey(key), refusal{fingerprint: mc.Fingerprint(), at: time.Now()})
		return refused(reason, message)
	}
	v, err := maas.Validate(ctx, mc)
	switch {
	case err == nil:
		r.refused.Delete(AccountKey(key))
	case maas.IsUnauthorized(err):
		return refusedByMAAS(infrav1.ReasonUnauthorized, "MAAS refused the API key: "+err.Error())
	case maas.IsTransient(err):
		// Unreachable says nothing of the key: CredentialsValid keeps what was
		// last known of it. The inventory keeps polling (its snapshot carries
		// the error), so machines reappear as soon as MAAS answers again.
		var creds metav1.ConditionStatus
		if meta.FindStatusCondition(account.Status.Conditions, infrav1.CloudAccountCredentialsValid) == nil {
			creds = metav1.ConditionUnknown
		}
		return ctrl.Result{RequeueAfter: r.RetryInterval},
			verdict{creds, metav1.ConditionFalse, infrav1.ReasonUnreachable, "MAAS is not reachable: " + err.Error()}
	default:
		return refusedByMAAS(infrav1.ReasonValidationFailed, err.Error())
	}

	now := metav1.Now()
	account.Status.MAASVersion = v.Version
	account.Status.User = v.User
	account.Status.Zones = v.Zones
	account.Status.ResourcePools = v.ResourcePools
	account.Status.Domains = v.Domains
	account.Status.OSImages = v.BootResources
	account.Status.LastValidated = &now
	if err := r.Inventory.Register(AccountKey(key), mc, AgentName(gw)); err != nil {
		return refused(infrav1.ReasonValidationFailed, err.Error())
	}
	return ctrl.Result{RequeueAfter: r.nextCheck(r.RevalidateInterval)}, verdict{metav1.ConditionTrue, metav1.ConditionTrue, infrav1.ReasonValid,
		fmt.Sprintf("MAAS %s accepted the API key of user %s", v.Version, v.User)}
}

// announce records an event when the account's validity changes, not on
// every periodic revalidation.
func (r *CloudAccountReconciler) announce(account *infrav1.CloudAccount, before *infrav1.CloudAccountStatus, v verdict) {
	prev := meta.FindStatusCondition(before.Conditions, infrav1.ConditionReady)
	if prev != nil && prev.Status == v.ready && prev.Reason == v.reason {
		return
	}
	eventType := corev1.EventTypeNormal
	if v.ready != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(account, nil, eventType, v.reason, "Validate", "%s", v.message)
}

func (r *CloudAccountReconciler) reconcileDelete(ctx context.Context, account *infrav1.CloudAccount) (ctrl.Result, error) {
	key := types.NamespacedName{Namespace: account.Namespace, Name: account.Name}
	if !controllerutil.ContainsFinalizer(account, CloudAccountFinalizer) {
		return ctrl.Result{}, nil
	}
	deps, err := r.Finder.OfCloudAccount(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(deps) > 0 {
		// Tenant clusters still need these credentials to release their machines.
		msg := "waiting for TenantClusters to be deleted first: " + dependents.Summary(deps, 5)
		setCondition(&account.Status.Conditions, account.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonInUse, msg)
		if err := r.Status().Update(ctx, account); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
	}
	r.Inventory.Unregister(AccountKey(key))
	r.refused.Delete(AccountKey(key))
	controllerutil.RemoveFinalizer(account, CloudAccountFinalizer)
	return ctrl.Result{}, r.Update(ctx, account)
}

// credentials reads the API key from the connection's Secret. The returned
// error never contains the key; reason is the condition reason to report.
func credentials(ctx context.Context, c client.Client, namespace string, conn infrav1.MAASConnection) (maas.Config, string, error) {
	ref := conn.CredentialsSecretRef
	keyName := ref.Key
	if keyName == "" {
		keyName = infrav1.DefaultAPIKeyKey
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return maas.Config{}, infrav1.ReasonSecretNotFound, fmt.Errorf("the Secret %s/%s does not exist", namespace, ref.Name)
		}
		return maas.Config{}, infrav1.ReasonValidationFailed, fmt.Errorf("reading Secret %s/%s: %w", namespace, ref.Name, err)
	}
	raw, ok := secret.Data[keyName]
	if !ok {
		return maas.Config{}, infrav1.ReasonInvalidAPIKey, fmt.Errorf("the Secret %s/%s has no key %q", namespace, ref.Name, keyName)
	}
	key, err := maas.ParseAPIKey(string(raw))
	if err != nil {
		return maas.Config{}, infrav1.ReasonInvalidAPIKey, fmt.Errorf("the Secret %s/%s, key %q: %w", namespace, ref.Name, keyName, err)
	}
	return maas.Config{Endpoint: conn.Endpoint, APIKey: key, CABundle: []byte(conn.CABundle)}, "", nil
}

// SetupWithManager watches CloudAccounts and the Gateways they belong to. The
// Secrets holding their keys are read again every CredentialsCheck instead
// of watched (see operator.ClientOptions).
func (r *CloudAccountReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.RevalidateInterval == 0 {
		r.RevalidateInterval = 5 * time.Minute
	}
	if r.RetryInterval == 0 {
		r.RetryInterval = 15 * time.Second
	}
	if r.UnclaimedGrace == 0 {
		r.UnclaimedGrace = 5 * time.Minute
	}
	if r.CredentialsCheck == 0 {
		r.CredentialsCheck = 30 * time.Second
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&infrav1.CloudAccount{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, lostState(),
			predicate.AnnotationChangedPredicate{}))).
		Watches(&infrav1.Gateway{}, handler.EnqueueRequestsFromMapFunc(r.accountsOfGateway),
			builder.WithPredicates(gatewayIdentityChanged())).
		WatchesRawSource(source.Channel(r.Inventory.Events(accountKind), &handler.EnqueueRequestForObject{})).
		Named("cloudaccount").
		Complete(r)
}

func (r *CloudAccountReconciler) accountsOfGateway(ctx context.Context, o client.Object) []ctrl.Request {
	accounts, err := r.Finder.CloudAccountsOf(ctx, client.ObjectKeyFromObject(o))
	if err != nil {
		logf.FromContext(ctx).Error(err, "listing CloudAccounts of a Gateway", "gateway", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(accounts))
	for _, a := range accounts {
		reqs = append(reqs, ctrl.Request{NamespacedName: a})
	}
	return reqs
}

// requestsOf enqueues every object of a list's items.
func requestsOf[T any, P interface {
	*T
	client.Object
}](items []T) []ctrl.Request {
	reqs := make([]ctrl.Request, 0, len(items))
	for i := range items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(P(&items[i]))})
	}
	return reqs
}

// gatewayIdentityChanged passes the creation and deletion of Gateways, the
// events that change an account's agent name or the existence of its gateway,
// changes of the namespaces it allows accounts from, and its pausing and
// resuming (which pause its accounts); none of their frequent status updates.
func gatewayIdentityChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldGW, ok1 := e.ObjectOld.(*infrav1.Gateway)
			newGW, ok2 := e.ObjectNew.(*infrav1.Gateway)
			return ok1 && ok2 && (!apiequality.Semantic.DeepEqual(oldGW.Spec.AllowedCloudAccounts, newGW.Spec.AllowedCloudAccounts) ||
				pausedByAnnotation(oldGW) != pausedByAnnotation(newGW) || infrav1.IdentityUID(oldGW) != infrav1.IdentityUID(newGW))
		},
	}
}

// AgentName is the MAAS agent_name of the installation a Gateway stands for:
// every machine the operator allocates for the gateway or its tenant clusters
// carries it, and the inventory lists machines by it.
func AgentName(gw *infrav1.Gateway) string {
	return "maas-gateway-" + infrav1.IdentityUID(gw)
}
