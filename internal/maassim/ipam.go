package maassim

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The simulator's IP address management, as MAAS 3.6 does it
// (src/maasserver/api/{subnets,ip_addresses,ipranges,dnsresources}.py and
// the models behind them): subnets, user-reserved addresses, IP ranges and
// DNS resources, and the auto-assignment of deployed machines' addresses
// that avoids all of them. Everything here is guarded by Sim.mu.

// SubnetSpec declares a subnet (Config.Subnets, or "subnets" in an
// inventory file).
type SubnetSpec struct {
	// CIDR is the subnet, e.g. 10.20.0.0/16.
	CIDR string `json:"cidr"`
	// Name defaults to the CIDR, as in MAAS.
	Name string `json:"name,omitempty"`
	// Gateway defaults to the subnet's first host address.
	Gateway string `json:"gateway,omitempty"`
	// Unmanaged makes MAAS auto-assign only from the subnet's reserved
	// ranges (MAAS's managed=false), instead of everywhere but them.
	Unmanaged bool `json:"unmanaged,omitempty"`
	// Dynamic are DHCP ranges (created by the admin, as MAAS's
	// dynamic ranges are); Reserved are reserved ranges owned by nobody.
	Dynamic  []RangeSpec `json:"dynamic,omitempty"`
	Reserved []RangeSpec `json:"reserved,omitempty"`
}

// RangeSpec is an inclusive address range of a SubnetSpec.
type RangeSpec struct {
	Start   string `json:"start"`
	End     string `json:"end"`
	Comment string `json:"comment,omitempty"`
}

// The IP range types of MAAS (IPRANGE_TYPE).
const (
	rangeDynamic  = "dynamic"
	rangeReserved = "reserved"
)

// maxCommentLen is the length of IPRange.comment (a CharField).
const maxCommentLen = 255

type subnet struct {
	id      int
	name    string
	prefix  netip.Prefix
	gateway netip.Addr // the zero Addr when none
	managed bool
}

func (sn *subnet) gatewayString() string {
	if !sn.gateway.IsValid() {
		return ""
	}
	return sn.gateway.String()
}

// ipRecord is a StaticIPAddress of type USER_RESERVED.
type ipRecord struct {
	id      int
	ip      netip.Addr
	sub     *subnet
	user    *user
	mac     string
	created time.Time
}

type ipRange struct {
	id         int
	typ        string
	start, end netip.Addr
	sub        *subnet
	user       *user // nil for ranges from the configuration
	comment    string
}

func (r *ipRange) span() span { return span{r.start, r.end} }

type dnsResource struct {
	id     int
	name   string
	domain *domain
	ttl    *int
	ips    []netip.Addr
}

func (d *dnsResource) fqdn() string { return d.name + "." + d.domain.name }

type ipam struct {
	subnets  []*subnet
	reserved map[netip.Addr]*ipRecord
	order    []*ipRecord // reservations in id order
	ranges   []*ipRange  // in id order
	dns      []*dnsResource
	claimed  map[netip.Addr]*machine // deployed machines' addresses
	nextID   struct{ ip, rng, dns int }
}

func (a *ipam) init() {
	a.reserved = map[netip.Addr]*ipRecord{}
	a.claimed = map[netip.Addr]*machine{}
}

// --- address arithmetic ---

// span is an inclusive range of addresses of one family.
type span struct{ lo, hi netip.Addr }

func (s span) contains(a netip.Addr) bool { return a.Compare(s.lo) >= 0 && a.Compare(s.hi) <= 0 }
func (s span) overlaps(t span) bool       { return s.lo.Compare(t.hi) <= 0 && t.lo.Compare(s.hi) <= 0 }

// size is the number of addresses in s, saturated at MaxUint64 (an IPv6
// subnet holds more than that).
func (s span) size() uint64 {
	lo, hi := s.lo.As16(), s.hi.As16()
	dl, borrow := bits.Sub64(binary.BigEndian.Uint64(hi[8:]), binary.BigEndian.Uint64(lo[8:]), 0)
	dh, _ := bits.Sub64(binary.BigEndian.Uint64(hi[:8]), binary.BigEndian.Uint64(lo[:8]), borrow)
	if dh != 0 || dl == math.MaxUint64 {
		return math.MaxUint64
	}
	return dl + 1
}

// lastAddr is the highest address of p (the IPv4 broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	nbits := p.Bits()
	for i := range b {
		for j := range 8 {
			if i*8+j >= nbits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// hosts is the part of the subnet MAAS assigns from: without the network
// address, and for IPv4 without the broadcast address.
func (sn *subnet) hosts() span {
	lo, hi := sn.prefix.Masked().Addr(), lastAddr(sn.prefix)
	if sn.prefix.Bits() >= sn.prefix.Addr().BitLen()-1 {
		return span{lo, hi} // /31, /32, /127, /128: every address
	}
	lo = lo.Next()
	if lo.Is4() {
		hi = hi.Prev()
	}
	return span{lo, hi}
}

// freeSpans returns what is left of within after taking out used, in
// order.
func freeSpans(within span, used []span) []span {
	slices.SortFunc(used, func(a, b span) int { return a.lo.Compare(b.lo) })
	var out []span
	next := within.lo
	done := false
	for _, u := range used {
		if done || u.hi.Compare(next) < 0 || !u.overlaps(within) {
			continue
		}
		if u.lo.Compare(next) > 0 {
			out = append(out, span{next, u.lo.Prev()})
		}
		if u.hi.Compare(within.hi) >= 0 {
			done = true
			continue
		}
		next = u.hi.Next()
	}
	if !done {
		out = append(out, span{next, within.hi})
	}
	return out
}

// --- subnets ---

func validateSubnets(specs []SubnetSpec) error {
	seen := map[netip.Prefix]bool{}
	for i, sp := range specs {
		where := fmt.Sprintf("subnet %d (%q)", i, sp.CIDR)
		p, err := netip.ParsePrefix(sp.CIDR)
		if err != nil {
			return fmt.Errorf("%s: invalid CIDR", where)
		}
		p = p.Masked()
		if seen[p] {
			return fmt.Errorf("%s: duplicate subnet", where)
		}
		seen[p] = true
		if sp.Gateway != "" {
			if g, err := netip.ParseAddr(sp.Gateway); err != nil || !p.Contains(g) {
				return fmt.Errorf("%s: gateway %q is not an address in the subnet", where, sp.Gateway)
			}
		}
		for _, r := range append(slices.Clone(sp.Dynamic), sp.Reserved...) {
			lo, err1 := netip.ParseAddr(r.Start)
			hi, err2 := netip.ParseAddr(r.End)
			if err1 != nil || err2 != nil || !p.Contains(lo) || !p.Contains(hi) || hi.Less(lo) {
				return fmt.Errorf("%s: range %s-%s is not an ordered range within the subnet", where, r.Start, r.End)
			}
			if len(r.Comment) > maxCommentLen {
				return fmt.Errorf("%s: range comment longer than %d characters", where, maxCommentLen)
			}
		}
	}
	return nil
}

// addSubnets creates the configured subnets and their ranges.
func (s *Sim) addSubnets(specs []SubnetSpec) error {
	if err := validateSubnets(specs); err != nil {
		return fmt.Errorf("maassim: %w", err)
	}
	for _, sp := range specs {
		p := netip.MustParsePrefix(sp.CIDR).Masked()
		sn := s.newSubnet(p)
		sn.name = orDefault(sp.Name, sn.name)
		sn.managed = !sp.Unmanaged
		if sp.Gateway != "" {
			sn.gateway = netip.MustParseAddr(sp.Gateway)
		}
		for _, r := range sp.Dynamic {
			s.addRange(rangeDynamic, sn, netip.MustParseAddr(r.Start), netip.MustParseAddr(r.End), nil, r.Comment)
		}
		for _, r := range sp.Reserved {
			s.addRange(rangeReserved, sn, netip.MustParseAddr(r.Start), netip.MustParseAddr(r.End), nil, r.Comment)
		}
	}
	return nil
}

func (s *Sim) newSubnet(p netip.Prefix) *subnet {
	sn := &subnet{id: len(s.ipam.subnets) + 1, name: p.String(), prefix: p, managed: true}
	if h := sn.hosts(); h.lo.IsValid() {
		sn.gateway = h.lo
	}
	s.ipam.subnets = append(s.ipam.subnets, sn)
	return sn
}

func (s *Sim) addRange(typ string, sn *subnet, lo, hi netip.Addr, u *user, comment string) *ipRange {
	s.ipam.nextID.rng++
	r := &ipRange{id: s.ipam.nextID.rng, typ: typ, start: lo, end: hi, sub: sn, user: u, comment: comment}
	s.ipam.ranges = append(s.ipam.ranges, r)
	return r
}

// subnetForMachine is the subnet of a machine with the inventory's
// addresses ips: the declared subnet holding the first one, else the /24
// (IPv4) or /64 (IPv6) around it; without addresses the first declared
// subnet, else a placeholder 10.255.0.0/24.
func (s *Sim) subnetForMachine(ips []string) *subnet {
	var p netip.Prefix
	if len(ips) > 0 {
		if a, err := netip.ParseAddr(ips[0]); err == nil {
			if sn := s.bestSubnet(a); sn != nil {
				return sn
			}
			nbits := 24
			if a.Is6() {
				nbits = 64
			}
			p, _ = a.Prefix(nbits)
		}
	}
	if !p.IsValid() {
		if len(s.ipam.subnets) > 0 {
			return s.ipam.subnets[0]
		}
		p = netip.MustParsePrefix("10.255.0.0/24")
	}
	for _, sn := range s.ipam.subnets {
		if sn.prefix == p {
			return sn
		}
	}
	return s.newSubnet(p)
}

// bestSubnet is MAAS's get_best_subnet_for_ip: the most specific subnet
// holding a.
func (s *Sim) bestSubnet(a netip.Addr) *subnet {
	var best *subnet
	for _, sn := range s.ipam.subnets {
		if sn.prefix.Contains(a) && (best == nil || sn.prefix.Bits() > best.prefix.Bits()) {
			best = sn
		}
	}
	return best
}

// subnetBySpecifier resolves what subnets/{id}/ and the subnet parameters
// accept: an id, a CIDR, a name, or "cidr:", "name:", "id:" specifiers.
func (s *Sim) subnetBySpecifier(spec string) *subnet {
	kind, v, found := strings.Cut(spec, ":")
	if !found || (kind != "id" && kind != "cidr" && kind != "name") {
		kind, v = "", spec
	}
	for _, sn := range s.ipam.subnets {
		switch {
		case (kind == "" || kind == "id") && strconv.Itoa(sn.id) == v,
			(kind == "" || kind == "name") && sn.name == v:
			return sn
		case kind == "" || kind == "cidr":
			if p, err := netip.ParsePrefix(v); err == nil && p.Masked() == sn.prefix {
				return sn
			}
		}
	}
	return nil
}

// noRanges, as used's range type, leaves every range out.
const noRanges = "-"

// used lists what is taken on sn: the gateway, the IP ranges (of the
// given types; all when none), user reservations and machines' addresses.
func (s *Sim) used(sn *subnet, rangeTypes ...string) []span {
	var out []span
	if sn.gateway.IsValid() {
		out = append(out, span{sn.gateway, sn.gateway})
	}
	for _, r := range s.ipam.ranges {
		if r.sub == sn && (len(rangeTypes) == 0 || slices.Contains(rangeTypes, r.typ)) {
			out = append(out, r.span())
		}
	}
	for _, rec := range s.ipam.order {
		if rec.sub == sn {
			out = append(out, span{rec.ip, rec.ip})
		}
	}
	for a := range s.ipam.claimed {
		if sn.prefix.Contains(a) {
			out = append(out, span{a, a})
		}
	}
	return out
}

// freeAddress is the address MAAS would auto-assign on sn: on a managed
// subnet the lowest one outside every range and not in use, on an
// unmanaged one the lowest free one inside a reserved range. (MAAS picks
// from the smallest free block; the lowest address is close enough for a
// simulator and easier to predict in tests.)
func (s *Sim) freeAddress(sn *subnet) (netip.Addr, bool) {
	if sn.managed {
		free := freeSpans(sn.hosts(), s.used(sn))
		if len(free) == 0 {
			return netip.Addr{}, false
		}
		return free[0].lo, true
	}
	taken := s.used(sn, rangeDynamic)
	for _, r := range s.ipam.ranges {
		if r.sub != sn || r.typ != rangeReserved {
			continue
		}
		if free := freeSpans(r.span(), slices.Clone(taken)); len(free) > 0 {
			return free[0].lo, true
		}
	}
	return netip.Addr{}, false
}

const holderGateway = "gateway"

// holder says what holds address a, "" when nothing does; inRange is the
// reserved or dynamic range a falls in, if any.
func (s *Sim) holder(a netip.Addr, except *machine) (string, *ipRange) {
	var inRange *ipRange
	for _, r := range s.ipam.ranges {
		if r.span().contains(a) {
			inRange = r
			break
		}
	}
	if rec := s.ipam.reserved[a]; rec != nil {
		return "reservation", inRange
	}
	if m := s.ipam.claimed[a]; m != nil && m != except {
		return "machine " + m.hostname, inRange
	}
	for _, sn := range s.ipam.subnets {
		if sn.gateway == a {
			return holderGateway, inRange
		}
	}
	return "", inRange
}

// claimAddresses gives a deploying machine its addresses: the inventory's
// where nothing else holds them and no range covers them, and otherwise
// one picked from its subnet as MAAS's auto-assignment would.
func (s *Sim) claimAddresses(m *machine) {
	s.unclaimAddresses(m)
	for _, ip := range m.ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		// The gateway of a subnet the inventory implies is the
		// simulator's guess, so an inventory address on it still stands.
		if h, r := s.holder(a, m); (h == "" || h == holderGateway) && (r == nil || (!r.sub.managed && r.typ == rangeReserved)) {
			m.assigned = append(m.assigned, a)
		}
	}
	if len(m.assigned) == 0 {
		if a, ok := s.freeAddress(m.subnet); ok {
			m.assigned = append(m.assigned, a)
		}
	}
	for _, a := range m.assigned {
		s.ipam.claimed[a] = m
	}
	m.ipsClaimed = true
}

func (s *Sim) unclaimAddresses(m *machine) {
	for _, a := range m.assigned {
		if s.ipam.claimed[a] == m {
			delete(s.ipam.claimed, a)
		}
		s.unlinkDNS(a)
	}
	m.assigned = nil
	m.ipsClaimed = false
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// unlinkDNS takes a from every DNS resource and deletes the resources left
// without addresses, as MAAS's StaticIPAddress delete signal does.
func (s *Sim) unlinkDNS(a netip.Addr) {
	s.ipam.dns = slices.DeleteFunc(s.ipam.dns, func(d *dnsResource) bool {
		n := len(d.ips)
		d.ips = slices.DeleteFunc(d.ips, func(x netip.Addr) bool { return x == a })
		return n > 0 && len(d.ips) == 0
	})
}

// --- snapshots (Go API and /sim/ipam) ---

// IPAM is a snapshot of the simulator's address management.
type IPAM struct {
	Subnets      []SubnetInfo    `json:"subnets"`
	Reservations []IPReservation `json:"reservations"`
	Ranges       []IPRangeInfo   `json:"ranges"`
	DNSResources []DNSResource   `json:"dnsResources"`
	// Assigned maps deployed machines' addresses to their system IDs.
	Assigned map[string]string `json:"assigned"`
}

// SubnetInfo is a subnet as the simulator holds it.
type SubnetInfo struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	CIDR    string `json:"cidr"`
	Gateway string `json:"gateway,omitempty"`
	Managed bool   `json:"managed"`
}

// IPReservation is a user-reserved address (ipaddresses op=reserve).
type IPReservation struct {
	IP     string `json:"ip"`
	Subnet string `json:"subnet"`
	Owner  string `json:"owner"`
	MAC    string `json:"mac,omitempty"`
	// DNSNames are the FQDNs of the DNS resources holding the address.
	DNSNames []string `json:"dnsNames,omitempty"`
}

// IPRangeInfo is an IP range.
type IPRangeInfo struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Start   string `json:"start"`
	End     string `json:"end"`
	Subnet  string `json:"subnet"`
	Owner   string `json:"owner,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// DNSResource is a DNS resource with its addresses.
type DNSResource struct {
	ID   int      `json:"id"`
	FQDN string   `json:"fqdn"`
	TTL  *int     `json:"ttl,omitempty"`
	IPs  []string `json:"ips"`
}

// IPAM returns a snapshot of subnets, reservations, ranges, DNS resources
// and assigned machine addresses.
func (s *Sim) IPAM() IPAM {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := IPAM{Subnets: []SubnetInfo{}, Reservations: []IPReservation{}, Ranges: []IPRangeInfo{},
		DNSResources: []DNSResource{}, Assigned: map[string]string{}}
	for _, sn := range s.ipam.subnets {
		out.Subnets = append(out.Subnets, SubnetInfo{sn.id, sn.name, sn.prefix.String(), sn.gatewayString(), sn.managed})
	}
	for _, rec := range s.ipam.order {
		r := IPReservation{IP: rec.ip.String(), Subnet: rec.sub.prefix.String(), Owner: rec.user.name, MAC: rec.mac}
		for _, d := range s.ipam.dns {
			if slices.Contains(d.ips, rec.ip) {
				r.DNSNames = append(r.DNSNames, d.fqdn())
			}
		}
		out.Reservations = append(out.Reservations, r)
	}
	for _, r := range s.ipam.ranges {
		info := IPRangeInfo{ID: r.id, Type: r.typ, Start: r.start.String(), End: r.end.String(),
			Subnet: r.sub.prefix.String(), Comment: r.comment}
		if r.user != nil {
			info.Owner = r.user.name
		}
		out.Ranges = append(out.Ranges, info)
	}
	for _, d := range s.ipam.dns {
		out.DNSResources = append(out.DNSResources, DNSResource{ID: d.id, FQDN: d.fqdn(), TTL: d.ttl, IPs: addrStrings(d.ips)})
	}
	for a, m := range s.ipam.claimed {
		out.Assigned[a.String()] = m.systemID
	}
	return out
}
