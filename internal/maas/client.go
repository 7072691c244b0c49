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

package maas

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/go-logr/logr"
)

// apiVersion is the only MAAS API version there is.
const apiVersion = "2.0"

// Options tune the clients a Factory builds. Zero fields take the defaults
// in DefaultOptions.
type Options struct {
	// RequestTimeout bounds one HTTP attempt, reading the body included.
	RequestTimeout time.Duration
	// DialTimeout bounds connecting to MAAS (or to the proxy).
	DialTimeout time.Duration
	// MaxAttempts bounds the attempts of one call, the first included.
	MaxAttempts int
	// BackoffBase is the delay before the second attempt; it doubles for
	// each further attempt, up to BackoffMax, with jitter.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RetryAfterMax caps how long a Retry-After header may make us wait.
	RetryAfterMax time.Duration
	// RateLimit is the sustained requests per second allowed to one MAAS
	// endpoint (all credentials together), RateBurst the burst above it.
	RateLimit float64
	RateBurst int
	// PriorityShare is the part of RateLimit (and RateBurst) kept for calls
	// made WithPriority; default DefaultPriorityShare.
	PriorityShare float64
	// IdleTimeout is how long a cached client lives unused before the
	// factory drops it (a rotated key leaves its old client unused).
	IdleTimeout time.Duration
	// Proxy picks the proxy for a request; nil means
	// http.ProxyFromEnvironment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
}

// DefaultOptions are sized for a MAAS region API that is slow but not
// flaky: a list of a thousand machines takes seconds, a 503 asks for 10 s.
func DefaultOptions() Options {
	return Options{
		RequestTimeout: 60 * time.Second,
		DialTimeout:    10 * time.Second,
		MaxAttempts:    4,
		BackoffBase:    500 * time.Millisecond,
		BackoffMax:     15 * time.Second,
		RetryAfterMax:  30 * time.Second,
		RateLimit:      10,
		RateBurst:      20,
		IdleTimeout:    30 * time.Minute,
		Proxy:          http.ProxyFromEnvironment,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = d.DialTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = d.BackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = d.BackoffMax
	}
	if o.RetryAfterMax <= 0 {
		o.RetryAfterMax = d.RetryAfterMax
	}
	if o.RateLimit <= 0 {
		o.RateLimit = d.RateLimit
	}
	if o.RateBurst <= 0 {
		o.RateBurst = d.RateBurst
	}
	if o.PriorityShare <= 0 || o.PriorityShare >= 1 {
		o.PriorityShare = DefaultPriorityShare
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.Proxy == nil {
		o.Proxy = d.Proxy
	}
	return o
}

// Config says which MAAS to talk to and as whom.
type Config struct {
	// Endpoint is the MAAS URL as the user wrote it; see ParseEndpoint.
	Endpoint string
	// APIKey is the parsed key; see ParseAPIKey.
	APIKey APIKey
	// CABundle is an optional PEM bundle trusted for an https endpoint
	// instead of the system's certificate authorities.
	CABundle []byte
}

// Client talks to one MAAS endpoint with one API key. It is safe for
// concurrent use and cheap to share: get it from a Factory.
type Client struct {
	endpoint    Endpoint
	key         APIKey
	fingerprint string
	opts        Options
	transport   http.RoundTripper
	limiter     *budget
}

// NewClient builds a client with its own rate limiter. Controllers use a
// Factory instead, which shares clients and limiters.
func NewClient(cfg Config, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	ep, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, refusal(ClassInvalid, "connect", "", err.Error())
	}
	return newClient(ep, cfg, opts, newBudget(opts.RateLimit, opts.RateBurst, opts.PriorityShare))
}

func newClient(ep Endpoint, cfg Config, opts Options, limiter *budget) (*Client, error) {
	if cfg.APIKey.IsZero() {
		return nil, refusal(ClassInvalid, "connect", "", "no API key")
	}
	tr, err := newTransport(ep, cfg.CABundle, opts)
	if err != nil {
		return nil, refusal(ClassInvalid, "connect", "", err.Error())
	}
	return &Client{
		endpoint:    ep,
		key:         cfg.APIKey,
		fingerprint: fingerprint(ep, cfg),
		opts:        opts,
		transport:   tr,
		limiter:     limiter,
	}, nil
}

// Endpoint is the normalised MAAS URL this client talks to.
func (c *Client) Endpoint() Endpoint { return c.endpoint }

// Fingerprint identifies the (endpoint, key, CA bundle) triple without
// revealing the key; it changes when any of them does.
func (c *Client) Fingerprint() string { return c.fingerprint }

func fingerprint(ep Endpoint, cfg Config) string {
	h := sha256.New()
	h.Write([]byte(ep.String()))
	h.Write([]byte{0})
	h.Write([]byte(cfg.APIKey.reveal()))
	h.Write([]byte{0})
	h.Write(cfg.CABundle)
	return hex.EncodeToString(h.Sum(nil))
}

func newTransport(ep Endpoint, caBundle []byte, opts Options) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 opts.Proxy,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.DialTimeout,
		ResponseHeaderTimeout: opts.RequestTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	if len(caBundle) > 0 {
		if !ep.TLS() {
			return nil, errors.New("a CA bundle is set but the endpoint is not https")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, errors.New("the CA bundle holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	} else if ep.TLS() {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return tr, nil
}

// Factory hands out one Client per (endpoint, key, CA bundle), keyed by a
// hash of the three, and one rate limiter per endpoint shared by every key
// that talks to it. A changed key (a rotated Secret) gets a new client; the
// old one is dropped once unused for Options.IdleTimeout.
type Factory struct {
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	clients  map[string]*cachedClient
	limiters map[string]*budget
}

type cachedClient struct {
	client   *Client
	lastUsed time.Time
}

// NewFactory returns an empty client cache.
func NewFactory(opts Options) *Factory {
	return &Factory{
		opts:     opts.withDefaults(),
		now:      time.Now,
		clients:  map[string]*cachedClient{},
		limiters: map[string]*budget{},
	}
}

// Client returns the cached client for cfg, building it on first use.
// Errors are ClassInvalid and never contain the key.
func (f *Factory) Client(cfg Config) (*Client, error) {
	ep, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, refusal(ClassInvalid, "connect", "", err.Error())
	}
	if cfg.APIKey.IsZero() {
		return nil, refusal(ClassInvalid, "connect", "", "no API key")
	}
	id := fingerprint(ep, cfg)
	now := f.now()

	f.mu.Lock()
	defer f.mu.Unlock()
	for k, e := range f.clients {
		if k != id && now.Sub(e.lastUsed) > f.opts.IdleTimeout {
			delete(f.clients, k)
		}
	}
	if e, ok := f.clients[id]; ok {
		e.lastUsed = now
		return e.client, nil
	}
	lim, ok := f.limiters[ep.String()]
	if !ok {
		lim = newBudget(f.opts.RateLimit, f.opts.RateBurst, f.opts.PriorityShare)
		f.limiters[ep.String()] = lim
	}
	c, err := newClient(ep, cfg, f.opts, lim)
	if err != nil {
		return nil, err
	}
	f.clients[id] = &cachedClient{client: c, lastUsed: now}
	return c, nil
}

// Len is the number of cached clients.
func (f *Factory) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}

// callSpec describes one logical MAAS call for the retry layer.
type callSpec struct {
	op       string
	systemID string
	// idempotent calls are retried after any transient failure; the others
	// (allocate, address reservations) only when MAAS cannot have acted:
	// the connection was never made. A 503 is not enough: MAAS rolls back
	// its own 503s, but one from a proxy in front of it, or a connection
	// lost on the way back, can follow a committed allocation, and a retry
	// would take a second machine (see MayHaveActed and Inventory.Allocate).
	idempotent bool
	// attempts overrides Options.MaxAttempts when positive.
	attempts int
}

// call runs fn against a gomaasclient bound to ctx, retrying transient
// failures with exponential backoff. It is the only retry layer: the
// transport hides Retry-After from gomaasapi, which would otherwise sleep
// and retry 409/503 answers itself (up to 4 times, deaf to ctx), multiplying
// our attempts.
func (c *Client) call(ctx context.Context, spec callSpec, fn func(*client.Client) error) error {
	attempts := c.opts.MaxAttempts
	if spec.attempts > 0 {
		attempts = spec.attempts
	}
	for attempt := 1; ; attempt++ {
		if err := c.limiter.wait(ctx); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else {
				err = fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
			}
			return newError(spec.op, spec.systemID, err)
		}
		var info attemptInfo
		err := c.attempt(ctx, &info, fn)
		if err == nil {
			return nil
		}
		// MAAS echoes the token key in some 401 bodies: keep the key's
		// public parts out of messages too.
		p := c.key.parts()
		e := newError(spec.op, spec.systemID, err, p.consumerKey, p.tokenKey)
		if attempt >= attempts || ctx.Err() != nil || !retryable(err, spec.idempotent) {
			return e
		}
		delay := backoff(attempt, c.opts.BackoffBase, c.opts.BackoffMax)
		if ra := min(info.retryAfter, c.opts.RetryAfterMax); ra > delay {
			delay = ra
		}
		logr.FromContextOrDiscard(ctx).V(1).Info("retrying MAAS call",
			"op", spec.op, "attempt", attempt, "delay", delay, "error", e.Error())
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return e
		case <-t.C:
		}
	}
}

// attempt runs fn once, within its own timeout. gomaasclient has no context
// parameter, so each attempt gets a gomaasclient whose transport carries
// the attempt's context; building one costs microseconds next to MAAS.
func (c *Client) attempt(ctx context.Context, info *attemptInfo, fn func(*client.Client) error) error {
	actx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	gc, err := client.GetClientWithTransport(c.endpoint.String(), c.key.reveal(), apiVersion,
		&boundTransport{ctx: actx, base: c.transport, info: info})
	if err != nil {
		// Only a malformed key fails here, and ParseAPIKey admits none;
		// gomaasapi's message would quote the key, so drop it.
		return errors.New("gomaasclient refused the API key")
	}
	return fn(gc)
}

type attemptInfo struct {
	retryAfter time.Duration
}

// boundTransport gives each request the attempt's context and takes the
// Retry-After header out of responses (remembering its value) so that
// gomaasapi never retries on its own.
type boundTransport struct {
	ctx  context.Context
	base http.RoundTripper
	info *attemptInfo
}

func (b *boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.base.RoundTrip(req.WithContext(b.ctx))
	if resp != nil {
		if v := resp.Header.Get("Retry-After"); v != "" {
			b.info.retryAfter = parseRetryAfter(v, time.Now())
			resp.Header.Del("Retry-After")
		}
	}
	return resp, err
}

// parseRetryAfter reads delay-seconds or an HTTP date; anything else is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable says whether a failed attempt may be repeated. 4xx never is,
// nor an answer this package has already classified as something other
// than transient (a 503 "No more IPs available" is a full subnet, not a
// busy region controller).
func retryable(err error, idempotent bool) bool {
	if me, ok := errors.AsType[*Error](err); ok && me.Class != ClassTransient {
		return false
	}
	if se, ok := serverError(err); ok {
		return idempotent && se.StatusCode >= 500 && se.StatusCode <= 599
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true // nothing reached MAAS
	}
	return idempotent && classifyRaw("", err) == ClassTransient
}

// backoff is the delay after the attempt-th failure: base·2^(attempt-1)
// capped at maxDelay, of which the upper half is random so that clients
// failing together do not retry together.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
