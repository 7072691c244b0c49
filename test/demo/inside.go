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
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// lookInside prints what the tenant cluster's own API server says of its
// Nodes, read as its user would: with the admin kubeconfig the operator
// wrote into the cluster's Secret. Then its etcd members. Nodes stay
// NotReady until a CNI is installed in the cluster: the demo prints what
// is true, not what MAAS says.
func (d *demo) lookInside(ctx context.Context, tc *infrav1.TenantCluster) error {
	tenant, err := d.tenantClient(ctx, tc)
	if err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: tc.Namespace, Name: tc.Status.KubeconfigSecretRef.Name}
	cfg, err := d.tenantConfig(ctx, tc)
	if err != nil {
		return err
	}
	want := int(tc.Status.DesiredMachines)
	nodes := &corev1.NodeList{}
	err = d.t.waitFor(ctx, fmt.Sprintf("%d Nodes in %s's own API server (%s)", want, tc.Name, cfg.Host), d.cfg.stepTimeout,
		func(ctx context.Context) (bool, string, error) {
			if err := tenant.List(ctx, nodes); err != nil {
				return false, err.Error(), nil
			}
			return len(nodes.Items) == want, fmt.Sprintf("%d Nodes", len(nodes.Items)), nil
		})
	if err != nil {
		return err
	}
	d.t.note("kubectl --kubeconfig <Secret %s> get nodes   (server %s)", key.Name, cfg.Host)
	d.t.note("  %-14s %-9s %-14s %s", "NAME", "STATUS", "ROLES", "VERSION")
	for _, n := range nodes.Items {
		var roles []string
		for l := range n.Labels {
			if r, ok := strings.CutPrefix(l, "node-role.kubernetes.io/"); ok {
				roles = append(roles, r)
			}
		}
		slices.Sort(roles)
		role := strings.Join(roles, ",")
		if role == "" {
			role = "<none>"
		}
		d.t.note("  %-14s %-9s %-14s %s", n.Name, nodeStatus(&n), role, n.Status.NodeInfo.KubeletVersion)
	}
	if reason := notReadyReason(nodes.Items); reason != "" {
		d.t.note("  NotReady: %s", reason)
	}
	endpoint := tc.Spec.ControlPlaneEndpoint + ":6443"
	members, err := d.env.ControlPlanes.EtcdMembers(ctx, endpoint)
	if err != nil {
		return errorf("listing etcd members: %w", err)
	}
	d.t.note("etcdctl member list   (%d members)", len(members))
	for _, m := range members {
		state := "started"
		if !m.Started {
			state = "unstarted"
		}
		if !m.Reachable {
			state += ", unreachable"
		}
		d.t.note("  %x  %s  %s  %s", m.ID, state, m.Name, strings.Join(m.PeerURLs, ","))
	}
	// The operator's own view, in the cluster's status.
	var ws *infrav1.WorkloadStatus
	err = d.t.waitFor(ctx, "the operator to report the cluster's Nodes in status.workload", d.cfg.stepTimeout,
		func(ctx context.Context) (bool, string, error) {
			got := &infrav1.TenantCluster{}
			if err := d.c().Get(ctx, client.ObjectKeyFromObject(tc), got); err != nil {
				return false, err.Error(), nil
			}
			ws = got.Status.Workload
			if ws == nil {
				return false, "no status.workload yet", nil
			}
			return ws.Reachable && int(ws.Nodes) == want && ws.EtcdMembers != nil, workloadSummary(ws), nil
		})
	if err != nil {
		return err
	}
	d.t.note("status.workload: %s", workloadSummary(ws))
	return nil
}

// tenantConfig is the client configuration of the cluster's admin
// kubeconfig Secret, as its user reads it.
func (d *demo) tenantConfig(ctx context.Context, tc *infrav1.TenantCluster) (*rest.Config, error) {
	if tc.Status.KubeconfigSecretRef == nil {
		return nil, errorf("no kubeconfig Secret in status")
	}
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: tc.Namespace, Name: tc.Status.KubeconfigSecretRef.Name}
	if err := d.c().Get(ctx, key, secret); err != nil {
		return nil, errorf("reading the kubeconfig Secret: %w", err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(secret.Data[bootstrap.KubeconfigSecretKey])
	if err != nil {
		return nil, errorf("the kubeconfig Secret: %w", err)
	}
	return cfg, nil
}

// tenantClient is a client of the cluster with its admin kubeconfig.
func (d *demo) tenantClient(ctx context.Context, tc *infrav1.TenantCluster) (client.Client, error) {
	cfg, err := d.tenantConfig(ctx, tc)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{})
}

func workloadSummary(ws *infrav1.WorkloadStatus) string {
	s := fmt.Sprintf("reachable=%t nodes %d/%d Ready, kubelets %s", ws.Reachable, ws.ReadyNodes, ws.Nodes,
		strings.Join(ws.KubernetesVersions, ","))
	if ws.EtcdMembers != nil && ws.EtcdHealthy != nil {
		s += fmt.Sprintf(", etcd %d/%d healthy", *ws.EtcdHealthy, *ws.EtcdMembers)
	}
	if ws.Message != "" {
		s += " (" + ws.Message + ")"
	}
	return s
}

func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			switch c.Status {
			case corev1.ConditionTrue:
				status = "Ready"
			case corev1.ConditionFalse:
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// notReadyReason is the kubelet's message of the first NotReady Node.
func notReadyReason(nodes []corev1.Node) string {
	for _, n := range nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				return c.Message
			}
		}
	}
	return ""
}
