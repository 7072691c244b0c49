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

package maassim

import (
	"slices"
	"sync"
	"time"
)

// DeployClock measures how much of a span of wall time MAAS spent
// deploying machines: the union of the intervals during which at least one
// machine was Deploying. What a run took beyond that is the overhead of
// whatever drove the deployments (an installer, a controller), the part a
// real MAAS, whose deployments take minutes, would not hide.
type DeployClock struct {
	mu sync.Mutex
	// started is when each machine now Deploying began.
	started map[string]time.Time
	spans   []deploySpan
	stop    func()
}

// deploySpan is one machine's deployment, [from, to).
type deploySpan struct{ from, to time.Time }

// ClockDeployments starts a DeployClock on s's state changes from now on.
func ClockDeployments(s *Sim) *DeployClock {
	c := &DeployClock{started: map[string]time.Time{}}
	c.stop = s.Subscribe(c.observe)
	return c
}

func (c *DeployClock) observe(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := e.Machine.SystemID
	switch e.Type {
	case EventDeploying:
		c.started[id] = e.Time
	case EventDeployed, EventDeployFailed, EventAborted, EventReleasing, EventDiskErasing:
		if from, ok := c.started[id]; ok {
			c.spans = append(c.spans, deploySpan{from, e.Time})
			delete(c.started, id)
		}
	}
}

// Stop ends the measurement; Busy keeps answering.
func (c *DeployClock) Stop() { c.stop() }

// Deployments is how many deployments ended.
func (c *DeployClock) Deployments() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.spans)
}

// Busy is the wall time during which at least one machine was Deploying,
// up to now (a deployment still running counts until now).
func (c *DeployClock) Busy(now time.Time) time.Duration {
	c.mu.Lock()
	spans := slices.Clone(c.spans)
	for _, from := range c.started {
		spans = append(spans, deploySpan{from, now})
	}
	c.mu.Unlock()
	return unionLength(spans)
}

// unionLength is the length of the union of spans.
func unionLength(spans []deploySpan) time.Duration {
	slices.SortFunc(spans, func(a, b deploySpan) int { return a.from.Compare(b.from) })
	var total time.Duration
	var cur deploySpan
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(spans) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total
}
