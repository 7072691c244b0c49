package main

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// hostAddress is an IPv4 address of this host that is not loopback, or ""
// if it has none.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// startRun runs maas-sim with args until the test ends and returns the
// address it serves on and its standard error.
func startRun(t *testing.T, args ...string) (addr string, stderr *lineWriter) {
	t.Helper()
	out := &lineWriter{re: regexp.MustCompile(`admin API at http://(\S+)/sim/[\s\S]*API key for admin: \S+\n`), match: make(chan []string, 1)}
	stderr = &lineWriter{re: regexp.MustCompile(`\x00`), match: make(chan []string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append(args, "-generate", "2"), out, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	})
	select {
	case m := <-out.match:
		return m[1], stderr
	case code := <-done:
		done <- code
		t.Fatalf("run exited with %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no start banner: %s", out.String())
	}
	return "", nil
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(maassim.AdminKeyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestRunAdminAPIOffLoopback serves on an address of this host beyond
// loopback, as the simulator's image does, and calls it from there: the
// admin API needs the admin key, the probe does not, and the built-in key
// draws a warning.
func TestRunAdminAPIOffLoopback(t *testing.T) {
	ip := hostAddress(t)
	if ip == "" {
		t.Skip("this host has no address beyond loopback")
	}
	const ownKey = "OwnConsumerKey0001:OwnTokenKey0000001:OwnTokenSecret0000000000000000001"
	t.Run("built-in key", func(t *testing.T) {
		addr, stderr := startRun(t, "-listen", ip+":0")
		if !strings.Contains(stderr.String(), "warning: listening on "+addr+" beyond loopback with the built-in admin key") {
			t.Errorf("no warning about the built-in key: %q", stderr.String())
		}
		base := "http://" + addr
		for _, c := range []struct {
			path, key string
			want      int
		}{
			{"/sim/machines", "", http.StatusUnauthorized},
			{"/sim/machines", "nope", http.StatusUnauthorized},
			{"/sim/machines", maassim.DefaultAPIKey, http.StatusOK},
			{"/healthz", "", http.StatusOK},
		} {
			if got := get(t, base+c.path, c.key); got != c.want {
				t.Errorf("GET %s (key given: %v) = %d, want %d", c.path, c.key != "", got, c.want)
			}
		}
	})
	t.Run("own key", func(t *testing.T) {
		addr, stderr := startRun(t, "-listen", ip+":0", "-admin-key", ownKey)
		if strings.Contains(stderr.String(), "warning") {
			t.Errorf("a warning with a key of one's own: %q", stderr.String())
		}
		base := "http://" + addr
		if got := get(t, base+"/sim/faults", maassim.DefaultAPIKey); got != http.StatusUnauthorized {
			t.Errorf("GET /sim/faults with the built-in key = %d, want 401", got)
		}
		if got := get(t, base+"/sim/faults", ownKey); got != http.StatusOK {
			t.Errorf("GET /sim/faults with the admin key = %d, want 200", got)
		}
	})
	t.Run("loopback", func(t *testing.T) {
		addr, stderr := startRun(t, "-listen", "127.0.0.1:0")
		if strings.Contains(stderr.String(), "warning") {
			t.Errorf("a warning on loopback: %q", stderr.String())
		}
		if got := get(t, "http://"+addr+"/sim/faults", ""); got != http.StatusOK {
			t.Errorf("GET /sim/faults on loopback without a key = %d, want 200", got)
		}
	})
}
