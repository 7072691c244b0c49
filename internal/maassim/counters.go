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
	"sync"
	"time"
)

// ServeStats says how much work the simulator did answering API requests,
// so a benchmark can show that the simulator was not its bottleneck: Busy
// is the time spent in the handlers (authentication, the operation, the
// response), injected latency excluded, summed over requests that may have
// run in parallel.
type ServeStats struct {
	// Requests is the number of API requests served past fault injection.
	Requests int64 `json:"requests"`
	// Busy is the handlers' time summed over those requests.
	Busy time.Duration `json:"busyNs"`
	// Max is the longest single request.
	Max time.Duration `json:"maxNs"`
}

// PerSecond is how many requests a second the simulator could answer on
// one core at the observed cost per request; zero when nothing was served.
func (st ServeStats) PerSecond() float64 {
	if st.Requests == 0 || st.Busy <= 0 {
		return 0
	}
	return float64(st.Requests) / st.Busy.Seconds()
}

// Mean is the average time spent on one request.
func (st ServeStats) Mean() time.Duration {
	if st.Requests == 0 {
		return 0
	}
	return st.Busy / time.Duration(st.Requests)
}

// serveTimer accumulates ServeStats; its zero value is ready to use.
type serveTimer struct {
	mu sync.Mutex
	st ServeStats
}

func (t *serveTimer) observe(d time.Duration) {
	t.mu.Lock()
	t.st.Requests++
	t.st.Busy += d
	t.st.Max = max(t.st.Max, d)
	t.mu.Unlock()
}

func (t *serveTimer) stats() ServeStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

func (t *serveTimer) reset() {
	t.mu.Lock()
	t.st = ServeStats{}
	t.mu.Unlock()
}

// served records a request that started being served at start.
func (s *Sim) served(start time.Time) { s.serveTime.observe(time.Since(start)) }

// ServeStats returns the serving work since the simulator started or since
// ResetCounts.
func (s *Sim) ServeStats() ServeStats { return s.serveTime.stats() }
