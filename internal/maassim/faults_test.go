package maassim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/entity"
	"github.com/canonical/gomaasclient/entity/node"
)

func TestLatencyFault(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	srv.SetFaults(Faults{Latency: 80 * time.Millisecond})
	start := time.Now()
	if _, err := c.Version.Get(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("request took %v despite 80ms latency", d)
	}
	// Per-endpoint rules replace the global settings for what they match.
	srv.SetFaults(Faults{Latency: time.Hour, Endpoints: []EndpointFault{{Endpoint: "version/"}}})
	if _, err := c.Version.Get(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorRateFault(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	srv.SetFaults(Faults{Endpoints: []EndpointFault{{Method: "GET", Endpoint: "machines/", ErrorRate: 1}}})
	_, err := c.Machines.Get(&entity.MachinesParams{})
	se := serverError(t, err)
	if se.StatusCode != 503 || se.Header.Get("Retry-After") != "" {
		t.Fatalf("got %d, Retry-After %q", se.StatusCode, se.Header.Get("Retry-After"))
	}
	if _, err := c.Zones.Get(); err != nil {
		t.Fatalf("unmatched endpoint failed: %v", err)
	}
	srv.SetFaults(Faults{ErrorRate: 1, ErrorStatus: 504, RetryAfter: 7})
	r := newRaw(t, srv, srv.DefaultAPIKey()).do("GET", "zones/", nil, nil)
	if r.status != 504 || r.header.Get("Retry-After") != "7" {
		t.Fatalf("got %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	// Half the requests fail at rate 0.5 (the seed fixes the draw).
	srv.SetFaults(Faults{ErrorRate: 0.5})
	failed := 0
	for range 200 {
		if _, err := c.Zones.Get(); err != nil {
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Fatalf("%d of 200 failed at rate 0.5", failed)
	}
}

func TestFaultAfterCommit(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault EndpointFault
		check func(t *testing.T, err error)
	}{{
		name:  "the allocation is made, the answer is a 503",
		fault: EndpointFault{ErrorStatus: 503},
		check: func(t *testing.T, err error) {
			if se := serverError(t, err); se.StatusCode != 503 {
				t.Fatalf("answer %d, want 503", se.StatusCode)
			}
		},
	}, {
		name:  "the allocation is made, the connection dropped",
		fault: EndpointFault{Drop: true},
		check: func(t *testing.T, err error) {
			if err == nil || strings.Contains(err.Error(), "ServerError") {
				t.Fatalf("got %v, want a connection failure without an answer", err)
			}
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSim(t, fastConfig())
			c := maasClient(t, srv, srv.DefaultAPIKey())
			f := tt.fault
			f.Method, f.Endpoint, f.Op, f.ErrorRate, f.AfterCommit = "POST", "machines/", "allocate", 1, true
			srv.SetFaults(Faults{Endpoints: []EndpointFault{f}})
			_, err := c.Machines.Allocate(&entity.MachineAllocateParams{AgentName: "inst"})
			tt.check(t, err)
			allocated := 0
			for _, m := range srv.Machines() {
				if m.AgentName == "inst" && m.Status == StatusAllocated {
					allocated++
				}
			}
			if allocated != 1 {
				t.Fatalf("%d machines allocated, want 1: the fault comes after MAAS committed", allocated)
			}
		})
	}
}

func TestFailedDeployFault(t *testing.T) {
	cfg := fastConfig()
	cfg.Faults = Faults{FailDeploy: []string{"node-01"}}
	srv := startSim(t, cfg)
	c := maasClient(t, srv, srv.DefaultAPIKey())
	id := machineByHost(t, srv.Sim, "node-01")
	if _, err := c.Machine.Deploy(id, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, srv.Sim, id, StatusFailedDeployment)
	if !strings.HasPrefix(m.StatusMessage, "Marking node failed") || m.Owner != "admin" {
		t.Fatalf("failed deployment: %+v", m)
	}
	// MAAS never redeploys a failed deployment.
	_, err := c.Machine.Deploy(id, &entity.MachineDeployParams{})
	expectServerError(t, err, 409, "Can't deploy a machine that is in the 'Failed deployment' state")
	if _, err := c.Machine.Release(id, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, id, StatusReady)

	srv.SetFaults(Faults{FailDeployRate: 1})
	other := machineByHost(t, srv.Sim, "node-02")
	if _, err := c.Machine.Deploy(other, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, other, StatusFailedDeployment)
}

func TestStuckReleaseFault(t *testing.T) {
	cfg := fastConfig()
	cfg.ReleaseJitter = 0
	srv := startSim(t, cfg)
	c := maasClient(t, srv, srv.DefaultAPIKey())
	stuck, free := machineByHost(t, srv.Sim, "node-01"), machineByHost(t, srv.Sim, "node-02")
	for _, id := range []string{stuck, free} {
		if _, err := c.Machine.Deploy(id, &entity.MachineDeployParams{}); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, srv.Sim, id, StatusDeployed)
	}
	srv.SetFaults(Faults{StuckRelease: []string{stuck}})
	if _, err := c.Machine.Release(stuck, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machine.Release(free, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	// free, released after stuck with the same duration, is Ready: stuck
	// would be too if it were not stuck.
	waitStatus(t, srv.Sim, free, StatusReady)
	if m, _ := srv.Machine(stuck); m.Status != StatusReleasing {
		t.Fatalf("stuck machine is %s", m.StatusName)
	}

	// With StuckReleaseFails the release ends in Releasing failed, owner kept.
	srv.SetFaults(Faults{StuckRelease: []string{"node-02"}, StuckReleaseFails: true})
	if _, err := c.Machine.Deploy(free, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, free, StatusDeployed)
	if _, err := c.Machine.Release(free, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, srv.Sim, free, StatusFailedReleasing)
	if m.Owner != "admin" || m.StatusName != "Releasing failed" {
		t.Fatalf("releasing failed: %+v", m)
	}
	got, err := c.Machines.Get(&entity.MachinesParams{Status: []string{"failed_releasing"}})
	if err != nil || len(got) != 1 || got[0].Status != node.StatusFailedReleasing {
		t.Fatalf("status filter failed_releasing: %v %v", got, err)
	}
	// Releasing failed may be released again; without the fault it completes.
	srv.SetFaults(Faults{})
	if _, err := c.Machine.Release(free, &entity.MachineReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.Sim, free, StatusReady)
}

func TestExhaustCapacityFault(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	srv.SetFaults(Faults{ExhaustCapacity: true})
	_, err := c.Machines.Allocate(&entity.MachineAllocateParams{})
	expectServerError(t, err, 409, "No machine available.")
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{Pool: "tenants"})
	expectServerError(t, err, 409, `No available machine matches constraints: [('pool', ['tenants'])] (resolved to "pool=tenants")`)
	srv.SetFaults(Faults{})
	if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{Pool: "tenants"}); err != nil {
		t.Fatal(err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	srv := startSim(t, fastConfig())
	base := strings.TrimSuffix(srv.URL, "/MAAS")
	body := `{"latency":"5ms","endpoints":[{"method":"POST","endpoint":"machines/","op":"allocate","errorRate":1,"retryAfter":2}],"failDeploy":["node-03"],"exhaustCapacity":true}`
	req, _ := http.NewRequest("PUT", base+"/sim/faults", strings.NewReader(body))
	resp := mustDo(t, req)
	if resp.status != 200 {
		t.Fatalf("PUT faults: %d %s", resp.status, resp.body)
	}
	f := srv.Faults()
	if f.Latency != 5*time.Millisecond || len(f.Endpoints) != 1 || f.Endpoints[0].RetryAfter != 2 || !f.ExhaustCapacity || f.FailDeploy[0] != "node-03" {
		t.Fatalf("faults after PUT: %+v", f)
	}
	var round Faults
	if err := json.Unmarshal([]byte(mustGet(t, base+"/sim/faults").body), &round); err != nil || round.Latency != f.Latency {
		t.Fatalf("GET faults: %+v %v", round, err)
	}
	req, _ = http.NewRequest("PUT", base+"/sim/faults", strings.NewReader(`{"errorRate": 2}`))
	if r := mustDo(t, req); r.status != 400 {
		t.Fatalf("invalid faults accepted: %d", r.status)
	}
	req, _ = http.NewRequest("PUT", base+"/sim/faults", strings.NewReader(`{"latncy": "1s"}`))
	if r := mustDo(t, req); r.status != 400 {
		t.Fatalf("misspelt field accepted: %d", r.status)
	}
	req, _ = http.NewRequest("DELETE", base+"/sim/faults", nil)
	if r := mustDo(t, req); r.status != 204 || srv.Faults().Latency != 0 {
		t.Fatalf("DELETE faults: %d %+v", r.status, srv.Faults())
	}

	// The machine dump shows what MAAS hides.
	c := maasClient(t, srv, srv.DefaultAPIKey())
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{AgentName: "hidden-agent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machine.Deploy(m.SystemID, &entity.MachineDeployParams{UserData: "I2Nsb3VkLWNvbmZpZw=="}); err != nil {
		t.Fatal(err)
	}
	one := mustGet(t, base+"/sim/machines/"+m.SystemID)
	if !strings.Contains(one.body, `"agentName":"hidden-agent"`) || !strings.Contains(one.body, `"userData":"#cloud-config"`) {
		t.Fatalf("machine dump: %s", one.body)
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(mustGet(t, base+"/sim/machines").body), &all); err != nil || len(all) != 24 {
		t.Fatalf("machines dump: %d %v", len(all), err)
	}
	if r := mustGet(t, base+"/sim/machines/nosuch"); r.status != 404 {
		t.Fatalf("unknown machine: %d", r.status)
	}

	req, _ = http.NewRequest("POST", base+"/sim/users", strings.NewReader(`{"name":"carol"}`))
	r := mustDo(t, req)
	var created struct{ Name, APIKey string }
	if err := json.Unmarshal([]byte(r.body), &created); err != nil || created.Name != "carol" {
		t.Fatalf("create user: %s %v", r.body, err)
	}
	if who, err := maasClient(t, srv, created.APIKey).Users.Whoami(); err != nil || who.UserName != "carol" {
		t.Fatalf("new user's key: %v %v", who, err)
	}
}

func TestCountersAndMetrics(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	if _, err := c.Machines.Get(&entity.MachinesParams{}); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	for range 2 {
		if _, err := c.Machines.Get(&entity.MachinesParams{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machine.Get(m.SystemID); err != nil {
		t.Fatal(err)
	}
	newRaw(t, srv, srv.DefaultAPIKey()).do("POST", "machines/"+m.SystemID+"/op-deploy", nil, url.Values{})
	newRaw(t, srv, "").do("GET", "nowhere/", nil, nil)
	want := map[RequestKey]int{
		{"GET", "machines/", ""}:             2,
		{"POST", "machines/", "allocate"}:    1,
		{"GET", "machines/{id}/", ""}:        1,
		{"POST", "machines/{id}/", "deploy"}: 1,
		{"GET", "unknown", ""}:               1,
	}
	got := srv.Counts()
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("count %+v = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	metrics := mustGet(t, strings.TrimSuffix(srv.URL, "/MAAS")+"/metrics").body
	for _, line := range []string{
		`maassim_requests_total{method="GET",endpoint="machines/",op=""} 2`,
		`maassim_requests_total{method="POST",endpoint="machines/{id}/",op="deploy"} 1`,
		`maassim_machines{status="Ready"} 23`,
		`maassim_machines{status="Deploying"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Fatalf("metrics lack %q:\n%s", line, metrics)
		}
	}
	counts := mustGet(t, strings.TrimSuffix(srv.URL, "/MAAS")+"/sim/counts").body
	if !strings.Contains(counts, `{"method":"POST","endpoint":"machines/","op":"allocate","count":1}`) {
		t.Fatalf("admin counts: %s", counts)
	}
}

func TestStopRestart(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machine.Deploy(m.SystemID, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	before := srv.URL
	srv.Stop()
	if _, err := c.Version.Get(); err == nil {
		t.Fatal("stopped server still answers")
	}
	// Machines keep moving while MAAS is unreachable.
	waitStatus(t, srv.Sim, m.SystemID, StatusDeployed)
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if srv.URL != before {
		t.Fatalf("URL changed from %s to %s", before, srv.URL)
	}
	got, err := c.Machine.Get(m.SystemID)
	if err != nil || got.Status != node.StatusDeployed {
		t.Fatalf("after restart: %v %v", got.StatusName, err)
	}
	if err := srv.Restart(); err == nil {
		t.Fatal("Restart of a running server succeeded")
	}
}

func mustDo(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, string(data)}
}

func mustGet(t *testing.T, u string) rawResponse {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mustDo(t, req)
}
