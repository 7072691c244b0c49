package maassim

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseAuthHeader(t *testing.T) {
	tests := []struct {
		name   string
		header string
		ok     bool
		want   map[string]string
	}{
		{"gomaasclient", `OAuth realm="MAAS+API", oauth_consumer_key="ck", oauth_token="tk", oauth_signature_method="PLAINTEXT", oauth_signature="%26sec", oauth_nonce="n", oauth_timestamp="1", oauth_version="1.0"`,
			true, map[string]string{"oauth_consumer_key": "ck", "oauth_token": "tk", "oauth_signature_method": "PLAINTEXT",
				"oauth_signature": "&sec", "oauth_nonce": "n", "oauth_timestamp": "1", "oauth_version": "1.0"}},
		{"plus kept", `OAuth oauth_signature="a+b%2Bc="`, true, map[string]string{"oauth_signature": "a+b+c="}},
		{"no spaces", `OAuth a="1",b="2"`, true, map[string]string{"a": "1", "b": "2"}},
		{"junk parts", `OAuth ,, =x, c, d="4"`, true, map[string]string{"d": "4"}},
		{"bad escape kept", `OAuth a="%zz"`, true, map[string]string{"a": "%zz"}},
		{"basic auth", `Basic Zm9vOmJhcg==`, false, nil},
		{"empty", ``, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseAuthHeader(tt.header)
			if ok != tt.ok || len(got) != len(tt.want) {
				t.Fatalf("got %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func FuzzParseAuthHeader(f *testing.F) {
	f.Add(`OAuth realm="MAAS+API", oauth_consumer_key="ck", oauth_signature="%26sec"`)
	f.Add(`OAuth a=,=b,"c"`)
	f.Fuzz(func(t *testing.T, h string) {
		params, ok := parseAuthHeader(h)
		if !ok && params != nil {
			t.Fatal("params without an OAuth header")
		}
		if _, has := params["realm"]; has {
			t.Fatal("realm not ignored")
		}
	})
}

func TestPlaintextAuthErrors(t *testing.T) {
	srv := startSim(t, fastConfig())
	parts := strings.Split(srv.DefaultAPIKey(), ":")
	tests := []struct {
		name, key, body string
	}{
		{"bad consumer key", "NoSuchConsumer0000:" + parts[1] + ":" + parts[2], "Authorization Error: Invalid API key."},
		{"bad token", parts[0] + ":NoSuchToken0000000:" + parts[2], "Authorization Error: 'Invalid access token: NoSuchToken0000000'"},
		{"bad secret", parts[0] + ":" + parts[1] + ":WrongSecret000000000000000000000", "Authorization Error: 'Invalid signature.'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := maasClient(t, srv, tt.key)
			_, err := c.Users.Whoami()
			expectServerError(t, err, 401, tt.body)
			if strings.Contains(serverError(t, err).BodyMessage, parts[2]) {
				t.Fatal("the token secret is in the error")
			}
		})
	}
	// The version endpoint is anonymous: a bad key does not matter there.
	if _, err := maasClient(t, srv, tests[0].key).Version.Get(); err != nil {
		t.Fatalf("version with a bad key: %v", err)
	}
}

func TestHMACSignatures(t *testing.T) {
	srv := startSim(t, fastConfig())
	raw := newRaw(t, srv, srv.DefaultAPIKey())
	raw.hmac = true
	// GET with repeated parameters, signed over all values.
	r := raw.do("GET", "machines/", url.Values{"hostname": {"node-01", "node-02"}, "zone": {"zone-a"}}, nil)
	if r.status != 200 || strings.Count(r.body, `"fqdn"`) != 2 {
		t.Fatalf("HMAC GET: %d %.200s", r.status, r.body)
	}
	// POST with the op in the query and constraints in the form body.
	r = raw.do("POST", "machines/", url.Values{"op": {"allocate"}}, url.Values{"tags": {"gpu"}, "zone": {"zone-b"}, "comment": {"a b&c"}})
	if r.status != 200 || !strings.Contains(r.body, `"hostname":"node-16"`) {
		t.Fatalf("HMAC POST: %d %.200s", r.status, r.body)
	}

	// A wrong secret is refused, and the message shows the base string.
	bad := newRaw(t, srv, strings.Join(append(strings.Split(srv.DefaultAPIKey(), ":")[:2], "WrongSecret000000000000000000000"), ":"))
	bad.hmac = true
	r = bad.do("GET", "users/", url.Values{"op": {"whoami"}}, nil)
	wantPrefix := "Authorization Error: 'Invalid signature. Expected signature base string: GET&http%3A%2F%2F127.0.0.1"
	if r.status != 401 || !strings.HasPrefix(r.body, wantPrefix) || strings.Contains(r.body, "WrongSecret") {
		t.Fatalf("wrong secret: %d %q", r.status, r.body)
	}

	// A replayed nonce is refused.
	replay := newRaw(t, srv, srv.DefaultAPIKey())
	replay.hmac = true
	replay.nonce = "0123456789abcdef0123456789abcdef"
	if r := replay.do("GET", "users/", url.Values{"op": {"whoami"}}, nil); r.status != 200 {
		t.Fatalf("first use of nonce: %d %s", r.status, r.body)
	}
	r = replay.do("GET", "users/", url.Values{"op": {"whoami"}}, nil)
	if r.status != 401 || r.body != "Authorization Error: 'Nonce already used: 0123456789abcdef0123456789abcdef'" {
		t.Fatalf("replayed nonce: %d %q", r.status, r.body)
	}

	// An old timestamp is refused.
	old := newRaw(t, srv, srv.DefaultAPIKey())
	old.tsOffset = -10 * time.Minute
	r = old.do("GET", "users/", url.Values{"op": {"whoami"}}, nil)
	if r.status != 401 || !strings.HasPrefix(r.body, "Authorization Error: 'Expired timestamp: given ") {
		t.Fatalf("old timestamp: %d %q", r.status, r.body)
	}

	// An unknown signature method is refused.
	parts := strings.Split(srv.DefaultAPIKey(), ":")
	r = doWithHeader(t, "GET", raw.base+"users/?op=whoami", `OAuth oauth_consumer_key="`+parts[0]+`", oauth_token="`+parts[1]+
		`", oauth_signature_method="RSA-SHA1", oauth_signature="x", oauth_nonce="rsa", oauth_timestamp="`+fmtInt(time.Now().Unix())+`"`)
	if r.status != 401 || r.body != "Authorization Error: 'Signature method RSA-SHA1 not supported try one of the following: PLAINTEXT, HMAC-SHA1'" {
		t.Fatalf("RSA-SHA1: %d %q", r.status, r.body)
	}
	// A request without OAuth is anonymous, which machines/ refuses.
	if r := doWithHeader(t, "GET", raw.base+"machines/", ""); r.status != 401 || r.body != "Forbidden" {
		t.Fatalf("anonymous: %d %q", r.status, r.body)
	}
}

// TestHMACOneValuePerName accepts signatures made over one value per
// parameter name, as MAAS's own OAuth server computes them.
func TestHMACOneValuePerName(t *testing.T) {
	srv := startSim(t, fastConfig())
	key := strings.Split(srv.DefaultAPIKey(), ":")
	q := url.Values{"hostname": {"node-01", "node-02"}}
	for _, pick := range []int{0, 1} {
		raw := newRaw(t, srv, srv.DefaultAPIKey())
		raw.hmac = true
		u, _ := url.Parse(raw.base + "machines/")
		signed := url.Values{"hostname": {q["hostname"][pick]}}
		oauth := map[string]string{"oauth_consumer_key": key[0], "oauth_token": key[1], "oauth_nonce": "nonce" + q["hostname"][pick],
			"oauth_timestamp": fmtInt(time.Now().Unix()), "oauth_version": "1.0", "oauth_signature_method": "HMAC-SHA1"}
		oauth["oauth_signature"] = testHMACSign("GET", u, signed, nil, oauth, key[2])
		var fields []string
		for k, v := range oauth {
			fields = append(fields, k+`="`+url.QueryEscape(v)+`"`)
		}
		r := doWithHeader(t, "GET", raw.base+"machines/?"+q.Encode(), "OAuth "+strings.Join(fields, ", "))
		if r.status != 200 {
			t.Fatalf("signature over value %d refused: %d %s", pick, r.status, r.body)
		}
	}
}

func TestMultipartBody(t *testing.T) {
	srv := startSim(t, fastConfig())
	raw := newRaw(t, srv, srv.DefaultAPIKey())
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("name", "node-05")
	_ = w.WriteField("agent_name", "multi")
	fw, _ := w.CreateFormFile("ignored", "ignored")
	_, _ = fw.Write([]byte("file content"))
	_ = w.Close()
	u, _ := url.Parse(raw.base + "machines/?op=allocate")
	req, err := http.NewRequest("POST", u.String(), &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", raw.authHeader("POST", u, nil, nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"hostname":"node-05"`) {
		t.Fatalf("multipart allocate: %d %.200s", resp.StatusCode, data)
	}
	if m, _ := srv.Machine(machineByHost(t, srv.Sim, "node-05")); m.AgentName != "multi" {
		t.Fatalf("agent name %q", m.AgentName)
	}
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

func doWithHeader(t *testing.T, method, u, auth string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(data)}
}
