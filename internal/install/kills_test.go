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

package install_test

// The installer and the operator killed for real (SIGKILL) at each step of
// an installation, and started again: the installation ends as an
// uninterrupted one does, MAAS allocated each machine once and no machine
// is left behind. Both run as processes of their own: this test binary
// started again with childEnv set (see TestMain). The operator's
// processes are kept by a supervisor in the test, as a Deployment keeps
// its Pod: started when the installer installs it, started again when
// killed.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/install/installtest"
)

// What a child process is told through its environment.
const (
	childEnv       = "MAAS_GATEWAY_INSTALL_TEST_CHILD" // "installer" or "operator"
	dirEnv         = "MAAS_GATEWAY_INSTALL_TEST_DIR"   // the files below
	killAfterEnv   = "MAAS_GATEWAY_INSTALL_TEST_KILL_AFTER"
	operatorEnv    = "MAAS_GATEWAY_INSTALL_TEST_OPERATOR" // its mode
	bootKubeconfig = "bootstrap.kubeconfig"
	pcgFile        = "pcg.yaml"
	gwKubeconfig   = "gateway.kubeconfig"
)

// TestMain runs the children of TestInstallKilledAtEachStep, or the tests.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "installer":
		os.Exit(installerChild(os.Getenv(dirEnv), os.Getenv(killAfterEnv)))
	case "operator":
		os.Exit(operatorChild(os.Getenv(dirEnv), install.Mode(os.Getenv(operatorEnv))))
	}
	os.Exit(m.Run())
}

// installerChild runs the installer with the world's files, printing its
// progress, and kills itself right after the step killAfter holds.
func installerChild(dir, killAfter string) int {
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	data, err := os.ReadFile(filepath.Join(dir, pcgFile))
	if err != nil {
		return fail(err)
	}
	inst, err := loadInstallation(data)
	if err != nil {
		return fail(err)
	}
	boot, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, bootKubeconfig))
	if err != nil {
		return fail(err)
	}
	opts := installOptions(inst, boot, filepath.Join(dir, gwKubeconfig), supervised{dir: dir})
	opts.Out = os.Stdout
	opts.AfterStep = func(step string) error {
		if step == killAfter {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	if _, err := install.Run(context.Background(), opts); err != nil {
		return fail(err)
	}
	return 0
}

// operatorChild runs the operator in mode against the cluster its request
// names until it is killed, and says when it runs.
func operatorChild(dir string, mode install.Mode) int {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	req, err := os.ReadFile(requestFile(dir, mode))
	if err != nil {
		return fail(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", string(req))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	mgr, err := installtest.NewOperator(ctx, cfg, namespace, mode)
	if err != nil {
		return fail(err)
	}
	// Caches synced, controllers started: what a readiness probe says.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if err := os.WriteFile(runningFile(dir, mode), nil, 0o600); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})); err != nil {
		return fail(err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int {
	_, _ = fmt.Fprintln(os.Stderr, err)
	return 1
}

// requestFile is what the installer writes to have the operator run in
// mode (the Deployment of the chart): the path of the cluster's
// kubeconfig. runningFile is written by the operator once it runs.
func requestFile(dir string, mode install.Mode) string {
	return filepath.Join(dir, "operator-"+string(mode))
}

func runningFile(dir string, mode install.Mode) string { return requestFile(dir, mode) + ".running" }

// supervised is the OperatorInstaller of the installer's process: it does
// what the chart does to the cluster, then asks the test's supervisor for
// the operator's process and waits until it runs.
type supervised struct{ dir string }

func (s supervised) Installed(_ context.Context, _ *rest.Config, _ string, mode install.Mode) (bool, string, error) {
	for _, f := range []string{requestFile(s.dir, mode), runningFile(s.dir, mode)} {
		if _, err := os.Stat(f); err != nil {
			return false, "", nil
		}
	}
	return true, "installed, kept running by the test's supervisor", nil
}

func (s supervised) Install(ctx context.Context, cfg *rest.Config, ns string, mode install.Mode) (string, error) {
	if err := installtest.PrepareCluster(ctx, cfg, ns, mode); err != nil {
		return "", err
	}
	kubeconfig := filepath.Join(s.dir, bootKubeconfig)
	if mode == install.ModeInside {
		kubeconfig = filepath.Join(s.dir, gwKubeconfig) // what cfg was read from
	}
	if err := writeFileAtomic(requestFile(s.dir, mode), []byte(kubeconfig)); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if _, err := os.Stat(runningFile(s.dir, mode)); err == nil {
			return "the operator's process runs (" + string(mode) + ")", nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the operator (%s) does not run: %w", mode, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeFileAtomic writes beside path and renames, so that a reader never
// sees half a file however the writer dies.
func writeFileAtomic(path string, data []byte) error {
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// supervisor keeps one operator process per mode the installer asked for,
// started again whenever it dies; kill SIGKILLs them all.
type supervisor struct {
	t   *testing.T
	dir string
	ctx context.Context
	wg  sync.WaitGroup

	mu      sync.Mutex
	procs   map[install.Mode]*os.Process
	killing map[int]bool // pids kill sent SIGKILL to
	kills   []string     // what each kill was at
}

func newSupervisor(ctx context.Context, t *testing.T, dir string) *supervisor {
	ctx, cancel := context.WithCancel(ctx)
	s := &supervisor{t: t, dir: dir, ctx: ctx, procs: map[install.Mode]*os.Process{}, killing: map[int]bool{}}
	s.wg.Go(func() {
		started := map[install.Mode]bool{}
		for {
			for _, mode := range []install.Mode{install.ModeOutside, install.ModeInside} {
				if _, err := os.Stat(requestFile(dir, mode)); err == nil && !started[mode] {
					started[mode] = true
					s.wg.Go(func() { s.keep(mode) })
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	// Before the world stops: the operators must not outlive it.
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	return s
}

// keep runs the operator in mode until the test ends.
func (s *supervisor) keep(mode install.Mode) {
	log, err := os.OpenFile(filepath.Join(s.dir, "operator-"+string(mode)+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Error(err)
		return
	}
	defer func() { _ = log.Close() }()
	for s.ctx.Err() == nil {
		cmd := child(s.ctx, "operator", s.dir, operatorEnv+"="+string(mode))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			s.t.Errorf("starting the operator (%s): %v", mode, err)
			return
		}
		s.mu.Lock()
		s.procs[mode] = cmd.Process
		s.mu.Unlock()
		err := cmd.Wait()
		s.mu.Lock()
		delete(s.procs, mode)
		killed := s.killing[cmd.Process.Pid]
		s.mu.Unlock()
		if s.ctx.Err() == nil && !killed {
			s.t.Errorf("the operator (%s) died unkilled: %v; its log: %s", mode, err, filepath.Join(s.dir, "operator-"+string(mode)+".log"))
		}
	}
}

// kill SIGKILLs every operator process, saying where; false when none runs.
func (s *supervisor) kill(at string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	killed := false
	for mode, p := range s.procs {
		s.killing[p.Pid] = true
		if err := p.Signal(syscall.SIGKILL); err == nil {
			s.kills = append(s.kills, fmt.Sprintf("%s (%s)", at, mode))
			killed = true
		}
	}
	return killed
}

// child is this test binary run as a child of the given kind; it dies
// with the test.
func child(ctx context.Context, kind, dir string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + kind, dirEnv + "=" + dir}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// The installer's progress: a step's line when it ends, and a wait's
// status lines within a step.
var (
	stepLine     = regexp.MustCompile(`^\[(\d+)/\d+\] ([^:]+): (done|already done|failed)`)
	progressLine = regexp.MustCompile(`^      \d`)
)

// steps are the installer's, in order.
var steps = []string{install.StepBootstrap, install.StepOperatorOutside, install.StepGateway, install.StepAdminAccess,
	install.StepNetworkPlugin, install.StepFirstNode, install.StepOperatorInside, install.StepMove, install.StepAllNodes,
	install.StepCleanup}

// A run of the installer's process. It kills itself after the step
// killAfter, or is killed by the test in the middle of the step
// killDuring (at the wait's second status line); neither: it completes.
type run struct{ killAfter, killDuring string }

// outcome says how an installer's process ended.
type outcome string

const (
	completed  outcome = "completed"
	killedAt   outcome = "killed after the step"
	killedMid  outcome = "killed during the step"
	killedSelf outcome = "killed itself"
)

// runInstaller runs the installer's process once. The operators are
// killed at the end of each step and during each wait, the first time the
// chain gets there (killedOps says where that was done).
func runInstaller(ctx context.Context, t *testing.T, dir string, r run, ops *supervisor, killedOps map[string]bool) (outcome, string) {
	t.Helper()
	var env []string
	if r.killAfter != "" {
		env = append(env, killAfterEnv+"="+r.killAfter)
	} else if r.killDuring != "" {
		// Should the wait end before its second status line.
		env = append(env, killAfterEnv+"="+r.killDuring)
	}
	cmd := child(ctx, "installer", dir, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	current, statuses, killedMidStep := 0, 0, false // current: index of the step under way
	killOps := func(at string) {
		if !killedOps[at] && ops.kill(at) {
			killedOps[at] = true
		}
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		out.WriteString(line + "\n")
		if m := stepLine.FindStringSubmatch(line); m != nil {
			i, _ := strconv.Atoi(m[1])
			if m[2] != steps[i-1] {
				t.Fatalf("step %d is %q, want %q", i, m[2], steps[i-1])
			}
			killOps("after " + steps[i-1])
			current, statuses = i, 0
			continue
		}
		if progressLine.MatchString(line) && current < len(steps) {
			statuses++
			if statuses == 2 {
				killOps("during " + steps[current])
				if r.killDuring == steps[current] && !killedMidStep {
					killedMidStep = cmd.Process.Signal(syscall.SIGKILL) == nil
				}
			}
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return completed, out.String()
	case killedMidStep:
		return killedMid, out.String()
	case errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		if r.killAfter != "" {
			return killedAt, out.String()
		}
		return killedSelf, out.String()
	}
	t.Fatalf("the installer's process: %v\n%s%s", err, &out, &stderr)
	return "", ""
}

func TestInstallKilledAtEachStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real API servers and etcds")
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	w := newWorld(t, 64) // beside TestInstallInTheTestWorld's 127.22.0-3
	dir := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			w.logMachines(t)
		}
	})
	if err := writeKubeconfig(filepath.Join(dir, bootKubeconfig), w.boot); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pcgFile), w.pcg, 0o600); err != nil {
		t.Fatal(err)
	}
	ops := newSupervisor(ctx, t, dir)

	// One chain: killed after each step, and during the three waits.
	var plan []run
	for _, step := range steps {
		switch step {
		case install.StepAdminAccess, install.StepFirstNode, install.StepAllNodes:
			plan = append(plan, run{killDuring: step})
		}
		plan = append(plan, run{killAfter: step})
	}
	plan = append(plan, run{}) // then it completes
	killedOps := map[string]bool{}
	midStep, last := 0, ""
	start := time.Now()
	for i, r := range plan {
		got, out := runInstaller(ctx, t, dir, r, ops, killedOps)
		last = out
		t.Logf("run %d (kill after %q, during %q): %s in %s\n%s", i+1, r.killAfter, r.killDuring, got,
			time.Since(start).Round(time.Second), out)
		want := killedAt
		switch {
		case r.killDuring != "" && got == killedSelf:
			// The wait ended before it could be killed in it: allowed,
			// counted below.
			continue
		case r.killDuring != "":
			want = killedMid
			midStep++
		case r.killAfter == "":
			want = completed
		}
		if got != want {
			t.Fatalf("run %d: the installer %s, want %s", i+1, got, want)
		}
	}
	t.Logf("installed in %s; operators killed %d times: %s", time.Since(start).Round(time.Second), len(ops.kills),
		strings.Join(ops.kills, ", "))
	if midStep == 0 {
		t.Error("the installer was never killed in the middle of a wait")
	}
	// At each step from the operator's install on, during the waits too.
	if len(ops.kills) < len(steps)-1 {
		t.Errorf("the operators were killed %d times, want one at each step from the first operator's on", len(ops.kills))
	}
	// The last run found every step done but the two that only look.
	reached := 0
	for line := range strings.Lines(last) {
		m := stepLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		reached++
		if m[3] == string(install.OutcomeDone) && m[2] != install.StepBootstrap && m[2] != install.StepAllNodes &&
			m[2] != install.StepCleanup {
			t.Errorf("the last run did %q again", m[2])
		}
	}
	if reached != len(steps) {
		t.Errorf("the last run reached %d steps, want %d", reached, len(steps))
	}
	w.checkInstalled(ctx, t, filepath.Join(dir, gwKubeconfig))
	for _, mode := range []install.Mode{install.ModeOutside, install.ModeInside} {
		log, err := os.ReadFile(filepath.Join(dir, "operator-"+string(mode)+".log"))
		if err != nil {
			t.Error(err)
		}
		if i := bytes.Index(log, []byte("DATA RACE")); i >= 0 {
			t.Errorf("the operator (%s) raced:\n%s", mode, log[i:min(len(log), i+8000)])
		}
	}
}

// writeKubeconfig writes cfg (envtest's: a client certificate) for the
// children to read.
func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	return clientcmd.WriteToFile(*kc, path)
}
