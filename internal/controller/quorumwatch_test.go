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

package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

// quorumRecord is what a quorum watch saw between its start and stop.
type quorumRecord struct {
	// violations are the samples without quorum: fewer voting members
	// reachable than a majority of the voters, or a member list that could
	// not be read (a linearizable read needs a quorum).
	violations []string
	// fewest and most are the smallest and largest member lists seen,
	// learners included.
	fewest, most int
}

// watchQuorum samples a cluster's etcd members every 100 ms until the
// returned function is called, and returns what it saw. Watching from
// outside the operator is the point: the operator's own view cannot vouch
// for itself.
func watchQuorum(ctx context.Context, members func() ([]controlplane.Member, error)) (stop func() quorumRecord) {
	var (
		mu  sync.Mutex
		rec = quorumRecord{fewest: 1 << 30}
	)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			at := time.Now()
			ms, err := members()
			// A sample is a list, then a status request to each member: a
			// member removed in between (it stops once it learns so) is
			// listed as a voter and found unreachable. Only a list read
			// after the probes tells whether it still counts.
			var after []controlplane.Member
			if err == nil && quorumLost(ms, nil) != "" {
				after, err = members()
			}
			mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				rec.violations = append(rec.violations, "listing members: "+err.Error())
			default:
				rec.fewest, rec.most = min(rec.fewest, len(ms)), max(rec.most, len(ms))
				if v := quorumLost(ms, after); v != "" {
					rec.violations = append(rec.violations, at.Format("15:04:05.000")+": "+v)
				}
			}
			mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() quorumRecord {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return rec
	}
}

// quorumLost says how sample lacks a quorum (fewer voting members reachable
// than a majority of the voters), or "" when it has one. A voter absent from
// after, a list read once sample's probes were over, was removed meanwhile
// and does not count; after nil means no such list was read.
func quorumLost(sample, after []controlplane.Member) string {
	up, voters := 0, 0
	var down []string
	for _, m := range sample {
		removed := after != nil && !slices.ContainsFunc(after, func(a controlplane.Member) bool { return a.ID == m.ID })
		if m.Learner || removed {
			continue
		}
		voters++
		if m.Reachable {
			up++
		} else {
			down = append(down, fmt.Sprintf("%s (%x)", m.Name, m.ID))
		}
	}
	if up >= voters/2+1 {
		return ""
	}
	return fmt.Sprintf("%d of %d voting members reachable; unreachable: %s", up, voters, strings.Join(down, ", "))
}
