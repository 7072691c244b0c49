package maassim

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// endpointSubnets is the subnets endpoint, a collection and an item.
const endpointSubnets = "subnets"

// Collections named in routes and bodies.
const (
	collUsers    = "users"
	collMachines = "machines"
	keyURI       = "resource_uri"
)

func getOp(op string) string  { return http.MethodGet + " " + op }
func postOp(op string) string { return http.MethodPost + " " + op }
func putOp(op string) string  { return http.MethodPut + " " + op }

func deleteOp(op string) string { return http.MethodDelete + " " + op }

var collectionRoutes = map[string]*route{
	"version": {pattern: "version/", anonymous: true, ops: map[string]opHandler{getOp(""): getVersion}},
	collUsers: {pattern: "users/", ops: map[string]opHandler{getOp(""): listUsers, getOp("whoami"): whoami}},
	collMachines: {pattern: "machines/", ops: map[string]opHandler{
		getOp(""):               listMachines,
		getOp("list_allocated"): listAllocated,
		postOp("allocate"):      allocateMachine,
		postOp("release"):       releaseMachines,
	}},
	"zones":          {pattern: "zones/", ops: map[string]opHandler{getOp(""): listZones}},
	"resourcepools":  {pattern: "resourcepools/", ops: map[string]opHandler{getOp(""): listPools}},
	"domains":        {pattern: "domains/", ops: map[string]opHandler{getOp(""): listDomains}},
	"boot-resources": {pattern: "boot-resources/", ops: map[string]opHandler{getOp(""): listBootResources, getOp("is_importing"): isImporting}},
	"tags":           {pattern: "tags/", ops: map[string]opHandler{getOp(""): listTags}},
	endpointSubnets:  {pattern: "subnets/", ops: map[string]opHandler{getOp(""): listSubnets}},
	"ipaddresses": {pattern: "ipaddresses/", ops: map[string]opHandler{
		getOp(""): listIPAddresses, postOp("reserve"): reserveIP, postOp("release"): releaseIP,
	}},
	"ipranges":     {pattern: "ipranges/", ops: map[string]opHandler{getOp(""): listIPRanges, postOp(""): createIPRange}},
	"dnsresources": {pattern: "dnsresources/", ops: map[string]opHandler{getOp(""): listDNSResources, postOp(""): createDNSResource}},
}

var itemRoutes = map[string]*route{
	collUsers: {pattern: "users/{name}/", ops: map[string]opHandler{getOp(""): getUser}},
	collMachines: {pattern: "machines/{id}/", ops: map[string]opHandler{
		getOp(""):                          getMachine,
		putOp(""):                          updateMachine,
		getOp("query_power_state"):         queryPowerState,
		postOp("deploy"):                   deployMachine,
		postOp("release"):                  releaseMachine,
		postOp("abort"):                    abortMachine,
		postOp("set_workload_annotations"): setWorkloadAnnotations,
		postOp("set_owner_data"):           setWorkloadAnnotations,
		postOp("power_on"):                 powerOnMachine,
		postOp("power_off"):                powerOffMachine,
	}},
	"zones":          {pattern: "zones/{name}/", ops: map[string]opHandler{getOp(""): getZone}},
	"resourcepool":   {pattern: "resourcepool/{id}/", ops: map[string]opHandler{getOp(""): getPool}},
	"domains":        {pattern: "domains/{id}/", ops: map[string]opHandler{getOp(""): getDomain}},
	"boot-resources": {pattern: "boot-resources/{id}/", ops: map[string]opHandler{getOp(""): getBootResource}},
	"tags": {pattern: "tags/{name}/", ops: map[string]opHandler{
		getOp(""): getTag, getOp("machines"): tagMachines, postOp("update_nodes"): tagUpdateNodes,
	}},
	endpointSubnets: {pattern: "subnets/{id}/", ops: map[string]opHandler{
		getOp(""): getSubnet, getOp("unreserved_ip_ranges"): subnetUnreservedRanges, getOp("ip_addresses"): subnetIPAddresses,
		getOp("reserved_ip_ranges"): subnetReservedRanges, getOp("statistics"): subnetStatistics,
	}},
	"ipranges": {pattern: "ipranges/{id}/", ops: map[string]opHandler{
		getOp(""): getIPRange, putOp(""): updateIPRange, deleteOp(""): deleteIPRange,
	}},
	"dnsresources": {pattern: "dnsresources/{id}/", ops: map[string]opHandler{
		getOp(""): getDNSResource, putOp(""): updateDNSResource, deleteOp(""): deleteDNSResource,
	}},
}

// --- permissions (MAAS without RBAC: users see and use free machines and
// their own; admins everything) ---

func canUse(u *user, m *machine) bool { return u.admin || m.owner == nil || m.owner == u }

// lookupMachine finds the machine in the path and checks the caller may use
// it (s.mu held).
func (c *call) lookupMachine() (*machine, *apiError) {
	m := c.s.byID[c.args[0]]
	if m == nil {
		return nil, notFound("No Machine matches the given query.")
	}
	if !canUse(c.user, m) {
		return nil, forbidden
	}
	return m, nil
}

// listBuffers recycles the buffers big machine lists are assembled in, so
// that polling thousands of machines does not churn the heap.
var listBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer keeps one huge list from pinning its buffer forever.
const maxPooledBuffer = 64 << 20

// replyMachines answers with the cached JSON of machines as a JSON array.
func (c *call) replyMachines(docs [][]byte) {
	n := 2
	for _, d := range docs {
		n += len(d) + 1
	}
	bp := listBuffers.Get().(*[]byte)
	buf := (*bp)[:0]
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, '[')
	for i, d := range docs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, d...)
	}
	buf = append(buf, ']')
	c.reply(buf)
	c.recycle = bp
}

// --- machines/ ---

func listMachines(c *call) *apiError {
	s := c.s
	s.mu.RLock()
	cons, errs := s.parseConstraints(c.query, listForm)
	if errs != nil {
		s.mu.RUnlock()
		return validationError(errs)
	}
	var docs [][]byte
	for _, m := range s.candidates(cons) {
		if canUse(c.user, m) && cons.matches(m) {
			docs = append(docs, m.json)
		}
	}
	s.mu.RUnlock()
	c.replyMachines(docs)
	return nil
}

func listAllocated(c *call) *apiError {
	s := c.s
	ids := map[string]bool{}
	for _, id := range c.query.all("id") {
		ids[id] = true
	}
	s.mu.RLock()
	var docs [][]byte
	for _, m := range s.machines {
		if m.owner == c.user && m.status == StatusAllocated && (len(ids) == 0 || ids[m.systemID]) {
			docs = append(docs, m.json)
		}
	}
	s.mu.RUnlock()
	c.replyMachines(docs)
	return nil
}

func allocateMachine(c *call) *apiError {
	s := c.s
	data := c.data()
	agentName, _ := data.get("agent_name")
	dryRun := boolParam(data, "dry_run")
	s.mu.Lock()
	defer s.mu.Unlock()
	cons, errs := s.parseConstraints(data, allocateForm)
	if errs != nil {
		return validationError(errs)
	}
	s.faultMu.Lock()
	exhausted := s.faults.ExhaustCapacity
	s.faultMu.Unlock()
	var best *machine
	var bestCost float64
	if !exhausted {
		for _, m := range s.machines {
			if m.status != StatusReady || m.owner != nil || !cons.matches(m) {
				continue
			}
			cost := float64(m.cpu) + float64(m.memory)/1024
			if best == nil || cost < bestCost {
				best, bestCost = m, cost
			}
		}
	}
	if best == nil {
		var input []keyValues
		for _, kv := range data.lists() {
			if kv.key != "op" {
				input = append(input, kv)
			}
		}
		resolved := strings.Join(cons.described, " ")
		msg := fmt.Sprintf("No available machine matches constraints: %s (resolved to \"%s\")", pyLists(input), resolved)
		if resolved == "" {
			msg = "No machine available."
		} else if id, ok := data.get("system_id"); ok {
			msg = fmt.Sprintf("No machine with system ID %s available.", id)
		}
		return conflict(msg)
	}
	if !dryRun {
		s.allocate(best, c.user, agentName)
	}
	j := s.machineJSON(best)
	j.ConstraintsByType = map[string]any{}
	if matched, _ := matchStorage(best, cons.storage); len(matched) > 0 {
		j.ConstraintsByType = map[string]any{"storage": matched}
	}
	c.replyJSON(j)
	return nil
}

func releaseMachines(c *call) *apiError {
	s := c.s
	ids := uniqueSorted(c.form.all(collMachines))
	s.mu.Lock()
	defer s.mu.Unlock()
	var unknown, denied []string
	var targets []*machine
	for _, id := range ids {
		m := s.byID[id]
		switch {
		case m == nil:
			unknown = append(unknown, id)
		case !canUse(c.user, m):
			denied = append(denied, id)
		default:
			targets = append(targets, m)
		}
	}
	if len(unknown) > 0 {
		return badRequest(fmt.Sprintf("Unknown machine(s): %s.", strings.Join(unknown, ", ")))
	}
	if len(denied) > 0 {
		return &apiError{status: http.StatusForbidden, body: fmt.Sprintf(
			"You don't have the required permission to release the following machine(s): %s.", strings.Join(denied, ", "))}
	}
	slices.SortFunc(targets, func(a, b *machine) int { return a.dbID - b.dbID })
	// MAAS rolls the whole request back when one machine cannot be
	// released, so check them all before releasing any. Unlike the
	// single-machine op, a machine already Releasing is refused here.
	var failed []string
	for _, m := range targets {
		if m.status != StatusReady && !m.status.releasable() {
			failed = append(failed, fmt.Sprintf("%s ('%s')", m.systemID, m.status))
		}
	}
	if len(failed) > 0 {
		return conflict(fmt.Sprintf("Machine(s) cannot be released in their current state: %s.", strings.Join(failed, ", ")))
	}
	released := []string{}
	for _, m := range targets {
		if m.status.releasable() {
			s.startRelease(m, false, false)
			released = append(released, m.systemID)
		}
	}
	c.replyJSON(released)
	return nil
}

// --- machines/{id}/ ---

func getMachine(c *call) *apiError {
	c.s.mu.RLock()
	m, err := c.lookupMachine()
	var doc []byte
	if m != nil {
		doc = m.json
	}
	c.s.mu.RUnlock()
	if err != nil {
		return err
	}
	c.reply(doc)
	return nil
}

// updateMachine is the PUT MAAS reserves to admins; the simulator applies
// swap_size and description and ignores the other fields.
func updateMachine(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	if !c.user.admin {
		return forbidden
	}
	if v, ok := c.form.get("swap_size"); ok {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			return validationError(map[string][]string{"swap_size": {"Invalid size for swap: " + v}})
		}
		m.swapSize = &n
	}
	if v, ok := c.form.get("description"); ok {
		m.description = v
	}
	if v, ok := c.form.get("domain"); ok {
		d := s.domainByName[v]
		if d == nil {
			return validationError(map[string][]string{"domain": {"Select a valid choice. That choice is not one of the available choices."}})
		}
		m.domain = d
	}
	s.render(m)
	c.reply(m.json)
	return nil
}

func queryPowerState(c *call) *apiError {
	c.s.mu.RLock()
	m, err := c.lookupMachine()
	state := ""
	if m != nil {
		state = m.powerState
	}
	c.s.mu.RUnlock()
	if err != nil {
		return err
	}
	c.replyJSON(map[string]string{"state": state})
	return nil
}

func deployMachine(c *call) *apiError {
	s := c.s
	data := c.form
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	return s.deploy(c, m, data)
}

// deploy is MAAS's deploy op from the permission check on (s.mu held).
func (s *Sim) deploy(c *call, m *machine, data params) *apiError {
	if m.status != StatusReady && m.status != StatusAllocated {
		return conflict(fmt.Sprintf("Can't deploy a machine that is in the '%s' state", m.status))
	}
	series, _ := data.get("distro_series")
	if series == "" {
		series = s.defaultSeries
	}
	if os, ok := data.get("osystem"); ok && os != "" && !strings.Contains(series, "/") {
		series = os + "/" + series
	}
	img := s.findImage(series)
	if img == nil {
		return validationError(map[string][]string{"distro_series": {fmt.Sprintf(
			"'%s' is not a valid distro_series.  It should be one of: %s.", series, s.releaseChoices())}})
	}
	kernel, _ := data.get("hwe_kernel")
	if kernel == "" && img.alias != "" {
		kernel = "ga-" + img.alias
	}
	var userData []byte
	if ud, ok := data.get("user_data"); ok {
		userData = decodeUserData(ud)
	}
	if m.status == StatusReady {
		agentName, _ := data.get("agent_name")
		s.allocate(m, c.user, agentName)
	}
	s.startDeploy(m, img.osystem, img.release, kernel, userData)
	c.reply(m.json)
	return nil
}

// findImage resolves a distro_series the way MAAS does: "jammy",
// "ubuntu/jammy", "22.04", "ubuntu/22.04", "ubuntu" (newest), or a custom
// image's name with or without "custom/".
func (s *Sim) findImage(series string) *bootResource {
	osName, rel, hasOS := strings.Cut(series, "/")
	if !hasOS {
		osName, rel = "", series
	}
	var newest *bootResource
	for _, b := range s.boot {
		if osName != "" && osName != b.osystem {
			continue
		}
		if b.release == rel || (b.alias != "" && b.alias == rel) {
			return b
		}
		if b.osystem == rel && (newest == nil || b.release > newest.release) {
			newest = b
		}
	}
	return newest
}

// releaseChoices lists deploy's valid distro_series values as MAAS's error
// does: ” first, then os/release ordered by OS title and release title.
func (s *Sim) releaseChoices() string {
	type choice struct{ osTitle, title, value string }
	seen := map[string]bool{}
	var choices []choice
	for _, b := range s.boot {
		v := b.osystem + "/" + b.release
		if seen[v] {
			continue
		}
		seen[v] = true
		osTitle := "Ubuntu"
		if b.osystem != "ubuntu" {
			osTitle = strings.ToUpper(b.osystem[:1]) + b.osystem[1:]
		}
		choices = append(choices, choice{osTitle, b.Title, v})
	}
	slices.SortFunc(choices, func(a, b choice) int {
		return cmp.Or(strings.Compare(a.osTitle, b.osTitle), strings.Compare(a.title, b.title))
	})
	out := make([]string, 0, len(choices)+1)
	out = append(out, "''")
	for _, ch := range choices {
		out = append(out, "'"+ch.value+"'")
	}
	return strings.Join(out, ", ")
}

func releaseMachine(c *call) *apiError {
	s := c.s
	data := c.form
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	switch {
	case m.status == StatusReleasing || m.status == StatusReady:
		// Already done or under way: MAAS calls a repeated release success.
	case m.status.releasable():
		s.startRelease(m, boolParam(data, "erase"), boolParam(data, "quick_erase"))
	default:
		return conflict(fmt.Sprintf("Machine cannot be released in its current state ('%s').", m.status))
	}
	c.reply(m.json)
	return nil
}

func abortMachine(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	switch m.status {
	case StatusDeploying:
		m.powerState = powerOff
		s.unclaimAddresses(m)
		s.setStatus(m, StatusAllocated, "Aborted deployment", EventAborted)
	case StatusDiskErasing:
		m.powerState = powerOff
		s.setStatus(m, StatusFailedDiskErasing, "Aborted disk erasing", EventAborted)
	default:
		return conflict(fmt.Sprintf("Cannot abort in current state: node %s is in state %s.", m.systemID, m.status))
	}
	c.reply(m.json)
	return nil
}

func setWorkloadAnnotations(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	if m.owner != c.user {
		return conflict("Cannot set workload annotation: it hasn't been acquired.")
	}
	for _, kv := range c.form.lists() {
		if kv.key == "op" {
			continue
		}
		v := kv.values[len(kv.values)-1]
		if v == "" {
			delete(m.annotations, kv.key)
			continue
		}
		if m.annotations == nil {
			m.annotations = map[string]string{}
		}
		m.annotations[kv.key] = v
	}
	s.render(m)
	c.reply(m.json)
	return nil
}

// powerOnMachine is MAAS's power_on: on an Allocated machine it starts a
// deployment (with the default series), otherwise it turns the power on.
func powerOnMachine(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	if m.owner == nil {
		return conflict("Can't start node: it hasn't been allocated.")
	}
	if m.status == StatusAllocated {
		var p params
		if ud, ok := c.form.get("user_data"); ok {
			p = params{{"user_data", ud}}
		}
		return s.deploy(c, m, p)
	}
	if m.powerState != powerOn {
		from := m.status
		m.powerState = powerOn
		s.render(m)
		s.emit(EventPower, from, m)
	}
	c.reply(m.json)
	return nil
}

func powerOffMachine(c *call) *apiError {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := c.lookupMachine()
	if err != nil {
		return err
	}
	if m.powerState != powerOff {
		from := m.status
		m.powerState = powerOff
		s.render(m)
		s.emit(EventPower, from, m)
	}
	c.reply(m.json)
	return nil
}

// boolParam reads a boolean the way MAAS's StringBool validator does.
func boolParam(p params, key string) bool {
	v, _ := p.get(key)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	}
	return false
}

// --- the other collections ---

func getVersion(c *call) *apiError {
	c.replyJSON(map[string]any{
		"capabilities": []string{
			"networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu", "devices-management",
			"storage-deployment-ubuntu", "network-deployment-ubuntu", "bridging-interface-ubuntu",
			"bridging-automatic-ubuntu", "authenticate-api",
		},
		"version":    c.s.maasVersion,
		"subversion": "",
	})
	return nil
}

func userJSON(u *user) map[string]any {
	return map[string]any{
		"username": u.name, "email": u.email, "is_local": true, "is_superuser": u.admin,
		keyURI: apiRoot + "users/" + u.name + "/",
	}
}

func whoami(c *call) *apiError {
	c.replyJSON(userJSON(c.user))
	return nil
}

// replyAll answers with the JSON of every item of a collection, read and
// rendered under the simulator's read lock.
func replyAll[T, J any](c *call, items func(*Sim) []T, render func(T) J) *apiError {
	c.s.mu.RLock()
	src := items(c.s)
	out := make([]J, 0, len(src))
	for _, x := range src {
		out = append(out, render(x))
	}
	c.s.mu.RUnlock()
	c.replyJSON(out)
	return nil
}

func listUsers(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*user { return s.users }, userJSON)
}

func getUser(c *call) *apiError {
	c.s.mu.RLock()
	u := c.s.userByName[c.args[0]]
	c.s.mu.RUnlock()
	if u == nil {
		return notFound("No User matches the given query.")
	}
	c.replyJSON(userJSON(u))
	return nil
}

func listZones(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*zone { return s.zones }, zoneJSON)
}

func getZone(c *call) *apiError {
	c.s.mu.RLock()
	z := c.s.zoneByName[c.args[0]]
	c.s.mu.RUnlock()
	if z == nil {
		return notFound("No Zone matches the given query.")
	}
	c.replyJSON(zoneJSON(z))
	return nil
}

func listPools(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*pool { return s.pools }, poolJSON)
}

// getPool serves resourcepool/{id}/, which MAAS resolves by id or name.
func getPool(c *call) *apiError {
	c.s.mu.RLock()
	p := c.s.poolByName[c.args[0]]
	if p == nil {
		if id, err := strconv.Atoi(c.args[0]); err == nil {
			for _, x := range c.s.pools {
				if x.id == id {
					p = x
				}
			}
		}
	}
	c.s.mu.RUnlock()
	if p == nil {
		return notFound("No ResourcePool matches the given query.")
	}
	c.replyJSON(poolJSON(p))
	return nil
}

func listDomains(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*domain { return s.domains }, c.s.domainJSON)
}

func getDomain(c *call) *apiError {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	for _, d := range c.s.domains {
		if strconv.Itoa(d.id) == c.args[0] || d.name == c.args[0] {
			c.replyJSON(c.s.domainJSON(d))
			return nil
		}
	}
	return notFound("No Domain matches the given query.")
}

func bootResourceJSON(b *bootResource) map[string]any {
	rtype, subarches := "Synced", "generic"
	if b.custom {
		rtype = "Uploaded"
	}
	if b.alias != "" {
		subarches = "generic,ga-" + b.alias + ",hwe-" + b.alias
	}
	return map[string]any{
		"id": b.id, "type": rtype, fieldName: b.Name, "architecture": b.Architecture,
		keyURI:          fmt.Sprintf("%sboot-resources/%d/", apiRoot, b.id),
		"last_deployed": nil, "subarches": subarches, "title": b.Title,
	}
}

// listBootResources ignores ?type= (gomaasclient sends "Type", which MAAS
// ignores too).
func listBootResources(c *call) *apiError {
	out := make([]map[string]any, 0, len(c.s.boot))
	for _, b := range c.s.boot {
		out = append(out, bootResourceJSON(b))
	}
	c.replyJSON(out)
	return nil
}

func getBootResource(c *call) *apiError {
	for _, b := range c.s.boot {
		if strconv.Itoa(b.id) == c.args[0] {
			c.replyJSON(bootResourceJSON(b))
			return nil
		}
	}
	return notFound("No BootResource matches the given query.")
}

func isImporting(c *call) *apiError {
	c.replyJSON(false)
	return nil
}

func tagJSON(t *tag) map[string]any {
	return map[string]any{
		fieldName: t.name, "definition": "", "comment": "", "kernel_opts": "",
		keyURI: apiRoot + "tags/" + t.name + "/",
	}
}

func listTags(c *call) *apiError {
	return replyAll(c, func(s *Sim) []*tag { return s.tags }, tagJSON)
}

func getTag(c *call) *apiError {
	c.s.mu.RLock()
	t := c.s.tagByName[c.args[0]]
	c.s.mu.RUnlock()
	if t == nil {
		return notFound("No Tag matches the given query.")
	}
	c.replyJSON(tagJSON(t))
	return nil
}

func tagMachines(c *call) *apiError {
	s := c.s
	s.mu.RLock()
	t := s.tagByName[c.args[0]]
	if t == nil {
		s.mu.RUnlock()
		return notFound("No Tag matches the given query.")
	}
	var docs [][]byte
	for _, m := range s.machines {
		if canUse(c.user, m) && hasTags(m.tags, []string{t.name}, "") {
			docs = append(docs, m.json)
		}
	}
	s.mu.RUnlock()
	c.replyMachines(docs)
	return nil
}

// tagUpdateNodes is TagHandler.update_nodes (MAAS 3.5+): admins only,
// checked before the tag is looked up; unknown system IDs are ignored, and
// the counts are of the machines matched, tagged before or not.
func tagUpdateNodes(c *call) *apiError {
	if !c.user.admin {
		return forbidden
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tagByName[c.args[0]]
	if t == nil {
		return notFound("No Tag matches the given query.")
	}
	if def, ok := c.form.get("definition"); ok && def != "" {
		// The simulator's tags have no definition.
		return conflict(fmt.Sprintf("Definition supplied '%s' doesn't match current definition ''", def))
	}
	matched := func(ids []string) []*machine {
		var out []*machine
		for _, id := range uniqueSorted(ids) {
			if m := s.byID[id]; m != nil {
				out = append(out, m)
			}
		}
		return out
	}
	add, remove := matched(c.form.all("add")), matched(c.form.all("remove"))
	for _, m := range add {
		if !slices.Contains(m.tags, t.name) {
			m.tags = append(m.tags, t.name)
			s.render(m)
		}
	}
	for _, m := range remove {
		if i := slices.Index(m.tags, t.name); i >= 0 {
			m.tags = slices.Delete(slices.Clone(m.tags), i, i+1)
			s.render(m)
		}
	}
	c.replyJSON(map[string]int{"added": len(add), "removed": len(remove)})
	return nil
}
