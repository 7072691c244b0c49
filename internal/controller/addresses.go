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

// Control-plane VIPs reserved in MAAS (issue 23). The decisions live here;
// internal/maas makes the calls. A TenantCluster or a Gateway with a
// control-plane endpoint holds it in MAAS as a user-reserved address whose
// marks (the one-address reserved range over it) name the installation and
// the object, before any machine of it is allocated: MAAS then hands the
// address to no machine, and of two objects asking for one address MAAS's
// own answer makes exactly one the holder. The reservation is found again
// by its marks after a restart or a status wipe (ReserveVIP by the same
// owner returns the reservation it already holds), released with its
// owner (only what the marks prove is the owner's), and swept by the
// CloudAccount controller when its owner no longer exists.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// AddressInventory is what controllers need of MAAS's address
// reservations, through the inventory's accounts (whose agent names are
// the installation the marks name).
type AddressInventory interface {
	ReserveVIP(ctx context.Context, account string, owner maas.Owner, ip, dnsName string) (maas.Reservation, error)
	ReleaseVIP(ctx context.Context, account string, owner maas.Owner, ip string) error
	ReserveRange(ctx context.Context, account string, req maas.RangeRequest) (maas.Reservation, error)
	ReleaseRange(ctx context.Context, account string, owner maas.Owner, rangeID int) error
	// Reservations lists every reservation the installation holds in the
	// account's MAAS, read from MAAS (two requests).
	Reservations(ctx context.Context, account string) (maas.Reservations, error)
}

// vipVerdict is what a reservation attempt means for the object: the
// VIPReserved condition's status, reason and message. held is true when
// MAAS holds the address for the object.
type vipVerdict struct {
	held    bool
	reason  string
	message string
	// transient: nothing was learnt of the address (MAAS did not answer);
	// retry with backoff.
	transient bool
}

// judgeVIP turns ReserveVIP's answer for ip into a verdict. It branches on
// the error's class and reason, never its text; the message carries MAAS's
// own words, which name the machine holding the address when MAAS says.
func judgeVIP(ip string, err error) vipVerdict {
	if err == nil {
		return vipVerdict{held: true, reason: infrav1.ReasonVIPReserved,
			message: fmt.Sprintf("control-plane endpoint %s is reserved in MAAS for this object", ip)}
	}
	var me *maas.Error
	if !errors.As(err, &me) {
		return vipVerdict{reason: infrav1.ReasonVIPReservationFailed, transient: true,
			message: fmt.Sprintf("reserving control-plane endpoint %s in MAAS failed, retrying: %v", ip, err)}
	}
	if me.Holder != nil {
		return vipVerdict{reason: infrav1.ReasonVIPReservedByOther, message: fmt.Sprintf(
			"control-plane endpoint %s is reserved in MAAS for %s%s; no machine is allocated until it is released (MAAS: %s)",
			ip, me.Holder.Owner(), installationNote(me.Holder.Installation), me.Message)}
	}
	refused := func(reason, why string) vipVerdict {
		return vipVerdict{reason: reason, message: fmt.Sprintf(
			"control-plane endpoint %s cannot be reserved in MAAS: %s; no machine is allocated (MAAS: %s)", ip, why, me.Message)}
	}
	switch me.Reason {
	case maas.ReasonAddressInUse:
		return refused(infrav1.ReasonVIPInUse, "a machine, a device or another reservation holds it")
	case maas.ReasonAddressInReservedRange:
		return refused(infrav1.ReasonVIPInReservedRange, "it lies in a reserved range of MAAS")
	case maas.ReasonAddressInDynamicRange:
		return refused(infrav1.ReasonVIPInDynamicRange, "it lies in a DHCP (dynamic) range of MAAS")
	case maas.ReasonNoSubnet:
		return refused(infrav1.ReasonVIPOutsideSubnets, "it is outside every subnet MAAS knows")
	}
	if me.Class == maas.ClassConflict {
		return refused(infrav1.ReasonVIPInUse, "MAAS says it is taken")
	}
	return vipVerdict{reason: infrav1.ReasonVIPReservationFailed, transient: me.Class == maas.ClassTransient,
		message: fmt.Sprintf("reserving control-plane endpoint %s in MAAS failed, retrying: %v", ip, err)}
}

// installationNote names the installation whose marks hold the address.
func installationNote(inst string) string {
	if inst == "" {
		return ""
	}
	return " of installation " + inst
}

// setVIPCondition records a verdict as the VIPReserved condition of obj,
// with an event when the condition changes.
func setVIPCondition(rec Recorder, obj runtime.Object, conds *[]metav1.Condition, generation int64, v vipVerdict) {
	prev := meta.FindStatusCondition(*conds, infrav1.ConditionVIPReserved)
	status := metav1.ConditionFalse
	if v.held {
		status = metav1.ConditionTrue
	}
	setCondition(conds, generation, infrav1.ConditionVIPReserved, status, v.reason, v.message)
	switch {
	case prev != nil && prev.Status == status && prev.Reason == v.reason:
	case v.held:
		rec.Eventf(obj, nil, corev1.EventTypeNormal, "VIPReserved", "Reserve", "%s", v.message)
	default:
		rec.Eventf(obj, nil, corev1.EventTypeWarning, v.reason, "Reserve", "%s", v.message)
	}
}

// vipKeeper remembers the VIPs this process has seen MAAS hold for their
// owners, so that an object at rest costs no MAAS request per reconcile:
// a restart forgets them all, and each object's next reconcile asks MAAS
// again (which answers with the reservation its marks name). A
// reservation removed by hand in MAAS is noticed at the next restart.
type vipKeeper struct {
	held sync.Map // owner UID → "account ip"
}

func (k *vipKeeper) holds(uid, account, ip string) bool {
	v, ok := k.held.Load(uid)
	return ok && v.(string) == account+" "+ip
}

func (k *vipKeeper) remember(uid, account, ip string) { k.held.Store(uid, account+" "+ip) }
func (k *vipKeeper) forget(uid string)                { k.held.Delete(uid) }

// ensureVIP makes sure MAAS holds ip for owner through account, asking MAAS
// unless this process has already seen it hold it.
func (k *vipKeeper) ensureVIP(ctx context.Context, inv AddressInventory, account string, owner maas.Owner, ip, dnsName string) vipVerdict {
	if k.holds(owner.UID, account, ip) {
		return judgeVIP(ip, nil)
	}
	_, err := inv.ReserveVIP(ctx, account, owner, ip, dnsName)
	v := judgeVIP(ip, err)
	if v.held {
		k.remember(owner.UID, account, ip)
	}
	return v
}

// apiDNSName is the DNS name a cluster's VIP is published under in MAAS:
// <name>-api in domain, or none without a domain, or when the object's name
// is not one DNS label (MAAS would take what follows its first dot for the
// domain).
func apiDNSName(name, domain string) string {
	label := name + "-api"
	if domain == "" || len(validation.IsDNS1123Label(label)) > 0 {
		return ""
	}
	return label + "." + domain
}

// releaseReservations releases every reservation the installation holds in
// account's MAAS for owner (its VIPs and pools, as their marks say), and
// returns what it released. Reservations marked for anyone else are never
// touched: ReleaseVIP and ReleaseRange check the marks again.
func releaseReservations(ctx context.Context, inv AddressInventory, account string, owner maas.Owner) ([]string, error) {
	all, err := inv.Reservations(ctx, account)
	if err != nil {
		return nil, err
	}
	var released []string
	var errs []error
	for _, res := range all.Of(owner) {
		if err := releaseReservation(ctx, inv, account, res); err != nil {
			errs = append(errs, err)
			continue
		}
		released = append(released, describeReservation(res))
	}
	return released, errors.Join(errs...)
}

// releaseReservation releases one reservation for the owner its marks
// name (which the release checks against MAAS's marks again).
func releaseReservation(ctx context.Context, inv AddressInventory, account string, res maas.Reservation) error {
	if res.Marks.Purpose == maas.PurposeVIP {
		return inv.ReleaseVIP(ctx, account, res.Marks.Owner(), res.IP().String())
	}
	return inv.ReleaseRange(ctx, account, res.Marks.Owner(), res.RangeID)
}

func describeReservation(res maas.Reservation) string {
	if res.Start == res.End {
		return fmt.Sprintf("%s %s", res.Marks.Purpose, res.Start)
	}
	return fmt.Sprintf("%s %s-%s", res.Marks.Purpose, res.Start, res.End)
}

// reservationKey identifies a reservation across sweeps.
func reservationKey(account string, res maas.Reservation) string {
	return strings.Join([]string{account, fmt.Sprint(res.RangeID), res.Start.String(), res.Marks.UID}, "|")
}

// releasableOrphans is the sweep's policy for reservations: of the
// installation's marked reservations, those whose owner has been missing
// (per gone) for at least grace by now (see dueOrphans).
func releasableOrphans(account string, marked []maas.Reservation, gone func(maas.Owner) bool,
	seen map[string]time.Time, now time.Time, grace time.Duration) (release []maas.Reservation, next time.Duration) {
	return dueOrphans(account, marked, func(res maas.Reservation) string { return reservationKey(account, res) },
		func(res maas.Reservation) bool { return gone(res.Marks.Owner()) }, seen, now, grace)
}

// dueOrphans is the clock of every sweep of orphans (reservations and
// machines): of items, those orphaned (per orphaned) for at least grace by
// now, with seen remembering when each, named by key (which must start
// with account and "|"), was first found orphaned. seen is updated in place:
// entries of the account no longer orphaned, or no longer among items, are
// dropped, so an owner that comes back restarts the clock. next is how long
// until the next one is due (0: none waiting).
func dueOrphans[T any](account string, items []T, key func(T) string, orphaned func(T) bool,
	seen map[string]time.Time, now time.Time, grace time.Duration) (due []T, next time.Duration) {
	current := map[string]bool{}
	for _, it := range items {
		if !orphaned(it) {
			continue
		}
		k := key(it)
		current[k] = true
		first, ok := seen[k]
		if !ok {
			first = now
			seen[k] = now
		}
		if wait := grace - now.Sub(first); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		due = append(due, it)
	}
	prefix := account + "|"
	for k := range seen {
		if strings.HasPrefix(k, prefix) && !current[k] {
			delete(seen, k)
		}
	}
	return due, next
}
