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
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMAAS is the one tiny fake server of this package: it counts calls and
// answers what the test tells it to, to exercise the retry layer. Every
// MAAS behaviour is tested against the simulator instead.
type fakeMAAS struct {
	*httptest.Server
	calls  atomic.Int32
	answer func(n int, r *http.Request) (code int, header http.Header, body string)

	mu     sync.Mutex
	nonces []string
	auth   []string
}

var nonceRE = regexp.MustCompile(`oauth_nonce="([^"]*)"`)

func newFakeMAAS(t *testing.T, answer func(n int, r *http.Request) (int, http.Header, string)) *fakeMAAS {
	f := &fakeMAAS{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.calls.Add(1))
		a := r.Header.Get("Authorization")
		f.mu.Lock()
		f.auth = append(f.auth, a)
		if m := nonceRE.FindStringSubmatch(a); m != nil {
			f.nonces = append(f.nonces, m[1])
		}
		f.mu.Unlock()
		code, hdr, body := f.answer(n, r)
		maps.Copy(w.Header(), hdr)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

const fakeMachineJSON = `{"system_id":"abc123","hostname":"node1","status":10,"status_name":"Allocated","resource_uri":"/MAAS/api/2.0/machines/abc123/"}`

// fastOptions retry quickly so tests take milliseconds.
func fastOptions() Options {
	return Options{
		RequestTimeout: 2 * time.Second,
		MaxAttempts:    3,
		BackoffBase:    time.Millisecond,
		BackoffMax:     4 * time.Millisecond,
		RetryAfterMax:  20 * time.Millisecond,
		RateLimit:      1000,
		RateBurst:      1000,
	}
}

func testClient(t *testing.T, base string, opts Options) *Client {
	t.Helper()
	k, err := ParseAPIKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{Endpoint: base + "/MAAS", APIKey: k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetryPolicy(t *testing.T) {
	retryAfter := http.Header{"Retry-After": {"1"}}
	tests := []struct {
		name      string
		answer    func(n int, r *http.Request) (int, http.Header, string)
		call      func(context.Context, *Client) error
		wantCalls int
		wantClass Class // ClassUnknown with wantOK
		wantOK    bool
	}{
		{
			name: "503 twice then success: retried",
			answer: func(n int, _ *http.Request) (int, http.Header, string) {
				if n <= 2 {
					return 503, nil, "rack unavailable"
				}
				return 200, nil, fakeMachineJSON
			},
			call:      getMachine,
			wantCalls: 3, wantOK: true,
		},
		{
			name:      "500 forever: bounded by MaxAttempts",
			answer:    func(int, *http.Request) (int, http.Header, string) { return 500, nil, "boom" },
			call:      getMachine,
			wantCalls: 3, wantClass: ClassTransient,
		},
		{
			name: "400: never retried",
			answer: func(int, *http.Request) (int, http.Header, string) {
				return 400, nil, `{"zone": ["No such zone(s): x."]}`
			},
			call:      getMachine,
			wantCalls: 1, wantClass: ClassInvalid,
		},
		{
			name: "401: never retried",
			answer: func(int, *http.Request) (int, http.Header, string) {
				return 401, nil, "Authorization Error: Invalid API key."
			},
			call:      getMachine,
			wantCalls: 1, wantClass: ClassUnauthorized,
		},
		{
			name: "404: never retried",
			answer: func(int, *http.Request) (int, http.Header, string) {
				return 404, nil, "No Machine matches the given query."
			},
			call:      getMachine,
			wantCalls: 1, wantClass: ClassNotFound,
		},
		{
			name:      "503 with Retry-After: one layer only, not gomaasapi's 5 times ours",
			answer:    func(int, *http.Request) (int, http.Header, string) { return 503, retryAfter, "busy" },
			call:      getMachine,
			wantCalls: 3, wantClass: ClassTransient,
		},
		{
			name:      "409 with Retry-After: gomaasapi would retry it 4 times; we do not retry 4xx",
			answer:    func(int, *http.Request) (int, http.Header, string) { return 409, retryAfter, "No machine available." },
			call:      allocate,
			wantCalls: 1, wantClass: ClassNoCapacity,
		},
		{
			name: "allocate on 503: not retried (a proxy's 503 can follow a committed allocation)",
			answer: func(n int, _ *http.Request) (int, http.Header, string) {
				if n == 1 {
					return 503, nil, "busy"
				}
				return 200, nil, fakeMachineJSON
			},
			call:      allocate,
			wantCalls: 1, wantClass: ClassTransient,
		},
		{
			name:      "allocate on 500: not retried (it may have happened)",
			answer:    func(int, *http.Request) (int, http.Header, string) { return 500, nil, "boom" },
			call:      allocate,
			wantCalls: 1, wantClass: ClassTransient,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMAAS(t, tc.answer)
			c := testClient(t, f.URL, fastOptions())
			err := tc.call(context.Background(), c)
			if got := int(f.calls.Load()); got != tc.wantCalls {
				t.Errorf("server saw %d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatalf("call failed: %v", err)
				}
			} else if Classify(err) != tc.wantClass {
				t.Fatalf("error %v: class %v, want %v", err, Classify(err), tc.wantClass)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			seen := map[string]bool{}
			for _, n := range f.nonces {
				if seen[n] {
					t.Errorf("nonce %s reused across attempts; MAAS rejects replays", n)
				}
				seen[n] = true
			}
			for _, a := range f.auth {
				if !strings.Contains(a, `oauth_token="`+testToken+`"`) {
					t.Errorf("request not signed with the key's token: %q", a)
				}
			}
		})
	}
}

func getMachine(ctx context.Context, c *Client) error {
	m, err := c.Machine(ctx, "abc123")
	if err == nil && m.SystemID != "abc123" {
		return fmt.Errorf("got machine %q", m.SystemID)
	}
	return err
}

func allocate(ctx context.Context, c *Client) error {
	_, err := c.Allocate(ctx, AllocateRequest{AgentName: "inst-1", Owner: testOwner()})
	return err
}

func testOwner() Owner {
	return Owner{Kind: "TenantCluster", Namespace: "team-a", Name: "prod", UID: "uid-1", Pool: "workers", Slot: "0"}
}

func TestAllocateTimeoutNotRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFakeMAAS(t, func(int, *http.Request) (int, http.Header, string) {
		<-release
		return 200, nil, fakeMachineJSON
	})
	opts := fastOptions()
	opts.RequestTimeout = 500 * time.Millisecond
	c := testClient(t, f.URL, opts)
	_, err := c.Allocate(context.Background(), AllocateRequest{AgentName: "inst-1", Owner: testOwner()})
	if !IsTransient(err) {
		t.Fatalf("error %v, want transient", err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("allocate sent %d times after a timeout; it may have succeeded, so once only", got)
	}
}

func TestGetTimeoutRetried(t *testing.T) {
	f := newFakeMAAS(t, func(n int, r *http.Request) (int, http.Header, string) {
		if n == 1 {
			<-r.Context().Done() // hang until the client gives up
		}
		return 200, nil, fakeMachineJSON
	})
	opts := fastOptions()
	opts.RequestTimeout = time.Second
	c := testClient(t, f.URL, opts)
	if err := getMachine(context.Background(), c); err != nil {
		t.Fatalf("GET after a timed-out attempt: %v", err)
	}
	if got := f.calls.Load(); got != 2 {
		t.Fatalf("server saw %d calls, want 2", got)
	}
}

func TestConnectionRefusedIsTransientAndRetried(t *testing.T) {
	f := newFakeMAAS(t, func(int, *http.Request) (int, http.Header, string) { return 200, nil, fakeMachineJSON })
	u := f.URL
	f.Close()
	var dials atomic.Int32
	opts := fastOptions()
	opts.Proxy = func(*http.Request) (*url.URL, error) { dials.Add(1); return nil, nil }
	c := testClient(t, u, opts)
	start := time.Now()
	err := getMachine(context.Background(), c)
	if !IsTransient(err) {
		t.Fatalf("error %v, want transient", err)
	}
	if got := dials.Load(); got != 3 {
		t.Fatalf("%d attempts, want MaxAttempts=3", got)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v; backoff is milliseconds here", time.Since(start))
	}
}

func TestRetryAfterHonouredButCapped(t *testing.T) {
	var times []time.Time
	var mu sync.Mutex
	f := newFakeMAAS(t, func(n int, _ *http.Request) (int, http.Header, string) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n == 1 {
			return 503, http.Header{"Retry-After": {"10"}}, "busy"
		}
		return 200, nil, fakeMachineJSON
	})
	opts := fastOptions()
	opts.RetryAfterMax = 150 * time.Millisecond
	c := testClient(t, f.URL, opts)
	if err := getMachine(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	gap := times[1].Sub(times[0])
	if gap < 150*time.Millisecond || gap > 5*time.Second {
		t.Fatalf("waited %v between attempts; want Retry-After capped at 150ms", gap)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	f := newFakeMAAS(t, func(int, *http.Request) (int, http.Header, string) {
		return 503, http.Header{"Retry-After": {"30"}}, "busy"
	})
	opts := fastOptions()
	opts.RetryAfterMax = time.Minute
	opts.MaxAttempts = 10
	c := testClient(t, f.URL, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := getMachine(ctx, c)
	if !IsTransient(err) {
		t.Fatalf("error %v, want transient", err)
	}
	if time.Since(start) > 5*time.Second || f.calls.Load() > 1 {
		t.Fatalf("did not stop with the context: %v, %d calls", time.Since(start), f.calls.Load())
	}
}

func TestBackoffGrowsAndIsBounded(t *testing.T) {
	base, maxDelay := 100*time.Millisecond, time.Second
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			d := backoff(attempt, base, maxDelay)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		idempotent bool
		want       bool
	}{
		{"500 idempotent", serverErr(t, 500, ""), true, true},
		{"500 allocate", serverErr(t, 500, ""), false, false},
		{"503 allocate", serverErr(t, 503, ""), false, false},
		{"504 idempotent", serverErr(t, 504, ""), true, true},
		{"409", serverErr(t, 409, ""), true, false},
		{"429", serverErr(t, 429, ""), true, false},
		{"401", serverErr(t, 401, ""), true, false},
		{"canceled", context.Canceled, true, false},
		{"deadline idempotent", context.DeadlineExceeded, true, true},
		{"deadline allocate", context.DeadlineExceeded, false, false},
		{"unexpected EOF allocate", io.ErrUnexpectedEOF, false, false},
	}
	for _, tc := range tests {
		if got := retryable(tc.err, tc.idempotent); got != tc.want {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"10":   10 * time.Second,
		"0":    0,
		"-3":   0,
		"soon": 0,
		now.Add(7 * time.Second).Format(http.TimeFormat): 7 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):      0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRateLimitSharedPerEndpoint(t *testing.T) {
	f := newFakeMAAS(t, func(int, *http.Request) (int, http.Header, string) { return 200, nil, fakeMachineJSON })
	opts := fastOptions()
	opts.RateLimit = 10
	opts.RateBurst = 1
	fac := NewFactory(opts)
	k1, _ := ParseAPIKey(testKey)
	k2, _ := ParseAPIKey(testConsumer + ":" + testToken + ":" + strings.Repeat("q", 32))
	c1, err := fac.Client(Config{Endpoint: f.URL + "/MAAS", APIKey: k1})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := fac.Client(Config{Endpoint: f.URL + "/MAAS/", APIKey: k2})
	if err != nil {
		t.Fatal(err)
	}
	if c1 == c2 || c1.limiter != c2.limiter {
		t.Fatal("two keys on one endpoint must be two clients sharing one limiter")
	}
	start := time.Now()
	for _, c := range []*Client{c1, c2, c1, c2} {
		if err := getMachine(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	// 4 requests at 10/s with a burst of 1 take at least 300 ms.
	if el := time.Since(start); el < 290*time.Millisecond {
		t.Fatalf("4 requests took %v; the per-endpoint limit was not applied", el)
	}
}

func TestProxyOption(t *testing.T) {
	target := newFakeMAAS(t, func(int, *http.Request) (int, http.Header, string) { return 200, nil, fakeMachineJSON })
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	opts := fastOptions()
	opts.Proxy = http.ProxyURL(pu)
	c := testClient(t, target.URL, opts)
	if err := getMachine(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 1 || target.calls.Load() != 1 {
		t.Fatalf("proxy saw %d, MAAS %d requests; want 1 and 1", proxied.Load(), target.calls.Load())
	}
}

func TestFactoryCache(t *testing.T) {
	fac := NewFactory(Options{IdleTimeout: time.Hour})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fac.now = func() time.Time { return now }
	k1, _ := ParseAPIKey(testKey)
	k1again, _ := ParseAPIKey(testKey + "\n")
	k2, _ := ParseAPIKey(testConsumer + ":" + testToken + ":" + strings.Repeat("r", 32))
	ca := selfSignedPEM(t)
	get := func(ep string, k APIKey, bundle []byte) *Client {
		t.Helper()
		c, err := fac.Client(Config{Endpoint: ep, APIKey: k, CABundle: bundle})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := get("http://127.0.0.1:5240/MAAS", k1, nil)
	if b := get("http://127.0.0.1:5240/MAAS/", k1again, nil); b != a {
		t.Error("same endpoint and key gave another client")
	}
	rotated := get("http://127.0.0.1:5240/MAAS", k2, nil)
	if rotated == a || rotated.Fingerprint() == a.Fingerprint() {
		t.Error("a changed key must give a new client")
	}
	withCA := get("https://127.0.0.1:5240/MAAS", k1, ca)
	if withCA == a || withCA == get("https://127.0.0.1:5240/MAAS", k1, nil) {
		t.Error("endpoint and CA bundle must be part of the cache key")
	}
	if fac.Len() != 4 {
		t.Fatalf("cache holds %d clients, want 4", fac.Len())
	}
	for id := range fac.clients {
		if strings.Contains(id, testSecret) || strings.Contains(id, testToken) || len(id) != 64 {
			t.Fatalf("cache key %q is not a hash", id)
		}
	}
	// The old key's client goes once unused for IdleTimeout.
	now = now.Add(2 * time.Hour)
	if got := get("http://127.0.0.1:5240/MAAS", k2, nil); got != rotated {
		t.Error("the client in use was rebuilt")
	}
	if fac.Len() != 1 {
		t.Fatalf("after the idle timeout the cache holds %d clients, want 1", fac.Len())
	}
}

func TestFactoryRejectsBadConfig(t *testing.T) {
	fac := NewFactory(Options{})
	k, _ := ParseAPIKey(testKey)
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Endpoint: "ftp://x", APIKey: k}, "scheme"},
		{Config{Endpoint: "http://x/MAAS"}, "no API key"},
		{Config{Endpoint: "http://x/MAAS", APIKey: k, CABundle: []byte("x")}, "not https"},
		{Config{Endpoint: "https://x/MAAS", APIKey: k, CABundle: []byte("not pem")}, "no PEM certificate"},
	}
	for _, tc := range tests {
		_, err := fac.Client(tc.cfg)
		if !IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Client(%s): %v, want invalid containing %q", tc.cfg.Endpoint, err, tc.want)
		}
	}
}

func TestClientAndErrorsNeverPrintTheSecret(t *testing.T) {
	f := newFakeMAAS(t, func(int, *http.Request) (int, http.Header, string) {
		return 401, nil, "Authorization Error: 'Invalid access token: " + testToken + "'"
	})
	c := testClient(t, f.URL, fastOptions())
	err := getMachine(context.Background(), c)
	for _, out := range []string{
		fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
	} {
		if strings.Contains(out, testSecret) {
			t.Fatalf("printed the secret: %s", out)
		}
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("error names the token key: %v", err)
	}
	if out := fmt.Sprintf("%+v", c); strings.Contains(out, testToken) || strings.Contains(out, testConsumer) {
		t.Fatalf("client prints a part of the key: %s", out)
	}
}

func TestCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, fakeMachineJSON)
	}))
	defer srv.Close()
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	k, _ := ParseAPIKey(testKey)

	trusted, err := NewClient(Config{Endpoint: srv.URL + "/MAAS", APIKey: k, CABundle: bundle}, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := getMachine(context.Background(), trusted); err != nil {
		t.Fatalf("with the CA bundle: %v", err)
	}
	untrusted, err := NewClient(Config{Endpoint: srv.URL + "/MAAS", APIKey: k}, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := getMachine(context.Background(), untrusted); !IsInvalid(err) {
		t.Fatalf("without the CA bundle: %v, want invalid (a certificate problem is not transient)", err)
	}
	other, err := NewClient(Config{Endpoint: srv.URL + "/MAAS", APIKey: k, CABundle: selfSignedPEM(t)}, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := getMachine(context.Background(), other); !IsInvalid(err) {
		t.Fatalf("with another CA: %v, want invalid", err)
	}
}

func TestPriorityCallsAreNotStarvedBySaturatingTenants(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	// 10 requests/s and a burst of 20, as the default; a fifth kept back.
	b := newBudget(10, 20, 0.2)
	// A hundred tenant requests at once: the shared lane (8/s, burst 16)
	// books them up to ~10 s ahead.
	var last time.Duration
	for range 100 {
		d, _ := b.reserve(t0, false)
		last = d
	}
	if last < 9*time.Second {
		t.Fatalf("the 100th tenant request waits %s; the test wants the shared lane saturated", last)
	}
	// The gateway's requests now: the reserved lane's burst (4), then one
	// each half second (2/s); never behind the tenants' queue.
	for i := range 10 {
		d, _ := b.reserve(t0, true)
		want := time.Duration(0)
		if i >= 4 {
			want = time.Duration(i-3) * 500 * time.Millisecond
		}
		if d > want+time.Millisecond {
			t.Fatalf("priority request %d waits %s with tenants saturating the endpoint, want at most %s", i, d, want)
		}
	}
	// A tenant request never draws on the reserved lane: still behind the queue.
	if d, _ := b.reserve(t0, false); d < last {
		t.Fatalf("a tenant request after the gateway's waits %s, want at least %s", d, last)
	}
	// The two lanes never exceed the endpoint's rate: over 60 s, at most
	// 10/s plus the bursts.
	b = newBudget(10, 20, 0.2)
	sent := 0
	for now := t0; now.Before(t0.Add(time.Minute)); now = now.Add(10 * time.Millisecond) {
		for _, p := range []bool{false, true} {
			if d, cancel := b.reserve(now, p); d == 0 {
				sent++
			} else {
				cancel()
			}
		}
	}
	if sent > 10*60+20 {
		t.Fatalf("%d requests in a minute at 10/s, burst 20", sent)
	}
}

func TestPriorityRequestGoesThroughWhileTenantsSaturateTheEndpoint(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[]`)
	}))
	t.Cleanup(srv.Close)
	opts := fastOptions()
	opts.RateLimit, opts.RateBurst = 20, 2
	tenant := testClient(t, srv.URL, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Tenants: 40 callers in a loop, each request booked behind the others.
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = tenant.ListOwned(ctx, "inst")
			}
		})
	}
	// Wait until the tenants' queue is long: 40 waiters at 16/s is 2.5 s.
	for served.Load() < 5 {
		time.Sleep(time.Millisecond) // awaiting the tenants, as Eventually would
	}
	before := served.Load()
	if _, err := tenant.ListOwned(WithPriority(ctx), "inst"); err != nil {
		t.Fatal(err)
	}
	// Requests served while the priority request waited: without the
	// reserved lane, it queues behind all 40 tenants (≥ 40).
	if during := served.Load() - before; during >= 20 {
		t.Fatalf("%d tenant requests went before the priority request; it waited behind the queue", during)
	}
	cancel()
	wg.Wait()
}
