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
	"testing"
	"time"
)

func BenchmarkRender(b *testing.B) {
	for _, role := range allRoles {
		b.Run(string(role), func(b *testing.B) {
			cfg := withProxy(testConfig(b, role))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGeneratePKI(b *testing.B) {
	for b.Loop() {
		if _, err := GeneratePKI(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdminKubeconfig(b *testing.B) {
	cfg := AdminKubeconfigConfig{ClusterName: "prod", ControlPlaneEndpoint: fixtureVIP, KubernetesVersion: fixtureVersion, CA: testPKI(b).CA, Now: time.Now()}
	for b.Loop() {
		if _, err := AdminKubeconfig(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := Render(testConfig(b, RoleJoinControlPlane))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
