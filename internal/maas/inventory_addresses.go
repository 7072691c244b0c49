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

import "context"

// Address reservations through an account of the inventory: the account's
// client, and its agent name as the installation every mark names. They
// are not cached: MAAS's answer is what decides who holds an address, and
// the callers (a cluster's first reconciles, its deletion, a periodic
// sweep) are rare.

// ReserveVIP reserves ip for owner through account key, published under
// dnsName when it is not empty (see Client.ReserveVIP).
func (inv *Inventory) ReserveVIP(ctx context.Context, key string, owner Owner, ip, dnsName string) (Reservation, error) {
	a, err := inv.accountFor(opReserveVIP, key)
	if err != nil {
		return Reservation{}, err
	}
	cl, agentName := a.current()
	return cl.ReserveVIP(ctx, VIPRequest{Installation: agentName, Owner: owner, IP: ip, DNSName: dnsName})
}

// ReleaseVIP releases owner's VIP ip through account key (see Client.ReleaseVIP).
func (inv *Inventory) ReleaseVIP(ctx context.Context, key string, owner Owner, ip string) error {
	a, err := inv.accountFor(opReleaseVIP, key)
	if err != nil {
		return err
	}
	cl, agentName := a.current()
	return cl.ReleaseVIP(ctx, agentName, owner, ip)
}

// ReserveRange reserves a range for owner through account key (see
// Client.ReserveRange); req's Installation is the account's.
func (inv *Inventory) ReserveRange(ctx context.Context, key string, req RangeRequest) (Reservation, error) {
	a, err := inv.accountFor(opReserveRange, key)
	if err != nil {
		return Reservation{}, err
	}
	cl, agentName := a.current()
	req.Installation = agentName
	return cl.ReserveRange(ctx, req)
}

// ReleaseRange releases owner's range rangeID through account key (see Client.ReleaseRange).
func (inv *Inventory) ReleaseRange(ctx context.Context, key string, owner Owner, rangeID int) error {
	a, err := inv.accountFor(opReleaseRange, key)
	if err != nil {
		return err
	}
	cl, agentName := a.current()
	return cl.ReleaseRange(ctx, agentName, owner, rangeID)
}

// Reservations lists the installation's reservations in the MAAS of
// account key (see Client.Reservations).
func (inv *Inventory) Reservations(ctx context.Context, key string) (Reservations, error) {
	a, err := inv.accountFor(opListRanges, key)
	if err != nil {
		return Reservations{}, err
	}
	cl, agentName := a.current()
	return cl.Reservations(ctx, agentName)
}
