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

package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// BuildManager builds ./cmd/manager into out. The Go build cache makes a
// rebuild of unchanged sources a link step of a few seconds.
func BuildManager(ctx context.Context, out string, log io.Writer) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the manager needs the go command: %w", err)
	}
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/manager")
	cmd.Dir = envtest.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/manager: %w\n%s", err, stderr.String())
	}
	if log != nil {
		_, _ = fmt.Fprintf(log, "harness: built the manager (%s)\n", since(t0))
	}
	return nil
}

// Manager is the operator's process, run from its binary as production runs
// it. Its ports stay the same across restarts.
type Manager struct {
	bin, logPath string
	args, env    []string
	output       io.Writer
	metricsAddr  string
	probeAddr    string
	webhookPort  int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// MemStats is the memory of the manager's process as the kernel counts it.
type MemStats struct {
	// RSS is the resident set size now; PeakRSS its high-water mark
	// (VmHWM) since the process started, both in bytes.
	RSS, PeakRSS int64
}

func newManager(e *Env, bin string) (*Manager, error) {
	metricsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	probePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	o := e.opts
	m := &Manager{
		bin: bin, logPath: filepath.Join(e.Dir, "manager.log"), output: o.ManagerOutput,
		metricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(metricsPort)),
		probeAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(probePort)),
		webhookPort: -1,
	}
	m.args = []string{
		"--kubeconfig=" + e.Kubeconfig,
		"--metrics-bind-address=" + m.metricsAddr,
		// Plain HTTP on loopback: the benchmarks scrape it without a token.
		"--metrics-secure=false",
		"--health-probe-bind-address=" + m.probeAddr,
		"--maas-poll-interval=" + orDefault(o.PollInterval, 500*time.Millisecond).String(),
		"--revalidate-interval=" + orDefault(o.RevalidateInterval, 30*time.Second).String(),
		"--maas-retry-interval=" + orDefault(o.RetryInterval, time.Second).String(),
	}
	if o.NoWebhooks {
		m.args = append(m.args, "--webhook-port=-1")
	} else {
		host, port, certDir := e.webhookServing()
		m.webhookPort = port
		m.args = append(m.args, "--webhook-port="+strconv.Itoa(port), "--webhook-cert-path="+certDir)
		// Bind the webhook server to loopback only when the manager can be
		// told so; older builds listen on every interface.
		if hasFlag(bin, "webhook-host") {
			m.args = append(m.args, "--webhook-host="+host)
		}
	}
	switch {
	case o.ControlPlanes:
		// Tenant VIPs of this world are loopback addresses.
		m.args = append(m.args, "--allow-loopback-endpoints")
	case hasFlag(bin, "observe-tenant-clusters"):
		// Without emulated control planes the tenants' VIPs and machine
		// addresses are data: nothing is there to dial, and they may
		// name networks that are not this machine's.
		m.args = append(m.args, "--observe-tenant-clusters=false")
	}
	if hasFlag(bin, "manage-gateway-etcd") {
		// This world's gateway cluster is envtest, whose etcd no gateway CA
		// signed: there is no gateway member to list or remove, and waiting
		// for one would hold every gateway upgrade (as the kind e2e does).
		m.args = append(m.args, "--manage-gateway-etcd=false")
	}
	m.args = append(m.args, o.ManagerArgs...)
	m.env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig)
	m.env = append(m.env, o.ManagerEnv...)
	return m, nil
}

// hasFlag tells whether the binary's usage lists -name. The flag package
// prints "-name type" for most flags but "-name" alone on its line for a
// boolean one.
func hasFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-"+name+" ")) || bytes.Contains(out, []byte("-"+name+"\n"))
}

// Start starts the manager unless it runs, and waits until its probes
// answer and its webhook port accepts connections.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.cmd != nil {
		m.mu.Unlock()
		return nil
	}
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.starts++
	var out io.Writer = logFile
	if m.output != nil {
		out = io.MultiWriter(logFile, m.output)
	}
	cmd := exec.Command(m.bin, m.args...)
	cmd.Env = m.env
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group keeps a terminal's Ctrl-C for the harness, which
	// stops the manager itself; Pdeathsig ends it if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.mu.Unlock()
		_ = logFile.Close()
		return fmt.Errorf("starting the manager: %w", err)
	}
	_, _ = fmt.Fprintf(logFile, "=== harness: start %d, pid %d ===\n", m.starts, cmd.Process.Pid)
	exited := make(chan struct{})
	m.cmd, m.exited = cmd, exited
	m.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		m.mu.Lock()
		if m.cmd == cmd {
			m.cmd = nil
		}
		m.mu.Unlock()
		close(exited)
	}()
	return m.waitReady(ctx, exited)
}

func (m *Manager) waitReady(ctx context.Context, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return fmt.Errorf("the manager exited while starting; its log ends:\n%s", m.tail(20))
		case <-ctx.Done():
			return fmt.Errorf("waiting for the manager to be ready: %w; its log ends:\n%s", ctx.Err(), m.tail(20))
		case <-tick.C:
		}
		if m.ready(ctx, hc) {
			return nil
		}
	}
}

func (m *Manager) ready(ctx context.Context, hc *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.ProbeURL()+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	if m.webhookPort <= 0 {
		return true
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.webhookPort)), time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// Kill sends SIGKILL, as a crash or an OOM kill would, and waits until the
// process is gone. Killing a stopped manager does nothing.
func (m *Manager) Kill() error { return m.signal(syscall.SIGKILL, 0) }

// Stop asks the manager to shut down (SIGTERM) and waits up to 30 s before
// killing it.
func (m *Manager) Stop() error { return m.signal(syscall.SIGTERM, 30*time.Second) }

func (m *Manager) signal(sig syscall.Signal, grace time.Duration) error {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if grace > 0 {
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
	return nil
}

// AddArgs appends flags to the manager's command line from its next start
// on; a flag given twice takes its last value, so a benchmark can turn a
// feature off (--observe-tenant-clusters=false) and on again.
func (m *Manager) AddArgs(args ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.args = append(m.args, args...)
}

// Restart stops the manager gracefully if it runs, then starts it again.
// After Kill it just starts it.
func (m *Manager) Restart(ctx context.Context) error {
	if err := m.Stop(); err != nil {
		return err
	}
	return m.Start(ctx)
}

// PID is the process ID of the running manager, 0 when none runs.
func (m *Manager) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Running tells whether a manager process runs.
func (m *Manager) Running() bool { return m.PID() != 0 }

// Starts counts how many times the manager was started.
func (m *Manager) Starts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.starts
}

// Exited is closed when the current (or last) manager process exits; nil
// before the first start.
func (m *Manager) Exited() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exited
}

// MetricsURL serves the manager's Prometheus metrics over plain HTTP.
func (m *Manager) MetricsURL() string { return "http://" + m.metricsAddr + "/metrics" }

// ProbeURL is the base of the health probes (/healthz, /readyz).
func (m *Manager) ProbeURL() string { return "http://" + m.probeAddr }

// WebhookPort is the port the manager serves admission webhooks on, -1
// without webhooks.
func (m *Manager) WebhookPort() int { return m.webhookPort }

// LogPath is the file the manager's output goes to, every run appended.
func (m *Manager) LogPath() string { return m.logPath }

// Scrape returns the manager's metrics in Prometheus's text format.
func (m *Manager) Scrape(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.MetricsURL(), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", m.MetricsURL(), resp.Status)
	}
	return string(body), nil
}

// Memory reads the running manager's resident memory from /proc.
func (m *Manager) Memory() (MemStats, error) {
	pid := m.PID()
	if pid == 0 {
		return MemStats{}, errors.New("the manager is not running")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return MemStats{}, err
	}
	defer func() { _ = f.Close() }()
	var s MemStats
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &s.RSS
		case "VmHWM":
			dst = &s.PeakRSS
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return MemStats{}, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		*dst = kb * 1024
	}
	return s, sc.Err()
}

// tail returns the last n lines of the manager's log.
func (m *Manager) tail(n int) string {
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a loopback port free at the time of asking.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
