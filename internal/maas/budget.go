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
	"time"

	"golang.org/x/time/rate"
)

// DefaultPriorityShare is the part of an endpoint's request rate kept for
// priority calls (see WithPriority) when Options.PriorityShare is unset.
const DefaultPriorityShare = 0.2

type priorityKey struct{}

// WithPriority marks ctx's MAAS calls as the installation's own (the
// Gateway resizing or upgrading the cluster the operator runs in): they
// draw on a share of the endpoint's request rate that other calls never
// use, so tenants saturating the limit cannot starve them.
func WithPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, priorityKey{}, true)
}

func hasPriority(ctx context.Context) bool {
	p, _ := ctx.Value(priorityKey{}).(bool)
	return p
}

// budget is an endpoint's request rate in two lanes: shared, for every
// call, and reserved, which only priority calls draw on. A priority call
// takes whichever lane lets it go first, so it is never slower than it
// would be with one limiter; the two together never exceed the endpoint's
// rate.
type budget struct {
	shared, reserved *rate.Limiter
}

func newBudget(limit float64, burst int, share float64) *budget {
	if share <= 0 || share >= 1 {
		share = DefaultPriorityShare
	}
	reservedBurst := max(1, int(float64(burst)*share))
	return &budget{
		shared:   rate.NewLimiter(rate.Limit(limit*(1-share)), max(1, burst-reservedBurst)),
		reserved: rate.NewLimiter(rate.Limit(limit*share), reservedBurst),
	}
}

// reserve books one request at now and says how long it must wait; cancel
// gives the booking back (the caller gave up).
func (b *budget) reserve(now time.Time, priority bool) (time.Duration, func()) {
	s := b.shared.ReserveN(now, 1)
	if !priority {
		return s.DelayFrom(now), func() { s.CancelAt(time.Now()) }
	}
	r := b.reserved.ReserveN(now, 1)
	if r.DelayFrom(now) <= s.DelayFrom(now) {
		s.CancelAt(now)
		return r.DelayFrom(now), func() { r.CancelAt(time.Now()) }
	}
	r.CancelAt(now)
	return s.DelayFrom(now), func() { s.CancelAt(time.Now()) }
}

// wait blocks until a request may be sent, or fails at once when ctx would
// end before (as rate.Limiter.Wait does).
func (b *budget) wait(ctx context.Context) error {
	delay, cancel := b.reserve(time.Now(), hasPriority(ctx))
	if delay <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
		cancel()
		return fmt.Errorf("rate limit wait of %s would outlast the deadline", delay.Round(time.Millisecond))
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
}
