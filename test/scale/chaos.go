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
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// checkResult is one resilience check's outcome.
type checkResult struct {
	Name   string   `json:"name"`
	Passed bool     `json:"passed"`
	Took   string   `json:"took"`
	Detail []string `json:"detail,omitempty"`
}

type chaosResult struct {
	Date           string         `json:"date"`
	Clusters       int            `json:"clusters"`
	PerCluster     int            `json:"machinesPerCluster"`
	Kills          int            `json:"kills"`
	Starts         int            `json:"managerStarts"`
	Faults         string         `json:"faults"`
	Resized        []string       `json:"resized"`
	Rolled         []string       `json:"rolled"`
	Deleted        []string       `json:"deleted"`
	StuckMachine   string         `json:"stuckReleaseMachine"`
	DeployFailures int            `json:"deployFailures"`
	ReleaseFailed  int            `json:"releaseFailures"`
	Deployments    int            `json:"deployments"` // machines brought to Deployed: what Requests are per machine of
	Requests       map[string]int `json:"maasRequests"`
	ConvergedIn    string         `json:"convergedAfterFaults"`
	AuditLive      auditReport    `json:"auditConverged"`
	Checks         []checkResult  `json:"checks"`
	AuditFinal     auditReport    `json:"auditAfterDeletingAll"`
	// ControlPlanes is the control-plane phase (-control-plane-clusters).
	ControlPlanes *controlPlaneChaos `json:"controlPlanes,omitempty"`
}

func runChaos(ctx context.Context, c config) (failed bool, err error) {
	res, failed, err := chaosFaults(ctx, c)
	if err != nil {
		return false, err
	}
	if c.cpClusters > 0 {
		// After chaosFaults has stopped its environment: the phase has one
		// of its own.
		cp := runControlPlaneChaos(ctx, c)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		res.ControlPlanes = &cp
		failed = failed || cp.failed()
	}
	printChaos(res)
	return failed, writeJSON(c.jsonOut, res)
}

// chaosFaults is the chaos run under MAAS faults: the workload while the
// manager is killed, convergence, the audits and the resilience checks.
func chaosFaults(ctx context.Context, c config) (res chaosResult, failed bool, err error) {
	progress("chaos: %d clusters × %d machines, %d kills, %.0f%% 503s, +%v latency, "+
		"%.0f%% failed deployments, one stuck release",
		c.clusters, c.machines, c.kills, 100*c.errorRate, c.latency, 100*c.failDeployRate)
	env, err := startEnv(ctx, c, nil)
	if err != nil {
		return res, false, err
	}
	defer func() { _ = env.Stop() }()
	obs, err := newObserver(ctx, env)
	if err != nil {
		return res, false, err
	}
	defer obs.stop()
	res = chaosResult{Date: time.Now().UTC().Format(time.RFC3339), Clusters: c.clusters, PerCluster: c.machines}
	if err := chaosWorkload(ctx, env, c, &res); err != nil {
		return res, false, err
	}

	// Lift the faults and let everything settle.
	env.Sim.SetFaults(maassim.Faults{})
	t0 := time.Now()
	deleted := map[string]bool{}
	for _, n := range res.Deleted {
		deleted[n] = true
	}
	live := c.clusters - len(res.Deleted)
	lastShown := time.Now()
	var lastState string
	err = waitFor(ctx, c.settle, "convergence after the faults", func() (bool, error) {
		tcs, err := listClusters(ctx, env.Client)
		if err != nil {
			return false, err
		}
		n, left := converged(tcs), 0
		for _, tc := range tcs {
			if deleted[tc.Name] {
				left++
			}
		}
		st := simCounts(env)
		lastState = fmt.Sprintf("%d/%d clusters converged, %d deleted clusters left; machines %v", n, live, left, st)
		if time.Since(lastShown) >= 5*time.Second {
			lastShown = time.Now()
			progress("chaos: settling: %s", lastState)
		}
		busy := st["Deploying"] + st["Allocated"] + st["Releasing"] + st["Releasing failed"] + st["Disk erasing"]
		return n == live && left == 0 && busy == 0, nil
	})
	settled := checkResult{Name: "converges once the faults are lifted", Passed: err == nil,
		Took: time.Since(t0).Round(100 * time.Millisecond).String()}
	if err != nil {
		if ctx.Err() != nil {
			return res, false, err
		}
		settled.Detail = []string{lastState}
	}
	res.Checks = append(res.Checks, settled)
	res.ConvergedIn = settled.Took
	res.Requests = requestMap(env.Sim.Counts())
	obs.mu.Lock()
	res.DeployFailures, res.ReleaseFailed, res.Deployments = obs.deployFail, obs.relFail, obs.deployments
	obs.mu.Unlock()
	progress("chaos: converged %s after the faults were lifted; auditing", res.ConvergedIn)
	if res.AuditLive, err = audit(ctx, env, nil); err != nil {
		return res, false, err
	}

	// Resilience checks.
	res.Checks = append(res.Checks, checkQuiet(ctx, env, c.quiet))
	res.Checks = append(res.Checks, checkFinalizers(ctx, env, c.resilienceLimit))
	res.Checks = append(res.Checks, checkStatusRestore(ctx, env, c.resilienceLimit, live))

	// Delete the rest and audit again: every machine must be free.
	progress("chaos: deleting the remaining clusters")
	tcs, err := listClusters(ctx, env.Client)
	if err != nil {
		return res, false, err
	}
	for _, tc := range tcs {
		if err := client.IgnoreNotFound(retry(ctx, func() error { return env.Client.Delete(ctx, &tc) })); err != nil {
			return res, false, err
		}
	}
	t1 := time.Now()
	err = waitFor(ctx, c.settle, "every cluster gone and every machine free", func() (bool, error) {
		tcs, err := listClusters(ctx, env.Client)
		if err != nil {
			return false, err
		}
		free, total := allFree(env)
		lastState = fmt.Sprintf("%d clusters left, %d/%d machines free", len(tcs), free, total)
		return len(tcs) == 0 && free == total, nil
	})
	gone := checkResult{Name: "deleting every cluster frees every machine", Passed: err == nil,
		Took: time.Since(t1).Round(100 * time.Millisecond).String()}
	if err != nil {
		if ctx.Err() != nil {
			return res, false, err
		}
		gone.Detail = []string{lastState}
	}
	res.Checks = append(res.Checks, gone)
	if res.AuditFinal, err = audit(ctx, env, nil); err != nil {
		return res, false, err
	}
	failed = res.AuditLive.failed() || res.AuditFinal.failed()
	for _, ch := range res.Checks {
		failed = failed || !ch.Passed
	}
	return res, failed, nil
}

// mutating counts the MAAS requests that change something.
func mutating(counts map[maassim.RequestKey]int) int {
	n := 0
	for k, v := range counts {
		if k.Method != "GET" {
			n += v
		}
	}
	return n
}

// chaosWorkload injects the faults and runs the workload (create, resize,
// roll, delete) while the killer SIGKILLs and restarts the manager.
func chaosWorkload(ctx context.Context, env *harness.Env, c config, res *chaosResult) error {
	rng := rand.New(rand.NewPCG(uint64(c.seed), 12))
	faults := maassim.Faults{ErrorRate: c.errorRate, Latency: c.latency, FailDeployRate: c.failDeployRate}
	env.Sim.SetFaults(faults)
	fj, _ := faults.MarshalJSON()
	res.Faults = string(fj)
	env.Sim.ResetCounts()

	// The killer: SIGKILL at a random moment, start again, c.kills times.
	k := startKiller(ctx, env, c.kills, c.killMin, c.killMax, rng, nil)
	waitKills := k.waitKills

	// The workload, spread over the kills.
	if err := parallel(ctx, c.clusters, c.createConc, func(i int) error {
		return retry(ctx, func() error { return env.Client.Create(ctx, newCluster(i, c.machines)) })
	}); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	progress("chaos: %d clusters created", c.clusters)
	waitKills(c.kills / 4)
	for i := 1; i < c.clusters; i += 4 {
		name := clusterName(i)
		if err := patchCluster(ctx, env, name, func(tc *infrav1.TenantCluster) {
			if len(tc.Spec.Workers) > 0 {
				tc.Spec.Workers[0].Size++
			}
		}); err != nil {
			return fmt.Errorf("resizing %s: %w", name, err)
		}
		res.Resized = append(res.Resized, name)
	}
	progress("chaos: resized %d clusters", len(res.Resized))
	waitKills(c.kills / 2)
	for i := 2; i < c.clusters; i += 4 {
		name := clusterName(i)
		if err := patchCluster(ctx, env, name, func(tc *infrav1.TenantCluster) {
			tc.Spec.Profile.KubernetesVersion = rolledVersion
		}); err != nil {
			return fmt.Errorf("rolling %s: %w", name, err)
		}
		res.Rolled = append(res.Rolled, name)
	}
	progress("chaos: rolling %d clusters", len(res.Rolled))
	waitKills(3 * c.kills / 4)
	// The first cluster to delete gets a stuck release: wait (a while) for
	// it to hold a machine.
	_ = waitFor(ctx, 2*time.Minute, "a machine to get stuck", func() (bool, error) {
		for _, m := range env.Sim.Machines() {
			if m.Annotations[maas.AnnotationOwnerName] == clusterName(3) {
				return true, nil
			}
		}
		return false, nil
	})
	for i := 3; i < c.clusters; i += 4 {
		name := clusterName(i)
		if res.StuckMachine == "" {
			// One stuck release: the first deleted cluster's first machine
			// fails to release until the faults are lifted.
			for _, m := range env.Sim.Machines() {
				if m.Annotations[maas.AnnotationOwnerName] == name {
					res.StuckMachine = m.SystemID
					faults.StuckRelease, faults.StuckReleaseFails = []string{m.SystemID}, true
					env.Sim.SetFaults(faults)
					break
				}
			}
		}
		tc := &infrav1.TenantCluster{}
		tc.Namespace, tc.Name = namespace, name
		if err := client.IgnoreNotFound(retry(ctx, func() error { return env.Client.Delete(ctx, tc) })); err != nil {
			return fmt.Errorf("deleting %s: %w", name, err)
		}
		res.Deleted = append(res.Deleted, name)
	}
	progress("chaos: deleting %d clusters (stuck release on %s)", len(res.Deleted), res.StuckMachine)
	if err := k.wait(); err != nil {
		return err
	}
	res.Kills, res.Starts = k.count(), env.Manager.Starts()
	if !env.Manager.Running() {
		if err := env.Manager.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// killer SIGKILLs the manager and starts it again, a number of times, each
// kill at a random moment while work is in flight.
type killer struct {
	kills atomic.Int64
	done  chan error
}

// startKiller kills the manager n times: each time once the restarted
// manager has written to MAAS (or maxWait has passed without a write),
// within another jitter. between(n), when not nil, runs after the n-th kill
// and before the manager starts again: what the kill left behind is looked
// at there. The killer stops early, with no error, when ctx ends.
func startKiller(ctx context.Context, env *harness.Env, n int, jitter, maxWait time.Duration, rng *rand.Rand,
	between func(ctx context.Context, n int)) *killer {
	k := &killer{done: make(chan error, 1)}
	go func() {
		for int(k.kills.Load()) < n {
			writes := mutating(env.Sim.Counts())
			deadline := time.Now().Add(maxWait)
			for mutating(env.Sim.Counts()) == writes && time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond) // polling the simulator's counters
			}
			wait := time.Duration(rng.Int64N(int64(jitter) + 1))
			select {
			case <-ctx.Done():
				k.done <- ctx.Err()
				return
			case <-time.After(wait):
			}
			if err := env.Manager.Kill(); err != nil {
				k.done <- fmt.Errorf("kill %d: %w", k.kills.Load()+1, err)
				return
			}
			killed := k.kills.Add(1)
			if between != nil {
				between(ctx, int(killed))
			}
			if err := env.Manager.Start(ctx); err != nil {
				k.done <- fmt.Errorf("start after kill %d: %w", killed, err)
				return
			}
			progress("chaos: kill %d/%d, manager back as pid %d", killed, n, env.Manager.PID())
		}
		k.done <- nil
	}()
	return k
}

func (k *killer) count() int { return int(k.kills.Load()) }

// waitKills returns once n kills happened (or the killer stopped).
func (k *killer) waitKills(n int) {
	for k.count() < n && len(k.done) == 0 {
		time.Sleep(100 * time.Millisecond) // the killer's progress, not a condition of the system under test
	}
}

// wait returns the killer's outcome once it stopped.
func (k *killer) wait() error { return <-k.done }

func patchCluster(ctx context.Context, env *harness.Env, name string, mutate func(*infrav1.TenantCluster)) error {
	return retry(ctx, func() error {
		tc := &infrav1.TenantCluster{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, tc); err != nil {
			return err
		}
		before := tc.DeepCopy()
		mutate(tc)
		return env.Client.Patch(ctx, tc, client.MergeFrom(before))
	})
}

func requestMap(counts map[maassim.RequestKey]int) map[string]int {
	out := map[string]int{}
	for k, v := range counts {
		key := k.Method + " " + k.Endpoint
		if k.Op != "" {
			key += " op=" + k.Op
		}
		out[key] += v
	}
	return out
}

// versions reads the resourceVersion of every workload object.
func versions(ctx context.Context, env *harness.Env) (map[string]string, error) {
	out := map[string]string{}
	var tcs infrav1.TenantClusterList
	if err := env.Client.List(ctx, &tcs, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	for _, o := range tcs.Items {
		out["TenantCluster/"+o.Name] = o.ResourceVersion
	}
	var gws infrav1.GatewayList
	if err := env.Client.List(ctx, &gws, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	for _, o := range gws.Items {
		out["Gateway/"+o.Name] = o.ResourceVersion
	}
	var cas infrav1.CloudAccountList
	if err := env.Client.List(ctx, &cas, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	for _, o := range cas.Items {
		out["CloudAccount/"+o.Name] = o.ResourceVersion
	}
	return out, nil
}

// checkQuiet: once converged, no object changes for d (no hot loop), and
// MAAS sees no write.
func checkQuiet(ctx context.Context, env *harness.Env, d time.Duration) checkResult {
	r := checkResult{Name: fmt.Sprintf("no resourceVersion change for %v", d)}
	progress("check: %s", r.Name)
	start := time.Now()
	before, err := versions(ctx, env)
	if err != nil {
		r.Detail = []string{err.Error()}
		return r
	}
	env.Sim.ResetCounts()
	select {
	case <-ctx.Done():
		r.Detail = []string{ctx.Err().Error()}
		return r
	case <-time.After(d): // the check is that nothing happens for d
	}
	after, err := versions(ctx, env)
	if err != nil {
		r.Detail = []string{err.Error()}
		return r
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if before[k] != after[k] {
			r.Detail = append(r.Detail, fmt.Sprintf("%s changed (%s → %s)", k, before[k], after[k]))
		}
	}
	for k, v := range env.Sim.Counts() {
		if k.Method != "GET" {
			r.Detail = append(r.Detail, fmt.Sprintf("MAAS write while quiet: %d × %s %s %s", v, k.Method, k.Endpoint,
				k.Op))
		}
	}
	r.Passed = len(r.Detail) == 0
	r.Took = time.Since(start).Round(time.Millisecond).String()
	return r
}

// checkFinalizers removes the finalizer of a few running clusters by hand
// and waits for the operator to put it back, with no machine released.
func checkFinalizers(ctx context.Context, env *harness.Env, limit time.Duration) checkResult {
	r := checkResult{Name: "finalizers removed by hand are put back"}
	progress("check: %s", r.Name)
	start := time.Now()
	tcs, err := listClusters(ctx, env.Client)
	if err != nil {
		r.Detail = []string{err.Error()}
		return r
	}
	env.Sim.ResetCounts()
	var names []string
	for _, tc := range tcs {
		if tc.DeletionTimestamp != nil || len(names) == 5 {
			continue // removing a deleting object's finalizer deletes it
		}
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if err := env.Client.Patch(ctx, &tc, client.RawPatch(types.MergePatchType, patch)); err != nil {
			r.Detail = append(r.Detail, fmt.Sprintf("removing %s's finalizers: %v", tc.Name, err))
			return r
		}
		names = append(names, tc.Name)
	}
	err = waitFor(ctx, limit, "the finalizers to be back", func() (bool, error) {
		for _, n := range names {
			tc := &infrav1.TenantCluster{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: n}, tc); err != nil {
				return false, err
			}
			if len(tc.Finalizers) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		r.Detail = append(r.Detail, err.Error())
	}
	for k, v := range env.Sim.Counts() {
		if k.Op == "release" || k.Op == "allocate" {
			r.Detail = append(r.Detail, fmt.Sprintf("%d × %s while restoring finalizers", v, k.Op))
		}
	}
	r.Passed = len(r.Detail) == 0
	r.Took = time.Since(start).Round(time.Millisecond).String()
	return r
}

// checkStatusRestore wipes every object's status, as a restore from backup
// does, and waits for the operator to rebuild it from MAAS without
// allocating, deploying or releasing anything.
func checkStatusRestore(ctx context.Context, env *harness.Env, limit time.Duration, live int) checkResult {
	r := checkResult{Name: "status wiped (restore from backup) is rebuilt without a MAAS write"}
	progress("check: %s", r.Name)
	start := time.Now()
	env.Sim.ResetCounts()
	tcs, err := listClusters(ctx, env.Client)
	if err != nil {
		r.Detail = []string{err.Error()}
		return r
	}
	for _, tc := range tcs {
		if tc.DeletionTimestamp != nil {
			continue
		}
		err := retry(ctx, func() error {
			fresh := &infrav1.TenantCluster{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&tc), fresh); err != nil {
				return err
			}
			fresh.Status = infrav1.TenantClusterStatus{}
			return env.Client.Status().Update(ctx, fresh)
		})
		if err != nil {
			r.Detail = append(r.Detail, fmt.Sprintf("wiping %s: %v", tc.Name, err))
		}
	}
	gw := &infrav1.Gateway{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: gatewayName}, gw); err == nil {
		gw.Status = infrav1.GatewayStatus{}
		if err := env.Client.Status().Update(ctx, gw); err != nil {
			r.Detail = append(r.Detail, fmt.Sprintf("wiping the Gateway: %v", err))
		}
	}
	ca := &infrav1.CloudAccount{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: accountName}, ca); err == nil {
		ca.Status = infrav1.CloudAccountStatus{}
		if err := env.Client.Status().Update(ctx, ca); err != nil {
			r.Detail = append(r.Detail, fmt.Sprintf("wiping the CloudAccount: %v", err))
		}
	}
	var lastSeen int
	err = waitFor(ctx, limit, "every status to be rebuilt", func() (bool, error) {
		tcs, err := listClusters(ctx, env.Client)
		if err != nil {
			return false, err
		}
		lastSeen = converged(tcs)
		return lastSeen == live, nil
	})
	if err != nil {
		r.Detail = append(r.Detail, fmt.Sprintf("%v (%d of %d clusters rebuilt)", err, lastSeen, live))
	}
	for k, v := range env.Sim.Counts() {
		if k.Op == "release" || k.Op == "allocate" || k.Op == "deploy" || k.Op == "abort" {
			r.Detail = append(r.Detail, fmt.Sprintf("%d × %s while rebuilding status", v, k.Op))
		}
	}
	r.Passed = len(r.Detail) == 0
	r.Took = time.Since(start).Round(time.Millisecond).String()
	return r
}
