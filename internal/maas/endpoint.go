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
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// ErrInvalidEndpoint is wrapped by every error ParseEndpoint returns.
var ErrInvalidEndpoint = errors.New("invalid MAAS endpoint")

// The errors ParseEndpoint returns. Each is a fixed text: none repeats
// any part of the input, which may hold a password.
var (
	errEndpointEmpty      = invalidEndpoint("it is empty")
	errEndpointNoScheme   = invalidEndpoint("it must start with http:// or https://")
	errEndpointScheme     = invalidEndpoint("the scheme must be http or https")
	errEndpointSyntax     = invalidEndpoint("it is not a valid URL")
	errEndpointUserinfo   = invalidEndpoint("it must not contain user information; put the API key in the credentials Secret")
	errEndpointQuery      = invalidEndpoint("it must not have a query")
	errEndpointFragment   = invalidEndpoint("it must not have a fragment")
	errEndpointNoHost     = invalidEndpoint("it has no host")
	errEndpointHostChars  = invalidEndpoint("the host may contain only letters, digits, '.', '-' and '_' (or be an IP address)")
	errEndpointIPv6       = invalidEndpoint("the host is not a valid IPv6 address")
	errEndpointPort       = invalidEndpoint("the port must be a number from 1 to 65535")
	errEndpointEmptyPort  = invalidEndpoint("the port is empty")
	errEndpointPath       = invalidEndpoint("the path must be printable ASCII without spaces")
	errEndpointAPIVersion = invalidEndpoint("only MAAS API version 2.0 is supported")
)

func invalidEndpoint(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidEndpoint, msg) }

// defaultBasePath is where MAAS serves its API when the URL has no path.
const defaultBasePath = "/MAAS/"

// apiVersionSuffix is what users paste when they copy the versioned API URL;
// gomaasclient adds it itself.
const apiVersionSuffix = "/api/2.0"

// Endpoint is a normalised MAAS URL: http or https, a host, an optional
// port, and a base path ending in "/" (by default /MAAS/), without the
// api/2.0 suffix gomaasclient appends.
type Endpoint struct {
	url *url.URL
}

// ParseEndpoint normalises a MAAS URL as users write it
// ("http://10.11.12.13:5240/MAAS", "https://maas.example.com",
// ".../MAAS/api/2.0/"). It rejects other schemes, missing hosts, user
// information (credentials belong in the Secret), queries, fragments and
// other API versions. Errors never repeat the input, which may hold a password.
func ParseEndpoint(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Endpoint{}, errEndpointEmpty
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, errEndpointNoScheme
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return Endpoint{}, errEndpointScheme
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, errEndpointSyntax
	}
	if u.User != nil {
		return Endpoint{}, errEndpointUserinfo
	}
	if u.RawQuery != "" || u.ForceQuery {
		return Endpoint{}, errEndpointQuery
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return Endpoint{}, errEndpointFragment
	}
	host, err := checkHost(u)
	if err != nil {
		return Endpoint{}, err
	}
	p, err := basePath(u.Path)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{url: &url.URL{Scheme: scheme, Host: host, Path: p}}, nil
}

func checkHost(u *url.URL) (string, error) {
	hostname := u.Hostname()
	if hostname == "" {
		return "", errEndpointNoHost
	}
	for _, r := range hostname {
		ok := r == '.' || r == '-' || r == '_' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return "", errEndpointHostChars
		}
	}
	if strings.Contains(hostname, ":") && net.ParseIP(hostname) == nil {
		return "", errEndpointIPv6
	}
	host := strings.ToLower(hostname)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", errEndpointPort
		}
		host += ":" + strconv.Itoa(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return "", errEndpointEmptyPort
	}
	return host, nil
}

func basePath(p string) (string, error) {
	if p == "" || p == "/" {
		return defaultBasePath, nil
	}
	for _, r := range p {
		if r < 0x21 || r > 0x7e {
			return "", errEndpointPath
		}
	}
	clean := path.Clean("/" + p)
	if base, ok := strings.CutSuffix(clean, apiVersionSuffix); ok {
		clean = base
	} else if i := strings.LastIndex(clean, "/api/"); i >= 0 && isAPIVersion(clean[i+len("/api/"):]) {
		return "", errEndpointAPIVersion
	}
	if clean == "" || clean == "/" {
		return defaultBasePath, nil
	}
	return clean + "/", nil
}

// isAPIVersion reports whether s looks like "1.0" or "3.1".
func isAPIVersion(s string) bool {
	major, minor, ok := strings.Cut(s, ".")
	if !ok || major == "" || minor == "" {
		return false
	}
	for _, r := range major + minor {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String is the normalised URL, e.g. "http://10.11.12.13:5240/MAAS/".
func (e Endpoint) String() string {
	if e.url == nil {
		return ""
	}
	return e.url.String()
}

// IsZero reports whether e was never parsed.
func (e Endpoint) IsZero() bool { return e.url == nil }

// TLS reports whether the endpoint is https.
func (e Endpoint) TLS() bool { return e.url != nil && e.url.Scheme == "https" }

// Host is host[:port] as dialled.
func (e Endpoint) Host() string {
	if e.url == nil {
		return ""
	}
	return e.url.Host
}
