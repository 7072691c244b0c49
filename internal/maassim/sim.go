package maassim

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sim is the simulated MAAS: its inventory, users, state machine, fault
// injection and request counters. It is safe for concurrent use. Serve it
// with Handler, or use Start for a listening Server.
type Sim struct {
	timings        Timings
	eraseOnRelease bool
	defaultSeries  string
	maasVersion    string
	apiHash        string

	mu             sync.RWMutex
	machines       []*machine // in MAAS id order (the inventory's order)
	byID           map[string]*machine
	byAgent        map[string]map[*machine]bool // machines by non-empty agent name
	zones          []*zone
	zoneByName     map[string]*zone
	pools          []*pool
	poolByName     map[string]*pool
	domains        []*domain
	domainByName   map[string]*domain
	tags           []*tag
	tagByName      map[string]*tag
	ipam           ipam // subnets, reservations, ranges, DNS records (ipam.go)
	boot           []*bootResource
	arches         map[string]bool // usable "arch/subarch" names
	users          []*user
	userByName     map[string]*user
	userByConsumer map[string]*user
	rng            *rand.Rand
	closed         bool

	faultMu  sync.Mutex
	faults   Faults
	faultRng *rand.Rand

	nonceMu     sync.Mutex
	nonces      map[string]int64
	noncePruned time.Time

	countMu   sync.Mutex
	counts    map[RequestKey]int
	serveTime serveTimer // see counters.go

	subMu   sync.Mutex
	subs    map[int]*subscriber
	nextSub int
}

type zone struct {
	id                int
	name, description string
}

type pool struct {
	id                int
	name, description string
}

type domain struct {
	id        int
	name      string
	isDefault bool
}

type tag struct{ name string }

type bootResource struct {
	id int
	BootResource
	osystem, release string // e.g. ubuntu/jammy, custom/<name>
	alias            string // e.g. 22.04
	custom           bool
}

type user struct {
	name, email               string
	admin                     bool
	consumer, token, tokenSec string
}

func (u *user) apiKey() string { return u.consumer + ":" + u.token + ":" + u.tokenSec }

// machine is the simulator's record of one machine; every field is guarded
// by Sim.mu.
type machine struct {
	dbID        int
	systemID    string
	hostname    string
	description string
	domain      *domain
	zone        *zone
	pool        *pool
	arch        string
	cpu         int
	cpuSpeed    int
	memory      int64
	disks       []DiskSpec
	tags        []string
	ips         []string // the inventory's addresses, preferred at deployment
	mac         string
	powerType   string
	hwUUID      string
	ifaceID     int
	linkID      int
	diskIDs     []int
	partID      int
	subnet      *subnet

	status        Status
	statusMessage string
	powerState    string
	owner         *user
	agentName     string
	osystem       string
	distroSeries  string
	hweKernel     string
	userData      []byte
	annotations   map[string]string
	ipsClaimed    bool
	// assigned are the addresses the machine holds while ipsClaimed: the
	// inventory's when free, otherwise picked from its subnet as MAAS's
	// auto-assignment does (see ipam.go).
	assigned []netip.Addr
	swapSize *int64

	gen   uint64      // bumped on every transition; stale timers compare it
	timer *time.Timer // the pending step of the current operation
	json  []byte      // rendered MAAS JSON; replaced, never mutated
}

// New builds a simulator from cfg: every inventory machine starts Ready and
// powered off, owned by nobody.
func New(cfg Config) (*Sim, error) {
	if len(cfg.Users) == 0 {
		return nil, errors.New("maassim: config needs at least one user")
	}
	if err := validateInventory(cfg.Inventory); err != nil {
		return nil, fmt.Errorf("maassim: %w", err)
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, fmt.Errorf("maassim: %w", err)
	}
	for _, d := range []time.Duration{cfg.DeployTime, cfg.DeployJitter, cfg.ReleaseTime, cfg.ReleaseJitter, cfg.EraseTime, cfg.QuickEraseTime} {
		if d < 0 {
			return nil, errors.New("maassim: negative timing")
		}
	}
	s := &Sim{
		timings:        cfg.Timings,
		eraseOnRelease: cfg.EraseOnRelease,
		defaultSeries:  cfg.DefaultDistroSeries,
		maasVersion:    cfg.MAASVersion,
		byID:           map[string]*machine{},
		byAgent:        map[string]map[*machine]bool{},
		zoneByName:     map[string]*zone{},
		poolByName:     map[string]*pool{},
		domainByName:   map[string]*domain{},
		tagByName:      map[string]*tag{},
		arches:         map[string]bool{},
		userByName:     map[string]*user{},
		userByConsumer: map[string]*user{},
		rng:            rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d616173)),
		faults:         cfg.Faults.clone(),
		faultRng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6661756c)),
		nonces:         map[string]int64{},
		counts:         map[RequestKey]int{},
		subs:           map[int]*subscriber{},
	}
	if s.defaultSeries == "" {
		s.defaultSeries = "jammy"
	}
	if s.maasVersion == "" {
		s.maasVersion = DefaultMAASVersion
	}
	sum := sha1.Sum([]byte("maas-sim " + s.maasVersion))
	s.apiHash = hex.EncodeToString(sum[:])

	s.addZone("default", "")
	s.addPool("default", "Default pool")
	s.domainFor("maas").isDefault = true
	for _, z := range cfg.Zones {
		s.addZone(z, "")
	}
	for _, d := range cfg.Domains {
		s.domainFor(d)
	}
	for _, p := range cfg.Pools {
		s.addPool(p, "")
	}
	if err := s.addBootResources(cfg.BootResources); err != nil {
		return nil, err
	}
	for _, u := range cfg.Users {
		if _, err := s.addUser(u); err != nil {
			return nil, err
		}
	}
	s.ipam.init()
	if err := s.addSubnets(cfg.Subnets); err != nil {
		return nil, err
	}
	s.addMachines(cfg.Inventory)
	return s, nil
}

func (s *Sim) addZone(name, desc string) *zone {
	if z, ok := s.zoneByName[name]; ok {
		return z
	}
	z := &zone{id: len(s.zones) + 1, name: name, description: desc}
	s.zones = append(s.zones, z)
	s.zoneByName[name] = z
	return z
}

func (s *Sim) addPool(name, desc string) *pool {
	if p, ok := s.poolByName[name]; ok {
		return p
	}
	p := &pool{id: len(s.pools), name: name, description: desc}
	s.pools = append(s.pools, p)
	s.poolByName[name] = p
	return p
}

func (s *Sim) domainFor(name string) *domain {
	if d, ok := s.domainByName[name]; ok {
		return d
	}
	d := &domain{id: len(s.domains), name: name}
	s.domains = append(s.domains, d)
	s.domainByName[name] = d
	return d
}

func (s *Sim) addBootResources(res []BootResource) error {
	if len(res) == 0 {
		res = defaultBootResources()
	}
	for _, r := range res {
		if r.Name == "" || !strings.Contains(r.Architecture, "/") {
			return fmt.Errorf("maassim: boot resource %q needs a name and an arch/subarch architecture", r.Name)
		}
		b := &bootResource{id: len(s.boot) + 1, BootResource: r}
		if os, rel, ok := strings.Cut(r.Name, "/"); ok {
			b.osystem, b.release = os, rel
			if os == "ubuntu" {
				b.alias = ubuntuReleases[rel]
			}
		} else {
			b.osystem, b.release, b.custom = "custom", r.Name, true
		}
		if b.Title == "" {
			b.Title = r.Name
		}
		s.boot = append(s.boot, b)
		arch, _, _ := strings.Cut(r.Architecture, "/")
		s.arches[r.Architecture] = true
		s.arches[arch+"/generic"] = true
	}
	return nil
}

func (s *Sim) addUser(u User) (*user, error) {
	if u.Name == "" {
		return nil, errors.New("maassim: user needs a name")
	}
	if _, dup := s.userByName[u.Name]; dup {
		return nil, fmt.Errorf("maassim: duplicate user %q", u.Name)
	}
	nu := &user{name: u.Name, email: u.Email, admin: u.Admin}
	if u.APIKey == "" {
		for nu.consumer == "" || s.userByConsumer[nu.consumer] != nil {
			nu.consumer = s.randomString(18)
		}
		nu.token, nu.tokenSec = s.randomString(18), s.randomString(32)
	} else {
		parts := strings.Split(u.APIKey, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("maassim: user %q: API key must be consumer_key:token_key:token_secret", u.Name)
		}
		nu.consumer, nu.token, nu.tokenSec = parts[0], parts[1], parts[2]
	}
	if _, dup := s.userByConsumer[nu.consumer]; dup {
		return nil, fmt.Errorf("maassim: user %q: consumer key already in use", u.Name)
	}
	if nu.email == "" {
		nu.email = u.Name + "@example.com"
	}
	s.users = append(s.users, nu)
	s.userByName[nu.name] = nu
	s.userByConsumer[nu.consumer] = nu
	return nu, nil
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (s *Sim) randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = keyAlphabet[s.rng.IntN(len(keyAlphabet))]
	}
	return string(b)
}

func (s *Sim) addMachines(specs []MachineSpec) {
	used := map[string]bool{}
	for _, sp := range specs {
		if sp.SystemID != "" {
			used[sp.SystemID] = true
		}
	}
	ifaceID, linkID, diskID, partID := 1, 1, 1, 1
	for i, sp := range specs {
		m := &machine{
			dbID:          i + 1,
			systemID:      sp.SystemID,
			hostname:      sp.Hostname,
			description:   sp.Description,
			domain:        s.domainFor(orDefault(sp.Domain, "maas")),
			zone:          s.addZone(orDefault(sp.Zone, "default"), ""),
			pool:          s.addPool(orDefault(sp.Pool, "default"), ""),
			arch:          orDefault(sp.Arch, "amd64/generic"),
			cpu:           sp.CPU,
			cpuSpeed:      sp.CPUSpeedMHz,
			memory:        sp.MemoryMiB,
			disks:         cloneDisks(sp.Disks),
			tags:          append([]string(nil), sp.Tags...),
			ips:           append([]string(nil), sp.IPs...),
			mac:           strings.ToLower(sp.MAC),
			powerType:     orDefault(sp.PowerType, "ipmi"),
			status:        StatusReady,
			statusMessage: "Ready",
			powerState:    powerOff,
		}
		if m.systemID == "" {
			m.systemID = newSystemID(s.rng, used)
		}
		if m.mac == "" {
			m.mac = fmt.Sprintf("52:54:00:%02x:%02x:%02x", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
		}
		if len(m.disks) == 0 {
			m.disks = []DiskSpec{{SizeGB: 500}}
		}
		for j := range m.disks {
			if m.disks[j].Name == "" {
				m.disks[j].Name = "sd" + string(rune('a'+j%26))
			}
			m.diskIDs = append(m.diskIDs, diskID)
			diskID++
		}
		m.partID = partID
		partID++
		m.ifaceID, m.linkID = ifaceID, linkID
		ifaceID++
		linkID++
		m.hwUUID = s.uuid()
		s.arches[m.arch] = true
		m.subnet = s.subnetForMachine(m.ips)
		for _, t := range m.tags {
			if _, ok := s.tagByName[t]; !ok {
				tg := &tag{name: t}
				s.tags = append(s.tags, tg)
				s.tagByName[t] = tg
			}
		}
		s.machines = append(s.machines, m)
		s.byID[m.systemID] = m
		s.render(m)
	}
	slices.SortFunc(s.tags, func(a, b *tag) int { return strings.Compare(a.name, b.name) })
}

func (s *Sim) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// --- state transitions (all with s.mu held for writing) ---

// The power states MAAS reports.
const (
	powerOn  = "on"
	powerOff = "off"
)

// setStatus moves m to a new status, cancels whatever m was doing, and
// tells subscribers.
func (s *Sim) setStatus(m *machine, to Status, message string, ev EventType) {
	from := m.status
	m.status = to
	m.statusMessage = message
	m.gen++
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	s.render(m)
	if ev != "" {
		s.emit(ev, from, m)
	}
}

// setMessage records progress within the current status.
func (s *Sim) setMessage(m *machine, message string) {
	m.statusMessage = message
	s.render(m)
}

// after runs fn after d unless m has changed status meanwhile.
func (s *Sim) after(m *machine, d time.Duration, fn func()) {
	gen := m.gen
	m.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || m.gen != gen {
			return
		}
		m.timer = nil
		fn()
	})
}

func (s *Sim) jitter(base, spread time.Duration) time.Duration {
	if spread <= 0 {
		return base
	}
	d := base + time.Duration(s.rng.Int64N(int64(2*spread)+1)) - spread
	if d < 0 {
		return 0
	}
	return d
}

// setAgentName changes m's agent name and keeps the index in step.
func (s *Sim) setAgentName(m *machine, name string) {
	if set := s.byAgent[m.agentName]; set != nil {
		delete(set, m)
		if len(set) == 0 {
			delete(s.byAgent, m.agentName)
		}
	}
	m.agentName = name
	if name != "" {
		if s.byAgent[name] == nil {
			s.byAgent[name] = map[*machine]bool{}
		}
		s.byAgent[name][m] = true
	}
}

func (s *Sim) allocate(m *machine, u *user, agentName string) {
	m.owner = u
	s.setAgentName(m, agentName)
	// Acquiring logs a debug-level event only, so status_message keeps the
	// previous message, as in MAAS.
	s.setStatus(m, StatusAllocated, m.statusMessage, EventAllocated)
}

// deployPhases are the status messages a deployment shows, at the given
// fraction of its duration.
var deployPhases = []struct {
	at  float64
	msg string
}{{0.15, "Performing PXE boot"}, {0.35, "Installing OS"}, {0.75, "Configuring OS"}, {0.9, "Rebooting"}, {1, "Deployed"}}

// failAt is the fraction of a failing deployment at which it fails (the
// curtin install).
const failAt = 0.75

func (s *Sim) startDeploy(m *machine, osystem, series, kernel string, userData []byte) {
	m.osystem, m.distroSeries, m.hweKernel, m.userData = osystem, series, kernel, userData
	s.claimAddresses(m)
	m.powerState = powerOn
	s.setStatus(m, StatusDeploying, "Deploying", EventDeploying)
	total := s.jitter(s.timings.DeployTime, s.timings.DeployJitter)
	s.deployStep(m, total, 0, 0, s.deployFails(m))
}

func (s *Sim) deployStep(m *machine, total time.Duration, i int, prev float64, fail bool) {
	p := deployPhases[i]
	if fail && p.at > failAt {
		s.after(m, time.Duration(float64(total)*(failAt-prev)), func() {
			s.setStatus(m, StatusFailedDeployment,
				"Marking node failed - Installation failed (refer to the installation log for more information).",
				EventDeployFailed)
		})
		return
	}
	s.after(m, time.Duration(float64(total)*(p.at-prev)), func() {
		if i == len(deployPhases)-1 {
			s.setStatus(m, StatusDeployed, p.msg, EventDeployed)
			return
		}
		s.setMessage(m, p.msg)
		s.deployStep(m, total, i+1, p.at, fail)
	})
}

func (s *Sim) deployFails(m *machine) bool {
	s.faultMu.Lock()
	f := s.faults
	s.faultMu.Unlock()
	if namedIn(m, f.FailDeploy) {
		return true
	}
	return f.FailDeployRate > 0 && s.rng.Float64() < f.FailDeployRate
}

// releaseStuck decides whether this release will never complete, and if so
// whether it then fails.
func (s *Sim) releaseStuck(m *machine) (stuck, fails bool) {
	s.faultMu.Lock()
	f := s.faults
	s.faultMu.Unlock()
	stuck = namedIn(m, f.StuckRelease) || (f.StuckReleaseRate > 0 && s.rng.Float64() < f.StuckReleaseRate)
	return stuck, stuck && f.StuckReleaseFails
}

func namedIn(m *machine, names []string) bool {
	for _, n := range names {
		if n == m.systemID || n == m.hostname {
			return true
		}
	}
	return false
}

// startRelease begins MAAS's release: disk erasing first when asked (or
// configured), then releasing.
func (s *Sim) startRelease(m *machine, erase, quick bool) {
	if erase || s.eraseOnRelease {
		m.powerState = powerOn
		s.setStatus(m, StatusDiskErasing, "Performing PXE boot", EventDiskErasing)
		d := s.timings.EraseTime
		if quick {
			d = s.timings.QuickEraseTime
		}
		s.after(m, d, func() { s.beginReleasing(m) })
		return
	}
	s.beginReleasing(m)
}

// beginReleasing is MAAS's Node._release: the agent name, the deployed OS
// and the deployment's data go at once; the owner, the workload annotations
// and the addresses go when the machine is off and the release completes.
func (s *Sim) beginReleasing(m *machine) {
	s.setAgentName(m, "")
	m.osystem, m.distroSeries, m.hweKernel = "", "", ""
	m.userData = nil
	stuck, fails := s.releaseStuck(m)
	wasOff := m.powerState == powerOff
	s.setStatus(m, StatusReleasing, "Releasing", EventReleasing)
	switch {
	case stuck && fails:
		s.after(m, s.timings.ReleaseTime, func() {
			s.setStatus(m, StatusFailedReleasing,
				"Marking node failed - Node operation 'Releasing' timed out after 5 minutes.", EventReleaseFailed)
		})
	case stuck:
		// Stays Releasing: the power driver never reports the machine off.
	case wasOff:
		// MAAS finalises at once when the machine is already off.
		s.finishRelease(m)
	default:
		s.after(m, s.jitter(s.timings.ReleaseTime, s.timings.ReleaseJitter), func() { s.finishRelease(m) })
	}
}

func (s *Sim) finishRelease(m *machine) {
	m.powerState = powerOff
	m.owner = nil
	m.annotations = nil
	s.unclaimAddresses(m)
	m.swapSize = nil
	s.setStatus(m, StatusReady, "Released", EventReleased)
}

// --- events ---

// EventType names a machine state change.
type EventType string

// The events subscribers receive.
const (
	EventAllocated     EventType = "allocated"      // Ready → Allocated
	EventDeploying     EventType = "deploying"      // → Deploying
	EventDeployed      EventType = "deployed"       // Deploying → Deployed
	EventDeployFailed  EventType = "deploy_failed"  // Deploying → Failed deployment
	EventAborted       EventType = "aborted"        // Deploying → Allocated, or Disk erasing → Failed disk erasing
	EventDiskErasing   EventType = "disk_erasing"   // → Disk erasing
	EventReleasing     EventType = "releasing"      // → Releasing
	EventReleaseFailed EventType = "release_failed" // Releasing → Releasing failed
	EventReleased      EventType = "released"       // Releasing → Ready
	EventPower         EventType = "power"          // power state changed without a status change
)

// Event tells a subscriber that a machine changed state.
type Event struct {
	Type EventType
	From Status
	To   Status
	// Machine is the machine just after the change, with its decoded user
	// data and agent name.
	Machine Machine
	Time    time.Time
}

type subscriber struct {
	fn      func(Event)
	mu      sync.Mutex
	queue   []Event
	stopped bool
	wake    chan struct{}
	done    chan struct{}
}

// Subscribe calls fn, on a goroutine of its own and in order, for every
// machine state change from now on. fn may call back into the Sim. cancel
// stops delivery; an fn call already running finishes.
func (s *Sim) Subscribe(fn func(Event)) (cancel func()) {
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.subMu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = sub
	s.subMu.Unlock()
	go sub.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subMu.Lock()
			delete(s.subs, id)
			s.subMu.Unlock()
			sub.stop()
		})
	}
}

func (sub *subscriber) push(e Event) {
	sub.mu.Lock()
	sub.queue = append(sub.queue, e)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *subscriber) stop() {
	sub.mu.Lock()
	sub.stopped = true
	sub.queue = nil
	sub.mu.Unlock()
	close(sub.done)
}

func (sub *subscriber) run() {
	for {
		select {
		case <-sub.done:
			return
		case <-sub.wake:
		}
		for {
			sub.mu.Lock()
			if sub.stopped || len(sub.queue) == 0 {
				sub.mu.Unlock()
				break
			}
			e := sub.queue[0]
			sub.queue = sub.queue[1:]
			sub.mu.Unlock()
			sub.fn(e)
		}
	}
}

// emit queues an event for every subscriber; called with s.mu held so that
// events reach subscribers in the order the changes happened.
func (s *Sim) emit(t EventType, from Status, m *machine) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if len(s.subs) == 0 {
		return
	}
	e := Event{Type: t, From: from, To: m.status, Machine: s.snapshot(m), Time: time.Now()}
	for _, sub := range s.subs {
		sub.push(e)
	}
}

// --- snapshots ---

// Machine is a snapshot of a simulated machine, including what MAAS never
// shows (agent name, decoded user data).
type Machine struct {
	SystemID      string            `json:"systemID"`
	Hostname      string            `json:"hostname"`
	FQDN          string            `json:"fqdn"`
	Domain        string            `json:"domain"`
	Zone          string            `json:"zone"`
	Pool          string            `json:"pool"`
	Status        Status            `json:"status"`
	StatusName    string            `json:"statusName"`
	StatusMessage string            `json:"statusMessage"`
	PowerState    string            `json:"powerState"`
	Owner         string            `json:"owner,omitempty"`
	AgentName     string            `json:"agentName,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	OSystem       string            `json:"osystem,omitempty"`
	DistroSeries  string            `json:"distroSeries,omitempty"`
	HWEKernel     string            `json:"hweKernel,omitempty"`
	// UserData is the deployment's user data, base64-decoded when it was
	// valid base64 (as sent otherwise). JSON shows it as text.
	UserData  []byte     `json:"-"`
	Arch      string     `json:"arch"`
	CPU       int        `json:"cpu"`
	MemoryMiB int64      `json:"memoryMiB"`
	Disks     []DiskSpec `json:"disks"`
	Tags      []string   `json:"tags,omitempty"`
	// IPs are the addresses MAAS currently shows for the machine (assigned
	// from deployment until the release completes).
	IPs []string `json:"ips,omitempty"`
}

// MarshalJSON shows UserData as text.
func (m Machine) MarshalJSON() ([]byte, error) {
	type plain Machine
	return jsonMarshal(struct {
		plain
		UserData string `json:"userData,omitempty"`
	}{plain(m), string(m.UserData)})
}

func (s *Sim) snapshot(m *machine) Machine {
	out := Machine{
		SystemID: m.systemID, Hostname: m.hostname, FQDN: m.hostname + "." + m.domain.name,
		Domain: m.domain.name, Zone: m.zone.name, Pool: m.pool.name,
		Status: m.status, StatusName: m.status.String(), StatusMessage: m.statusMessage,
		PowerState: m.powerState, AgentName: m.agentName,
		OSystem: m.osystem, DistroSeries: m.distroSeries, HWEKernel: m.hweKernel,
		UserData: append([]byte(nil), m.userData...),
		Arch:     m.arch, CPU: m.cpu, MemoryMiB: m.memory, Disks: cloneDisks(m.disks),
		Tags: append([]string(nil), m.tags...),
	}
	if m.owner != nil {
		out.Owner = m.owner.name
	}
	if len(m.annotations) > 0 {
		out.Annotations = maps.Clone(m.annotations)
	}
	if m.ipsClaimed {
		out.IPs = addrStrings(m.assigned)
	}
	return out
}

// decodeUserData decodes deploy's base64 user data; MAAS stores whatever it
// is sent, so undecodable data is kept as sent.
func decodeUserData(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return []byte(s)
}

// --- Go API ---

// Machines returns snapshots of every machine, ordered by system ID.
func (s *Sim) Machines() []Machine {
	s.mu.RLock()
	out := make([]Machine, 0, len(s.machines))
	for _, m := range s.machines {
		out = append(out, s.snapshot(m))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Machine) int { return strings.Compare(a.SystemID, b.SystemID) })
	return out
}

// Machine returns a snapshot of the machine with systemID.
func (s *Sim) Machine(systemID string) (Machine, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.byID[systemID]
	if !ok {
		return Machine{}, false
	}
	return s.snapshot(m), true
}

// DefaultAPIKey returns the API key of the first configured user.
func (s *Sim) DefaultAPIKey() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.users[0].apiKey()
}

// APIKey returns the API key of the named user.
func (s *Sim) APIKey(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.userByName[name]
	if !ok {
		return "", false
	}
	return u.apiKey(), true
}

// AddUser creates a user with a new API key and returns the key; if the
// user exists already, it returns that user's key. An empty name gets a
// generated one.
func (s *Sim) AddUser(name string, admin bool) (apiKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		name = fmt.Sprintf("user%d", len(s.users)+1)
	}
	if u, ok := s.userByName[name]; ok {
		return u.apiKey()
	}
	u, err := s.addUser(User{Name: name, Admin: admin})
	if err != nil {
		// Unreachable: the name is set and unused, and the key is generated.
		panic(fmt.Sprintf("maassim: AddUser: %v", err))
	}
	return u.apiKey()
}

// SetFaults replaces the active faults. Deployments and releases already
// under way keep the fate drawn when they started.
func (s *Sim) SetFaults(f Faults) {
	s.faultMu.Lock()
	s.faults = f.clone()
	s.faultMu.Unlock()
}

// Faults returns the active faults.
func (s *Sim) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults.clone()
}

// Close stops every pending timer and event delivery. Machines stay in the
// state they had; requests still served see that frozen state.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	for _, m := range s.machines {
		if m.timer != nil {
			m.timer.Stop()
			m.timer = nil
		}
	}
	s.mu.Unlock()
	s.subMu.Lock()
	subs := s.subs
	s.subs = map[int]*subscriber{}
	s.subMu.Unlock()
	for _, sub := range subs {
		sub.stop()
	}
}
