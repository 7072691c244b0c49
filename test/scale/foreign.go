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

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/maas-gateway/maas-gateway/test/harness"
)

// foreignNamespaces is how many namespaces the foreign Secrets spread over,
// as the releases of a cluster's applications do.
const foreignNamespaces = 10

// idleMemory is the manager's memory in a cluster that holds foreign
// Secrets, before any TenantCluster exists.
type idleMemory struct {
	ForeignSecrets int   `json:"foreignSecrets"`
	SecretBytes    int   `json:"foreignSecretBytes"`
	PeakRSS        int64 `json:"managerStartPeakRSSBytes"`
	RSS            int64 `json:"managerSettledRSSBytes"`
}

// withForeignSecrets creates n Secrets shaped like the records Helm keeps of
// each release (type helm.sh/release.v1, Helm's labels, one value of size
// incompressible bytes, as Helm's gzipped release is) in namespaces that
// are none of the operator's business, then restarts the manager, so that
// it starts in a cluster that already holds them, as a manager restarted in
// a busy cluster does. It returns the new process's peak RSS since its
// start, and its RSS once it has been ready for settle.
func withForeignSecrets(ctx context.Context, env *harness.Env, n, size, conc int,
	settle time.Duration) (idleMemory, error) {
	res := idleMemory{ForeignSecrets: n, SecretBytes: size}
	for i := range foreignNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("apps-%02d", i)}}
		if err := retry(ctx, func() error { return env.Client.Create(ctx, ns) }); err != nil {
			return res, err
		}
	}
	t0 := time.Now()
	err := parallel(ctx, n, conc, func(i int) error {
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		value := make([]byte, size)
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		release, version := fmt.Sprintf("app-%d", i/10), i%10+1
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: fmt.Sprintf("apps-%02d", i%foreignNamespaces),
				Name:      fmt.Sprintf("sh.helm.release.v1.%s.v%d", release, version),
				Labels: map[string]string{"owner": "helm", "name": release, "status": "superseded",
					"version": fmt.Sprint(version), "modifiedAt": fmt.Sprint(1764000000 + i)},
			},
			Type: "helm.sh/release.v1",
			Data: map[string][]byte{"release": value},
		}
		return retry(ctx, func() error { return env.Client.Create(ctx, s) })
	})
	if err != nil {
		return res, fmt.Errorf("creating foreign Secrets: %w", err)
	}
	progress("foreign Secrets: %d of %d KiB in %d namespaces created in %v; restarting the manager", n, size>>10,
		foreignNamespaces, time.Since(t0).Round(time.Second))
	if err := env.Manager.Restart(ctx); err != nil {
		return res, err
	}
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(settle): // a measurement window, not a wait for a condition
	}
	m, err := env.Manager.Memory()
	if err != nil {
		return res, err
	}
	res.PeakRSS, res.RSS = m.PeakRSS, m.RSS
	progress("manager with %d foreign Secrets: peak RSS since start %.0f MiB, after %v %.0f MiB", n,
		float64(m.PeakRSS)/mib, settle, float64(m.RSS)/mib)
	return res, nil
}
