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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// TokenPublisher creates a bootstrap-token Secret inside a tenant cluster.
// The first token reaches a cluster in its init node's user data; a token
// renewed later (tokens live a day, clusters grow for years) must be put
// into the running cluster before a machine deployed with it can join.
type TokenPublisher interface {
	PublishToken(ctx context.Context, cluster types.NamespacedName, access workload.Access, token bootstrap.TokenSecret) error
}

// WorkloadTokenPublisher reaches the tenant cluster's API server through the
// cluster cache: at the VIP of the cluster's spec, with a client certificate
// the operator signs from the cluster CA it generated. Never through the
// kubeconfig Secret: a user of the namespace can rewrite that one (its
// server, a tokenFile of the manager's own ServiceAccount, an exec plugin)
// and would make the manager act with its own identity elsewhere.
type WorkloadTokenPublisher struct {
	Clusters *workload.Cache
}

// PublishToken implements TokenPublisher. A token already there is fine.
func (p WorkloadTokenPublisher) PublishToken(ctx context.Context, cluster types.NamespacedName, access workload.Access, t bootstrap.TokenSecret) error {
	cl, err := p.Clusters.Get(cluster, access)
	if err != nil {
		return fmt.Errorf("reaching the cluster: %w", err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name}, Type: t.Type, Data: t.Data}
	if err := cl.Client.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the bootstrap token in the cluster at %s: %w", access.Endpoint.VIP, err)
	}
	return nil
}
