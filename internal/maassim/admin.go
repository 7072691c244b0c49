package maassim

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// AdminKeyHeader carries an admin user's API key to the /sim/ endpoints
// from callers off loopback. Not the Authorization header: the Kubernetes
// API server's service proxy, the way tests reach a simulator in a
// cluster, consumes that one and never forwards it.
const AdminKeyHeader = "X-Maas-Sim-Admin-Key"

// adminAllowed says whether r may use the /sim/ endpoints. They hand out
// user data (cluster CA keys), any user's API key and fault injection, so
// off loopback they need an admin's API key. Callers on this host (tests,
// the demo, kubectl port-forward into a simulator's Pod) keep using them
// without one, as they always have.
func (s *Sim) adminAllowed(r *http.Request) bool {
	if isLoopback(r.RemoteAddr) {
		return true
	}
	key := r.Header.Get(AdminKeyHeader)
	if key == "" {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok := false
	for _, u := range s.users {
		// Every admin is compared, so the time taken does not say which
		// admin's key came close.
		if u.admin && subtle.ConstantTimeCompare([]byte(key), []byte(u.apiKey())) == 1 {
			ok = true
		}
	}
	return ok
}

// isLoopback reports whether a remote address (host:port) is a loopback
// address; anything unparsable is not.
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// serveHealth answers a liveness or readiness probe, which comes from off
// loopback (the kubelet) and needs no key.
func serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// serveMetrics writes the request counters and machine counts in the
// Prometheus text format.
func (s *Sim) serveMetrics(w http.ResponseWriter, r *http.Request) {
	counts := s.Counts()
	var b strings.Builder
	b.WriteString("# HELP maassim_requests_total MAAS API requests received, by method, endpoint pattern and op.\n")
	b.WriteString("# TYPE maassim_requests_total counter\n")
	for _, k := range sortedKeys(counts) {
		fmt.Fprintf(&b, "maassim_requests_total{method=%q,endpoint=%q,op=%q} %d\n", k.Method, k.Endpoint, k.Op, counts[k])
	}
	byStatus := map[Status]int{}
	s.mu.RLock()
	for _, m := range s.machines {
		byStatus[m.status]++
	}
	s.mu.RUnlock()
	b.WriteString("# HELP maassim_machines Simulated machines, by status.\n")
	b.WriteString("# TYPE maassim_machines gauge\n")
	for st := range statusNames {
		if n := byStatus[Status(st)]; n > 0 {
			fmt.Fprintf(&b, "maassim_machines{status=%q} %d\n", Status(st).String(), n)
		}
	}
	s.mu.RLock()
	reservations, ranges, records := len(s.ipam.order), len(s.ipam.ranges), len(s.ipam.dns)
	s.mu.RUnlock()
	b.WriteString("# HELP maassim_ip_reservations User-reserved IP addresses.\n")
	b.WriteString("# TYPE maassim_ip_reservations gauge\n")
	fmt.Fprintf(&b, "maassim_ip_reservations %d\n", reservations)
	b.WriteString("# HELP maassim_ip_ranges IP ranges (dynamic and reserved).\n")
	b.WriteString("# TYPE maassim_ip_ranges gauge\n")
	fmt.Fprintf(&b, "maassim_ip_ranges %d\n", ranges)
	b.WriteString("# HELP maassim_dns_resources DNS resources.\n")
	b.WriteString("# TYPE maassim_dns_resources gauge\n")
	fmt.Fprintf(&b, "maassim_dns_resources %d\n", records)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

// serveAdmin serves the simulator's own endpoints, for tests, demos and
// debugging; off loopback they need an admin's API key in AdminKeyHeader:
//
//	GET    /sim/machines         every machine, with agent name and decoded user data
//	GET    /sim/machines/{id}    one machine
//	GET    /sim/faults           the active faults
//	PUT    /sim/faults           replace the faults (JSON, see Faults)
//	DELETE /sim/faults           clear the faults
//	GET    /sim/ipam             subnets, reserved addresses, IP ranges, DNS resources, assigned addresses
//	GET    /sim/counts           request counters as a JSON list
//	DELETE /sim/counts           reset the counters
//	POST   /sim/users            {"name": "...", "admin": false} -> {"name", "apiKey"}
func (s *Sim) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(r) {
		writeText(w, http.StatusUnauthorized,
			"the simulator's admin API needs an admin user's API key in the "+AdminKeyHeader+" header off loopback")
		return
	}
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/sim/"), "/")
	switch {
	case path == collMachines && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Machines())
	case strings.HasPrefix(path, "machines/") && r.Method == http.MethodGet:
		m, ok := s.Machine(strings.TrimPrefix(path, "machines/"))
		if !ok {
			writeText(w, http.StatusNotFound, "no such machine")
			return
		}
		writeJSON(w, http.StatusOK, m)
	case path == "ipam" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.IPAM())
	case path == "faults":
		s.serveFaults(w, r)
	case path == "counts" && r.Method == http.MethodGet:
		counts := s.Counts()
		type row struct {
			RequestKey
			Count int `json:"count"`
		}
		out := []row{}
		for _, k := range sortedKeys(counts) {
			out = append(out, row{k, counts[k]})
		}
		writeJSON(w, http.StatusOK, out)
	case path == "counts" && r.Method == http.MethodDelete:
		s.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	case path == collUsers && r.Method == http.MethodPost:
		var req struct {
			Name  string `json:"name"`
			Admin bool   `json:"admin"`
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = strictUnmarshal(data, &req)
		}
		if err != nil || req.Name == "" {
			writeText(w, http.StatusBadRequest, "want {\"name\": \"...\", \"admin\": false}")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{fieldName: req.Name, "apiKey": s.AddUser(req.Name, req.Admin)})
	default:
		writeText(w, http.StatusNotFound, "unknown simulator endpoint "+r.Method+" "+r.URL.Path)
	}
}

func (s *Sim) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodPut, http.MethodPost:
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeText(w, http.StatusBadRequest, "reading faults: "+err.Error())
			return
		}
		var f Faults
		if err := f.UnmarshalJSON(data); err != nil {
			writeText(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		if err := f.validate(); err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodDelete:
		s.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	default:
		writeText(w, http.StatusMethodNotAllowed, "use GET, PUT or DELETE")
	}
}
