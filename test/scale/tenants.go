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

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// Budgets of DESIGN.md §6 for the client the operator keeps to each tenant
// cluster (internal/workload's Cache) at rest.
const (
	budgetTenantRSSBytes   = 1 << 20
	budgetTenantReqsPerMin = 1.0
)

// memFigures are medians of a window's samples of the manager's memory.
type memFigures struct {
	Samples int `json:"samples"`
	// RSS is the kernel's resident set; HeapLive the Go heap in use right
	// after a garbage collection the sampler forces (pprof's heap?gc=1), so
	// that garbage waiting for the next cycle does not count.
	RSS      float64 `json:"rssBytes"`
	HeapLive float64 `json:"heapLiveBytes"`
}

type tenantsResult struct {
	Date        string  `json:"date"`
	Tenants     int     `json:"tenants"`
	Window      string  `json:"window"`
	StartupSecs float64 `json:"allRunningSeconds"`

	// The requests the manager made to the tenants' API servers during the
	// window, from client-go's rest_client_requests_total by host (every
	// request a client-go client sends, watches included, whatever its
	// answer), the envtest API server's host left out.
	TenantRequests        float64            `json:"tenantRequests"`
	RequestsByMethod      map[string]float64 `json:"tenantRequestsByMethod"`
	RequestsPerTenantMin  float64            `json:"tenantRequestsPerTenantPerMinute"`
	MaxRequestsTenantMin  float64            `json:"tenantRequestsPerMinuteWorstTenant"`
	TenantsSeen           int                `json:"tenantsWithRequests"`
	ReconcilesPerTenantMn float64            `json:"reconcilesPerTenantPerMinute"`
	// RequestsWhileOff: tenant requests while the manager ran with
	// --observe-tenant-clusters=false; 0 shows the cache is their only source.
	RequestsWhileOff float64 `json:"tenantRequestsWhileNotObserving"`

	// Memory of the same manager over the same TenantClusters, observing
	// them and not (--observe-tenant-clusters=false); each measured after a
	// fresh start and a settle, so that neither carries the convergence's
	// garbage. The difference is what the client cache (connections, Node
	// watches, probes, etcd clients) costs; divided by the tenants, the
	// per-tenant figure.
	Observing       memFigures `json:"observing"`
	NotObserving    memFigures `json:"notObserving"`
	RSSPerTenant    float64    `json:"rssPerTenantBytes"`
	HeapPerTenant   float64    `json:"heapLivePerTenantBytes"`
	RSSVerdict      string     `json:"rssVerdict"`
	RequestsVerdict string     `json:"requestsVerdict"`
}

// runTenants measures the per-tenant cost of the manager's tenant client
// cache at rest: c.clusters TenantClusters of one control-plane machine each,
// every one a real etcd and kube-apiserver (internal/joinemu/controlplane),
// with a CNI DaemonSet so that their Nodes are Ready.
func runTenants(ctx context.Context, c config) error {
	progress("tenants: %d clusters with real control planes (%d starting at once), window %v", c.clusters,
		c.cpStartConc, c.window)
	pprofPort, err := harness.FreePort()
	if err != nil {
		return err
	}
	pprofAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(pprofPort))
	env, err := startEnvWith(ctx, c, c.clusters, []string{"--pprof-bind-address=" + pprofAddr},
		func(o *harness.Options) {
			o.ControlPlanes = true
			o.ControlPlaneOptions.StartTimeout = 5 * time.Minute
		})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	res := tenantsResult{Date: time.Now().UTC().Format(time.RFC3339), Tenants: c.clusters, Window: c.window.String()}

	t0 := time.Now()
	vips := make([]string, c.clusters)
	err = parallel(ctx, c.clusters, c.cpStartConc, func(i int) error {
		tc := newCluster(i, 1)
		tc.Spec.ControlPlaneEndpoint = env.TenantVIP(tc.Spec.ControlPlaneEndpoint)
		vips[i] = tc.Spec.ControlPlaneEndpoint
		if err := retry(ctx, func() error { return env.Client.Create(ctx, tc) }); err != nil {
			return err
		}
		// One cluster's control plane up before the worker takes the next:
		// c.cpStartConc bounds the etcd and kube-apiserver starts at once.
		return startTenant(ctx, env, tc.Name, vips[i]+":6443", 1, 10*time.Minute)
	})
	if err != nil {
		return err
	}
	err = waitFor(ctx, 5*time.Minute, "every tenant Running with its Node Ready", func() (bool, error) {
		tcs, err := listClusters(ctx, env.Client)
		if err != nil {
			return false, err
		}
		return observedReady(tcs) == c.clusters, nil
	})
	if err != nil {
		return err
	}
	res.StartupSecs = time.Since(t0).Seconds()
	progress("tenants: %d clusters Running, Nodes Ready, in %v", c.clusters, time.Since(t0).Round(time.Second))

	tenantHost := map[string]bool{}
	for _, v := range vips {
		tenantHost[net.JoinHostPort(v, "6443")] = true
	}
	gc := func() { forceGC(ctx, pprofAddr) }

	// Observing: a fresh manager, every cluster connected (its Node list and
	// watch sent), then the window.
	if err := env.Manager.Restart(ctx); err != nil {
		return err
	}
	err = waitFor(ctx, 3*time.Minute, "the restarted manager to connect to every tenant", func() (bool, error) {
		s, err := scrape(ctx, env)
		if err != nil {
			return false, err
		}
		return len(tenantRequests(s, tenantHost)) == c.clusters, nil
	})
	if err != nil {
		return err
	}
	if err := pause(ctx, c.restSettle); err != nil {
		return err
	}
	progress("tenants: at rest; measuring for %v", c.window)
	before, err := scrape(ctx, env)
	if err != nil {
		return err
	}
	res.Observing = sampleWindow(ctx, env, c.window, gc)
	after, err := scrape(ctx, env)
	if err != nil {
		return err
	}
	d := after.sub(before)
	perHost := tenantRequests(d, tenantHost)
	res.TenantsSeen = len(perHost)
	minutes := c.window.Minutes()
	for _, n := range perHost {
		res.TenantRequests += n
		res.MaxRequestsTenantMin = max(res.MaxRequestsTenantMin, n/minutes)
	}
	res.RequestsPerTenantMin = res.TenantRequests / float64(c.clusters) / minutes
	res.RequestsByMethod = map[string]float64{}
	for k, v := range d {
		if host, method, ok := restRequest(k); ok && tenantHost[host] && v != 0 {
			res.RequestsByMethod[method] += v
		}
	}
	res.ReconcilesPerTenantMn = d.sum("controller_runtime_reconcile_total", `controller="tenantcluster"`) /
		float64(c.clusters) / minutes

	// Not observing: the same TenantClusters in the manager's cache, no
	// connection to any of them.
	env.Manager.AddArgs("--observe-tenant-clusters=false")
	if err := env.Manager.Restart(ctx); err != nil {
		return err
	}
	if err := pause(ctx, c.restSettle); err != nil {
		return err
	}
	progress("tenants: manager restarted without observing tenants; measuring for %v", min(c.window, time.Minute))
	before, err = scrape(ctx, env)
	if err != nil {
		return err
	}
	res.NotObserving = sampleWindow(ctx, env, min(c.window, time.Minute), gc)
	after, err = scrape(ctx, env)
	if err != nil {
		return err
	}
	for _, n := range tenantRequests(after.sub(before), tenantHost) {
		res.RequestsWhileOff += n
	}

	res.RSSPerTenant = (res.Observing.RSS - res.NotObserving.RSS) / float64(c.clusters)
	res.HeapPerTenant = (res.Observing.HeapLive - res.NotObserving.HeapLive) / float64(c.clusters)
	res.RSSVerdict = passOver(res.RSSPerTenant <= budgetTenantRSSBytes)
	res.RequestsVerdict = passOver(res.RequestsPerTenantMin <= budgetTenantReqsPerMin)
	printTenants(res)
	return writeJSON(c.jsonOut, res)
}

// startTenant waits for the control plane of cluster name at endpoint
// (VIP:6443) to answer, installs the CNI DaemonSet in it so that its Nodes
// turn Ready, and waits for the cluster to be Running with size Nodes
// Ready as the operator observes them.
func startTenant(ctx context.Context, env *harness.Env, name, endpoint string, size int32, limit time.Duration) error {
	var admin *rest.Config
	err := waitFor(ctx, limit, name+"'s first control plane to answer", func() (bool, error) {
		var err error
		admin, err = env.ControlPlanes.AdminConfig(endpoint)
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	tenant, err := client.New(admin, client.Options{})
	if err != nil {
		return err
	}
	// kube-system exists once kubeadm's init has written its objects.
	var lastErr error
	err = waitFor(ctx, limit, "the CNI DaemonSet in "+name, func() (bool, error) {
		lastErr = tenant.Create(ctx, controlplane.NetworkPlugin())
		return lastErr == nil, nil
	})
	if err != nil {
		return fmt.Errorf("%w (last: %v)", err, lastErr)
	}
	return waitFor(ctx, limit, name+" Running with its Nodes Ready", func() (bool, error) {
		tc := &infrav1.TenantCluster{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, tc); err != nil {
			return false, err
		}
		return observedReady([]infrav1.TenantCluster{*tc}) == 1 && tc.Status.Workload.ReadyNodes == size, nil
	})
}

// observedReady counts the converged clusters whose Nodes the operator saw
// all Ready inside the cluster.
func observedReady(tcs []infrav1.TenantCluster) int {
	n := 0
	for i := range tcs {
		ws := tcs[i].Status.Workload
		if converged(tcs[i:i+1]) == 1 && ws != nil && ws.Reachable && ws.Nodes > 0 && ws.ReadyNodes == ws.Nodes {
			n++
		}
	}
	return n
}

// restRequest splits a rest_client_requests_total series into its host
// and method.
func restRequest(series string) (host, method string, ok bool) {
	base, labels, _ := strings.Cut(series, "{")
	if base != "rest_client_requests_total" {
		return "", "", false
	}
	label := func(name string) string {
		_, after, found := strings.Cut(labels, name+`="`)
		if !found {
			return ""
		}
		v, _, _ := strings.Cut(after, `"`)
		return v
	}
	return label("host"), label("method"), true
}

// tenantRequests sums client-go's requests by tenant host; a host with
// none is absent.
func tenantRequests(s sample, tenantHost map[string]bool) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		if host, _, ok := restRequest(k); ok && tenantHost[host] && v > 0 {
			out[host] += v
		}
	}
	return out
}

// sampleWindow samples the manager's memory every 10 s for d (a forced
// garbage collection first) and returns the medians.
func sampleWindow(ctx context.Context, env *harness.Env, d time.Duration, gc func()) memFigures {
	var rss, heap []float64
	end := time.Now().Add(d)
	for {
		gc()
		if m, err := env.Manager.Memory(); err == nil {
			rss = append(rss, float64(m.RSS))
		}
		if s, err := scrape(ctx, env); err == nil {
			heap = append(heap, s.sum("go_memstats_heap_inuse_bytes"))
		}
		left := time.Until(end)
		if left <= 0 || pause(ctx, min(left, 10*time.Second)) != nil {
			break
		}
	}
	return memFigures{Samples: len(rss), RSS: median(rss), HeapLive: median(heap)}
}

// forceGC has the manager collect its garbage, through pprof's heap
// endpoint (gc=1).
func forceGC(ctx context.Context, addr string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// pause waits d: the length of a measurement window, or the settling an
// at-rest figure asks for; no condition to wait for instead.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func printTenants(r tenantsResult) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fprintf(w, "\n%d tenant clusters with real control planes, at rest, window %s\t\t\t\n", r.Tenants, r.Window)
	fprintln(w, "figure\tvalue\tbudget (DESIGN §6)\t")
	fprintf(w, "all Running, Nodes Ready\t%.0f s\t-\t\n", r.StartupSecs)
	fprintf(w, "API requests to tenant API servers per tenant per minute (worst tenant)\t%.2f (%.2f)\t≤ %.0f: %s\t\n",
		r.RequestsPerTenantMin, r.MaxRequestsTenantMin, budgetTenantReqsPerMin, r.RequestsVerdict)
	fprintf(w, "  by method, whole window\t%s\t\t\n", fmtFloats(r.RequestsByMethod))
	fprintf(w, "  tenants with requests in the window / while not observing\t%d / %.0f requests\t\t\n", r.TenantsSeen,
		r.RequestsWhileOff)
	fprintf(w, "reconciles per tenant per minute\t%.2f\t-\t\n", r.ReconcilesPerTenantMn)
	fprintf(w, "manager RSS observing / not observing (median of %d / %d samples)\t%.1f / %.1f MiB\t\t\n",
		r.Observing.Samples, r.NotObserving.Samples, r.Observing.RSS/mib, r.NotObserving.RSS/mib)
	fprintf(w, "manager live heap observing / not observing\t%.1f / %.1f MiB\t\t\n", r.Observing.HeapLive/mib,
		r.NotObserving.HeapLive/mib)
	fprintf(w, "RSS per tenant (difference / tenants)\t%.0f KiB\t≤ %d KiB: %s\t\n", r.RSSPerTenant/1024,
		budgetTenantRSSBytes>>10, r.RSSVerdict)
	fprintf(w, "live heap per tenant\t%.0f KiB\t-\t\n", r.HeapPerTenant/1024)
	_ = w.Flush()
}
