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

package move

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// Step is one step of a move, as progress names it.
type Step string

// The steps, in the order they run.
const (
	StepPause          Step = "pause the source"
	StepWaitPaused     Step = "wait until paused"
	StepNamespaces     Step = "copy namespaces"
	StepNamedSecrets   Step = "copy named Secrets"
	StepGateway        Step = "copy the Gateway"
	StepCloudAccounts  Step = "copy CloudAccounts"
	StepProfiles       Step = "copy ClusterProfiles"
	StepTenantClusters Step = "copy TenantClusters"
	StepOwnedSecrets   Step = "copy owned Secrets"
	StepDeleteSource   Step = "delete from the source"
	StepResume         Step = "resume the target"
)

// Steps lists every step in order.
var Steps = []Step{StepPause, StepWaitPaused, StepNamespaces, StepNamedSecrets, StepGateway, StepCloudAccounts,
	StepProfiles, StepTenantClusters, StepOwnedSecrets, StepDeleteSource, StepResume}

// Options say what to move where.
type Options struct {
	// Source and Target are clients of the two clusters (uncached: every
	// decision is made on what the API servers hold now).
	Source, Target client.Client
	// Namespace is the Gateway's namespace.
	Namespace string
	// Out receives one progress line per step; nil discards them.
	Out io.Writer
	// Timeout bounds each wait: for the source to report Paused, for a
	// write a webhook refuses for now (it reads a cache a moment behind),
	// for a deleted object to go. Default 5 minutes.
	Timeout time.Duration
	// PollInterval is how often a wait looks again. Default 1 second.
	PollInterval time.Duration
	// AfterStep, when set, runs after each step; an error it returns ends
	// the move there (tests crash a move with it).
	AfterStep func(Step) error
}

// Run moves the installation. It may be run again after any failure: it
// then converges from where the clusters are.
func Run(ctx context.Context, opts Options) error {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	m := &mover{Options: opts, uids: map[types.UID]types.UID{}}
	src, err := discover(ctx, opts.Source, opts.Namespace)
	if err != nil {
		return fmt.Errorf("reading the source: %w", err)
	}
	if src.gateway == nil {
		// Either nothing to move, or a run that stopped after deleting the
		// source: the copies then wait in the target, paused.
		tgt, err := discover(ctx, opts.Target, opts.Namespace)
		if err != nil {
			return fmt.Errorf("reading the target: %w", err)
		}
		if tgt.gateway == nil {
			return fmt.Errorf("no Gateway in namespace %s of the source (nor of the target)", opts.Namespace)
		}
		start := time.Now()
		msg, err := m.resume(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w (run the move again to resume it)", StepResume, err)
		}
		m.progress(len(Steps), StepResume, "the source holds no Gateway in %s any more: %s", time.Since(start), opts.Namespace, msg)
		return nil
	}
	_, _ = fmt.Fprintf(opts.Out, "moving Gateway %s/%s: %d CloudAccounts, %d TenantClusters, %d ClusterProfiles, %d Secrets, namespaces %s\n",
		src.gateway.Namespace, src.gateway.Name, len(src.accounts), len(src.tenants), len(src.profiles),
		len(src.named)+len(src.owned), strings.Join(src.namespaces, ", "))
	steps := map[Step]func(context.Context) (string, error){
		StepPause:          func(ctx context.Context) (string, error) { return m.pauseSource(ctx, src) },
		StepWaitPaused:     func(ctx context.Context) (string, error) { return m.waitPaused(ctx, src) },
		StepNamespaces:     func(ctx context.Context) (string, error) { return m.copyNamespaces(ctx, src) },
		StepNamedSecrets:   func(ctx context.Context) (string, error) { return m.copySecrets(ctx, src.named) },
		StepGateway:        func(ctx context.Context) (string, error) { return m.copyKinds(ctx, []client.Object{src.gateway}) },
		StepCloudAccounts:  func(ctx context.Context) (string, error) { return m.copyKinds(ctx, items(src.accounts)) },
		StepProfiles:       func(ctx context.Context) (string, error) { return m.copyKinds(ctx, items(src.profiles)) },
		StepTenantClusters: func(ctx context.Context) (string, error) { return m.copyKinds(ctx, items(src.tenants)) },
		StepOwnedSecrets:   func(ctx context.Context) (string, error) { return m.copySecrets(ctx, src.owned) },
		StepDeleteSource:   func(ctx context.Context) (string, error) { return m.deleteSource(ctx, src) },
		StepResume:         m.resume,
	}
	for i, step := range Steps {
		start := time.Now()
		msg, err := steps[step](ctx)
		if err != nil {
			return fmt.Errorf("%s: %w (run the move again to resume it)", step, err)
		}
		m.progress(i+1, step, "%s", time.Since(start), msg)
		if opts.AfterStep != nil {
			if err := opts.AfterStep(step); err != nil {
				return err
			}
		}
	}
	return nil
}

// items returns pointers to a list's items, as objects.
func items[T any, P interface {
	*T
	client.Object
}](list []T) []client.Object {
	out := make([]client.Object, 0, len(list))
	for i := range list {
		out = append(out, P(&list[i]))
	}
	return out
}

type mover struct {
	Options
	// uids maps each source object's UID to its copy's, for owner references.
	uids map[types.UID]types.UID
}

func (m *mover) progress(i int, step Step, format string, took time.Duration, args ...any) {
	_, _ = fmt.Fprintf(m.Out, "[%2d/%d] %-24s %s (%s)\n", i, len(Steps), step, fmt.Sprintf(format, args...), took.Round(time.Millisecond))
}

// annotate sets (or, with value nil, removes) one annotation by a merge
// patch, which neither conflicts with a controller's write nor needs one.
func annotate(ctx context.Context, c client.Client, obj client.Object, key string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{key: value}}})
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)))
}

func describe(obj client.Object) string {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1alpha1.")
	kind = strings.TrimPrefix(kind, "*v1.")
	return kind + " " + obj.GetNamespace() + "/" + obj.GetName()
}

func (m *mover) pauseSource(ctx context.Context, in *installation) (string, error) {
	paused := "true"
	n := 0
	for _, obj := range in.kinds() {
		if _, ok := obj.GetAnnotations()[infrav1.AnnotationPaused]; ok {
			continue
		}
		if err := annotate(ctx, m.Source, obj, infrav1.AnnotationPaused, &paused); err != nil {
			return "", fmt.Errorf("pausing %s: %w", describe(obj), err)
		}
		n++
	}
	return fmt.Sprintf("%d objects paused, %d were already", n, len(in.kinds())-n), nil
}

// waitPaused waits until the source's operator reports every object
// Paused: from then on it makes no MAAS request for them.
func (m *mover) waitPaused(ctx context.Context, in *installation) (string, error) {
	var waiting []string
	err := wait.PollUntilContextTimeout(ctx, m.PollInterval, m.Timeout, true, func(ctx context.Context) (bool, error) {
		waiting = nil
		for _, obj := range in.kinds() {
			if err := m.Source.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return false, err
			}
			if !meta.IsStatusConditionTrue(conditions(obj), infrav1.ConditionPaused) {
				waiting = append(waiting, describe(obj))
			}
		}
		return len(waiting) == 0, nil
	})
	if err != nil {
		return "", fmt.Errorf("%w: not reported Paused: %s (is the operator running on the source?)", err, strings.Join(waiting, ", "))
	}
	return fmt.Sprintf("%d objects report Paused", len(in.kinds())), nil
}

func conditions(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *infrav1.Gateway:
		return o.Status.Conditions
	case *infrav1.CloudAccount:
		return o.Status.Conditions
	case *infrav1.TenantCluster:
		return o.Status.Conditions
	}
	return nil
}

// retry runs write until it succeeds or Timeout passes: a webhook of the
// target may refuse a copy for a moment (it reads through a cache that has
// not yet seen the object copied just before), and a write may conflict.
func (m *mover) retry(ctx context.Context, write func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, m.PollInterval, m.Timeout, true, func(ctx context.Context) (bool, error) {
		last = write(ctx)
		return last == nil, nil
	})
	if last != nil {
		return last
	}
	return err
}

func (m *mover) copyNamespaces(ctx context.Context, in *installation) (string, error) {
	created := 0
	for _, name := range in.namespaces {
		src := &corev1.Namespace{}
		if err := m.Source.Get(ctx, types.NamespacedName{Name: name}, src); err != nil {
			return "", fmt.Errorf("reading namespace %s: %w", name, err)
		}
		dst := &corev1.Namespace{}
		err := m.Target.Get(ctx, types.NamespacedName{Name: name}, dst)
		switch {
		case apierrors.IsNotFound(err):
			// Labels too: a Gateway allows CloudAccounts by namespace labels.
			dst = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: src.Labels, Annotations: src.Annotations}}
			if err := m.Target.Create(ctx, dst); err != nil && !apierrors.IsAlreadyExists(err) {
				return "", fmt.Errorf("creating namespace %s: %w", name, err)
			}
			created++
		case err != nil:
			return "", fmt.Errorf("reading namespace %s in the target: %w", name, err)
		default:
			if dst.Labels == nil {
				dst.Labels = map[string]string{}
			}
			before := maps.Clone(dst.Labels)
			maps.Copy(dst.Labels, src.Labels)
			if !maps.Equal(before, dst.Labels) {
				if err := m.Target.Update(ctx, dst); err != nil {
					return "", fmt.Errorf("labelling namespace %s: %w", name, err)
				}
			}
		}
	}
	return fmt.Sprintf("%d namespaces, %d created", len(in.namespaces), created), nil
}

func (m *mover) copySecrets(ctx context.Context, secrets []corev1.Secret) (string, error) {
	for i := range secrets {
		src := &secrets[i]
		if err := m.put(ctx, src, func() client.Object { return &corev1.Secret{} }, func(dst client.Object) {
			d := dst.(*corev1.Secret)
			d.Type, d.Data = src.Type, src.Data
		}); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d Secrets", len(secrets)), nil
}

// copyKinds copies objects of the operator's kinds, status included.
func (m *mover) copyKinds(ctx context.Context, objs []client.Object) (string, error) {
	var names []string
	for _, src := range objs {
		var newObj func() client.Object
		var fill func(dst client.Object)
		switch s := src.(type) {
		case *infrav1.Gateway:
			newObj = func() client.Object { return &infrav1.Gateway{} }
			fill = func(dst client.Object) { d := dst.(*infrav1.Gateway); d.Spec, d.Status = s.Spec, s.Status }
		case *infrav1.CloudAccount:
			newObj = func() client.Object { return &infrav1.CloudAccount{} }
			fill = func(dst client.Object) { d := dst.(*infrav1.CloudAccount); d.Spec, d.Status = s.Spec, s.Status }
		case *infrav1.TenantCluster:
			newObj = func() client.Object { return &infrav1.TenantCluster{} }
			fill = func(dst client.Object) { d := dst.(*infrav1.TenantCluster); d.Spec, d.Status = s.Spec, s.Status }
		case *infrav1.ClusterProfile:
			newObj = func() client.Object { return &infrav1.ClusterProfile{} }
			fill = func(dst client.Object) { d := dst.(*infrav1.ClusterProfile); d.Spec = s.Spec }
		default:
			return "", fmt.Errorf("cannot move %T", src)
		}
		if err := m.put(ctx, src, newObj, fill); err != nil {
			return "", err
		}
		names = append(names, src.GetNamespace()+"/"+src.GetName())
	}
	if len(names) == 0 {
		return "none", nil
	}
	return strings.Join(names, ", "), nil
}

// put creates or updates src's copy in the target, then writes its status
// when its kind has one.
func (m *mover) put(ctx context.Context, src client.Object, newObj func() client.Object, fill func(dst client.Object)) error {
	withStatus := isStatusKind(src)
	return m.retry(ctx, func(ctx context.Context) error {
		dst := newObj()
		err := m.Target.Get(ctx, client.ObjectKeyFromObject(src), dst)
		exists := err == nil
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if !exists {
			dst.SetNamespace(src.GetNamespace())
			dst.SetName(src.GetName())
		}
		fill(dst)
		m.setMetadata(src, dst)
		if exists {
			err = m.Target.Update(ctx, dst)
		} else {
			err = m.Target.Create(ctx, dst)
		}
		if err != nil {
			return fmt.Errorf("copying %s: %w", describe(src), err)
		}
		m.uids[src.GetUID()] = dst.GetUID()
		if withStatus {
			fill(dst) // a create or update returns the object without the status sent
			if err := m.Target.Status().Update(ctx, dst); err != nil {
				return fmt.Errorf("copying the status of %s: %w", describe(src), err)
			}
		}
		return nil
	})
}

func isStatusKind(obj client.Object) bool {
	switch obj.(type) {
	case *infrav1.Gateway, *infrav1.CloudAccount, *infrav1.TenantCluster:
		return true
	}
	return false
}

// setMetadata gives dst src's labels and annotations, owner references
// rewritten to the copies' UIDs, and, for the operator's kinds, the
// identity of src and the paused annotation. Finalizers are left to the
// target's operator, which adds its own once resumed.
func (m *mover) setMetadata(src, dst client.Object) {
	dst.SetLabels(maps.Clone(src.GetLabels()))
	annotations := maps.Clone(src.GetAnnotations())
	if isStatusKind(src) {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[infrav1.AnnotationIdentityUID] = infrav1.IdentityUID(src)
		annotations[infrav1.AnnotationPaused] = "true"
	}
	dst.SetAnnotations(annotations)
	var refs []metav1.OwnerReference
	for _, r := range src.GetOwnerReferences() {
		if uid, ok := m.uids[r.UID]; ok {
			r.UID = uid
			refs = append(refs, r)
		}
	}
	dst.SetOwnerReferences(refs)
}

// deleteSource strips the source objects' finalizers and deletes them,
// dependents first (the deletion guards refuse a Gateway or CloudAccount
// that TenantClusters use). Their Secrets stay: nothing in them acts.
func (m *mover) deleteSource(ctx context.Context, in *installation) (string, error) {
	objs := in.kinds()
	noFinalizers := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	for _, obj := range slices.Backward(objs) {
		if err := m.retry(ctx, func(ctx context.Context) error {
			if err := client.IgnoreNotFound(m.Source.Patch(ctx, obj, noFinalizers)); err != nil {
				return fmt.Errorf("removing the finalizers of %s: %w", describe(obj), err)
			}
			if err := client.IgnoreNotFound(m.Source.Delete(ctx, obj)); err != nil {
				return fmt.Errorf("deleting %s: %w", describe(obj), err)
			}
			if err := m.Source.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				return errors.Join(fmt.Errorf("%s is not gone yet", describe(obj)), err)
			}
			return nil
		}); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d objects deleted", len(objs)), nil
}

// resume removes the paused annotation from the target's copies, read
// afresh (a run resumed after the source was deleted knows only those).
func (m *mover) resume(ctx context.Context) (string, error) {
	tgt, err := discover(ctx, m.Target, m.Namespace)
	if err != nil {
		return "", fmt.Errorf("reading the target: %w", err)
	}
	for _, obj := range tgt.kinds() {
		if err := annotate(ctx, m.Target, obj, infrav1.AnnotationPaused, nil); err != nil {
			return "", fmt.Errorf("resuming %s: %w", describe(obj), err)
		}
	}
	return fmt.Sprintf("%d objects resumed", len(tgt.kinds())), nil
}
