package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"

	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// lineWriter collects output and tells when a line matching re arrives.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan []string // gets the first match
	sent  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.match <- m
		w.sent = true
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestRunServesAndShutsDown(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(inv, []byte("machines:\n- {hostname: solo, cpu: 4, memoryMiB: 8192, zone: z1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lineWriter{re: regexp.MustCompile(`MAAS API at (\S+) \(1 machines\)[\s\S]*API key for bob: (\S+)\n`), match: make(chan []string, 1)}
	var errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-inventory", inv, "-user", "bob", "-deploy-time", "10ms",
			"-deploy-jitter", "0s", "-fail-deploy", "solo"}, out, &errOut)
	}()
	var m []string
	select {
	case m = <-out.match:
	case code := <-done:
		t.Fatalf("run exited with %d: %s", code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no start banner: %s", out.String())
	}
	url, bobKey := m[1], m[2]
	if !strings.Contains(out.String(), "API key for admin: "+maassim.DefaultAPIKey) {
		t.Fatalf("admin key not printed: %s", out.String())
	}
	c, err := client.GetClient(url, bobKey, "2.0")
	if err != nil {
		t.Fatal(err)
	}
	who, err := c.Users.Whoami()
	if err != nil || who.UserName != "bob" {
		t.Fatalf("whoami: %v %v", who, err)
	}
	ms, err := c.Machines.Get(&entity.MachinesParams{Zone: []string{"z1"}})
	if err != nil || len(ms) != 1 || ms[0].Hostname != "solo" {
		t.Fatalf("machines: %v %v", ms, err)
	}
	// The -fail-deploy flag reached the simulator.
	if _, err := c.Machine.Deploy(ms[0].SystemID, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	faults, err := http.Get(strings.TrimSuffix(url, "/MAAS") + "/sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(faults.Body)
	_ = faults.Body.Close()
	if !strings.Contains(string(body), `"failDeploy":["solo"]`) {
		t.Fatalf("faults: %s", body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := c.Version.Get(); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"version", []string{"-version"}, 0, "maas-sim dev (simulates MAAS " + maassim.DefaultMAASVersion + ")\n"},
		{"help", []string{"-h"}, 0, ""},
		{"unknown flag", []string{"-bogus"}, 2, ""},
		{"stray argument", []string{"extra"}, 2, ""},
		{"both inventories", []string{"-inventory", "x.yaml", "-generate", "3"}, 2, ""},
		{"missing inventory", []string{"-inventory", "/nonexistent/inv.yaml"}, 1, ""},
		{"bad key", []string{"-admin-key", "nope", "-listen", "127.0.0.1:0"}, 1, ""},
		{"bad error rate", []string{"-error-rate", "3", "-listen", "127.0.0.1:0"}, 1, ""},
		{"port in use", []string{"-listen", "256.0.0.1:1"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a run that gets as far as serving stops at once
			code := run(ctx, tt.args, &out, &errOut)
			if code != tt.code || (tt.out != "" && out.String() != tt.out) {
				t.Fatalf("exit %d, out %q, err %q", code, out.String(), errOut.String())
			}
		})
	}
}

func TestListFlag(t *testing.T) {
	var l listFlag
	for _, v := range []string{"a,b", " c ", ",,"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if l.String() != "a,b,c" {
		t.Fatalf("got %q", l.String())
	}
}

func TestExampleInventoryLoads(t *testing.T) {
	specs, err := maassim.LoadInventory("inventory.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 4 {
		t.Fatalf("%d machines", len(specs))
	}
}
