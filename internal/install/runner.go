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
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Step is one step of an installation.
type Step struct {
	// Name is what progress and the summary call it.
	Name string
	// Done, when set, reports whether the step's result already holds,
	// with a word on what was found; the step is then not run. A re-run
	// after a failure passes quickly over what an earlier run did.
	Done func(ctx context.Context) (bool, string, error)
	// Run does the step and says what it did. It must be safe to run
	// again after it failed half-way.
	Run func(ctx context.Context) (string, error)
}

// Outcome is how a step ended.
type Outcome string

// The outcomes the summary shows.
const (
	OutcomeDone    Outcome = "done"
	OutcomeSkipped Outcome = "already done"
	OutcomeFailed  Outcome = "failed"
)

// Result is one line of the summary.
type Result struct {
	Step    string
	Outcome Outcome
	Took    time.Duration
	Message string
}

// Runner runs steps in order, printing one line per step with its elapsed
// time, and stops at the first failure.
type Runner struct {
	// Out receives progress and the summary; nil discards them.
	Out io.Writer
	// Now is the clock; nil means time.Now (tests pass a fake one).
	Now func() time.Time
	// AfterStep, when set, runs after each step that holds; an error it
	// returns ends the run there (tests kill an installation with it).
	AfterStep func(step string) error
}

// StepError is the failure of one step; the error says which, and that
// running again resumes.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: %v (run the same command again to resume)", e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Run runs each step whose result does not hold yet, and returns what
// happened to every step reached. The error is a *StepError.
func (r Runner) Run(ctx context.Context, steps []Step) ([]Result, error) {
	out, now := r.Out, r.Now
	if out == nil {
		out = io.Discard
	}
	if now == nil {
		now = time.Now
	}
	begin := now()
	var results []Result
	for i, s := range steps {
		start := now()
		res, err := runStep(ctx, s)
		res.Took = now().Sub(start)
		results = append(results, res)
		_, _ = fmt.Fprintf(out, "[%d/%d] %s: %s (%s, %s in all)%s\n", i+1, len(steps), s.Name, res.Outcome,
			round(res.Took), round(now().Sub(begin)), suffix(res.Message))
		if err == nil && r.AfterStep != nil {
			err = r.AfterStep(s.Name)
		}
		if err != nil {
			return results, &StepError{Step: s.Name, Err: err}
		}
	}
	return results, nil
}

func runStep(ctx context.Context, s Step) (Result, error) {
	res := Result{Step: s.Name}
	if err := ctx.Err(); err != nil {
		res.Outcome = OutcomeFailed
		return res, err
	}
	if s.Done != nil {
		done, msg, err := s.Done(ctx)
		if err != nil {
			res.Outcome, res.Message = OutcomeFailed, "checking: "+err.Error()
			return res, fmt.Errorf("checking whether it is done: %w", err)
		}
		if done {
			res.Outcome, res.Message = OutcomeSkipped, msg
			return res, nil
		}
	}
	msg, err := s.Run(ctx)
	if err != nil {
		res.Outcome, res.Message = OutcomeFailed, err.Error()
		return res, err
	}
	res.Outcome, res.Message = OutcomeDone, msg
	return res, nil
}

// Summary writes the table printed at the end: each step, how it ended and
// how long it took.
func Summary(out io.Writer, results []Result) {
	var total time.Duration
	width := 0
	for _, r := range results {
		width = max(width, len(r.Step))
		total += r.Took
	}
	_, _ = fmt.Fprintln(out, "summary:")
	for _, r := range results {
		_, _ = fmt.Fprintf(out, "  %-*s  %-12s %8s\n", width, r.Step, r.Outcome, round(r.Took))
	}
	_, _ = fmt.Fprintf(out, "  %-*s  %-12s %8s\n", width, "total", "", round(total))
}

func suffix(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// round keeps progress lines short: tenths below a minute, seconds above.
func round(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
