package maassim

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dnsresources/ and dnsresources/{id}/ as MAAS 3.6's api/dnsresources.py
// and forms/dnsresource.py serve them: any user reads, admins write.

type jsonDNSResource struct {
	ID              int             `json:"id"`
	FQDN            string          `json:"fqdn"`
	AddressTTL      *int            `json:"address_ttl"`
	IPAddresses     []jsonIPAddress `json:"ip_addresses"`
	ResourceRecords []any           `json:"resource_records"`
	ResourceURI     string          `json:"resource_uri"`
}

func (s *Sim) dnsJSON(d *dnsResource) jsonDNSResource {
	j := jsonDNSResource{
		ID: d.id, FQDN: d.fqdn(), AddressTTL: d.ttl, IPAddresses: []jsonIPAddress{}, ResourceRecords: []any{},
		ResourceURI: fmt.Sprintf("%sdnsresources/%d/", apiRoot, d.id),
	}
	for _, a := range d.ips {
		if ip, ok := s.ipJSON(a); ok {
			j.IPAddresses = append(j.IPAddresses, ip)
		}
	}
	return j
}

// listDNSResources filters on name and domain, or on fqdn (split at its
// first dot) when neither is given. An unknown domain is a 404, an unknown
// name an empty list.
func listDNSResources(c *call) *apiError {
	s := c.s
	name, hasName := c.query.get(fieldName)
	domName, hasDomain := c.query.get(fieldDomain)
	if fqdn, ok := c.query.get("fqdn"); ok && !hasName && !hasDomain {
		name, domName, hasDomain = strings.Cut(fqdn, ".")
		hasName = true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var dom *domain
	if hasDomain {
		if dom = s.domainByNameOrID(domName); dom == nil {
			return notFound("No Domain matches the given query.")
		}
	}
	out := []jsonDNSResource{}
	for _, d := range s.ipam.dns {
		if (dom == nil || d.domain == dom) && (!hasName || d.name == name) {
			out = append(out, s.dnsJSON(d))
		}
	}
	c.replyJSON(out)
	return nil
}

func (s *Sim) domainByNameOrID(v string) *domain {
	if d := s.domainByName[v]; d != nil {
		return d
	}
	for _, d := range s.domains {
		if strconv.Itoa(d.id) == v {
			return d
		}
	}
	return nil
}

func (c *call) lookupDNSResource() (*dnsResource, *apiError) {
	for _, d := range c.s.ipam.dns {
		if strconv.Itoa(d.id) == c.args[0] {
			return d, nil
		}
	}
	return nil, notFound("No DNSResource matches the given query.")
}

func getDNSResource(c *call) *apiError {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	d, err := c.lookupDNSResource()
	if err != nil {
		return err
	}
	c.replyJSON(c.s.dnsJSON(d))
	return nil
}

// applyDNSForm validates DNSResourceForm's fields over d (a new resource
// when d.id is 0) and returns the resulting name, domain, TTL and
// addresses without changing anything.
func (s *Sim) applyDNSForm(data params, d dnsResource) (dnsResource, *apiError) {
	errs := map[string][]string{}
	if fqdn, ok := data.get("fqdn"); ok && fqdn != "" {
		if name, domName, dotted := strings.Cut(fqdn, "."); dotted {
			d.name = name
			if d.domain = s.domainByNameOrID(domName); d.domain == nil {
				errs[fieldDomain] = []string{msgInvalidChoice}
			}
		} else {
			d.name = fqdn
		}
	}
	if v, ok := data.get(fieldName); ok {
		d.name = v
	}
	if v, ok := data.get(fieldDomain); ok {
		if d.domain = s.domainByNameOrID(v); d.domain == nil {
			errs[fieldDomain] = []string{msgInvalidChoice}
		}
	}
	if d.domain == nil && len(errs) == 0 {
		for _, dom := range s.domains {
			if dom.isDefault {
				d.domain = dom
			}
		}
	}
	if d.name == "" || !hostnameRE.MatchString(d.name) {
		errs[fieldName] = []string{"Invalid hostname: " + d.name}
	}
	if v, ok := data.get("address_ttl"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs["address_ttl"] = []string{"Enter a whole number."}
		} else {
			d.ttl = &n
		}
	}
	if v, ok := data.get("ip_addresses"); ok {
		d.ips = nil
		for f := range strings.FieldsSeq(strings.ReplaceAll(v, ",", " ")) {
			a, err := netip.ParseAddr(f)
			if err != nil {
				a, err = s.ipByID(f)
			}
			if err != nil {
				errs["ip_addresses"] = append(errs["ip_addresses"], fmt.Sprintf("%s is not a valid IP address or ID.", f))
				continue
			}
			if !slices.Contains(d.ips, a) {
				d.ips = append(d.ips, a)
			}
		}
	}
	if len(errs) > 0 {
		return d, validationError(errs)
	}
	for _, o := range s.ipam.dns {
		if o.id != d.id && o.name == d.name && o.domain == d.domain {
			return d, validationError(map[string][]string{"__all__": {"Labels must be unique within their zone."}})
		}
	}
	return d, nil
}

// ipByID resolves a StaticIPAddress id (reservations only: the
// simulator's machine addresses have no ids).
func (s *Sim) ipByID(v string) (netip.Addr, error) {
	for _, rec := range s.ipam.order {
		if strconv.Itoa(rec.id) == v {
			return rec.ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no address %s", v)
}

// linkAddresses makes the addresses of d exist: known ones are linked,
// unknown ones become USER_RESERVED addresses of u with no range or in-use
// check, as MAAS does. The simulator needs a subnet for each.
func (s *Sim) linkAddresses(d *dnsResource, u *user) *apiError {
	for _, a := range d.ips {
		if s.ipam.reserved[a] != nil || s.ipam.claimed[a] != nil {
			continue
		}
		if s.bestSubnet(a) == nil {
			return validationError(map[string][]string{"ip_addresses": {fmt.Sprintf(
				"maas-sim: no subnet holds %s (the simulator keeps addresses on subnets only)", a)}})
		}
	}
	for _, a := range d.ips {
		if s.ipam.reserved[a] != nil || s.ipam.claimed[a] != nil {
			continue
		}
		s.ipam.nextID.ip++
		rec := &ipRecord{id: s.ipam.nextID.ip, ip: a, sub: s.bestSubnet(a), user: u, created: time.Now()}
		s.ipam.reserved[a] = rec
		s.ipam.order = append(s.ipam.order, rec)
	}
	return nil
}

func createDNSResource(c *call) *apiError {
	if !c.user.admin {
		return forbidden
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.applyDNSForm(c.form, dnsResource{})
	if err != nil {
		return err
	}
	if err := s.linkAddresses(&d, c.user); err != nil {
		return err
	}
	s.ipam.nextID.dns++
	d.id = s.ipam.nextID.dns
	nd := &d
	s.ipam.dns = append(s.ipam.dns, nd)
	c.replyJSON(s.dnsJSON(nd))
	return nil
}

func updateDNSResource(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := c.lookupDNSResource()
	if err != nil {
		return err
	}
	if !c.user.admin {
		return forbidden
	}
	nd, err := s.applyDNSForm(c.form, *d)
	if err != nil {
		return err
	}
	if err := s.linkAddresses(&nd, c.user); err != nil {
		return err
	}
	*d = nd
	c.replyJSON(s.dnsJSON(d))
	return nil
}

// deleteDNSResource deletes the resource and the user-reserved addresses
// it leaves orphaned (in no other resource, on no interface).
func deleteDNSResource(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := c.lookupDNSResource()
	if err != nil {
		return err
	}
	if !c.user.admin {
		return forbidden
	}
	s.ipam.dns = slices.DeleteFunc(s.ipam.dns, func(x *dnsResource) bool { return x == d })
	for _, a := range d.ips {
		rec := s.ipam.reserved[a]
		if rec == nil || rec.mac != "" || slices.ContainsFunc(s.ipam.dns, func(o *dnsResource) bool { return slices.Contains(o.ips, a) }) {
			continue
		}
		delete(s.ipam.reserved, a)
		s.ipam.order = slices.DeleteFunc(s.ipam.order, func(r *ipRecord) bool { return r == rec })
	}
	c.noContent = true
	return nil
}
