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

package pcg

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	webhookv1alpha1 "github.com/maas-gateway/maas-gateway/internal/webhook/v1alpha1"
)

// Secret names are the Gateway's name and these suffixes.
const (
	maasSecretSuffix  = "-maas-credentials"
	proxySecretSuffix = "-proxy-credentials"
)

// Keys of the proxy credentials Secret, as the operator reads them.
const (
	proxyUsernameKey = "username"
	proxyPasswordKey = "password"
)

// maxNameLength keeps the name usable as a label value: the operator labels
// the gateway's Nodes and its default CloudAccount with it.
const maxNameLength = validation.LabelValueMaxLength

// partOf labels what the installer creates.
func partOf() map[string]string {
	return map[string]string{"app.kubernetes.io/part-of": "maas-gateway"}
}

// Options tune the checks to where the gateway is installed.
type Options struct {
	// AllowLoopbackEndpoints accepts a loopback controlPlaneEndpoint, as the
	// manager's --allow-loopback-endpoints does: for a test world whose
	// machines all live on one host, never for a data centre.
	AllowLoopbackEndpoints bool
}

// Installation is what a pcg.yaml asks for: the Gateway and the Secrets it
// names, as they are to be created (defaults applied), and the warnings
// the cluster would give on creating them.
type Installation struct {
	Gateway *infrav1.Gateway
	// Secrets: the MAAS API key, then the proxy credentials if any.
	Secrets  []*corev1.Secret
	Warnings []string
}

// Load parses a pcg.yaml and checks it; see Parse and Build.
func Load(data []byte, opts Options) (*Installation, error) {
	p, err := Parse(data)
	if p == nil {
		return nil, err
	}
	return p.Build(opts)
}

// builder collects what is wrong while a Config is turned into objects.
type builder struct {
	p     *Parsed
	errs  Errors
	warns []string
}

func (b *builder) fail(path, format string, args ...any) {
	if b.p.unread(path) {
		return
	}
	b.errs = append(b.errs, &FieldError{Field: path, Line: b.p.lineOf(path), Detail: fmt.Sprintf(format, args...)})
}

// Build turns the file into the Gateway and its Secrets and checks them as
// the cluster will: the file's own rules (what a Gateway never holds), then
// the Gateway CRD's defaults, schema and CEL rules, the webhook's
// defaulting, and the webhook's checks of the spec and of the API key. The
// error is an Errors naming pcg.yaml fields.
func (p *Parsed) Build(opts Options) (*Installation, error) {
	b := &builder{p: p}
	cfg := p.Config
	b.checkIdentity(cfg)
	b.checkMAAS(cfg.MAAS)
	if cfg.Release != nil && cfg.Release.Version == "" {
		b.fail("release.version", "is required with a release: a version of the release catalog, e.g. 1.0.0 "+
			"(or leave release out for the catalog's default)")
	}
	if cfg.ControlPlaneEndpoint == "" {
		b.fail("controlPlaneEndpoint", "is required: the virtual IP the gateway's API server answers on, "+
			"a free address of the machines' network outside MAAS's dynamic range, e.g. 10.11.12.100")
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	maasSecret := newSecret(ns, cfg.Name+maasSecretSuffix, map[string]string{infrav1.DefaultAPIKeyKey: string(cfg.MAAS.APIKey)})
	proxy, proxySecret := b.proxy(ns, cfg.Name, cfg.Environment)

	gw := &infrav1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: infrav1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: cfg.Name, Namespace: ns, Labels: partOf()},
		Spec: infrav1.GatewaySpec{
			Replicas: cfg.Replicas,
			MAAS: infrav1.MAASConnection{
				Endpoint:             cfg.MAAS.Endpoint,
				CredentialsSecretRef: infrav1.SecretKeyReference{Name: maasSecret.Name, Key: infrav1.DefaultAPIKeyKey},
				CABundle:             cfg.MAAS.CABundle,
				InsecureAllowHTTP:    cfg.MAAS.InsecureAllowHTTP,
			},
			Placement: cfg.Placement,
			Environment: infrav1.Environment{
				ProxySettings:  proxy,
				ClusterNetwork: infrav1.ClusterNetwork{PodCIDR: cfg.Environment.PodCIDR, ServiceCIDR: cfg.Environment.ServiceCIDR},
			},
			ControlPlaneEndpoint: cfg.ControlPlaneEndpoint,
			VIPInterface:         cfg.VIPInterface,
			Release:              cfg.Release,
		},
	}
	if err := b.checkGateway(gw, opts); err != nil {
		return nil, err
	}
	inst := &Installation{Gateway: gw, Secrets: []*corev1.Secret{maasSecret}, Warnings: b.warns}
	if proxySecret != nil {
		inst.Secrets = append(inst.Secrets, proxySecret)
	}
	inst.Warnings = p.secret.strings(inst.Warnings)
	if errs := append(slices.Clone(p.errs), b.errs...); len(errs) > 0 {
		return nil, p.secret.errors(errs.sorted())
	}
	return inst, nil
}

func (b *builder) checkIdentity(cfg *Config) {
	switch {
	case cfg.APIVersion == "":
		b.fail("apiVersion", "is required: apiVersion: %s", APIVersion)
	case cfg.APIVersion != APIVersion:
		b.fail("apiVersion", "is %q; this maas-gateway reads %s", cfg.APIVersion, APIVersion)
	}
	switch {
	case cfg.Kind == "":
		b.fail("kind", "is required: kind: %s", Kind)
	case cfg.Kind != Kind:
		b.fail("kind", "is %q; a pcg.yaml is kind: %s", cfg.Kind, Kind)
	}
	if cfg.Name == "" {
		b.fail("name", "is required: the name of the Gateway, e.g. gateway")
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(cfg.Name) {
			b.fail("name", "%q: %s", cfg.Name, msg)
		}
		if len(cfg.Name) > maxNameLength {
			b.fail("name", "is %d characters; at most %d, since the operator labels the gateway's Nodes with it",
				len(cfg.Name), maxNameLength)
		}
	}
	if cfg.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(cfg.Namespace) {
			b.fail("namespace", "%q: %s", cfg.Namespace, msg)
		}
	}
}

// checkMAAS checks what the Gateway does not hold: the key itself. It is
// the rule the webhook applies to the key in the credentials Secret.
func (b *builder) checkMAAS(m MAAS) {
	if m.Endpoint == "" {
		b.fail("maas.endpoint", "is required: the MAAS API URL, as the MAAS CLI takes it, e.g. https://maas.example.com:5443/MAAS")
	} else if u, err := url.Parse(m.Endpoint); err == nil && u.User != nil {
		b.fail("maas.endpoint", "carries a user name or password; MAAS authenticates with maas.apiKey alone, remove them from the URL")
	}
	if m.APIKey == "" {
		b.fail("maas.apiKey", "is required: the MAAS API key (consumer_key:token_key:token_secret), "+
			"from the MAAS UI's user preferences, API keys")
		return
	}
	if _, err := maas.ParseAPIKey(string(m.APIKey)); err != nil {
		// ParseAPIKey names the faulty part, never its content.
		b.fail("maas.apiKey", "is not a MAAS API key (consumer_key:token_key:token_secret, as the MAAS UI shows it): %v", err)
	}
}

// proxy returns the Gateway's proxy settings with no credentials in their
// URLs, and the Secret that holds the credentials, if any. The operator
// adds that Secret's username and password to both URLs where it uses them.
func (b *builder) proxy(ns, name string, env Environment) (infrav1.ProxySettings, *corev1.Secret) {
	out := infrav1.ProxySettings{HTTPProxy: env.HTTPProxy, HTTPSProxy: env.HTTPSProxy, NoProxy: env.NoProxy}
	type found struct {
		path       string
		user, pass string
	}
	var inURLs []found
	for _, f := range []struct {
		path string
		url  *string
	}{{"environment.httpProxy", &out.HTTPProxy}, {"environment.httpsProxy", &out.HTTPSProxy}} {
		if *f.url == "" {
			continue
		}
		b.p.secret.addUserinfo(*f.url)
		u, err := url.Parse(*f.url)
		if err != nil || u.Host == "" {
			// Not shown: the text may hold a password. The schema's own
			// message on this field, which would show it, gives way to this.
			b.fail(f.path, "is not a URL; write it as http://proxy.example.com:3128 "+
				"(a username and password, if any, as http://USERNAME:PASSWORD@proxy.example.com:3128, or in environment.proxyCredentials)")
			continue
		}
		if u.User == nil {
			continue
		}
		pass, _ := u.User.Password()
		inURLs = append(inURLs, found{path: f.path, user: u.User.Username(), pass: pass})
		u.User = nil
		*f.url = u.String()
	}

	var user, pass string
	switch c := env.ProxyCredentials; {
	case c != nil && len(inURLs) > 0:
		b.fail("environment.proxyCredentials", "is given and %s carries credentials too; give them in one place", inURLs[0].path)
		return out, nil
	case c != nil:
		if c.Username == "" {
			b.fail("environment.proxyCredentials.username", "is required: the proxy rejects a password without a user name")
		}
		user, pass = c.Username, string(c.Password)
	case len(inURLs) == 2 && (inURLs[0].user != inURLs[1].user || inURLs[0].pass != inURLs[1].pass):
		b.fail(inURLs[1].path, "carries other credentials than %s; the gateway uses one proxy username and password for both", inURLs[0].path)
		return out, nil
	case len(inURLs) > 0:
		if inURLs[0].user == "" {
			b.fail(inURLs[0].path, "has a password but no user name")
		}
		user, pass = inURLs[0].user, inURLs[0].pass
		if len(inURLs) == 1 && out.HTTPProxy != "" && out.HTTPSProxy != "" {
			other := "environment.httpsProxy"
			if inURLs[0].path == other {
				other = "environment.httpProxy"
			}
			b.warns = append(b.warns, fmt.Sprintf("%s carries no credentials but %s does: the gateway sends the same "+
				"username and password to both proxies", other, inURLs[0].path))
		}
	default:
		return out, nil
	}
	if env.HTTPProxy == "" && env.HTTPSProxy == "" {
		b.fail("environment.proxyCredentials", "is given without environment.httpProxy and environment.httpsProxy")
		return out, nil
	}
	s := newSecret(ns, name+proxySecretSuffix, map[string]string{proxyUsernameKey: user, proxyPasswordKey: pass})
	out.CredentialsSecretRef = &infrav1.LocalObjectReference{Name: s.Name}
	return out, s
}

// addUserinfo records what lies between a URL's scheme and its host as
// secret, whether or not the URL parses.
func (r *redactor) addUserinfo(raw string) {
	rest := raw
	if _, after, ok := strings.Cut(raw, "://"); ok {
		rest = after
	}
	i := strings.LastIndex(rest, "@")
	if i <= 0 {
		return
	}
	info := rest[:i]
	r.addValue(info)
	if _, pass, ok := strings.Cut(info, ":"); ok {
		r.addValue(pass)
		if dec, err := url.PathUnescape(pass); err == nil {
			r.addValue(dec)
		}
	}
}

func newSecret(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: partOf()},
		Type:       corev1.SecretTypeOpaque,
		StringData: data,
	}
}

// checkGateway defaults gw and checks it in the API server's order: schema
// defaults at decoding, the mutating webhook, then the schema with its CEL
// rules and the validating webhook. Both are reported together (the API
// server would stop at the schema), so one run names every field to fix.
// A schema error on a field the file's own rules or the webhook already
// refused is dropped: their message says the same in an operator's words.
func (b *builder) checkGateway(gw *infrav1.Gateway, opts Options) error {
	s, err := gatewaySchema()
	if err != nil {
		return fmt.Errorf("loading the Gateway CRD built into this binary: %w", err)
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gw)
	if err != nil {
		return err
	}
	s.defaults(obj)
	*gw = infrav1.Gateway{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, gw); err != nil {
		return err
	}
	if err := (&webhookv1alpha1.GatewayDefaulter{}).Default(context.Background(), gw); err != nil {
		return err
	}
	if obj, err = runtime.DefaultUnstructuredConverter.ToUnstructured(gw); err != nil {
		return err
	}
	b.keysIn(obj, "")
	schemaErrs := s.validate(context.Background(), obj)
	hookErrs, warns := webhookv1alpha1.ValidateGatewaySpec(nil, &gw.Spec, gw.Name,
		webhookv1alpha1.Options{AllowLoopbackEndpoints: opts.AllowLoopbackEndpoints})
	b.warns = append(b.warns, warns...)

	refused := map[string]bool{}
	for _, e := range b.errs {
		refused[e.Field] = true
	}
	for _, e := range hookErrs {
		fe := b.p.fromField(e, "")
		refused[fe.Field] = true
		if !b.p.unread(fe.Field) {
			b.errs = append(b.errs, fe)
		}
	}
	for _, e := range schemaErrs {
		fe := b.p.fromField(e, "spec.")
		if !refused[fe.Field] && !b.p.unread(fe.Field) {
			b.errs = append(b.errs, fe)
		}
	}
	return nil
}

// keysIn refuses any value of the Gateway that looks like a MAAS API key:
// the Gateway is no Secret (every reader of it sees it, and render prints
// it), and a key pasted into the wrong field would otherwise end up there.
func (b *builder) keysIn(v any, path string) {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			b.keysIn(val, p)
		}
	case []any:
		for i, val := range v {
			b.keysIn(val, fmt.Sprintf("%s[%d]", path, i))
		}
	case string:
		if apiKeyShape.MatchString(v) {
			b.fail(pcgPath(path, "spec."), "holds what looks like a MAAS API key; the key belongs in maas.apiKey alone, "+
				"which goes into a Secret")
		}
	}
}

// fromField names a Gateway field error by the pcg.yaml field it comes from.
// prefix is what the Gateway's path has that the file's does not.
func (p *Parsed) fromField(e *field.Error, prefix string) *FieldError {
	path := pcgPath(e.Field, prefix)
	detail := e.ErrorBody()
	if path == "" && e.BadValue == nil {
		detail = e.Detail
	}
	return &FieldError{Field: path, Line: p.lineOf(path), Detail: detail}
}

// pcgPath is the pcg.yaml field a Gateway's field comes from.
func pcgPath(path, prefix string) string {
	switch {
	case path == strings.TrimSuffix(prefix, "."), path == "<nil>":
		return ""
	case path == "metadata.name", path == "metadata.namespace":
		return strings.TrimPrefix(path, "metadata.")
	}
	path = strings.TrimPrefix(path, prefix)
	// The Secrets' names are made from the Gateway's.
	if strings.HasPrefix(path, "maas.credentialsSecretRef") || strings.HasPrefix(path, "environment.credentialsSecretRef") {
		return "name"
	}
	return path
}
