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
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	gomaasclient "github.com/canonical/gomaasclient/client"

	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// inventoryOf builds n machines owned by n/5 clusters, as a poll returns them.
func inventoryOf(n int) []Machine {
	ms := make([]Machine, n)
	for i := range ms {
		ms[i] = Machine{
			SystemID:   fmt.Sprintf("m%05d", i),
			Hostname:   fmt.Sprintf("node-%05d", i),
			Zone:       "zone-a",
			Pool:       "tenants",
			Status:     StatusDeployed,
			StatusName: "Deployed",
			Addresses:  []string{fmt.Sprintf("10.0.%d.%d", i/250, i%250)},
			OSystem:    "ubuntu", DistroSeries: "jammy", PowerState: "on",
			CPUCount: 8, MemoryMiB: 16384, StorageMB: 480000,
			Owner: &Owner{Kind: "TenantCluster", Namespace: "tenants", Name: fmt.Sprintf("c%d", i/5), UID: fmt.Sprintf("uid-%d", i/5), Pool: "workers", Slot: fmt.Sprint(i % 5)},
		}
	}
	return ms
}

// BenchmarkInventorySnapshot measures the inventory's side of one poll of
// 1000 machines (index the list, diff it against the previous poll with a
// few changes) and a reconciler's read (take the snapshot, find its machines).
func BenchmarkInventorySnapshot(b *testing.B) {
	const n = 1000
	prevList := inventoryOf(n)
	now := time.Now()
	prev := newSnapshot("ns/acc", "agent", prevList, now, now, map[string]time.Time{})

	b.Run("poll", func(b *testing.B) {
		b.ReportAllocs()
		since := map[string]time.Time{}
		for b.Loop() {
			list := inventoryOf(0)
			list = append(list, prev.machines...)
			for i := 0; i < n; i += 100 { // ten machines changed state
				list[i].Status = StatusReleasing
			}
			next := newSnapshot("ns/acc", "agent", list, now, now, since)
			owners, _ := changedOwners(prev, next)
			if len(owners) != 10 {
				b.Fatalf("%d owners changed, want 10", len(owners))
			}
		}
	})

	b.Run("read", func(b *testing.B) {
		inv := NewInventory(InventoryOptions{})
		a := &account{key: "ns/acc", patches: map[string]patch{}, since: map[string]time.Time{}}
		a.snap.Store(prev)
		inv.accounts["ns/acc"] = a
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s, ok := inv.Snapshot("ns/acc")
			if !ok {
				b.Fatal("no snapshot")
			}
			if got := s.ByOwner("TenantCluster", "tenants", fmt.Sprintf("c%d", i%(n/5))); len(got) != 5 {
				b.Fatalf("%d machines for one cluster", len(got))
			}
			i++
		}
	})
}

// ownedFleet starts a simulator holding n machines, all allocated to agent
// for owners of five machines each and deployed, as the 1000-cluster scale
// run has them, and returns a client for it.
func ownedFleet(b *testing.B, n int, agent string) (*maassim.Server, *Client) {
	b.Helper()
	cfg := maassim.DefaultConfig()
	cfg.Inventory = maassim.GenerateInventory(n, 3)
	cfg.DeployTime, cfg.DeployJitter = time.Millisecond, 0
	srv, err := maassim.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	k, err := ParseAPIKey(srv.DefaultAPIKey())
	if err != nil {
		b.Fatal(err)
	}
	opts := fastOptions()
	opts.RequestTimeout, opts.RateLimit, opts.RateBurst = time.Minute, 1e6, 1e6
	c, err := NewClient(Config{Endpoint: srv.URL, APIKey: k}, opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				o := Owner{Kind: "TenantCluster", Namespace: "tenants", Name: fmt.Sprintf("c%d", i/5), UID: fmt.Sprintf("uid-%d", i/5),
					Pool: "workers", Slot: strconv.Itoa(i % 5), Template: "0123456789ab"}
				m, err := c.Allocate(ctx, AllocateRequest{AgentName: agent, Owner: o})
				if err == nil {
					_, err = c.Deploy(ctx, agent, m.SystemID, DeployParams{OSystem: "ubuntu", DistroSeries: "jammy"})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		deployed := 0
		for _, m := range srv.Machines() {
			if m.Status == maassim.StatusDeployed {
				deployed++
			}
		}
		if deployed == n {
			return srv, c
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d machines deployed", deployed, n)
		}
		time.Sleep(10 * time.Millisecond) // the simulator's Go API, not MAAS
	}
}

// BenchmarkPoll3000 is one list of 3000 owned machines, the scale of the
// 1000-cluster run, against the in-process simulator:
//
//   - unchanged: an inventory poll with nothing changed since the last one
//     (the list, the snapshot, the diff), what the manager allocates every
//     interval at that scale most of the time;
//   - cold: the same with every machine decoded (a fresh cache), as if all
//     had changed;
//   - ListOwned: Client.ListOwned, which decodes every machine;
//   - simulator: the signed request alone, body discarded: the simulator's
//     and net/http's share of the figures above, all in one process.
func BenchmarkPoll3000(b *testing.B) {
	const n = 3000
	srv, c := ownedFleet(b, n, "bench-agent")
	ctx := context.Background()
	inv := NewInventory(InventoryOptions{})
	if err := inv.Register("ns/acc", c, "bench-agent"); err != nil {
		b.Fatal(err)
	}
	a, _ := inv.account("ns/acc")
	poll := func(b *testing.B) {
		inv.poll(ctx, a)
		if s := a.snap.Load(); s.Err != nil || s.Len() != n {
			b.Fatalf("%d machines, %v", s.Len(), s.Err)
		}
	}
	b.Run("unchanged", func(b *testing.B) {
		poll(b)
		b.ReportAllocs()
		for b.Loop() {
			poll(b)
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.ownedCache = newListCache()
			poll(b)
		}
	})
	b.Run("ListOwned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ms, err := c.ListOwned(ctx, "bench-agent")
			if err != nil || len(ms) != n {
				b.Fatalf("%d machines, %v", len(ms), err)
			}
		}
	})
	b.Run("simulator", func(b *testing.B) {
		gc, err := gomaasclient.GetClientWithTransport(srv.URL, srv.DefaultAPIKey(), apiVersion, c.transport)
		if err != nil {
			b.Fatal(err)
		}
		api := gc.Machines.(*gomaasclient.Machines).APIClient.GetSubObject("machines")
		u := api.AuthClient.GetURL(api.URI())
		u.RawQuery = "agent_name=bench-agent"
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err := api.AuthClient.Signer.OAuthSign(req); err != nil {
				b.Fatal(err)
			}
			resp, err := api.AuthClient.HTTPClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			size, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		b.ReportMetric(float64(size)/n, "JSON-B/machine")
	})
}
