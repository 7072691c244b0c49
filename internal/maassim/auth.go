package maassim

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MAAS authenticates API requests with OAuth 1.0 (piston3's OAuthServer):
// PLAINTEXT (gomaasclient) or HMAC-SHA1 (other clients), a timestamp within
// 300 s of the server's clock and a nonce never seen before.

const (
	timestampThreshold = 300 // seconds, as python-oauth's OAuthServer
	noncePruneEvery    = 30 * time.Second
)

// parseAuthHeader splits an "OAuth k="v", ..." Authorization header the way
// python-oauth does: the realm is ignored and values are percent-decoded
// ("+" stays "+"). ok is false when the header is not an OAuth one.
func parseAuthHeader(h string) (params map[string]string, ok bool) {
	h = strings.TrimSpace(h)
	rest, found := strings.CutPrefix(h, "OAuth")
	if !found {
		return nil, false
	}
	params = map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		k, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		k = strings.TrimSpace(k)
		if k == "" || k == "realm" {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		params[k] = v
	}
	return params, true
}

var requiredOAuthParams = []string{
	"oauth_consumer_key", "oauth_token", "oauth_signature",
	"oauth_signature_method", "oauth_timestamp", "oauth_nonce",
}

// authenticate returns the requesting user, nil for an anonymous request,
// or the 401 MAAS answers.
func (s *Sim) authenticate(r *http.Request, query, body params) (*user, *apiError) {
	header, isOAuth := parseAuthHeader(r.Header.Get("Authorization"))
	if !isOAuth {
		return nil, nil
	}
	for _, p := range requiredOAuthParams {
		if _, ok := header[p]; !ok {
			// MAAS treats an incomplete OAuth request as no authentication.
			return nil, nil
		}
	}
	if v, ok := header["oauth_version"]; ok && v != "1.0" {
		return nil, oauthError(fmt.Sprintf("OAuth version %s not supported.", v))
	}
	s.mu.RLock()
	u := s.userByConsumer[header["oauth_consumer_key"]]
	s.mu.RUnlock()
	if u == nil {
		return nil, &apiError{status: http.StatusUnauthorized, body: "Authorization Error: Invalid API key."}
	}
	if header["oauth_token"] != u.token {
		return nil, oauthError("Invalid access token: " + header["oauth_token"])
	}
	ts, err := strconv.ParseInt(header["oauth_timestamp"], 10, 64)
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest,
			body: "Bad Request: the following problems were found among the auth params: oauth_timestamp has an unexpected type"}
	}
	now := time.Now().Unix()
	if now-ts > timestampThreshold || ts-now > timestampThreshold {
		return nil, oauthError(fmt.Sprintf(
			"Expired timestamp: given %d and now %d has a greater difference than threshold %d", ts, now, timestampThreshold))
	}
	nonce := header["oauth_nonce"]
	if !s.useNonce(u.consumer+"\x00"+u.token+"\x00"+nonce, ts, now) {
		return nil, oauthError("Nonce already used: " + nonce)
	}
	switch method := header["oauth_signature_method"]; method {
	case "PLAINTEXT":
		want := oauthEscape("") + "&" + oauthEscape(u.tokenSec)
		if subtle.ConstantTimeCompare([]byte(header["oauth_signature"]), []byte(want)) != 1 {
			// MAAS's message would echo the expected signature, which is
			// the secret; the simulator keeps secrets out of bodies.
			return nil, oauthError("Invalid signature.")
		}
	case "HMAC-SHA1":
		if base, ok := verifyHMAC(r, header, query, body, u.tokenSec); !ok {
			return nil, oauthError("Invalid signature. Expected signature base string: " + base)
		}
	default:
		return nil, oauthError(fmt.Sprintf(
			"Signature method %s not supported try one of the following: PLAINTEXT, HMAC-SHA1", method))
	}
	return u, nil
}

// oauthError is MAAS's OAuthUnauthorized: "Authorization Error: %r".
func oauthError(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, body: "Authorization Error: " + pyRepr(msg),
		header: map[string]string{"WWW-Authenticate": `OAuth realm="OAuth"`}}
}

// useNonce records a nonce and reports whether it was fresh. Nonces older
// than the timestamp window are forgotten, since their timestamps would be
// refused anyway.
func (s *Sim) useNonce(key string, ts, now int64) bool {
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	if _, seen := s.nonces[key]; seen {
		return false
	}
	s.nonces[key] = ts
	if t := time.Unix(now, 0); t.Sub(s.noncePruned) > noncePruneEvery {
		s.noncePruned = t
		for k, v := range s.nonces {
			if now-v > timestampThreshold {
				delete(s.nonces, k)
			}
		}
	}
	return true
}

// oauthEscape percent-encodes as OAuth 1.0 requires (RFC 3986 unreserved
// characters stay as they are).
func oauthEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// verifyHMAC checks an HMAC-SHA1 signature. MAAS's OAuth server keeps one
// value per parameter name, so clients sign repeated parameters in
// different ways; the simulator accepts a signature over all values (RFC
// 5849), over the first or over the last value of each name, with or
// without the form body. It returns the RFC 5849 base string for the error
// message.
func verifyHMAC(r *http.Request, header map[string]string, query, body params, tokenSecret string) (string, bool) {
	sig, err := base64.StdEncoding.DecodeString(header["oauth_signature"])
	if err != nil {
		sig = nil
	}
	key := []byte("&" + oauthEscape(tokenSecret))
	var oauth params
	for k, v := range header {
		if k != "oauth_signature" {
			oauth = append(oauth, param{k, v})
		}
	}
	baseURL := normalizedURL(r)
	var rfcBase string
	bodies := []params{append(append(params{}, query...), body...)}
	if len(body) > 0 {
		bodies = append(bodies, query)
	}
	for i, p := range bodies {
		all := append(append(params{}, p...), oauth...)
		for j, set := range []params{all, collapse(all, false), collapse(all, true)} {
			base := r.Method + "&" + oauthEscape(baseURL) + "&" + oauthEscape(normalizeParams(set))
			if i == 0 && j == 0 {
				rfcBase = base
			}
			mac := hmac.New(sha1.New, key)
			mac.Write([]byte(base))
			if sig != nil && hmac.Equal(mac.Sum(nil), sig) {
				return rfcBase, true
			}
		}
	}
	return rfcBase, false
}

// collapse keeps one value per name: the last one, or the first one.
func collapse(p params, last bool) params {
	seen := map[string]int{}
	var out params
	for _, x := range p {
		if i, ok := seen[x.key]; ok {
			if last {
				out[i].value = x.value
			}
			continue
		}
		seen[x.key] = len(out)
		out = append(out, x)
	}
	return out
}

// normalizeParams sorts the encoded pairs by name, then value, and joins
// them (RFC 5849 section 3.4.1.3.2).
func normalizeParams(p params) string {
	enc := make([]param, len(p))
	for i, x := range p {
		enc[i] = param{oauthEscape(x.key), oauthEscape(x.value)}
	}
	slices.SortFunc(enc, func(a, b param) int {
		return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.value, b.value))
	})
	parts := make([]string, len(enc))
	for i, x := range enc {
		parts[i] = x.key + "=" + x.value
	}
	return strings.Join(parts, "&")
}

// normalizedURL is the request URL without query, lower-case scheme and
// host, default port dropped (RFC 5849 section 3.4.1.2).
func normalizedURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
		}
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}
