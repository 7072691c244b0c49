package maassim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	"github.com/canonical/gomaasclient/entity/node"
)

// TestStateWalk drives one machine through MAAS's states with gomaasclient:
// allocate, annotate, deploy, deployed, release, ready; the event hook sees
// each change with the agent name and decoded user data.
func TestStateWalk(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())

	events := make(chan Event, 100)
	cancel := srv.Subscribe(func(e Event) { events <- e })
	defer cancel()

	id := walkAllocate(t, c)
	userData := walkDeploy(t, srv, c, id)
	walkRelease(t, srv, c, id)
	walkEvents(t, events, id, userData)
}

// walkAllocate allocates a machine and annotates it.
func walkAllocate(t *testing.T, c *client.Client) string {
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{AgentName: "gw-1234", Comment: "for tenant a", CPUCount: 8})
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	id := m.SystemID
	if m.Status != node.StatusAllocated || m.StatusName != "Allocated" || m.Owner != "admin" {
		t.Fatalf("after allocate: status %d %q owner %q", m.Status, m.StatusName, m.Owner)
	}

	m, err = c.Machine.SetWorkloadAnnotations(id, map[string]string{"maasgateway.io/owner": "TenantCluster/ns/a", "pool": "cp"})
	if err != nil {
		t.Fatalf("annotate: %v", err)
	}
	if m.WorkloadAnnotations["pool"] != "cp" || m.OwnerData.(map[string]any)["maasgateway.io/owner"] != "TenantCluster/ns/a" {
		t.Fatalf("annotations not shown: %v / %v", m.WorkloadAnnotations, m.OwnerData)
	}
	// An empty value deletes a key.
	if m, err = c.Machine.SetWorkloadAnnotations(id, map[string]string{"pool": ""}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.WorkloadAnnotations["pool"]; ok || len(m.WorkloadAnnotations) != 1 {
		t.Fatalf("empty value did not delete: %v", m.WorkloadAnnotations)
	}

	return id
}

// walkDeploy deploys the machine with user data and waits for Deployed.
func walkDeploy(t *testing.T, srv *Server, c *client.Client, id string) string {
	userData := "#cloud-config\nruncmd: [kubeadm join]\n"
	m, err := c.Machine.Deploy(id, &entity.MachineDeployParams{
		DistroSeries: "jammy", UserData: base64.StdEncoding.EncodeToString([]byte(userData)), Comment: "deploy",
	})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if m.Status != node.StatusDeploying || m.OSystem != "ubuntu" || m.DistroSeries != "jammy" || m.HWEKernel != "ga-22.04" {
		t.Fatalf("after deploy: %d %q %q/%q %q", m.Status, m.StatusName, m.OSystem, m.DistroSeries, m.HWEKernel)
	}

	done := waitStatus(t, srv.Sim, id, StatusDeployed)
	if done.StatusMessage != "Deployed" || done.PowerState != "on" || len(done.IPs) != 1 {
		t.Fatalf("deployed snapshot: %+v", done)
	}
	m, err = c.Machine.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != 6 || len(m.IPAddresses) != 1 || m.IPAddresses[0].String() != done.IPs[0] {
		t.Fatalf("GET after deploy: status %d ips %v", m.Status, m.IPAddresses)
	}

	// agent_name filters but is never shown.
	list, err := c.Machines.Get(&entity.MachinesParams{AgentName: []string{"gw-1234"}})
	if err != nil || len(list) != 1 || list[0].SystemID != id {
		t.Fatalf("agent_name filter: %d machines, %v", len(list), err)
	}
	raw := newRaw(t, srv, srv.DefaultAPIKey()).do("GET", "machines/", url.Values{"agent_name": {"gw-1234"}}, nil)
	if raw.status != 200 || strings.Contains(raw.body, "agent_name") || strings.Contains(raw.body, "gw-1234") {
		t.Fatalf("agent name leaked or list failed: %d", raw.status)
	}
	if n := len(mustMachines(t, c.Machines, &entity.MachinesParams{NotAgentName: []string{"gw-1234"}})); n != 23 {
		t.Fatalf("not_agent_name: %d machines, want 23", n)
	}

	return userData
}

// walkRelease releases the machine and waits for Ready.
func walkRelease(t *testing.T, srv *Server, c *client.Client, id string) {
	m, err := c.Machine.Release(id, &entity.MachineReleaseParams{Comment: "done"})
	if err != nil {
		t.Fatalf("release: %v", err)
	}
	if m.Status != node.StatusReleasing {
		t.Fatalf("release answered %q", m.StatusName)
	}
	// As MAAS's Node._release: agent name and OS go at once, the owner and
	// the annotations when the release completes.
	if m.OSystem != "" || m.Owner != "admin" || len(m.WorkloadAnnotations) != 1 {
		t.Fatalf("while releasing: os %q owner %q annotations %v", m.OSystem, m.Owner, m.WorkloadAnnotations)
	}
	if n := len(mustMachines(t, c.Machines, &entity.MachinesParams{AgentName: []string{"gw-1234"}})); n != 0 {
		t.Fatalf("agent name kept while releasing: %d", n)
	}
	ready := waitStatus(t, srv.Sim, id, StatusReady)
	if ready.Owner != "" || ready.AgentName != "" || ready.Annotations != nil || ready.OSystem != "" || ready.IPs != nil ||
		ready.StatusMessage != "Released" || ready.PowerState != "off" || ready.UserData != nil {
		t.Fatalf("after release: %+v", ready)
	}
	m, _ = c.Machine.Get(id)
	if m.Owner != "" || len(m.WorkloadAnnotations) != 0 || len(m.IPAddresses) != 0 {
		t.Fatalf("GET after release: owner %q annotations %v ips %v", m.Owner, m.WorkloadAnnotations, m.IPAddresses)
	}

}

// walkEvents checks the events the walk produced.
func walkEvents(t *testing.T, events chan Event, id, userData string) {
	// Events arrive in order, with the agent name and the decoded user data.
	want := []EventType{EventAllocated, EventDeploying, EventDeployed, EventReleasing, EventReleased}
	var got []Event
	for range want {
		select {
		case e := <-events:
			got = append(got, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d events arrived", len(got))
		}
	}
	for i, w := range want {
		if got[i].Type != w || got[i].Machine.SystemID != id {
			t.Fatalf("event %d: %s on %s, want %s", i, got[i].Type, got[i].Machine.SystemID, w)
		}
	}
	if got[0].Machine.AgentName != "gw-1234" || got[0].From != StatusReady || got[0].To != StatusAllocated {
		t.Fatalf("allocated event: %+v", got[0])
	}
	if string(got[2].Machine.UserData) != userData || got[2].Machine.AgentName != "gw-1234" {
		t.Fatalf("deployed event user data %q agent %q", got[2].Machine.UserData, got[2].Machine.AgentName)
	}
}

func mustMachines(t *testing.T, c interface {
	Get(*entity.MachinesParams) ([]entity.Machine, error)
}, p *entity.MachinesParams) []entity.Machine {
	t.Helper()
	ms, err := c.Get(p)
	if err != nil {
		t.Fatalf("list machines: %v", err)
	}
	return ms
}

// TestMachineJSON checks the machine document against the fields MAAS
// sends and gomaasclient reads.
func TestMachineJSON(t *testing.T) {
	srv := startSim(t, fastConfig())
	id := machineByHost(t, srv.Sim, "node-07")
	raw := newRaw(t, srv, srv.DefaultAPIKey()).do("GET", "machines/"+id+"/", nil, nil)
	if raw.status != 200 || raw.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET: %d %s", raw.status, raw.header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw.body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"system_id", "hostname", "fqdn", "domain", "owner", "owner_data", "workload_annotations",
		"status", "status_name", "status_message", "status_action", "power_state", "power_type", "zone", "pool",
		"cpu_count", "memory", "storage", "tag_names", "ip_addresses", "osystem", "distro_series", "hwe_kernel",
		"architecture", "boot_disk", "blockdevice_set", "interface_set", "locked", "netboot", "resource_uri",
		"swap_size", "numanode_set", "default_gateways", "hardware_info", "boot_interface"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("machine JSON lacks %q", k)
		}
	}
	if _, ok := doc["agent_name"]; ok {
		t.Error("machine JSON shows agent_name")
	}
	if doc["owner"] != nil || doc["hwe_kernel"] != nil || doc["status"].(float64) != 4 {
		t.Errorf("owner %v hwe_kernel %v status %v", doc["owner"], doc["hwe_kernel"], doc["status"])
	}
	zone := doc["zone"].(map[string]any)
	if zone["name"] != "zone-a" || zone["resource_uri"] != "/MAAS/api/2.0/zones/zone-a/" {
		t.Errorf("zone %v", zone)
	}
	var m entity.Machine
	if err := json.Unmarshal([]byte(raw.body), &m); err != nil {
		t.Fatalf("entity.Machine cannot decode: %v", err)
	}
	if m.SystemID != id || m.Hostname != "node-07" || m.FQDN != "node-07.maas" || m.CPUCount != 16 || m.Memory != 65536 ||
		m.Storage != 4960000 || m.Pool.Name != "tenants" || m.Domain.Name != "maas" || m.Architecture != "amd64/generic" ||
		m.BootDisk.Size != 960e9 || len(m.BlockDeviceSet) != 2 || len(m.InterfaceSet) != 1 || m.PowerState != "off" ||
		len(m.TagNames) != 1 || m.TagNames[0] != "highmem" || m.ResourceURI != "/MAAS/api/2.0/machines/"+id+"/" {
		t.Errorf("decoded machine: %+v", m)
	}
}

// TestAllocateConstraints checks each constraint alone and combined on the
// default inventory, with dry_run so that nothing changes between rows.
func TestAllocateConstraints(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	node05 := machineByHost(t, srv.Sim, "node-05")
	tests := []struct {
		name string
		p    entity.MachineAllocateParams
		want string
	}{
		{"cheapest", entity.MachineAllocateParams{}, "node-03"},
		{"cpu_count", entity.MachineAllocateParams{CPUCount: 8}, "node-01"},
		{"mem", entity.MachineAllocateParams{Mem: 40000}, "node-07"},
		{"tags", entity.MachineAllocateParams{Tags: []string{"gpu"}}, "node-08"},
		{"not_tags", entity.MachineAllocateParams{NotTags: []string{"virtual"}}, "node-01"},
		{"zone", entity.MachineAllocateParams{Zone: "zone-b"}, "node-11"},
		{"not_in_zone", entity.MachineAllocateParams{NotInZone: []string{"zone-a"}}, "node-11"},
		{"pool", entity.MachineAllocateParams{Pool: "gateway"}, "node-01"},
		{"not_in_pool", entity.MachineAllocateParams{NotInPool: []string{"tenants"}}, "node-01"},
		{"storage root size", entity.MachineAllocateParams{Storage: []string{"root:1000"}}, "node-08"},
		{"storage two disks", entity.MachineAllocateParams{Storage: []string{"root:100(ssd),data:1000(rotary)"}}, "node-01"},
		{"storage tag", entity.MachineAllocateParams{Storage: []string{"root:500(nvme)"}}, "node-07"},
		{"arch wildcard", entity.MachineAllocateParams{Arch: "amd64"}, "node-03"},
		{"system_id", entity.MachineAllocateParams{SystemID: node05}, "node-05"},
		{"name", entity.MachineAllocateParams{Name: "node-06"}, "node-06"},
		{"name fqdn", entity.MachineAllocateParams{Name: "node-06.maas"}, "node-06"},
		{"combined", entity.MachineAllocateParams{Zone: "zone-c", CPUCount: 16, Tags: []string{"highmem"}, Pool: "tenants"}, "node-23"},
		{"combined exclusions", entity.MachineAllocateParams{NotInZone: []string{"zone-a", "zone-b"}, Tags: []string{"gpu"}}, "node-24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.DryRun = true
			m, err := c.Machines.Allocate(&p)
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			if m.Hostname != tt.want {
				t.Fatalf("got %s, want %s", m.Hostname, tt.want)
			}
		})
	}
	for _, m := range srv.Machines() {
		if m.Status != StatusReady {
			t.Fatalf("dry_run allocated %s", m.Hostname)
		}
	}

	// Without dry_run the cheapest goes first, then the next cheapest.
	first, err := c.Machines.Allocate(&entity.MachineAllocateParams{Tags: []string{"virtual"}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Machines.Allocate(&entity.MachineAllocateParams{Tags: []string{"virtual"}})
	if err != nil {
		t.Fatal(err)
	}
	if first.Hostname != "node-03" || second.Hostname != "node-04" {
		t.Fatalf("allocated %s then %s", first.Hostname, second.Hostname)
	}
	storage, err := c.Machines.Allocate(&entity.MachineAllocateParams{Storage: []string{"root:100(ssd),data:1000(rotary)"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	raw := newRaw(t, srv, srv.DefaultAPIKey()).do("POST", "machines/", url.Values{"op": {"allocate"}},
		url.Values{"storage": {"root:100(ssd),data:1000(rotary)"}, "dry_run": {"true"}})
	if !strings.Contains(raw.body, `"constraints_by_type":{"storage":{"data":[`) || storage.Hostname != "node-01" {
		t.Fatalf("constraints_by_type missing: %s", raw.body[:200])
	}
}

func TestAllocateConflicts(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	_, err := c.Machines.Allocate(&entity.MachineAllocateParams{AgentName: "x", CPUCount: 4000})
	expectServerError(t, err, 409,
		`No available machine matches constraints: [('agent_name', ['x']), ('cpu_count', ['4000'])] (resolved to "cpu_count=4000.0")`)
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{Tags: []string{"gpu", "highmem"}, Zone: "zone-a", Mem: 1e6})
	expectServerError(t, err, 409,
		`No available machine matches constraints: [('mem', ['1000000']), ('tags', ['gpu', 'highmem']), ('zone', ['zone-a'])] (resolved to "mem=1000000.0 tags=gpu,highmem zone=zone-a")`)
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: "nosuch"})
	expectServerError(t, err, 409, "No machine with system ID nosuch available.")
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{Arch: "arm64"})
	expectServerError(t, err, 409,
		`No available machine matches constraints: [('arch', ['arm64'])] (resolved to "arch=arm64/ga-22.04,arm64/ga-24.04,arm64/generic")`)

	// Allocate everything; then nothing is left.
	for i := range 24 {
		if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{}); err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
	}
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{})
	expectServerError(t, err, 409, "No machine available.")
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{Comment: "only ignored fields"})
	expectServerError(t, err, 409, "No machine available.")
}

func TestBadParameters(t *testing.T) {
	srv := startSim(t, fastConfig())
	raw := newRaw(t, srv, srv.DefaultAPIKey())
	tests := []struct {
		name       string
		method     string
		query      url.Values
		form       url.Values
		wantStatus int
		wantBody   string
	}{
		{"list unknown param", "GET", url.Values{"colour": {"red"}}, nil, 400, `{"colour":["No such constraint."]}`},
		{"list unknown zone", "GET", url.Values{"zone": {"nowhere", "zone-a", "atlantis"}}, nil, 400, `{"zone":["No such zone(s): atlantis, nowhere."]}`},
		{"list unknown pool", "GET", url.Values{"pool": {"nope"}}, nil, 400, `{"pool":["No such pool(s): nope."]}`},
		{"list bad status", "GET", url.Values{"status": {"sleeping"}}, nil, 400, `{"status":["Select a valid choice. sleeping is not one of the available choices."]}`},
		{"list unknown owner", "GET", url.Values{"owner": {"mallory"}}, nil, 400, `{"owner":["No such owner: 'mallory'."]}`},
		{"allocate unknown zone", "POST", url.Values{"op": {"allocate"}}, url.Values{"zone": {"nope"}}, 400, `{"zone":["No such zone(s): nope."]}`},
		{"allocate unknown not_in_pool", "POST", url.Values{"op": {"allocate"}}, url.Values{"not_in_pool": {"nope"}}, 400, `{"not_in_pool":["No such pool(s): nope."]}`},
		{"allocate unknown tag", "POST", url.Values{"op": {"allocate"}}, url.Values{"tags": {"gpu,shiny"}}, 400, `{"tags":["No such tag(s): 'shiny'."]}`},
		{"allocate bad cpu", "POST", url.Values{"op": {"allocate"}}, url.Values{"cpu_count": {"many"}}, 400, `{"cpu_count":["Invalid CPU count: number required."]}`},
		{"allocate bad mem", "POST", url.Values{"op": {"allocate"}}, url.Values{"mem": {"lots"}}, 400, `{"mem":["Invalid memory: number of MiB required."]}`},
		{"allocate bad storage", "POST", url.Values{"op": {"allocate"}}, url.Values{"storage": {"root:big"}}, 400, `{"storage":["Malformed storage constraint, \"root:big\"."]}`},
		{"allocate bad arch", "POST", url.Values{"op": {"allocate"}}, url.Values{"arch": {"sparc"}}, 400, `{"arch":["Architecture not recognised."]}`},
		{"allocate unknown param", "POST", url.Values{"op": {"allocate"}}, url.Values{"colour": {"red"}}, 400, `{"colour":["No such constraint."]}`},
		{"allocate unsimulated", "POST", url.Values{"op": {"allocate"}}, url.Values{"subnets": {"1"}}, 400, `{"subnets":["maas-sim does not simulate this constraint."]}`},
		{"unknown op", "GET", url.Values{"op": {"bogus"}}, nil, 400, "Unrecognised signature: method=GET op=bogus"},
		{"post without op", "POST", nil, url.Values{}, 400, "Unrecognised signature: method=POST op=None"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := raw.do(tt.method, "machines/", tt.query, tt.form)
			if r.status != tt.wantStatus || r.body != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
			ct := r.header.Get("Content-Type")
			if strings.HasPrefix(tt.wantBody, "{") != strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q for %s", ct, tt.wantBody)
			}
			if r.header.Get("X-MAAS-API-Hash") == "" {
				t.Fatal("no X-MAAS-API-Hash")
			}
		})
	}
}

func TestListFilters(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	node02 := machineByHost(t, srv.Sim, "node-02")
	alloc, err := c.Machines.Allocate(&entity.MachineAllocateParams{Name: "node-09", AgentName: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    entity.MachinesParams
		want int
	}{
		{"all", entity.MachinesParams{}, 24},
		{"id match-any", entity.MachinesParams{ID: []string{node02, alloc.SystemID, "nosuch"}}, 2},
		{"hostname match-any", entity.MachinesParams{Hostname: []string{"node-01", "node-02"}}, 2},
		{"status match-any", entity.MachinesParams{Status: []string{"allocated", "deployed"}}, 1},
		{"status ready", entity.MachinesParams{Status: []string{"ready"}}, 23},
		{"agent_name", entity.MachinesParams{AgentName: []string{"a1", "other"}}, 1},
		{"zone", entity.MachinesParams{Zone: []string{"zone-b"}}, 8},
		{"not_in_zone", entity.MachinesParams{NotInZone: []string{"zone-b", "zone-c"}}, 8},
		{"pool", entity.MachinesParams{Pool: []string{"gateway"}}, 6},
		{"not_in_pool", entity.MachinesParams{NotInPool: []string{"gateway"}}, 18},
		{"tags all-of", entity.MachinesParams{Tags: []string{"gpu", "highmem"}}, 3},
		{"not_tags", entity.MachinesParams{NotTags: []string{"highmem"}}, 18},
		{"cpu_count at least", entity.MachinesParams{CPUCount: []int{16}}, 6},
		{"mem at least", entity.MachinesParams{Mem: []int64{65536}}, 6},
		{"owner", entity.MachinesParams{Owner: []string{"admin"}}, 1},
		{"domain", entity.MachinesParams{Domain: []string{"maas"}}, 24},
		{"simple_status", entity.MachinesParams{SimpleStatus: []string{"allocated"}}, 1},
		{"combined", entity.MachinesParams{Zone: []string{"zone-a"}, Pool: []string{"tenants"}, CPUCount: []int{8}}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := len(mustMachines(t, c.Machines, &tt.p)); n != tt.want {
				t.Fatalf("got %d machines, want %d", n, tt.want)
			}
		})
	}
	allocated, err := c.Machines.ListAllocated()
	if err != nil || len(allocated) != 1 || allocated[0].SystemID != alloc.SystemID {
		t.Fatalf("list_allocated: %d, %v", len(allocated), err)
	}
}

func TestDeploy(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	for i, series := range []struct{ in, osystem, series, kernel string }{
		{"jammy", "ubuntu", "jammy", "ga-22.04"},
		{"ubuntu/jammy", "ubuntu", "jammy", "ga-22.04"},
		{"22.04", "ubuntu", "jammy", "ga-22.04"},
		{"ubuntu/24.04", "ubuntu", "noble", "ga-24.04"},
		{"ubuntu", "ubuntu", "noble", "ga-24.04"},
		{"", "ubuntu", "jammy", "ga-22.04"},
	} {
		id := machineByHost(t, srv.Sim, []string{"node-01", "node-02", "node-03", "node-04", "node-05", "node-06"}[i])
		// A Ready machine deploys on the spot, allocated with deploy's agent_name.
		m, err := c.Machine.Deploy(id, &entity.MachineDeployParams{DistroSeries: series.in, AgentName: "agent-d"})
		if err != nil {
			t.Fatalf("deploy %q: %v", series.in, err)
		}
		if m.Status != node.StatusDeploying || m.Owner != "admin" || m.OSystem != series.osystem || m.DistroSeries != series.series || m.HWEKernel != series.kernel {
			t.Fatalf("deploy %q: %s %s/%s %s", series.in, m.StatusName, m.OSystem, m.DistroSeries, m.HWEKernel)
		}
		if snap, _ := srv.Machine(id); snap.AgentName != "agent-d" {
			t.Fatalf("deploy on the spot kept no agent name: %q", snap.AgentName)
		}
	}
	id := machineByHost(t, srv.Sim, "node-07")
	_, err := c.Machine.Deploy(id, &entity.MachineDeployParams{DistroSeries: "plucky"})
	expectServerError(t, err, 400,
		`{"distro_series":["'plucky' is not a valid distro_series.  It should be one of: '', 'ubuntu/jammy', 'ubuntu/noble'."]}`)
	if m, _ := srv.Machine(id); m.Status != StatusReady || m.Owner != "" {
		t.Fatalf("refused deploy changed the machine: %s owner %q", m.StatusName, m.Owner)
	}
	first := machineByHost(t, srv.Sim, "node-01")
	waitStatus(t, srv.Sim, first, StatusDeployed)
	_, err = c.Machine.Deploy(first, &entity.MachineDeployParams{})
	expectServerError(t, err, 409, "Can't deploy a machine that is in the 'Deployed' state")
	_, err = c.Machine.Deploy("nosuch", &entity.MachineDeployParams{})
	expectServerError(t, err, 404, "No Machine matches the given query.")
}

func TestCustomImage(t *testing.T) {
	cfg := fastConfig()
	cfg.BootResources = []BootResource{
		{Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04"},
		{Name: "k8s-1-30", Architecture: "amd64/generic", Title: "Kubernetes 1.30"},
	}
	srv := startSim(t, cfg)
	c := maasClient(t, srv, srv.DefaultAPIKey())
	m, err := c.Machine.Deploy(machineByHost(t, srv.Sim, "node-01"), &entity.MachineDeployParams{DistroSeries: "custom/k8s-1-30"})
	if err != nil || m.OSystem != "custom" || m.DistroSeries != "k8s-1-30" {
		t.Fatalf("custom deploy: %v %q/%q", err, m.OSystem, m.DistroSeries)
	}
	_, err = c.Machine.Deploy(machineByHost(t, srv.Sim, "node-02"), &entity.MachineDeployParams{DistroSeries: "noble"})
	expectServerError(t, err, 400,
		`{"distro_series":["'noble' is not a valid distro_series.  It should be one of: '', 'custom/k8s-1-30', 'ubuntu/jammy'."]}`)
}

func TestOtherUsersMachines(t *testing.T) {
	srv := startSim(t, fastConfig())
	admin := maasClient(t, srv, srv.DefaultAPIKey())
	bob := maasClient(t, srv, srv.AddUser("bob", false))
	alice := maasClient(t, srv, srv.AddUser("alice", false))
	if again := srv.AddUser("bob", false); again != mustKey(t, srv, "bob") {
		t.Fatal("AddUser of an existing user changed the key")
	}

	m, err := bob.Machines.Allocate(&entity.MachineAllocateParams{AgentName: "bob-agent"})
	if err != nil {
		t.Fatal(err)
	}
	id := m.SystemID
	if m.Owner != "bob" {
		t.Fatalf("owner %q", m.Owner)
	}
	if who, err := alice.Users.Whoami(); err != nil || who.UserName != "alice" || who.IsSuperUser {
		t.Fatalf("whoami: %+v %v", who, err)
	}
	_, err = alice.Machine.Get(id)
	expectServerError(t, err, 403, "")
	_, err = alice.Machine.Deploy(id, &entity.MachineDeployParams{})
	expectServerError(t, err, 403, "")
	_, err = alice.Machine.Release(id, &entity.MachineReleaseParams{})
	expectServerError(t, err, 403, "")
	_, err = alice.Machine.Abort(id, "")
	expectServerError(t, err, 403, "")
	_, err = alice.Machine.SetWorkloadAnnotations(id, map[string]string{"k": "v"})
	expectServerError(t, err, 403, "")
	err = alice.Machines.Release([]string{id}, "")
	expectServerError(t, err, 403, "You don't have the required permission to release the following machine(s): "+id+".")
	if n := len(mustMachines(t, alice.Machines, &entity.MachinesParams{})); n != 23 {
		t.Fatalf("alice sees %d machines, want the 23 free ones", n)
	}
	// An admin sees and may act on it, but annotations belong to the owner.
	if _, err := admin.Machine.Get(id); err != nil {
		t.Fatal(err)
	}
	_, err = admin.Machine.SetWorkloadAnnotations(id, map[string]string{"k": "v"})
	expectServerError(t, err, 409, "Cannot set workload annotation: it hasn't been acquired.")
	// Nobody may annotate a machine nobody owns.
	_, err = alice.Machine.SetWorkloadAnnotations(machineByHost(t, srv.Sim, "node-20"), map[string]string{"k": "v"})
	expectServerError(t, err, 409, "Cannot set workload annotation: it hasn't been acquired.")
	if _, err := bob.Machine.Deploy(id, &entity.MachineDeployParams{}); err != nil {
		t.Fatalf("owner deploy: %v", err)
	}
	// A non-admin may not change machines (MAAS reserves PUT to admins).
	r := newRaw(t, srv, mustKey(t, srv, "bob")).do("PUT", "machines/"+id+"/", nil, url.Values{"swap_size": {"0"}})
	if r.status != 403 {
		t.Fatalf("non-admin PUT: %d", r.status)
	}
	r = newRaw(t, srv, srv.DefaultAPIKey()).do("PUT", "machines/"+id+"/", nil, url.Values{"swap_size": {"0"}})
	if r.status != 200 || !strings.Contains(r.body, `"swap_size":0`) || !strings.Contains(r.body, `"resource_uri"`) {
		t.Fatalf("admin PUT: %d", r.status)
	}
	// Placement's domain is set with PUT; an unknown one is a form error.
	r = newRaw(t, srv, srv.DefaultAPIKey()).do("PUT", "machines/"+id+"/", nil, url.Values{"domain": {"nowhere.example"}})
	if r.status != 400 || !strings.Contains(r.body, `"domain"`) {
		t.Fatalf("PUT unknown domain: %d %s", r.status, r.body)
	}
	r = newRaw(t, srv, srv.DefaultAPIKey()).do("PUT", "machines/"+id+"/", nil, url.Values{"domain": {"maas"}})
	if m, _ := srv.Machine(id); r.status != 200 || m.Domain != "maas" {
		t.Fatalf("PUT domain maas: %d, machine in %q", r.status, m.Domain)
	}
}

func mustKey(t *testing.T, srv *Server, name string) string {
	t.Helper()
	k, ok := srv.APIKey(name)
	if !ok {
		t.Fatalf("no user %s", name)
	}
	return k
}

func TestAbort(t *testing.T) {
	cfg := fastConfig()
	cfg.DeployJitter = 0
	srv := startSim(t, cfg)
	c := maasClient(t, srv, srv.DefaultAPIKey())
	a, b := machineByHost(t, srv.Sim, "node-01"), machineByHost(t, srv.Sim, "node-02")
	if _, err := c.Machine.Deploy(a, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machine.Deploy(b, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Machine.Abort(a, "changed my mind")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != node.StatusAllocated || m.StatusMessage != "Aborted deployment" || m.Owner != "admin" || m.PowerState != "off" {
		t.Fatalf("after abort: %s %q owner %q power %s", m.StatusName, m.StatusMessage, m.Owner, m.PowerState)
	}
	// b started after a with the same duration: once b is Deployed, a would
	// have been too had the abort not cancelled its deployment.
	waitStatus(t, srv.Sim, b, StatusDeployed)
	if got, _ := srv.Machine(a); got.Status != StatusAllocated {
		t.Fatalf("aborted machine went on to %s", got.StatusName)
	}
	_, err = c.Machine.Abort(a, "")
	expectServerError(t, err, 409, "Cannot abort in current state: node "+a+" is in state Allocated.")

	// Aborting disk erasing leaves Failed disk erasing.
	if _, err := c.Machine.Release(b, &entity.MachineReleaseParams{Erase: true}); err != nil {
		t.Fatal(err)
	}
	m, err = c.Machine.Abort(b, "")
	if err != nil || m.Status != node.StatusFailedDiskErasing {
		t.Fatalf("abort erase: %v %s", err, m.StatusName)
	}
	// ...from which a release is allowed.
	if _, err := c.Machine.Release(b, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, b, StatusReady)
}

func TestRelease(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	ids := make([]string, 0, 4)
	for _, h := range []string{"node-01", "node-02", "node-03", "node-04"} {
		ids = append(ids, machineByHost(t, srv.Sim, h))
	}

	// An Allocated machine is powered off, so MAAS releases it at once.
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: ids[0]}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Machine.Release(ids[0], &entity.MachineReleaseParams{})
	if err != nil || m.Status != node.StatusReady || m.Owner != "" {
		t.Fatalf("release allocated: %v %s owner %q", err, m.StatusName, m.Owner)
	}
	// Releasing a Ready machine is a successful no-op.
	if m, err = c.Machine.Release(ids[0], &entity.MachineReleaseParams{}); err != nil || m.Status != node.StatusReady {
		t.Fatalf("release ready: %v %s", err, m.StatusName)
	}

	// Erase goes through Disk erasing, then Releasing, then Ready.
	if _, err := c.Machine.Deploy(ids[1], &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, ids[1], StatusDeployed)
	m, err = c.Machine.Release(ids[1], &entity.MachineReleaseParams{Erase: true, QuickErase: true})
	if err != nil || m.Status != node.StatusDiskErasing {
		t.Fatalf("erase: %v %s", err, m.StatusName)
	}
	waitStatus(t, srv.Sim, ids[1], StatusReleasing)
	waitStatus(t, srv.Sim, ids[1], StatusReady)

	// Bulk release of Deploying, Deployed and Allocated machines.
	for _, id := range ids[1:3] {
		if _, err := c.Machine.Deploy(id, &entity.MachineDeployParams{}); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus(t, srv.Sim, ids[1], StatusDeployed)
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: ids[3]}); err != nil {
		t.Fatal(err)
	}
	if err := c.Machines.Release(ids[1:], "bulk"); err != nil {
		t.Fatalf("bulk release: %v", err)
	}
	for _, id := range ids[1:] {
		waitStatus(t, srv.Sim, id, StatusReady)
	}
	raw := newRaw(t, srv, srv.DefaultAPIKey())
	r := raw.do("POST", "machines/", url.Values{"op": {"release"}}, url.Values{"machines": {ids[0], "nosuch", "gone"}})
	if r.status != 400 || r.body != "Unknown machine(s): gone, nosuch." {
		t.Fatalf("bulk release of unknown machines: %d %s", r.status, r.body)
	}
	// A machine that cannot be released fails the whole bulk request.
	srv.SetFaults(Faults{StuckRelease: []string{"node-01"}})
	if _, err := c.Machine.Deploy(ids[0], &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machine.Release(ids[0], &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: ids[1]}); err != nil {
		t.Fatal(err)
	}
	err = c.Machines.Release([]string{ids[0], ids[1]}, "")
	expectServerError(t, err, 409, "Machine(s) cannot be released in their current state: "+ids[0]+" ('Releasing').")
	if m, _ := srv.Machine(ids[1]); m.Status != StatusAllocated {
		t.Fatalf("failed bulk release still released %s", m.StatusName)
	}
	// A single release of a Releasing machine is a no-op, though.
	if m, err := c.Machine.Release(ids[0], &entity.MachineReleaseParams{}); err != nil || m.Status != node.StatusReleasing {
		t.Fatalf("release releasing: %v %s", err, m.StatusName)
	}
}

// TestOpForms sends ops the three ways MAAS accepts them.
func TestOpForms(t *testing.T) {
	srv := startSim(t, fastConfig())
	raw := newRaw(t, srv, srv.DefaultAPIKey())
	r := raw.do("POST", "machines/", nil, url.Values{"op": {"allocate"}, "name": {"node-01"}, "agent_name": {"body-op"}})
	if r.status != 200 || !strings.Contains(r.body, `"hostname":"node-01"`) {
		t.Fatalf("op in body: %d %s", r.status, r.body)
	}
	r = raw.do("POST", "machines/op-allocate", nil, url.Values{"name": {"node-02"}})
	if r.status != 200 || !strings.Contains(r.body, `"hostname":"node-02"`) {
		t.Fatalf("op in path: %d %s", r.status, r.body)
	}
	id := machineByHost(t, srv.Sim, "node-02")
	r = raw.do("GET", "machines/"+id+"/op-query_power_state", nil, nil)
	if r.status != 200 || r.body != `{"state":"off"}` {
		t.Fatalf("GET op in path: %d %s", r.status, r.body)
	}
	r = raw.do("POST", "machines/"+id+"/", url.Values{"op": {"set_workload_annotations"}}, url.Values{"a": {"1"}})
	if r.status != 200 || !strings.Contains(r.body, `"workload_annotations":{"a":"1"}`) {
		t.Fatalf("op in query: %d %s", r.status, r.body)
	}
	if m, _ := srv.Machine(machineByHost(t, srv.Sim, "node-01")); m.AgentName != "body-op" {
		t.Fatalf("agent name from body: %q", m.AgentName)
	}
	r = raw.do("GET", "nosuch/thing/", nil, nil)
	if r.status != 404 || r.body != "Unknown API endpoint: /MAAS/api/2.0/nosuch/thing/." || r.header.Get("X-MAAS-API-Hash") == "" {
		t.Fatalf("unknown endpoint: %d %q", r.status, r.body)
	}
	r = raw.do("GET", "machines/nosuch/", nil, nil)
	if r.status != 404 || r.body != "No Machine matches the given query." || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("unknown machine: %d %q %s", r.status, r.body, r.header.Get("Content-Type"))
	}
}

func TestOtherEndpoints(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	zones, err := c.Zones.Get()
	if err != nil || len(zones) != 4 {
		t.Fatalf("zones: %v %v", zones, err)
	}
	if z, err := c.Zone.Get("zone-b"); err != nil || z.Name != "zone-b" {
		t.Fatalf("zone: %v %v", z, err)
	}
	_, err = c.Zone.Get("nowhere")
	expectServerError(t, err, 404, "No Zone matches the given query.")
	pools, err := c.ResourcePools.Get()
	if err != nil || len(pools) != 3 {
		t.Fatalf("pools: %v %v", pools, err)
	}
	byName, err := c.ResourcePool.GetByName("tenants")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := c.ResourcePool.Get(byName.ID)
	if err != nil || byID.Name != "tenants" {
		t.Fatalf("pool by id: %v %v", byID, err)
	}
	if ds, err := c.Domains.Get(); err != nil || len(ds) != 1 || !ds[0].IsDefault || ds[0].Name != "maas" {
		t.Fatalf("domains: %v %v", ds, err)
	}
	brs, err := c.BootResources.Get(&entity.BootResourcesReadParams{Type: "synced"})
	if err != nil || len(brs) != 4 || brs[0].Name != "ubuntu/jammy" || brs[0].Type != "Synced" {
		t.Fatalf("boot resources: %v %v", brs, err)
	}
	tags, err := c.Tags.Get()
	if err != nil || len(tags) != 4 {
		t.Fatalf("tags: %v %v", tags, err)
	}
	v, err := c.Version.Get()
	if err != nil || v.Version != DefaultMAASVersion || len(v.Capabilities) == 0 {
		t.Fatalf("version: %v %v", v, err)
	}
	// version/ is anonymous; the rest is not.
	anon := newRaw(t, srv, "")
	if r := anon.do("GET", "version/", nil, nil); r.status != 200 {
		t.Fatalf("anonymous version: %d", r.status)
	}
	if r := anon.do("GET", "machines/", nil, nil); r.status != 401 {
		t.Fatalf("anonymous machines: %d", r.status)
	}
	ps, err := c.Machine.GetPowerState(machineByHost(t, srv.Sim, "node-01"))
	if err != nil || ps.State != "off" {
		t.Fatalf("power state: %v %v", ps, err)
	}
}

func TestPower(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	id := machineByHost(t, srv.Sim, "node-01")
	_, err := c.Machine.PowerOn(id, &entity.MachinePowerOnParams{})
	expectServerError(t, err, 409, "Can't start node: it hasn't been allocated.")
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: id}); err != nil {
		t.Fatal(err)
	}
	// power_on of an Allocated machine deploys it, as in MAAS.
	m, err := c.Machine.PowerOn(id, &entity.MachinePowerOnParams{})
	if err != nil || m.Status != node.StatusDeploying {
		t.Fatalf("power on allocated: %v %s", err, m.StatusName)
	}
	waitStatus(t, srv.Sim, id, StatusDeployed)
	if m, err = c.Machine.PowerOff(id, &entity.MachinePowerOffParams{}); err != nil || m.PowerState != "off" {
		t.Fatalf("power off: %v %s", err, m.PowerState)
	}
	if m, err = c.Machine.PowerOn(id, &entity.MachinePowerOnParams{}); err != nil || m.PowerState != "on" || m.Status != node.StatusDeployed {
		t.Fatalf("power on deployed: %v %s %s", err, m.PowerState, m.StatusName)
	}
}

func TestConcurrentAllocations(t *testing.T) {
	srv := startSim(t, fastConfig())
	var wg sync.WaitGroup
	got := make(chan string, 30)
	for range 30 {
		wg.Go(func() {
			c := maasClient(t, srv, srv.DefaultAPIKey())
			m, err := c.Machines.Allocate(&entity.MachineAllocateParams{})
			if err == nil {
				got <- m.SystemID
			} else if se := serverError(t, err); se.StatusCode != http.StatusConflict {
				t.Errorf("allocate: %v", err)
			}
		})
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for id := range got {
		if seen[id] {
			t.Fatalf("machine %s allocated twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 24 {
		t.Fatalf("%d machines allocated, want all 24", len(seen))
	}
}
