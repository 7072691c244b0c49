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

package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/move"
	"github.com/maas-gateway/maas-gateway/internal/pcg"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// Mode says where an operator is installed.
type Mode string

const (
	// ModeOutside: in the bootstrap cluster, with --outside-gateway: it
	// creates the first node and reads the gateway's Nodes at the VIP.
	ModeOutside Mode = "outside"
	// ModeInside: in the gateway cluster itself, as it then runs for good.
	ModeInside Mode = "inside"
)

// OperatorInstaller installs the operator (CRDs, RBAC, manager, webhooks)
// into a cluster. Both methods must be safe to call again.
type OperatorInstaller interface {
	// Installed reports whether the operator is installed in that mode
	// and current, with a word on what was found.
	Installed(ctx context.Context, cfg *rest.Config, namespace string, mode Mode) (bool, string, error)
	// Install installs or upgrades it and returns once it serves (its
	// webhooks answer), saying what it did.
	Install(ctx context.Context, cfg *rest.Config, namespace string, mode Mode) (string, error)
}

// NetworkPlugin installs the pod network the gateway's first Node needs
// to turn Ready. Optional: without one, "first node Ready" waits for a
// network plugin installed by other means.
type NetworkPlugin interface {
	Apply(ctx context.Context, cfg *rest.Config) (string, error)
}

// Options say what to install where.
type Options struct {
	// Installation is the checked pcg.yaml.
	Installation *pcg.Installation
	// Bootstrap is a bootstrap cluster of the user's: used as it is and
	// never deleted. Exactly one of Bootstrap and Bootstrapper.
	Bootstrap *rest.Config
	// Bootstrapper makes the bootstrap cluster (a kind cluster) in the
	// first step, and deletes it in the last, once the gateway runs in
	// its own cluster, unless KeepBootstrap.
	Bootstrapper Bootstrapper
	// KeepBootstrap keeps the cluster the Bootstrapper made.
	KeepBootstrap bool
	// KubeconfigOut is where the new cluster's admin kubeconfig is written
	// (mode 0600). A re-run reads it back: it is how a later run reaches
	// the new cluster.
	KubeconfigOut string
	// Operator installs the operator into both clusters.
	Operator OperatorInstaller
	// NetworkPlugin, when set, is applied to the new cluster before its
	// first Node is waited for.
	NetworkPlugin NetworkPlugin
	// Out receives progress; nil discards it.
	Out io.Writer
	// Timeout bounds each wait (a node deploying, the move's waits).
	// Default 45 minutes: a MAAS machine can take 20 to deploy.
	Timeout time.Duration
	// PollInterval is how often a wait looks again. Default 5 seconds.
	PollInterval time.Duration
	// KubeconfigValidity is how long the written admin kubeconfig's
	// client certificate is valid. Default one year, as kubeadm's admin.conf.
	KubeconfigValidity time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterStep: see Runner.AfterStep.
	AfterStep func(step string) error
}

// The steps, in order.
const (
	StepBootstrap       = "bootstrap cluster"
	StepOperatorOutside = "operator in the bootstrap cluster"
	StepGateway         = "Gateway and Secrets"
	StepAdminAccess     = "admin access to the new cluster"
	StepNetworkPlugin   = "network plugin"
	StepFirstNode       = "first node Ready"
	StepOperatorInside  = "operator in the new cluster"
	StepMove            = "move into the new cluster"
	StepAllNodes        = "all nodes Ready"
	StepCleanup         = "bootstrap cluster cleanup"
)

// fallbackKubernetesVersion picks the admin group when neither the Gateway
// nor its status names a version: the chart needs Kubernetes 1.31 or later,
// where kubeadm binds kubeadm:cluster-admins to cluster-admin.
const fallbackKubernetesVersion = "v1.31.0"

// Scheme holds the kinds the installer reads and writes.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := infrav1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewClient is an uncached client of a cluster: each decision is made on
// what its API server holds now.
func NewClient(cfg *rest.Config) (client.Client, error) {
	s, err := Scheme()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: s})
}

// installer holds one run's clients.
type installer struct {
	Options
	bootstrap client.Client
	gw        types.NamespacedName
}

// Run installs the gateway: every step whose result does not hold yet, in
// order, then the summary. Run it again after any failure to resume.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Installation == nil || opts.Installation.Gateway == nil || (opts.Bootstrap == nil) == (opts.Bootstrapper == nil) ||
		opts.Operator == nil || opts.KubeconfigOut == "" {
		return nil, errors.New("install: an installation, a bootstrap cluster or a Bootstrapper (one of them), " +
			"an operator installer and a kubeconfig path are required")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 45 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.KubeconfigValidity <= 0 {
		opts.KubeconfigValidity = 365 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	in := &installer{Options: opts, gw: client.ObjectKeyFromObject(opts.Installation.Gateway)}
	gw := opts.Installation.Gateway
	_, _ = fmt.Fprintf(opts.Out, "installing Gateway %s/%s: %d node(s), API server at %s, MAAS %s\n",
		gw.Namespace, gw.Name, gw.Spec.Replicas, gw.Spec.ControlPlaneEndpoint, gw.Spec.MAAS.Endpoint)
	results, err := Runner{Out: opts.Out, Now: opts.Now, AfterStep: opts.AfterStep}.Run(ctx, in.steps())
	Summary(opts.Out, results)
	return results, err
}

func (in *installer) steps() []Step {
	return []Step{
		// Always run: it makes the clients every later step uses.
		{Name: StepBootstrap, Run: in.ensureBootstrap},
		{Name: StepOperatorOutside, Done: in.either(in.moved, func(ctx context.Context) (bool, string, error) {
			return in.Operator.Installed(ctx, in.Bootstrap, in.gw.Namespace, ModeOutside)
		}), Run: func(ctx context.Context) (string, error) {
			return in.Operator.Install(ctx, in.Bootstrap, in.gw.Namespace, ModeOutside)
		}},
		{Name: StepGateway, Done: in.either(in.moved, in.gatewayCurrent), Run: in.applyGateway},
		{Name: StepAdminAccess, Done: in.adminAccessWorks, Run: in.writeAdminAccess},
		// A Ready node means a network plugin runs.
		{Name: StepNetworkPlugin, Done: in.either(in.moved, in.firstNodeReady), Run: in.applyNetworkPlugin},
		{Name: StepFirstNode, Done: in.either(in.moved, in.firstNodeReady), Run: in.waitFirstNode},
		{Name: StepOperatorInside, Done: func(ctx context.Context) (bool, string, error) {
			cfg, err := in.target()
			if err != nil {
				return false, "", err
			}
			return in.Operator.Installed(ctx, cfg, in.gw.Namespace, ModeInside)
		}, Run: func(ctx context.Context) (string, error) {
			cfg, err := in.target()
			if err != nil {
				return "", err
			}
			return in.Operator.Install(ctx, cfg, in.gw.Namespace, ModeInside)
		}},
		{Name: StepMove, Done: in.movedAndResumed, Run: in.move},
		{Name: StepAllNodes, Run: in.waitAllNodes},
		// Last, so that it is reached only once every step before it
		// holds: the gateway runs in its own cluster.
		{Name: StepCleanup, Run: in.cleanup},
	}
}

// either is done when any check is.
func (in *installer) either(checks ...func(context.Context) (bool, string, error)) func(context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		for _, c := range checks {
			if done, msg, err := c(ctx); err != nil || done {
				return done, msg, err
			}
		}
		return false, "", nil
	}
}

// ensureBootstrap makes the bootstrap cluster when a Bootstrapper is
// given (or finds the one an earlier run made), and checks that it answers.
func (in *installer) ensureBootstrap(ctx context.Context) (string, error) {
	var made string
	if in.Bootstrapper != nil {
		cfg, msg, err := in.Bootstrapper.Ensure(ctx, indent{in.Out})
		if err != nil {
			return "", err
		}
		in.Bootstrap, made = cfg, msg+"; "
	}
	bc, err := NewClient(in.Bootstrap)
	if err != nil {
		return "", err
	}
	in.bootstrap = bc
	msg, err := in.checkBootstrap()
	return made + msg, err
}

func (in *installer) checkBootstrap() (string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(in.Bootstrap)
	if err != nil {
		return "", err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return "", fmt.Errorf("the bootstrap cluster at %s does not answer: %w", in.Bootstrap.Host, err)
	}
	return fmt.Sprintf("%s, Kubernetes %s", in.Bootstrap.Host, v.GitVersion), nil
}

// cleanup deletes the bootstrap cluster the Bootstrapper made, unless it
// is to be kept, and only once the Gateway runs in the new cluster: then
// nothing of the gateway remains in it but copies (the Secrets the move
// copied, the Helm release).
func (in *installer) cleanup(ctx context.Context) (string, error) {
	if in.Bootstrapper == nil {
		return "kept: the cluster of --bootstrap-kubeconfig is not the installer's to delete; it still holds " +
			"the Helm release and the Secrets the move copied", nil
	}
	if in.KeepBootstrap {
		return "kept (--keep-bootstrap): " + in.Bootstrapper.Describe(), nil
	}
	done, _, err := in.movedAndResumed(ctx)
	if err != nil {
		return "", err
	}
	if !done {
		return "", fmt.Errorf("the Gateway does not run in the new cluster: %s is not deleted", in.Bootstrapper.Describe())
	}
	return in.Bootstrapper.Delete(ctx)
}

// target is the new cluster as the kubeconfig written by StepAdminAccess
// describes it.
func (in *installer) target() (*rest.Config, error) {
	if _, err := os.Stat(in.KubeconfigOut); err != nil {
		return nil, fmt.Errorf("the new cluster's kubeconfig %s: %w", in.KubeconfigOut, err)
	}
	return clientcmd.BuildConfigFromFlags("", in.KubeconfigOut)
}

func (in *installer) targetClient() (client.Client, error) {
	cfg, err := in.target()
	if err != nil {
		return nil, err
	}
	return NewClient(cfg)
}

// moved is done when the Gateway has left the bootstrap cluster for the
// new one: what precedes the move must then not run again (a Gateway
// created again in the bootstrap cluster would deploy a second gateway).
func (in *installer) moved(ctx context.Context) (bool, string, error) {
	err := in.bootstrap.Get(ctx, in.gw, &infrav1.Gateway{})
	switch {
	case err == nil:
		return false, "", nil
	// No Gateway kind at all: a bootstrap cluster made again after an
	// earlier run deleted the first.
	case !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err):
		return false, "", err
	}
	if _, err := os.Stat(in.KubeconfigOut); err != nil {
		return false, "", nil
	}
	tc, err := in.targetClient()
	if err != nil {
		return false, "", err
	}
	if err := tc.Get(ctx, in.gw, &infrav1.Gateway{}); err != nil {
		if apierrors.IsNotFound(err) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("reading the Gateway in the new cluster: %w", err)
	}
	return true, "the Gateway is in the new cluster already", nil
}

func (in *installer) movedAndResumed(ctx context.Context) (bool, string, error) {
	done, _, err := in.moved(ctx)
	if err != nil || !done {
		return false, "", err
	}
	tc, err := in.targetClient()
	if err != nil {
		return false, "", err
	}
	gw := &infrav1.Gateway{}
	if err := tc.Get(ctx, in.gw, gw); err != nil {
		return false, "", err
	}
	if _, paused := gw.Annotations[infrav1.AnnotationPaused]; paused {
		return false, "", nil
	}
	return true, "the Gateway runs in the new cluster", nil
}

// applyGateway creates the Secrets and the Gateway, or brings them to what
// pcg.yaml says; never a second one. The webhooks may not serve for a
// moment after the operator's install: a refusal is retried until Timeout.
func (in *installer) applyGateway(ctx context.Context) (string, error) {
	var verbs []string
	err := in.poll(ctx, "the API server accepting the Gateway", func(ctx context.Context) (bool, string, error) {
		verbs = verbs[:0]
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.gw.Namespace}}
		if err := in.bootstrap.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, err.Error(), nil
		}
		for _, want := range in.Installation.Secrets {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
			op, err := controllerutil.CreateOrUpdate(ctx, in.bootstrap, s, func() error {
				s.Labels = mergeLabels(s.Labels, want.Labels)
				s.Type = want.Type
				s.Data = maps.Clone(want.Data)
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				for k, v := range want.StringData {
					s.Data[k] = []byte(v)
				}
				return nil
			})
			if err != nil {
				// Never the Secret's contents: only its name.
				return false, fmt.Sprintf("Secret %s: %s", s.Name, reasonOf(err)), nil
			}
			verbs = append(verbs, fmt.Sprintf("Secret %s %s", s.Name, op))
		}
		want := in.Installation.Gateway
		gw := &infrav1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
		op, err := controllerutil.CreateOrUpdate(ctx, in.bootstrap, gw, func() error {
			gw.Labels = mergeLabels(gw.Labels, want.Labels)
			replicas := want.Spec.Replicas
			gw.Spec = *want.Spec.DeepCopy()
			// The operator creates the cluster from nothing; immutable.
			gw.Spec.Initialize = true
			gw.Spec.Replicas = replicas
			return nil
		})
		if err != nil {
			return false, fmt.Sprintf("Gateway %s: %v", gw.Name, err), nil
		}
		verbs = append(verbs, fmt.Sprintf("Gateway %s %s (spec.initialize)", gw.Name, op))
		return true, "", nil
	})
	return strings.Join(verbs, ", "), err
}

// gatewayCurrent is done when the Secrets hold what pcg.yaml says and the
// Gateway exists with its spec (a spec the API server defaulted further
// is applied again, which changes nothing).
func (in *installer) gatewayCurrent(ctx context.Context) (bool, string, error) {
	for _, want := range in.Installation.Secrets {
		s := &corev1.Secret{}
		if err := in.bootstrap.Get(ctx, client.ObjectKeyFromObject(want), s); err != nil {
			return false, "", client.IgnoreNotFound(err)
		}
		for k, v := range want.StringData {
			if string(s.Data[k]) != v {
				return false, "", nil
			}
		}
	}
	gw := &infrav1.Gateway{}
	if err := in.bootstrap.Get(ctx, in.gw, gw); err != nil {
		return false, "", client.IgnoreNotFound(err)
	}
	spec := in.Installation.Gateway.Spec.DeepCopy()
	spec.Initialize = true
	if !equality.Semantic.DeepEqual(*spec, gw.Spec) {
		return false, "", nil
	}
	return true, fmt.Sprintf("Gateway %s and its %d Secret(s) as pcg.yaml says", gw.Name, len(in.Installation.Secrets)), nil
}

// firstNodeReady is done when the Gateway in the bootstrap cluster counts
// a Ready node.
func (in *installer) firstNodeReady(ctx context.Context) (bool, string, error) {
	gw := &infrav1.Gateway{}
	if err := in.bootstrap.Get(ctx, in.gw, gw); err != nil {
		return false, "", client.IgnoreNotFound(err)
	}
	if gw.Status.ReadyReplicas < 1 {
		return false, "", nil
	}
	return true, fmt.Sprintf("%d node(s) Ready", gw.Status.ReadyReplicas), nil
}

// adminAccessWorks is done when the kubeconfig written earlier reaches the
// new cluster.
func (in *installer) adminAccessWorks(ctx context.Context) (bool, string, error) {
	if _, err := os.Stat(in.KubeconfigOut); err != nil {
		return false, "", nil
	}
	tc, err := in.targetClient()
	if err != nil {
		return false, "", nil // rewritten below
	}
	if err := tc.Get(ctx, types.NamespacedName{Name: metav1.NamespaceSystem}, &corev1.Namespace{}); err != nil {
		return false, "", nil
	}
	return true, in.KubeconfigOut + " reaches the new cluster", nil
}

// writeAdminAccess waits for the gateway's CA (the operator generates it)
// and for the API server at the VIP to answer a client certificate signed
// by it, then writes that client's kubeconfig.
func (in *installer) writeAdminAccess(ctx context.Context) (string, error) {
	var cfg *rest.Config
	err := in.poll(ctx, "the new cluster's API server at the VIP", func(ctx context.Context) (bool, string, error) {
		gw := &infrav1.Gateway{}
		if err := in.bootstrap.Get(ctx, in.gw, gw); err != nil {
			return false, "", fmt.Errorf("reading the Gateway: %w", err)
		}
		ca := &corev1.Secret{}
		name := bootstrap.SecretName(in.gw.Name, bootstrap.PurposeCA)
		if err := in.bootstrap.Get(ctx, types.NamespacedName{Namespace: in.gw.Namespace, Name: name}, ca); err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Sprintf("waiting for the operator to generate Secret %s (phase %s)", name, phaseOf(gw)), nil
			}
			return false, "", err
		}
		pki := &bootstrap.ClusterPKI{CA: bootstrap.KeyPair{Cert: ca.Data[corev1.TLSCertKey], Key: ca.Data[corev1.TLSPrivateKeyKey]}}
		c, err := workload.RESTConfig(pki, workload.Endpoint{VIP: gw.Spec.ControlPlaneEndpoint}, kubernetesVersion(gw),
			in.Now(), in.KubeconfigValidity)
		if err != nil {
			return false, "", fmt.Errorf("signing an admin client certificate from Secret %s: %w", name, err)
		}
		tc, err := NewClient(c)
		if err != nil {
			return false, "", err
		}
		if err := tc.Get(ctx, types.NamespacedName{Name: metav1.NamespaceSystem}, &corev1.Namespace{}); err != nil {
			return false, fmt.Sprintf("%s does not answer yet (phase %s, %d node(s) in status): %s", c.Host,
				phaseOf(gw), len(gw.Status.Nodes), reasonOf(err)), nil
		}
		cfg = c
		return true, "", nil
	})
	if err != nil {
		return "", err
	}
	if err := writeKubeconfig(in.KubeconfigOut, in.gw.Name, cfg); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s answers; kubeconfig written to %s", cfg.Host, in.KubeconfigOut), nil
}

func (in *installer) applyNetworkPlugin(ctx context.Context) (string, error) {
	if in.NetworkPlugin == nil {
		return "none given: the first Node turns Ready once a network plugin runs in the new cluster", nil
	}
	cfg, err := in.target()
	if err != nil {
		return "", err
	}
	return in.NetworkPlugin.Apply(ctx, cfg)
}

func (in *installer) waitFirstNode(ctx context.Context) (string, error) {
	var ready int32
	err := in.poll(ctx, "the first node Ready", func(ctx context.Context) (bool, string, error) {
		gw := &infrav1.Gateway{}
		if err := in.bootstrap.Get(ctx, in.gw, gw); err != nil {
			return false, "", fmt.Errorf("reading the Gateway: %w", err)
		}
		ready = gw.Status.ReadyReplicas
		return ready >= 1, nodesOf(gw), nil
	})
	return fmt.Sprintf("%d node(s) Ready", ready), err
}

func (in *installer) move(ctx context.Context) (string, error) {
	tc, err := in.targetClient()
	if err != nil {
		return "", err
	}
	if err := move.Run(ctx, move.Options{Source: in.bootstrap, Target: tc, Namespace: in.gw.Namespace,
		Out: indent{in.Out}, Timeout: in.Timeout, PollInterval: in.PollInterval}); err != nil {
		return "", err
	}
	return "the Gateway and its Secrets are in the new cluster", nil
}

func (in *installer) waitAllNodes(ctx context.Context) (string, error) {
	tc, err := in.targetClient()
	if err != nil {
		return "", err
	}
	var msg string
	err = in.poll(ctx, "every node Ready", func(ctx context.Context) (bool, string, error) {
		gw := &infrav1.Gateway{}
		if err := tc.Get(ctx, in.gw, gw); err != nil {
			return false, "reading the Gateway: " + reasonOf(err), nil
		}
		msg = fmt.Sprintf("%d of %d node(s) Ready", gw.Status.ReadyReplicas, gw.Spec.Replicas)
		return gw.Status.ReadyReplicas >= gw.Spec.Replicas, nodesOf(gw), nil
	})
	return msg, err
}

// poll calls check until it is done, printing its status whenever it
// changes with the time waited; an error from check ends the wait, a
// status without one is waited through until Timeout.
func (in *installer) poll(ctx context.Context, what string, check func(context.Context) (bool, string, error)) error {
	start := in.Now()
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	last := ""
	for {
		done, status, err := check(ctx)
		if err != nil {
			return err
		}
		if status != "" && status != last {
			_, _ = fmt.Fprintf(in.Out, "      %s: %s\n", round(in.Now().Sub(start)), status)
			last = status
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = "no status"
			}
			return fmt.Errorf("waited %s for %s; last seen: %s", in.Timeout, what, last)
		case <-time.After(in.PollInterval):
		}
	}
}

// writeKubeconfig writes an admin kubeconfig of cfg, readable by its owner
// only: it holds a client key of the cluster's admin group.
func writeKubeconfig(path, name string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name+"-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name + "-admin"}
	kc.CurrentContext = name
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	// Write beside it and rename, so that an interrupted run never leaves
	// half a file that a re-run would take for the cluster's.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps an existing file's mode
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// kubernetesVersion is the version the gateway runs or is to run, which
// picks the admin group.
func kubernetesVersion(gw *infrav1.Gateway) string {
	if r := gw.Spec.Release; r != nil && r.KubernetesVersion != "" {
		return r.KubernetesVersion
	}
	if r := gw.Status.CurrentRelease; r != nil && r.KubernetesVersion != "" {
		return r.KubernetesVersion
	}
	return fallbackKubernetesVersion
}

func phaseOf(gw *infrav1.Gateway) string {
	if gw.Status.Phase == "" {
		return "unknown"
	}
	return string(gw.Status.Phase)
}

// nodesOf is a progress line: the phase, and each node's state.
func nodesOf(gw *infrav1.Gateway) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s, %d/%d Ready", phaseOf(gw), gw.Status.ReadyReplicas, gw.Spec.Replicas)
	for _, n := range gw.Status.Nodes {
		state := "not Ready"
		if n.Ready {
			state = "Ready"
		}
		fmt.Fprintf(&b, "; %s %s", n.SystemID, state)
	}
	return b.String()
}

func mergeLabels(have, want map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	maps.Copy(have, want)
	return have
}

// reasonOf shortens an API error to its reason; other errors as they are.
func reasonOf(err error) string {
	if r := apierrors.ReasonForError(err); r != metav1.StatusReasonUnknown {
		return string(r)
	}
	return err.Error()
}

// indent prefixes each line of the move's progress, nested in the step's.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(i.w, "      %s", p); err != nil {
		return 0, err
	}
	return len(p), nil
}
