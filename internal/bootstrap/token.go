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
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// NodeTokenGroup is the group kubeadm gives the tokens nodes join with: kubeadm
// init binds it to node bootstrap (CSR creation and auto-approval) and to
// reading the kubeadm and kubelet configuration.
const NodeTokenGroup = "system:bootstrappers:kubeadm:default-node-token"

// DefaultTokenTTL is how long the token kubeadm init creates stays valid,
// kubeadm's own default: long enough for every machine deployed with the
// first control plane to join.
const DefaultTokenTTL = 24 * time.Hour

const tokenDescription = "maas-gateway node join token"

// BootstrapToken is a kubeadm bootstrap token, "<id>.<secret>". Its fields are
// unexported and it prints as "<id>.<redacted>", so that logging one by
// mistake does not leak it; Value returns the whole token.
type BootstrapToken struct {
	id, secret string
}

// GenerateBootstrapToken returns a new random token ([a-z0-9]{6}.[a-z0-9]{16}
// from crypto/rand, as kubeadm token generate makes them).
func GenerateBootstrapToken() (BootstrapToken, error) {
	s, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return BootstrapToken{}, fmt.Errorf("generating bootstrap token: %w", err)
	}
	return ParseBootstrapToken(s)
}

// ParseBootstrapToken parses a stored token. Its error never repeats the input.
func ParseBootstrapToken(s string) (BootstrapToken, error) {
	if !bootstraputil.IsValidBootstrapToken(s) {
		return BootstrapToken{}, errors.New("bootstrap token does not match [a-z0-9]{6}.[a-z0-9]{16}")
	}
	id, secret, _ := strings.Cut(s, ".")
	return BootstrapToken{id: id, secret: secret}, nil
}

// IsZero says whether t is the zero value, i.e. no token.
func (t BootstrapToken) IsZero() bool { return t.id == "" }

// ID returns the public half of the token.
func (t BootstrapToken) ID() string { return t.id }

// Value returns the whole token, secret included.
func (t BootstrapToken) Value() string {
	return bootstraputil.TokenFromIDAndSecret(t.id, t.secret)
}

// String returns the token with its secret redacted.
func (t BootstrapToken) String() string { return t.id + ".<redacted>" }

// GoString returns the token with its secret redacted, for %#v.
func (t BootstrapToken) GoString() string { return "bootstrap.BootstrapToken{" + t.String() + "}" }

// TokenSecret is the Secret a bootstrap token lives in, as plain values for
// the controller to create (in the tenant cluster's kube-system namespace).
type TokenSecret struct {
	Namespace string
	Name      string
	Type      corev1.SecretType
	Data      map[string][]byte
}

// Secret returns the bootstrap-token Secret of t, expiring ttl after now,
// usable for authentication and for signing the cluster-info ConfigMap, in
// the group kubeadm's join RBAC is bound to.
func (t BootstrapToken) Secret(ttl time.Duration, now time.Time) (TokenSecret, error) {
	if t.IsZero() {
		return TokenSecret{}, errors.New("no bootstrap token")
	}
	// A token without expiry would be a standing credential for joining the
	// cluster; kubeadm allows it, the operator never needs it.
	if ttl <= 0 {
		return TokenSecret{}, fmt.Errorf("bootstrap token TTL %s must be positive", ttl)
	}
	return TokenSecret{
		Namespace: metav1.NamespaceSystem,
		Name:      bootstraputil.BootstrapTokenSecretName(t.id),
		Type:      bootstrapapi.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:               []byte(t.id),
			bootstrapapi.BootstrapTokenSecretKey:           []byte(t.secret),
			bootstrapapi.BootstrapTokenDescriptionKey:      []byte(tokenDescription),
			bootstrapapi.BootstrapTokenExpirationKey:       []byte(now.Add(ttl).UTC().Format(time.RFC3339)),
			bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
			bootstrapapi.BootstrapTokenUsageSigningKey:     []byte("true"),
			bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte(NodeTokenGroup),
		},
	}, nil
}
