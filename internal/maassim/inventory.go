package maassim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// DiskSpec is one physical disk of a simulated machine. The first disk of a
// machine is its boot disk (the one the "storage" constraint's first entry
// is matched against).
type DiskSpec struct {
	Name   string   `json:"name,omitempty"` // default sda, sdb, ...
	SizeGB float64  `json:"sizeGB"`         // decimal gigabytes, as MAAS's storage constraint counts them
	Tags   []string `json:"tags,omitempty"` // e.g. ssd, rotary, nvme
}

// MachineSpec describes one machine of the simulator's inventory. Empty
// optional fields get defaults when the simulator is built: zone and pool
// "default", domain "maas", arch "amd64/generic", power type "ipmi", one
// 500 GB disk, a system ID drawn from the seed.
type MachineSpec struct {
	SystemID    string     `json:"systemID,omitempty"`
	Hostname    string     `json:"hostname"`
	Description string     `json:"description,omitempty"`
	Domain      string     `json:"domain,omitempty"`
	Zone        string     `json:"zone,omitempty"`
	Pool        string     `json:"pool,omitempty"`
	Arch        string     `json:"arch,omitempty"`
	CPU         int        `json:"cpu"`
	CPUSpeedMHz int        `json:"cpuSpeedMHz,omitempty"`
	MemoryMiB   int64      `json:"memoryMiB"`
	Disks       []DiskSpec `json:"disks,omitempty"`
	Tags        []string   `json:"tags,omitempty"`
	// IPs are the addresses MAAS assigns the machine when it deploys (the
	// boot interface's "auto" links); like MAAS, the simulator only shows
	// them from deployment until the release completes.
	IPs       []string `json:"ips,omitempty"`
	MAC       string   `json:"mac,omitempty"`
	PowerType string   `json:"powerType,omitempty"`
}

// Inventory is the YAML layout LoadInventoryFile reads: the machines, and
// optionally the subnets they (and reservations) live on.
type Inventory struct {
	Machines []MachineSpec `json:"machines"`
	Subnets  []SubnetSpec  `json:"subnets,omitempty"`
}

var (
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	nameRE     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,255}$`)
	macRE      = regexp.MustCompile(`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`)
)

// LoadInventory reads a YAML inventory file: a top-level "machines" list of
// MachineSpec (keys as in the JSON tags: hostname, zone, pool, cpu,
// memoryMiB, disks[{name,sizeGB,tags}], tags, ips, arch, ...).
func LoadInventory(path string) ([]MachineSpec, error) {
	inv, err := LoadInventoryFile(path)
	return inv.Machines, err
}

// LoadInventoryFile reads a YAML inventory file with its optional
// top-level "subnets" list (SubnetSpec: cidr, name, gateway, unmanaged,
// dynamic and reserved ranges).
func LoadInventoryFile(path string) (Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Inventory{}, fmt.Errorf("reading inventory: %w", err)
	}
	inv, err := ParseInventoryFile(data)
	if err != nil {
		return Inventory{}, fmt.Errorf("inventory %s: %w", path, err)
	}
	return inv, nil
}

// ParseInventory parses and validates an inventory in LoadInventory's format.
// Unknown keys are errors, so that a misspelt field is not silently dropped.
func ParseInventory(data []byte) ([]MachineSpec, error) {
	inv, err := ParseInventoryFile(data)
	return inv.Machines, err
}

// ParseInventoryFile parses and validates an inventory with its subnets.
func ParseInventoryFile(data []byte) (Inventory, error) {
	var f Inventory
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return Inventory{}, fmt.Errorf("parsing inventory: %w", err)
	}
	if len(f.Machines) == 0 {
		return Inventory{}, errors.New("inventory has no machines")
	}
	if err := validateInventory(f.Machines); err != nil {
		return Inventory{}, err
	}
	if err := validateSubnets(f.Subnets); err != nil {
		return Inventory{}, err
	}
	return f, nil
}

func validateInventory(specs []MachineSpec) error {
	hostnames := map[string]bool{}
	ids := map[string]bool{}
	for i, m := range specs {
		where := fmt.Sprintf("machine %d (%q)", i, m.Hostname)
		if !hostnameRE.MatchString(m.Hostname) {
			return fmt.Errorf("%s: hostname must be a DNS label", where)
		}
		if hostnames[strings.ToLower(m.Hostname)] {
			return fmt.Errorf("%s: duplicate hostname", where)
		}
		hostnames[strings.ToLower(m.Hostname)] = true
		if m.SystemID != "" {
			if !nameRE.MatchString(m.SystemID) || strings.Contains(m.SystemID, "/") {
				return fmt.Errorf("%s: invalid system ID %q", where, m.SystemID)
			}
			if ids[m.SystemID] {
				return fmt.Errorf("%s: duplicate system ID %q", where, m.SystemID)
			}
			ids[m.SystemID] = true
		}
		if m.CPU < 1 {
			return fmt.Errorf("%s: cpu must be at least 1", where)
		}
		if m.MemoryMiB < 1 {
			return fmt.Errorf("%s: memoryMiB must be at least 1", where)
		}
		for _, n := range []struct{ what, v string }{{fieldZone, m.Zone}, {fieldPool, m.Pool}, {fieldDomain, m.Domain}} {
			if n.v != "" && !nameRE.MatchString(n.v) {
				return fmt.Errorf("%s: invalid %s %q", where, n.what, n.v)
			}
		}
		if m.Arch != "" && !strings.Contains(m.Arch, "/") {
			return fmt.Errorf("%s: arch %q must be arch/subarch, e.g. amd64/generic", where, m.Arch)
		}
		for _, d := range m.Disks {
			if !(d.SizeGB > 0) {
				return fmt.Errorf("%s: disk %q needs a positive sizeGB", where, d.Name)
			}
			if err := validateTags(d.Tags); err != nil {
				return fmt.Errorf("%s: disk %q: %w", where, d.Name, err)
			}
		}
		if err := validateTags(m.Tags); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, ip := range m.IPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				return fmt.Errorf("%s: invalid IP %q", where, ip)
			}
		}
		if m.MAC != "" && !macRE.MatchString(strings.ToLower(m.MAC)) {
			return fmt.Errorf("%s: invalid MAC %q", where, m.MAC)
		}
	}
	return nil
}

func validateTags(tags []string) error {
	for _, t := range tags {
		if !nameRE.MatchString(t) {
			return fmt.Errorf("invalid tag %q", t)
		}
	}
	return nil
}

// DefaultInventory returns the built-in inventory: 24 machines of mixed sizes
// in three zones (zone-a, zone-b, zone-c) and two resource pools (gateway,
// tenants), with fixed system IDs so that runs are repeatable.
func DefaultInventory() []MachineSpec {
	type size struct {
		cpu   int
		mem   int64
		disks []DiskSpec
		tags  []string
	}
	ssd, rotary, nvme := []string{tagSSD}, []string{tagRotary}, []string{tagSSD, "nvme"}
	small := size{4, 8192, []DiskSpec{{SizeGB: 120, Tags: ssd}}, []string{"virtual"}}
	medium := size{8, 32768, []DiskSpec{{SizeGB: 480, Tags: ssd}, {SizeGB: 2000, Tags: rotary}}, nil}
	large := size{16, 65536, []DiskSpec{{SizeGB: 960, Tags: nvme}, {SizeGB: 4000, Tags: rotary}}, []string{tagHighmem}}
	gpu := size{32, 131072, []DiskSpec{{SizeGB: 1920, Tags: nvme}}, []string{"gpu", tagHighmem}}
	// Per zone: two gateway-pool machines, six tenant machines.
	layout := []size{medium, medium, small, small, medium, medium, large, gpu}
	rng := rand.New(rand.NewPCG(1, 24))
	used := map[string]bool{}
	specs := make([]MachineSpec, 0, 3*len(layout))
	for z, zone := range []string{"zone-a", "zone-b", "zone-c"} {
		for i, sz := range layout {
			n := z*len(layout) + i + 1
			pool := "tenants"
			tags := append([]string(nil), sz.tags...)
			if i < 2 {
				pool = "gateway"
				tags = append(tags, "gateway")
			}
			specs = append(specs, MachineSpec{
				SystemID:    newSystemID(rng, used),
				Hostname:    fmt.Sprintf("node-%02d", n),
				Zone:        zone,
				Pool:        pool,
				Arch:        "amd64/generic",
				CPU:         sz.cpu,
				CPUSpeedMHz: 2400,
				MemoryMiB:   sz.mem,
				Disks:       cloneDisks(sz.disks),
				Tags:        tags,
				IPs:         []string{fmt.Sprintf("10.20.%d.%d", z+1, 10+i)},
			})
		}
	}
	return specs
}

// GenerateInventory returns n machines drawn from seed: hostnames m-00001...,
// three zones, two pools (default and tenants), a handful of sizes and tags,
// and unique IPs. The same n and seed always give the same inventory.
func GenerateInventory(n int, seed int64) []MachineSpec {
	rng := rand.New(rand.NewPCG(uint64(seed), 5240))
	sizes := []struct {
		cpu  int
		mem  int64
		disk float64
	}{{2, 4096, 60}, {4, 8192, 120}, {8, 16384, 240}, {8, 32768, 480}, {16, 65536, 960}, {32, 131072, 1920}}
	zones := []string{"zone-a", "zone-b", "zone-c"}
	pools := []string{"default", "tenants"}
	tagChoices := []string{tagSSD, "gpu", tagHighmem, "virtual"}
	used := map[string]bool{}
	specs := make([]MachineSpec, 0, n)
	for i := range n {
		sz := sizes[rng.IntN(len(sizes))]
		var tags []string
		for _, t := range tagChoices {
			if rng.IntN(4) == 0 {
				tags = append(tags, t)
			}
		}
		diskTags := []string{tagRotary}
		if rng.IntN(2) == 0 {
			diskTags = []string{tagSSD}
		}
		specs = append(specs, MachineSpec{
			SystemID:    newSystemID(rng, used),
			Hostname:    fmt.Sprintf("m-%05d", i+1),
			Zone:        zones[i%len(zones)],
			Pool:        pools[(i/len(zones))%len(pools)],
			Arch:        "amd64/generic",
			CPU:         sz.cpu,
			CPUSpeedMHz: 2000 + 100*rng.IntN(16),
			MemoryMiB:   sz.mem,
			Disks:       []DiskSpec{{SizeGB: sz.disk, Tags: diskTags}},
			Tags:        tags,
			IPs:         []string{fmt.Sprintf("10.%d.%d.%d", 64+i/(250*250), (i/250)%250, i%250+2)},
		})
	}
	return specs
}

// Tags of the built-in and generated inventories.
const (
	tagSSD     = "ssd"
	tagRotary  = "rotary"
	tagHighmem = "highmem"
)

// systemIDAlphabet is the character set MAAS draws system IDs from (no
// look-alike letters).
const systemIDAlphabet = "0123456789abcdefghjkmnpqrstvwxy"

// newSystemID draws a MAAS-style six-character system ID not yet in used and
// records it there.
func newSystemID(rng *rand.Rand, used map[string]bool) string {
	for {
		var b [6]byte
		for i := range b {
			b[i] = systemIDAlphabet[rng.IntN(len(systemIDAlphabet))]
		}
		id := string(b[:])
		if !used[id] {
			used[id] = true
			return id
		}
	}
}

func cloneDisks(d []DiskSpec) []DiskSpec {
	out := make([]DiskSpec, len(d))
	for i, x := range d {
		out[i] = DiskSpec{Name: x.Name, SizeGB: x.SizeGB, Tags: append([]string(nil), x.Tags...)}
	}
	return out
}
