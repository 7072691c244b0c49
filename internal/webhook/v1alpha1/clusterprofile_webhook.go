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

package v1alpha1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/packs"
)

// SetupClusterProfileWebhookWithManager registers the ClusterProfile
// webhook. Its deletion guard reads the indexes of dependents.SetupIndexes,
// which must be set up on the same manager.
func SetupClusterProfileWebhookWithManager(mgr ctrl.Manager, _ Options) error {
	return ctrl.NewWebhookManagedBy(mgr, &infrav1alpha1.ClusterProfile{}).
		WithValidator(&ClusterProfileValidator{readers: newReaders(mgr)}).
		Complete()
}

// +kubebuilder:webhook:path=/validate-infra-maasgateway-io-v1alpha1-clusterprofile,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=clusterprofiles,verbs=create;update;delete,versions=v1alpha1,name=vclusterprofile-v1alpha1.kb.io,admissionReviewVersions=v1

// ClusterProfileValidator checks what the schema cannot (chart versions,
// values and manifests as YAML) and refuses deleting a profile that
// TenantClusters are built from.
type ClusterProfileValidator struct {
	readers
}

// ValidateCreate implements admission.Validator.
func (v *ClusterProfileValidator) ValidateCreate(_ context.Context, p *infrav1alpha1.ClusterProfile) (admission.Warnings, error) {
	return nil, invalid("ClusterProfile", p.Name, validateProfile(specPath, &p.Spec))
}

// ValidateUpdate implements admission.Validator.
func (v *ClusterProfileValidator) ValidateUpdate(_ context.Context, _, p *infrav1alpha1.ClusterProfile) (admission.Warnings, error) {
	return nil, invalid("ClusterProfile", p.Name, validateProfile(specPath, &p.Spec))
}

// ValidateDelete implements admission.Validator: the deletion guard.
func (v *ClusterProfileValidator) ValidateDelete(ctx context.Context, p *infrav1alpha1.ClusterProfile) (admission.Warnings, error) {
	deps, err := v.finder().OfClusterProfile(ctx, client.ObjectKeyFromObject(p))
	if err != nil {
		return nil, unavailable("finding the TenantClusters built from this ClusterProfile", err)
	}
	if len(deps) > 0 {
		return nil, inUse(fmt.Sprintf("ClusterProfile %s/%s", p.Namespace, p.Name), deps,
			"point them at another profile or delete them first, then retry")
	}
	return nil, nil
}

// maxPackValueBytes bounds one pack's manifests, as the schema bounds their
// text.
const maxPackValueBytes = 256 << 10

// validateProfile checks a profile's packs: one network plugin at most,
// exact chart versions, values that are a YAML mapping and manifests that
// are Kubernetes objects.
func validateProfile(path *field.Path, spec *infrav1alpha1.ClusterProfileSpec) field.ErrorList {
	var errs field.ErrorList
	var cni []string
	seen := map[string]bool{}
	for i := range spec.Packs {
		pack := &spec.Packs[i]
		pp := path.Child("packs").Index(i)
		if seen[pack.Name] {
			errs = append(errs, field.Duplicate(pp.Child("name"), pack.Name))
		}
		seen[pack.Name] = true
		if pack.Layer == infrav1alpha1.PackLayerCNI {
			cni = append(cni, pack.Name)
		}
		switch {
		case pack.Chart != nil && pack.Manifests != "":
			errs = append(errs, field.Invalid(pp, pack.Name, "a pack has exactly one of chart and manifests"))
		case pack.Chart != nil:
			if _, err := semver.StrictNewVersion(strings.TrimPrefix(pack.Chart.Version, "v")); err != nil {
				errs = append(errs, field.Invalid(pp.Child("chart", "version"), pack.Chart.Version,
					"must be an exact semantic version, such as 1.16.3: "+err.Error()))
			}
		case pack.Manifests != "":
			if err := checkManifests(pack.Manifests); err != nil {
				errs = append(errs, field.Invalid(pp.Child("manifests"), "(manifests)", err.Error()))
			}
		default:
			errs = append(errs, field.Required(pp.Child("chart"), "a pack has a chart or manifests"))
		}
		if err := checkValues(pack.Values); err != nil {
			errs = append(errs, field.Invalid(pp.Child("values"), "(values)", err.Error()))
		}
	}
	if np := spec.NodePackages; np != nil {
		bp := bootstrap.NodePackages{KubernetesRepository: np.KubernetesRepository,
			KubernetesRepositoryKey: np.KubernetesRepositoryKey, ContainerdPackage: np.ContainerdPackage}
		if err := bp.Validate(spec.KubernetesVersion); err != nil {
			errs = append(errs, field.Invalid(path.Child("nodePackages"), "(node packages)", err.Error()))
		}
	}
	if len(cni) > 1 {
		errs = append(errs, field.Invalid(path.Child("packs"), strings.Join(cni, ", "),
			"a profile has one cni pack at most: a cluster runs one network plugin"))
	}
	return errs
}

// checkValues accepts empty values or a YAML mapping, read as the installer
// reads them (its size and depth bounds included).
func checkValues(values string) error {
	if _, err := packs.MergeValues(values, ""); err != nil {
		return fmt.Errorf("not a YAML mapping the installer accepts: %v", err)
	}
	return nil
}

// checkManifests accepts YAML documents that are each a Kubernetes object
// with an apiVersion, a kind and a name; empty documents are skipped.
func checkManifests(manifests string) error {
	if len(manifests) > maxPackValueBytes {
		return fmt.Errorf("longer than %d bytes", maxPackValueBytes)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifests)), 4096)
	objects := 0
	for doc := 1; ; doc++ {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("document %d: %v", doc, err)
		}
		if obj == nil {
			continue
		}
		u := unstructured.Unstructured{Object: obj}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return fmt.Errorf("document %d: a Kubernetes object needs apiVersion, kind and metadata.name", doc)
		}
		objects++
	}
	if objects == 0 {
		return errors.New("no Kubernetes object")
	}
	return nil
}
