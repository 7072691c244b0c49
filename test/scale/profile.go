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

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/maas-gateway/maas-gateway/test/harness"
)

// profiler fetches the manager's pprof profiles (--pprof-bind-address) into
// a directory, so that a figure that misses its budget comes with where the
// time or the memory goes. A nil profiler does nothing.
type profiler struct {
	addr, dir string
}

// newProfiler picks a loopback port for the manager's pprof server and
// returns the manager flag that enables it; dir "" disables profiling.
func newProfiler(dir string) (*profiler, []string, error) {
	if dir == "" {
		return nil, nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	port, err := harness.FreePort()
	if err != nil {
		return nil, nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &profiler{addr: addr, dir: dir}, []string{"--pprof-bind-address=" + addr}, nil
}

// fetch saves one profile (heap, allocs, goroutine, or profile?seconds=N
// for CPU) as <dir>/<name>.pb.gz.
func (p *profiler) fetch(ctx context.Context, name, profile string) {
	if p == nil {
		return
	}
	if err := p.save(ctx, name, profile); err != nil {
		progress("profile %s: %v", name, err)
		return
	}
	progress("profile %s → %s", name, filepath.Join(p.dir, name+".pb.gz"))
}

func (p *profiler) save(ctx context.Context, name, profile string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/debug/pprof/"+profile, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	f, err := os.Create(filepath.Join(p.dir, name+".pb.gz"))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// cpu records a CPU profile of the next d in the background; wait for it
// with the returned function.
func (p *profiler) cpu(ctx context.Context, name string, d time.Duration) (wait func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.fetch(ctx, name, fmt.Sprintf("profile?seconds=%d", max(1, int(d.Seconds()))))
	}()
	return func() { <-done }
}
