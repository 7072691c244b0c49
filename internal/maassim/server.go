package maassim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a Sim listening on a loopback port.
type Server struct {
	*Sim
	// URL is the MAAS URL to give clients, e.g. http://127.0.0.1:PORT/MAAS.
	URL string

	addr string
	lmu  sync.Mutex // guards addr, srv, done
	srv  *http.Server
	done chan struct{}
}

// Start builds a simulator from cfg and serves it on 127.0.0.1 on a free
// port.
func Start(cfg Config) (*Server, error) {
	sim, err := New(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := Serve(sim, "127.0.0.1:0")
	if err != nil {
		sim.Close()
		return nil, err
	}
	return srv, nil
}

// Serve serves sim on addr (host:port; port 0 picks a free one).
func Serve(sim *Sim, addr string) (*Server, error) {
	s := &Server{Sim: sim}
	if err := s.listen(addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("maassim: listening on %s: %w", addr, err)
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.addr = ln.Addr().String()
	s.URL = "http://" + s.addr + "/MAAS"
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		// ErrServerClosed is the normal end; any other error also ends
		// serving, which a client sees as MAAS being unreachable.
		_ = srv.Serve(ln)
	}(s.srv, s.done)
	return nil
}

// Addr returns the host:port the server listens (or listened) on.
func (s *Server) Addr() string {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.addr
}

// Stop stops listening and drops open connections, so MAAS looks
// unreachable; the simulator keeps its state and its machines keep moving.
func (s *Server) Stop() {
	s.lmu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.lmu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
}

// Restart listens again on the address used before Stop.
func (s *Server) Restart() error {
	s.lmu.Lock()
	running := s.srv != nil
	addr := s.addr
	s.lmu.Unlock()
	if running {
		return errors.New("maassim: server is running")
	}
	return s.listen(addr)
}

// Shutdown stops listening gracefully, waiting for requests in flight
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.lmu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.lmu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	return err
}

// Close stops the server and the simulator's timers.
func (s *Server) Close() {
	s.Stop()
	s.Sim.Close()
}
