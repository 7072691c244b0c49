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

// Package pcg reads the installer's pcg.yaml — the one file the reference
// product's installer takes: MAAS endpoint and API key, proxies, pod and
// service ranges, placement, 1 or 3 nodes — and turns it into the Gateway
// and the credentials Secrets the operator needs.
//
// A file it accepts is one the cluster will accept: the Gateway is checked
// by the webhook's own function (webhook.ValidateGatewaySpec) and by the
// Gateway CRD's OpenAPI schema and CEL rules, evaluated offline with the API
// server's own code against the CRD that `make manifests` generates. The
// pcg.yaml's fields are named as the Gateway spec's wherever the two meet,
// so a message names the field the way the file does; only what a Gateway
// never holds (the API key, proxy credentials, name and namespace) is the
// file's own.
//
// The input is untrusted text that holds a secret: it is size-bounded and
// decoded strictly (an unknown or repeated field is an error naming it and
// its line), and no error, warning or rendering outside --show-secrets ever
// carries the API key or the proxy password.
package pcg
