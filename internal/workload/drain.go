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

package workload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// unreachableGrace is the grace period of evictions from a Node whose
// kubelet no longer reports (Ready=Unknown), and how long such a Node's pods
// may have been deleting before the drain stops waiting for them: no kubelet
// is left to finish them (Cluster API does the same).
const unreachableGrace = time.Second

// PodRef names a pod.
type PodRef struct{ Namespace, Name string }

func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

func refOf(p *corev1.Pod) PodRef { return PodRef{Namespace: p.Namespace, Name: p.Name} }

// Blocked is a pod whose eviction a PodDisruptionBudget refuses for now.
type Blocked struct {
	Pod PodRef
	// Budget is the PodDisruptionBudget selecting the pod ("" when none
	// could be read: the API server's message still says why).
	Budget string
	// Message is the API server's answer to the eviction.
	Message string
}

// DrainStatus is what one drain step saw and did. The Node is drained when
// Done; until then the caller requeues and calls Drain again.
type DrainStatus struct {
	// Evicted are the pods this step evicted; they terminate next.
	Evicted []PodRef
	// Terminating are pods deleted earlier whose kubelet has not yet
	// reported them gone.
	Terminating []PodRef
	// Blocked are pods a PodDisruptionBudget keeps on the Node for now.
	Blocked []Blocked
}

// Done reports whether no pod that a drain moves is left on the Node.
func (s DrainStatus) Done() bool {
	return len(s.Evicted) == 0 && len(s.Terminating) == 0 && len(s.Blocked) == 0
}

// String says what the drain waits for, naming at most a few pods, for a
// condition message.
func (s DrainStatus) String() string {
	if s.Done() {
		return "drained"
	}
	var parts []string
	if len(s.Blocked) > 0 {
		b := s.Blocked[0]
		what := "a PodDisruptionBudget"
		if b.Budget != "" {
			what = "PodDisruptionBudget " + b.Pod.Namespace + "/" + b.Budget
		}
		part := fmt.Sprintf("%s keeps pod %s (%s)", what, b.Pod, b.Message)
		if n := len(s.Blocked) - 1; n > 0 {
			part += fmt.Sprintf(" and %d more pods", n)
		}
		parts = append(parts, part)
	}
	if n := len(s.Evicted); n > 0 {
		parts = append(parts, fmt.Sprintf("%d pods evicted (%s)", n, names(s.Evicted)))
	}
	if n := len(s.Terminating); n > 0 {
		parts = append(parts, fmt.Sprintf("%d pods terminating (%s)", n, names(s.Terminating)))
	}
	return strings.Join(parts, "; ")
}

func names(pods []PodRef) string {
	const shown = 3
	var b strings.Builder
	for i, p := range pods {
		if i == shown {
			fmt.Fprintf(&b, ", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Drain takes one step of draining node: it cordons the Node, evicts every
// pod a drain moves (not mirror pods, DaemonSet pods or finished pods) and
// reports what is left, without waiting. c must read pods from the API
// server (an uncached client), by the spec.nodeName field selector.
//
// A PodDisruptionBudget that refuses an eviction is not an error: the pod
// is reported Blocked, and a later step tries again. Pods on a Node whose
// kubelet stopped reporting are evicted with a one-second grace period and
// not waited for once that passed, since nothing would ever finish them.
func Drain(ctx context.Context, c client.Client, ev Evicter, node *corev1.Node, now time.Time) (DrainStatus, error) {
	var st DrainStatus
	if !node.Spec.Unschedulable {
		patch := client.MergeFrom(node.DeepCopy())
		node.Spec.Unschedulable = true
		if err := c.Patch(ctx, node, patch); err != nil {
			return st, fmt.Errorf("cordoning node %s: %w", node.Name, err)
		}
	}
	unreachable := readiness(node) == corev1.ConditionUnknown

	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.MatchingFields{"spec.nodeName": node.Name}); err != nil {
		return st, fmt.Errorf("listing the pods of node %s: %w", node.Name, err)
	}
	var errs []error
	for i := range pods.Items {
		p := &pods.Items[i]
		if !MovedByDrain(p) {
			continue
		}
		if p.DeletionTimestamp != nil {
			// deletionTimestamp is when the grace period ends.
			if unreachable && now.Sub(p.DeletionTimestamp.Time) > unreachableGrace {
				continue
			}
			st.Terminating = append(st.Terminating, refOf(p))
			continue
		}
		eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
		if unreachable {
			grace := int64(unreachableGrace.Seconds())
			eviction.DeleteOptions = &metav1.DeleteOptions{GracePeriodSeconds: &grace}
		}
		switch err := ev.Evict(ctx, eviction); {
		case err == nil:
			st.Evicted = append(st.Evicted, refOf(p))
		case apierrors.IsNotFound(err):
		case apierrors.IsTooManyRequests(err):
			st.Blocked = append(st.Blocked, Blocked{Pod: refOf(p), Budget: budgetOf(ctx, c, p), Message: apiMessage(err)})
		default:
			errs = append(errs, fmt.Errorf("evicting pod %s: %w", refOf(p), err))
		}
	}
	return st, errors.Join(errs...)
}

// Evicter asks the eviction API to evict a pod.
type Evicter interface {
	Evict(ctx context.Context, eviction *policyv1.Eviction) error
}

// RESTEvicter evicts through a clientset's REST client, once per call: a
// PodDisruptionBudget's refusal comes as 429 with Retry-After, which
// client-go would otherwise retry inside the call up to ten times, holding
// the reconcile for minutes. The drain retries on the next step instead.
type RESTEvicter struct {
	Client kubernetes.Interface
}

// Evict implements Evicter.
func (e RESTEvicter) Evict(ctx context.Context, ev *policyv1.Eviction) error {
	return e.Client.CoreV1().RESTClient().Post().
		Namespace(ev.Namespace).Resource("pods").Name(ev.Name).SubResource("eviction").
		Body(ev).MaxRetries(0).Do(ctx).Error()
}

// MovedByDrain says whether a drain moves p: mirror (static) pods and DaemonSet pods stay with their
// Node, and finished pods need no moving.
func MovedByDrain(p *corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	return !slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool {
		return o.Kind == "DaemonSet" && o.Controller != nil && *o.Controller
	})
}

// budgetOf names the PodDisruptionBudget of p's namespace that selects it,
// or "" when none can be read.
func budgetOf(ctx context.Context, c client.Client, p *corev1.Pod) string {
	pdbs := &policyv1.PodDisruptionBudgetList{}
	if err := c.List(ctx, pdbs, client.InNamespace(p.Namespace)); err != nil {
		return ""
	}
	for _, pdb := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(p.Labels)) {
			return pdb.Name
		}
	}
	return ""
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) && s.Status().Message != "" {
		return s.Status().Message
	}
	return err.Error()
}

// readiness is the status of node's Ready condition; Unknown when it has none.
func readiness(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}
