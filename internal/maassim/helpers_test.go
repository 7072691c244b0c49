package maassim

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	gomaasapi "github.com/juju/gomaasapi/v2"
)

// fastConfig is DefaultConfig with timings short enough for many
// round trips per test.
func fastConfig() Config {
	cfg := DefaultConfig()
	cfg.Timings = Timings{
		DeployTime: 60 * time.Millisecond, DeployJitter: 10 * time.Millisecond,
		ReleaseTime: 30 * time.Millisecond, ReleaseJitter: 5 * time.Millisecond,
		EraseTime: 60 * time.Millisecond, QuickEraseTime: 20 * time.Millisecond,
	}
	return cfg
}

func startSim(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func maasClient(t testing.TB, srv *Server, key string) *client.Client {
	t.Helper()
	c, err := client.GetClient(srv.URL, key, "2.0")
	if err != nil {
		t.Fatalf("GetClient: %v", err)
	}
	return c
}

// serverError extracts the MAAS error gomaasclient returned.
func serverError(t testing.TB, err error) gomaasapi.ServerError {
	t.Helper()
	if err == nil {
		t.Fatal("expected a MAAS error, got success")
	}
	var se gomaasapi.ServerError
	if !errors.As(err, &se) {
		if se2, ok := gomaasapi.GetServerError(err); ok {
			return se2
		}
		t.Fatalf("expected gomaasapi.ServerError, got %T: %v", err, err)
	}
	return se
}

func expectServerError(t testing.TB, err error, status int, body string) {
	t.Helper()
	se := serverError(t, err)
	if se.StatusCode != status || se.BodyMessage != body {
		t.Fatalf("got %d %q, want %d %q", se.StatusCode, se.BodyMessage, status, body)
	}
}

// waitFor waits (driven by the event hook, never by sleeping) until the
// machine satisfies cond.
func waitFor(t testing.TB, s *Sim, id string, what string, cond func(Machine) bool) Machine {
	t.Helper()
	ch := make(chan struct{}, 1)
	cancel := s.Subscribe(func(e Event) {
		if e.Machine.SystemID == id {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		m, ok := s.Machine(id)
		if !ok {
			t.Fatalf("no machine %s", id)
		}
		if cond(m) {
			return m
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("machine %s: timed out waiting for %s; now %s (%s)", id, what, m.StatusName, m.StatusMessage)
		}
	}
}

func waitStatus(t testing.TB, s *Sim, id string, st Status) Machine {
	t.Helper()
	return waitFor(t, s, id, st.String(), func(m Machine) bool { return m.Status == st })
}

// machineByHost finds a machine's system ID by hostname.
func machineByHost(t testing.TB, s *Sim, host string) string {
	t.Helper()
	for _, m := range s.Machines() {
		if m.Hostname == host {
			return m.SystemID
		}
	}
	t.Fatalf("no machine %s", host)
	return ""
}

// rawClient sends hand-made requests, signed with PLAINTEXT or HMAC-SHA1.
type rawClient struct {
	t    testing.TB
	base string // http://host:port/MAAS/api/2.0/
	key  string
	hmac bool
	// tsOffset shifts the OAuth timestamp (to test expiry); nonce, when
	// set, is reused (to test replays).
	tsOffset time.Duration
	nonce    string
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

func newRaw(t testing.TB, srv *Server, key string) *rawClient {
	return &rawClient{t: t, base: srv.URL + "/api/2.0/", key: key}
}

func (c *rawClient) do(method, path string, query, form url.Values) rawResponse {
	c.t.Helper()
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.key != "" {
		req.Header.Set("Authorization", c.authHeader(method, req.URL, query, form))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, string(data)}
}

func (c *rawClient) authHeader(method string, u *url.URL, query, form url.Values) string {
	parts := strings.SplitN(c.key, ":", 3)
	nonce := c.nonce
	if nonce == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		nonce = hex.EncodeToString(b)
	}
	oauth := map[string]string{
		"oauth_consumer_key": parts[0], "oauth_token": parts[1], "oauth_nonce": nonce,
		"oauth_timestamp": strconv.FormatInt(time.Now().Add(c.tsOffset).Unix(), 10), "oauth_version": "1.0",
	}
	if c.hmac {
		oauth["oauth_signature_method"] = "HMAC-SHA1"
		oauth["oauth_signature"] = testHMACSign(method, u, query, form, oauth, parts[2])
	} else {
		oauth["oauth_signature_method"] = "PLAINTEXT"
		oauth["oauth_signature"] = "&" + parts[2]
	}
	fields := make([]string, 0, len(oauth))
	for k, v := range oauth {
		fields = append(fields, fmt.Sprintf(`%s="%s"`, k, url.QueryEscape(v)))
	}
	return `OAuth realm="MAAS+API", ` + strings.Join(fields, ", ")
}

// testHMACSign is an independent RFC 5849 HMAC-SHA1 signer: every query,
// form and oauth parameter, all values of repeated ones.
func testHMACSign(method string, u *url.URL, query, form url.Values, oauth map[string]string, secret string) string {
	enc := func(s string) string {
		return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	}
	var pairs [][2]string
	for _, vs := range []url.Values{query, form} {
		for k, vals := range vs {
			for _, v := range vals {
				pairs = append(pairs, [2]string{enc(k), enc(v)})
			}
		}
	}
	for k, v := range oauth {
		pairs = append(pairs, [2]string{enc(k), enc(v)})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p[0] + "=" + p[1]
	}
	baseURL := "http://" + u.Host + u.EscapedPath()
	base := method + "&" + enc(baseURL) + "&" + enc(strings.Join(joined, "&"))
	mac := hmac.New(sha1.New, []byte("&"+enc(secret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
