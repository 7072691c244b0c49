package maassim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
)

// ipranges/ and ipranges/{id}/ as MAAS 3.6's api/ipranges.py, forms/iprange.py
// and models/iprange.py serve them.

type jsonIPRange struct {
	ID          int        `json:"id"`
	Type        string     `json:"type"`
	StartIP     string     `json:"start_ip"`
	EndIP       string     `json:"end_ip"`
	Comment     string     `json:"comment"`
	User        any        `json:"user"`
	Subnet      jsonSubnet `json:"subnet"`
	ResourceURI string     `json:"resource_uri"`
}

func (r *ipRange) json() jsonIPRange {
	j := jsonIPRange{
		ID: r.id, Type: r.typ, StartIP: r.start.String(), EndIP: r.end.String(), Comment: r.comment,
		Subnet: r.sub.json(), ResourceURI: fmt.Sprintf("%sipranges/%d/", apiRoot, r.id),
	}
	if r.user != nil {
		j.User = userJSON(r.user)
	}
	return j
}

const (
	msgRequired      = "This field is required."
	msgInvalidIP     = "Enter a valid IPv4 or IPv6 address."
	msgInvalidChoice = "Select a valid choice. That choice is not one of the available choices."
)

func listIPRanges(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*ipRange { return s.ipam.ranges }, (*ipRange).json)
}

func (c *call) lookupRange() (*ipRange, *apiError) {
	for _, r := range c.s.ipam.ranges {
		if strconv.Itoa(r.id) == c.args[0] {
			return r, nil
		}
	}
	return nil, notFound("No IPRange matches the given query.")
}

func getIPRange(c *call) *apiError {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	r, err := c.lookupRange()
	if err != nil {
		return err
	}
	c.replyJSON(r.json())
	return nil
}

// rangeForm is IPRangeForm's data: the fields given, over those of the
// range being updated.
type rangeForm struct {
	typ        string
	start, end netip.Addr
	sub        *subnet
	comment    string
}

// parseRangeForm validates the form fields of a create (old nil) or an
// update of old, as IPRangeForm and IPRange.clean do.
func (s *Sim) parseRangeForm(data params, old *ipRange) (rangeForm, *apiError) {
	var f rangeForm
	if old != nil {
		f = rangeForm{old.typ, old.start, old.end, old.sub, old.comment}
	}
	errs := map[string][]string{}
	if v, ok := data.get("type"); ok || old == nil {
		switch v {
		case rangeDynamic, rangeReserved:
			f.typ = v
		case "":
			errs["type"] = []string{msgRequired}
		default:
			errs["type"] = []string{fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", v)}
		}
	}
	for _, fld := range []struct {
		key string
		dst *netip.Addr
	}{{"start_ip", &f.start}, {"end_ip", &f.end}} {
		v, ok := data.get(fld.key)
		if !ok && old != nil {
			continue
		}
		if v == "" {
			errs[fld.key] = []string{msgRequired}
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			errs[fld.key] = []string{msgInvalidIP}
			continue
		}
		*fld.dst = a
	}
	if v, ok := data.get("subnet"); ok && v != "" {
		if f.sub = s.subnetBySpecifier(v); f.sub == nil {
			errs["subnet"] = []string{msgInvalidChoice}
		}
	} else if old == nil && f.start.IsValid() {
		f.sub = s.bestSubnet(f.start)
	}
	if v, ok := data.get("comment"); ok {
		if n := len([]rune(v)); n > maxCommentLen {
			errs["comment"] = []string{fmt.Sprintf("Ensure this value has at most %d characters (it has %d).", maxCommentLen, n)}
		}
		f.comment = v
	}
	if len(errs) > 0 {
		return f, validationError(errs)
	}
	if f.sub == nil {
		return f, validationError(map[string][]string{"subnet": {msgRequired}})
	}
	return f, s.cleanRange(f, old)
}

// cleanRange is IPRange.clean and _validate_duplicates_and_overlaps.
func (s *Sim) cleanRange(f rangeForm, self *ipRange) *apiError {
	both := func(msg string) *apiError {
		return validationError(map[string][]string{"start_ip": {msg}, "end_ip": {msg}})
	}
	one := func(key, msg string) *apiError { return validationError(map[string][]string{key: {msg}}) }
	if f.start.Is4() != f.end.Is4() {
		return both("Start IP address and end IP address must be in the same address family.")
	}
	if f.end.Less(f.start) {
		return one("end_ip", "End IP address must not be less than Start IP address.")
	}
	p := f.sub.prefix
	switch {
	case !p.Contains(f.start) && !p.Contains(f.end):
		return both(fmt.Sprintf("IP addresses must be within subnet: %s.", p))
	case !p.Contains(f.start):
		return one("start_ip", fmt.Sprintf("Start IP address must be within subnet: %s.", p))
	case !p.Contains(f.end):
		return one("end_ip", fmt.Sprintf("End IP address must be within subnet: %s.", p))
	case p.Masked().Addr() == f.start:
		return one("start_ip", "Reserved network address cannot be included in IP range.")
	case f.start.Is4() && lastAddr(p) == f.end:
		return one("end_ip", "Broadcast address cannot be included in IP range.")
	case f.start.Is6() && f.typ == rangeDynamic && (span{f.start, f.end}).size() < 256:
		return both("IPv6 dynamic range must be at least 256 addresses in size.")
	}
	// Reserved ranges may overlap allocated addresses, not other ranges;
	// dynamic ranges may overlap neither.
	var used []span
	for _, r := range s.ipam.ranges {
		if r != self && r.sub == f.sub {
			used = append(used, r.span())
		}
	}
	msg := "Requested reserved range conflicts with an existing range."
	if f.typ == rangeDynamic {
		msg = "Requested dynamic range conflicts with an existing IP address or range."
		used = append(used, s.used(f.sub, noRanges)...)
	}
	whole := span{p.Masked().Addr(), lastAddr(p)}
	free := freeSpans(whole, used)
	if len(free) == 0 {
		return both(fmt.Sprintf("There is no room for any %s ranges on this subnet.", f.typ))
	}
	for _, u := range free {
		if u.contains(f.start) && u.contains(f.end) {
			return nil
		}
	}
	return both(msg)
}

func createIPRange(c *call) *apiError {
	s := c.s
	if t, _ := c.form.get("type"); t == rangeDynamic && !c.user.admin {
		return &apiError{status: http.StatusForbidden, body: "Unable to create dynamic IP range. You don't have sufficient privileges."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.parseRangeForm(c.form, nil)
	if err != nil {
		return err
	}
	// The creator owns the range, whatever the form says.
	r := s.addRange(f.typ, f.sub, f.start, f.end, c.user, f.comment)
	c.replyJSON(r.json())
	return nil
}

// mayModify is the ownership check of PUT and DELETE.
func (c *call) mayModify(r *ipRange) *apiError {
	if c.user.admin || (r.user != nil && r.user == c.user) {
		return nil
	}
	return &apiError{status: http.StatusForbidden, body: "Unable to modify IP range. You don't own the IP range."}
}

func updateIPRange(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := c.lookupRange()
	if err != nil {
		return err
	}
	if err := c.mayModify(r); err != nil {
		return err
	}
	f, err := s.parseRangeForm(c.form, r)
	if err != nil {
		return err
	}
	r.typ, r.start, r.end, r.sub, r.comment = f.typ, f.start, f.end, f.sub, f.comment
	c.replyJSON(r.json())
	return nil
}

func deleteIPRange(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := c.lookupRange()
	if err != nil {
		return err
	}
	if err := c.mayModify(r); err != nil {
		return err
	}
	s.ipam.ranges = slices.DeleteFunc(s.ipam.ranges, func(x *ipRange) bool { return x == r })
	c.noContent = true
	return nil
}
