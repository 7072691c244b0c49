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

package main

import "testing"

func TestRestRequest(t *testing.T) {
	s := parseMetrics(`rest_client_requests_total{code="200",host="127.100.0.1:6443",method="GET"} 7
rest_client_requests_total{code="200",host="127.0.0.1:41234",method="GET"} 900
rest_client_requests_total{code="<error>",host="127.100.0.2:6443",method="GET"} 2
rest_client_requests_total{code="201",host="127.100.0.1:6443",method="POST"} 1
controller_runtime_reconcile_total{controller="tenantcluster",result="success"} 5
`)
	got := tenantRequests(s, map[string]bool{"127.100.0.1:6443": true, "127.100.0.2:6443": true, "127.100.0.3:6443": true})
	if len(got) != 2 || got["127.100.0.1:6443"] != 8 || got["127.100.0.2:6443"] != 2 {
		t.Fatalf("tenantRequests = %v", got)
	}
}
