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

package bootstrap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Proxy is the HTTP proxy a node reaches outside networks through.
type Proxy struct {
	// HTTPProxy and HTTPSProxy are proxy URLs, e.g. http://proxy:3128; they
	// may carry credentials (http://user:password@proxy:3128), so errors
	// never repeat them.
	HTTPProxy  string
	HTTPSProxy string
	// NoProxy lists hosts, domains and CIDRs reached directly, added to those
	// every node needs (see noProxy).
	NoProxy []string
}

// fileMode is the mode of the files on a node that hold the proxy URLs:
// readable by root alone when they carry credentials (everything that reads
// them, systemd, pam_env, apt and cloud-init, runs as root), as any other
// file otherwise.
func (p Proxy) fileMode() string {
	for _, s := range []string{p.HTTPProxy, p.HTTPSProxy} {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			return modeSecret
		}
	}
	return modePublic
}

// Enabled says whether a proxy is set; without one nothing is written.
func (p Proxy) Enabled() bool { return p.HTTPProxy != "" || p.HTTPSProxy != "" }

// String describes p with any proxy password redacted, so that printing a
// NodeConfig does not leak it.
func (p Proxy) String() string {
	return fmt.Sprintf("{HTTPProxy:%s HTTPSProxy:%s NoProxy:%v}", redactURL(p.HTTPProxy), redactURL(p.HTTPSProxy), p.NoProxy)
}

func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	// An opaque or hostless "URL" may be credentials Redacted cannot see.
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Redacted()
}

// Where the proxy settings go on a node.
const (
	environmentPath     = "/etc/environment"
	containerdProxyPath = "/etc/systemd/system/containerd.service.d/http-proxy.conf"
	kubeletProxyPath    = "/etc/systemd/system/kubelet.service.d/http-proxy.conf"
)

// unsafeInValue are characters that would break out of the quoting of
// /etc/environment or of a systemd Environment= line.
const unsafeInValue = "\"'\\`$ \t\r\n,"

func validateProxy(p Proxy) error {
	for _, u := range []struct{ field, value string }{
		{"httpProxy", p.HTTPProxy},
		{"httpsProxy", p.HTTPSProxy},
	} {
		if u.value == "" {
			continue
		}
		if err := validateProxyURL(u.value); err != nil {
			return fmt.Errorf("proxy.%s: %w", u.field, err)
		}
	}
	for i, e := range p.NoProxy {
		if e == "" || strings.ContainsAny(e, unsafeInValue) || hasControl(e) {
			return fmt.Errorf("proxy.noProxy[%d] %q must be a non-empty host, domain or CIDR without spaces, commas or quotes", i, e)
		}
	}
	return nil
}

// validateProxyURL never puts the URL in its error: it may hold a password.
func validateProxyURL(s string) error {
	if strings.ContainsAny(s, unsafeInValue) || hasControl(s) {
		return errors.New("must not contain spaces, commas, quotes, backslashes or '$' (percent-encode them)")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http:// or https:// URL with a host")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// noProxy returns what a node must reach directly: itself, the VIP, the pod
// and service ranges and in-cluster names, then the caller's entries, each
// once, in that order.
func noProxy(vip, podCIDR, serviceCIDR string, extra []string) []string {
	all := append([]string{"localhost", "127.0.0.1", vip, podCIDR, serviceCIDR, ".svc", ".cluster.local"}, extra...)
	seen := make(map[string]bool, len(all))
	out := all[:0]
	for _, e := range all {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// proxyVars returns the variables to set, upper-case first: Go programs
// (containerd, kubelet) read either, curl and apt only the lower-case ones.
func proxyVars(p Proxy, noProxyList []string) [][2]string {
	var vars [][2]string
	if p.HTTPProxy != "" {
		vars = append(vars, [2]string{"HTTP_PROXY", p.HTTPProxy})
	}
	if p.HTTPSProxy != "" {
		vars = append(vars, [2]string{"HTTPS_PROXY", p.HTTPSProxy})
	}
	vars = append(vars, [2]string{"NO_PROXY", strings.Join(noProxyList, ",")})
	return vars
}

// environmentFile is appended to /etc/environment, which pam_env reads as
// KEY="value" lines.
func environmentFile(vars [][2]string) string {
	var b strings.Builder
	for _, v := range vars {
		for _, name := range []string{v[0], strings.ToLower(v[0])} {
			fmt.Fprintf(&b, "%s=\"%s\"\n", name, v[1])
		}
	}
	return b.String()
}

// systemdDropIn is a unit drop-in setting vars for a service. systemd expands
// '%' specifiers in Environment=, so each '%' (as in a percent-encoded
// password) is doubled to stay literal.
func systemdDropIn(vars [][2]string) string {
	var b strings.Builder
	b.WriteString("[Service]\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "Environment=\"%s=%s\"\n", v[0], strings.ReplaceAll(v[1], "%", "%%"))
	}
	return b.String()
}
