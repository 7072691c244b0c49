package maassim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ipaddresses/ as MAAS 3.6's api/ip_addresses.py serves it: list, reserve
// and release of USER_RESERVED addresses.

// The alloc_type values MAAS shows (IPADDRESS_TYPE).
const (
	allocAuto         = 0
	allocUserReserved = 4
)

var allocTypeNames = map[int]string{allocAuto: "Automatic", allocUserReserved: "User reserved"}

type jsonIPAddress struct {
	AllocType     int             `json:"alloc_type"`
	AllocTypeName string          `json:"alloc_type_name"`
	Created       string          `json:"created"`
	IP            string          `json:"ip"`
	Owner         any             `json:"owner"`
	InterfaceSet  []jsonInterface `json:"interface_set"`
	Subnet        jsonSubnet      `json:"subnet"`
	ResourceURI   string          `json:"resource_uri"`
}

// createdFormat is how MAAS renders DateTimeFields.
const createdFormat = "2006-01-02T15:04:05.000"

func (rec *ipRecord) json() jsonIPAddress {
	return jsonIPAddress{
		AllocType: allocUserReserved, AllocTypeName: allocTypeNames[allocUserReserved],
		Created: rec.created.UTC().Format(createdFormat), IP: rec.ip.String(), Owner: userJSON(rec.user),
		InterfaceSet: []jsonInterface{}, Subnet: rec.sub.json(), ResourceURI: apiRoot + "ipaddresses/",
	}
}

// machineIPJSON renders a deployed machine's auto-assigned address.
func machineIPJSON(a netip.Addr, m *machine) jsonIPAddress {
	return jsonIPAddress{
		AllocType: allocAuto, AllocTypeName: allocTypeNames[allocAuto], Created: "", IP: a.String(),
		InterfaceSet: []jsonInterface{m.interfaceJSON()}, Subnet: m.subnet.json(), ResourceURI: apiRoot + "ipaddresses/",
	}
}

// ipJSON renders whatever holds a (a reservation or a machine), for the
// lists that embed addresses (DNS resources).
func (s *Sim) ipJSON(a netip.Addr) (jsonIPAddress, bool) {
	if rec := s.ipam.reserved[a]; rec != nil {
		return rec.json(), true
	}
	if m := s.ipam.claimed[a]; m != nil {
		return machineIPJSON(a, m), true
	}
	return jsonIPAddress{}, false
}

// listIPAddresses is IPAddressesHandler.read.
func listIPAddresses(c *call) *apiError {
	s := c.s
	all := boolParam(c.query, "all")
	ipParam, hasIP := c.query.get("ip")
	owner, hasOwner := c.query.get("owner")
	var ip netip.Addr
	if hasIP {
		var err error
		if ip, err = netip.ParseAddr(ipParam); err != nil {
			return badRequest("Parameter 'ip' must contain an IP address.")
		}
	}
	if all && !c.user.admin {
		return &apiError{status: http.StatusForbidden, body: "Listing all IP addresses requires admin privileges."}
	}
	if hasOwner && !c.user.admin {
		return &apiError{status: http.StatusForbidden, body: "Listing another user's IP addresses requires admin privileges."}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []jsonIPAddress{}
	for _, rec := range s.ipam.order {
		switch {
		case hasIP && rec.ip != ip:
		case !c.user.admin && rec.user != c.user:
		case c.user.admin && hasOwner && rec.user.name != owner:
		case c.user.admin && !hasOwner && !all && rec.user != c.user:
		default:
			out = append(out, rec.json())
		}
	}
	if all && !hasOwner {
		// Machines' addresses have no user: only all=true shows them.
		for _, m := range s.machines {
			for _, a := range m.assigned {
				if !hasIP || a == ip {
					out = append(out, machineIPJSON(a, m))
				}
			}
		}
	}
	c.replyJSON(out)
	return nil
}

// reserveIP is IPAddressesHandler.reserve.
//
//nolint:gocyclo // MAAS's checks, one after another in its order: splitting them would hide it
func reserveIP(c *call) *apiError {
	s := c.s
	data := c.form
	ipParam, hasIP := data.get("ip")
	if !hasIP {
		ipParam, hasIP = data.get("ip_address")
	}
	subnetParam, hasSubnet := data.get("subnet")
	hostname, _ := data.get("hostname")
	mac, hasMAC := data.get("mac")
	// ClaimIPForMACForm's field validation.
	errs := map[string][]string{}
	var ip netip.Addr
	if hasIP && ipParam != "" {
		var err error
		if ip, err = netip.ParseAddr(ipParam); err != nil {
			errs["ip_address"] = []string{"Enter a valid IPv4 or IPv6 address."}
		}
	} else {
		hasIP = false
	}
	if hasMAC && mac != "" {
		mac = strings.ToLower(mac)
		if !macRE.MatchString(mac) {
			errs["mac"] = []string{fmt.Sprintf("'%s' is not a valid MAC address.", mac)}
		}
	} else {
		hasMAC = false
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var sn *subnet
	switch {
	case hasIP:
		if sn = s.bestSubnet(ip); sn == nil {
			return badRequest(fmt.Sprintf("No known subnet for IP address: %s.", ipParam))
		}
	case hasSubnet && subnetParam != "":
		if sn = s.subnetBySpecifier(subnetParam); sn == nil {
			return badRequest(fmt.Sprintf("Unable to identify subnet: %s.", subnetParam))
		}
	default:
		return badRequest("Must supply either the 'subnet' or the 'ip' parameter.")
	}
	if hasIP {
		for _, r := range s.ipam.ranges {
			if r.sub == sn && r.typ == rangeDynamic && r.span().contains(ip) {
				return &apiError{status: http.StatusForbidden, body: fmt.Sprintf(
					"IP address %s belongs to an existing dynamic range. To reserve this IP address, "+
						"a MAC address is required. (Create a device instead.)", ip)}
			}
		}
	}
	dom := s.domains[0]
	for _, d := range s.domains {
		if d.isDefault {
			dom = d
		}
	}
	if name, domName, dotted := strings.Cut(hostname, "."); dotted && name != "" {
		d := s.domainByName[domName]
		if d == nil {
			return notFound("No Domain matches the given query.")
		}
		hostname, dom = name, d
	}
	if hasMAC {
		for _, m := range s.machines {
			if m.mac == mac {
				return badRequest(fmt.Sprintf("MAC address %s already belongs to %s. Use of the interface API is "+
					"required, for an interface that belongs to a node.", mac, m.hostname))
			}
		}
	}
	if hasIP {
		// StaticIPAddressManager.allocate_new with a requested address:
		// reserved ranges first, then any holder (a machine, a device, a
		// reservation, the gateway).
		if h, r := s.holder(ip, nil); r != nil && r.typ == rangeReserved && sn.managed {
			return notFound(fmt.Sprintf("%s is within the reserved range from %s to %s", ip, r.start, r.end))
		} else if h != "" {
			return notFound(fmt.Sprintf("The IP address %s is already in use.", ip))
		}
	} else {
		a, ok := s.freeAddress(sn)
		if !ok {
			return &apiError{status: http.StatusServiceUnavailable, body: fmt.Sprintf("No more IPs available in subnet: %s.", sn.prefix)}
		}
		ip = a
	}
	s.ipam.nextID.ip++
	rec := &ipRecord{id: s.ipam.nextID.ip, ip: ip, sub: sn, user: c.user, mac: mac, created: time.Now()}
	s.ipam.reserved[ip] = rec
	s.ipam.order = append(s.ipam.order, rec)
	if hostname != "" {
		d := s.dnsResourceFor(hostname, dom)
		if !slices.Contains(d.ips, ip) {
			d.ips = append(d.ips, ip)
		}
	}
	c.replyJSON(rec.json())
	return nil
}

// dnsResourceFor is DNSResource.objects.get_or_create(name, domain).
func (s *Sim) dnsResourceFor(name string, d *domain) *dnsResource {
	for _, r := range s.ipam.dns {
		if r.name == name && r.domain == d {
			return r
		}
	}
	s.ipam.nextID.dns++
	r := &dnsResource{id: s.ipam.nextID.dns, name: name, domain: d}
	s.ipam.dns = append(s.ipam.dns, r)
	return r
}

// releaseIP is IPAddressesHandler.release: 204 on success.
func releaseIP(c *call) *apiError {
	s := c.s
	data := c.form
	ipParam, ok := data.get("ip")
	if !ok {
		return badRequest("No provided ip!")
	}
	force, discovered := boolParam(data, "force"), boolParam(data, "discovered")
	if force && !c.user.admin {
		return &apiError{status: http.StatusForbidden, body: "Force-releasing an IP address requires admin privileges."}
	}
	ip, err := netip.ParseAddr(ipParam)
	if err != nil {
		return validationError(map[string][]string{"ip": {"Enter a valid IPv4 or IPv6 address."}})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ipam.reserved[ip]
	switch {
	case force && discovered:
		rec = nil // the simulator observes no discovered addresses
	case force && rec == nil:
		if m := s.ipam.claimed[ip]; m != nil {
			// An admin may take a machine's address away.
			m.assigned = slices.DeleteFunc(m.assigned, func(a netip.Addr) bool { return a == ip })
			delete(s.ipam.claimed, ip)
			s.unlinkDNS(ip)
			s.render(m)
			c.noContent = true
			return nil
		}
	case !force && rec != nil && rec.user != c.user:
		rec = nil
	}
	if rec == nil {
		if force {
			return badRequest(fmt.Sprintf("IP address %s does not exist.", ipParam))
		}
		return badRequest(fmt.Sprintf("IP address %s does not exist, is not the correct type of address, or does not "+
			"belong to the requesting user.\nIf you are sure you want to release this address, use force=true as a "+
			"MAAS administrator.", ipParam))
	}
	delete(s.ipam.reserved, ip)
	s.ipam.order = slices.DeleteFunc(s.ipam.order, func(r *ipRecord) bool { return r == rec })
	s.unlinkDNS(ip)
	c.noContent = true
	return nil
}
