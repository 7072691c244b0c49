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
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// observer records when things happened: the simulator's own state changes
// (from its event stream) and when the operator wrote them into a
// TenantCluster's status (from a watch), so the difference is the
// operator's delay.
type observer struct {
	cache  cache.Cache
	cancel func()

	mu         sync.Mutex
	deployedAt map[string]time.Time // sim: machine reached Deployed
	allocAt    map[string]time.Time // sim: machine allocated
	deployAt   map[string]time.Time // sim: deployment started
	ownerOf    map[string]string    // machine → owning cluster, from its annotations
	releasedAt map[string]time.Time // sim: machine back in Ready
	recordedAt map[string]time.Time // operator: status shows the machine Deployed
	runningAt  map[string]time.Time // cluster first seen Running
	goneAt     map[string]time.Time // cluster deleted
	deployFail int
	relFail    int
	// deployments counts every time the simulator brought a machine to
	// Deployed (a machine released and deployed again counts twice): the
	// denominator of the chaos run's requests per machine.
	deployments int
}

func newObserver(ctx context.Context, env *harness.Env) (*observer, error) {
	o := &observer{
		deployedAt: map[string]time.Time{}, allocAt: map[string]time.Time{}, deployAt: map[string]time.Time{},
		ownerOf: map[string]string{}, releasedAt: map[string]time.Time{},
		recordedAt: map[string]time.Time{}, runningAt: map[string]time.Time{}, goneAt: map[string]time.Time{},
	}
	stopSim := env.Sim.Subscribe(func(e maassim.Event) {
		o.mu.Lock()
		defer o.mu.Unlock()
		id := e.Machine.SystemID
		if n := e.Machine.Annotations[maas.AnnotationOwnerName]; n != "" {
			o.ownerOf[id] = n
		}
		switch e.Type {
		case maassim.EventAllocated:
			o.allocAt[id] = e.Time
		case maassim.EventDeploying:
			o.deployAt[id] = e.Time
		case maassim.EventDeployed:
			o.deployedAt[id] = e.Time
			o.deployments++
		case maassim.EventReleased:
			o.releasedAt[e.Machine.SystemID] = e.Time
		case maassim.EventDeployFailed:
			o.deployFail++
		case maassim.EventReleaseFailed:
			o.relFail++
		}
	})
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme,
		DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		stopSim()
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &infrav1.TenantCluster{})
	if err != nil {
		stopSim()
		return nil, err
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.sawCluster(obj) },
		UpdateFunc: func(_, obj any) { o.sawCluster(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if tc, ok := obj.(*infrav1.TenantCluster); ok {
				o.mu.Lock()
				o.goneAt[tc.Name] = time.Now()
				o.mu.Unlock()
			}
		},
	})
	if err != nil {
		stopSim()
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { _ = c.Start(cctx) }()
	if !c.WaitForCacheSync(cctx) {
		cancel()
		stopSim()
		return nil, fmt.Errorf("the observer's cache did not sync")
	}
	o.cache = c
	o.cancel = func() { cancel(); stopSim() }
	return o, nil
}

func (o *observer) sawCluster(obj any) {
	tc, ok := obj.(*infrav1.TenantCluster)
	if !ok {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range tc.Status.Machines {
		if m.State == "Deployed" {
			if _, seen := o.recordedAt[m.SystemID]; !seen {
				o.recordedAt[m.SystemID] = now
			}
		}
	}
	if tc.Status.Phase == infrav1.TenantPhaseRunning && tc.DeletionTimestamp == nil {
		if _, seen := o.runningAt[tc.Name]; !seen {
			o.runningAt[tc.Name] = now
		}
	}
}

func (o *observer) stop() { o.cancel() }

// reader is a cached reader of the workload's TenantClusters.
func (o *observer) reader() client.Reader { return o.cache }

// recordDelays returns, for every machine the simulator deployed and the
// operator recorded, how long the operator took to show it; and how many
// deployed machines it never showed.
func (o *observer) recordDelays() (delays []time.Duration, unrecorded int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, at := range o.deployedAt {
		rec, ok := o.recordedAt[id]
		if !ok {
			unrecorded++
			continue
		}
		delays = append(delays, max(0, rec.Sub(at)))
	}
	return delays, unrecorded
}

// --- the manager's metrics ---

// sample is one Prometheus text exposition, reduced to what is summed.
type sample map[string]float64 // "name{labels}" → value

func parseMetrics(text string) sample {
	s := sample{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		s[line[:i]] = v
	}
	return s
}

// sum adds every series of metric name whose labels contain all of match
// (each `key="value"`).
func (s sample) sum(name string, match ...string) float64 {
	var t float64
	for k, v := range s {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, m := range match {
			if !strings.Contains(labels, m) {
				ok = false
				break
			}
		}
		if ok {
			t += v
		}
	}
	return t
}

// by groups metric name's series by the value of label.
func (s sample) by(name, label string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		val := "?"
		if _, rest, ok := strings.Cut(labels, label+`="`); ok {
			val, _, _ = strings.Cut(rest, `"`)
		}
		out[val] += v
	}
	return out
}

// sub is s - base for counters (a series missing in base counts from 0).
func (s sample) sub(base sample) sample {
	out := sample{}
	for k, v := range s {
		out[k] = v - base[k]
	}
	return out
}

func scrape(ctx context.Context, env *harness.Env) (sample, error) {
	text, err := env.Manager.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	return parseMetrics(text), nil
}

// memSampler follows the manager's memory: the kernel's peak RSS and the Go
// heap the manager reports, sampled every interval.
type memSampler struct {
	mu       sync.Mutex
	peakRSS  int64
	peakHeap float64 // go_memstats_heap_inuse_bytes
	peakSys  float64 // go_memstats_sys_bytes
	stop     func()
}

func sampleMemory(ctx context.Context, env *harness.Env, every time.Duration) *memSampler {
	m := &memSampler{}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	m.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.once(ctx, env)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) once(ctx context.Context, env *harness.Env) {
	ms, err := env.Manager.Memory()
	s, serr := scrape(ctx, env)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.peakRSS = max(m.peakRSS, ms.PeakRSS)
	}
	if serr == nil {
		m.peakHeap = max(m.peakHeap, s.sum("go_memstats_heap_inuse_bytes"))
		m.peakSys = max(m.peakSys, s.sum("go_memstats_sys_bytes"))
	}
}

func (m *memSampler) result() (peakRSS int64, peakHeap, peakSys float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peakRSS, m.peakHeap, m.peakSys
}

// timeline is where a cluster's time to Running goes, each segment from the
// cluster's creation: its first machine allocated, its last deployment
// started, its last machine Deployed in the simulator, and Running in its
// status. Medians over the clusters, in seconds.
type timeline struct {
	FirstAllocate   float64 `json:"firstAllocateS"`
	LastDeployStart float64 `json:"lastDeployStartS"`
	LastDeployed    float64 `json:"lastDeployedS"`
	Running         float64 `json:"runningS"`
}

func (o *observer) timelines(createdAt map[string]time.Time) timeline {
	o.mu.Lock()
	defer o.mu.Unlock()
	type span struct{ firstAlloc, lastDeploy, lastDeployed time.Time }
	spans := map[string]*span{}
	for id, owner := range o.ownerOf {
		s := spans[owner]
		if s == nil {
			s = &span{}
			spans[owner] = s
		}
		if t, ok := o.allocAt[id]; ok && (s.firstAlloc.IsZero() || t.Before(s.firstAlloc)) {
			s.firstAlloc = t
		}
		if t := o.deployAt[id]; t.After(s.lastDeploy) {
			s.lastDeploy = t
		}
		if t := o.deployedAt[id]; t.After(s.lastDeployed) {
			s.lastDeployed = t
		}
	}
	var a, d, dd, r []float64
	for name, c := range createdAt {
		s := spans[name]
		run, ok := o.runningAt[name]
		if s == nil || !ok {
			continue
		}
		a = append(a, s.firstAlloc.Sub(c).Seconds())
		d = append(d, s.lastDeploy.Sub(c).Seconds())
		dd = append(dd, s.lastDeployed.Sub(c).Seconds())
		r = append(r, run.Sub(c).Seconds())
	}
	return timeline{median(a), median(d), median(dd), median(r)}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
