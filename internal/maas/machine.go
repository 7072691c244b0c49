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
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"unique"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
)

// Status is a MAAS machine status, with MAAS's own numeric codes.
type Status int

// The MAAS machine statuses (src/maasserver/enum.py, NODE_STATUS).
const (
	StatusNew                     Status = 0
	StatusCommissioning           Status = 1
	StatusFailedCommissioning     Status = 2
	StatusMissing                 Status = 3
	StatusReady                   Status = 4
	StatusReserved                Status = 5
	StatusDeployed                Status = 6
	StatusRetired                 Status = 7
	StatusBroken                  Status = 8
	StatusDeploying               Status = 9
	StatusAllocated               Status = 10
	StatusFailedDeployment        Status = 11
	StatusReleasing               Status = 12
	StatusFailedReleasing         Status = 13
	StatusDiskErasing             Status = 14
	StatusFailedDiskErasing       Status = 15
	StatusRescueMode              Status = 16
	StatusEnteringRescueMode      Status = 17
	StatusFailedEnteringRescue    Status = 18
	StatusExitingRescueMode       Status = 19
	StatusFailedExitingRescueMode Status = 20
	StatusTesting                 Status = 21
	StatusFailedTesting           Status = 22
)

var statusNames = [...]string{
	"New", "Commissioning", "Failed commissioning", "Missing", "Ready", "Reserved",
	"Deployed", "Retired", "Broken", "Deploying", "Allocated", "Failed deployment",
	"Releasing", "Releasing failed", "Disk erasing", "Failed disk erasing", "Rescue mode",
	"Entering rescue mode", "Failed to enter rescue mode", "Exiting rescue mode",
	"Failed to exit rescue mode", "Testing", "Failed testing",
}

// String is MAAS's status_name for s.
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "Status(" + strconv.Itoa(int(s)) + ")"
	}
	return statusNames[s]
}

// Transitional reports whether MAAS is working on the machine: the status
// will change without anyone asking.
func (s Status) Transitional() bool {
	switch s {
	case StatusCommissioning, StatusDeploying, StatusReleasing, StatusDiskErasing,
		StatusEnteringRescueMode, StatusExitingRescueMode, StatusTesting:
		return true
	}
	return false
}

// Failed reports whether the status is one of MAAS's failure states.
func (s Status) Failed() bool {
	switch s {
	case StatusFailedCommissioning, StatusFailedDeployment, StatusFailedReleasing,
		StatusFailedDiskErasing, StatusFailedEnteringRescue, StatusFailedExitingRescueMode,
		StatusFailedTesting, StatusBroken:
		return true
	}
	return false
}

// Machine is what controllers need to know about a MAAS machine. Values
// handed out by the inventory are shared between readers: do not modify
// their slices or Owner.
type Machine struct {
	SystemID string
	Hostname string
	FQDN     string
	// Domain is the DNS domain the machine's hostname is registered in.
	Domain        string
	Zone          string
	Pool          string
	Status        Status
	StatusName    string
	StatusMessage string
	// Addresses are the machine's IP addresses as MAAS lists them.
	Addresses    []string
	OSystem      string
	DistroSeries string
	// PowerState is on, off, unknown or error.
	PowerState string
	CPUCount   int
	MemoryMiB  int64
	// StorageMB is the total disk size MAAS reports, in (decimal) megabytes.
	StorageMB int64
	Tags      []string
	// Owner is the Kubernetes object the machine was allocated for, read
	// from its workload annotations; nil when it carries none (unclaimed,
	// or not ours at all).
	Owner *Owner
}

// Image is the machine's OS image as "osystem/distro_series", or "" if none.
func (m Machine) Image() string {
	if m.DistroSeries == "" {
		return ""
	}
	if m.OSystem == "" {
		return m.DistroSeries
	}
	return m.OSystem + "/" + m.DistroSeries
}

// Satisfies reports whether the machine meets the constraints, as MAAS
// would judge them on allocate, except that MinDiskGiB is compared with the
// machine's total storage (the listing has no per-disk sizes). It lets a
// caller choose an unclaimed machine to adopt instead of allocating another.
func (m Machine) Satisfies(c Constraints) bool {
	switch {
	case c.Zone != "" && m.Zone != c.Zone,
		slices.Contains(c.NotInZones, m.Zone),
		c.Pool != "" && m.Pool != c.Pool,
		c.MinCPU > 0 && m.CPUCount < c.MinCPU,
		c.MinMemoryMiB > 0 && m.MemoryMiB < c.MinMemoryMiB,
		c.MinDiskGiB > 0 && m.StorageMB*1e6 < c.MinDiskGiB<<30:
		return false
	}
	for _, t := range c.Tags {
		if !slices.Contains(m.Tags, t) {
			return false
		}
	}
	return true
}

func machineFromEntity(e *entity.Machine) Machine {
	m := Machine{
		SystemID:      e.SystemID,
		Hostname:      e.Hostname,
		FQDN:          e.FQDN,
		Domain:        e.Domain.Name,
		Zone:          e.Zone.Name,
		Pool:          e.Pool.Name,
		Status:        Status(e.Status),
		StatusName:    e.StatusName,
		StatusMessage: e.StatusMessage,
		OSystem:       e.OSystem,
		DistroSeries:  e.DistroSeries,
		PowerState:    e.PowerState,
		CPUCount:      e.CPUCount,
		MemoryMiB:     e.Memory,
		StorageMB:     int64(math.Round(e.Storage)),
		Tags:          e.TagNames,
		Owner:         ownerFromAnnotations(e.WorkloadAnnotations),
	}
	if len(e.IPAddresses) > 0 {
		m.Addresses = make([]string, 0, len(e.IPAddresses))
		for _, ip := range e.IPAddresses {
			m.Addresses = append(m.Addresses, ip.String())
		}
	}
	if m.StatusName == "" {
		m.StatusName = m.Status.String()
	}
	return m
}

// machineJSON is the part of MAAS's machine JSON this package reads.
// Lists decode into it rather than into gomaasclient's entity.Machine,
// which, after gomaasapi has already parsed the whole body into a generic
// tree, decodes every interface, block device and NUMA node again: for 200
// machines that is 30 MB and 150 ms of CPU per list, where this is a tenth.
type machineJSON struct {
	SystemID      string `json:"system_id"`
	Hostname      string `json:"hostname"`
	FQDN          string `json:"fqdn"`
	Status        int    `json:"status"`
	StatusName    string `json:"status_name"`
	StatusMessage string `json:"status_message"`
	OSystem       string `json:"osystem"`
	DistroSeries  string `json:"distro_series"`
	PowerState    string `json:"power_state"`
	Zone          struct {
		Name string `json:"name"`
	} `json:"zone"`
	Domain struct {
		Name string `json:"name"`
	} `json:"domain"`
	Pool struct {
		Name string `json:"name"`
	} `json:"pool"`
	IPAddresses []string `json:"ip_addresses"`
	CPUCount    int      `json:"cpu_count"`
	Memory      int64    `json:"memory"`
	Storage     float64  `json:"storage"`
	TagNames    []string `json:"tag_names"`
	// Workload annotations decode into the keys this package reads rather
	// than into a map, which would cost a map per machine to throw away.
	WorkloadAnnotations ownerAnnotations `json:"workload_annotations"`
}

// ownerAnnotations are the workload annotations that record an owner.
type ownerAnnotations struct {
	Kind      string `json:"maas-gateway.owner-kind"`
	Namespace string `json:"maas-gateway.owner-namespace"`
	Name      string `json:"maas-gateway.owner-name"`
	UID       string `json:"maas-gateway.owner-uid"`
	Pool      string `json:"maas-gateway.pool"`
	Slot      string `json:"maas-gateway.slot"`
	Template  string `json:"maas-gateway.template"`
	Init      string `json:"maas-gateway.init"`
}

// owner is the owner the annotations record, nil without kind, name and UID.
func (a *ownerAnnotations) owner() *Owner {
	o := Owner{
		Kind: a.Kind, Namespace: a.Namespace, Name: a.Name, UID: a.UID,
		Pool: a.Pool, Slot: a.Slot, Template: a.Template, Init: a.Init == "true",
	}
	if o.validate() != nil {
		return nil
	}
	return &o
}

func (j *machineJSON) machine() Machine {
	m := Machine{
		SystemID:      j.SystemID,
		Hostname:      j.Hostname,
		FQDN:          j.FQDN,
		Domain:        intern(j.Domain.Name),
		Zone:          intern(j.Zone.Name),
		Pool:          intern(j.Pool.Name),
		Status:        Status(j.Status),
		StatusName:    intern(j.StatusName),
		StatusMessage: intern(j.StatusMessage),
		Addresses:     j.IPAddresses,
		OSystem:       intern(j.OSystem),
		DistroSeries:  intern(j.DistroSeries),
		PowerState:    intern(j.PowerState),
		CPUCount:      j.CPUCount,
		MemoryMiB:     j.Memory,
		StorageMB:     int64(math.Round(j.Storage)),
		Tags:          j.TagNames,
		Owner:         j.WorkloadAnnotations.owner(),
	}
	for i, t := range m.Tags {
		m.Tags[i] = intern(t)
	}
	if o := m.Owner; o != nil {
		o.Kind, o.Namespace, o.Name, o.UID = intern(o.Kind), intern(o.Namespace), intern(o.Name), intern(o.UID)
		o.Pool, o.Slot, o.Template = intern(o.Pool), intern(o.Slot), intern(o.Template)
	}
	if m.StatusName == "" {
		m.StatusName = m.Status.String()
	}
	return m
}

// intern returns the one copy of s the process keeps: zone, pool, status
// and owner names repeat across thousands of machines, and a snapshot
// holds each once instead of once per machine.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// listCache remembers the machines of an account's previous list by the
// hash of each machine's JSON, so that a poll decodes only the machines
// whose JSON changed and hands out the previous Machine values (strings,
// slices, owner) for the others. Most polls change nothing, or little.
// One cache serves one sequence of lists (one account's owned machines, or
// its followed ones) from one goroutine.
type listCache struct {
	seed1, seed2 maphash.Seed
	known, next  map[jsonKey]*Machine // pointers: larger map values are boxed per insertion
	order, prev  []jsonKey            // the hashes of this list and the last, in list order
	gen          uint64               // lists committed so far
	buf, raw     []byte               // objectArray's buffers, kept from list to list
}

// jsonKey is a 128-bit hash of one machine's JSON: at 64 bits, two states
// of a fleet polled every second for years could plausibly collide, and a
// collision would show one machine's state as another's.
type jsonKey struct{ a, b uint64 }

func newListCache() *listCache {
	return &listCache{
		seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(),
		known: map[jsonKey]*Machine{}, next: map[jsonKey]*Machine{},
	}
}

// begin starts a list (again, after a failed attempt). A nil cache
// caches nothing: one-off lists decode every machine.
func (c *listCache) begin() {
	if c == nil {
		return
	}
	clear(c.next)
	c.order = c.order[:0]
}

// add decodes one machine's JSON, unless the previous list had it.
func (c *listCache) add(raw []byte) error {
	k := jsonKey{maphash.Bytes(c.seed1, raw), maphash.Bytes(c.seed2, raw)}
	m, ok := c.known[k]
	if !ok {
		var j machineJSON
		if err := json.Unmarshal(raw, &j); err != nil {
			return fmt.Errorf("decoding a machine: %w", err)
		}
		decoded := j.machine()
		m = &decoded
	}
	c.order = append(c.order, k)
	c.next[k] = m
	return nil
}

// reading is the machines of the list being read, in list order.
func (c *listCache) reading() []Machine {
	return machinesOf(c.order, c.next)
}

// list is the machines of the last committed list, in list order.
func (c *listCache) list() []Machine {
	return machinesOf(c.prev, c.known)
}

func machinesOf(order []jsonKey, byKey map[jsonKey]*Machine) []Machine {
	out := make([]Machine, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	return out
}

// commit makes the list just read the one the next is compared with. gen
// numbers it (from 1; 0 for a nil cache), and unchanged says whether it is
// the same as list gen-1.
func (c *listCache) commit() (gen uint64, unchanged bool) {
	if c == nil {
		return 0, false
	}
	unchanged = c.gen > 0 && slices.Equal(c.order, c.prev)
	old := c.known
	shrank := len(c.next) < len(old)/4
	c.known, c.next = c.next, old
	clear(c.next)
	if shrank { // let go of buckets sized for a fleet that is gone
		c.next = map[jsonKey]*Machine{}
	}
	c.prev, c.order = c.order, c.prev[:0]
	c.gen++
	return c.gen, unchanged
}

// statusError is a MAAS answer other than 2xx to a request this package
// sent itself (the machine lists); errors.go reads it as it reads
// gomaasapi's ServerError.
type statusError struct {
	StatusCode int
	Body       string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("ServerError: %d %s (%s)", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// maxErrorBody bounds how much of an error answer is read: MAAS's messages
// are short, a proxy's HTML page need not be read whole.
const maxErrorBody = 64 << 10

// listMachines is GET machines/ with filters (see decodeMachines for where
// the machines go). It signs the request with gomaasclient's OAuth signer and sends it through the
// attempt's HTTP client, but reads the answer as a stream, one machine at a
// time: a list of 3000 machines is 25 MB of JSON, which gomaasapi would
// read whole (io.ReadAll, doubling as it grows) before decoding it. The
// connection is kept for the next request, which gomaasapi never does.
func listMachines(gc *client.Client, filters url.Values, cache *listCache) ([]Machine, error) {
	mc, ok := gc.Machines.(*client.Machines)
	if !ok {
		return nil, fmt.Errorf("gomaasclient's Machines is a %T", gc.Machines)
	}
	api := mc.APIClient.GetSubObject("machines")
	u := api.AuthClient.GetURL(api.URI())
	u.RawQuery = filters.Encode()
	// The context comes from boundTransport, which gives each request the attempt's.
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := api.AuthClient.Signer.OAuthSign(req); err != nil {
		return nil, err
	}
	hc := api.AuthClient.HTTPClient
	if hc == nil {
		return nil, errors.New("gomaasclient has no HTTP client")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Drain what is left (a trailing newline) so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &statusError{StatusCode: resp.StatusCode, Body: string(body)}
	}
	return decodeMachines(resp.Body, cache)
}

// decodeMachines reads a JSON array of machines one at a time, holding one
// machine's JSON, never the whole array. Without a cache it returns the
// machines; with one, it leaves them in the cache (see listCache.list) and
// returns nil.
func decodeMachines(r io.Reader, cache *listCache) ([]Machine, error) {
	var arr *objectArray
	if cache == nil {
		arr = newObjectArray(r, make([]byte, 4<<10), nil)
	} else {
		arr = newObjectArray(r, cache.buf, cache.raw)
		defer func() { cache.buf, cache.raw = arr.buf, arr.elem }()
	}
	var out []Machine
	for {
		raw, err := arr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding the machine list: %w", err)
		}
		if cache != nil {
			if err := cache.add(raw); err != nil {
				return nil, err
			}
			continue
		}
		var j machineJSON
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("decoding the machine list: %w", err)
		}
		out = append(out, j.machine())
	}
}
