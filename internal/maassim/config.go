package maassim

import (
	"time"
)

// DefaultAPIKey is the API key of the admin user DefaultConfig creates. It
// is a fixed, well-known test key (consumer_key:token_key:token_secret with
// MAAS's 18:18:32 lengths), never a credential for a real MAAS.
const DefaultAPIKey = "SimConsumerKey0001:SimTokenKey0000001:SimTokenSecret000000000000000001"

// DefaultMAASVersion is the MAAS version the simulator reports on version/.
const DefaultMAASVersion = "3.5.4"

// User is a MAAS user of the simulator.
type User struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
	Email string `json:"email,omitempty"`
	// APIKey is "consumer_key:token_key:token_secret"; empty means one is
	// generated (read it back with Sim.APIKey).
	APIKey string `json:"apiKey,omitempty"`
}

// BootResource is an OS image the simulated MAAS can deploy.
type BootResource struct {
	// Name is "ubuntu/<series>" for a synced Ubuntu image, or a bare name
	// for an uploaded custom image (deployed as osystem "custom").
	Name string `json:"name"`
	// Architecture is "arch/subarch", e.g. amd64/ga-22.04.
	Architecture string `json:"architecture"`
	Title        string `json:"title,omitempty"`
}

// Timings say how long the simulated machines take. Each deployment lasts
// DeployTime plus a uniform draw in [-DeployJitter, +DeployJitter]; a release
// that has to power a machine off lasts ReleaseTime (plus its jitter); disk
// erasing lasts EraseTime, or QuickEraseTime with quick_erase.
type Timings struct {
	DeployTime     time.Duration
	DeployJitter   time.Duration
	ReleaseTime    time.Duration
	ReleaseJitter  time.Duration
	EraseTime      time.Duration
	QuickEraseTime time.Duration
}

// Config configures a Sim.
type Config struct {
	// Inventory is the machines the simulator starts with (all Ready).
	Inventory []MachineSpec
	// Zones and Pools name zones and resource pools to create besides those
	// the inventory uses ("default" always exists).
	Zones []string
	Pools []string
	// Subnets are the subnets MAAS knows besides those the inventory's
	// addresses imply (a /24 or /64 around each machine's first address).
	// A machine whose first address is in a declared subnet is on it; a
	// machine without addresses is on the first declared subnet, or on a
	// placeholder 10.255.0.0/24.
	Subnets []SubnetSpec
	// Domains names DNS domains to create besides those the inventory uses
	// ("maas" always exists).
	Domains []string
	// Users are the MAAS users; at least one is needed.
	Users []User
	// BootResources are the deployable images; empty means Ubuntu jammy and
	// noble for amd64 and arm64.
	BootResources []BootResource
	// DefaultDistroSeries is deployed when deploy names none (MAAS's
	// default_distro_series); empty means jammy.
	DefaultDistroSeries string
	Timings
	// EraseOnRelease erases disks on every release (MAAS's
	// enable_disk_erasing_on_release setting).
	EraseOnRelease bool
	// Faults are the faults active from the start (see SetFaults).
	Faults Faults
	// Seed drives every random draw (jitter, fault sampling, generated IDs
	// and keys), so runs with the same seed make the same choices.
	Seed int64
	// MAASVersion is reported by version/; empty means DefaultMAASVersion.
	MAASVersion string
}

// DefaultConfig returns the default inventory, one admin user "admin" with
// DefaultAPIKey, and short timings suitable for tests (deployments of about
// 300 ms, releases of 100 ms).
func DefaultConfig() Config {
	return Config{
		Inventory: DefaultInventory(),
		Subnets:   DefaultSubnets(),
		Users:     []User{{Name: "admin", Admin: true, Email: "admin@example.com", APIKey: DefaultAPIKey}},
		Timings: Timings{
			DeployTime:     300 * time.Millisecond,
			DeployJitter:   100 * time.Millisecond,
			ReleaseTime:    100 * time.Millisecond,
			ReleaseJitter:  20 * time.Millisecond,
			EraseTime:      400 * time.Millisecond,
			QuickEraseTime: 100 * time.Millisecond,
		},
		Seed: 1,
	}
}

// DefaultSubnets are the subnets the control-plane VIPs of the test
// worlds (controller suites, demo, kind e2e, samples, chart values) lie in,
// so that the operator can reserve them in MAAS as it does in a real one:
// the gateway's LAN (10.11.12.0/24), the sample gateway's VIP subnet
// (10.20.0.0/24, beside the default inventory's 10.20.1-3.0/24) and the
// tenant VIPs (10.30.0.0/16), each with its loopback counterpart (see
// Loopback) for worlds whose machines run emulated control planes on this
// host. No default machine's address is in any of them.
func DefaultSubnets() []SubnetSpec {
	return []SubnetSpec{
		{CIDR: "10.11.12.0/24", Name: "gateway-lan"},
		{CIDR: "10.20.0.0/24", Name: "gateway-vips"},
		{CIDR: "10.30.0.0/16", Name: "tenant-vips"},
		{CIDR: "127.11.12.0/24", Name: "loopback-gateway-lan"},
		{CIDR: "127.20.0.0/24", Name: "loopback-gateway-vips"},
		{CIDR: "127.30.0.0/16", Name: "loopback-tenant-vips"},
	}
}

func defaultBootResources() []BootResource {
	out := make([]BootResource, 0, 4)
	for _, arch := range []string{"amd64", "arm64"} {
		out = append(out,
			BootResource{Name: "ubuntu/jammy", Architecture: arch + "/ga-22.04", Title: "Ubuntu 22.04 LTS"},
			BootResource{Name: "ubuntu/noble", Architecture: arch + "/ga-24.04", Title: "Ubuntu 24.04 LTS"},
		)
	}
	return out
}

// ubuntuReleases maps Ubuntu series to their version, which MAAS accepts as
// an alias (distro_series=22.04) and uses in kernel names (ga-22.04).
var ubuntuReleases = map[string]string{
	"bionic": "18.04",
	"focal":  "20.04",
	"jammy":  "22.04",
	"noble":  "24.04",
}
