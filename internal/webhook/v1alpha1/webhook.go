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

// Package v1alpha1 holds the admission webhooks of the infra.maasgateway.io
// kinds: defaulting, the checks that need other objects (Secrets, the
// CloudAccount behind a TenantCluster, the one Gateway), and the deletion
// guards that keep a Gateway or CloudAccount while TenantClusters use it.
// What the CRD schema can say (enums, formats, CEL rules) it says; the checks
// here may repeat a schema rule only to give a clearer message.
package v1alpha1

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// The webhooks read the kinds they check and the credentials Secrets.
// +kubebuilder:rbac:groups=infra.maasgateway.io,resources=gateways;cloudaccounts;tenantclusters;clusterprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Options tune admission to where the operator runs.
type Options struct {
	// AllowLoopbackEndpoints accepts control-plane endpoints in 127.0.0.0/8
	// or ::1, with a warning. Only a test world whose emulated machines all
	// live on one host (internal/joinemu) has a use for it; on a data-centre
	// network a loopback VIP is always a mistake, so it is refused by default.
	AllowLoopbackEndpoints bool
	// Machines is the shared MAAS inventory, whose machines' addresses a
	// new TenantCluster's VIP may not be; nil skips that check (with a
	// warning).
	Machines MachineSnapshots
}

// specPath is where every message about a spec field starts.
var specPath = field.NewPath("spec")

// maxNamed is how many dependent TenantClusters a refusal names before it
// only counts the rest.
const maxNamed = 5

// readers are the two ways a webhook reads other objects.
type readers struct {
	// cache is the manager's cached client: cheap, indexed, and behind the
	// API server by the milliseconds an informer takes to see a change.
	cache client.Reader
	// live reads the API server itself.
	live client.Reader
}

func newReaders(mgr ctrl.Manager) readers {
	return readers{cache: mgr.GetClient(), live: mgr.GetAPIReader()}
}

func (r readers) finder() dependents.Finder {
	return dependents.Finder{Cache: r.cache, Live: r.live}
}

// get reads through the cache and asks the API server only when the cache
// has not seen the object: `kubectl apply -f` of a CloudAccount and a
// TenantCluster in one file creates them milliseconds apart, and the second
// must not be refused for a reference the informer has yet to deliver.
func (r readers) get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := r.cache.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.live.Get(ctx, key, obj)
	}
	return err
}

// unavailable turns a failed lookup into a 503, so clients retry rather than
// take the refusal as a verdict on the object.
func unavailable(what string, err error) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("%s: %v", what, err))
}

func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(infrav1alpha1.GroupVersion.WithKind(kind).GroupKind(), name, errs)
}

// inUse is the refusal of the deletion guards and of changes that would
// strand dependent clusters.
func inUse(what string, deps []dependents.Dependent, action string) error {
	noun := "TenantClusters depend"
	if len(deps) == 1 {
		noun = "TenantCluster depends"
	}
	return fmt.Errorf("%s is in use: %d %s on it: %s; %s",
		what, len(deps), noun, dependents.Summary(deps, maxNamed), action)
}

// checkCredentials checks that a credentials Secret in namespace, once it
// exists, holds a MAAS API key under its key; a missing one is a warning. The Secret is read from the API server:
// secrets are not worth an informer over the whole cluster for a check that
// runs when a reference changes, and the Secret is usually created just
// before the object that names it. No message carries the key's value.
func (r readers) checkCredentials(ctx context.Context, path *field.Path, namespace string,
	ref infrav1alpha1.SecretKeyReference) (field.ErrorList, admission.Warnings, error) {
	key := ref.Key
	if key == "" {
		key = infrav1alpha1.DefaultAPIKeyKey
	}
	var secret corev1.Secret
	err := r.live.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		// Applied in any order (kubectl apply -f dir/, GitOps, a Secret
		// an operator of Secrets creates later): the controller waits for
		// it with condition SecretNotFound.
		return nil, admission.Warnings{fmt.Sprintf(
			"%s: Secret %s/%s does not exist yet; nothing reaches MAAS until it does: "+
				"kubectl create secret generic %s -n %s --from-literal=%s=<MAAS API key>",
			path.Child("name"), namespace, ref.Name, ref.Name, namespace, key)}, nil
	case err != nil:
		return nil, nil, unavailable(fmt.Sprintf("reading Secret %s/%s", namespace, ref.Name), err)
	}
	value, ok := secret.Data[key]
	if !ok {
		keys := make([]string, 0, len(secret.Data))
		for k := range secret.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return field.ErrorList{field.Invalid(path.Child("key"), key, fmt.Sprintf(
			"Secret %s/%s has no key %q (its keys: %s)", namespace, ref.Name, key, strings.Join(keys, ", ")))}, nil, nil
	}
	if _, err := maas.ParseAPIKey(string(value)); err != nil {
		// ParseAPIKey's errors name the faulty part, never its content.
		return field.ErrorList{field.Invalid(path.Child("key"), key, fmt.Sprintf(
			"key %q of Secret %s/%s does not hold a MAAS API key (consumer_key:token_key:token_secret, as the MAAS UI shows it): %v",
			key, namespace, ref.Name, err))}, nil, nil
	}
	return nil, nil, nil
}

// checkMAASConnection checks what a MAAS connection says by itself: an
// http:// endpoint beyond loopback is opted into, the CA bundle parses, and
// is not set where it cannot be used.
func checkMAASConnection(path *field.Path, c infrav1alpha1.MAASConnection) (field.ErrorList, admission.Warnings) {
	errs, warns := checkPlainHTTP(path, c)
	if c.CABundle == "" {
		return errs, warns
	}
	if err := checkCABundle(c.CABundle); err != nil {
		return append(errs, field.Invalid(path.Child("caBundle"), "(PEM data)", err.Error())), warns
	}
	if strings.HasPrefix(strings.ToLower(c.Endpoint), "http://") {
		warns = append(warns, fmt.Sprintf("%s is ignored: the endpoint is plain http://", path.Child("caBundle")))
	}
	return errs, warns
}

// checkPlainHTTP refuses an http:// endpoint beyond loopback unless
// insecureAllowHTTP says the risk is accepted, and warns of every http://
// endpoint it lets through: MAAS's OAuth PLAINTEXT puts the API key itself
// in each request. The CRD's rule refuses the same when the webhook is
// bypassed; here the message is a user's.
func checkPlainHTTP(path *field.Path, c infrav1alpha1.MAASConnection) (field.ErrorList, admission.Warnings) {
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Endpoint)), "http://") {
		return nil, nil
	}
	host, addr, ok := hostOf(strings.TrimSpace(c.Endpoint))
	if !ok {
		return nil, nil // the endpoint's own checks say what is wrong
	}
	if host == "localhost" || (addr.IsValid() && addr.IsLoopback()) {
		return nil, admission.Warnings{fmt.Sprintf("%s is plain http:// on loopback: the MAAS API key is sent in cleartext, "+
			"though it does not leave this host", path.Child("endpoint"))}
	}
	if !c.InsecureAllowHTTP {
		return field.ErrorList{field.Forbidden(path.Child("endpoint"), fmt.Sprintf(
			"http:// sends the MAAS API key in cleartext to %s with every request (OAuth PLAINTEXT); "+
				"use https:// (MAAS 3.2 and later serve it, see caBundle for a private CA), "+
				"or set %s: true to accept that risk", host, path.Child("insecureAllowHTTP")))}, nil
	}
	return nil, admission.Warnings{fmt.Sprintf("%s is plain http:// and %s is set: the MAAS API key crosses the network "+
		"to %s in cleartext, readable by anyone on the path; use https:// where MAAS offers it",
		path.Child("endpoint"), path.Child("insecureAllowHTTP"), host)}
}

// checkCABundle accepts one or more PEM certificates and nothing else.
func checkCABundle(bundle string) error {
	rest := []byte(bundle)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM block of type %q; only CERTIFICATE blocks belong in a CA bundle", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %w", n+1, err)
		}
		n++
	}
	if strings.TrimSpace(string(rest)) != "" {
		if n == 0 {
			return errors.New("is not PEM: expected -----BEGIN CERTIFICATE----- blocks")
		}
		return fmt.Errorf("has data after certificate %d that is not a PEM certificate", n)
	}
	if n == 0 {
		return errors.New("holds no certificate")
	}
	return nil
}

// checkProxy warns about proxy settings that are legal but will hurt: the
// MAAS endpoint reached through the proxy, credentials stored in plain text,
// noProxy entries the proxy clients will skip.
func checkProxy(path *field.Path, p infrav1alpha1.ProxySettings, maasEndpoint string) admission.Warnings {
	var warns admission.Warnings
	if p.HTTPProxy == "" && p.HTTPSProxy == "" {
		return nil
	}
	for _, f := range []struct {
		name, value string
	}{{"httpProxy", p.HTTPProxy}, {"httpsProxy", p.HTTPSProxy}} {
		if hasUserinfo(f.value) {
			warns = append(warns, fmt.Sprintf("%s embeds credentials: every reader of this object sees them; "+
				"put them in a Secret named by %s instead", path.Child(f.name), path.Child("credentialsSecretRef")))
		}
	}
	if host, _, ok := hostOf(maasEndpoint); ok && !noProxyCovers(p.NoProxy, host) {
		warns = append(warns, fmt.Sprintf("%s does not include the MAAS endpoint host %s: nodes would reach MAAS "+
			"through the proxy; add %s to %s", path.Child("noProxy"), host, host, path.Child("noProxy")))
	}
	if bad := invalidNoProxyEntries(p.NoProxy); len(bad) > 0 {
		warns = append(warns, fmt.Sprintf("%s entries %s are not valid CIDRs and will be ignored",
			path.Child("noProxy"), strings.Join(bad, ", ")))
	}
	return warns
}

// identityPath is where refusals about the identity annotation point.
var identityPath = field.NewPath("metadata", "annotations").Key(infrav1alpha1.AnnotationIdentityUID)

// uidPattern is the form of metadata.uid (an RFC 4122 UUID), which an
// identity stands for.
var uidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validateIdentity checks the identity annotation of obj, created (old nil)
// or updated from old. On create it is accepted in UID form: maas-gateway
// move creates the copies of the objects it moves with the identity of the
// originals. That cannot take over another object's machines: MAAS marks
// name the kind, namespace and name too, and the API server holds one live
// object under a name, so a create with an identity can only adopt what an
// object that no longer exists left. Once an object exists its identity is
// what its machines are marked with: setting, changing or removing it
// would disown them, so an update may not touch it.
func validateIdentity(old, obj metav1.Object) field.ErrorList {
	id, set := obj.GetAnnotations()[infrav1alpha1.AnnotationIdentityUID]
	if old == nil {
		if set && !uidPattern.MatchString(id) {
			return field.ErrorList{field.Invalid(identityPath, id, "must be a UID (the metadata.uid of the object this one was moved from)")}
		}
		return nil
	}
	oldID, wasSet := old.GetAnnotations()[infrav1alpha1.AnnotationIdentityUID]
	switch {
	case !wasSet && set:
		return field.ErrorList{field.Forbidden(identityPath,
			"may only be set when the object is created (maas-gateway move does): it would change the identity its MAAS machines are marked with")}
	case wasSet && (!set || id != oldID):
		return field.ErrorList{field.Forbidden(identityPath,
			"is immutable: the object's MAAS machines are marked with it")}
	}
	return nil
}
