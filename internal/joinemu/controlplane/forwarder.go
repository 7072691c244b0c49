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
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// forwarder holds a cluster's VIP: it accepts connections on VIP:port and
// relays each to a live API server of the cluster, standing in for kube-vip
// or a load balancer in front of the control planes. It relays TCP, so TLS
// runs end to end between the client and the API server, whose certificate
// names the VIP.
type forwarder struct {
	ln       net.Listener
	backends func() []string // addresses of the API servers that serve now

	mu     sync.Mutex
	conns  map[net.Conn]string // relayed connections (both sides) → backend address
	next   int                 // round robin over backends
	closed bool
	wg     sync.WaitGroup
}

func listenForwarder(addr string, backends func() []string) (*forwarder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, backends: backends, conns: map[net.Conn]string{}}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *forwarder) serve() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		f.wg.Go(func() { f.relay(conn) })
	}
}

// relay connects conn to the first backend that accepts, starting from the
// next one in turn; with none, the client sees its connection closed, as
// when no machine holds the VIP.
func (f *forwarder) relay(conn net.Conn) {
	backends := f.backends()
	f.mu.Lock()
	start := f.next
	f.next++
	f.mu.Unlock()
	var up net.Conn
	var addr string
	for i := range backends {
		addr = backends[(start+i)%len(backends)]
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			up = c
			break
		}
	}
	if up == nil {
		_ = conn.Close()
		return
	}
	if !f.track(addr, conn, up) {
		_ = conn.Close()
		_ = up.Close()
		return
	}
	defer f.untrack(conn, up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Either side ending ends both, as a proxy that closes on EOF.
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(up, conn)
	go pipe(conn, up)
	<-done
	<-done
}

func (f *forwarder) track(addr string, conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, c := range conns {
		f.conns[c] = addr
	}
	return true
}

func (f *forwarder) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		delete(f.conns, c)
	}
}

// drop closes the connections relayed to backend addr, as a client of a
// machine that went away sees them break.
func (f *forwarder) drop(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, a := range f.conns {
		if a == addr {
			_ = c.Close()
		}
	}
}

// prune closes the relayed connections to backends no longer among live,
// as a load balancer whose health check marks a backend down and shuts its
// sessions; clients reconnect to a live one.
func (f *forwarder) prune(live []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, a := range f.conns {
		if !slices.Contains(live, a) {
			_ = c.Close()
		}
	}
}

// close stops listening, closes every relayed connection and waits for the
// relays to end: the VIP's port is free when it returns.
func (f *forwarder) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	_ = f.ln.Close()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
