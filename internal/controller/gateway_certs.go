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

// A node joining the gateway gets the gateway's shared keys as a tenant's
// control plane does (tenantcluster_certs.go): a certificate key in its
// user data, the keys themselves in kube-system/kubeadm-certs of the
// running gateway cluster for as long as it joins. The gateway cluster
// always runs when a node joins it (its first node was there before the
// Gateway), so the operator uploads before every deploy.
//
// The upload goes to the gateway's API server at its VIP, with a client
// certificate the gateway's CA signs in memory, not with the manager's
// ServiceAccount: the round needs a Role, a bootstrap token and a delete
// in kube-system, which that account must not hold (README: what the
// manager may do; its admission policy refuses exactly those). It is no
// new power: the manager reads the gateway's CA key already (it signs its
// etcd client the same way, nodes.go).

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// gatewayClientValidity bounds the client certificate of one upload or
// retirement: a new one is signed each time.
const gatewayClientValidity = 10 * time.Minute

// gatewayJoin is what the nodes joining gw now are deployed with, and the
// key material the operator uploads for them (never in their user data).
type gatewayJoin struct {
	node bootstrap.NodeConfig
	pki  *bootstrap.ClusterPKI
}

// gatewayCertKeys is where gw keeps its certificate key.
func (r *GatewayReconciler) gatewayCertKeys(gw *infrav1.Gateway) certKeyRecord {
	return certKeyRecord{c: r.Client, owner: gw, name: gw.Name + certKeyRecordSuffix,
		labels: map[string]string{infrav1.LabelGateway: gw.Name}, ttl: bootstrap.DefaultCertificateKeyTTL}
}

// gatewayJoinRound is gw's certificate upload, at its VIP.
func (r *GatewayReconciler) gatewayJoinRound(gw *infrav1.Gateway, pki *bootstrap.ClusterPKI, version string) joinRound {
	return joinRound{record: r.gatewayCertKeys(gw), recorder: r.Recorder, pki: pki, endpoint: gw.Spec.ControlPlaneEndpoint,
		cluster: func(context.Context) (client.Client, error) { return r.gatewayClient(gw, pki, version) }}
}

// gatewayClient reaches the gateway cluster's API server at its VIP as an
// administrator, with a certificate its CA signs in memory.
func (r *GatewayReconciler) gatewayClient(gw *infrav1.Gateway, pki *bootstrap.ClusterPKI, version string) (client.Client, error) {
	cfg, err := workload.RESTConfig(pki, workload.Endpoint{VIP: gw.Spec.ControlPlaneEndpoint}, version, time.Now(), gatewayClientValidity)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: r.Scheme(), Mapper: gatewayKinds})
}

// gatewayKinds maps the few kinds the operator touches in the gateway
// cluster from outside, so that a client needs no discovery: a new client
// is made for each round, and discovery through a VIP that moves between
// API servers (a node leaving in an upgrade) failed where a GET would not.
var gatewayKinds = func() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(corev1.SchemeGroupVersion.WithKind("Secret"), meta.RESTScopeNamespace)
	m.Add(corev1.SchemeGroupVersion.WithKind("Node"), meta.RESTScopeRoot)
	m.Add(rbacv1.SchemeGroupVersion.WithKind("Role"), meta.RESTScopeNamespace)
	m.Add(rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), meta.RESTScopeNamespace)
	return m
}()

// uploadsCerts says whether the gateway cluster is built from the machines
// the operator deploys, so that a kubeadm join reads kubeadm-certs from it.
// In test worlds whose gateway cluster is an API server of its own (envtest,
// kind: GatewayNodes.SkipEtcd) there is no such cluster at the VIP.
func (r *GatewayReconciler) uploadsCerts() bool { return !r.Nodes.SkipEtcd }

// certificateKey returns the key a node deployed now joins gw with, the
// gateway cluster holding the keys for it.
func (r *GatewayReconciler) certificateKey(ctx context.Context, gw *infrav1.Gateway, join *gatewayJoin) (bootstrap.CertificateKey, error) {
	key, exp, created, err := r.gatewayCertKeys(gw).ensure(ctx)
	if err != nil {
		return bootstrap.CertificateKey{}, err
	}
	if created {
		announceCertificateKey(r.Recorder, gw, exp)
	}
	if r.uploadsCerts() {
		if err := r.gatewayJoinRound(gw, join.pki, join.node.KubernetesVersion).upload(ctx, key, exp); err != nil {
			return bootstrap.CertificateKey{}, err
		}
	}
	return key, nil
}

// syncCertificateKey keeps kubeadm-certs in the gateway cluster while a
// node joins it, and ends the round once none does. It reads the PKI only
// when a round runs.
func (r *GatewayReconciler) syncCertificateKey(ctx context.Context, gw *infrav1.Gateway, view *gatewayView, owned []maas.Machine) error {
	if !r.uploadsCerts() {
		return nil
	}
	record, _, _, _, err := r.gatewayCertKeys(gw).current(ctx)
	if err != nil || record == nil || len(record.Data) == 0 {
		return err
	}
	pki, version, blocked := r.gatewayAccess(ctx, gw, view.release)
	if blocked != "" {
		// No PKI or version to reach the cluster with: the Secret's own
		// expiry bounds the round.
		return nil
	}
	return r.gatewayJoinRound(gw, pki, version).sync(ctx, r.joiningGateway(ctx, gw, owned, view))
}

// joiningGateway says whether a machine of owned is on its way into the
// gateway cluster: allocated, deploying, deployed with no Node, or with no
// voting etcd member yet. A kubelet can register before kubeadm join
// downloaded the keys (in this project's test world the Nodes register as
// the machines deploy), and a member is added only after the download: so
// the keys stay until every deployed machine votes. When etcd cannot be
// read the round stays open; its key's expiry bounds it.
func (r *GatewayReconciler) joiningGateway(ctx context.Context, gw *infrav1.Gateway, owned []maas.Machine, view *gatewayView) bool {
	var deployed []maas.Machine
	for _, m := range owned {
		switch rollout.ParseState(m.StatusName) {
		case rollout.StateAllocated, rollout.StateDeploying:
			return true
		case rollout.StateDeployed:
			if view.nodes[m.SystemID] == nil {
				return true
			}
			deployed = append(deployed, m)
		}
	}
	if len(deployed) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, etcdObserveTimeout)
	defer cancel()
	etcd, err := r.gatewayEtcd(ctx, gw, stayingAddresses(gatewayMembers(owned, view.adopted)))
	if err != nil {
		return true
	}
	defer func() { _ = etcd.Close() }()
	members, err := etcd.Members(ctx)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(deployed, func(m maas.Machine) bool {
		return !workload.VotesFor(members, memberMachine(m, view.nodes[m.SystemID]))
	})
}
