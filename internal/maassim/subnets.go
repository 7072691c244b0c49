package maassim

import (
	"fmt"
	"net/netip"
	"slices"
)

// subnets/ and subnets/{id}/ (read-only, as for any non-admin user of MAAS
// 3.6's api/subnets.py), with the reads of what is in use on a subnet.

func listSubnets(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*subnet { return s.ipam.subnets }, (*subnet).json)
}

// lookupSubnet resolves subnets/{id}/: an id, a CIDR (the path
// subnets/10.0.0.0/24/ is routed here as one argument), a name or a
// specifier.
func (c *call) lookupSubnet() (*subnet, *apiError) {
	sn := c.s.subnetBySpecifier(c.args[0])
	if sn == nil {
		return nil, notFound("No Subnet matches the given query.")
	}
	return sn, nil
}

func getSubnet(c *call) *apiError {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	sn, err := c.lookupSubnet()
	if err != nil {
		return err
	}
	c.replyJSON(sn.json())
	return nil
}

type jsonIPBlock struct {
	Start        string `json:"start"`
	End          string `json:"end"`
	NumAddresses uint64 `json:"num_addresses"`
}

// subnetUnreservedRanges is op=unreserved_ip_ranges: the free blocks
// (outside every range, the gateway and the addresses in use).
func subnetUnreservedRanges(c *call) *apiError {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	sn, err := c.lookupSubnet()
	if err != nil {
		return err
	}
	out := []jsonIPBlock{}
	for _, f := range freeSpans(sn.hosts(), c.s.used(sn)) {
		out = append(out, jsonIPBlock{f.lo.String(), f.hi.String(), f.size()})
	}
	c.replyJSON(out)
	return nil
}

type jsonSubnetIP struct {
	IP          string           `json:"ip"`
	AllocType   int              `json:"alloc_type"`
	Created     string           `json:"created"`
	Updated     string           `json:"updated"`
	User        string           `json:"user,omitempty"`
	NodeSummary *jsonNodeSummary `json:"node_summary,omitempty"`
}

type jsonNodeSummary struct {
	SystemID    string `json:"system_id"`
	NodeType    int    `json:"node_type"`
	FQDN        string `json:"fqdn"`
	Hostname    string `json:"hostname"`
	IsContainer bool   `json:"is_container"`
	Via         string `json:"via"`
}

// subnetIPAddresses is op=ip_addresses: every address in use on the
// subnet, whoever holds it; any user may read it.
func subnetIPAddresses(c *call) *apiError {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	sn, err := c.lookupSubnet()
	if err != nil {
		return err
	}
	out := []jsonSubnetIP{}
	for _, rec := range s.ipam.order {
		if rec.sub == sn {
			t := rec.created.UTC().Format(createdFormat)
			out = append(out, jsonSubnetIP{IP: rec.ip.String(), AllocType: allocUserReserved, Created: t, Updated: t, User: rec.user.name})
		}
	}
	var claimed []netip.Addr
	for a := range s.ipam.claimed {
		if sn.prefix.Contains(a) {
			claimed = append(claimed, a)
		}
	}
	slices.SortFunc(claimed, netip.Addr.Compare)
	for _, a := range claimed {
		m := s.ipam.claimed[a]
		out = append(out, jsonSubnetIP{IP: a.String(), AllocType: allocAuto, NodeSummary: &jsonNodeSummary{
			SystemID: m.systemID, FQDN: m.hostname + "." + m.domain.name, Hostname: m.hostname, Via: "eth0",
		}})
	}
	c.replyJSON(out)
	return nil
}

type jsonUsedBlock struct {
	Start        string   `json:"start"`
	End          string   `json:"end"`
	NumAddresses uint64   `json:"num_addresses"`
	Purpose      []string `json:"purpose"`
}

// The purposes op=reserved_ip_ranges names.
const (
	purposeAssigned = "assigned-ip"
	purposeGateway  = "gateway-ip"
)

// subnetReservedRanges is op=reserved_ip_ranges: every block in use, as
// MAAS's MAASIPSet normalises them (overlapping uses split into blocks
// that list every purpose covering them). Like MAAS 3.6 it leaves out
// reservedips/ (which the simulator does not serve anyway).
func subnetReservedRanges(c *call) *apiError {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	sn, err := c.lookupSubnet()
	if err != nil {
		return err
	}
	type use struct {
		span
		purpose string
	}
	var uses []use
	if sn.gateway.IsValid() {
		uses = append(uses, use{span{sn.gateway, sn.gateway}, purposeGateway})
	}
	for _, r := range s.ipam.ranges {
		if r.sub == sn {
			uses = append(uses, use{r.span(), r.typ})
		}
	}
	for _, u := range s.used(sn, noRanges) {
		if u.lo != sn.gateway || s.ipam.reserved[u.lo] != nil || s.ipam.claimed[u.lo] != nil {
			uses = append(uses, use{u, purposeAssigned})
		}
	}
	// Cut at every start and after every end; each piece lists the
	// purposes covering it; neighbours with the same purposes merge.
	var cuts []netip.Addr
	for _, u := range uses {
		cuts = append(cuts, u.lo, u.hi.Next())
	}
	// (The address after the highest one is no address: nothing ends
	// there inside a subnet's hosts but a /32 at the very top.)
	cuts = slices.DeleteFunc(cuts, func(a netip.Addr) bool { return !a.IsValid() })
	slices.SortFunc(cuts, netip.Addr.Compare)
	cuts = slices.Compact(cuts)
	out := []jsonUsedBlock{}
	for i := 0; i+1 < len(cuts); i++ {
		piece := span{cuts[i], cuts[i+1].Prev()}
		var purposes []string
		for _, u := range uses {
			if u.overlaps(piece) && !slices.Contains(purposes, u.purpose) {
				purposes = append(purposes, u.purpose)
			}
		}
		if len(purposes) == 0 {
			continue
		}
		slices.Sort(purposes)
		if n := len(out); n > 0 && slices.Equal(out[n-1].Purpose, purposes) && netip.MustParseAddr(out[n-1].End).Next() == piece.lo {
			out[n-1].End = piece.hi.String()
			out[n-1].NumAddresses += piece.size()
			continue
		}
		out = append(out, jsonUsedBlock{piece.lo.String(), piece.hi.String(), piece.size(), purposes})
	}
	c.replyJSON(out)
	return nil
}

// subnetStatistics is op=statistics over the subnet's assignable
// addresses (without the network and IPv4 broadcast addresses).
func subnetStatistics(c *call) *apiError {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	sn, err := c.lookupSubnet()
	if err != nil {
		return err
	}
	hosts := sn.hosts()
	total := hosts.size()
	var available, largest uint64
	for _, f := range freeSpans(hosts, s.used(sn)) {
		available += f.size()
		largest = max(largest, f.size())
	}
	usage := 0.0
	if total > 0 {
		usage = float64(total-available) / float64(total)
	}
	version := 4
	if sn.prefix.Addr().Is6() {
		version = 6
	}
	c.replyJSON(map[string]any{
		"num_available": available, "largest_available": largest, "num_unavailable": total - available,
		"total_addresses": total, "usage": usage, "usage_string": fmt.Sprintf("%.0f%%", usage*100),
		"available_string": fmt.Sprintf("%.0f%%", (1-usage)*100),
		"first_address":    hosts.lo.String(), "last_address": hosts.hi.String(), "ip_version": version,
	})
	return nil
}
