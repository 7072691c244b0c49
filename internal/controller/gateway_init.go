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

// Creating the gateway cluster (spec.initialize), the way maas-gateway
// install does it: the operator runs in a bootstrap cluster (GatewayNodes
// .Outside), deploys the gateway's first node with kubeadm init from a PKI
// it generates, and watches it come up at the VIP. The remaining nodes join
// once the gateway was moved into itself: from outside, a node that leaves
// could not be drained (the manager's eviction client is its own
// cluster's), so the operator adds none it might have to take out.

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// gatewayInitialised says whether the gateway cluster exists: always for a
// gateway installed into its own cluster, else once a machine of it was
// deployed (the planner deploys no other before).
func gatewayInitialised(gw *infrav1.Gateway, owned []maas.Machine) bool {
	return !gw.Spec.Initialize || initialised(owned, gatewayPool)
}

// initParams is the deployment of the machine that creates the gateway
// cluster: kubeadm init with the gateway's PKI (the one user data that
// holds it), the bootstrap token the cluster starts with, and the Init
// mark first, so that a restart never initialises a second cluster.
func (r *GatewayReconciler) initParams(ctx context.Context, gw *infrav1.Gateway, key string, m maas.Machine, view *gatewayView) (maas.DeployParams, error) {
	version := view.release.KubernetesVersion
	if version == "" {
		return maas.DeployParams{}, fmt.Errorf("spec.release names no Kubernetes version for the first node to install")
	}
	pki, err := r.ensureGatewayPKI(ctx, gw, view.owned)
	if err != nil {
		return maas.DeployParams{}, err
	}
	cfg, err := r.nodeConfig(ctx, gw, version)
	if err != nil {
		return maas.DeployParams{}, err
	}
	if m.Owner != nil && !m.Owner.Init {
		o := *m.Owner
		o.Init = true
		if _, err := r.Inventory.Adopt(ctx, key, m.SystemID, o); err != nil {
			return maas.DeployParams{}, fmt.Errorf("marking the init node: %w", err)
		}
	}
	cfg.Role, cfg.SystemID, cfg.PKI = bootstrap.RoleInitControlPlane, m.SystemID, pki
	return r.deployParams(gw, view, cfg)
}

// ensureGatewayPKI reads the gateway's PKI, generating it for a cluster
// still to be created. A part missing once a machine may hold the PKI is
// an error: a new key pair would not be trusted by its nodes. Before that
// (no machine of the gateway went past Allocated: only a deployment hands
// the PKI out) a part missing is a generation interrupted half-way, by a
// restart of the operator between its Secrets: it is generated again, all
// of it.
func (r *GatewayReconciler) ensureGatewayPKI(ctx context.Context, gw *infrav1.Gateway, owned []maas.Machine) (*bootstrap.ClusterPKI, error) {
	pki, missing, err := r.gatewayPKI(ctx, gw)
	if err != nil || missing == "" {
		return pki, err
	}
	for _, p := range pkiPurposes {
		name := bootstrap.SecretName(gw.Name, p)
		existing := &corev1.Secret{}
		err := r.Get(ctx, types.NamespacedName{Namespace: gw.Namespace, Name: name}, existing)
		if err == nil && pkiHandedOut(owned) {
			return nil, fmt.Errorf("%s, while others exist: restore it from a backup; a new key pair would not match them", missing)
		}
		if err == nil && existing.Labels[infrav1.LabelGateway] != gw.Name {
			// Only what this operator generated is generated again: a
			// Secret made by someone else (a CA of their own) is theirs.
			return nil, fmt.Errorf("%s, while Secret %s/%s exists without the label %s=%s this operator gives the PKI it generates: "+
				"complete the set, or delete that Secret to have the operator generate all of it", missing, gw.Namespace, name,
				infrav1.LabelGateway, gw.Name)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	fresh, err := bootstrap.GeneratePKI()
	if err != nil {
		return nil, err
	}
	for p, data := range fresh.SecretData() {
		// Not owned by the Gateway: the cluster they run outlives the
		// object (deletionPolicy Retain), and its nodes trust no other.
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: bootstrap.SecretName(gw.Name, p)}}
		if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, s, func() error {
			s.Labels = map[string]string{infrav1.LabelGateway: gw.Name}
			s.Type, s.Data = corev1.SecretTypeOpaque, data
			return nil
		}); err != nil {
			return nil, fmt.Errorf("writing Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "PKIGenerated", "Generate",
		"generated the gateway cluster's certificate authorities and service-account key pair for its first node")
	return fresh, nil
}

// pkiHandedOut says whether a machine of the gateway may hold its PKI: one
// was deployed (or is deploying, or failed to), as only the first node's
// deployment carries it.
func pkiHandedOut(owned []maas.Machine) bool {
	for _, m := range owned {
		if m.Owner != nil && m.Owner.Pool == gatewayPool && m.Status != maas.StatusAllocated {
			return true
		}
	}
	return false
}

// gatewayNodeList lists the Nodes of the gateway cluster: the manager's own
// when it runs there, else at the VIP with the gateway's CA, where nothing
// answers until the first node is up (no Node then, not an error).
func (r *GatewayReconciler) gatewayNodeList(ctx context.Context, gw *infrav1.Gateway, release infrav1.Release) (*corev1.NodeList, error) {
	nodes := &corev1.NodeList{}
	if !r.Nodes.Outside {
		return nodes, r.List(ctx, nodes)
	}
	pki, version, blocked := r.gatewayAccess(ctx, gw, release)
	if blocked != "" {
		return nodes, nil
	}
	cl, err := r.gatewayClient(gw, pki, version)
	if err == nil {
		err = cl.List(ctx, nodes, client.MatchingLabels{infrav1.LabelGateway: gw.Name})
	}
	if err != nil {
		log.FromContext(ctx).V(1).Info("the gateway cluster does not answer at its VIP yet", "error", err.Error())
	}
	return nodes, nil
}

// waitingForMove says, from outside, why the gateway stops at one node.
func (r *GatewayReconciler) waitingForMove(gw *infrav1.Gateway) {
	if r.Nodes.Outside && gw.Spec.Replicas > 1 && gw.Status.ReadyReplicas >= 1 {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.GatewayResized, metav1.ConditionFalse, infrav1.ReasonWaitingForMove,
			fmt.Sprintf("%d of %d nodes Ready; the others join once the gateway runs its operator itself (maas-gateway move)", gw.Status.ReadyReplicas, gw.Spec.Replicas))
	}
}
