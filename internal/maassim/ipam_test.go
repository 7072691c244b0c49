package maassim

import (
	"encoding/json"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/canonical/gomaasclient/entity"
)

// ipamConfig is fastConfig with a declared subnet holding one machine
// without inventory addresses (so it gets an auto-assigned one), a dynamic
// range and a non-admin user.
func ipamConfig() Config {
	cfg := fastConfig()
	cfg.Subnets = []SubnetSpec{{
		CIDR: "10.50.0.0/24", Name: "lab",
		Dynamic: []RangeSpec{{Start: "10.50.0.200", End: "10.50.0.250", Comment: "dhcp"}},
	}}
	cfg.Inventory = append(cfg.Inventory, MachineSpec{Hostname: "bare-1", CPU: 2, MemoryMiB: 4096, Zone: "zone-a"})
	cfg.Users = append(cfg.Users, User{Name: "alice", APIKey: "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001"})
	return cfg
}

type answer struct {
	status int
	body   string // exact when not prefixed with "~", else a substring
}

func checkAnswer(t *testing.T, what string, r rawResponse, want answer) {
	t.Helper()
	ok := r.status == want.status
	if sub, fuzzy := strings.CutPrefix(want.body, "~"); fuzzy {
		ok = ok && strings.Contains(r.body, sub)
	} else {
		ok = ok && r.body == want.body
	}
	if !ok {
		t.Fatalf("%s: got %d %q, want %d %q", what, r.status, r.body, want.status, want.body)
	}
}

func values(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestReserveIP(t *testing.T) {
	srv := startSim(t, ipamConfig())
	admin := newRaw(t, srv, srv.DefaultAPIKey())
	alice := newRaw(t, srv, "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001")
	// Deploy node-01 (10.20.1.10) so that its address is in use.
	c := maasClient(t, srv, srv.DefaultAPIKey())
	node := machineByHost(t, srv.Sim, "node-01")
	if _, err := c.Machine.Deploy(node, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	if r := admin.do("POST", "ipranges/", nil, values("type", "reserved", "start_ip", "10.50.0.20", "end_ip", "10.50.0.29", "subnet", "lab")); r.status != 200 {
		t.Fatalf("create range: %d %s", r.status, r.body)
	}

	for _, tt := range []struct {
		name string
		who  *rawClient
		form url.Values
		want answer
	}{
		{"free address", alice, values("op", "reserve", "ip", "10.20.1.100"), answer{200, `~"alloc_type":4,"alloc_type_name":"User reserved"`}},
		{"same address again", admin, values("op", "reserve", "ip", "10.20.1.100"), answer{404, "The IP address 10.20.1.100 is already in use."}},
		{"a deployed machine's", alice, values("op", "reserve", "ip", "10.20.1.10"), answer{404, "The IP address 10.20.1.10 is already in use."}},
		{"the gateway", alice, values("op", "reserve", "ip", "10.50.0.1"), answer{404, "The IP address 10.50.0.1 is already in use."}},
		{"outside every subnet", alice, values("op", "reserve", "ip", "192.168.9.9"), answer{400, "No known subnet for IP address: 192.168.9.9."}},
		{"neither", alice, values("op", "reserve"), answer{400, "Must supply either the 'subnet' or the 'ip' parameter."}},
		{"unknown subnet", alice, values("op", "reserve", "subnet", "10.99.0.0/24"), answer{400, "Unable to identify subnet: 10.99.0.0/24."}},
		{"bad address", alice, values("op", "reserve", "ip", "10.1"), answer{400, `{"ip_address":["Enter a valid IPv4 or IPv6 address."]}`}},
		{"in a reserved range", alice, values("op", "reserve", "ip", "10.50.0.25"), answer{404, "10.50.0.25 is within the reserved range from 10.50.0.20 to 10.50.0.29"}},
		{"in a dynamic range", alice, values("op", "reserve", "ip", "10.50.0.210"), answer{403,
			"IP address 10.50.0.210 belongs to an existing dynamic range. To reserve this IP address, a MAC address is required. (Create a device instead.)"}},
		{"a machine's MAC", alice, values("op", "reserve", "ip", "10.50.0.40", "mac", "52:54:00:00:00:18"), answer{400,
			"MAC address 52:54:00:00:00:18 already belongs to bare-1. Use of the interface API is required, for an interface that belongs to a node."}},
		{"unknown domain", alice, values("op", "reserve", "ip", "10.50.0.41", "hostname", "vip.nowhere"), answer{404, "No Domain matches the given query."}},
		{"any address of a subnet", alice, values("op", "reserve", "subnet", "10.50.0.0/24"), answer{200, `~"ip":"10.50.0.2"`}},
		{"with a DNS name", alice, values("op", "reserve", "ip", "10.50.0.42", "hostname", "cp-api.maas"), answer{200, `~"ip":"10.50.0.42"`}},
	} {
		checkAnswer(t, tt.name, tt.who.do("POST", "ipaddresses/", nil, tt.form), tt.want)
	}

	// The op may come from the query or an /op- suffix too.
	checkAnswer(t, "query op", alice.do("POST", "ipaddresses/", values("op", "reserve"), values("ip", "10.50.0.43")), answer{200, `~"ip":"10.50.0.43"`})
	checkAnswer(t, "path op", alice.do("POST", "ipaddresses/op-reserve", nil, values("ip", "10.50.0.44")), answer{200, `~"ip":"10.50.0.44"`})

	// Lists: a user sees their own reservations; all and owner are for admins.
	var mine []map[string]any
	r := alice.do("GET", "ipaddresses/", nil, nil)
	if err := json.Unmarshal([]byte(r.body), &mine); err != nil || len(mine) != 5 {
		t.Fatalf("alice's list: %d %s", len(mine), r.body)
	}
	checkAnswer(t, "all, non-admin", alice.do("GET", "ipaddresses/", values("all", "true"), nil), answer{403, "Listing all IP addresses requires admin privileges."})
	checkAnswer(t, "owner, non-admin", alice.do("GET", "ipaddresses/", values("owner", "admin"), nil), answer{403, "Listing another user's IP addresses requires admin privileges."})
	checkAnswer(t, "bad ip filter", alice.do("GET", "ipaddresses/", values("ip", "x"), nil), answer{400, "Parameter 'ip' must contain an IP address."})
	checkAnswer(t, "admin's own", admin.do("GET", "ipaddresses/", nil, nil), answer{200, "[]"})
	checkAnswer(t, "admin, owner", admin.do("GET", "ipaddresses/", values("owner", "alice", "ip", "10.20.1.100"), nil), answer{200, `~"username":"alice"`})
	checkAnswer(t, "admin, all", admin.do("GET", "ipaddresses/", values("all", "1", "ip", "10.20.1.10"), nil), answer{200, `~"alloc_type_name":"Automatic"`})

	// The DNS name was created with the reservation.
	checkAnswer(t, "dns by fqdn", alice.do("GET", "dnsresources/", values("fqdn", "cp-api.maas"), nil), answer{200, `~"ip":"10.50.0.42"`})

	// Release: only the owner without force; force is for admins.
	checkAnswer(t, "release, not the owner", admin.do("POST", "ipaddresses/", nil, values("op", "release", "ip", "10.50.0.42")), answer{400,
		"IP address 10.50.0.42 does not exist, is not the correct type of address, or does not belong to the requesting user.\n" +
			"If you are sure you want to release this address, use force=true as a MAAS administrator."})
	checkAnswer(t, "force, non-admin", alice.do("POST", "ipaddresses/", nil, values("op", "release", "ip", "10.50.0.42", "force", "true")), answer{403,
		"Force-releasing an IP address requires admin privileges."})
	checkAnswer(t, "release", alice.do("POST", "ipaddresses/", nil, values("op", "release", "ip", "10.50.0.42")), answer{204, ""})
	checkAnswer(t, "release again", alice.do("POST", "ipaddresses/", nil, values("op", "release", "ip", "10.50.0.42")), answer{400, "~does not exist"})
	checkAnswer(t, "force, unknown", admin.do("POST", "ipaddresses/", nil, values("op", "release", "ip", "10.50.0.42", "force", "true")), answer{400, "IP address 10.50.0.42 does not exist."})
	checkAnswer(t, "force, another's", admin.do("POST", "ipaddresses/", nil, values("op", "release", "ip", "10.50.0.43", "force", "true")), answer{204, ""})
	// The DNS record lost its only address, so it is gone.
	checkAnswer(t, "dns after release", alice.do("GET", "dnsresources/", values("fqdn", "cp-api.maas"), nil), answer{200, "[]"})

	snap := srv.IPAM()
	if len(snap.Reservations) != 3 || snap.Reservations[0].IP != "10.20.1.100" || snap.Reservations[0].Owner != "alice" {
		t.Fatalf("IPAM snapshot: %+v", snap.Reservations)
	}
}

// TestReserveIPRace: many users reserving one address at once; MAAS's
// transaction (the simulator's lock) lets exactly one win.
func TestReserveIPRace(t *testing.T) {
	srv := startSim(t, ipamConfig())
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := range 8 {
		key := srv.AddUser("racer"+string(rune('a'+i)), false)
		wg.Go(func() {
			codes <- newRaw(t, srv, key).do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.50.0.77")).status
		})
	}
	wg.Wait()
	close(codes)
	won := 0
	for c := range codes {
		switch c {
		case 200:
			won++
		case 404:
		default:
			t.Fatalf("unexpected status %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d reservations won, want 1", won)
	}
}

func TestDeployAvoidsReservations(t *testing.T) {
	cfg := ipamConfig()
	cfg.Subnets[0].Reserved = []RangeSpec{{Start: "10.50.0.4", End: "10.50.0.6"}}
	cfg.Inventory = append(cfg.Inventory, MachineSpec{Hostname: "gw-on-1", CPU: 2, MemoryMiB: 4096, IPs: []string{"127.0.9.1"}})
	srv := startSim(t, cfg)
	c := maasClient(t, srv, srv.DefaultAPIKey())
	admin := newRaw(t, srv, srv.DefaultAPIKey())
	// .1 is the gateway, .2 reserved by a user, .3 by a DNS record, .4-.6 a reserved range.
	checkAnswer(t, "reserve .2", admin.do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.50.0.2")), answer{200, "~10.50.0.2"})
	checkAnswer(t, "record .3", admin.do("POST", "dnsresources/", nil, values("fqdn", "ext.maas", "ip_addresses", "10.50.0.3")), answer{200, "~10.50.0.3"})
	bare := machineByHost(t, srv.Sim, "bare-1")
	if _, err := c.Machine.Deploy(bare, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, srv.Sim, bare, StatusDeployed)
	if len(m.IPs) != 1 || m.IPs[0] != "10.50.0.7" {
		t.Fatalf("bare-1 got %v, want [10.50.0.7]", m.IPs)
	}
	// An inventory address reserved meanwhile is not handed out either.
	checkAnswer(t, "reserve node-02's", admin.do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.20.1.11")), answer{200, "~10.20.1.11"})
	node := machineByHost(t, srv.Sim, "node-02")
	if _, err := c.Machine.Deploy(node, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	if m := waitStatus(t, srv.Sim, node, StatusDeployed); len(m.IPs) != 1 || m.IPs[0] != "10.20.1.2" {
		t.Fatalf("node-02 got %v, want [10.20.1.2] (.1 is the gateway, .11 reserved)", m.IPs)
	}
	// An inventory address on the gateway of its implied subnet stands.
	on1 := machineByHost(t, srv.Sim, "gw-on-1")
	if _, err := c.Machine.Deploy(on1, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	if m := waitStatus(t, srv.Sim, on1, StatusDeployed); len(m.IPs) != 1 || m.IPs[0] != "127.0.9.1" {
		t.Fatalf("gw-on-1 got %v, want its inventory's [127.0.9.1]", m.IPs)
	}
	// Released, the address is free again.
	if _, err := c.Machine.Release(bare, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, bare, StatusReady)
	checkAnswer(t, "reserve bare-1's old address", admin.do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.50.0.7")), answer{200, "~10.50.0.7"})
}

func TestIPRanges(t *testing.T) {
	srv := startSim(t, ipamConfig())
	admin := newRaw(t, srv, srv.DefaultAPIKey())
	alice := newRaw(t, srv, "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001")
	bob := newRaw(t, srv, srv.AddUser("bob", false))

	// Non-admins may create reserved ranges, which they then own.
	r := alice.do("POST", "ipranges/", nil, values("type", "reserved", "start_ip", "10.50.0.100", "end_ip", "10.50.0.109", "comment", "lb pool"))
	checkAnswer(t, "create", r, answer{200, `~"comment":"lb pool","user":{`})
	var created struct {
		ID   int `json:"id"`
		User struct {
			UserName string `json:"username"`
		} `json:"user"`
		Subnet struct {
			CIDR string `json:"cidr"`
		} `json:"subnet"`
	}
	if err := json.Unmarshal([]byte(r.body), &created); err != nil || created.User.UserName != "alice" || created.Subnet.CIDR != "10.50.0.0/24" {
		t.Fatalf("created range: %s", r.body)
	}
	id := strconv.Itoa(created.ID)
	conflict := `{"end_ip":["Requested reserved range conflicts with an existing range."],"start_ip":["Requested reserved range conflicts with an existing range."]}`
	for _, tt := range []struct {
		name string
		who  *rawClient
		form url.Values
		want answer
	}{
		{"overlap", bob, values("type", "reserved", "start_ip", "10.50.0.105", "end_ip", "10.50.0.120", "subnet", "1"), answer{400, conflict}},
		{"overlap a dynamic range", bob, values("type", "reserved", "start_ip", "10.50.0.199", "end_ip", "10.50.0.201"), answer{400, conflict}},
		{"dynamic, non-admin", bob, values("type", "dynamic", "start_ip", "10.50.0.150", "end_ip", "10.50.0.160"), answer{403,
			"Unable to create dynamic IP range. You don't have sufficient privileges."}},
		{"outside the subnet", bob, values("type", "reserved", "start_ip", "10.60.0.1", "end_ip", "10.60.0.2", "subnet", "lab"), answer{400,
			`{"end_ip":["IP addresses must be within subnet: 10.50.0.0/24."],"start_ip":["IP addresses must be within subnet: 10.50.0.0/24."]}`}},
		{"reversed", bob, values("type", "reserved", "start_ip", "10.50.0.9", "end_ip", "10.50.0.8"), answer{400,
			`{"end_ip":["End IP address must not be less than Start IP address."]}`}},
		{"broadcast", bob, values("type", "reserved", "start_ip", "10.50.0.254", "end_ip", "10.50.0.255"), answer{400,
			`{"end_ip":["Broadcast address cannot be included in IP range."]}`}},
		{"no type", bob, values("start_ip", "10.50.0.9", "end_ip", "10.50.0.9"), answer{400, `{"type":["This field is required."]}`}},
		{"long comment", bob, values("type", "reserved", "start_ip", "10.50.0.9", "end_ip", "10.50.0.9", "comment", strings.Repeat("x", 256)), answer{400,
			`{"comment":["Ensure this value has at most 255 characters (it has 256)."]}`}},
		// A reserved range may cover addresses already in use.
		{"over the gateway", bob, values("type", "reserved", "start_ip", "10.50.0.1", "end_ip", "10.50.0.1"), answer{200, `~"start_ip":"10.50.0.1"`}},
		{"dynamic over a used address", admin, values("type", "dynamic", "start_ip", "10.50.0.1", "end_ip", "10.50.0.2"), answer{400,
			`~Requested dynamic range conflicts with an existing IP address or range.`}},
	} {
		checkAnswer(t, tt.name, tt.who.do("POST", "ipranges/", nil, tt.form), tt.want)
	}

	checkAnswer(t, "get", bob.do("GET", "ipranges/"+id+"/", nil, nil), answer{200, `~"comment":"lb pool"`})
	checkAnswer(t, "get unknown", bob.do("GET", "ipranges/99/", nil, nil), answer{404, "No IPRange matches the given query."})
	checkAnswer(t, "update, not the owner", bob.do("PUT", "ipranges/"+id+"/", nil, values("comment", "mine now")), answer{403,
		"Unable to modify IP range. You don't own the IP range."})
	checkAnswer(t, "update", alice.do("PUT", "ipranges/"+id+"/", nil, values("comment", "renamed", "end_ip", "10.50.0.110")), answer{200, `~"end_ip":"10.50.0.110","comment":"renamed"`})
	checkAnswer(t, "delete, not the owner", bob.do("DELETE", "ipranges/"+id+"/", nil, nil), answer{403, "Unable to modify IP range. You don't own the IP range."})
	checkAnswer(t, "delete", alice.do("DELETE", "ipranges/"+id+"/", nil, nil), answer{204, ""})
	checkAnswer(t, "get deleted", alice.do("GET", "ipranges/"+id+"/", nil, nil), answer{404, "No IPRange matches the given query."})

	// gomaasclient reads them.
	c := maasClient(t, srv, srv.DefaultAPIKey())
	list, err := c.IPRanges.Get()
	if err != nil || len(list) != 2 || list[0].Type != "dynamic" || list[0].Comment != "dhcp" {
		t.Fatalf("gomaasclient list: %+v %v", list, err)
	}
	made, err := c.IPRanges.Create(&entity.IPRangeParams{Type: "reserved", Subnet: "1", StartIP: "10.50.0.30", EndIP: "10.50.0.31", Comment: "via gomaasclient"})
	if err != nil || made.StartIP.String() != "10.50.0.30" {
		t.Fatalf("gomaasclient create: %+v %v", made, err)
	}
	if err := c.IPRange.Delete(made.ID); err != nil {
		t.Fatalf("gomaasclient delete: %v", err)
	}
}

func TestSubnetsEndpoint(t *testing.T) {
	srv := startSim(t, ipamConfig())
	alice := newRaw(t, srv, "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001")
	checkAnswer(t, "list", alice.do("GET", "subnets/", nil, nil), answer{200, `~"cidr":"10.20.3.0/24"`})
	for _, path := range []string{"subnets/1/", "subnets/10.50.0.0/24/", "subnets/lab/", "subnets/cidr:10.50.0.0/24/"} {
		checkAnswer(t, path, alice.do("GET", path, nil, nil), answer{200, `~"name":"lab","vlan"`})
	}
	checkAnswer(t, "unknown", alice.do("GET", "subnets/99/", nil, nil), answer{404, "No Subnet matches the given query."})
	checkAnswer(t, "reserve", alice.do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.50.0.3")), answer{200, "~10.50.0.3"})
	checkAnswer(t, "unreserved", alice.do("GET", "subnets/1/", values("op", "unreserved_ip_ranges"), nil), answer{200,
		`[{"start":"10.50.0.2","end":"10.50.0.2","num_addresses":1},{"start":"10.50.0.4","end":"10.50.0.199","num_addresses":196},{"start":"10.50.0.251","end":"10.50.0.254","num_addresses":4}]`})
	checkAnswer(t, "ip_addresses", alice.do("GET", "subnets/1/op-ip_addresses", nil, nil), answer{200, `~"ip":"10.50.0.3","alloc_type":4`})
	// A reserved range may cover a reserved address: the overlap shows both purposes.
	checkAnswer(t, "range over .3", alice.do("POST", "ipranges/", nil, values("type", "reserved", "start_ip", "10.50.0.3", "end_ip", "10.50.0.5")), answer{200, "~10.50.0.5"})
	checkAnswer(t, "reserved_ip_ranges", alice.do("GET", "subnets/lab/", values("op", "reserved_ip_ranges"), nil), answer{200,
		`[{"start":"10.50.0.1","end":"10.50.0.1","num_addresses":1,"purpose":["gateway-ip"]},` +
			`{"start":"10.50.0.3","end":"10.50.0.3","num_addresses":1,"purpose":["assigned-ip","reserved"]},` +
			`{"start":"10.50.0.4","end":"10.50.0.5","num_addresses":2,"purpose":["reserved"]},` +
			`{"start":"10.50.0.200","end":"10.50.0.250","num_addresses":51,"purpose":["dynamic"]}]`})
	checkAnswer(t, "statistics", alice.do("GET", "subnets/1/", values("op", "statistics"), nil), answer{200,
		`{"available_string":"78%","first_address":"10.50.0.1","ip_version":4,"largest_available":194,"last_address":"10.50.0.254",` +
			`"num_available":199,"num_unavailable":55,"total_addresses":254,"usage":0.21653543307086615,"usage_string":"22%"}`})
	c := maasClient(t, srv, srv.DefaultAPIKey())
	subnets, err := c.Subnets.Get()
	if err != nil || len(subnets) != 4 {
		t.Fatalf("gomaasclient subnets: %d %v", len(subnets), err)
	}
}

func TestDNSResources(t *testing.T) {
	srv := startSim(t, ipamConfig())
	admin := newRaw(t, srv, srv.DefaultAPIKey())
	alice := newRaw(t, srv, "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001")
	checkAnswer(t, "create, non-admin", alice.do("POST", "dnsresources/", nil, values("fqdn", "cp.maas")), answer{403, ""})
	// CAPMAAS creates the record empty, finds it by fqdn, then sets the addresses.
	checkAnswer(t, "create", admin.do("POST", "dnsresources/", nil, values("fqdn", "cp.maas", "address_ttl", "10", "ip_addresses", "")), answer{200,
		`{"id":1,"fqdn":"cp.maas","address_ttl":10,"ip_addresses":[],"resource_records":[],"resource_uri":"/MAAS/api/2.0/dnsresources/1/"}`})
	checkAnswer(t, "duplicate", admin.do("POST", "dnsresources/", nil, values("name", "cp", "domain", "maas")), answer{400, `{"__all__":["Labels must be unique within their zone."]}`})
	checkAnswer(t, "by fqdn", alice.do("GET", "dnsresources/", values("fqdn", "cp.maas"), nil), answer{200, `~"fqdn":"cp.maas"`})
	checkAnswer(t, "unknown name", alice.do("GET", "dnsresources/", values("fqdn", "nope.maas"), nil), answer{200, "[]"})
	checkAnswer(t, "unknown domain", alice.do("GET", "dnsresources/", values("fqdn", "cp.nowhere"), nil), answer{404, "No Domain matches the given query."})
	checkAnswer(t, "update, non-admin", alice.do("PUT", "dnsresources/1/", nil, values("ip_addresses", "10.50.0.9")), answer{403, ""})
	checkAnswer(t, "update", admin.do("PUT", "dnsresources/1/", nil, values("ip_addresses", "10.50.0.9 10.50.0.10")), answer{200, `~"ip":"10.50.0.10"`})
	// Unknown addresses became the caller's reservations.
	checkAnswer(t, "created addresses", admin.do("GET", "ipaddresses/", values("ip", "10.50.0.9"), nil), answer{200, `~"username":"admin"`})
	checkAnswer(t, "delete, non-admin", alice.do("DELETE", "dnsresources/1/", nil, nil), answer{403, ""})
	checkAnswer(t, "delete", admin.do("DELETE", "dnsresources/1/", nil, nil), answer{204, ""})
	checkAnswer(t, "get deleted", admin.do("GET", "dnsresources/1/", nil, nil), answer{404, "No DNSResource matches the given query."})
	checkAnswer(t, "orphans removed", admin.do("GET", "ipaddresses/", nil, nil), answer{200, "[]"})
}

func TestTagUpdateNodes(t *testing.T) {
	srv := startSim(t, ipamConfig())
	admin := newRaw(t, srv, srv.DefaultAPIKey())
	alice := newRaw(t, srv, "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001")
	n1, n3 := machineByHost(t, srv.Sim, "node-01"), machineByHost(t, srv.Sim, "node-03")
	// Admin-only, checked before the tag is looked up (MAAS 3.5+).
	checkAnswer(t, "non-admin", alice.do("POST", "tags/nosuch/", nil, values("op", "update_nodes", "add", n1)), answer{403, ""})
	checkAnswer(t, "unknown tag", admin.do("POST", "tags/nosuch/", nil, values("op", "update_nodes", "add", n1)), answer{404, "No Tag matches the given query."})
	checkAnswer(t, "definition", admin.do("POST", "tags/gpu/", nil, values("op", "update_nodes", "definition", "//node")), answer{409,
		"Definition supplied '//node' doesn't match current definition ''"})
	checkAnswer(t, "add and remove", admin.do("POST", "tags/gpu/op-update_nodes", nil, values("add", n1, "add", "unknown", "remove", n3)), answer{200, `{"added":1,"removed":1}`})
	m1, _ := srv.Machine(n1)
	m3, _ := srv.Machine(n3)
	if !strings.Contains(strings.Join(m1.Tags, ","), "gpu") || strings.Contains(strings.Join(m3.Tags, ","), "gpu") {
		t.Fatalf("tags after update_nodes: %v / %v", m1.Tags, m3.Tags)
	}
	checkAnswer(t, "shown", admin.do("GET", "machines/"+n1+"/", nil, nil), answer{200, `~"gpu"`})
}

func TestIPAMCountsFaultsAdmin(t *testing.T) {
	srv := startSim(t, ipamConfig())
	alice := newRaw(t, srv, "AliceConsumerKey01:AliceTokenKey00001:AliceTokenSecret0000000000000001")
	checkAnswer(t, "reserve", alice.do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.50.0.5")), answer{200, "~10.50.0.5"})
	if n := srv.Counts()[RequestKey{Method: "POST", Endpoint: "ipaddresses/", Op: "reserve"}]; n != 1 {
		t.Fatalf("reserve counted %d times", n)
	}
	srv.SetFaults(Faults{Endpoints: []EndpointFault{{Endpoint: "ipaddresses/", ErrorRate: 1}}})
	checkAnswer(t, "fault", alice.do("POST", "ipaddresses/", nil, values("op", "reserve", "ip", "10.50.0.6")), answer{503, "maas-sim: injected fault (Service Unavailable)"})
	srv.SetFaults(Faults{})
	base := strings.TrimSuffix(srv.URL, "/MAAS")
	if r := mustGet(t, base+"/sim/ipam"); r.status != 200 || !strings.Contains(r.body, `"ip":"10.50.0.5","subnet":"10.50.0.0/24","owner":"alice"`) {
		t.Fatalf("/sim/ipam: %d %s", r.status, r.body)
	}
	if r := mustGet(t, base+"/metrics"); !strings.Contains(r.body, "maassim_ip_reservations 1\n") || !strings.Contains(r.body, "maassim_ip_ranges 1\n") {
		t.Fatalf("metrics: %s", r.body)
	}
}

func TestParseInventorySubnets(t *testing.T) {
	const machines = "machines:\n  - {hostname: a, cpu: 1, memoryMiB: 1, ips: [10.9.0.5]}\n"
	for _, tt := range []struct {
		name, subnets, err string
	}{
		{"good", "subnets:\n  - {cidr: 10.9.0.0/16, gateway: 10.9.0.254, reserved: [{start: 10.9.1.1, end: 10.9.1.9}]}\n", ""},
		{"bad cidr", "subnets:\n  - {cidr: 10.9.0.0/33}\n", "invalid CIDR"},
		{"duplicate", "subnets:\n  - {cidr: 10.9.0.0/16}\n  - {cidr: 10.9.1.0/16}\n", "duplicate subnet"},
		{"gateway outside", "subnets:\n  - {cidr: 10.9.0.0/16, gateway: 10.10.0.1}\n", "gateway"},
		{"range outside", "subnets:\n  - {cidr: 10.9.0.0/16, dynamic: [{start: 10.9.0.1, end: 10.10.0.1}]}\n", "not an ordered range"},
		{"reversed range", "subnets:\n  - {cidr: 10.9.0.0/16, reserved: [{start: 10.9.0.9, end: 10.9.0.1}]}\n", "not an ordered range"},
		{"misspelt key", "subnets:\n  - {cidr: 10.9.0.0/16, reserverd: []}\n", "unknown field"}, //nolint:misspell // the misspelling is the test
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseInventoryFile([]byte(machines + tt.subnets))
			if tt.err == "" {
				if err != nil || len(inv.Subnets) != 1 {
					t.Fatalf("got %v, %+v", err, inv)
				}
				sim, err := New(Config{Inventory: inv.Machines, Subnets: inv.Subnets, Users: []User{{Name: "u"}}})
				if err != nil {
					t.Fatal(err)
				}
				defer sim.Close()
				// The machine's address is in the declared /16, so no /24 is implied.
				if got := sim.IPAM().Subnets; len(got) != 1 || got[0].Gateway != "10.9.0.254" {
					t.Fatalf("subnets: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

func TestFreeSpans(t *testing.T) {
	a := netip.MustParseAddr
	sp := func(lo, hi string) span { return span{a(lo), a(hi)} }
	for _, tt := range []struct {
		name   string
		within span
		used   []span
		want   []span
	}{
		{"nothing used", sp("10.0.0.1", "10.0.0.9"), nil, []span{sp("10.0.0.1", "10.0.0.9")}},
		{"holes", sp("10.0.0.1", "10.0.0.9"), []span{sp("10.0.0.5", "10.0.0.5"), sp("10.0.0.1", "10.0.0.2")},
			[]span{sp("10.0.0.3", "10.0.0.4"), sp("10.0.0.6", "10.0.0.9")}},
		{"overlapping used", sp("10.0.0.1", "10.0.0.9"), []span{sp("10.0.0.3", "10.0.0.6"), sp("10.0.0.4", "10.0.0.5")},
			[]span{sp("10.0.0.1", "10.0.0.2"), sp("10.0.0.7", "10.0.0.9")}},
		{"all used", sp("10.0.0.1", "10.0.0.9"), []span{sp("10.0.0.0", "10.0.0.255")}, nil},
		{"outside", sp("10.0.0.1", "10.0.0.9"), []span{sp("10.0.1.0", "10.0.1.9")}, []span{sp("10.0.0.1", "10.0.0.9")}},
		{"ipv6 end", sp("fd00::1", "fd00::ffff"), []span{sp("fd00::fff0", "fd00::1:0")}, []span{sp("fd00::1", "fd00::ffef")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := freeSpans(tt.within, tt.used); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	if n := sp("10.0.0.0", "10.0.0.255").size(); n != 256 {
		t.Fatalf("size of a /24: %d", n)
	}
	if n := sp("fd00::", "fd00::ffff:ffff:ffff:ffff").size(); n != math.MaxUint64 {
		t.Fatalf("size of a /64: %d", n)
	}
	if got := lastAddr(netip.MustParsePrefix("10.1.2.3/20")); got != a("10.1.15.255") {
		t.Fatalf("lastAddr: %v", got)
	}
}

// TestGomaasclientTalksIPAM: gomaasclient, the simulator's test client,
// reads and writes every new endpoint it has a method for.
func TestGomaasclientTalksIPAM(t *testing.T) {
	srv := startSim(t, ipamConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())

	ip, err := c.IPAddresses.Reserve(&entity.IPAddressesParams{IP: "10.50.0.9"})
	if err != nil || ip.IP.String() != "10.50.0.9" || ip.AllocType != 4 || ip.Owner.UserName != "admin" || ip.Subnet.CIDR != "10.50.0.0/24" {
		t.Fatalf("Reserve: %+v, %v", ip, err)
	}
	if list, err := c.IPAddresses.Get(&entity.IPAddressesParams{}); err != nil || len(list) != 1 {
		t.Fatalf("IPAddresses.Get: %+v, %v", list, err)
	}
	used, err := c.Subnet.GetIPAddresses(1)
	if err != nil || len(used) != 1 || used[0].User != "admin" {
		t.Fatalf("Subnet.GetIPAddresses: %+v, %v", used, err)
	}
	free, err := c.Subnet.GetUnreservedIPRanges(1)
	if err != nil || len(free) != 3 || free[0].NumAddresses != 7 {
		t.Fatalf("Subnet.GetUnreservedIPRanges: %+v, %v", free, err)
	}
	if used, err := c.Subnet.GetReservedIPRanges(1); err != nil || len(used) != 3 || used[1].Purpose[0] != "assigned-ip" {
		t.Fatalf("Subnet.GetReservedIPRanges: %+v, %v", used, err)
	}
	if st, err := c.Subnet.GetStatistics(1); err != nil || st.NumAvailable != 252-51 || st.IPVersion != 4 || st.FirstAddress.String() != "10.50.0.1" {
		t.Fatalf("Subnet.GetStatistics: %+v, %v", st, err)
	}
	if err := c.IPAddresses.Release(&entity.IPAddressesParams{IP: "10.50.0.9"}); err != nil {
		t.Fatalf("Release (204, no body): %v", err)
	}

	rec, err := c.DNSResources.Create(&entity.DNSResourceParams{FQDN: "cp.maas", AddressTTL: 10})
	if err != nil || rec.FQDN != "cp.maas" || rec.AddressTTL != 10 {
		t.Fatalf("DNSResources.Create: %+v, %v", rec, err)
	}
	if found, err := c.DNSResources.Get(&entity.DNSResourcesParams{FQDN: "cp.maas"}); err != nil || len(found) != 1 || found[0].ID != rec.ID {
		t.Fatalf("DNSResources.Get by fqdn: %+v, %v", found, err)
	}
	rec, err = c.DNSResource.Update(rec.ID, &entity.DNSResourceParams{IPAddresses: "10.50.0.11 10.50.0.12", AddressTTL: 10})
	if err != nil || len(rec.IPAddresses) != 2 {
		t.Fatalf("DNSResource.Update: %+v, %v", rec, err)
	}
	if err := c.DNSResource.Delete(rec.ID); err != nil {
		t.Fatalf("DNSResource.Delete: %v", err)
	}

	n1 := machineByHost(t, srv.Sim, "node-01")
	if err := c.Tag.AddMachines("gpu", []string{n1}); err != nil {
		t.Fatalf("Tag.AddMachines: %v", err)
	}
	if ms, err := c.Tag.GetMachines("gpu"); err != nil || !slices.ContainsFunc(ms, func(m entity.Machine) bool { return m.SystemID == n1 }) {
		t.Fatalf("after AddMachines: %v", err)
	}
	if err := c.Tag.RemoveMachines("gpu", []string{n1}); err != nil {
		t.Fatalf("Tag.RemoveMachines: %v", err)
	}
	if err := c.Tag.AddMachines("nosuch", []string{n1}); err == nil {
		t.Fatal("AddMachines to an unknown tag succeeded")
	} else {
		expectServerError(t, err, 404, "No Tag matches the given query.")
	}

	r, err := c.IPRanges.Create(&entity.IPRangeParams{Type: "reserved", Subnet: "1", StartIP: "10.50.0.30", EndIP: "10.50.0.39"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err = c.IPRange.Update(r.ID, &entity.IPRangeParams{Type: "reserved", Subnet: "1", StartIP: "10.50.0.30", EndIP: "10.50.0.35", Comment: "smaller"}); err != nil ||
		r.EndIP.String() != "10.50.0.35" || r.Comment != "smaller" {
		t.Fatalf("IPRange.Update: %+v, %v", r, err)
	}
}
