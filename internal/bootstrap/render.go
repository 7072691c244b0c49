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

package bootstrap

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// Role is what a machine becomes in its cluster.
type Role string

const (
	// RoleInitControlPlane runs kubeadm init: the first control-plane node.
	RoleInitControlPlane Role = "InitControlPlane"
	// RoleJoinControlPlane joins a control plane that another node initialised.
	RoleJoinControlPlane Role = "JoinControlPlane"
	// RoleJoinWorker joins as a worker node.
	RoleJoinWorker Role = "JoinWorker"
)

// ControlPlane says whether the role runs the control plane.
func (r Role) ControlPlane() bool { return r == RoleInitControlPlane || r == RoleJoinControlPlane }

// Joins says whether the role joins an existing cluster (kubeadm join)
// rather than creating it.
func (r Role) Joins() bool { return r == RoleJoinControlPlane || r == RoleJoinWorker }

func (r Role) valid() bool { return r.ControlPlane() || r == RoleJoinWorker }

// LabelSystemID is the node label carrying the MAAS system ID of the machine
// (api/v1alpha1.LabelSystemID); every node gets it.
const LabelSystemID = "infra.maasgateway.io/system-id"

// ProviderID returns the Node spec.providerID of the MAAS machine systemID.
func ProviderID(systemID string) string { return "maas://" + systemID }

// NodeConfig is everything the user data of one machine depends on.
type NodeConfig struct {
	Role Role
	// ClusterName is the name of the cluster (the Gateway or TenantCluster).
	ClusterName string
	// SystemID is the MAAS system ID of the machine.
	SystemID string
	// KubernetesVersion is the release kubeadm installs, e.g. v1.34.2 (v1.31 or later).
	KubernetesVersion string
	// ControlPlaneEndpoint is the VIP of the API server.
	ControlPlaneEndpoint string
	// Port is the API server port; 0 means 6443.
	Port int32
	// PodCIDR and ServiceCIDR are the cluster's pod and Service IP ranges.
	PodCIDR     string
	ServiceCIDR string
	// Proxy, when Enabled, is written for the OS, containerd and kubelet.
	Proxy Proxy
	// Token is the bootstrap token: joining nodes authenticate with it, and
	// the first control plane creates it in the new cluster.
	Token BootstrapToken
	// TokenTTL is how long the token the first control plane creates lasts;
	// 0 means DefaultTokenTTL. Only InitControlPlane uses it.
	TokenTTL time.Duration
	// CACertHashes pin the cluster CA for joining nodes (see CACertHash).
	// Joining roles need at least one.
	CACertHashes []string
	// PKI is the cluster's shared key material: required on the first
	// control plane, which creates the cluster, and refused on every
	// joining role. MAAS keeps user data (its admins and its database
	// backups read it), so only the one machine that cannot do without the
	// CA keys gets them.
	PKI *ClusterPKI
	// CertificateKey decrypts the cluster's kubeadm-certs Secret, where a
	// joining control plane fetches the shared keys (kubeadm join
	// --control-plane --certificate-key): required on JoinControlPlane. On
	// InitControlPlane it makes kubeadm init upload that Secret
	// (--upload-certs), so that control planes deployed beside the first
	// one can join before anyone else reached the new cluster. Refused on
	// workers.
	CertificateKey CertificateKey
	// AllowWorkloads leaves a control-plane node untainted, so ordinary
	// Pods schedule on it.
	AllowWorkloads bool
	// Labels are added to the node (e.g. its gateway or tenant cluster and
	// pool), beside LabelSystemID. Labels in the kubernetes.io and k8s.io
	// namespaces are refused unless a kubelet may set them on itself.
	Labels map[string]string
	// KubeVIPInterface is the network interface that holds the VIP on
	// control-plane nodes, e.g. eth0 (MAAS names the interfaces it deploys).
	KubeVIPInterface string
	// KubeVIPImage is the kube-vip image; empty means DefaultKubeVIPImage.
	KubeVIPImage string
	// Packages, when set, installs containerd, kubeadm, kubelet and kubectl
	// before kubeadm runs, for a stock Ubuntu image; nil means the image has
	// them.
	Packages *NodePackages
}

const defaultAPIServerPort = 6443

// The join waits for the API server at the VIP in two layers: kubeadm's own
// discovery retries for discoveryTimeout, and the join script runs kubeadm
// join up to joinAttempts times, joinPause apart. Together they give the first
// control plane about an hour to come up, then the machine gives up (and its
// Node never appears, which the controller sees and acts on).
const (
	discoveryTimeout = 10 * time.Minute
	joinAttempts     = 6
	joinPause        = 30 * time.Second
)

// Where the user data puts things on the node.
const (
	// IntentPath is the marker file Parse reads back.
	IntentPath       = "/etc/maas-gateway/node.yaml"
	kubeadmConfigDir = "/run/kubeadm"
	kubeadmConfig    = kubeadmConfigDir + "/kubeadm.yaml"
	joinScriptPath   = kubeadmConfigDir + "/kubeadm-join.sh"
	pkiDir           = "/etc/kubernetes/pki"
)

//go:embed kubeadm-join.sh
var joinScript string

var (
	interfaceNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	caCertHashRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	imageRE         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]*$`)
)

// node is a validated NodeConfig, with parsed and defaulted values.
type node struct {
	NodeConfig
	vip      netip.Addr
	port     int32
	endpoint string
	labels   map[string]string
	taints   []corev1.Taint
	// packages is nil when the image comes with the packages.
	packages *packagesPlan
}

func (cfg NodeConfig) validate() (*node, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	n := &node{NodeConfig: cfg}
	if !cfg.Role.valid() {
		bad("role %q is not one of %s, %s, %s", cfg.Role, RoleInitControlPlane, RoleJoinControlPlane, RoleJoinWorker)
	}
	if msgs := validateDNSSubdomain(cfg.ClusterName); msgs != "" {
		bad("clusterName %q: %s", cfg.ClusterName, msgs)
	}
	if msgs := validation.IsDNS1123Label(cfg.SystemID); msgs != nil {
		bad("systemID %q: %s", cfg.SystemID, strings.Join(msgs, "; "))
	}
	v, err := parseKubernetesVersion(cfg.KubernetesVersion)
	if err != nil {
		errs = append(errs, err)
	} else if !v.AtLeast(version.MustParseSemantic(kubeadmMinVersion)) {
		bad("kubernetes version %s is older than %s, the first whose kubeadm reads %s", cfg.KubernetesVersion, kubeadmMinVersion, kubeadmAPIVersion)
	}
	if cfg.Packages != nil {
		var perrs []error
		n.packages, perrs = validatePackages(cfg.Packages, v)
		errs = append(errs, perrs...)
	}

	if n.vip, err = parseVIP(cfg.ControlPlaneEndpoint); err != nil {
		errs = append(errs, err)
	}
	if n.port, err = apiServerPort(cfg.Port); err != nil {
		errs = append(errs, err)
	}
	n.endpoint = net.JoinHostPort(n.vip.String(), strconv.Itoa(int(n.port)))
	errs = append(errs, validateNetworks(n.vip, cfg.PodCIDR, cfg.ServiceCIDR)...)
	if err := validateProxy(cfg.Proxy); err != nil {
		errs = append(errs, err)
	}

	if cfg.Token.IsZero() {
		bad("token is required")
	}
	if cfg.Role.ControlPlane() {
		errs = append(errs, validateControlPlane(cfg)...)
	} else {
		if cfg.PKI != nil {
			bad("a worker must not receive the cluster PKI: it holds the CA keys")
		}
		if !cfg.CertificateKey.IsZero() {
			bad("a worker must not receive the certificate key: it decrypts the CA keys")
		}
	}
	if cfg.Role.Joins() {
		if len(cfg.CACertHashes) == 0 {
			bad("caCertHashes: a joining node needs at least one, to trust the API server it discovers")
		}
		for i, h := range cfg.CACertHashes {
			if !caCertHashRE.MatchString(h) {
				bad("caCertHashes[%d] %q must be sha256: and 64 lowercase hex digits", i, h)
			}
		}
	}
	if cfg.TokenTTL < 0 {
		bad("tokenTTL %s must not be negative", cfg.TokenTTL)
	}

	n.labels = map[string]string{LabelSystemID: cfg.SystemID}
	for _, k := range slices.Sorted(maps.Keys(cfg.Labels)) {
		v := cfg.Labels[k]
		if err := validateNodeLabel(k, v); err != nil {
			errs = append(errs, err)
			continue
		}
		if k == LabelSystemID && v != cfg.SystemID {
			bad("label %s=%q contradicts systemID %q", k, v, cfg.SystemID)
			continue
		}
		n.labels[k] = v
	}

	n.taints = []corev1.Taint{}
	if cfg.Role.ControlPlane() && !cfg.AllowWorkloads {
		n.taints = []corev1.Taint{controlPlaneTaint}
	}
	if n.TokenTTL == 0 {
		n.TokenTTL = DefaultTokenTTL
	}
	if n.KubeVIPImage == "" {
		n.KubeVIPImage = DefaultKubeVIPImage
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid node config: %w", err)
	}
	return n, nil
}

func validateControlPlane(cfg NodeConfig) []error {
	var errs []error
	switch {
	case cfg.Role == RoleJoinControlPlane:
		if cfg.PKI != nil {
			errs = append(errs, errors.New("a joining control plane must not receive the cluster PKI in its user data: it downloads the shared keys from the kubeadm-certs Secret with its certificate key"))
		}
		if cfg.CertificateKey.IsZero() {
			errs = append(errs, errors.New("certificateKey is required on a joining control plane: it decrypts the kubeadm-certs Secret"))
		}
	case cfg.PKI == nil:
		errs = append(errs, errors.New("pki is required on the first control plane"))
	default:
		if err := cfg.PKI.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("pki: %w", err))
		}
	}
	if !interfaceNameRE.MatchString(cfg.KubeVIPInterface) {
		errs = append(errs, fmt.Errorf("kubeVIPInterface %q must name the network interface that holds the VIP (1-15 letters, digits, '.', '_' or '-')", cfg.KubeVIPInterface))
	}
	if cfg.KubeVIPImage != "" && !imageRE.MatchString(cfg.KubeVIPImage) {
		errs = append(errs, fmt.Errorf("kubeVIPImage %q is not an image reference", cfg.KubeVIPImage))
	}
	return errs
}

func validateNetworks(vip netip.Addr, podCIDR, serviceCIDR string) []error {
	var errs []error
	var prefixes []netip.Prefix
	for _, c := range []struct{ field, value string }{{"podCIDR", podCIDR}, {"serviceCIDR", serviceCIDR}} {
		p, err := netip.ParsePrefix(c.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a CIDR, e.g. 192.168.0.0/16", c.field, c.value))
			continue
		}
		if vip.IsValid() && p.Contains(vip) {
			errs = append(errs, fmt.Errorf("%s %s contains the control-plane endpoint %s", c.field, p, vip))
		}
		prefixes = append(prefixes, p)
	}
	if len(prefixes) == 2 && prefixes[0].Overlaps(prefixes[1]) {
		errs = append(errs, fmt.Errorf("podCIDR %s and serviceCIDR %s overlap", prefixes[0], prefixes[1]))
	}
	return errs
}

// kubeletLabels are the labels in the kubernetes.io and k8s.io namespaces
// that a kubelet may set on its own Node, besides those under
// kubeletLabelNamespaces (the kubelet's and NodeRestriction's own lists).
var kubeletLabels = map[string]bool{
	"kubernetes.io/hostname":                   true,
	"kubernetes.io/arch":                       true,
	"kubernetes.io/os":                         true,
	"beta.kubernetes.io/arch":                  true,
	"beta.kubernetes.io/os":                    true,
	"beta.kubernetes.io/instance-type":         true,
	"node.kubernetes.io/instance-type":         true,
	"topology.kubernetes.io/region":            true,
	"topology.kubernetes.io/zone":              true,
	"failure-domain.beta.kubernetes.io/region": true,
	"failure-domain.beta.kubernetes.io/zone":   true,
}

var kubeletLabelNamespaces = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}

// validateNodeLabel checks a label the kubelet sets on its own Node with
// --node-labels: the kubelet refuses to start with one in the kubernetes.io
// or k8s.io namespaces that it may not set itself (node-role.kubernetes.io
// among them).
func validateNodeLabel(k, v string) error {
	if msgs := validation.IsQualifiedName(k); msgs != nil {
		return fmt.Errorf("label key %q: %s", k, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsValidLabelValue(v); msgs != nil {
		return fmt.Errorf("label %s value %q: %s", k, v, strings.Join(msgs, "; "))
	}
	prefix, _, ok := strings.Cut(k, "/")
	if !ok || kubeletLabels[k] {
		return nil
	}
	for _, ns := range kubeletLabelNamespaces {
		if prefix == ns || strings.HasSuffix(prefix, "."+ns) {
			return nil
		}
	}
	for _, ns := range []string{"kubernetes.io", "k8s.io"} {
		if prefix == ns || strings.HasSuffix(prefix, "."+ns) {
			return fmt.Errorf("label key %q is in a namespace the kubelet may not set on its own node", k)
		}
	}
	return nil
}

func validateDNSSubdomain(s string) string {
	if msgs := validation.IsDNS1123Subdomain(s); msgs != nil {
		return strings.Join(msgs, "; ")
	}
	return ""
}

// cloudConfig is the part of cloud-init's #cloud-config the user data uses.
type cloudConfig struct {
	WriteFiles []cloudFile `json:"write_files,omitempty"`
	// RunCmd entries are argument lists, which cloud-init runs without a
	// shell: no quoting to get wrong.
	RunCmd [][]string `json:"runcmd,omitempty"`
}

type cloudFile struct {
	Path        string `json:"path"`
	Owner       string `json:"owner,omitempty"`
	Permissions string `json:"permissions,omitempty"`
	Append      bool   `json:"append,omitempty"`
	Content     string `json:"content"`
}

const cloudConfigHeader = "#cloud-config"

// File modes: keys and the kubeadm configuration (it holds the token) are
// for root alone.
const (
	modePublic  = "0644"
	modeSecret  = "0600"
	modeProgram = "0700"
)

func file(path, mode, content string) cloudFile {
	return cloudFile{Path: path, Owner: "root:root", Permissions: mode, Content: content}
}

// Render returns the #cloud-config user data of the machine cfg describes.
// It validates cfg first; its errors name what is wrong without repeating a
// token, key or proxy URL.
func Render(cfg NodeConfig) ([]byte, error) {
	n, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	intent, err := marshalIntent(n.intent())
	if err != nil {
		return nil, err
	}
	cc := cloudConfig{WriteFiles: []cloudFile{file(IntentPath, modePublic, intent)}}

	if n.Proxy.Enabled() {
		vars := proxyVars(n.Proxy, noProxy(n.vip.String(), n.PodCIDR, n.ServiceCIDR, n.Proxy.NoProxy))
		mode := n.Proxy.fileMode()
		env := file(environmentPath, mode, environmentFile(vars))
		env.Append = true
		cc.WriteFiles = append(cc.WriteFiles, env,
			file(containerdProxyPath, mode, systemdDropIn(vars)),
			file(kubeletProxyPath, mode, systemdDropIn(vars)))
		// The installation restarts containerd itself, once it exists.
		if n.packages == nil {
			cc.RunCmd = append(cc.RunCmd,
				[]string{"systemctl", "daemon-reload"},
				[]string{"systemctl", "restart", "containerd"})
		}
	}
	if n.packages != nil {
		cc.WriteFiles = append(cc.WriteFiles, n.packages.files(n.Proxy)...)
	}

	var keep []string
	if n.Role.ControlPlane() {
		// Only the first control plane has the keys on disk before kubeadm
		// runs; the others download them (control-plane-prepare
		// download-certs).
		var pki []cloudFile
		kubeconfig := adminConfPath
		if n.Role == RoleInitControlPlane {
			pki = pkiFiles(n.PKI)
		}
		if n.Role == RoleInitControlPlane {
			kubeconfig = superAdminConfPath
		}
		manifest, err := yaml.Marshal(kubeVIPPod(n.KubeVIPImage, n.vip, n.port, n.KubeVIPInterface, kubeconfig))
		if err != nil {
			return nil, fmt.Errorf("encoding kube-vip manifest: %w", err)
		}
		cc.WriteFiles = append(cc.WriteFiles, pki...)
		cc.WriteFiles = append(cc.WriteFiles, file(kubeVIPManifestPath, modePublic, string(manifest)))
		for _, f := range pki {
			keep = append(keep, f.Path)
		}
		keep = append(keep, kubeVIPManifestPath)
	}

	kubeadmYAML, err := n.kubeadmConfig()
	if err != nil {
		return nil, err
	}
	cc.WriteFiles = append(cc.WriteFiles, file(kubeadmConfig, modeSecret, kubeadmYAML))
	var kubeadmCmd []string
	if n.Role.Joins() {
		cc.WriteFiles = append(cc.WriteFiles, file(joinScriptPath, modeProgram, joinScript))
		// Run through sh: /run is mounted noexec on some images.
		kubeadmCmd = append([]string{"sh", joinScriptPath, kubeadmConfig,
			strconv.Itoa(joinAttempts), strconv.Itoa(int(joinPause / time.Second))}, keep...)
	} else {
		kubeadmCmd = []string{"kubeadm", "init", "--config", kubeadmConfig}
		if !n.CertificateKey.IsZero() {
			// The phase runs only with the flag; the key comes from the
			// configuration.
			kubeadmCmd = append(kubeadmCmd, "--upload-certs")
		}
	}
	if n.packages != nil {
		kubeadmCmd = n.packages.command(kubeadmCmd)
	}
	cc.RunCmd = append(cc.RunCmd, kubeadmCmd)

	body, err := yaml.Marshal(cc)
	if err != nil {
		return nil, fmt.Errorf("encoding cloud-config: %w", err)
	}
	return append([]byte(cloudConfigHeader+"\n"), body...), nil
}

// pkiFiles are the shared certificates and keys, where kubeadm looks for them
// before generating its own.
func pkiFiles(p *ClusterPKI) []cloudFile {
	return []cloudFile{
		file(pkiDir+"/ca.crt", modePublic, string(p.CA.Cert)),
		file(pkiDir+"/ca.key", modeSecret, string(p.CA.Key)),
		file(pkiDir+"/etcd/ca.crt", modePublic, string(p.EtcdCA.Cert)),
		file(pkiDir+"/etcd/ca.key", modeSecret, string(p.EtcdCA.Key)),
		file(pkiDir+"/front-proxy-ca.crt", modePublic, string(p.FrontProxyCA.Cert)),
		file(pkiDir+"/front-proxy-ca.key", modeSecret, string(p.FrontProxyCA.Key)),
		file(pkiDir+"/sa.pub", modePublic, string(p.ServiceAccount.Cert)),
		file(pkiDir+"/sa.key", modeSecret, string(p.ServiceAccount.Key)),
	}
}

// kubeadmConfig returns the kubeadm documents of the node's role: Init and
// ClusterConfiguration for the first control plane, JoinConfiguration for
// the others.
func (n *node) kubeadmConfig() (string, error) {
	reg := nodeRegistrationOptions{
		CRISocket: containerdSocket,
		Taints:    n.taints,
		KubeletExtraArgs: []kubeadmArg{
			{Name: "node-labels", Value: joinLabels(n.labels)},
			{Name: "provider-id", Value: ProviderID(n.SystemID)},
		},
	}
	var localEndpoint *apiEndpoint
	if n.port != defaultAPIServerPort {
		localEndpoint = &apiEndpoint{BindPort: n.port}
	}

	var docs []any
	switch n.Role {
	case RoleInitControlPlane:
		// Only the ClusterConfiguration of kubeadm init carries it: joining
		// nodes read it back from the cluster's kubeadm-config ConfigMap.
		algorithm, err := n.PKI.kubeadmEncryptionAlgorithm()
		if err != nil {
			return "", err
		}
		docs = []any{
			initConfiguration{
				TypeMeta: kubeadmTypeMeta(kindInitConfiguration),
				BootstrapTokens: []kubeadmBootstrapToken{{
					Token:       n.Token.Value(),
					Description: tokenDescription,
					TTL:         duration(n.TokenTTL),
					Usages:      []string{"signing", "authentication"},
					Groups:      []string{NodeTokenGroup},
				}},
				NodeRegistration: reg,
				LocalAPIEndpoint: localEndpoint,
				CertificateKey:   n.CertificateKey.Hex(),
			},
			clusterConfiguration{
				TypeMeta:             kubeadmTypeMeta(kindClusterConfiguration),
				ClusterName:          n.ClusterName,
				KubernetesVersion:    n.KubernetesVersion,
				ControlPlaneEndpoint: n.endpoint,
				Networking:           networking{PodSubnet: n.PodCIDR, ServiceSubnet: n.ServiceCIDR},
				EncryptionAlgorithm:  algorithm,
			},
		}
	default:
		join := joinConfiguration{
			TypeMeta:         kubeadmTypeMeta(kindJoinConfiguration),
			NodeRegistration: reg,
			Discovery: discovery{BootstrapToken: &bootstrapTokenDiscovery{
				Token:             n.Token.Value(),
				APIServerEndpoint: n.endpoint,
				CACertHashes:      n.CACertHashes,
			}},
			Timeouts: &timeouts{Discovery: duration(discoveryTimeout)},
		}
		if n.Role == RoleJoinControlPlane {
			join.ControlPlane = &joinControlPlane{LocalAPIEndpoint: localEndpoint, CertificateKey: n.CertificateKey.Hex()}
		}
		docs = []any{join}
	}

	parts := make([]string, 0, len(docs))
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return "", fmt.Errorf("encoding kubeadm configuration: %w", err)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "---\n"), nil
}

// joinLabels formats labels as --node-labels takes them, sorted by key.
func joinLabels(labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		pairs = append(pairs, k+"="+labels[k])
	}
	return strings.Join(pairs, ",")
}

func (n *node) intent() *NodeIntent {
	return &NodeIntent{
		ClusterName:          n.ClusterName,
		Role:                 n.Role,
		ControlPlaneEndpoint: n.endpoint,
		ProviderID:           ProviderID(n.SystemID),
		SystemID:             n.SystemID,
		KubernetesVersion:    n.KubernetesVersion,
		Labels:               n.labels,
		Taints:               n.taints,
	}
}
