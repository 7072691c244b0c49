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
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// phaseResult is what one phase (create to Running, or delete to Ready)
// cost and took.
type phaseResult struct {
	Machines int `json:"machines"`
	// Requests are the MAAS requests of the phase by "METHOD endpoint op".
	Requests      map[string]int `json:"maasRequests"`
	RequestsTotal int            `json:"maasRequestsTotal"`
	PerMachine    float64        `json:"maasRequestsPerMachine"`
	// Minimum is the fewest requests per machine MAAS allows: allocate +
	// deploy to bring one up, release to give it back.
	Minimum float64 `json:"minimumPerMachine"`
	// Wall is from the first write to the last cluster converged (or the
	// last machine free); Physical is the simulator's own time for one
	// machine (all machines move in parallel), Ratio their quotient.
	WallSeconds     float64 `json:"wallSeconds"`
	PhysicalSeconds float64 `json:"physicalSeconds"`
	Ratio           float64 `json:"ratio"`
	// PerClusterRatio: each cluster's own time from its write to Running
	// (creation only), over the physical time; median and worst.
	PerClusterP50 float64 `json:"perClusterRatioP50,omitempty"`
	PerClusterMax float64 `json:"perClusterRatioMax,omitempty"`
	// KubeRequests are the manager's API requests (client-go) by verb.
	KubeRequests      map[string]float64 `json:"kubeRequests"`
	KubePerCluster    float64            `json:"kubeRequestsPerCluster"`
	Reconciles        map[string]float64 `json:"reconciles"`
	ReconcilesPerTC   float64            `json:"tenantReconcilesPerCluster"`
	ReconcileErrors   float64            `json:"reconcileErrors"`
	Sim               maassim.ServeStats `json:"simServe"`
	SimAchievedPerSec float64            `json:"simAchievedPerSecond"`
}

type benchResult struct {
	Date        string          `json:"date"`
	Clusters    int             `json:"clusters"`
	PerCluster  int             `json:"machinesPerCluster"`
	DeployTime  string          `json:"simDeployTime"`
	ReleaseTime string          `json:"simReleaseTime"`
	Poll        string          `json:"pollInterval"`
	Create      phaseResult     `json:"create"`
	Delete      phaseResult     `json:"delete"`
	Timeline    timeline        `json:"createTimelineMedians"`
	RecordP50ms float64         `json:"recordDelayP50Ms"`
	RecordP99ms float64         `json:"recordDelayP99Ms"`
	RecordMaxms float64         `json:"recordDelayMaxMs"`
	Unrecorded  int             `json:"deployedNeverRecorded"`
	PeakRSS     int64           `json:"managerPeakRSSBytes"`
	PeakHeap    float64         `json:"managerPeakHeapInuseBytes"`
	PeakGoSys   float64         `json:"managerPeakGoSysBytes"`
	Webhooks    []webhookResult `json:"webhooks"`
	Audit       auditReport     `json:"audit"`
	Idle        *idleMemory     `json:"idleWithForeignSecrets,omitempty"`
}

func runBench(ctx context.Context, c config) error {
	progress("bench: %d clusters × %d machines, deploy %v, release %v, poll %v", c.clusters, c.machines, c.deployTime,
		c.releaseTime, c.poll)
	prof, profArgs, err := newProfiler(c.profileDir)
	if err != nil {
		return err
	}
	env, err := startEnv(ctx, c, profArgs)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	var idle *idleMemory
	if c.foreignSecrets >= 0 {
		m, err := withForeignSecrets(ctx, env, c.foreignSecrets, c.foreignSize, c.createConc, 15*time.Second)
		if err != nil {
			return err
		}
		idle = &m
	}
	obs, err := newObserver(ctx, env)
	if err != nil {
		return err
	}
	defer obs.stop()
	mem := sampleMemory(ctx, env, time.Second)

	res := benchResult{Date: time.Now().UTC().Format(time.RFC3339), Clusters: c.clusters, PerCluster: c.machines,
		DeployTime: c.deployTime.String(), ReleaseTime: c.releaseTime.String(), Poll: c.poll.String(), Idle: idle}

	// Create.
	createdAt := make([]time.Time, c.clusters)
	var cpuDone func()
	create := func(ctx context.Context) error {
		// The first minute of creation: allocations, deployments, PKI.
		cpuDone = prof.cpu(ctx, "cpu-create", time.Minute)
		return parallel(ctx, c.clusters, c.createConc, func(i int) error {
			createdAt[i] = time.Now()
			return retry(ctx, func() error { return env.Client.Create(ctx, newCluster(i, c.machines)) })
		})
	}
	res.Create, err = measurePhase(ctx, env, obs, c, "create", c.deployTime, create, func() (bool, string, error) {
		tcs, err := listClusters(ctx, obs.reader())
		if err != nil {
			return false, "", err
		}
		n := converged(tcs)
		st := simCounts(env)
		return n == c.clusters, fmt.Sprintf("%d/%d clusters Running; machines %v", n, c.clusters, st), nil
	})
	if err != nil {
		return err
	}
	if cpuDone != nil {
		cpuDone()
	}
	prof.fetch(ctx, "heap-created", "heap?gc=1")
	prof.fetch(ctx, "allocs-created", "allocs")
	res.Create.Machines = c.clusters * c.machines
	res.Create.Minimum = 2
	finishPhase(&res.Create, c.clusters)
	obs.mu.Lock()
	var ratios []float64
	for i := range c.clusters {
		if at, ok := obs.runningAt[clusterName(i)]; ok {
			ratios = append(ratios, at.Sub(createdAt[i]).Seconds()/c.deployTime.Seconds())
		}
	}
	obs.mu.Unlock()
	if len(ratios) > 0 {
		slices.Sort(ratios)
		res.Create.PerClusterP50, res.Create.PerClusterMax = ratios[len(ratios)/2], ratios[len(ratios)-1]
	}
	created := map[string]time.Time{}
	for i, t := range createdAt {
		created[clusterName(i)] = t
	}
	res.Timeline = obs.timelines(created)
	delays, unrecorded := obs.recordDelays()
	res.Unrecorded = unrecorded
	if len(delays) > 0 {
		slices.Sort(delays)
		res.RecordP50ms, res.RecordP99ms = ms(delays[len(delays)/2]), ms(delays[min(len(delays)-1, len(delays)*99/100)])
		res.RecordMaxms = ms(delays[len(delays)-1])
	}

	// Webhook latency, with every cluster in the informers.
	progress("webhook latency: %d concurrent callers, %d requests per webhook", c.webhookConc, c.webhookReqs)
	if res.Webhooks, err = webhookLatency(ctx, env, c.webhookConc, c.webhookReqs); err != nil {
		return err
	}

	if c.createOnly {
		mem.stop()
		res.PeakRSS, res.PeakHeap, res.PeakGoSys = mem.result()
		printBench(res)
		return writeJSON(c.jsonOut, res)
	}

	// Delete.
	del := func(ctx context.Context) error {
		return parallel(ctx, c.clusters, c.createConc, func(i int) error {
			tc := &infrav1.TenantCluster{}
			tc.Namespace, tc.Name = namespace, clusterName(i)
			return client.IgnoreNotFound(retry(ctx, func() error { return env.Client.Delete(ctx, tc) }))
		})
	}
	res.Delete, err = measurePhase(ctx, env, obs, c, "delete", c.releaseTime, del, func() (bool, string, error) {
		tcs, err := listClusters(ctx, obs.reader())
		if err != nil {
			return false, "", err
		}
		free, total := allFree(env)
		return len(tcs) == 0 && free == total, fmt.Sprintf("%d clusters left; %d/%d machines free", len(tcs), free,
			total), nil
	})
	if err != nil {
		return err
	}
	res.Delete.Machines = c.clusters * c.machines
	res.Delete.Minimum = 1
	finishPhase(&res.Delete, c.clusters)
	mem.stop()
	res.PeakRSS, res.PeakHeap, res.PeakGoSys = mem.result()

	res.Audit, err = audit(ctx, env, nil)
	if err != nil {
		return err
	}
	printBench(res)
	return writeJSON(c.jsonOut, res)
}

// measurePhase resets the counters, runs act, waits for done while
// printing progress, and collects the phase's figures.
func measurePhase(ctx context.Context, env *harness.Env, _ *observer, c config, name string, physical time.Duration,
	act func(context.Context) error, done func() (bool, string, error)) (phaseResult, error) {
	var r phaseResult
	env.Sim.ResetCounts()
	before, err := scrape(ctx, env)
	if err != nil {
		return r, err
	}
	start := time.Now()
	progress("%s: start", name)
	if err := act(ctx); err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	progress("%s: %d writes done in %v", name, c.clusters, time.Since(start).Round(time.Millisecond))
	last := time.Time{}
	err = waitFor(ctx, c.timeout, name+" to finish", func() (bool, error) {
		ok, status, err := done()
		if err != nil {
			return false, err
		}
		if ok || time.Since(last) > 5*time.Second {
			var rss int64
			if m, err := env.Manager.Memory(); err == nil {
				rss = m.RSS / mib
			}
			progress("%s: %v: %s; manager RSS %d MiB", name, time.Since(start).Round(100*time.Millisecond), status, rss)
			last = time.Now()
		}
		return ok, nil
	})
	wall := time.Since(start)
	if err != nil {
		return r, err
	}
	after, err := scrape(ctx, env)
	if err != nil {
		return r, err
	}
	d := after.sub(before)
	r.Requests = map[string]int{}
	for k, v := range env.Sim.Counts() {
		key := k.Method + " " + k.Endpoint
		if k.Op != "" {
			key += " op=" + k.Op
		}
		r.Requests[key] += v
		r.RequestsTotal += v
	}
	r.Sim = env.Sim.ServeStats()
	r.SimAchievedPerSec = float64(r.Sim.Requests) / wall.Seconds()
	r.WallSeconds, r.PhysicalSeconds = wall.Seconds(), physical.Seconds()
	r.Ratio = r.WallSeconds / r.PhysicalSeconds
	r.KubeRequests = d.by("rest_client_requests_total", "method")
	r.Reconciles = d.by("controller_runtime_reconcile_total", "controller")
	r.ReconcileErrors = d.sum("controller_runtime_reconcile_errors_total")
	return r, nil
}

func finishPhase(r *phaseResult, clusters int) {
	if r.Machines > 0 {
		r.PerMachine = float64(r.RequestsTotal) / float64(r.Machines)
	}
	var kube float64
	for _, v := range r.KubeRequests {
		kube += v
	}
	r.KubePerCluster = kube / float64(clusters)
	r.ReconcilesPerTC = r.Reconciles["tenantcluster"] / float64(clusters)
}
