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

package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeWorld is a set of steps whose results persist across runs, as the
// clusters' objects do across installer runs; one step fails once.
type fakeWorld struct {
	done   []bool
	runs   []int
	failAt int
	failed bool
}

func (w *fakeWorld) steps() []Step {
	var steps []Step
	for i := range w.done {
		steps = append(steps, Step{
			Name: fmt.Sprintf("step %d", i),
			Done: func(context.Context) (bool, string, error) { return w.done[i], "found", nil },
			Run: func(context.Context) (string, error) {
				w.runs[i]++
				if i == w.failAt && !w.failed {
					w.failed = true
					return "", errors.New("boom")
				}
				w.done[i] = true
				return "made", nil
			},
		})
	}
	return steps
}

// fakeClock advances one second each time it is read.
func fakeClock() func() time.Time {
	t := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestRunnerResumesAfterAFailureAtEachStep(t *testing.T) {
	const n = 9
	for failAt := range n {
		t.Run(fmt.Sprintf("fail at %d", failAt), func(t *testing.T) {
			w := &fakeWorld{done: make([]bool, n), runs: make([]int, n), failAt: failAt}
			var out bytes.Buffer
			r := Runner{Out: &out, Now: fakeClock()}

			results, err := r.Run(context.Background(), w.steps())
			var se *StepError
			if !errors.As(err, &se) || se.Step != fmt.Sprintf("step %d", failAt) {
				t.Fatalf("first run: error %v, want a StepError of step %d", err, failAt)
			}
			if !strings.Contains(err.Error(), "run the same command again") {
				t.Errorf("the error does not say how to resume: %v", err)
			}
			if len(results) != failAt+1 || results[failAt].Outcome != OutcomeFailed {
				t.Fatalf("first run: results %+v, want %d ending in a failure", results, failAt+1)
			}
			for i := failAt + 1; i < n; i++ {
				if w.runs[i] != 0 {
					t.Errorf("step %d ran after step %d failed", i, failAt)
				}
			}

			results, err = r.Run(context.Background(), w.steps())
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			for i, res := range results {
				want := OutcomeDone
				if i < failAt {
					want = OutcomeSkipped
				}
				if res.Outcome != want {
					t.Errorf("second run: step %d %s, want %s", i, res.Outcome, want)
				}
				wantRuns := 1
				if i == failAt {
					wantRuns = 2
				}
				if w.runs[i] != wantRuns {
					t.Errorf("step %d ran %d times, want %d: a done step must not run again", i, w.runs[i], wantRuns)
				}
			}
			if !strings.Contains(out.String(), fmt.Sprintf("[%d/%d] step %d: failed (1s, ", failAt+1, n, failAt)) {
				t.Errorf("no progress line with the elapsed time for the failed step:\n%s", out.String())
			}

			// A third run finds everything done and runs nothing.
			results, err = r.Run(context.Background(), w.steps())
			if err != nil {
				t.Fatal(err)
			}
			for i, res := range results {
				if res.Outcome != OutcomeSkipped {
					t.Errorf("third run: step %d %s", i, res.Outcome)
				}
			}
		})
	}
}

func TestRunnerStopsWhenCheckingFailsOrTheContextEnds(t *testing.T) {
	ran := false
	steps := []Step{
		{Name: "check fails", Done: func(context.Context) (bool, string, error) { return false, "", errors.New("unreachable") },
			Run: func(context.Context) (string, error) { ran = true; return "", nil }},
	}
	if _, err := (Runner{}).Run(context.Background(), steps); err == nil || ran {
		t.Errorf("a step whose check fails ran (%v) or did not fail the run (%v)", ran, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	steps[0].Done = nil
	if _, err := (Runner{}).Run(ctx, steps); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("a cancelled run ran a step (%v) or did not say so (%v)", ran, err)
	}
}

func TestSummary(t *testing.T) {
	var out bytes.Buffer
	Summary(&out, []Result{
		{Step: "bootstrap cluster", Outcome: OutcomeSkipped, Took: 120 * time.Millisecond},
		{Step: "move", Outcome: OutcomeDone, Took: 90*time.Second + 400*time.Millisecond},
	})
	want := `summary:
  bootstrap cluster  already done    100ms
  move               done            1m30s
  total                              1m31s
`
	if out.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", out.String(), want)
	}
}
