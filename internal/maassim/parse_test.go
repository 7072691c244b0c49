package maassim

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStatusNames(t *testing.T) {
	tests := []struct {
		s           Status
		code        int
		name, label string
		releasable  bool
	}{
		{StatusNew, 0, "New", "new", false},
		{StatusReady, 4, "Ready", "ready", false},
		{StatusDeployed, 6, "Deployed", "deployed", true},
		{StatusDeploying, 9, "Deploying", "deploying", true},
		{StatusAllocated, 10, "Allocated", "allocated", true},
		{StatusFailedDeployment, 11, "Failed deployment", "failed_deployment", true},
		{StatusReleasing, 12, "Releasing", "releasing", false},
		{StatusFailedReleasing, 13, "Releasing failed", "failed_releasing", true},
		{StatusDiskErasing, 14, "Disk erasing", "disk_erasing", false},
		{StatusFailedDiskErasing, 15, "Failed disk erasing", "failed_disk_erasing", true},
		{StatusFailedTesting, 22, "Failed testing", "failed_testing", false},
		{Status(99), 99, "Unknown", "", false},
	}
	for _, tt := range tests {
		if int(tt.s) != tt.code || tt.s.String() != tt.name || tt.s.Label() != tt.label || tt.s.releasable() != tt.releasable {
			t.Errorf("status %d: %q %q %v", tt.s, tt.s.String(), tt.s.Label(), tt.s.releasable())
		}
		if tt.label != "" {
			if got, ok := statusByLabel(tt.label); !ok || got != tt.s {
				t.Errorf("statusByLabel(%q) = %d %v", tt.label, got, ok)
			}
		}
	}
}

func TestPyRepr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "'abc'"},
		{"it's", `"it's"`},
		{`say "hi"`, `'say "hi"'`},
		{`both ' and "`, `'both \' and "'`},
		{"back\\slash", `'back\\slash'`},
		{"tab\tnl\n", `'tab\tnl\n'`},
		{"\x01", `'\x01'`},
		{"é", "'é'"},
		{"\u00a0", `'\xa0'`},
		{"\xff", `'\udcff'`},
	}
	for _, tt := range tests {
		if got := pyRepr(tt.in); got != tt.want {
			t.Errorf("pyRepr(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{4, "4.0"}, {0, "0.0"}, {2.5, "2.5"}, {1e16, "1e+16"}, {123456789012345.0, "123456789012345.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {-3, "-3.0"}, {8192, "8192.0"},
	}
	for _, tt := range tests {
		if got := pyFloat(tt.in); got != tt.want {
			t.Errorf("pyFloat(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	got := pyLists([]keyValues{{"cpu_count", []string{"4"}}, {"tags", []string{"a", "b'c"}}})
	if want := `[('cpu_count', ['4']), ('tags', ['a', "b'c"])]`; got != want {
		t.Errorf("pyLists = %s, want %s", got, want)
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		raw  string
		want params
	}{
		{"", nil},
		{"a=1&b=2&a=3", params{{"a", "1"}, {"b", "2"}, {"a", "3"}}},
		{"blank=&flag&&x=a+b%20c", params{{"blank", ""}, {"flag", ""}, {"x", "a b c"}}},
		{"bad=%zz", params{{"bad", "%zz"}}},
		{"k%3D=v%26", params{{"k=", "v&"}}},
	}
	for _, tt := range tests {
		if got := parseParams(tt.raw); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseParams(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
	p := parseParams("a=1&b=2&a=3")
	if v, _ := p.get("a"); v != "3" || len(p.all("a")) != 2 {
		t.Errorf("get/all: %q %v", v, p.all("a"))
	}
	if l := p.lists(); len(l) != 2 || l[0].key != "a" || len(l[0].values) != 2 {
		t.Errorf("lists: %v", l)
	}
}

func FuzzParseParams(f *testing.F) {
	f.Add("a=1&b=2&a=3")
	f.Add("%zz=&&=x")
	f.Fuzz(func(t *testing.T, raw string) {
		p := parseParams(raw)
		if len(p) > strings.Count(raw, "&")+1 {
			t.Fatalf("%d params from %d separators", len(p), strings.Count(raw, "&"))
		}
		for _, kv := range p.lists() {
			if len(kv.values) == 0 {
				t.Fatal("key without values")
			}
		}
	})
}

func TestParseStorage(t *testing.T) {
	tests := []struct {
		in   string
		want []storageConstraint
		ok   bool
	}{
		{"100", []storageConstraint{{"", 100e9, nil}}, true},
		{"root:50.5", []storageConstraint{{"root", 50.5e9, nil}}, true},
		{"root:100(ssd),data:500(rotary,5400rpm),logs:10", []storageConstraint{
			{"root", 100e9, []string{"ssd"}}, {"data", 500e9, []string{"rotary", "5400rpm"}}, {"logs", 10e9, nil}}, true},
		{"a:1,b:2,c:3(x,y)", []storageConstraint{{"a", 1e9, nil}, {"c", 3e9, []string{"x", "y"}}, {"b", 2e9, nil}}, true},
		{"9227000000", []storageConstraint{{"", math.MaxInt64, nil}}, true},
		{"root:big", nil, false},
		{"root:10 ", nil, false},
		{"root:1..2", nil, false},
		{"", nil, false},
		{"root:10(ssd", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseStorage(tt.in)
		if ok != tt.ok || (tt.ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("parseStorage(%q) = %v, %v; want %v ok=%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseStorage(f *testing.F) {
	f.Add("root:100(ssd),data:500(rotary)")
	f.Add("1.5")
	f.Fuzz(func(t *testing.T, in string) {
		sc, ok := parseStorage(in)
		if !ok {
			return
		}
		if len(sc) == 0 {
			t.Fatal("no constraints and no error")
		}
		for _, c := range sc {
			if c.bytes < 0 {
				t.Fatalf("negative size from %q", in)
			}
		}
	})
}

func TestDefaultInventory(t *testing.T) {
	inv := DefaultInventory()
	if err := validateInventory(inv); err != nil {
		t.Fatal(err)
	}
	zones, pools, cpus := map[string]bool{}, map[string]bool{}, map[int]bool{}
	for _, m := range inv {
		zones[m.Zone], pools[m.Pool], cpus[m.CPU] = true, true, true
		if m.SystemID == "" || len(m.IPs) == 0 {
			t.Fatalf("machine %s lacks a system ID or IP", m.Hostname)
		}
	}
	if len(inv) < 24 || len(zones) < 3 || len(pools) < 2 || len(cpus) < 3 {
		t.Fatalf("%d machines, %d zones, %d pools, %d sizes", len(inv), len(zones), len(pools), len(cpus))
	}
	if !reflect.DeepEqual(inv, DefaultInventory()) {
		t.Fatal("default inventory differs between calls")
	}
}

func TestGenerateInventory(t *testing.T) {
	inv := GenerateInventory(5000, 42)
	if len(inv) != 5000 {
		t.Fatalf("%d machines", len(inv))
	}
	if err := validateInventory(inv); err != nil {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, m := range inv {
		if ips[m.IPs[0]] {
			t.Fatalf("duplicate IP %s", m.IPs[0])
		}
		ips[m.IPs[0]] = true
	}
	if !reflect.DeepEqual(inv[:10], GenerateInventory(10, 42)) || reflect.DeepEqual(inv[:10], GenerateInventory(10, 43)) {
		t.Fatal("generation is not a function of n and seed")
	}
	s, err := New(Config{Inventory: inv, Users: []User{{Name: "admin", Admin: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Machines()) != 5000 {
		t.Fatal("simulator lost machines")
	}
}

func TestParseInventory(t *testing.T) {
	good := `
machines:
- hostname: alpha
  zone: rack1
  pool: gpu
  cpu: 8
  memoryMiB: 16384
  disks:
  - {name: nvme0n1, sizeGB: 960, tags: [ssd, nvme]}
  tags: [gpu]
  ips: [192.168.10.5]
  arch: arm64/generic
- hostname: beta
  systemID: abc123
  cpu: 2
  memoryMiB: 2048
`
	specs, err := ParseInventory([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Disks[0].SizeGB != 960 || specs[0].Arch != "arm64/generic" || specs[1].SystemID != "abc123" {
		t.Fatalf("parsed %+v", specs)
	}
	path := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if loaded, err := LoadInventory(path); err != nil || !reflect.DeepEqual(loaded, specs) {
		t.Fatalf("LoadInventory: %v", err)
	}
	if _, err := LoadInventory(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
	bad := []struct{ name, yaml, want string }{
		{"empty", "machines: []", "no machines"},
		{"unknown key", "machines:\n- {hostname: a, cpu: 1, memoryMiB: 1, colour: red}", "unknown field"},
		{"bad hostname", "machines:\n- {hostname: 'a b', cpu: 1, memoryMiB: 1}", "DNS label"},
		{"duplicate hostname", "machines:\n- {hostname: a, cpu: 1, memoryMiB: 1}\n- {hostname: A, cpu: 1, memoryMiB: 1}", "duplicate hostname"},
		{"no cpu", "machines:\n- {hostname: a, memoryMiB: 1}", "cpu"},
		{"no memory", "machines:\n- {hostname: a, cpu: 1}", "memoryMiB"},
		{"bad disk", "machines:\n- {hostname: a, cpu: 1, memoryMiB: 1, disks: [{sizeGB: 0}]}", "sizeGB"},
		{"bad ip", "machines:\n- {hostname: a, cpu: 1, memoryMiB: 1, ips: [300.1.1.1]}", "invalid IP"},
		{"bad arch", "machines:\n- {hostname: a, cpu: 1, memoryMiB: 1, arch: amd64}", "arch/subarch"},
		{"bad mac", "machines:\n- {hostname: a, cpu: 1, memoryMiB: 1, mac: nope}", "invalid MAC"},
		{"duplicate id", "machines:\n- {hostname: a, systemID: x, cpu: 1, memoryMiB: 1}\n- {hostname: b, systemID: x, cpu: 1, memoryMiB: 1}", "duplicate system ID"},
		{"not yaml", "machines: [", "parsing inventory"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInventory([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzParseInventory(f *testing.F) {
	f.Add([]byte("machines:\n- {hostname: a, cpu: 1, memoryMiB: 1}"))
	f.Add([]byte("machines:\n- {hostname: a, cpu: 1, memoryMiB: 1, disks: [{sizeGB: 1e400}]}"))
	f.Add([]byte("subnets:\n- {cidr: 10.0.0.0/8, gateway: 10.0.0.1, dynamic: [{start: 10.0.0.5, end: 10.0.0.9}]}\nmachines:\n- {hostname: a, cpu: 1, memoryMiB: 1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventoryFile(data)
		if err != nil {
			return
		}
		// Whatever validates must build a simulator.
		s, err := New(Config{Inventory: inv.Machines, Subnets: inv.Subnets, Users: []User{{Name: "admin"}}})
		if err != nil {
			t.Fatalf("valid inventory refused by New: %v", err)
		}
		s.Close()
	})
}

func TestSubscribeCancel(t *testing.T) {
	srv := startSim(t, fastConfig())
	got := make(chan Event, 10)
	cancel := srv.Subscribe(func(e Event) { got <- e })
	c := maasClient(t, srv, srv.DefaultAPIKey())
	if _, err := c.Machines.Allocate(nil); err != nil {
		t.Fatal(err)
	}
	if e := <-got; e.Type != EventAllocated {
		t.Fatalf("event %s", e.Type)
	}
	cancel()
	cancel() // idempotent
	// A second subscriber proves the next change was emitted; the cancelled
	// one must not see it.
	seen := make(chan Event, 10)
	defer srv.Subscribe(func(e Event) { seen <- e })()
	if _, err := c.Machines.Allocate(nil); err != nil {
		t.Fatal(err)
	}
	<-seen
	select {
	case e := <-got:
		t.Fatalf("cancelled subscriber got %s", e.Type)
	default:
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no users", func(c *Config) { c.Users = nil }},
		{"bad key", func(c *Config) { c.Users = []User{{Name: "a", APIKey: "a:b"}} }},
		{"duplicate user", func(c *Config) { c.Users = append(c.Users, c.Users[0]) }},
		{"negative timing", func(c *Config) { c.DeployTime = -1 }},
		{"bad fault rate", func(c *Config) { c.Faults.ErrorRate = 1.5 }},
		{"bad boot resource", func(c *Config) { c.BootResources = []BootResource{{Name: "x", Architecture: "amd64"}} }},
		{"bad inventory", func(c *Config) { c.Inventory = []MachineSpec{{Hostname: "a"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			if s, err := New(cfg); err == nil {
				s.Close()
				t.Fatal("accepted")
			}
		})
	}
}
