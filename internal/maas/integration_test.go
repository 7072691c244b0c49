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

package maas_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	gomaasapi "github.com/juju/gomaasapi/v2"

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

const (
	agent = "maas-gateway-test-installation"
	jammy = "jammy"
)

// testOpts lets tests run at simulator speed: no rate limit worth the
// name, millisecond backoff, and a timeout generous enough for a loaded
// machine running the race detector.
func testOpts() maas.Options {
	return maas.Options{
		RequestTimeout: time.Minute,
		MaxAttempts:    3,
		BackoffBase:    time.Millisecond,
		BackoffMax:     5 * time.Millisecond,
		RetryAfterMax:  10 * time.Millisecond,
		RateLimit:      10000,
		RateBurst:      10000,
	}
}

func startSim(t *testing.T, mutate func(*maassim.Config)) *maassim.Server {
	t.Helper()
	cfg := maassim.DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := maassim.Start(cfg)
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *maassim.Server, key string) *maas.Client {
	t.Helper()
	k, err := maas.ParseAPIKey(key)
	if err != nil {
		t.Fatalf("simulator key: %v", err)
	}
	c, err := maas.NewClient(maas.Config{Endpoint: srv.URL, APIKey: k}, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func owner(name, slot string) maas.Owner {
	return maas.Owner{Kind: "TenantCluster", Namespace: "team-a", Name: name, UID: "uid-" + name, Pool: "workers", Slot: slot}
}

// count sums the simulator's counters for method and op on any endpoint
// matching prefix.
func count(srv *maassim.Server, method, endpoint, op string) int {
	n := 0
	for k, v := range srv.Counts() {
		if k.Method == method && k.Endpoint == endpoint && k.Op == op {
			n += v
		}
	}
	return n
}

func total(srv *maassim.Server) int {
	n := 0
	for _, v := range srv.Counts() {
		n += v
	}
	return n
}

func simMachine(t *testing.T, srv *maassim.Server, id string) maassim.Machine {
	t.Helper()
	m, ok := srv.Machine(id)
	if !ok {
		t.Fatalf("simulator has no machine %s", id)
	}
	return m
}

// waitStatus waits for the simulator to show the machine in status want.
func waitStatus(t *testing.T, srv *maassim.Server, id string, want maassim.Status) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := simMachine(t, srv, id)
		if m.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("machine %s is %s, want %s", id, m.StatusName, want)
		}
		time.Sleep(10 * time.Millisecond) // polling the simulator's Go API, not MAAS
	}
}

// rawMachineJSON reads machines/{id}/ bytes as MAAS sends them.
func rawMachineJSON(t *testing.T, srv *maassim.Server, id string) string {
	t.Helper()
	c, err := gomaasapi.NewAuthenticatedClient(gomaasapi.AddAPIVersionToURL(srv.URL, "2.0"), srv.DefaultAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	u := c.GetURL(c.APIURL)
	u.Path += "machines/" + id + "/"
	body, err := c.Get(u, "", nil)
	if err != nil {
		t.Fatalf("GET machine: %v", err)
	}
	return string(body)
}

func TestAllocateAnnotatesOwnerAndAgentNameFilters(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	want := owner("prod", "3")

	m, err := c.Allocate(ctx, maas.AllocateRequest{
		AgentName: agent,
		Owner:     want,
		Constraints: maas.Constraints{
			Zone: "zone-b", Pool: "tenants", Tags: []string{"highmem"},
			MinCPU: 16, MinMemoryMiB: 65536, MinDiskGiB: 800,
		},
	})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if m.Owner == nil || *m.Owner != want {
		t.Fatalf("allocated machine's owner = %+v, want %+v", m.Owner, want)
	}
	if m.Status != maas.StatusAllocated || m.Zone != "zone-b" || m.Pool != "tenants" || m.CPUCount < 16 {
		t.Fatalf("allocated %+v does not meet the constraints", m)
	}
	sm := simMachine(t, srv, m.SystemID)
	if sm.AgentName != agent {
		t.Fatalf("MAAS stored agent_name %q, want %q", sm.AgentName, agent)
	}
	if sm.Annotations[maas.AnnotationOwnerUID] != want.UID || sm.Annotations[maas.AnnotationSlot] != "3" {
		t.Fatalf("annotations = %v", sm.Annotations)
	}

	raw := rawMachineJSON(t, srv, m.SystemID)
	if strings.Contains(raw, "agent_name") || strings.Contains(raw, agent) {
		t.Fatalf("machine JSON shows the agent name: %s", raw)
	}
	if !strings.Contains(raw, want.UID) {
		t.Fatalf("machine JSON lacks the owner annotation")
	}

	got, err := c.Machine(ctx, m.SystemID)
	if err != nil || got.Owner == nil || *got.Owner != want {
		t.Fatalf("owner read back from MAAS = %+v, %v", got.Owner, err)
	}
	owned, err := c.ListOwned(ctx, agent)
	if err != nil || len(owned) != 1 || owned[0].SystemID != m.SystemID {
		t.Fatalf("ListOwned(%s) = %v, %v; want just %s", agent, owned, err, m.SystemID)
	}
	others, err := c.ListOwned(ctx, "another-installation")
	if err != nil || len(others) != 0 {
		t.Fatalf("ListOwned(another) = %v, %v; want none", others, err)
	}
}

func TestDeployReleaseAbortAreIdempotent(t *testing.T) {
	srv := startSim(t, func(c *maassim.Config) { c.DeployTime, c.DeployJitter = 2*time.Second, 0 })
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	p := maas.DeployParams{OSystem: "ubuntu", DistroSeries: jammy, UserData: []byte("#cloud-config\n")}

	m, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("prod", "0")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d, err := c.Deploy(ctx, agent, m.SystemID, p)
		if err != nil {
			t.Fatalf("deploy #%d: %v", i+1, err)
		}
		if d.Status != maas.StatusDeploying && d.Status != maas.StatusDeployed {
			t.Fatalf("deploy #%d left the machine %s", i+1, d.StatusName)
		}
	}
	if n := count(srv, "POST", "machines/{id}/", "deploy"); n != 1 {
		t.Fatalf("%d deploy requests reached MAAS; repeats must be answered from the machine's state", n)
	}
	if ud := string(simMachine(t, srv, m.SystemID).UserData); ud != "#cloud-config\n" {
		t.Fatalf("user data arrived as %q", ud)
	}
	if _, err := c.Deploy(ctx, agent, m.SystemID, maas.DeployParams{OSystem: "ubuntu", DistroSeries: "noble"}); !maas.IsConflict(err) {
		t.Fatalf("deploying another image over a deploying machine: %v, want conflict", err)
	}

	// Abort while deploying, then again: the second finds nothing in progress.
	for i := range 2 {
		a, err := c.Abort(ctx, agent, m.SystemID, "test abort")
		if err != nil {
			t.Fatalf("abort #%d: %v", i+1, err)
		}
		if i == 1 && a.Status == maas.StatusDeploying {
			t.Fatalf("abort #2 still sees Deploying")
		}
	}
	waitStatus(t, srv, m.SystemID, maassim.StatusAllocated)
	if n := count(srv, "POST", "machines/{id}/", "abort"); n != 1 {
		t.Fatalf("%d abort requests reached MAAS, want 1", n)
	}

	// Deploy to the end, and repeat once Deployed.
	if _, err := c.Deploy(ctx, agent, m.SystemID, p); err != nil {
		t.Fatalf("deploy after abort: %v", err)
	}
	waitStatus(t, srv, m.SystemID, maassim.StatusDeployed)
	d, err := c.Deploy(ctx, agent, m.SystemID, p)
	if err != nil || d.Status != maas.StatusDeployed || d.Image() != "ubuntu/jammy" {
		t.Fatalf("deploy of a Deployed machine: %+v, %v", d, err)
	}
	if n := count(srv, "POST", "machines/{id}/", "deploy"); n != 2 {
		t.Fatalf("%d deploy requests reached MAAS, want 2 (one per real deployment)", n)
	}

	// Release, repeat while Releasing, and repeat once Ready (no longer ours).
	for i := range 2 {
		if _, err := c.Release(ctx, agent, m.SystemID, maas.ReleaseParams{Comment: "test"}); err != nil {
			t.Fatalf("release #%d: %v", i+1, err)
		}
	}
	waitStatus(t, srv, m.SystemID, maassim.StatusReady)
	r, err := c.Release(ctx, agent, m.SystemID, maas.ReleaseParams{})
	if err != nil || r.Status != maas.StatusReady {
		t.Fatalf("release of a released machine: %+v, %v", r, err)
	}
	if a, err := c.Abort(ctx, agent, m.SystemID, ""); err != nil || a.Status != maas.StatusReady {
		t.Fatalf("abort of a released machine: %+v, %v", a, err)
	}
	if n := count(srv, "POST", "machines/{id}/", "release"); n != 1 {
		t.Fatalf("%d release requests reached MAAS, want 1", n)
	}
	if sm := simMachine(t, srv, m.SystemID); sm.AgentName != "" || len(sm.Annotations) != 0 {
		t.Fatalf("released machine keeps agent %q annotations %v", sm.AgentName, sm.Annotations)
	}
}

func TestRefusesMachinesWithoutOurAgentName(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()

	// Another installation (same MAAS user) allocates and deploys a machine.
	gc, err := client.GetClient(srv.URL, srv.DefaultAPIKey(), "2.0")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := gc.Machines.Allocate(&entity.MachineAllocateParams{AgentName: "someone-else"})
	if err != nil {
		t.Fatal(err)
	}
	untagged, err := gc.Machines.Allocate(&entity.MachineAllocateParams{})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Counts()
	for _, id := range []string{theirs.SystemID, untagged.SystemID} {
		if _, err := c.Deploy(ctx, agent, id, maas.DeployParams{DistroSeries: jammy}); !maas.IsNotOwned(err) {
			t.Errorf("Deploy(%s): %v, want not owned", id, err)
		}
		if _, err := c.Release(ctx, agent, id, maas.ReleaseParams{}); !maas.IsNotOwned(err) {
			t.Errorf("Release(%s): %v, want not owned", id, err)
		}
		if _, err := c.Adopt(ctx, agent, id, owner("prod", "0")); !maas.IsNotOwned(err) {
			t.Errorf("Adopt(%s): %v, want not owned", id, err)
		}
	}
	// Deploying: abort must refuse too.
	if _, err := gc.Machine.Deploy(theirs.SystemID, &entity.MachineDeployParams{DistroSeries: jammy}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Abort(ctx, agent, theirs.SystemID, ""); !maas.IsNotOwned(err) {
		t.Errorf("Abort: %v, want not owned", err)
	}
	after := srv.Counts()
	for k, v := range after {
		if k.Method == "POST" && k.Op != "deploy" && v != before[k] {
			t.Errorf("%s %s op=%s sent %d times to a machine we do not own", k.Method, k.Endpoint, k.Op, v-before[k])
		}
	}
	if sm := simMachine(t, srv, untagged.SystemID); sm.Status != maassim.StatusAllocated || len(sm.Annotations) != 0 {
		t.Fatalf("foreign machine was touched: %s %v", sm.StatusName, sm.Annotations)
	}
}

func TestNoCapacity(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()

	_, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("big", "0"), Constraints: maas.Constraints{MinCPU: 4096}})
	if !maas.IsNoCapacity(err) {
		t.Fatalf("impossible constraints: %v, want no capacity", err)
	}
	if !strings.Contains(err.Error(), "cpu_count") {
		t.Fatalf("message %q does not say which constraint failed", err)
	}
	if n := count(srv, "POST", "machines/", "allocate"); n != 1 {
		t.Fatalf("no capacity was retried: %d allocate requests", n)
	}

	srv.SetFaults(maassim.Faults{ExhaustCapacity: true})
	if _, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("small", "0")}); !maas.IsNoCapacity(err) {
		t.Fatalf("exhausted capacity: %v, want no capacity", err)
	}
	if got, _ := c.ListOwned(ctx, agent); len(got) != 0 {
		t.Fatalf("a failed allocation left %d machines", len(got))
	}
}

func TestUnauthorized(t *testing.T) {
	srv := startSim(t, nil)
	good := srv.DefaultAPIKey()
	parts := strings.Split(good, ":")
	bad := parts[0] + ":" + parts[1] + ":" + strings.Repeat("x", len(parts[2]))
	c := newClient(t, srv, bad)
	_, err := maas.Validate(context.Background(), c)
	if !maas.IsUnauthorized(err) {
		t.Fatalf("Validate with a wrong secret: %v, want unauthorized", err)
	}
	var me *maas.Error
	if !errors.As(err, &me) || me.Message == "" || me.StatusCode != 401 {
		t.Fatalf("error %+v lacks MAAS's message", err)
	}
	if strings.Contains(err.Error(), parts[2]) || strings.Contains(err.Error(), strings.Repeat("x", 8)) {
		t.Fatalf("error repeats the secret: %v", err)
	}
	if n := count(srv, "GET", "users/", "whoami"); n != 1 {
		t.Fatalf("whoami sent %d times; bad credentials are not retried", n)
	}
	if _, err := c.ListOwned(context.Background(), agent); !maas.IsUnauthorized(err) {
		t.Fatalf("ListOwned: %v, want unauthorized", err)
	}
}

func TestTransient(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()

	srv.SetFaults(maassim.Faults{ErrorRate: 1, ErrorStatus: 503, RetryAfter: 10})
	srv.ResetCounts()
	_, err := c.ListOwned(ctx, agent)
	if !maas.IsTransient(err) {
		t.Fatalf("503: %v, want transient", err)
	}
	// 3 attempts, one layer: gomaasapi would add 4 retries to each.
	if n := total(srv); n != 3 {
		t.Fatalf("%d requests for one call with MaxAttempts 3", n)
	}

	srv.SetFaults(maassim.Faults{})
	srv.Stop()
	if _, err := c.ListOwned(ctx, agent); !maas.IsTransient(err) {
		t.Fatalf("stopped simulator: %v, want transient", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListOwned(ctx, agent); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestValidate(t *testing.T) {
	srv := startSim(t, func(c *maassim.Config) {
		c.BootResources = []maassim.BootResource{
			{Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04"},
			{Name: "ubuntu/jammy", Architecture: "arm64/ga-22.04"},
			{Name: "my-image", Architecture: "amd64/generic"},
		}
	})
	c := newClient(t, srv, srv.DefaultAPIKey())
	v, err := maas.Validate(context.Background(), c)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if v.Version != maassim.DefaultMAASVersion || v.User != "admin" || !v.Admin {
		t.Fatalf("version %q user %q admin %v", v.Version, v.User, v.Admin)
	}
	for _, want := range []struct {
		list []string
		name string
	}{
		{v.Zones, "zone-a"}, {v.Zones, "default"}, {v.ResourcePools, "tenants"}, {v.ResourcePools, "gateway"},
		{v.Domains, "maas"}, {v.BootResources, "ubuntu/jammy"}, {v.BootResources, "custom/my-image"},
	} {
		if !slices.Contains(want.list, want.name) {
			t.Errorf("%q missing from %v", want.name, want.list)
		}
	}
	if len(v.BootResources) != 2 {
		t.Errorf("boot resources %v: one entry per image, whatever the architectures", v.BootResources)
	}
	if n := total(srv); n != 6 {
		t.Fatalf("Validate sent %d requests, want 6", n)
	}
}

// allocateMany allocates n machines for owners name-0…, in parallel.
func allocateMany(t *testing.T, c *maas.Client, agentName string, n, perOwner int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := owner("c"+strconv.Itoa(i/perOwner), strconv.Itoa(i%perOwner))
			if _, err := c.Allocate(context.Background(), maas.AllocateRequest{AgentName: agentName, Owner: o}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("allocating: %v", err)
	}
}

func TestAvailableAllocatesNothing(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		c    maas.Constraints
		want bool
	}{
		{"any machine", maas.Constraints{}, true},
		{"gateway pool in zone-b", maas.Constraints{Pool: "gateway", Zone: "zone-b"}, true},
		{"more CPUs than any machine", maas.Constraints{MinCPU: 4096}, false},
	} {
		got, err := c.Available(ctx, tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%s: Available = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := c.Available(ctx, maas.Constraints{Pool: "nowhere"}); err == nil || maas.IsNoCapacity(err) {
		t.Errorf("unknown pool: %v, want MAAS's refusal, not a missing machine", err)
	}
	for _, m := range srv.Machines() {
		if m.StatusName != "Ready" {
			t.Fatalf("a dry run changed machine %s to %s", m.SystemID, m.StatusName)
		}
	}
	srv.SetFaults(maassim.Faults{ExhaustCapacity: true})
	if got, err := c.Available(ctx, maas.Constraints{}); err != nil || got {
		t.Fatalf("exhausted capacity: Available = %v, %v; want false", got, err)
	}
}
