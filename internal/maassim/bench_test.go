package maassim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/entity"
)

// Benchmarks of the simulator serving 5,000 machines. The HTTP ones run
// over loopback with keep-alive connections and report requests per second;
// BenchmarkServe* call the handler directly and so measure server time only.

func benchSim(b *testing.B) *Server {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Inventory = GenerateInventory(5000, 1)
	return startSim(b, cfg)
}

// plaintextAuth builds a gomaasclient-style Authorization header with a
// fresh nonce.
func plaintextAuth(key string) string {
	parts := strings.SplitN(key, ":", 3)
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	return fmt.Sprintf(`OAuth realm="MAAS+API", oauth_consumer_key="%s", oauth_token="%s", oauth_signature_method="PLAINTEXT", oauth_signature="%%26%s", oauth_timestamp="%d", oauth_nonce="%s", oauth_version="1.0"`,
		parts[0], parts[1], parts[2], time.Now().Unix(), hex.EncodeToString(nonce))
}

func benchRequest(b *testing.B, client *http.Client, method, u, key string, form url.Values) int {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", plaintextAuth(key))
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: %d", method, u, resp.StatusCode)
	}
	return int(n)
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// allocateN allocates n machines with an agent name.
func allocateN(b *testing.B, srv *Server, n int, agent string) {
	c := maasClient(b, srv, srv.DefaultAPIKey())
	for range n {
		if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{AgentName: agent}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList5000 lists all 5,000 machines (about 16 MB of JSON).
func BenchmarkList5000(b *testing.B) {
	srv := benchSim(b)
	u, key := srv.URL+"/api/2.0/machines/", srv.DefaultAPIKey()
	client := &http.Client{}
	var bytes int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bytes = benchRequest(b, client, "GET", u, key, nil)
	}
	reportRate(b)
	b.ReportMetric(float64(bytes), "bytes/resp")
}

// BenchmarkList200of5000 is the operator's poll: the 200 machines with its
// agent name out of 5,000.
func BenchmarkList200of5000(b *testing.B) {
	srv := benchSim(b)
	allocateN(b, srv, 200, "bench-agent")
	u, key := srv.URL+"/api/2.0/machines/?agent_name=bench-agent", srv.DefaultAPIKey()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{}
		for pb.Next() {
			benchRequest(b, client, "GET", u, key, nil)
		}
	})
	reportRate(b)
}

// BenchmarkAllocate5000 allocates from 5,000 machines (constraints on zone
// and CPU), releasing everything whenever capacity runs low (untimed).
func BenchmarkAllocate5000(b *testing.B) {
	srv := benchSim(b)
	u, key := srv.URL+"/api/2.0/machines/?op=allocate", srv.DefaultAPIKey()
	form := url.Values{"zone": {"zone-a"}, "cpu_count": {"2"}, "agent_name": {"bench"}}
	client := &http.Client{}
	allocated := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if allocated == 1500 {
			b.StopTimer()
			releaseAll(b, srv)
			allocated = 0
			b.StartTimer()
		}
		benchRequest(b, client, "POST", u, key, form)
		allocated++
	}
	reportRate(b)
}

func releaseAll(b *testing.B, srv *Server) {
	var ids []string
	for _, m := range srv.Machines() {
		if m.Status == StatusAllocated {
			ids = append(ids, m.SystemID)
		}
	}
	if err := maasClient(b, srv, srv.DefaultAPIKey()).Machines.Release(ids, ""); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGomaasclientList200of5000 is the same poll through gomaasclient
// (a new connection per request, JSON decoded into entity.Machine).
func BenchmarkGomaasclientList200of5000(b *testing.B) {
	srv := benchSim(b)
	allocateN(b, srv, 200, "bench-agent")
	c := maasClient(b, srv, srv.DefaultAPIKey())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ms, err := c.Machines.Get(&entity.MachinesParams{AgentName: []string{"bench-agent"}})
		if err != nil || len(ms) != 200 {
			b.Fatalf("%d machines, %v", len(ms), err)
		}
	}
	reportRate(b)
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkServeList200of5000 is the server time of the operator's poll:
// authentication, filtering 5,000 machines, writing 200.
func BenchmarkServeList200of5000(b *testing.B) {
	srv := benchSim(b)
	allocateN(b, srv, 200, "bench-agent")
	h := srv.Handler()
	key := srv.DefaultAPIKey()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", "http://127.0.0.1/MAAS/api/2.0/machines/?agent_name=bench-agent", nil)
		req.Header.Set("Authorization", plaintextAuth(key))
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.h.Get("Content-Length") == "" || w.h.Get("Content-Length") == strconv.Itoa(2) {
			b.Fatal("empty list")
		}
	}
}

// BenchmarkServeAllocate5000 is the server time of an allocation.
func BenchmarkServeAllocate5000(b *testing.B) {
	srv := benchSim(b)
	h := srv.Handler()
	key := srv.DefaultAPIKey()
	body := url.Values{"zone": {"zone-a"}, "cpu_count": {"2"}, "agent_name": {"bench"}}.Encode()
	allocated := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if allocated == 1500 {
			b.StopTimer()
			releaseAll(b, srv)
			allocated = 0
			b.StartTimer()
		}
		req, _ := http.NewRequest("POST", "http://127.0.0.1/MAAS/api/2.0/machines/?op=allocate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", plaintextAuth(key))
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if !strings.HasPrefix(w.h.Get("Content-Type"), "application/json") {
			b.Fatal("allocation failed")
		}
		allocated++
	}
}
