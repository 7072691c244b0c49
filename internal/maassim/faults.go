package maassim

import (
	"encoding/json"
	"fmt"
	"time"
)

// Faults are failures the simulator injects on demand. The zero value
// injects nothing. Set them with Config.Faults, Sim.SetFaults, the
// maas-sim flags, or PUT /sim/faults (JSON; durations as strings like
// "250ms").
type Faults struct {
	// Latency delays every MAAS API request.
	Latency time.Duration
	// ErrorRate is the probability (0..1) that an API request is answered
	// with ErrorStatus (default 503) instead of being served.
	ErrorRate   float64
	ErrorStatus int
	// RetryAfter, when positive, is sent as Retry-After (seconds) with the
	// injected errors. gomaasclient sleeps that long and retries a 503 or
	// 409 carrying it (up to 4 times), so leave it 0 unless a retry is meant.
	RetryAfter int
	// Endpoints are per-endpoint rules; the first rule matching a request
	// replaces the four settings above for that request.
	Endpoints []EndpointFault

	// FailDeployRate is the probability that a deployment ends in
	// Failed deployment; FailDeploy names machines (hostname or system ID)
	// whose deployments always fail.
	FailDeployRate float64
	FailDeploy     []string

	// StuckReleaseRate is the probability that a release never completes;
	// StuckRelease names machines whose releases never complete. A stuck
	// machine stays Releasing, or with StuckReleaseFails goes to
	// Releasing failed after the release time.
	StuckReleaseRate  float64
	StuckRelease      []string
	StuckReleaseFails bool

	// ExhaustCapacity makes every allocation answer 409 as if no machine
	// matched its constraints.
	ExhaustCapacity bool
}

// EndpointFault is a fault rule for the requests matching Method, Endpoint
// and Op (each empty matches anything). Endpoint is a pattern as in
// RequestKey, e.g. "machines/" or "machines/{id}/".
type EndpointFault struct {
	Method      string
	Endpoint    string
	Op          string
	Latency     time.Duration
	ErrorRate   float64
	ErrorStatus int
	RetryAfter  int
	// AfterCommit serves a failing request first and then answers with the
	// error (or drops the connection) instead of MAAS's answer: the change
	// is made, the client cannot know it. A proxy timing out, or a
	// connection reset, after MAAS committed an allocation looks so.
	AfterCommit bool
	// Drop closes the connection without an answer instead of sending
	// ErrorStatus.
	Drop bool
}

func (f EndpointFault) matches(k RequestKey) bool {
	return (f.Method == "" || f.Method == k.Method) &&
		(f.Endpoint == "" || f.Endpoint == k.Endpoint) &&
		(f.Op == "" || f.Op == k.Op)
}

// requestFault is what applies to one request.
type requestFault struct {
	latency           time.Duration
	errorRate         float64
	errorStatus       int
	retryAfter        int
	afterCommit, drop bool
}

func (f *Faults) forRequest(k RequestKey) requestFault {
	for _, e := range f.Endpoints {
		if e.matches(k) {
			return requestFault{e.Latency, e.ErrorRate, e.ErrorStatus, e.RetryAfter, e.AfterCommit, e.Drop}
		}
	}
	return requestFault{latency: f.Latency, errorRate: f.ErrorRate, errorStatus: f.ErrorStatus, retryAfter: f.RetryAfter}
}

func (f *Faults) clone() Faults {
	c := *f
	c.Endpoints = append([]EndpointFault(nil), f.Endpoints...)
	c.FailDeploy = append([]string(nil), f.FailDeploy...)
	c.StuckRelease = append([]string(nil), f.StuckRelease...)
	return c
}

func (f *Faults) validate() error {
	check := func(what string, rate float64, status, retry int) error {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("%s: error rate %v is not in [0,1]", what, rate)
		}
		if status != 0 && (status < 400 || status > 599) {
			return fmt.Errorf("%s: error status %d is not an HTTP error", what, status)
		}
		if retry < 0 {
			return fmt.Errorf("%s: negative retryAfter", what)
		}
		return nil
	}
	if err := check("faults", f.ErrorRate, f.ErrorStatus, f.RetryAfter); err != nil {
		return err
	}
	for i, e := range f.Endpoints {
		if err := check(fmt.Sprintf("endpoint rule %d", i), e.ErrorRate, e.ErrorStatus, e.RetryAfter); err != nil {
			return err
		}
		if e.Latency < 0 {
			return fmt.Errorf("endpoint rule %d: negative latency", i)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("faults: negative latency")
	}
	for _, r := range []float64{f.FailDeployRate, f.StuckReleaseRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("faults: probability %v is not in [0,1]", r)
		}
	}
	return nil
}

// The JSON forms spell durations as Go duration strings.

type endpointFaultJSON struct {
	Method      string  `json:"method,omitempty"`
	Endpoint    string  `json:"endpoint,omitempty"`
	Op          string  `json:"op,omitempty"`
	Latency     string  `json:"latency,omitempty"`
	ErrorRate   float64 `json:"errorRate,omitempty"`
	ErrorStatus int     `json:"errorStatus,omitempty"`
	RetryAfter  int     `json:"retryAfter,omitempty"`
	AfterCommit bool    `json:"afterCommit,omitempty"`
	Drop        bool    `json:"drop,omitempty"`
}

type faultsJSON struct {
	Latency           string              `json:"latency,omitempty"`
	ErrorRate         float64             `json:"errorRate,omitempty"`
	ErrorStatus       int                 `json:"errorStatus,omitempty"`
	RetryAfter        int                 `json:"retryAfter,omitempty"`
	Endpoints         []endpointFaultJSON `json:"endpoints,omitempty"`
	FailDeployRate    float64             `json:"failDeployRate,omitempty"`
	FailDeploy        []string            `json:"failDeploy,omitempty"`
	StuckReleaseRate  float64             `json:"stuckReleaseRate,omitempty"`
	StuckRelease      []string            `json:"stuckRelease,omitempty"`
	StuckReleaseFails bool                `json:"stuckReleaseFails,omitempty"`
	ExhaustCapacity   bool                `json:"exhaustCapacity,omitempty"`
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func parseDurationField(what, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return d, nil
}

// MarshalJSON writes the faults with durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{
		Latency: durationString(f.Latency), ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		RetryAfter: f.RetryAfter, FailDeployRate: f.FailDeployRate, FailDeploy: f.FailDeploy,
		StuckReleaseRate: f.StuckReleaseRate, StuckRelease: f.StuckRelease,
		StuckReleaseFails: f.StuckReleaseFails, ExhaustCapacity: f.ExhaustCapacity,
	}
	for _, e := range f.Endpoints {
		j.Endpoints = append(j.Endpoints, endpointFaultJSON{
			Method: e.Method, Endpoint: e.Endpoint, Op: e.Op, Latency: durationString(e.Latency),
			ErrorRate: e.ErrorRate, ErrorStatus: e.ErrorStatus, RetryAfter: e.RetryAfter,
			AfterCommit: e.AfterCommit, Drop: e.Drop,
		})
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads faults written by MarshalJSON; unknown keys are errors.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var j faultsJSON
	if err := strictUnmarshal(data, &j); err != nil {
		return err
	}
	lat, err := parseDurationField("latency", j.Latency)
	if err != nil {
		return err
	}
	out := Faults{
		Latency: lat, ErrorRate: j.ErrorRate, ErrorStatus: j.ErrorStatus, RetryAfter: j.RetryAfter,
		FailDeployRate: j.FailDeployRate, FailDeploy: j.FailDeploy,
		StuckReleaseRate: j.StuckReleaseRate, StuckRelease: j.StuckRelease,
		StuckReleaseFails: j.StuckReleaseFails, ExhaustCapacity: j.ExhaustCapacity,
	}
	for i, e := range j.Endpoints {
		lat, err := parseDurationField(fmt.Sprintf("endpoints[%d].latency", i), e.Latency)
		if err != nil {
			return err
		}
		out.Endpoints = append(out.Endpoints, EndpointFault{
			Method: e.Method, Endpoint: e.Endpoint, Op: e.Op, Latency: lat,
			ErrorRate: e.ErrorRate, ErrorStatus: e.ErrorStatus, RetryAfter: e.RetryAfter,
			AfterCommit: e.AfterCommit, Drop: e.Drop,
		})
	}
	*f = out
	return nil
}
