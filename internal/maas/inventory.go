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
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// InventoryOptions tune an Inventory. Zero fields take the defaults.
type InventoryOptions struct {
	// Interval between two polls of one account; default 10 s.
	Interval time.Duration
	// OwnerAPIVersion is the apiVersion of the objects events name
	// (owners and accounts are this operator's kinds); default
	// infra.maasgateway.io/v1alpha1.
	OwnerAPIVersion string
	// AccountKind is the kind of the object an account key names; it is
	// told when the account's unclaimed machines change. Default CloudAccount.
	AccountKind string
	// FollowRetention is how long a followed machine stays readable once
	// released or gone (it is no longer polled then), unless unfollowed
	// sooner; default DefaultFollowRetention. A reconciler that runs long
	// after the poll that saw the end still sees it, rather than
	// NotFollowed and following the machine all over again.
	FollowRetention time.Duration
	// Logger records polls that start failing (or fail differently);
	// default: discard.
	Logger logr.Logger
}

// DefaultPollInterval is how often each account is listed unless told otherwise.
const DefaultPollInterval = 10 * time.Second

func (o InventoryOptions) withDefaults() InventoryOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultPollInterval
	}
	if o.FollowRetention <= 0 {
		o.FollowRetention = DefaultFollowRetention
	}
	if o.OwnerAPIVersion == "" {
		o.OwnerAPIVersion = "infra.maasgateway.io/v1alpha1"
	}
	if o.AccountKind == "" {
		o.AccountKind = "CloudAccount"
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return o
}

// Inventory is the shared view of MAAS: for each registered cloud account,
// one `GET machines/?agent_name=…` per interval, whatever the number of
// machines or of readers, and while it follows machines outside that list
// (see Follow) one `GET machines/?id=…&id=…` for all of them. Reconcilers
// read snapshots, and subscribe to events that name the objects whose
// machines appeared, changed or went.
//
// It is a controller-runtime manager.Runnable (Start blocks until its
// context ends); tests run it in a goroutine. Accounts and subscribers may
// be added before or after Start.
type Inventory struct {
	opts InventoryOptions

	mu       sync.Mutex
	accounts map[string]*account
	subs     []*subscriber
	run      context.Context // nil until Start
	stopped  bool            // Start has returned or is returning: start nothing more
	wg       sync.WaitGroup
}

type account struct {
	key     string
	refresh chan struct{}
	cancel  context.CancelFunc
	snap    atomic.Pointer[Snapshot]

	mu        sync.Mutex // guards client, agentName, patches, since and storing snap
	client    *Client
	agentName string
	// patches are machines this process changed since the poll in flight
	// began; a poll that started earlier must not undo them.
	patches map[string]patch

	// since records when each unclaimed machine was first seen; guarded by mu.
	since map[string]time.Time

	// follows are the machines followed outside the installation's list,
	// by system ID; followView is their copy for snapshots (nil: make a
	// new one), followErr the last followed list's error. Guarded by mu.
	follows    map[string]*follow
	followView map[string]*follow
	followErr  error

	// The lists' caches belong to the poll loop.
	ownedCache, followCache *listCache

	// claimMu serialises adoption, so two reconcilers never claim one machine.
	claimMu sync.Mutex

	// uncertainSince is when an allocation failed without saying whether
	// MAAS made it (zero: none outstanding); guarded by mu. Until a list
	// begun after it has shown what MAAS did, no allocation is sent: a
	// reconciler planning from the older list would take a second machine
	// for the same slot. A machine MAAS did allocate is then in the list,
	// unclaimed, for the next reconcile to adopt.
	uncertainSince time.Time
}

type patch struct {
	machine Machine
	// gone: the machine left the installation (its release began).
	gone bool
	at   time.Time
}

// NewInventory returns an inventory with no accounts.
func NewInventory(opts InventoryOptions) *Inventory {
	return &Inventory{opts: opts.withDefaults(), accounts: map[string]*account{}}
}

// Register adds or updates the account key (the CloudAccount's
// namespace/name): its client, and the agent name its machines carry.
// Registering again with a new client (a rotated key) keeps the inventory;
// with another agent name it starts afresh.
func (inv *Inventory) Register(key string, c *Client, agentName string) error {
	if key == "" || c == nil {
		return errors.New("inventory: an account needs a key and a client")
	}
	if err := ValidateAgentName(agentName); err != nil {
		return err
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if a, ok := inv.accounts[key]; ok {
		a.mu.Lock()
		same := a.agentName == agentName
		if same {
			a.client = c
		}
		a.mu.Unlock()
		if same {
			return nil
		}
		inv.stopLocked(a)
	}
	a := &account{
		key:       key,
		refresh:   make(chan struct{}, 1),
		client:    c,
		agentName: agentName,
		patches:   map[string]patch{},
		since:     map[string]time.Time{},
		follows:   map[string]*follow{},

		ownedCache:  newListCache(),
		followCache: newListCache(),
	}
	inv.accounts[key] = a
	if inv.run != nil {
		inv.startLocked(a)
	}
	return nil
}

// Unregister stops polling key and forgets its machines.
func (inv *Inventory) Unregister(key string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if a, ok := inv.accounts[key]; ok {
		inv.stopLocked(a)
	}
}

func (inv *Inventory) stopLocked(a *account) {
	if a.cancel != nil {
		a.cancel()
	}
	delete(inv.accounts, a.key)
}

func (inv *Inventory) startLocked(a *account) {
	if inv.stopped {
		return
	}
	ctx, cancel := context.WithCancel(inv.run)
	a.cancel = cancel
	inv.wg.Go(func() { inv.pollLoop(ctx, a) })
}

// Refresh asks for key to be polled soon rather than at the end of its
// interval; it returns at once. Refreshes coalesce: one asked while a poll
// is in flight, or shortly after one (see refreshGap), is served by a
// single poll at the end of that window, however many were asked. False if
// key is not registered.
func (inv *Inventory) Refresh(key string) bool {
	a, ok := inv.account(key)
	if !ok {
		return false
	}
	select {
	case a.refresh <- struct{}{}:
	default: // a refresh is already pending
	}
	return true
}

// Snapshot is key's inventory as of its last poll; false if key is not
// registered or no poll of it has finished yet. After failed polls only,
// it has no machines, a zero PolledAt and the error.
func (inv *Inventory) Snapshot(key string) (*Snapshot, bool) {
	a, ok := inv.account(key)
	if !ok {
		return nil, false
	}
	s := a.snap.Load()
	return s, s != nil
}

func (inv *Inventory) account(key string) (*account, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	a, ok := inv.accounts[key]
	return a, ok
}

// Start polls every account until ctx ends.
func (inv *Inventory) Start(ctx context.Context) error {
	inv.mu.Lock()
	if inv.run != nil {
		inv.mu.Unlock()
		return errors.New("inventory: already started")
	}
	inv.run = ctx
	for _, a := range inv.accounts {
		inv.startLocked(a)
	}
	for _, s := range inv.subs {
		inv.deliverLocked(s)
	}
	inv.mu.Unlock()

	<-ctx.Done()
	inv.mu.Lock()
	inv.stopped = true
	inv.mu.Unlock()
	inv.wg.Wait()
	return nil
}

func (inv *Inventory) pollLoop(ctx context.Context, a *account) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time // when the last poll finished
	var took time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-a.refresh:
			if due := last.Add(inv.refreshGap(took)); time.Now().Before(due) {
				// Too soon after the last poll: poll at the end of the gap,
				// which serves every refresh asked until then.
				timer.Reset(time.Until(due))
				continue
			}
		}
		select { // a refresh asked by now is served by this poll
		case <-a.refresh:
		default:
		}
		started := time.Now()
		inv.poll(ctx, a)
		last = time.Now()
		took = last.Sub(started)
		timer.Reset(inv.opts.Interval)
	}
}

// refreshGap is how long after a poll a Refresh waits, took being how long
// that poll took. Refreshes come in bursts (every reconcile that acted may
// ask), and each one polling at once would list an account many times a
// second. A quarter of the interval, at most 250 ms: short enough that a
// caller waiting for MAAS to reflect its action barely notices (reconciles
// take longer than that), long enough to cap refresh-driven lists at four a
// second; and never shorter than the last poll took, so that refreshes keep
// a slow MAAS (a list of thousands of machines takes seconds) busy listing
// half the time at most. Never longer than the interval, when the poll is
// due anyway.
func (inv *Inventory) refreshGap(took time.Duration) time.Duration {
	gap := min(inv.opts.Interval/4, 250*time.Millisecond)
	return min(max(gap, took), inv.opts.Interval)
}

// poll lists the account's machines once (no retry: the next interval is
// the retry, and a struggling MAAS gets no extra load from us), and the
// machines it follows in one more request, stores the snapshot and tells
// the owners of whatever changed.
func (inv *Inventory) poll(ctx context.Context, a *account) {
	a.mu.Lock()
	c, agentName := a.client, a.agentName
	followIDs := a.activeFollowsLocked()
	a.mu.Unlock()

	started := time.Now()
	gen, unchanged, err := c.listOwnedInto(ctx, agentName, 1, a.ownedCache)
	var followed []Machine
	var asked []string
	var followErr error
	if err == nil && len(followIDs) > 0 {
		followed, asked, followErr = c.listByID(ctx, followIDs, 1, a.followCache)
	}
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	a.mu.Lock()
	prev := a.snap.Load()
	if err != nil {
		if prev == nil {
			prev = &Snapshot{Account: a.key, AgentName: agentName}
		}
		a.snap.Store(prev.failed(err, now))
		a.mu.Unlock()
		if prev.Err == nil || prev.Err.Error() != err.Error() {
			inv.opts.Logger.Info("MAAS inventory poll failed", "account", a.key, "class", Classify(err).String(), "error", err.Error())
		}
		return
	}
	patched := a.prunePatchesLocked(started)
	if !a.uncertainSince.IsZero() && started.After(a.uncertainSince) {
		a.uncertainSince = time.Time{}
	}
	var followNews map[ownerKey]Owner
	prevFollowErr := a.followErr
	if len(followIDs) > 0 {
		followNews = a.followListedLocked(followed, asked, started, now)
	}
	a.followErr = followErr
	a.expireFollowsLocked(now, inv.opts.FollowRetention)
	var next *Snapshot
	reused := unchanged && !patched && prev != nil && prev.listGen != 0 && prev.listGen == gen-1
	if reused {
		// The list is the very list prev was made of: keep its indexes.
		next = prev.repolled(now, gen)
	} else {
		machines, _ := a.reapplyPatchesLocked(a.ownedCache.list(), started)
		next = newSnapshot(a.key, agentName, machines, now, now, a.since)
		if !patched {
			next.listGen = gen
		}
	}
	next = next.withFollowed(a.followViewLocked(), a.followErr)
	a.snap.Store(next)
	a.mu.Unlock()

	if followErr != nil && (prevFollowErr == nil || prevFollowErr.Error() != followErr.Error()) {
		inv.opts.Logger.Info("MAAS inventory could not list followed machines", "account", a.key, "machines", len(followIDs),
			"class", Classify(followErr).String(), "error", followErr.Error())
	}
	owners, unclaimedChanged := map[ownerKey]Owner{}, false
	if !reused {
		owners, unclaimedChanged = changedOwners(prev, next)
	}
	maps.Copy(owners, followNews)
	for _, o := range owners {
		inv.publish(o.Kind, o.Namespace, o.Name, o.UID)
	}
	if unclaimedChanged {
		ns, name := splitKey(a.key)
		inv.publish(inv.opts.AccountKind, ns, name, "")
	}
}

// reapplyPatchesLocked lays the changes this process made after a poll
// began over that poll's list, which may predate them, and forgets those
// the list already reflects. patched says whether any was laid.
func (a *account) reapplyPatchesLocked(machines []Machine, pollStarted time.Time) (_ []Machine, patched bool) {
	if !a.prunePatchesLocked(pollStarted) {
		return machines, false
	}
	for _, p := range a.patches {
		machines = applyPatch(machines, p)
	}
	return machines, true
}

// prunePatchesLocked forgets the patches a poll begun at pollStarted
// reflects, and reports whether any is left.
func (a *account) prunePatchesLocked(pollStarted time.Time) bool {
	for id, p := range a.patches {
		if !p.at.After(pollStarted) {
			delete(a.patches, id)
		}
	}
	return len(a.patches) > 0
}

func applyPatch(machines []Machine, p patch) []Machine {
	for i := range machines {
		if machines[i].SystemID == p.machine.SystemID {
			if p.gone {
				return slices.Delete(machines, i, i+1)
			}
			machines[i] = p.machine
			return machines
		}
	}
	if p.gone {
		return machines
	}
	return append(machines, p.machine)
}

// record puts a machine this process just changed into the snapshot at
// once, so a reconciler that runs again before the next poll sees it (and,
// say, does not allocate a second machine for the same slot). A machine
// whose release began has lost its agent_name and leaves the snapshot, as
// it will from the next poll's list.
func (a *account) record(m Machine) {
	a.recordAndFollow(m, false)
}

// recordAndFollow records m and, if follow, follows it from its state as
// the action returned it (a release began: a new following, whatever was
// known of the machine before), in one snapshot.
func (a *account) recordAndFollow(m Machine, follow bool) {
	if m.SystemID == "" {
		return
	}
	now := time.Now()
	p := patch{machine: m, gone: leftInstallation(m.Status), at: now}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.snap.Load()
	if follow {
		a.followAnewLocked(m, now)
	}
	a.patches[m.SystemID] = p
	if s != nil {
		a.snap.Store(s.patched(p, a.since).withFollowed(a.followViewLocked(), s.FollowErr))
	}
}

func (a *account) current() (*Client, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.client, a.agentName
}

// Registered reports whether key is registered with a client of the given
// fingerprint (endpoint, API key and CA) and with agentName.
func (inv *Inventory) Registered(key, fingerprint, agentName string) bool {
	a, ok := inv.account(key)
	if !ok {
		return false
	}
	c, name := a.current()
	return c.Fingerprint() == fingerprint && name == agentName
}

func splitKey(key string) (namespace, name string) {
	if ns, n, ok := strings.Cut(key, "/"); ok {
		return ns, n
	}
	return "", key
}

func (inv *Inventory) accountFor(op, key string) (*account, error) {
	a, ok := inv.account(key)
	if !ok {
		return nil, refusal(ClassInvalid, op, "", "cloud account "+key+" is not registered with the inventory")
	}
	return a, nil
}

// Allocate allocates and annotates a machine for owner through account
// key (see Client.Allocate) and shows it in the snapshot at once. When an
// allocation fails without saying whether MAAS made it (MayHaveActed),
// further allocations of the account are refused (ClassTransient) until a
// list begun after that failure has been polled: it shows the machine MAAS
// did allocate, unclaimed, and Snapshot.Unclaimed hands it to the next
// allocator, instead of a second machine taken for the same slot.
func (inv *Inventory) Allocate(ctx context.Context, key string, owner Owner, c Constraints) (Machine, error) {
	a, err := inv.accountFor(opAllocate, key)
	if err != nil {
		return Machine{}, err
	}
	if since := a.uncertain(); !since.IsZero() {
		inv.Refresh(key)
		return Machine{}, refusal(ClassTransient, opAllocate, "",
			"an allocation at "+since.UTC().Format(time.RFC3339Nano)+" got no answer from MAAS, which may have made it; "+
				"no machine is allocated until MAAS's list shows what it did")
	}
	cl, agentName := a.current()
	m, err := cl.Allocate(ctx, AllocateRequest{AgentName: agentName, Owner: owner, Constraints: c})
	if err != nil && m.SystemID == "" && MayHaveActed(err) {
		a.mu.Lock()
		a.uncertainSince = time.Now()
		a.mu.Unlock()
		inv.Refresh(key)
	}
	a.record(m)
	return m, err
}

// uncertain is when an allocation whose outcome is unknown failed; zero
// when none is outstanding.
func (a *account) uncertain() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.uncertainSince
}

// RetryRelease releases again, through account key, a machine whose
// release failed (see Client.RetryRelease), and follows it anew from the
// state MAAS returned.
func (inv *Inventory) RetryRelease(ctx context.Context, key, systemID string, p ReleaseParams) (Machine, error) {
	a, err := inv.accountFor("release", key)
	if err != nil {
		return Machine{}, err
	}
	cl, _ := a.current()
	m, err := cl.RetryRelease(ctx, systemID, p)
	if err == nil {
		a.followAfterRelease(m)
	}
	return m, err
}

// followAfterRelease follows a machine a release left outside the
// installation's list; it was never in it, so there is nothing to patch.
func (a *account) followAfterRelease(m Machine) {
	if m.SystemID == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.followAnewLocked(m, time.Now())
	a.followsChangedLocked()
}

// Available reports whether MAAS could allocate a machine matching c
// through account key now (see Client.Available).
func (inv *Inventory) Available(ctx context.Context, key string, c Constraints) (bool, error) {
	a, err := inv.accountFor("allocate (dry run)", key)
	if err != nil {
		return false, err
	}
	cl, _ := a.current()
	return cl.Available(ctx, c)
}

// Adopt claims an unclaimed machine of account key for owner (see
// Client.Adopt). Adoptions within one account are serialised, so two
// reconcilers racing for one machine get one success and one ClassConflict.
func (inv *Inventory) Adopt(ctx context.Context, key, systemID string, owner Owner) (Machine, error) {
	a, err := inv.accountFor("adopt", key)
	if err != nil {
		return Machine{}, err
	}
	a.claimMu.Lock()
	defer a.claimMu.Unlock()
	cl, agentName := a.current()
	m, err := cl.Adopt(ctx, agentName, systemID, owner)
	if err == nil {
		a.record(m)
	}
	return m, err
}

// Deploy deploys a machine of account key (see Client.Deploy). A machine
// in the snapshot is known to carry the agent name, which saves the
// ownership request: deploying costs one request.
func (inv *Inventory) Deploy(ctx context.Context, key, systemID string, p DeployParams) (Machine, error) {
	a, err := inv.accountFor("deploy", key)
	if err != nil {
		return Machine{}, err
	}
	cl, agentName := a.current()
	var known Machine
	found := false
	if s := a.snap.Load(); s != nil {
		known, found = s.Machine(systemID)
	}
	var m Machine
	if found && p.DistroSeries != "" {
		m, err = cl.deployOwned(ctx, agentName, known, p)
	} else {
		m, err = cl.Deploy(ctx, agentName, systemID, p) // validates p, proves ownership
	}
	if err == nil {
		a.record(m)
	}
	return m, err
}

// Release releases a machine of account key (see Client.Release; the
// ownership check always asks MAAS, never the snapshot), and follows it
// until MAAS has it back (see Follow), from the state MAAS returned: the
// machine leaves the installation's list as soon as its release begins.
func (inv *Inventory) Release(ctx context.Context, key, systemID string, p ReleaseParams) (Machine, error) {
	a, err := inv.accountFor("release", key)
	if err != nil {
		return Machine{}, err
	}
	cl, agentName := a.current()
	m, err := cl.Release(ctx, agentName, systemID, p)
	if err == nil {
		a.recordAndFollow(m, true)
	}
	return m, err
}

// SetDomain moves a machine of account key into a DNS domain (see
// Client.SetDomain), free when the snapshot shows it there already.
func (inv *Inventory) SetDomain(ctx context.Context, key, systemID, domain string) (Machine, error) {
	a, err := inv.accountFor("set domain", key)
	if err != nil {
		return Machine{}, err
	}
	if s := a.snap.Load(); s != nil {
		if m, ok := s.Machine(systemID); ok && m.Domain == domain {
			return m, nil
		}
	}
	cl, agentName := a.current()
	m, err := cl.SetDomain(ctx, agentName, systemID, domain)
	if err == nil {
		a.record(m)
	}
	return m, err
}

// Machine reads one machine of account key from MAAS, whoever owns it: for
// machines the installation does not own but must know of (a gateway's
// adopted nodes), read once, never polled.
func (inv *Inventory) Machine(ctx context.Context, key, systemID string) (Machine, error) {
	a, err := inv.accountFor("get machine", key)
	if err != nil {
		return Machine{}, err
	}
	cl, _ := a.current()
	return cl.Machine(ctx, systemID)
}

// Abort aborts what MAAS is doing to a machine of account key (see Client.Abort).
func (inv *Inventory) Abort(ctx context.Context, key, systemID, comment string) (Machine, error) {
	a, err := inv.accountFor("abort", key)
	if err != nil {
		return Machine{}, err
	}
	cl, agentName := a.current()
	m, err := cl.Abort(ctx, agentName, systemID, comment)
	if err == nil {
		a.record(m)
	}
	return m, err
}

// Events returns a new channel of events naming the objects of kind whose
// machines appeared, changed state or went, for a controller-runtime
// source.Channel. Each call gets its own channel (give one to each
// controller). Events are coalesced per object while the reader is busy:
// none is dropped and none blocks polling.
func (inv *Inventory) Events(kind string) <-chan event.GenericEvent {
	s := &subscriber{
		kind:    kind,
		out:     make(chan event.GenericEvent),
		wake:    make(chan struct{}, 1),
		pending: map[objectKey]bool{},
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.subs = append(inv.subs, s)
	if inv.run != nil {
		inv.deliverLocked(s)
	}
	return s.out
}

type objectKey struct {
	namespace, name, uid string
}

type subscriber struct {
	kind string
	out  chan event.GenericEvent
	wake chan struct{}

	mu      sync.Mutex
	pending map[objectKey]bool
	queue   []objectKey
}

func (inv *Inventory) publish(kind, namespace, name, uid string) {
	inv.mu.Lock()
	subs := inv.subs
	inv.mu.Unlock()
	k := objectKey{namespace: namespace, name: name, uid: uid}
	for _, s := range subs {
		if s.kind != kind {
			continue
		}
		s.mu.Lock()
		if !s.pending[k] {
			s.pending[k] = true
			s.queue = append(s.queue, k)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (inv *Inventory) deliverLocked(s *subscriber) {
	if inv.stopped {
		return
	}
	ctx := inv.run
	inv.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			for {
				k, ok := s.next()
				if !ok {
					break
				}
				select {
				case s.out <- inv.eventFor(s.kind, k):
				case <-ctx.Done():
					return
				}
			}
		}
	})
}

func (s *subscriber) next() (objectKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return objectKey{}, false
	}
	k := s.queue[0]
	s.queue = s.queue[1:]
	delete(s.pending, k)
	return k, true
}

func (inv *Inventory) eventFor(kind string, k objectKey) event.GenericEvent {
	obj := &metav1.PartialObjectMetadata{}
	obj.APIVersion = inv.opts.OwnerAPIVersion
	obj.Kind = kind
	obj.Namespace = k.namespace
	obj.Name = k.name
	obj.UID = types.UID(k.uid)
	return event.GenericEvent{Object: obj}
}
