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
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
)

// Addresses reserved in MAAS (see reference/maas-ip-dns-tags.md, read from
// MAAS 3.6's source).
//
// A VIP is reserved with ipaddresses op=reserve, which any MAAS user may
// call and which refuses an address a machine, a device or another
// reservation holds, or one inside a reserved range: MAAS's own answer
// decides who wins a contested address. MAAS records no owner data on an
// address, so right after the reservation the address gets a one-address
// reserved IP range whose comment carries the Marks. A LoadBalancer pool is
// a reserved IP range carrying the Marks in its comment.
//
// Crash safety: a crash between reserving and marking leaves an address
// reserved by this MAAS user and marked by no range. Reserving it again
// (the owner retrying) finds it so and marks it; Reservations lists it as
// Unmarked for a sweep to release after a grace period. Release goes the
// other way round: the address first, then the marking range, so a crash
// in between leaves a marked range that still keeps the address from
// others, which the owner's next ReserveVIP or ReleaseVIP (or the sweep,
// once the owner is gone) clears.

// Reason refines an Error's Class for address operations: which of
// MAAS's rules refused the request.
type Reason string

const (
	// ReasonAddressInUse: a machine, a device, the gateway or another
	// reservation holds the address (MAAS 404 "… is already in use.").
	ReasonAddressInUse Reason = "AddressInUse"
	// ReasonAddressInReservedRange: the address is inside a reserved range
	// (MAAS 404 "X is within the reserved range from A to B").
	ReasonAddressInReservedRange Reason = "AddressInReservedRange"
	// ReasonAddressInDynamicRange: the address is MAAS's DHCP's (403).
	ReasonAddressInDynamicRange Reason = "AddressInDynamicRange"
	// ReasonNoSubnet: the address is in no subnet MAAS knows, or the
	// subnet named is unknown.
	ReasonNoSubnet Reason = "NoSubnet"
	// ReasonSubnetFull: MAAS found no free address (503).
	ReasonSubnetFull Reason = "SubnetFull"
	// ReasonRangeOverlap: a range would overlap another range.
	ReasonRangeOverlap Reason = "RangeOverlap"
	// ReasonNotReserved: releasing an address this user has not reserved.
	ReasonNotReserved Reason = "NotReserved"
)

// The operations named in errors.
const (
	opReserveVIP   = "reserve address"
	opMarkVIP      = "mark address"
	opReleaseVIP   = "release address"
	opListRanges   = "list ip ranges"
	opListAddrs    = "list addresses"
	opReserveRange = "reserve range"
	opReleaseRange = "release range"
	opSubnets      = "list subnets"
)

// Reservation is an address or a range reserved in MAAS with Marks.
type Reservation struct {
	Marks Marks
	// Start and End are the reserved addresses, equal for a VIP.
	Start, End netip.Addr
	SubnetID   int
	SubnetCIDR string
	// RangeID is the MAAS IP range carrying the marks (ipranges/{id}/).
	RangeID int
}

// IP is a VIP's address.
func (r Reservation) IP() netip.Addr { return r.Start }

// Size is the number of addresses reserved.
func (r Reservation) Size() int64 {
	n := new(big.Int).Sub(new(big.Int).SetBytes(r.End.AsSlice()), new(big.Int).SetBytes(r.Start.AsSlice()))
	if !n.IsInt64() {
		return -1
	}
	return n.Int64() + 1
}

// VIPRequest asks for a control-plane address.
type VIPRequest struct {
	// Installation is the installation's identity (its agent name).
	Installation string
	Owner        Owner
	// IP is the address wanted; empty asks MAAS to pick a free one on Subnet.
	IP string
	// Subnet (an id, a CIDR or a name) is where MAAS picks an address when
	// IP is empty; with IP, MAAS uses the subnet holding it.
	Subnet string
	// DNSName, when set, makes MAAS publish the address under that name:
	// a label (in MAAS's default domain) or label.domain, e.g. demo-api.maas.
	DNSName string
}

var dnsNameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

// ReserveVIP reserves req.IP (or a free address of req.Subnet) for
// req.Owner and marks it. Repeating it for the same owner returns the same
// reservation (with a subnet: the owner's marked VIP there, if any; an
// answer lost between MAAS reserving an address and this call marking it
// leaves that address unmarked, for the sweep). An address someone else holds is ClassConflict with
// MAAS's message, a Reason, and a Holder naming the other owner when the
// holder is marked; an address in no subnet is ClassInvalid/ReasonNoSubnet.
func (c *Client) ReserveVIP(ctx context.Context, req VIPRequest) (Reservation, error) {
	const op = opReserveVIP
	marks := Marks{Installation: req.Installation, Purpose: PurposeVIP,
		Kind: req.Owner.Kind, Namespace: req.Owner.Namespace, Name: req.Owner.Name, UID: req.Owner.UID}
	comment, err := FormatMarks(marks)
	if err != nil {
		return Reservation{}, refusal(ClassInvalid, op, "", err.Error())
	}
	params := url.Values{}
	var want netip.Addr
	switch {
	case req.IP != "":
		if want, err = netip.ParseAddr(req.IP); err != nil {
			return Reservation{}, refusal(ClassInvalid, op, "", fmt.Sprintf("%q is not an IP address", req.IP))
		}
		params.Set("ip", want.String())
	case req.Subnet != "":
		params.Set("subnet", req.Subnet)
	default:
		return Reservation{}, refusal(ClassInvalid, op, "", "a VIP needs an address or a subnet to pick one from")
	}
	if req.DNSName != "" {
		if len(req.DNSName) > 253 || !dnsNameRE.MatchString(req.DNSName) {
			return Reservation{}, refusal(ClassInvalid, op, "", fmt.Sprintf("%q is not a DNS name", req.DNSName))
		}
		params.Set("hostname", req.DNSName)
	}
	if !want.IsValid() {
		// MAAS picks the address, so only the marks tell a repeat from a
		// first request: look for the owner's VIP on that subnet first.
		ranges, err := c.listRanges(ctx)
		if err != nil {
			return Reservation{}, err
		}
		for _, r := range ranges {
			m, ok := ParseMarks(r.Comment)
			if ok && m.Held(marks.Installation, marks.Owner()) && m.Purpose == PurposeVIP && r.StartIP.Equal(r.EndIP) &&
				(strconv.Itoa(r.Subnet.ID) == req.Subnet || r.Subnet.CIDR == req.Subnet || r.Subnet.Name == req.Subnet) {
				return reservationOf(r, m), nil
			}
		}
	}
	// Twice at most: the second time after dropping a marking range of
	// ours that outlived its address.
	for range 2 {
		var got entity.IPAddress
		err := c.call(ctx, callSpec{op: op}, func(gc *client.Client) error {
			api, err := apiObject(gc, "ipaddresses")
			if err != nil {
				return err
			}
			err = api.Post("reserve", params, func(data []byte) error { return json.Unmarshal(data, &got) })
			return addressAnswer(op, err)
		})
		if err == nil {
			return c.markVIP(ctx, marks, comment, addrOf(got.IP), got.Subnet)
		}
		me, _ := err.(*Error)
		if me == nil || me.Class != ClassConflict || !want.IsValid() {
			return Reservation{}, err
		}
		res, again, err := c.vipHeld(ctx, marks, comment, want, me)
		if !again {
			return res, err
		}
	}
	return Reservation{}, refusal(ClassConflict, op, "", "the address keeps changing hands; try again")
}

// markVIP creates the one-address range carrying marks over ip, which this
// MAAS user has just reserved.
func (c *Client) markVIP(ctx context.Context, marks Marks, comment string, ip netip.Addr, sn entity.Subnet) (Reservation, error) {
	r, err := c.createRange(ctx, opMarkVIP, sn.ID, ip, ip, comment)
	if err == nil {
		return reservationOf(r, marks), nil
	}
	me, _ := err.(*Error)
	if me != nil && me.Reason == ReasonRangeOverlap {
		// Someone marked it first (another object adopting the same
		// unmarked address, or a pool over it): theirs now, which is
		// what the caller needs to hear, not the form error.
		e := *me
		e.Op, e.Reason = opReserveVIP, ReasonAddressInUse
		e.Message = "address " + ip.String() + " was marked for another owner first"
		if held := c.holderOf(ctx, ip); held != nil {
			return Reservation{}, withHolder(&e, held)
		}
		return Reservation{}, &e
	}
	if me != nil {
		e := *me
		e.Message = "address " + ip.String() + " reserved but not yet marked (a retry marks it): " + me.Message
		return Reservation{}, &e
	}
	return Reservation{}, err
}

// vipHeld decides what MAAS's refusal of ip means: ours already (success),
// ours but stale (again: reserve anew), an unmarked reservation of this MAAS
// user (mark it for us), or someone else's (the refusal, naming them).
func (c *Client) vipHeld(ctx context.Context, marks Marks, comment string, ip netip.Addr, refused *Error) (_ Reservation, again bool, _ error) {
	ranges, err := c.listRanges(ctx)
	if err != nil {
		return Reservation{}, false, refused
	}
	if r := covering(ranges, ip); r != nil {
		m, ok := ParseMarks(r.Comment)
		switch {
		case ok && m.Held(marks.Installation, marks.Owner()) && m.Purpose == PurposeVIP:
			// MAAS checks reserved ranges before holders, so our own
			// marking range is what it refuses: is the address still ours
			// beneath it?
			own, err := c.ownAddress(ctx, ip)
			if err != nil {
				return Reservation{}, false, err
			}
			if own != nil {
				return reservationOf(*r, m), false, nil
			}
			// Our mark without its address (a release cut short): drop it
			// and reserve again.
			if err := c.deleteRange(ctx, r.ID); err != nil {
				return Reservation{}, false, err
			}
			return Reservation{}, true, nil
		case ok:
			return Reservation{}, false, withHolder(refused, &m)
		}
		e := *refused
		if r.Comment != "" {
			e.Message += fmt.Sprintf(" (reserved range %d: %q)", r.ID, r.Comment)
		}
		return Reservation{}, false, &e
	}
	if own, err := c.ownAddress(ctx, ip); err == nil && own != nil {
		res, err := c.markVIP(ctx, marks, comment, ip, own.Subnet)
		return res, false, err
	}
	e := *refused
	if who := c.describeHolder(ctx, ip); who != "" {
		e.Message += " (" + who + ")"
	}
	return Reservation{}, false, &e
}

// ReleaseVIP releases the VIP ip of owner: the address, then its marking
// range. An address no range marks is left alone (the sweep of Unmarked
// addresses handles it), and so is one marked for another owner
// (ClassNotOwned with Holder). Repeating it is harmless.
func (c *Client) ReleaseVIP(ctx context.Context, installation string, owner Owner, ip string) error {
	const op = opReleaseVIP
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return refusal(ClassInvalid, op, "", fmt.Sprintf("%q is not an IP address", ip))
	}
	ranges, err := c.listRanges(ctx)
	if err != nil {
		return err
	}
	r := covering(ranges, a)
	if r == nil {
		return nil
	}
	m, ok := ParseMarks(r.Comment)
	if !ok || m.Purpose != PurposeVIP || !m.Held(installation, owner) {
		e := refusal(ClassNotOwned, op, "", fmt.Sprintf("address %s is not marked as %s's VIP; it is left alone", a, owner))
		if ok {
			e.Holder = &m
		}
		return e
	}
	if err := c.releaseAddress(ctx, a); err != nil && !isReason(err, ReasonNotReserved) {
		return err
	}
	return c.deleteRange(ctx, r.ID)
}

// Reservations is what Reservations found in MAAS.
type Reservations struct {
	// Marked are the VIPs and pools carrying the installation's marks.
	Marked []Reservation
	// Unmarked are addresses this MAAS user reserved that no VIP marks:
	// a reservation whose marking a crash cut short, or one made by hand
	// with the same key. Release them (ReleaseUnmarked) only after they
	// have stayed unmarked for a grace period.
	Unmarked []netip.Addr
}

// Of returns the reservations marked for owner.
func (r Reservations) Of(owner Owner) []Reservation {
	var out []Reservation
	for _, x := range r.Marked {
		if x.Marks.Owner().SameObject(owner) {
			out = append(out, x)
		}
	}
	return out
}

// Reservations lists every reservation of installation, from MAAS and
// never from memory, in two requests (the IP ranges and this user's
// addresses): what a restarted operator, or a sweep for owners that no
// longer exist, starts from.
func (c *Client) Reservations(ctx context.Context, installation string) (Reservations, error) {
	if err := ValidateAgentName(installation); err != nil {
		return Reservations{}, refusal(ClassInvalid, opListRanges, "", err.Error())
	}
	ranges, err := c.listRanges(ctx)
	if err != nil {
		return Reservations{}, err
	}
	var own []entity.IPAddress
	err = c.call(ctx, callSpec{op: opListAddrs, idempotent: true}, func(gc *client.Client) error {
		var err error
		own, err = gc.IPAddresses.Get(&entity.IPAddressesParams{})
		return err
	})
	if err != nil {
		return Reservations{}, err
	}
	var out Reservations
	marked := map[netip.Addr]bool{}
	for _, r := range ranges {
		m, ok := ParseMarks(r.Comment)
		if !ok {
			continue
		}
		if m.Purpose == PurposeVIP && r.StartIP.Equal(r.EndIP) {
			marked[addrOf(r.StartIP)] = true
		}
		if m.Installation == installation {
			out.Marked = append(out.Marked, reservationOf(r, m))
		}
	}
	for _, a := range own {
		if ip := addrOf(a.IP); a.AllocType == allocUserReserved && ip.IsValid() && !marked[ip] {
			out.Unmarked = append(out.Unmarked, ip)
		}
	}
	return out, nil
}

// UnmarkedAddress is an address Reservations listed as Unmarked, with the
// time a sweep first saw it so.
type UnmarkedAddress struct {
	IP netip.Addr
	// Since is when it was first seen unmarked. MAAS keeps no reservation
	// time this package reads, so after a restart the clock starts again:
	// the grace period can only get longer, never shorter.
	Since time.Time
}

// ReleasableUnmarked is the policy for unmarked addresses, as
// ReleasableUnclaimed is for machines: those unmarked for at least grace
// by now. An address whose owner is still marking it is marked by then.
func ReleasableUnmarked(seen []UnmarkedAddress, now time.Time, grace time.Duration) []netip.Addr {
	var out []netip.Addr
	for _, u := range seen {
		if !u.Since.IsZero() && now.Sub(u.Since) >= grace {
			out = append(out, u.IP)
		}
	}
	return out
}

// ReleaseUnmarked releases an address of this MAAS user that no VIP marks
// (see Reservations.Unmarked), checking again first: one marked meanwhile
// is ClassConflict with its Holder, and left alone.
func (c *Client) ReleaseUnmarked(ctx context.Context, ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return refusal(ClassInvalid, opReleaseVIP, "", fmt.Sprintf("%q is not an IP address", ip))
	}
	if held := c.holderOf(ctx, a); held != nil {
		return withHolder(refusal(ClassConflict, opReleaseVIP, "", "address "+a.String()+" is marked now"), held)
	}
	if err := c.releaseAddress(ctx, a); err != nil && !isReason(err, ReasonNotReserved) {
		return err
	}
	return nil
}

// RangeRequest asks for a reserved range, e.g. a LoadBalancer pool.
type RangeRequest struct {
	Installation string
	Owner        Owner
	// Purpose defaults to PurposeLoadBalancer.
	Purpose Purpose
	// Subnet is the subnet's id, CIDR or name.
	Subnet string
	// Start and End are the range; or, with Start empty, Count asks for
	// the first free block of that many addresses.
	Start, End string
	Count      int
}

// ReserveRange reserves a range on req.Subnet with the owner's marks. A
// range this owner already holds there (the same addresses, or with Count
// the same size) is returned as it is, so repeating it is harmless. A
// range overlapping another is ClassConflict/ReasonRangeOverlap, with the
// Holder when the other range is marked.
func (c *Client) ReserveRange(ctx context.Context, req RangeRequest) (Reservation, error) {
	const op = opReserveRange
	if req.Purpose == "" {
		req.Purpose = PurposeLoadBalancer
	}
	marks := Marks{Installation: req.Installation, Purpose: req.Purpose,
		Kind: req.Owner.Kind, Namespace: req.Owner.Namespace, Name: req.Owner.Name, UID: req.Owner.UID}
	comment, err := FormatMarks(marks)
	if err != nil {
		return Reservation{}, refusal(ClassInvalid, op, "", err.Error())
	}
	var start, end netip.Addr
	if req.Start != "" {
		start, err = netip.ParseAddr(req.Start)
		if err == nil {
			end, err = netip.ParseAddr(req.End)
		}
		if err != nil || end.Less(start) || start.Is4() != end.Is4() {
			return Reservation{}, refusal(ClassInvalid, op, "", fmt.Sprintf("%q-%q is not an address range", req.Start, req.End))
		}
	} else if req.Count < 1 {
		return Reservation{}, refusal(ClassInvalid, op, "", "a range needs start and end addresses or a count")
	}
	sn, err := c.subnet(ctx, req.Subnet)
	if err != nil {
		return Reservation{}, err
	}
	if !sn.Managed {
		// On an unmanaged subnet MAAS auto-assigns machines' addresses
		// from the reserved ranges: a pool there would be handed out.
		return Reservation{}, refusal(ClassInvalid, op, "", fmt.Sprintf(
			"subnet %s is not managed by MAAS, which then assigns machines' addresses from its reserved ranges; a pool needs a managed subnet", sn.CIDR))
	}
	// Picking a free block races with others picking it: a lost race is
	// an overlap, after which the next free block is tried.
	for range 3 {
		ranges, err := c.listRanges(ctx)
		if err != nil {
			return Reservation{}, err
		}
		for _, r := range ranges {
			m, ok := ParseMarks(r.Comment)
			if !ok || !m.Held(req.Installation, req.Owner) || m.Purpose != req.Purpose || r.Subnet.ID != sn.ID {
				continue
			}
			x := reservationOf(r, m)
			if (start.IsValid() && x.Start == start && x.End == end) || (!start.IsValid() && x.Size() == int64(req.Count)) {
				return x, nil
			}
		}
		lo, hi := start, end
		if !lo.IsValid() {
			if lo, hi, err = c.freeBlock(ctx, sn.ID, req.Count); err != nil {
				return Reservation{}, err
			}
		}
		r, err := c.createRange(ctx, op, sn.ID, lo, hi, comment)
		if err == nil {
			return reservationOf(r, marks), nil
		}
		me, _ := err.(*Error)
		if me == nil || me.Reason != ReasonRangeOverlap {
			return Reservation{}, err
		}
		if start.IsValid() {
			if held := c.overlapHolder(ctx, lo, hi); held != nil {
				return Reservation{}, withHolder(me, held)
			}
			return Reservation{}, err
		}
	}
	return Reservation{}, refusal(ClassConflict, op, "", "every free block was taken while picking one; try again")
}

// ReleaseRange deletes the range rangeID if it carries the owner's marks;
// one already gone is success, one marked for another owner (or not at
// all) is ClassNotOwned and left alone.
func (c *Client) ReleaseRange(ctx context.Context, installation string, owner Owner, rangeID int) error {
	const op = opReleaseRange
	var r *entity.IPRange
	err := c.call(ctx, callSpec{op: op, idempotent: true}, func(gc *client.Client) error {
		var err error
		r, err = gc.IPRange.Get(rangeID)
		return err
	})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	m, ok := ParseMarks(r.Comment)
	if !ok || !m.Held(installation, owner) {
		e := refusal(ClassNotOwned, op, "", fmt.Sprintf("range %d is not marked as %s's; it is left alone", rangeID, owner))
		if ok {
			e.Holder = &m
		}
		return e
	}
	return c.deleteRange(ctx, rangeID)
}

// --- the calls ---

// apiObject is gomaasclient's API client for a collection, for the calls
// whose parameters gomaasclient's typed ones cannot carry (op=reserve's
// hostname) or whose answers they cannot read (IPv6 block sizes).
func apiObject(gc *client.Client, name string) (client.APIClient, error) {
	ia, ok := gc.IPAddresses.(*client.IPAddresses)
	if !ok {
		return client.APIClient{}, fmt.Errorf("gomaasclient's IPAddresses is a %T", gc.IPAddresses)
	}
	return ia.APIClient.GetSubObject(name), nil
}

func (c *Client) listRanges(ctx context.Context) ([]entity.IPRange, error) {
	var out []entity.IPRange
	err := c.call(ctx, callSpec{op: opListRanges, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.IPRanges.Get()
		return err
	})
	return out, err
}

// createRange creates a reserved range. Not idempotent: a repeat after a
// lost answer overlaps the range the first attempt made, which the callers
// find marked as theirs.
func (c *Client) createRange(ctx context.Context, op string, subnetID int, lo, hi netip.Addr, comment string) (entity.IPRange, error) {
	var out *entity.IPRange
	err := c.call(ctx, callSpec{op: op}, func(gc *client.Client) error {
		var err error
		out, err = gc.IPRanges.Create(&entity.IPRangeParams{
			Type: "reserved", Subnet: strconv.Itoa(subnetID), StartIP: lo.String(), EndIP: hi.String(), Comment: comment,
		})
		return addressAnswer(op, err)
	})
	if err != nil {
		return entity.IPRange{}, err
	}
	return *out, nil
}

func (c *Client) deleteRange(ctx context.Context, id int) error {
	err := c.call(ctx, callSpec{op: opReleaseRange, idempotent: true}, func(gc *client.Client) error {
		return gc.IPRange.Delete(id)
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Client) releaseAddress(ctx context.Context, a netip.Addr) error {
	return c.call(ctx, callSpec{op: opReleaseVIP, idempotent: true}, func(gc *client.Client) error {
		return addressAnswer(opReleaseVIP, gc.IPAddresses.Release(&entity.IPAddressesParams{IP: a.String()}))
	})
}

// ownAddress is this MAAS user's reservation of a, or nil.
func (c *Client) ownAddress(ctx context.Context, a netip.Addr) (*entity.IPAddress, error) {
	var list []entity.IPAddress
	err := c.call(ctx, callSpec{op: opListAddrs, idempotent: true}, func(gc *client.Client) error {
		var err error
		list, err = gc.IPAddresses.Get(&entity.IPAddressesParams{IP: a.String()})
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range list {
		if addrOf(list[i].IP) == a && list[i].AllocType == allocUserReserved {
			return &list[i], nil
		}
	}
	return nil, nil
}

// subnet resolves an id, a CIDR or a name with one list of subnets.
func (c *Client) subnet(ctx context.Context, spec string) (entity.Subnet, error) {
	var list []entity.Subnet
	err := c.call(ctx, callSpec{op: opSubnets, idempotent: true}, func(gc *client.Client) error {
		var err error
		list, err = gc.Subnets.Get()
		return err
	})
	if err != nil {
		return entity.Subnet{}, err
	}
	p, perr := netip.ParsePrefix(spec)
	for _, sn := range list {
		if strconv.Itoa(sn.ID) == spec || sn.Name == spec || sn.CIDR == spec {
			return sn, nil
		}
		if q, err := netip.ParsePrefix(sn.CIDR); perr == nil && err == nil && q.Masked() == p.Masked() {
			return sn, nil
		}
	}
	e := refusal(ClassInvalid, opSubnets, "", fmt.Sprintf("MAAS has no subnet %q", spec))
	e.Reason = ReasonNoSubnet
	return entity.Subnet{}, e
}

// freeBlock is the start of the first block of count free addresses MAAS
// reports on the subnet (op=unreserved_ip_ranges).
func (c *Client) freeBlock(ctx context.Context, subnetID, count int) (lo, hi netip.Addr, _ error) {
	var blocks []struct {
		Start        string      `json:"start"`
		End          string      `json:"end"`
		NumAddresses json.Number `json:"num_addresses"`
	}
	err := c.call(ctx, callSpec{op: opSubnets, idempotent: true}, func(gc *client.Client) error {
		api, err := apiObject(gc, "subnets")
		if err != nil {
			return err
		}
		return api.GetSubObject(strconv.Itoa(subnetID)).Get("unreserved_ip_ranges", url.Values{}, func(data []byte) error {
			return json.Unmarshal(data, &blocks)
		})
	})
	if err != nil {
		return lo, hi, err
	}
	for _, b := range blocks {
		n, ok := new(big.Int).SetString(b.NumAddresses.String(), 10)
		start, err := netip.ParseAddr(b.Start)
		if !ok || err != nil || n.Cmp(big.NewInt(int64(count))) < 0 {
			continue
		}
		end := start
		for range count - 1 {
			end = end.Next()
		}
		return start, end, nil
	}
	e := refusal(ClassNoCapacity, opReserveRange, "", fmt.Sprintf("no block of %d free addresses on subnet %d", count, subnetID))
	e.Reason = ReasonSubnetFull
	return lo, hi, e
}

// holderOf reads the marks of the range covering a, if any (best effort).
func (c *Client) holderOf(ctx context.Context, a netip.Addr) *Marks {
	return c.overlapHolder(ctx, a, a)
}

// overlapHolder reads the marks of a range overlapping lo-hi (best effort).
func (c *Client) overlapHolder(ctx context.Context, lo, hi netip.Addr) *Marks {
	ranges, err := c.listRanges(ctx)
	if err != nil {
		return nil
	}
	for _, r := range ranges {
		s, e := addrOf(r.StartIP), addrOf(r.EndIP)
		if s.Compare(hi) <= 0 && lo.Compare(e) <= 0 {
			if m, ok := ParseMarks(r.Comment); ok {
				return &m
			}
		}
	}
	return nil
}

// describeHolder says who holds a per the subnet's op=ip_addresses, which
// any user may read (best effort: "" when MAAS does not say).
func (c *Client) describeHolder(ctx context.Context, a netip.Addr) string {
	var subnets []entity.Subnet
	var who string
	_ = c.call(ctx, callSpec{op: opSubnets, idempotent: true, attempts: 1}, func(gc *client.Client) error {
		var err error
		if subnets, err = gc.Subnets.Get(); err != nil {
			return err
		}
		best := -1
		for i, sn := range subnets {
			if p, err := netip.ParsePrefix(sn.CIDR); err == nil && p.Contains(a) && (best < 0 || p.Bits() > netip.MustParsePrefix(subnets[best].CIDR).Bits()) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		if addrOf(subnets[best].GatewayIP) == a {
			who = "the gateway of subnet " + subnets[best].CIDR
			return nil
		}
		ips, err := gc.Subnet.GetIPAddresses(subnets[best].ID)
		if err != nil {
			return err
		}
		for _, ip := range ips {
			switch {
			case addrOf(ip.IP) != a:
			case ip.NodeSummary.Hostname != "":
				who = "held by machine " + ip.NodeSummary.Hostname
				if ip.NodeSummary.SystemID != "" {
					who += " (" + ip.NodeSummary.SystemID + ")"
				}
			case ip.User != "":
				who = "reserved by MAAS user " + ip.User
			}
		}
		return nil
	})
	return who
}

// --- answers ---

// allocUserReserved is MAAS's IPADDRESS_TYPE.USER_RESERVED.
const allocUserReserved = 4

// addressAnswers are MAAS 3.6's refusals of address requests: the only
// place their text is read, so that callers branch on Class and Reason.
var addressAnswers = []struct {
	status int
	match  func(string) bool
	class  Class
	reason Reason
}{
	{http.StatusNotFound, msgSuffix("is already in use."), ClassConflict, ReasonAddressInUse},
	{http.StatusNotFound, msgContains(" is within the reserved range from "), ClassConflict, ReasonAddressInReservedRange},
	{http.StatusForbidden, msgContains("belongs to an existing dynamic range"), ClassInvalid, ReasonAddressInDynamicRange},
	{http.StatusBadRequest, msgPrefix("No known subnet for IP address"), ClassInvalid, ReasonNoSubnet},
	{http.StatusBadRequest, msgPrefix("Unable to identify subnet"), ClassInvalid, ReasonNoSubnet},
	{http.StatusServiceUnavailable, msgPrefix("No more IPs available in subnet"), ClassNoCapacity, ReasonSubnetFull},
	{http.StatusBadRequest, msgContains("range conflicts with an existing"), ClassConflict, ReasonRangeOverlap},
	{http.StatusBadRequest, msgContains(" does not exist"), ClassNotFound, ReasonNotReserved}, // release
}

func msgPrefix(s string) func(string) bool {
	return func(m string) bool { return strings.HasPrefix(m, s) }
}
func msgSuffix(s string) func(string) bool {
	return func(m string) bool { return strings.HasSuffix(m, s) }
}
func msgContains(s string) func(string) bool {
	return func(m string) bool { return strings.Contains(m, s) }
}

// addressAnswer turns a refusal MAAS gives address requests into an
// *Error with its Class and Reason, so the retry layer leaves it alone;
// anything else is returned as it is for call to classify.
func addressAnswer(op string, err error) error {
	se, ok := serverError(err)
	if !ok {
		return err
	}
	msg := strings.TrimSpace(se.BodyMessage)
	for _, a := range addressAnswers {
		if se.StatusCode == a.status && a.match(msg) {
			e := newError(op, "", err)
			e.Class, e.Reason = a.class, a.reason
			return e
		}
	}
	return err
}

// classifyAddress returns what addressAnswer would make of an answer (for
// tests of the table).
func classifyAddress(status int, body string) (Class, Reason) {
	for _, a := range addressAnswers {
		if status == a.status && a.match(strings.TrimSpace(body)) {
			return a.class, a.reason
		}
	}
	return classifyStatus("", status), ""
}

func isReason(err error, r Reason) bool {
	me, ok := err.(*Error)
	return ok && me.Reason == r
}

func withHolder(e *Error, m *Marks) *Error {
	out := *e
	out.Holder = m
	out.Message = e.Message + " (held by " + m.String() + ")"
	return &out
}

func covering(ranges []entity.IPRange, a netip.Addr) *entity.IPRange {
	for i := range ranges {
		if s, e := addrOf(ranges[i].StartIP), addrOf(ranges[i].EndIP); s.Compare(a) <= 0 && a.Compare(e) <= 0 {
			return &ranges[i]
		}
	}
	return nil
}

func reservationOf(r entity.IPRange, m Marks) Reservation {
	return Reservation{Marks: m, Start: addrOf(r.StartIP), End: addrOf(r.EndIP), SubnetID: r.Subnet.ID, SubnetCIDR: r.Subnet.CIDR, RangeID: r.ID}
}

// addrOf converts gomaasclient's net.IP (16 bytes even for IPv4).
func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}
