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
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// GatewayNodes is how the Gateway controller reaches into the gateway
// cluster (the one the manager runs in) to take its own nodes out: the same
// clusterExit a tenant's machines go through, with the manager's own
// identity instead of a connection of the cluster cache.
type GatewayNodes struct {
	// Client reads Nodes, Pods and PodDisruptionBudgets from the gateway's
	// API server without a cache (a cache of Pods would hold every pod of
	// the cluster) and writes Nodes.
	Client client.Client
	// Evicter evicts once per call (workload.RESTEvicter): client-go would
	// otherwise retry a PodDisruptionBudget's 429 inside the reconcile.
	Evicter workload.Evicter
	// DrainTimeout is how long a gateway node's drain may wait before
	// NodesDrained says DrainTimedOut (the machine is still kept) when the
	// Gateway sets no spec.drainTimeout; zero means 10 minutes.
	DrainTimeout time.Duration
	// SkipEtcd leaves etcd membership alone: only for test worlds whose
	// gateway cluster is an API server with an etcd of its own (envtest)
	// rather than stacked members signed by the gateway's etcd CA, where
	// there is no member to remove and none to reach; nor a cluster at the
	// VIP for joining nodes to download the gateway's keys from, so no
	// kubeadm-certs is uploaded (gateway_certs.go). The specs that run a
	// gateway on emulated control planes leave it false.
	SkipEtcd bool
	// Outside says the manager runs outside the gateway cluster (in the
	// bootstrap cluster of maas-gateway install): it reads the gateway's
	// Nodes at its VIP with a certificate of the gateway's CA, and deploys
	// no node but the first (gateway_init.go).
	Outside bool
	// Self is the name of the Node the manager runs on (the downward API's
	// spec.nodeName), empty when it runs outside the gateway cluster. A
	// decommission releases that node's machine last.
	Self string
}

// leaveGateway takes one step of taking victim out of the gateway cluster:
// drain and wait, remove its etcd member through the members at staying,
// delete its Node (clusterExit.leave). Every gateway node is a control
// plane with a stacked etcd member (it joined with kubeadm join
// --control-plane).
func (r *GatewayReconciler) leaveGateway(ctx context.Context, gw *infrav1.Gateway, victim maas.Machine, node *corev1.Node, staying []string) error {
	exit := clusterExit{
		client:       r.Nodes.Client,
		evicter:      r.Nodes.Evicter,
		drainTimeout: gatewayDrainTimeout(gw, r.Nodes.DrainTimeout),
		etcd: func(ctx context.Context, addrs []string) (*workload.Etcd, error) {
			return r.gatewayEtcd(ctx, gw, addrs)
		},
	}
	return exit.leave(ctx, victim, node, !r.Nodes.SkipEtcd, staying)
}

// gatewayDrainTimeout is the Gateway's own drainTimeout, else the manager's.
func gatewayDrainTimeout(gw *infrav1.Gateway, fallback time.Duration) time.Duration {
	if gw.Spec.DrainTimeout != nil && gw.Spec.DrainTimeout.Duration > 0 {
		return gw.Spec.DrainTimeout.Duration
	}
	return fallback
}

// gatewayEtcd connects to the gateway's etcd members at addrs (port 2379 of
// each node), with a client certificate signed in memory by the gateway's
// etcd CA.
//
// The CA comes from where it is today: Secret <gateway>-etcd next to the
// Gateway, copied from the first node's /etc/kubernetes/pki/etcd (see the
// README: resizing a gateway), the same key pair joining nodes get in their
// user data, so the operator needs no new secret and holds no credential it
// did not hold already. The members are dialled at the machines' addresses
// as for tenant clusters, not through the API server (pods/portforward to
// the etcd mirror Pods, as Cluster API's KCP does): port-forward rights in
// kube-system would let the manager into every pod there, and a node
// adopted from a hand-made cluster need not have an etcd mirror Pod at all.
// The certificate is signed per call: the gateway's etcd is dialled only
// while its nodes change (readiness of a joining node, one removal step
// per requeue), unlike a tenant's periodic observation.
func (r *GatewayReconciler) gatewayEtcd(ctx context.Context, gw *infrav1.Gateway, addrs []string) (*workload.Etcd, error) {
	pki, missing, err := r.gatewayPKI(ctx, gw)
	switch {
	case err != nil:
		return nil, err
	case missing != "":
		return nil, fmt.Errorf("no etcd CA: %s", missing)
	}
	tlsConfig, err := workload.EtcdTLS(pki, time.Now(), time.Hour)
	if err != nil {
		return nil, err
	}
	endpoints := make([]string, 0, len(addrs))
	for _, a := range addrs {
		endpoints = append(endpoints, workload.EtcdEndpoint(a))
	}
	return workload.DialEtcd(ctx, endpoints, tlsConfig)
}

// requireVotingMembers counts a gateway machine Ready for the planner only
// when its etcd member votes and answers as well as its Node being Ready.
// kubeadm join starts the kubelet before it adds the member, so a Node can
// be Ready while its member is absent or still a learner; a rollout that
// took such a node for a member removed the next old one too early (seen on
// emulated members: 2 of 3 left during an expand-first upgrade, 1 of 3
// contract-first). When etcd cannot be read the Nodes decide alone: no
// member can be removed then anyway, since clusterExit needs etcd.
//
// It is asked only while the nodes change (a resize or a rollout: a node
// too many or too few, or one on another template), the only time a Ready
// answer lets the planner remove a member. At rest the gateway's PKI
// Secrets are not read and etcd is not dialled on every reconcile.
func (r *GatewayReconciler) requireVotingMembers(ctx context.Context, gw *infrav1.Gateway, view *gatewayView, pool rollout.Pool, machines []rollout.Machine) {
	changing := len(machines) != pool.Size ||
		slices.ContainsFunc(machines, func(m rollout.Machine) bool { return m.Template != pool.Template })
	if !changing || !slices.ContainsFunc(machines, func(m rollout.Machine) bool { return m.Node == rollout.NodeReady }) {
		return
	}
	serving := gatewayMembers(view.owned, view.adopted)
	ctx, cancel := context.WithTimeout(ctx, etcdObserveTimeout)
	defer cancel()
	etcd, err := r.gatewayEtcd(ctx, gw, stayingAddresses(serving))
	if err != nil {
		log.FromContext(ctx).V(1).Info("gateway etcd not read; readiness from Nodes alone", "error", err.Error())
		return
	}
	defer func() { _ = etcd.Close() }()
	members, err := etcd.Members(ctx)
	if err != nil {
		log.FromContext(ctx).V(1).Info("gateway etcd members not listed; readiness from Nodes alone", "error", err.Error())
		return
	}
	for i := range machines {
		if machines[i].Node != rollout.NodeReady {
			continue
		}
		m, _ := findMachine(serving, machines[i].SystemID)
		if !workload.VotesFor(members, memberMachine(m, view.nodes[m.SystemID])) {
			machines[i].Node = rollout.NodeNotReady
		}
	}
}

// gatewayMembers are the machines of the gateway that serve it and may hold
// an etcd member: its deployed machines and the adopted ones not retired.
func gatewayMembers(owned []maas.Machine, adopted []infrav1.GatewayNode) []maas.Machine {
	out := make([]maas.Machine, 0, len(owned)+len(adopted))
	for _, m := range owned {
		if m.Status == maas.StatusDeployed {
			out = append(out, m)
		}
	}
	for _, a := range adopted {
		out = append(out, adoptedMachine(a))
	}
	return out
}

// adoptedMachine is an adopted node's record as a machine: deployed, since
// it already served the gateway when it was adopted.
func adoptedMachine(a infrav1.GatewayNode) maas.Machine {
	return maas.Machine{SystemID: a.SystemID, Hostname: a.Hostname, Addresses: a.Addresses, Status: maas.StatusDeployed}
}

// stayingAddresses are the addresses of members other than those in leaving.
func stayingAddresses(members []maas.Machine, leaving ...string) []string {
	var out []string
	for _, m := range members {
		if !slices.Contains(leaving, m.SystemID) && len(m.Addresses) > 0 {
			out = append(out, m.Addresses[0])
		}
	}
	return out
}
