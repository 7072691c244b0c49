package maassim

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MAAS validates list filters (ReadNodesForm) and allocation constraints
// (AcquireNodeForm) with Django forms that share FilterNodeForm's fields;
// this file reproduces their fields, validation messages and matching.

type formMode int

// Field names used in more than one place.
const (
	fieldArch       = "arch"
	fieldTags       = "tags"
	fieldCPUCount   = "cpu_count"
	fieldSystemID   = "system_id"
	fieldAgentName  = "agent_name"
	fieldName       = "name"
	fieldStorage    = "storage"
	fieldPowerState = "power_state"
	fieldCPUSpeed   = "cpu_speed"
	fieldDomain     = "domain"
	fieldZone       = "zone"
	fieldPool       = "pool"
	fieldOwner      = "owner"
	fieldHostname   = "hostname"
	fieldFabrics    = "fabrics"
	fieldMAC        = "mac_address"
	fieldMem        = "mem"
)

const (
	listForm formMode = iota
	allocateForm
)

// filterFields are FilterNodeForm's fields (plus the pod fields of MAAS
// 3.x), which both forms have.
var filterFields = []string{
	fieldArch, "not_arch", fieldTags, "not_tags", fieldFabrics, "not_fabrics", "fabric_classes", "not_fabric_classes",
	endpointSubnets, "not_subnets", "link_speed", "vlans", "not_vlans", fieldZone, "not_in_zone", fieldSystemID,
	fieldPool, "not_in_pool", fieldStorage, "interfaces", "devices", fieldCPUCount, fieldCPUSpeed, fieldMem,
	fieldOwner, "not_owner", fieldPowerState, "not_power_state", "deployment_target", "not_deployment_target",
	"pod", "not_pod", "pod_type", "not_pod_type",
}

var readFields = []string{
	"id", "not_id", fieldHostname, "not_hostname", fieldMAC, fieldDomain, "not_domain", fieldAgentName,
	"not_agent_name", "status", "not_status", "simple_status", "not_simple_status",
}

var acquireFields = []string{fieldName, fieldSystemID}

// ignoredFields are parameters the forms accept without treating them as
// constraints (IGNORED_FIELDS in MAAS).
var ignoredFields = map[string]bool{
	"comment": true, "bridge_all": true, "bridge_type": true, "bridge_stp": true, "bridge_fd": true,
	"dry_run": true, "verbose": true, "op": true, fieldAgentName: true,
}

// unsimulated are real MAAS constraints the simulator does not model; it
// refuses them rather than silently ignoring them.
var unsimulated = map[string]bool{
	"fabric_classes": true, "not_fabric_classes": true, endpointSubnets: true, "not_subnets": true,
	"link_speed": true, "vlans": true, "not_vlans": true, "interfaces": true, "devices": true,
	"deployment_target": true, "not_deployment_target": true,
}

func fieldsFor(mode formMode) map[string]bool {
	out := map[string]bool{}
	for _, f := range filterFields {
		out[f] = true
	}
	extra := readFields
	if mode == allocateForm {
		extra = acquireFields
	}
	for _, f := range extra {
		out[f] = true
	}
	return out
}

var (
	listFieldSet     = fieldsFor(listForm)
	allocateFieldSet = fieldsFor(allocateForm)
)

// constraints is a validated filter, compiled for matching thousands of
// machines per request.
type constraints struct {
	anyOf     map[string][]string // field -> values, machine must match one
	noneOf    map[string][]string // field -> values, machine must match none
	allTags   []string
	statuses  map[Status]bool
	notStatus map[Status]bool
	minimums  map[string]float64 // cpu_count, cpu_speed, mem
	storage   []storageConstraint
	podWanted bool              // no machine is in a VM host
	describe  map[string]string // field -> how the 409 message shows it
	described []string

	// The compiled form matches reads.
	tests                          []fieldTest
	wantStatus, refuseStatus       [len(statusNames)]bool
	anyStatus                      bool
	minCPU, minCPUSpeed, minMemory float64
}

type fieldTest struct {
	field  string
	values []string
	negate bool
}

// compile turns the maps built while parsing into what matches reads.
func (c *constraints) compile() {
	for f, v := range c.anyOf {
		c.tests = append(c.tests, fieldTest{field: f, values: v})
	}
	for f, v := range c.noneOf {
		c.tests = append(c.tests, fieldTest{field: f, values: v, negate: true})
	}
	c.anyStatus = c.statuses == nil
	for st := range c.statuses {
		if int(st) < len(c.wantStatus) {
			c.wantStatus[st] = true
		}
	}
	for st := range c.notStatus {
		if int(st) < len(c.refuseStatus) {
			c.refuseStatus[st] = true
		}
	}
	c.minCPU, c.minCPUSpeed, c.minMemory = c.minimums[fieldCPUCount], c.minimums[fieldCPUSpeed], c.minimums[fieldMem]
}

// parseConstraints validates p against the form for mode, with the
// simulator's zones, pools, tags, users and architectures (s.mu held). It
// returns the form's errors as MAAS reports them.
func (s *Sim) parseConstraints(p params, mode formMode) (*constraints, map[string][]string) {
	fields := listFieldSet
	if mode == allocateForm {
		fields = allocateFieldSet
	}
	errs := map[string][]string{}
	c := &constraints{
		anyOf: map[string][]string{}, noneOf: map[string][]string{},
		minimums: map[string]float64{}, describe: map[string]string{},
	}
	for _, kv := range p.lists() {
		switch {
		case !fields[kv.key]:
			if !ignoredFields[kv.key] {
				errs[kv.key] = []string{"No such constraint."}
			}
			continue
		case unsimulated[kv.key]:
			errs[kv.key] = []string{"maas-sim does not simulate this constraint."}
			continue
		}
		vals := kv.values
		if kv.key == fieldStorage {
			// A CharField in MAAS's form: the last value counts.
			vals = vals[len(vals)-1:]
		}
		if msg := fieldParsers[kv.key](s, c, kv.key, vals); msg != "" {
			errs[kv.key] = []string{msg}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	names := make([]string, 0, len(c.describe))
	for f := range c.describe {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		c.described = append(c.described, f+"="+c.describe[f])
	}
	c.compile()
	return c, nil
}

// fieldParser validates one field's values into c and returns MAAS's error
// message for them, or "".
type fieldParser func(s *Sim, c *constraints, field string, vals []string) string

// fieldParsers has a parser for every field of filterFields, readFields and
// acquireFields except the unsimulated ones.
var fieldParsers = map[string]fieldParser{
	"id": parseAnyOf, fieldSystemID: parseAnyOf, fieldHostname: parseAnyOf, fieldDomain: parseAnyOf,
	fieldAgentName: parseAnyOf, fieldName: parseAnyOf, fieldFabrics: parseAnyOf, fieldMAC: parseMAC,
	fieldOwner: parseOwner, fieldPowerState: parsePowerState, "not_power_state": parsePowerState,
	"not_id": parseNoneOf, "not_hostname": parseNoneOf, "not_domain": parseNoneOf, "not_agent_name": parseNoneOf,
	"not_fabrics": parseNoneOf, "not_owner": parseNoneOf, "not_arch": parseNoneOf, "not_tags": parseNoneOf,
	fieldZone: parseZone, "not_in_zone": parseZone, fieldPool: parsePool, "not_in_pool": parsePool,
	fieldTags: parseTags, fieldArch: parseArch, fieldCPUCount: parseMinimum, fieldCPUSpeed: parseMinimum, fieldMem: parseMinimum,
	"status": parseStatus, "not_status": parseStatus, "simple_status": parseStatus, "not_simple_status": parseStatus,
	fieldStorage: parseStorageField, "pod": parsePod, "pod_type": parsePod, "not_pod": parsePod, "not_pod_type": parsePod,
}

// note records how the 409 message describes a field.
func (c *constraints) note(field string, vals []string) {
	if len(vals) > 0 {
		c.describe[field] = strings.Join(vals, ",")
	}
}

func parseAnyOf(_ *Sim, c *constraints, field string, vals []string) string {
	c.anyOf[field] = vals
	c.note(field, vals)
	return ""
}

func parseNoneOf(_ *Sim, c *constraints, field string, vals []string) string {
	target := strings.TrimPrefix(field, "not_")
	if target == fieldTags {
		vals = splitLegacyTags(vals)
	}
	c.noneOf[target] = vals
	c.note(field, vals)
	return ""
}

func parseMAC(s *Sim, c *constraints, field string, vals []string) string {
	lower := make([]string, len(vals))
	for i, v := range vals {
		lower[i] = strings.ToLower(v)
	}
	return parseAnyOf(s, c, field, lower)
}

func parseOwner(s *Sim, c *constraints, field string, vals []string) string {
	if missing := missingNames(vals, func(n string) bool { return s.userByName[n] != nil }); len(missing) > 0 {
		return fmt.Sprintf("No such owner: '%s'.", missing[0])
	}
	return parseAnyOf(s, c, field, vals)
}

func parsePowerState(s *Sim, c *constraints, field string, vals []string) string {
	for _, v := range vals {
		switch v {
		case powerOn, powerOff, "unknown", "error":
		default:
			return invalidChoice(v)
		}
	}
	if field == fieldPowerState {
		return parseAnyOf(s, c, field, vals)
	}
	return parseNoneOf(s, c, field, vals)
}

func invalidChoice(v string) string {
	return fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", v)
}

func parseZone(s *Sim, c *constraints, field string, vals []string) string {
	if missing := missingNames(vals, func(n string) bool { return s.zoneByName[n] != nil }); len(missing) > 0 {
		return fmt.Sprintf("No such zone(s): %s.", strings.Join(missing, ", "))
	}
	if field == fieldZone {
		c.anyOf[fieldZone] = vals
	} else {
		c.noneOf[fieldZone] = vals
	}
	c.note(field, vals)
	return ""
}

func parsePool(s *Sim, c *constraints, field string, vals []string) string {
	if missing := missingNames(vals, func(n string) bool { return s.poolByName[n] != nil }); len(missing) > 0 {
		return fmt.Sprintf("No such pool(s): %s.", strings.Join(missing, ", "))
	}
	if field == fieldPool {
		c.anyOf[fieldPool] = vals
	} else {
		c.noneOf[fieldPool] = vals
	}
	c.note(field, vals)
	return ""
}

func parseTags(s *Sim, c *constraints, field string, vals []string) string {
	names := uniqueSorted(splitLegacyTags(vals))
	if missing := missingNames(names, func(n string) bool { return s.tagByName[n] != nil }); len(missing) > 0 {
		quoted := make([]string, len(missing))
		for i, m := range missing {
			quoted[i] = "'" + m + "'"
		}
		return fmt.Sprintf("No such tag(s): %s.", strings.Join(quoted, ", "))
	}
	c.allTags = names
	c.note(field, names)
	return ""
}

func parseArch(s *Sim, c *constraints, field string, vals []string) string {
	arches, ok := s.expandArches(vals)
	if !ok {
		return "Architecture not recognised."
	}
	c.anyOf[fieldArch] = arches
	c.note(field, arches)
	return ""
}

var minimumErrors = map[string]string{
	fieldCPUCount: "Invalid CPU count: number required.",
	fieldCPUSpeed: "Invalid CPU speed: number required.",
	fieldMem:      "Invalid memory: number of MiB required.",
}

// parseMinimum reads a "at least" field; several values all apply.
func parseMinimum(_ *Sim, c *constraints, field string, vals []string) string {
	nums := make([]string, 0, len(vals))
	for _, v := range vals {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return minimumErrors[field]
		}
		c.minimums[field] = max(c.minimums[field], f)
		nums = append(nums, pyFloat(f))
	}
	c.note(field, nums)
	return ""
}

// parseStatus reads status, not_status, simple_status and not_simple_status.
func parseStatus(_ *Sim, c *constraints, field string, vals []string) string {
	set := map[Status]bool{}
	simple := strings.HasSuffix(field, "simple_status")
	for _, v := range vals {
		var sts []Status
		if simple {
			sts = simpleStatuses[v]
		} else if st, ok := statusByLabel(v); ok {
			sts = []Status{st}
		}
		if len(sts) == 0 {
			return invalidChoice(v)
		}
		for _, st := range sts {
			set[st] = true
		}
	}
	if strings.HasPrefix(field, "not_") {
		c.notStatus = unionStatuses(c.notStatus, set)
	} else {
		c.statuses = intersectStatuses(c.statuses, set)
	}
	c.note(field, vals)
	return ""
}

func parseStorageField(_ *Sim, c *constraints, field string, vals []string) string {
	if vals[0] == "" {
		return ""
	}
	sc, ok := parseStorage(vals[0])
	if !ok {
		return fmt.Sprintf("Malformed storage constraint, \"%s\".", vals[0])
	}
	c.storage = sc
	c.describe[field] = vals[0]
	return ""
}

// parsePod reads the VM host fields: the simulator has no VM hosts, so
// wanting one matches nothing and refusing one excludes nothing.
func parsePod(_ *Sim, c *constraints, field string, vals []string) string {
	if !strings.HasPrefix(field, "not_") {
		c.podWanted = true
	}
	c.note(field, vals)
	return ""
}

// splitLegacyTags splits values on commas and spaces, as MAAS still accepts
// "tags=a,b" for "tags=a&tags=b".
func splitLegacyTags(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })...)
	}
	return out
}

func uniqueSorted(vals []string) []string {
	set := map[string]bool{}
	for _, v := range vals {
		set[v] = true
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// missingNames returns, sorted and without duplicates, the names that do
// not exist.
func missingNames(names []string, exists func(string) bool) []string {
	var missing []string
	for _, n := range uniqueSorted(names) {
		if !exists(n) {
			missing = append(missing, n)
		}
	}
	return missing
}

func intersectStatuses(a, b map[Status]bool) map[Status]bool {
	if a == nil {
		return b
	}
	out := map[Status]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func unionStatuses(a, b map[Status]bool) map[Status]bool {
	out := map[Status]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// expandArches turns arch values into usable "arch/subarch" names: a full
// name as is, a bare architecture into all its usable subarchitectures
// ("arm" means armhf, as in MAAS).
func (s *Sim) expandArches(vals []string) ([]string, bool) {
	var out []string
	for _, v := range vals {
		if s.arches[v] {
			out = append(out, v)
			continue
		}
		primary := v
		if v == "arm" && !s.hasPrimaryArch("arm") {
			primary = "armhf"
		}
		var matched []string
		for a := range s.arches {
			if strings.HasPrefix(a, primary+"/") {
				matched = append(matched, a)
			}
		}
		if len(matched) == 0 {
			return nil, false
		}
		slices.Sort(matched)
		out = append(out, matched...)
	}
	return out, true
}

func (s *Sim) hasPrimaryArch(p string) bool {
	for a := range s.arches {
		if strings.HasPrefix(a, p+"/") {
			return true
		}
	}
	return false
}

// storageConstraint is one "label:size(tag,...)" entry of a storage
// constraint; size is in bytes (the constraint counts decimal gigabytes).
type storageConstraint struct {
	label string
	bytes int64
	tags  []string
}

var storageRE = regexp.MustCompile(`(?:([a-zA-Z0-9]+):)?([0-9.]+)(?:\(([^)]+)\))?`)

// parseStorage parses MAAS's storage constraint, e.g. "root:100(ssd),data:500".
// The first entry is the boot disk; the rest are sorted so that entries
// with more tags are matched first, as MAAS does.
func parseStorage(v string) ([]storageConstraint, bool) {
	groups := storageRE.FindAllStringSubmatch(v, -1)
	if len(groups) == 0 {
		return nil, false
	}
	rendered := make([]string, 0, len(groups))
	out := make([]storageConstraint, 0, len(groups))
	for _, g := range groups {
		r := g[2]
		if g[1] != "" {
			r = g[1] + ":" + r
		}
		if g[3] != "" {
			r += "(" + g[3] + ")"
		}
		rendered = append(rendered, r)
		size, err := strconv.ParseFloat(g[2], 64)
		if err != nil {
			return nil, false
		}
		// A size no disk has stays valid and matches nothing, as in MAAS.
		bytes := int64(math.MaxInt64)
		if size*1e9 < math.MaxInt64 {
			bytes = int64(size * 1e9)
		}
		sc := storageConstraint{label: g[1], bytes: bytes}
		if g[3] != "" {
			sc.tags = strings.Split(g[3], ",")
		}
		out = append(out, sc)
	}
	if strings.Join(rendered, ",") != v {
		return nil, false
	}
	slices.SortStableFunc(out[1:], func(a, b storageConstraint) int { return len(b.tags) - len(a.tags) })
	return out, true
}

// matchStorage assigns the constraints to m's disks: the first to the boot
// disk, each other to a distinct other disk (the smallest that fits). It
// returns, per label, the matched block device IDs.
func matchStorage(m *machine, sc []storageConstraint) (map[string][]int, bool) {
	if len(sc) == 0 {
		return nil, true
	}
	used := make([]bool, len(m.disks))
	out := map[string][]int{}
	for i, c := range sc {
		best := -1
		for d, disk := range m.disks {
			if used[d] || (i == 0) != (d == 0) {
				continue
			}
			if diskBytes(disk) < c.bytes || !hasTags(disk.Tags, c.tags, "partition") {
				continue
			}
			if best < 0 || diskBytes(disk) < diskBytes(m.disks[best]) {
				best = d
			}
		}
		if best < 0 {
			return nil, false
		}
		used[best] = true
		out[c.label] = append(out[c.label], m.diskIDs[best])
	}
	return out, true
}

func hasTags(have, want []string, ignore string) bool {
	for _, w := range want {
		if w != ignore && !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// matches reports whether machine m passes every constraint.
func (c *constraints) matches(m *machine) bool {
	if c.podWanted || (!c.anyStatus && !c.wantStatus[m.status]) || c.refuseStatus[m.status] {
		return false
	}
	if float64(m.cpu) < c.minCPU || float64(m.cpuSpeed) < c.minCPUSpeed || float64(m.memory) < c.minMemory {
		return false
	}
	for i := range c.tests {
		t := &c.tests[i]
		if anyMatch(m, t.field, t.values) == t.negate {
			return false
		}
	}
	if !hasTags(m.tags, c.allTags, "") {
		return false
	}
	if len(c.storage) > 0 {
		if _, ok := matchStorage(m, c.storage); !ok {
			return false
		}
	}
	return true
}

// candidates returns the machines that can match, in MAAS id order: those
// named by an agent_name or id filter when there is one (through the
// indexes, so the operator's poll does not scan the whole inventory),
// otherwise all. s.mu must be held.
func (s *Sim) candidates(c *constraints) []*machine {
	var picked map[*machine]bool
	if ids, ok := c.anyOf["id"]; ok {
		picked = map[*machine]bool{}
		for _, id := range ids {
			if m := s.byID[id]; m != nil {
				picked[m] = true
			}
		}
	} else if agents, ok := c.anyOf[fieldAgentName]; ok {
		picked = map[*machine]bool{}
		for _, a := range agents {
			for m := range s.byAgent[a] {
				picked[m] = true
			}
		}
	}
	if picked == nil {
		return s.machines
	}
	out := make([]*machine, 0, len(picked))
	for m := range picked {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *machine) int { return a.dbID - b.dbID })
	return out
}

func anyMatch(m *machine, field string, vals []string) bool {
	for _, v := range vals {
		if fieldMatches(m, field, v) {
			return true
		}
	}
	return false
}

func fieldMatches(m *machine, field, v string) bool {
	switch field {
	case "id", fieldSystemID:
		return m.systemID == v
	case fieldHostname:
		return m.hostname == v
	case fieldName:
		host, dom, fqdn := strings.Cut(v, ".")
		return m.hostname == host && (!fqdn || m.domain.name == dom)
	case fieldDomain:
		return m.domain.name == v
	case fieldAgentName:
		return m.agentName == v
	case fieldMAC:
		return m.mac == v
	case fieldFabrics:
		return v == untaggedVLAN.Fabric
	case fieldPowerState:
		return m.powerState == v
	case fieldOwner:
		return m.owner != nil && m.owner.name == v
	case fieldArch:
		return m.arch == v
	case fieldTags:
		return slices.Contains(m.tags, v)
	case fieldZone:
		return m.zone.name == v
	case fieldPool:
		return m.pool.name == v
	}
	return false
}
