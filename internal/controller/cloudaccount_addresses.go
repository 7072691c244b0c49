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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// addressSweeps is the state of the sweep of orphaned reservations: when
// each account was last swept, and when each orphan was first seen. Like
// the unclaimed machines' clock it starts again after a restart, so the
// grace period can only get longer.
type addressSweeps struct {
	mu   sync.Mutex
	last map[string]time.Time
	seen map[string]time.Time
}

// sweepAddresses releases the reservations of the account's MAAS that
// carry this installation's marks but whose owner object (a TenantCluster
// or a Gateway: the kinds that reserve) no longer exists, once it has been
// missing for UnclaimedGrace, the unclaimed machines' grace: an owner
// deleted while the manager was down, or force-deleted while MAAS did not
// answer. It lists at most once per half grace per account (two MAAS
// requests; an orphan goes between one and one and a half graces after its
// owner), and says when the next orphan is due (0: none waiting).
// Reservations this MAAS user made without marks are never released: no
// mark proves them ours.
func (r *CloudAccountReconciler) sweepAddresses(ctx context.Context, account *infrav1.CloudAccount) (time.Duration, error) {
	key := AccountKey(client.ObjectKeyFromObject(account))
	now := time.Now()
	s := &r.addressSweeps
	s.mu.Lock()
	if s.last == nil {
		s.last, s.seen = map[string]time.Time{}, map[string]time.Time{}
	}
	// Nothing can be released before an orphan has waited out the grace:
	// listing every credentials check (30 s) would cost MAAS four requests a
	// minute per account for an answer needed every few minutes.
	if last, ok := s.last[key]; ok && now.Sub(last) < max(r.CredentialsCheck, r.UnclaimedGrace/2) {
		s.mu.Unlock()
		return 0, nil
	}
	s.last[key] = now
	s.mu.Unlock()

	all, err := r.Inventory.Reservations(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("listing the installation's address reservations: %w", err)
	}
	exists := map[maas.Owner]bool{}
	var lookupErr error
	gone := func(o maas.Owner) bool {
		o = maas.Owner{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, UID: o.UID}
		if v, ok := exists[o]; ok {
			return !v
		}
		ok, err := r.ownerExists(ctx, o)
		if err != nil {
			lookupErr = err
			ok = true // in doubt, it exists
		}
		exists[o] = ok
		return !ok
	}
	s.mu.Lock()
	release, next := releasableOrphans(key, all.Marked, gone, s.seen, now, r.UnclaimedGrace)
	s.mu.Unlock()
	for _, res := range release {
		owner := res.Marks.Owner()
		if err := releaseReservation(ctx, r.Inventory, key, res); err != nil {
			return 0, fmt.Errorf("releasing %s of %s: %w", describeReservation(res), owner, err)
		}
		r.Recorder.Eventf(account, nil, corev1.EventTypeWarning, "ReleasedOrphanedAddress", "Release",
			"released %s in MAAS: reserved for %s (uid %s), which has not existed for %s", describeReservation(res), owner, owner.UID, r.UnclaimedGrace)
	}
	return next, lookupErr
}

// ownerExists says whether the object the marks name exists with that UID.
// The cache answers "it exists" at no cost; "it does not" (or "it has
// another UID") is asked again of the API server itself (the Finder's
// uncached reader), because an informer lags: an object created a moment
// ago, or a cache still syncing after a restart, must never pass for a
// deleted owner and cost its machines. Kinds this operator does not
// allocate or reserve for are never judged gone.
func (r *CloudAccountReconciler) ownerExists(ctx context.Context, o maas.Owner) (bool, error) {
	var newObj func() client.Object
	switch o.Kind {
	case tenantKind:
		newObj = func() client.Object { return &infrav1.TenantCluster{} }
	case gatewayKind:
		newObj = func() client.Object { return &infrav1.Gateway{} }
	default:
		return true, nil
	}
	key := types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
	readers := []client.Reader{r.Client}
	if r.Finder.Live != nil {
		readers = append(readers, r.Finder.Live)
	}
	for _, reader := range readers {
		obj := newObj()
		err := reader.Get(ctx, key, obj)
		switch {
		case err == nil && infrav1.IdentityUID(obj) == o.UID:
			return true, nil
		case err != nil && !apierrors.IsNotFound(err):
			return true, err
		}
	}
	return false, nil
}
