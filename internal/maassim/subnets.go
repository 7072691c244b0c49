package maassim

import (
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
