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

// Package bundle generates the OLM bundle (bundle/ and bundle.Dockerfile)
// from the kustomize build of config/manifests: the base CSV written by hand
// for what no marker can say, plus config/default and config/samples. It does
// what `kustomize build config/manifests | operator-sdk generate bundle`
// does, without building operator-sdk, and refuses kinds it has no rule for
// so that a new resource in config/ cannot silently miss the bundle.
package bundle

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	// PackageName is the OLM package, and the prefix of every CSV name.
	PackageName = "maas-gateway"
	// DefaultChannel follows OLM's channel naming (candidate, fast, stable):
	// a first release, of a v1alpha1 API, is a candidate.
	DefaultChannel = "candidate"
	// DefaultImagePrefix is where `make docker-build` tags the images.
	DefaultImagePrefix = "maas-gateway"

	// ManagerContainer is the container of the manager Deployment whose
	// image the bundle pins.
	ManagerContainer = "manager"

	// OLMWebhookCertDir is where OLM mounts the serving certificate it makes
	// for the webhookdefinitions of a CSV (tls.crt, tls.key); see OLM's
	// install.AddDefaultCertVolumeAndVolumeMounts. The manager's
	// --webhook-cert-path must name it.
	OLMWebhookCertDir = "/tmp/k8s-webhook-server/serving-certs"

	// ScorecardImage runs the scorecard's basic and OLM tests; the version
	// is the operator-sdk release the issue names.
	ScorecardImage = "quay.io/operator-framework/scorecard-test:v1.42.2"

	manifestsDir = "bundle/manifests"
	metadataDir  = "bundle/metadata"
	scorecardDir = "bundle/tests/scorecard"
	// DockerfilePath is the bundle image's Dockerfile, at the repository root
	// as operator-sdk puts it.
	DockerfilePath = "bundle.Dockerfile"
	// BundleDir holds everything else that is generated.
	BundleDir = "bundle"
)

// Options says what to generate.
type Options struct {
	// Root is the repository root.
	Root string
	// Version is the release version (the VERSION file), without a "v".
	Version string
	// ImagePrefix is the repository prefix of the images; the manager image
	// is ImagePrefix/manager:vVersion, as hack/docker-build.sh tags it.
	ImagePrefix string
	// Replaces is the previous release this one upgrades from, without a
	// "v"; empty for the first release (0.1.0 has none).
	Replaces string
	// Channel defaults to DefaultChannel.
	Channel string
}

// File is one generated file, Path relative to the repository root.
type File struct {
	Path string
	Data []byte
}

// ManagerImage is the manager image reference for a version.
func ManagerImage(prefix, release string) string {
	if prefix == "" {
		prefix = DefaultImagePrefix
	}
	return prefix + "/manager:v" + release
}

// CSVName is the CSV's metadata.name for a version.
func CSVName(release string) string { return PackageName + ".v" + release }

// Build runs the kustomize build of dir (relative to root), as
// `kustomize build` would, and returns its objects in output order.
func Build(root, dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		// Through JSON, so numbers are the int64s unstructured expects.
		b, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// parts is the kustomize build sorted into what the bundle does with each.
type parts struct {
	csv          *operatorsv1alpha1.ClusterServiceVersion
	crds         []*unstructured.Unstructured
	samples      []*unstructured.Unstructured
	deployments  []*appsv1.Deployment
	roles        []*unstructured.Unstructured // Role and ClusterRole
	bindings     []*unstructured.Unstructured // RoleBinding and ClusterRoleBinding
	services     []*corev1.Service
	serviceObjs  []*unstructured.Unstructured // the same, as built
	webhooks     []*unstructured.Unstructured // Mutating/ValidatingWebhookConfiguration
	certSecrets  []string                     // secretName of every cert-manager Certificate
	accountNames []string                     // ServiceAccounts of the install
}

// apiGroup is the group of the project's own kinds: their objects in the
// build are the samples.
const apiGroup = "infra.maasgateway.io"

func classify(objs []*unstructured.Unstructured) (*parts, error) {
	p := &parts{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		switch {
		case gvk.Kind == "ClusterServiceVersion":
			if p.csv != nil {
				return nil, fmt.Errorf("two ClusterServiceVersions in config/manifests")
			}
			p.csv = &operatorsv1alpha1.ClusterServiceVersion{}
			if err := strictInto(o, p.csv); err != nil {
				return nil, fmt.Errorf("base CSV: %w", err)
			}
		case gvk.Group == apiGroup:
			p.samples = append(p.samples, o)
		case gvk.Kind == "CustomResourceDefinition":
			p.crds = append(p.crds, o)
		case gvk.Kind == "Deployment":
			d := &appsv1.Deployment{}
			if err := strictInto(o, d); err != nil {
				return nil, err
			}
			p.deployments = append(p.deployments, d)
		case gvk.Kind == "Role" || gvk.Kind == "ClusterRole":
			p.roles = append(p.roles, o)
		case gvk.Kind == "RoleBinding" || gvk.Kind == "ClusterRoleBinding":
			p.bindings = append(p.bindings, o)
		case gvk.Kind == "Service":
			s := &corev1.Service{}
			if err := strictInto(o, s); err != nil {
				return nil, err
			}
			p.services = append(p.services, s)
			p.serviceObjs = append(p.serviceObjs, o)
		case gvk.Kind == "MutatingWebhookConfiguration" || gvk.Kind == "ValidatingWebhookConfiguration":
			p.webhooks = append(p.webhooks, o)
		case gvk.Kind == "ServiceAccount":
			// OLM creates the accounts named in permissions/clusterPermissions.
			p.accountNames = append(p.accountNames, o.GetName())
		case gvk.Kind == "Certificate" && gvk.Group == "cert-manager.io":
			// OLM issues the webhook serving certificate itself; the
			// Certificate's Secret is what the Deployment must stop mounting.
			name, _, _ := unstructured.NestedString(o.Object, "spec", "secretName")
			p.certSecrets = append(p.certSecrets, name)
		case gvk.Kind == "Issuer" && gvk.Group == "cert-manager.io",
			gvk.Kind == "Namespace":
			// OLM installs into the namespace of the OperatorGroup.
		case gvk.Group == "admissionregistration.k8s.io" &&
			(gvk.Kind == "ValidatingAdmissionPolicy" || gvk.Kind == "ValidatingAdmissionPolicyBinding"):
			// The manager's Secret policy: a bundle cannot carry admission
			// policies (OLM installs only the kinds it knows), and the
			// policy names the manager's account by its namespace, which
			// the OperatorGroup decides. An OLM install goes without it;
			// the README says so.
		default:
			return nil, fmt.Errorf("config/manifests builds a %s %q: the bundle generator has no rule for that kind", gvk, o.GetName())
		}
	}
	if p.csv == nil {
		return nil, fmt.Errorf("no base ClusterServiceVersion in config/manifests")
	}
	if len(p.deployments) == 0 {
		return nil, fmt.Errorf("no Deployment in config/manifests")
	}
	return p, nil
}

// strictInto converts an object to a typed one, failing on unknown fields so
// a typo in the base CSV is an error rather than a silently dropped field.
func strictInto(u *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		return fmt.Errorf("%s %q: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// Generate returns every file of the bundle for o, sorted by path: the same
// bytes for the same inputs.
func Generate(o Options) ([]File, error) {
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	var v version.OperatorVersion
	if err := v.UnmarshalJSON([]byte(`"` + o.Version + `"`)); err != nil {
		return nil, fmt.Errorf("version %q: %w", o.Version, err)
	}
	objs, err := Build(o.Root, "config/manifests")
	if err != nil {
		return nil, err
	}
	p, err := classify(objs)
	if err != nil {
		return nil, err
	}
	image := ManagerImage(o.ImagePrefix, o.Version)

	csv := p.csv
	csv.Name = CSVName(o.Version)
	csv.Namespace = ""
	csv.Spec.Version = v
	csv.Spec.Replaces = ""
	if o.Replaces != "" {
		csv.Spec.Replaces = CSVName(o.Replaces)
	}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["containerImage"] = image
	csv.Spec.RelatedImages = []operatorsv1alpha1.RelatedImage{{Name: ManagerContainer, Image: image}}

	icon, err := os.ReadFile(filepath.Join(o.Root, "config/manifests/icon.svg"))
	if err != nil {
		return nil, err
	}
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{
		Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml",
	}}

	examples, err := almExamples(p.samples)
	if err != nil {
		return nil, err
	}
	csv.Annotations["alm-examples"] = examples

	if err := ownCRDs(csv, p.crds); err != nil {
		return nil, err
	}

	deploys, err := deploymentsForOLM(p, image)
	if err != nil {
		return nil, err
	}
	perms, clusterPerms, extraRoles, err := permissions(p, deploys)
	if err != nil {
		return nil, err
	}
	hooks, webhookServices, err := webhookDefinitions(p, deploys)
	if err != nil {
		return nil, err
	}
	csv.Spec.WebhookDefinitions = hooks
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: operatorsv1alpha1.StrategyDetailsDeployment{
			DeploymentSpecs:    deploys,
			Permissions:        perms,
			ClusterPermissions: clusterPerms,
		},
	}

	var files []File
	add := func(path string, obj any) error {
		b, err := marshal(obj)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		files = append(files, File{Path: path, Data: b})
		return nil
	}
	if err := add(filepath.Join(manifestsDir, PackageName+".clusterserviceversion.yaml"), csv); err != nil {
		return nil, err
	}
	for _, crd := range p.crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		if err := add(filepath.Join(manifestsDir, group+"_"+plural+".yaml"), crd.Object); err != nil {
			return nil, err
		}
	}
	// Everything else OLM can create from a bundle: the roles no operator
	// account is bound to (for admins to grant) and the services OLM does
	// not make itself (metrics). Namespaced ones land in the install
	// namespace, so theirs is dropped.
	var extra []*unstructured.Unstructured
	extra = append(extra, extraRoles...)
	for _, s := range p.serviceObjs {
		if slices.Contains(webhookServices, s.GetName()) {
			continue // OLM makes <deployment>-service for the webhooks
		}
		extra = append(extra, s)
	}
	for _, e := range extra {
		e = e.DeepCopy()
		e.SetNamespace("")
		gvk := e.GroupVersionKind()
		gv := gvk.Version
		if gvk.Group != "" {
			gv = gvk.Group + "_" + gvk.Version
		}
		name := e.GetName() + "_" + gv + "_" + strings.ToLower(gvk.Kind) + ".yaml"
		if err := add(filepath.Join(manifestsDir, name), e.Object); err != nil {
			return nil, err
		}
	}

	ann := annotations(o.Channel)
	if err := add(filepath.Join(metadataDir, "annotations.yaml"), map[string]any{"annotations": ann}); err != nil {
		return nil, err
	}
	if err := add(filepath.Join(scorecardDir, "config.yaml"), scorecardConfig()); err != nil {
		return nil, err
	}
	files = append(files, File{Path: DockerfilePath, Data: dockerfile(ann)})

	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// almExamples is the alm-examples annotation: the samples as a JSON array,
// indented as operator-sdk writes it.
func almExamples(samples []*unstructured.Unstructured) (string, error) {
	list := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		s = s.DeepCopy()
		s.SetNamespace("")
		list = append(list, s.Object)
	}
	b, err := json.MarshalIndent(list, "", "  ")
	return string(b), err
}

// ownCRDs completes the base's owned entries (descriptors written by hand)
// with the kind and served storage version of each CRD built, and fails when
// a CRD has no entry or an entry no CRD: a new kind needs its descriptors.
func ownCRDs(csv *operatorsv1alpha1.ClusterServiceVersion, crds []*unstructured.Unstructured) error {
	owned := csv.Spec.CustomResourceDefinitions.Owned
	seen := map[string]bool{}
	for _, crd := range crds {
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		storage := ""
		for _, v := range versions {
			if m, _ := v.(map[string]any); m["storage"] == true {
				storage, _ = m["name"].(string)
			}
		}
		i := slices.IndexFunc(owned, func(d operatorsv1alpha1.CRDDescription) bool { return d.Name == crd.GetName() })
		if i < 0 {
			return fmt.Errorf("CRD %s has no owned entry (with descriptors) in the base CSV", crd.GetName())
		}
		owned[i].Kind = kind
		owned[i].Version = storage
		seen[crd.GetName()] = true
	}
	for _, d := range owned {
		if !seen[d.Name] {
			return fmt.Errorf("base CSV owns %s, which config/ does not build", d.Name)
		}
	}
	slices.SortFunc(owned, func(a, b operatorsv1alpha1.CRDDescription) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// deploymentsForOLM is each Deployment's spec as config/default installs it,
// with the two changes OLM needs: the manager image pinned to this release,
// and no volume for the cert-manager Secret of the webhook certificate,
// because OLM mounts its own certificate at OLMWebhookCertDir (a second
// mount there would make the pod invalid).
func deploymentsForOLM(p *parts, image string) ([]operatorsv1alpha1.StrategyDeploymentSpec, error) {
	var out []operatorsv1alpha1.StrategyDeploymentSpec
	for _, d := range p.deployments {
		spec := d.Spec.DeepCopy()
		pod := &spec.Template.Spec
		dropped := map[string]bool{}
		pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool {
			if v.Secret != nil && slices.Contains(p.certSecrets, v.Secret.SecretName) {
				dropped[v.Name] = true
				return true
			}
			return false
		})
		found := false
		for i := range pod.Containers {
			c := &pod.Containers[i]
			for _, m := range c.VolumeMounts {
				if dropped[m.Name] && m.MountPath != OLMWebhookCertDir {
					return nil, fmt.Errorf("deployment %s mounts certificate %s at %s: OLM only provides the webhook certificate, at %s",
						d.Name, m.Name, m.MountPath, OLMWebhookCertDir)
				}
			}
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return dropped[m.Name] })
			if c.Name != ManagerContainer {
				continue
			}
			found = true
			c.Image = image
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, "--webhook-cert-path="); ok && v != OLMWebhookCertDir {
					return nil, fmt.Errorf("manager reads webhook certificates from %s; OLM mounts them at %s", v, OLMWebhookCertDir)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("deployment %s has no container %q", d.Name, ManagerContainer)
		}
		out = append(out, operatorsv1alpha1.StrategyDeploymentSpec{
			Name:  d.Name,
			Spec:  *spec,
			Label: labels.Set(d.Labels),
		})
	}
	return out, nil
}

// permissions turns the roles bound to the deployments' service accounts into
// the CSV's permissions (Roles, namespaced) and clusterPermissions
// (ClusterRoles through ClusterRoleBindings), one entry per account with the
// rules of its roles in binding-name order, as operator-sdk does. Roles bound
// to no operator account are returned to be shipped as bundle objects.
func permissions(p *parts, deploys []operatorsv1alpha1.StrategyDeploymentSpec) (
	perms, cluster []operatorsv1alpha1.StrategyDeploymentPermissions, unbound []*unstructured.Unstructured, err error,
) {
	accounts := map[string]bool{}
	for _, d := range deploys {
		sa := d.Spec.Template.Spec.ServiceAccountName
		if !slices.Contains(p.accountNames, sa) {
			return nil, nil, nil, fmt.Errorf("deployment %s runs as service account %q, which config/ does not create", d.Name, sa)
		}
		accounts[sa] = true
	}
	roles := map[string]*unstructured.Unstructured{}
	for _, r := range p.roles {
		roles[r.GetKind()+"/"+r.GetName()] = r
	}
	bindings := slices.Clone(p.bindings)
	slices.SortStableFunc(bindings, func(a, b *unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })

	bound := map[string]bool{}
	nsRules := map[string][]rbacv1.PolicyRule{}
	clusterRules := map[string][]rbacv1.PolicyRule{}
	for _, b := range bindings {
		var rb rbacv1.RoleBinding // RoleBinding and ClusterRoleBinding share these fields
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(b.Object, &rb); err != nil {
			return nil, nil, nil, err
		}
		key := rb.RoleRef.Kind + "/" + rb.RoleRef.Name
		role, ok := roles[key]
		if !ok {
			return nil, nil, nil, fmt.Errorf("%s %s refers to %s, which config/ does not create", b.GetKind(), b.GetName(), key)
		}
		var r rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r); err != nil {
			return nil, nil, nil, err
		}
		for _, s := range rb.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || !accounts[s.Name] {
				return nil, nil, nil, fmt.Errorf("%s %s binds %s %s: only the operator's service accounts can be bound in a bundle", b.GetKind(), b.GetName(), s.Kind, s.Name)
			}
			bound[key] = true
			if b.GetKind() == "ClusterRoleBinding" {
				clusterRules[s.Name] = append(clusterRules[s.Name], r.Rules...)
			} else {
				nsRules[s.Name] = append(nsRules[s.Name], r.Rules...)
			}
		}
	}
	for _, sa := range sortedKeys(nsRules) {
		perms = append(perms, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: nsRules[sa]})
	}
	for _, sa := range sortedKeys(clusterRules) {
		cluster = append(cluster, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: clusterRules[sa]})
	}
	for _, r := range p.roles {
		if !bound[r.GetKind()+"/"+r.GetName()] {
			unbound = append(unbound, r)
		}
	}
	return perms, cluster, unbound, nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// webhookDefinitions turns the webhook configurations into the CSV's
// webhookdefinitions. OLM makes the Service (<deployment>-service) and the
// configurations itself, so each definition carries what the configuration
// and its Service said: the Service port as containerPort, its targetPort,
// the path, and the deployment whose pods the Service selects. It returns
// the names of the Services it replaced.
func webhookDefinitions(p *parts, deploys []operatorsv1alpha1.StrategyDeploymentSpec) ([]operatorsv1alpha1.WebhookDescription, []string, error) {
	var out []operatorsv1alpha1.WebhookDescription
	var replaced []string
	for _, cfg := range p.webhooks {
		typ := operatorsv1alpha1.ValidatingAdmissionWebhook
		var hooks []admissionregistrationv1.ValidatingWebhook
		if cfg.GetKind() == "MutatingWebhookConfiguration" {
			typ = operatorsv1alpha1.MutatingAdmissionWebhook
			var m admissionregistrationv1.MutatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(cfg.Object, &m); err != nil {
				return nil, nil, err
			}
			for _, h := range m.Webhooks {
				if h.ReinvocationPolicy != nil && *h.ReinvocationPolicy != admissionregistrationv1.NeverReinvocationPolicy {
					return nil, nil, fmt.Errorf("webhook %s: reinvocationPolicy is not carried over", h.Name)
				}
				hooks = append(hooks, admissionregistrationv1.ValidatingWebhook{
					Name: h.Name, ClientConfig: h.ClientConfig, Rules: h.Rules, FailurePolicy: h.FailurePolicy,
					MatchPolicy: h.MatchPolicy, NamespaceSelector: h.NamespaceSelector, ObjectSelector: h.ObjectSelector,
					SideEffects: h.SideEffects, TimeoutSeconds: h.TimeoutSeconds,
					AdmissionReviewVersions: h.AdmissionReviewVersions, MatchConditions: h.MatchConditions,
				})
			}
		} else {
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(cfg.Object, &v); err != nil {
				return nil, nil, err
			}
			hooks = v.Webhooks
		}
		for _, h := range hooks {
			ref := h.ClientConfig.Service
			if ref == nil {
				return nil, nil, fmt.Errorf("webhook %s calls a URL: OLM serves webhooks only from the operator's deployment", h.Name)
			}
			// OLM scopes webhooks to the OperatorGroup's namespaces itself and
			// has no place for either of these.
			if h.NamespaceSelector != nil || len(h.MatchConditions) > 0 {
				return nil, nil, fmt.Errorf("webhook %s: namespaceSelector and matchConditions are not carried over", h.Name)
			}
			port := int32(443)
			if ref.Port != nil {
				port = *ref.Port
			}
			svc, target, deploy, err := serviceBehind(p, deploys, ref.Name, port)
			if err != nil {
				return nil, nil, fmt.Errorf("webhook %s: %w", h.Name, err)
			}
			if !slices.Contains(replaced, svc) {
				replaced = append(replaced, svc)
			}
			out = append(out, operatorsv1alpha1.WebhookDescription{
				GenerateName:            h.Name,
				Type:                    typ,
				DeploymentName:          deploy,
				ContainerPort:           port,
				TargetPort:              &target,
				Rules:                   h.Rules,
				FailurePolicy:           h.FailurePolicy,
				MatchPolicy:             h.MatchPolicy,
				ObjectSelector:          h.ObjectSelector,
				SideEffects:             h.SideEffects,
				TimeoutSeconds:          h.TimeoutSeconds,
				AdmissionReviewVersions: h.AdmissionReviewVersions,
				WebhookPath:             ref.Path,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b operatorsv1alpha1.WebhookDescription) int {
		return cmp.Or(strings.Compare(string(a.Type), string(b.Type)), strings.Compare(a.GenerateName, b.GenerateName))
	})
	return out, replaced, nil
}

// serviceBehind finds the Service a webhook calls, the target port of the
// Service port it uses, and the deployment whose pods the Service selects.
func serviceBehind(p *parts, deploys []operatorsv1alpha1.StrategyDeploymentSpec, name string, port int32) (string, intstr.IntOrString, string, error) {
	for _, s := range p.services {
		if s.Name != name {
			continue
		}
		i := slices.IndexFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Port == port })
		if i < 0 {
			return "", intstr.IntOrString{}, "", fmt.Errorf("service %s has no port %d", name, port)
		}
		target := s.Spec.Ports[i].TargetPort
		if target.IntValue() == 0 && target.StrVal == "" {
			target = intstr.FromInt32(port)
		}
		sel := labels.SelectorFromSet(s.Spec.Selector)
		for _, d := range deploys {
			if len(s.Spec.Selector) > 0 && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				return s.Name, target, d.Name, nil
			}
		}
		return "", intstr.IntOrString{}, "", fmt.Errorf("service %s selects no deployment's pods", name)
	}
	return "", intstr.IntOrString{}, "", fmt.Errorf("no service %s in config/", name)
}

// annotations are the bundle's metadata/annotations.yaml, and the labels of
// the bundle image.
func annotations(channel string) map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         PackageName,
		"operators.operatorframework.io.bundle.channels.v1":        channel,
		"operators.operatorframework.io.bundle.channel.default.v1": channel,
		"operators.operatorframework.io.metrics.builder":           "maas-gateway-bundlegen",
		"operators.operatorframework.io.metrics.mediatype.v1":      "metrics+v1",
		"operators.operatorframework.io.metrics.project_layout":    "go.kubebuilder.io/v4",
		"operators.operatorframework.io.test.mediatype.v1":         "scorecard+v1",
		"operators.operatorframework.io.test.config.v1":            "tests/scorecard/",
	}
}

// dockerfile is bundle.Dockerfile: an image FROM scratch holding the bundle,
// labelled with its annotations, as operator-sdk writes it.
func dockerfile(ann map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by hack/bundle.sh (make bundle); do not edit.\n")
	b.WriteString("FROM scratch\n\n")
	b.WriteString("# Core bundle labels.\n")
	for _, k := range sortedKeys(ann) {
		fmt.Fprintf(&b, "LABEL %s=%s\n", k, ann[k])
	}
	b.WriteString("\n# Copy files to locations specified by labels.\n")
	b.WriteString("COPY bundle/manifests /manifests/\n")
	b.WriteString("COPY bundle/metadata /metadata/\n")
	b.WriteString("COPY bundle/tests/scorecard /tests/scorecard/\n")
	return b.Bytes()
}

// scorecardConfig is operator-sdk's default scorecard configuration: the
// basic spec check and the OLM checks.
func scorecardConfig() map[string]any {
	test := func(suite, name string) map[string]any {
		return map[string]any{
			"entrypoint": []string{"scorecard-test", name},
			"image":      ScorecardImage,
			"labels":     map[string]string{"suite": suite, "test": name + "-test"},
		}
	}
	return map[string]any{
		"apiVersion": "scorecard.operatorframework.io/v1alpha3",
		"kind":       "Configuration",
		"metadata":   map[string]any{"name": "config"},
		"stages": []any{map[string]any{
			"parallel": true,
			"tests": []any{
				test("basic", "basic-check-spec"),
				test("olm", "olm-bundle-validation"),
				test("olm", "olm-crds-have-validation"),
				test("olm", "olm-crds-have-resources"),
				test("olm", "olm-spec-descriptors"),
				test("olm", "olm-status-descriptors"),
			},
		}},
		"storage": map[string]any{"spec": map[string]any{"mountPath": map[string]any{}}},
	}
}

// marshal writes an object as YAML with sorted keys, without the empty
// status and creation timestamps that typed objects carry.
func marshal(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m["kind"] == "ClusterServiceVersion" {
		delete(m, "status")
		// Zero structs the typed CSV always writes; they say nothing.
		if spec, ok := m["spec"].(map[string]any); ok {
			if a, ok := spec["apiservicedefinitions"].(map[string]any); ok && len(a) == 0 {
				delete(spec, "apiservicedefinitions")
			}
			if c, ok := spec["cleanup"].(map[string]any); ok && len(c) == 1 && c["enabled"] == false {
				delete(spec, "cleanup")
			}
		}
	}
	prune(m)
	return yaml.Marshal(m)
}

// prune drops every null creationTimestamp, wherever a typed ObjectMeta left one.
func prune(v any) {
	switch t := v.(type) {
	case map[string]any:
		if ts, ok := t["creationTimestamp"]; ok && ts == nil {
			delete(t, "creationTimestamp")
		}
		for _, c := range t {
			prune(c)
		}
	case []any:
		for _, c := range t {
			prune(c)
		}
	}
}

// Write replaces the bundle in root with files: bundle/ is removed first so
// no file of an older generation survives.
func Write(root string, files []File) error {
	if err := os.RemoveAll(filepath.Join(root, BundleDir)); err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Stale lists how the bundle in root differs from files: missing, changed
// and extra files. Empty when it is up to date.
func Stale(root string, files []File) ([]string, error) {
	var diffs []string
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		switch {
		case os.IsNotExist(err):
			diffs = append(diffs, "missing "+f.Path)
		case err != nil:
			return nil, err
		case !bytes.Equal(got, f.Data):
			diffs = append(diffs, "changed "+f.Path)
		}
	}
	err := filepath.WalkDir(filepath.Join(root, BundleDir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if !d.IsDir() && !want[rel] {
			diffs = append(diffs, "extra "+rel)
		}
		return nil
	})
	return diffs, err
}
