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

package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// process is one of a machine's programs (etcd, kube-apiserver,
// kube-controller-manager), run in a process group of its own so that
// killing the group kills whatever it started too.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited and been reaped
	err     error         // its exit status, once done is closed
}

// startProcess starts bin with args, its output going to logPath.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = filepath.Dir(logPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(logPath)}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Should the test binary die without cleaning up, the kernel kills
		// the machines' processes rather than leaving them to hold ports.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = out.Close()
		close(p.done)
	}()
	return p, nil
}

// exited says whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill kills the process group and waits until the process is reaped, so
// its ports are free when kill returns.
func (p *process) kill() {
	if p == nil {
		return
	}
	if !p.exited() {
		// The group ID is the leader's PID (Setpgid with Pgid 0).
		if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			_ = p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// tail returns the last lines of the process's output, for error messages:
// etcd and kube-apiserver never log keys or tokens.
func (p *process) tail(lines int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	all := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return string(bytes.Join(all, []byte("\n")))
}

// exitError describes a process that ended while it should have been
// starting.
func (p *process) exitError() error {
	return fmt.Errorf("%s exited (%v); its last output:\n%s", p.name, p.err, p.tail(15))
}

// Leaks returns the command lines of live processes whose command line
// mentions dir: the processes an emulator working under dir started and has
// not killed. Tests call it after stopping an emulator; a test that leaks
// processes should fail (see CheckNoLeaks).
func Leaks(dir string) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.Trim(e.Name(), "0123456789") != "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone meanwhile, or a zombie: it holds no port
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if strings.Contains(cmdline, dir) {
			out = append(out, e.Name()+": "+cmdline)
		}
	}
	return out, nil
}

// workDirPrefix starts the name of every emulator's working directory.
const workDirPrefix = "joinemu-cp-"

// Children returns the command lines of live child processes of this
// process that an emulator started (their command line holds an emulator's
// working directory). A test binary's TestMain calls it after the tests:
// any it returns were leaked by a test that did not Close its emulator.
// Processes of other test binaries, which may run emulators at the same
// time, are not ours and are not returned.
func Children() ([]string, error) {
	all, err := Leaks(workDirPrefix)
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var out []string
	for _, l := range all {
		pid, _, _ := strings.Cut(l, ":")
		if parentOf(pid) == self {
			out = append(out, l)
		}
	}
	return out, nil
}

// parentOf reads the parent PID of pid from /proc; 0 when it cannot.
func parentOf(pid string) int {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	// so the fields are counted from the last ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return 0
	}
	return ppid
}
