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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// TokenPublisher creates a bootstrap-token Secret inside a tenant cluster.
// The first token reaches a cluster in its init node's user data; a token
// renewed later (tokens live a day, clusters grow for years) must be put
// into the running cluster before a machine deployed with it can join.
type TokenPublisher interface {
	PublishToken(ctx context.Context, kubeconfig []byte, token bootstrap.TokenSecret) error
}

// KubeconfigTokenPublisher reaches the tenant cluster's API server with the
// admin kubeconfig the operator issued for it.
type KubeconfigTokenPublisher struct {
	// Timeout bounds each request; default 15 s.
	Timeout time.Duration
}

// PublishToken implements TokenPublisher. A token already there is fine.
func (p KubeconfigTokenPublisher) PublishToken(ctx context.Context, kubeconfig []byte, t bootstrap.TokenSecret) error {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return fmt.Errorf("reading the cluster's kubeconfig: %w", err)
	}
	cfg.Timeout = p.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name}, Type: t.Type, Data: t.Data}
	if _, err := cs.CoreV1().Secrets(t.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the bootstrap token in the cluster at %s: %w", cfg.Host, err)
	}
	return nil
}
