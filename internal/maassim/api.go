package maassim

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RequestKey identifies a kind of API request for the counters: the HTTP
// method, the endpoint pattern (e.g. "machines/", "machines/{id}/",
// "resourcepool/{id}/", or "unknown" for paths MAAS does not serve) and the
// op ("" when none).
type RequestKey struct {
	Method   string `json:"method"`
	Endpoint string `json:"endpoint"`
	Op       string `json:"op"`
}

// apiError is an error response: plain text unless jsonBody is set.
type apiError struct {
	status   int
	body     string
	jsonBody any
	header   map[string]string
}

func (e *apiError) write(w http.ResponseWriter) {
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	if e.jsonBody != nil {
		writeJSON(w, e.status, e.jsonBody)
		return
	}
	writeText(w, e.status, e.body)
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := jsonMarshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "maas-sim: encoding response: "+err.Error())
		return
	}
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func conflict(msg string) *apiError   { return &apiError{status: http.StatusConflict, body: msg} }
func badRequest(msg string) *apiError { return &apiError{status: http.StatusBadRequest, body: msg} }
func notFound(msg string) *apiError   { return &apiError{status: http.StatusNotFound, body: msg} }

// forbidden is MAAS's PermissionDenied without a message.
var forbidden = &apiError{status: http.StatusForbidden}

// validationError is MAAS's MAASAPIValidationError: 400 with the form's
// errors as JSON.
func validationError(errs map[string][]string) *apiError {
	return &apiError{status: http.StatusBadRequest, jsonBody: errs}
}

// call is one API request being served.
type call struct {
	s     *Sim
	w     http.ResponseWriter
	r     *http.Request
	user  *user
	query params
	form  params
	args  []string
	op    string

	// The answer, written once the handler has returned and so released
	// the simulator's lock: a slow client never holds up the others.
	body    []byte
	recycle *[]byte // a listBuffers buffer holding body
	// noContent answers 204 with an empty body (MAAS's rc.DELETED).
	noContent bool
}

// reply sets a 200 JSON answer.
func (c *call) reply(doc []byte) { c.body = doc }

// replyJSON sets a 200 answer of v as JSON.
func (c *call) replyJSON(v any) {
	b, err := jsonMarshal(v)
	if err != nil {
		panic(fmt.Sprintf("maassim: encoding a response: %v", err))
	}
	c.body = b
}

// data is what MAAS's handlers read as request.data / request.POST: the
// form body for POST and PUT, the query for GET.
func (c *call) data() params {
	if c.r.Method == http.MethodGet {
		return c.query
	}
	return c.form
}

type opHandler func(c *call) *apiError

type route struct {
	pattern   string
	anonymous bool
	ops       map[string]opHandler // "METHOD op"
}

// routeFor maps the path under /MAAS/api/2.0/ to an endpoint; args are
// the path's variable parts.
func (s *Sim) routeFor(segs []string) (*route, []string) {
	switch len(segs) {
	case 1:
		if r, ok := collectionRoutes[segs[0]]; ok {
			return r, nil
		}
	case 2:
		if r, ok := itemRoutes[segs[0]]; ok {
			return r, segs[1:]
		}
	case 3:
		// subnets/10.0.0.0/24/: a CIDR is a subnet's id too.
		if segs[0] == endpointSubnets {
			return itemRoutes[segs[0]], []string{segs[1] + "/" + segs[2]}
		}
	}
	return nil, nil
}

// splitAPIPath splits the path under the API root into segments and takes
// off an "/op-<name>" suffix (MAAS 3.3+).
func splitAPIPath(rest string) (segs []string, pathOp string) {
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return nil, ""
	}
	segs = strings.Split(rest, "/")
	if n := len(segs); n > 1 && strings.HasPrefix(segs[n-1], "op-") && len(segs[n-1]) > 3 {
		pathOp = strings.TrimPrefix(segs[n-1], "op-")
		segs = segs[:n-1]
	}
	return segs, pathOp
}

// serveAPI serves /MAAS/api/2.0/....
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-MAAS-API-Hash", s.apiHash)
	segs, pathOp := splitAPIPath(strings.TrimPrefix(r.URL.Path, apiRoot))
	rt, args := s.routeFor(segs)
	query := parseParams(r.URL.RawQuery)
	body, err := readBody(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	// As MAAS: the query's op, else the form's, else the path's.
	op, _ := query.get("op")
	if op == "" {
		op, _ = body.get("op")
	}
	if op == "" {
		op = pathOp
	}
	key := RequestKey{Method: r.Method, Endpoint: "unknown", Op: op}
	if rt != nil {
		key.Endpoint = rt.pattern
	}
	s.count(key)
	fault := s.injectFault(r.Context(), key)
	if fault.err != nil && !fault.afterCommit {
		fault.fail(w)
		return
	}
	if fault.err != nil {
		// Serve, then lose MAAS's answer: the client sees only the fault.
		defer fault.fail(w)
		w = &discardingWriter{header: http.Header{}}
	}
	defer s.served(time.Now())
	if rt == nil {
		writeText(w, http.StatusNotFound, "Unknown API endpoint: "+r.URL.Path+".")
		return
	}
	var u *user
	if !rt.anonymous {
		var authErr *apiError
		u, authErr = s.authenticate(r, query, body)
		if authErr != nil {
			authErr.write(w)
			return
		}
		if u == nil {
			// piston's challenge: rc.FORBIDDEN, which is a 401.
			writeText(w, http.StatusUnauthorized, "Forbidden")
			return
		}
	}
	h := rt.ops[r.Method+" "+op] // as getOp and friends build the keys
	if h == nil {
		shown := op
		if shown == "" {
			shown = "None"
		}
		writeText(w, http.StatusBadRequest, fmt.Sprintf("Unrecognised signature: method=%s op=%s", r.Method, shown))
		return
	}
	c := &call{s: s, w: w, r: r, user: u, query: query, form: body, args: args, op: op}
	if e := h(c); e != nil {
		e.write(w)
		return
	}
	if c.noContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeRawJSON(w, http.StatusOK, c.body)
	if c.recycle != nil && cap(c.body) <= maxPooledBuffer {
		*c.recycle = c.body
		listBuffers.Put(c.recycle)
	}
}

// injectedFault is what a request is answered with instead of being
// served, or after (afterCommit); zero err for none.
type injectedFault struct {
	err         *apiError
	afterCommit bool
	drop        bool
}

// fail sends the fault: the error, or nothing at all on a dropped connection.
func (f injectedFault) fail(w http.ResponseWriter) {
	if f.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// Not hijackable (HTTP/2): abort the response, which the
		// server turns into a reset stream.
		panic(http.ErrAbortHandler)
	}
	f.err.write(w)
}

// discardingWriter takes a response nobody will see.
type discardingWriter struct{ header http.Header }

func (d *discardingWriter) Header() http.Header         { return d.header }
func (d *discardingWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardingWriter) WriteHeader(int)             {}

// injectFault applies the configured latency and error rate to a request.
func (s *Sim) injectFault(ctx context.Context, key RequestKey) injectedFault {
	s.faultMu.Lock()
	f := s.faults.forRequest(key)
	fail := f.errorRate > 0 && s.faultRng.Float64() < f.errorRate
	s.faultMu.Unlock()
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if !fail {
		return injectedFault{}
	}
	status := f.errorStatus
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	e := &apiError{status: status, body: "maas-sim: injected fault (" + http.StatusText(status) + ")"}
	if f.retryAfter > 0 {
		e.header = map[string]string{"Retry-After": strconv.Itoa(f.retryAfter)}
	}
	return injectedFault{err: e, afterCommit: f.afterCommit, drop: f.drop}
}

func (s *Sim) count(k RequestKey) {
	s.countMu.Lock()
	s.counts[k]++
	s.countMu.Unlock()
}

// Counts returns how many API requests the simulator received, per method,
// endpoint pattern and op (requests refused by faults or authentication
// included).
func (s *Sim) Counts() map[RequestKey]int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return maps.Clone(s.counts)
}

// ResetCounts zeroes the request counters.
func (s *Sim) ResetCounts() {
	s.countMu.Lock()
	s.counts = map[RequestKey]int{}
	s.countMu.Unlock()
	s.serveTime.reset()
}

func sortedKeys(m map[RequestKey]int) []RequestKey {
	keys := make([]RequestKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b RequestKey) int {
		return cmp.Or(strings.Compare(a.Endpoint, b.Endpoint), strings.Compare(a.Method, b.Method), strings.Compare(a.Op, b.Op))
	})
	return keys
}

// Handler serves the MAAS API under /MAAS/api/2.0/, Prometheus metrics at
// /metrics, a probe at /healthz and the simulator's admin endpoints under
// /sim/ (an admin's key needed off loopback).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(apiRoot, s.serveAPI)
	mux.HandleFunc("/metrics", s.serveMetrics)
	mux.HandleFunc("/sim/", s.serveAdmin)
	mux.HandleFunc("/healthz", serveHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/MAAS/") {
			w.Header().Set("X-MAAS-API-Hash", s.apiHash)
			writeText(w, http.StatusNotFound, "Unknown API endpoint: "+r.URL.Path+".")
			return
		}
		http.NotFound(w, r)
	})
	return mux
}
