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

package controller

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"golang.org/x/net/http/httpproxy"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// proxyError says why proxy settings cannot be used (a missing or
// incomplete credentials Secret): a configuration the user must fix.
type proxyError struct{ msg string }

func (e *proxyError) Error() string { return e.msg }

// proxyOf is p as it is used: with the username and password of its
// credentials Secret, in namespace, added to the URLs. The Secret is read
// from the API server (Secrets are not cached); its content is never part
// of an error.
func proxyOf(ctx context.Context, c client.Reader, namespace string, p infrav1.ProxySettings) (bootstrap.Proxy, error) {
	out := bootstrap.Proxy{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: p.NoProxy}
	ref := p.CredentialsSecretRef
	if ref == nil || (p.HTTPProxy == "" && p.HTTPSProxy == "") {
		return out, nil
	}
	key := types.NamespacedName{Namespace: namespace, Name: ref.Name}
	s := &corev1.Secret{}
	if err := c.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return out, &proxyError{fmt.Sprintf("the proxy credentials Secret %s does not exist", key)}
		}
		return out, fmt.Errorf("reading the proxy credentials Secret %s: %w", key, err)
	}
	user := string(s.Data["username"])
	if user == "" {
		return out, &proxyError{fmt.Sprintf("the proxy credentials Secret %s has no username", key)}
	}
	creds := url.UserPassword(user, string(s.Data["password"]))
	for _, u := range []*string{&out.HTTPProxy, &out.HTTPSProxy} {
		if *u == "" {
			continue
		}
		parsed, err := url.Parse(*u)
		if err != nil || parsed.Host == "" {
			// The schema and the webhook accept only URLs; say nothing of it.
			return out, &proxyError{"a proxy URL does not parse"}
		}
		parsed.User = creds
		*u = parsed.String()
	}
	return out, nil
}

// GatewayProxy holds the gateway's proxy settings (with their credentials)
// as the Gateway controller last read them, so that chart downloads go
// through the proxy the gateway's own nodes use.
type GatewayProxy struct {
	cfg atomic.Pointer[httpproxy.Config]
}

// Set records the gateway's proxy settings (with their credentials).
func (g *GatewayProxy) Set(p bootstrap.Proxy) {
	g.cfg.Store(&httpproxy.Config{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: strings.Join(p.NoProxy, ",")})
}

// Proxy is an http.Transport's Proxy: the proxy for req, or nil for none.
func (g *GatewayProxy) Proxy(req *http.Request) (*url.URL, error) {
	cfg := g.cfg.Load()
	if cfg == nil {
		return nil, nil
	}
	return cfg.ProxyFunc()(req.URL)
}

// publishProxy hands the gateway's proxy settings to the chart downloads.
// Settings whose credentials cannot be read leave the last good ones: the
// nodes' condition says what is wrong.
func (r *GatewayReconciler) publishProxy(ctx context.Context, gw *infrav1.Gateway) {
	if r.Proxy == nil {
		return
	}
	proxy, err := proxyOf(ctx, r.Client, gw.Namespace, gw.Spec.Environment.ProxySettings)
	if err != nil {
		logf.FromContext(ctx).Info("the gateway's proxy settings are not usable for chart downloads", "error", err.Error())
		return
	}
	r.Proxy.Set(proxy)
}
