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

package pcg

import (
	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// What a pcg.yaml declares itself to be. A kind of its own, in a group of
// its own, so the file is never mistaken for (or applied as) a Gateway.
const (
	APIVersion = "install.maasgateway.io/v1alpha1"
	Kind       = "GatewayInstallation"
)

// DefaultNamespace is where the Gateway and its Secrets go when the file
// names no namespace: the one the README installs the chart into.
const DefaultNamespace = "maas-system"

// MaxFileSize bounds what is read: a pcg.yaml is a page of settings and a
// CA bundle (at most 64 KiB in a Gateway), never more.
const MaxFileSize = 256 << 10

// Config is a pcg.yaml. Fields that also exist in a Gateway's spec have the
// spec's names, types and rules.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`

	// Name of the Gateway; its Secrets are named after it.
	Name string `json:"name"`
	// Namespace of the Gateway and its Secrets; DefaultNamespace if empty.
	Namespace string `json:"namespace,omitempty"`

	// Replicas is the number of gateway nodes: 1, or 3 for production.
	Replicas int32 `json:"replicas,omitempty"`
	// ControlPlaneEndpoint is the virtual IP of the gateway's API server.
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint"`
	// VIPInterface is the machines' interface that holds the VIP.
	VIPInterface string `json:"vipInterface,omitempty"`

	MAAS        MAAS              `json:"maas"`
	Placement   infrav1.Placement `json:"placement,omitempty"`
	Environment Environment       `json:"environment,omitempty"`
	Release     *infrav1.Release  `json:"release,omitempty"`
}

// MAAS is the MAAS region and the API key the gateway works with. The key
// goes into a Secret; the Gateway only names it.
type MAAS struct {
	Endpoint          string `json:"endpoint"`
	APIKey            Secret `json:"apiKey"`
	CABundle          string `json:"caBundle,omitempty"`
	InsecureAllowHTTP bool   `json:"insecureAllowHTTP,omitempty"`
}

// Environment is the proxies and address ranges of every node the gateway
// deploys. Proxy credentials, in the URLs (as the reference installer takes
// them) or in proxyCredentials, go into a Secret; the Gateway's URLs carry none.
type Environment struct {
	HTTPProxy        string            `json:"httpProxy,omitempty"`
	HTTPSProxy       string            `json:"httpsProxy,omitempty"`
	NoProxy          List              `json:"noProxy,omitempty"`
	ProxyCredentials *ProxyCredentials `json:"proxyCredentials,omitempty"`
	PodCIDR          string            `json:"podCIDR,omitempty"`
	ServiceCIDR      string            `json:"serviceCIDR,omitempty"`
}

// ProxyCredentials authenticate to the proxy.
type ProxyCredentials struct {
	Username string `json:"username"`
	Password Secret `json:"password"`
}

// List is a list of strings that may also be written as one comma-separated
// string, the way the reference installer takes noProxy
// (maas.company.com,10.10.0.0/16).
type List []string

// Secret is a string that never prints: a stray %v, %s or %q, or a JSON
// encoding, shows that it is redacted rather than what it holds. Code that
// must have the value converts it with string().
type Secret string

const redacted = "<redacted>"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return redacted }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
