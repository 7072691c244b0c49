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

package harness

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// GatewayPrep says what PrepareGateway sets up. Zero values take the defaults.
type GatewayPrep struct {
	// Namespace of the Gateway; default maas-system (created if missing).
	Namespace string
	// Name of the Gateway; default gateway.
	Name string
	// SecretName is the Secret holding the MAAS API key; default NAME-maas.
	SecretName string
	// APIKey put in that Secret; default the simulator's admin key.
	APIKey string
	// Adopt deploys one machine as another MAAS user (the installer) and
	// registers its Ready Node: the node helm install ran on, which the
	// Gateway then adopts as its first node.
	Adopt bool
	// AdoptZone and AdoptPool place that machine; default zone-a, gateway.
	AdoptZone, AdoptPool string
	// NoPKI skips the four CA Secrets a resize to 3 nodes needs.
	NoPKI bool
}

// PreparedGateway is what PrepareGateway made.
type PreparedGateway struct {
	Namespace, Name, SecretName string
	// AdoptedMachine is the system ID of the adopted machine, AdoptedNode
	// its Node's name; empty without Adopt.
	AdoptedMachine, AdoptedNode string
	endpoint                    string
}

// PrepareGateway creates what a Gateway needs in this cluster and in MAAS
// before it is created; Gateway() then returns one wired to it.
func (e *Env) PrepareGateway(ctx context.Context, p GatewayPrep) (*PreparedGateway, error) {
	if p.Namespace == "" {
		p.Namespace = "maas-system"
	}
	if p.Name == "" {
		p.Name = "gateway"
	}
	if p.SecretName == "" {
		p.SecretName = p.Name + "-maas"
	}
	if p.APIKey == "" {
		p.APIKey = e.APIKey
	}
	out := &PreparedGateway{Namespace: p.Namespace, Name: p.Name, SecretName: p.SecretName, endpoint: e.SimURL}
	if err := e.EnsureNamespace(ctx, p.Namespace); err != nil {
		return nil, err
	}
	if err := e.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.SecretName},
		StringData: map[string]string{infrav1.DefaultAPIKeyKey: p.APIKey},
	}); err != nil {
		return nil, fmt.Errorf("API key Secret: %w", err)
	}
	if !p.NoPKI {
		pki, err := bootstrap.GeneratePKI()
		if err != nil {
			return nil, err
		}
		for purpose, data := range pki.SecretData() {
			// As the README makes them: kubectl create secret tls for the
			// CAs, generic for the service-account key pair (no certificate).
			typ := corev1.SecretTypeTLS
			if purpose == bootstrap.PurposeServiceAccount {
				typ = corev1.SecretTypeOpaque
			}
			if err := e.Client.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: bootstrap.SecretName(p.Name, purpose)},
				Type:       typ,
				Data:       data,
			}); err != nil {
				return nil, fmt.Errorf("%s Secret: %w", purpose, err)
			}
		}
	}
	if p.Adopt {
		var err error
		if out.AdoptedMachine, out.AdoptedNode, err = e.deployFirstNode(ctx, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Gateway returns a Gateway using the prepared Secret, the simulator, the
// adopted machine and GatewayVIP as its control-plane endpoint.
func (p *PreparedGateway) Gateway() *infrav1.Gateway {
	gw := &infrav1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
		Spec: infrav1.GatewaySpec{
			MAAS: infrav1.MAASConnection{
				Endpoint:             p.endpoint,
				CredentialsSecretRef: infrav1.SecretKeyReference{Name: p.SecretName},
			},
			ControlPlaneEndpoint: GatewayVIP,
			// A test world deleted expects its machines back in MAAS.
			DeletionPolicy: infrav1.GatewayDecommission,
		},
	}
	p.Apply(gw)
	return gw
}

// Apply points gw at the prepared Secret, the simulator and the adopted
// machine, keeping the rest of its spec (e.g. a sample's). A gw without
// control-plane endpoint gets GatewayVIP; one with another VIP needs
// Options.JoinEndpoint set to it for its nodes to join.
func (p *PreparedGateway) Apply(gw *infrav1.Gateway) {
	gw.Namespace, gw.Name = p.Namespace, p.Name
	gw.Spec.MAAS.Endpoint = p.endpoint
	gw.Spec.MAAS.CredentialsSecretRef.Name = p.SecretName
	if gw.Spec.ControlPlaneEndpoint == "" {
		gw.Spec.ControlPlaneEndpoint = GatewayVIP
	}
	if p.AdoptedMachine != "" {
		gw.Spec.AdoptMachines = []string{p.AdoptedMachine}
	}
}

// EnsureNamespace creates namespace ns unless it exists.
func (e *Env) EnsureNamespace(ctx context.Context, ns string) error {
	err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	return nil
}

// deployFirstNode deploys a machine as the installer would have, outside the
// operator (another MAAS user, no agent name), and registers its Node.
func (e *Env) deployFirstNode(ctx context.Context, p GatewayPrep) (systemID, node string, err error) {
	zone, pool := p.AdoptZone, p.AdoptPool
	if zone == "" {
		zone = "zone-a"
	}
	if pool == "" {
		pool = "gateway"
	}
	key := e.Sim.AddUser("installer", true)
	c, err := client.GetClient(e.SimURL, key, "2.0")
	if err != nil {
		return "", "", err
	}
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{Zone: zone, Pool: pool})
	if err != nil {
		return "", "", fmt.Errorf("allocating the first gateway node in %s/%s: %w", zone, pool, err)
	}
	if _, err := c.Machine.Deploy(m.SystemID, &entity.MachineDeployParams{
		DistroSeries: "jammy", UserData: base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")),
	}); err != nil {
		return "", "", fmt.Errorf("deploying the first gateway node %s: %w", m.SystemID, err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		sm, _ := e.Sim.Machine(m.SystemID)
		if sm.StatusName == "Deployed" {
			break
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for %s to deploy (%s): %w", m.SystemID, sm.StatusName, ctx.Err())
		case <-tick.C:
		}
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: m.Hostname}}
	if err := e.Client.Create(ctx, n); err != nil {
		return "", "", fmt.Errorf("creating the Node %s: %w", m.Hostname, err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	if err := e.Client.Status().Update(ctx, n); err != nil {
		return "", "", fmt.Errorf("marking the Node %s Ready: %w", m.Hostname, err)
	}
	return m.SystemID, m.Hostname, nil
}
