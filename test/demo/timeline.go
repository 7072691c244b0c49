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
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// step is one stage of the life cycle. run returns what happened, in a
// phrase, or why the step did not hold.
type step struct {
	title string
	// fatal steps stop the walk when they fail: what follows needs them.
	fatal bool
	run   func(ctx context.Context) (string, error)
}

// result is a step as it went.
type result struct {
	title, summary string
	err            error
	took           time.Duration
}

// timeline prints the steps as they run, progress while they wait, and a
// table at the end.
type timeline struct {
	out     io.Writer
	start   time.Time
	results []result
	// stepStart is when the current step began; progress is shown from it.
	stepStart time.Time
	lastState string
}

func (t *timeline) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(t.out, format, args...)
}

// run walks the steps, stopping at the first fatal failure, and tells
// whether every step held.
func (t *timeline) run(ctx context.Context, steps []step) bool {
	ok := true
	for i, s := range steps {
		t.printf("\n[%d/%d] %s\n", i+1, len(steps), s.title)
		t.stepStart, t.lastState = time.Now(), ""
		summary, err := s.run(ctx)
		r := result{title: s.title, summary: summary, err: err, took: time.Since(t.stepStart)}
		t.results = append(t.results, r)
		if err != nil {
			ok = false
			t.printf("      FAILED after %s: %v\n", round(r.took), err)
			if s.fatal || ctx.Err() != nil {
				for _, rest := range steps[i+1:] {
					t.results = append(t.results, result{title: rest.title, err: errSkipped})
				}
				break
			}
			continue
		}
		t.printf("      ok in %s: %s\n", round(r.took), summary)
	}
	return ok
}

var errSkipped = errors.New("not run: an earlier step failed")

// progress prints the state being waited on when it changes.
func (t *timeline) progress(state string) {
	if state == t.lastState {
		return
	}
	t.lastState = state
	t.printf("      %6s  %s\n", "+"+round(time.Since(t.stepStart)).String(), state)
}

// note prints a line inside the current step.
func (t *timeline) note(format string, args ...any) {
	t.printf("      %6s  %s\n", "+"+round(time.Since(t.stepStart)).String(), fmt.Sprintf(format, args...))
}

// summary prints the table of every step.
func (t *timeline) summary() {
	t.printf("\nTimeline (total %s)\n", round(time.Since(t.start)))
	width := 0
	for _, r := range t.results {
		width = max(width, len(r.title))
	}
	for i, r := range t.results {
		mark, what := "ok  ", r.summary
		switch {
		case errors.Is(r.err, errSkipped):
			mark, what = "--  ", r.err.Error()
		case r.err != nil:
			mark, what = "FAIL", r.err.Error()
		}
		took := ""
		if !errors.Is(r.err, errSkipped) {
			took = round(r.took).String()
		}
		if first, _, cut := strings.Cut(what, "\n"); cut {
			what = first + " …"
		}
		t.printf("  %s %2d  %-*s  %7s  %s\n", mark, i+1, width, r.title, took, what)
	}
}

// failed returns the first step that did not hold, or "".
func (t *timeline) failed() string {
	for i, r := range t.results {
		if r.err != nil {
			return fmt.Sprintf("step %d (%s)", i+1, r.title)
		}
	}
	return ""
}

// waitFor polls check until it reports done, showing each new state, for at
// most timeout. check returns the state in words; an error from it ends the
// wait at once (a condition that can no longer be met).
func (t *timeline) waitFor(ctx context.Context, what string, timeout time.Duration,
	check func(ctx context.Context) (done bool, state string, err error)) error {
	// Each look gets a deadline of its own, not the wait's: a client that
	// sees the wait's deadline near refuses to even ask, and that refusal
	// would be the last state shown.
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		lookCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		done, state, err := check(lookCtx)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if state != "" {
			last = state
			t.progress(state)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-deadline.C:
			if last == "" {
				last = "nothing observed"
			}
			return fmt.Errorf("%s: gave up after %s (last seen: %s)", what, timeout, last)
		case <-tick.C:
		}
	}
}

func round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
