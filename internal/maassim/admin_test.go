package maassim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdminAPINeedsAdminKeyOffLoopback checks who may use /sim/: anyone on
// loopback, and off loopback only with an admin user's API key.
func TestAdminAPINeedsAdminKeyOffLoopback(t *testing.T) {
	cfg := fastConfig()
	cfg.Users = append(cfg.Users, User{Name: "bob"}, User{Name: "root2", Admin: true})
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	adminKey := sim.DefaultAPIKey()
	secondAdmin, _ := sim.APIKey("root2")
	userKey, _ := sim.APIKey("bob")
	h := sim.Handler()

	requests := []struct {
		method, path, body string
		ok                 int
	}{
		{http.MethodGet, "/sim/machines", "", http.StatusOK},
		{http.MethodGet, "/sim/faults", "", http.StatusOK},
		{http.MethodPut, "/sim/faults", `{"latency":"1ms"}`, http.StatusOK},
		{http.MethodGet, "/sim/counts", "", http.StatusOK},
		{http.MethodPost, "/sim/users", `{"name":"admin"}`, http.StatusOK},
		{http.MethodGet, "/sim/nosuch", "", http.StatusNotFound},
	}
	callers := []struct {
		name, remote, key string
		allowed           bool
	}{
		{"loopback", "127.0.0.1:5000", "", true},
		{"loopback elsewhere in 127/8", "127.20.1.10:5000", "", true},
		{"IPv6 loopback", "[::1]:5000", "", true},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:5000", "", true},
		{"off loopback, no key", "10.0.0.5:5000", "", false},
		{"off loopback, IPv6, no key", "[fd00::5]:5000", "", false},
		{"off loopback, wrong key", "10.0.0.5:5000", "a:b:c", false},
		{"off loopback, a user's key", "10.0.0.5:5000", userKey, false},
		{"off loopback, the admin's key with a space", "10.0.0.5:5000", adminKey + " ", false},
		{"off loopback, the admin's key", "10.0.0.5:5000", adminKey, true},
		{"off loopback, another admin's key", "10.0.0.5:5000", secondAdmin, true},
		{"no remote address", "", "", false},
	}
	for _, c := range callers {
		for _, rq := range requests {
			req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
			req.RemoteAddr = c.remote
			if c.key != "" {
				req.Header.Set(AdminKeyHeader, c.key)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			want := rq.ok
			if !c.allowed {
				want = http.StatusUnauthorized
			}
			if rec.Code != want {
				t.Errorf("%s: %s %s = %d %s, want %d", c.name, rq.method, rq.path, rec.Code, rec.Body, want)
			}
			if !c.allowed && strings.Contains(rec.Body.String(), adminKey) {
				t.Errorf("%s: %s %s showed the admin key", c.name, rq.method, rq.path)
			}
		}
	}
}

// TestAdminAPIRefusalChangesNothing: a refused write has no effect.
func TestAdminAPIRefusalChangesNothing(t *testing.T) {
	sim, err := New(fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	h := sim.Handler()
	for _, rq := range []struct{ method, path, body string }{
		{http.MethodPut, "/sim/faults", `{"exhaustCapacity":true}`},
		{http.MethodPost, "/sim/users", `{"name":"mallory","admin":true}`},
	} {
		req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
		req.RemoteAddr = "192.0.2.7:4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s %s from off loopback = %d, want 401", rq.method, rq.path, rec.Code)
		}
	}
	if sim.Faults().ExhaustCapacity {
		t.Error("a refused PUT /sim/faults set the faults")
	}
	if _, ok := sim.APIKey("mallory"); ok {
		t.Error("a refused POST /sim/users created a user")
	}
}

// TestHealthzNeedsNoKey: the kubelet probes from off loopback.
func TestHealthzNeedsNoKey(t *testing.T) {
	sim, err := New(fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.RemoteAddr = "10.244.0.1:33000"
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /healthz from off loopback = %d %s, want 200", rec.Code, rec.Body)
	}
	if n := len(sim.Counts()); n != 0 {
		t.Errorf("a probe counted as %d MAAS requests", n)
	}
}
