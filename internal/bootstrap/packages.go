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
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
)

// NodePackages makes the user data install containerd, kubeadm, kubelet and
// kubectl on a stock Ubuntu image, as the kubeadm install guide does, before
// kubeadm runs. Without it (a nil *NodePackages) the image must have them.
type NodePackages struct {
	// KubernetesRepository is the apt repository of kubeadm, kubelet and
	// kubectl, laid out as pkgs.k8s.io is (a flat repository: the URL, which
	// ends in "/", is followed by the suite "/"), e.g. a mirror of it. Empty
	// means the pkgs.k8s.io repository of the KubernetesVersion's minor
	// release, https://pkgs.k8s.io/core:/stable:/v1.34/deb/ for v1.34.2.
	// An http:// URL is accepted only with KubernetesRepositoryKey: apt then
	// checks what it downloads against that key, whereas a key fetched over
	// plain HTTP would vouch for nothing.
	KubernetesRepository string
	// KubernetesRepositoryKey is the repository's signing key, an ASCII-armoured
	// OpenPGP public key block (at most MaxRepositoryKeyBytes), written to
	// the node. Empty means the node fetches <KubernetesRepository>Release.key
	// over HTTPS at boot: the packages are then only as trustworthy as that
	// TLS connection (and any proxy that terminates it).
	KubernetesRepositoryKey string
	// ContainerdPackage is the Ubuntu package that provides containerd;
	// empty means DefaultContainerdPackage.
	ContainerdPackage string
}

// DefaultContainerdPackage is Ubuntu's own containerd package.
const DefaultContainerdPackage = "containerd"

// MaxRepositoryKeyBytes bounds KubernetesRepositoryKey: pkgs.k8s.io's key is
// under 2 KiB, and every byte of it is carried in the user data.
const MaxRepositoryKeyBytes = 32 << 10

// maxRepositoryURLBytes is far above any real repository URL; it keeps a
// runaway value out of the user data.
const maxRepositoryURLBytes = 1024

// Where the package installation puts things on the node.
const (
	installScriptPath = kubeadmConfigDir + "/install-packages.sh"
	aptSourcePath     = "/etc/apt/sources.list.d/kubernetes.list"
	// The .asc suffix tells apt the key is armoured, so no gpg --dearmor is
	// needed on the node.
	aptKeyringPath  = "/etc/apt/keyrings/kubernetes-apt-keyring.asc"
	aptProxyPath    = "/etc/apt/apt.conf.d/90maas-gateway-proxy"
	modulesLoadPath = "/etc/modules-load.d/k8s.conf"
	sysctlPath      = "/etc/sysctl.d/k8s.conf"
)

// defaultRepoPattern is pkgs.k8s.io's repository of one minor release, as
// the kubeadm install guide names it.
const defaultRepoPattern = "https://pkgs.k8s.io/core:/stable:/v%d.%d/deb/"

// The kernel modules and sysctls kubeadm's preflight checks and pod
// networking need, loaded now and at every boot.
const (
	kubernetesModules = "overlay\nbr_netfilter\n"
	kubernetesSysctls = "net.bridge.bridge-nf-call-iptables = 1\n" +
		"net.bridge.bridge-nf-call-ip6tables = 1\n" +
		"net.ipv4.ip_forward = 1\n"
)

//go:embed install-packages.sh
var installScript string

var (
	// repositoryURLRE admits what a repository URL needs and nothing a
	// sources.list line or a shell could read as syntax: no spaces, quotes,
	// brackets, '$', '#' or '?'.
	repositoryURLRE = regexp.MustCompile(`^https?://[A-Za-z0-9._~:/%+-]+/$`)
	// debianPackageRE is Debian policy's package name (§5.6.1).
	debianPackageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]{1,99}$`)
	armorHeaderRE   = regexp.MustCompile(`^[A-Za-z0-9-]+: [ -~]*$`)
)

const (
	armorBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	armorEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
	// publicKeyPacketTag is the OpenPGP packet a public key block starts with.
	publicKeyPacketTag = 6
)

// packagesPlan is a validated NodePackages, with defaults applied.
type packagesPlan struct {
	repository        string
	key               string
	containerdPackage string
	// packageVersion is the upstream part of the Debian version of the
	// Kubernetes packages, e.g. 1.34.2.
	packageVersion string
}

// Validate checks p as Render does for a node of kubernetesVersion (such
// as v1.34.2), so that admission refuses what no node could be rendered
// with; the errors name the fields under packages.
func (p *NodePackages) Validate(kubernetesVersion string) error {
	v, err := version.ParseSemantic(kubernetesVersion)
	if err != nil {
		v = nil
	}
	_, errs := validatePackages(p, v)
	return errors.Join(errs...)
}

// validatePackages checks p for the release v; its errors name the field,
// and repeat neither the URL nor the key.
func validatePackages(p *NodePackages, v *version.Version) (*packagesPlan, []error) {
	var errs []error
	bad := func(field string, err error) { errs = append(errs, fmt.Errorf("packages.%s: %w", field, err)) }
	plan := &packagesPlan{repository: p.KubernetesRepository, key: p.KubernetesRepositoryKey, containerdPackage: p.ContainerdPackage}

	if v != nil {
		// pkgs.k8s.io carries pre-releases in other repositories, under
		// other Debian versions (1.35.0~rc.1): not what this installs.
		if v.PreRelease() != "" || v.BuildMetadata() != "" {
			errs = append(errs, errors.New("kubernetesVersion: packages are installed only for a release such as v1.34.2, not a pre-release or build"))
		}
		plan.packageVersion = fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch())
		if plan.repository == "" {
			plan.repository = fmt.Sprintf(defaultRepoPattern, v.Major(), v.Minor())
		}
	}
	if p.KubernetesRepository != "" {
		if err := validateRepositoryURL(p.KubernetesRepository, p.KubernetesRepositoryKey != ""); err != nil {
			bad("kubernetesRepository", err)
		}
	}
	if p.KubernetesRepositoryKey != "" {
		if err := validateArmoredPublicKey(p.KubernetesRepositoryKey); err != nil {
			bad("kubernetesRepositoryKey", err)
		}
		if !strings.HasSuffix(plan.key, "\n") {
			plan.key += "\n"
		}
	}
	if plan.containerdPackage == "" {
		plan.containerdPackage = DefaultContainerdPackage
	} else if !debianPackageRE.MatchString(plan.containerdPackage) {
		bad("containerdPackage", fmt.Errorf("%q must be an Ubuntu package name (lowercase letters, digits, '+', '-' and '.')", truncate(plan.containerdPackage, 100)))
	}
	return plan, errs
}

// validateRepositoryURL checks a repository URL; it may be read as a shell
// argument and sits in a sources.list line, so only a narrow set of
// characters passes.
func validateRepositoryURL(s string, keyGiven bool) error {
	if len(s) > maxRepositoryURLBytes {
		return fmt.Errorf("longer than %d bytes", maxRepositoryURLBytes)
	}
	if !repositoryURLRE.MatchString(s) {
		return errors.New("must be an http:// or https:// URL ending in /, of letters, digits and . _ ~ : / % + - only (no credentials, query, spaces or quotes)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be a URL with a host")
	}
	if u.Scheme == "http" && !keyGiven {
		return errors.New("an http:// repository needs kubernetesRepositoryKey: a key fetched over plain HTTP proves nothing")
	}
	return nil
}

// validateArmoredPublicKey checks that s is one ASCII-armoured OpenPGP public
// key block (RFC 9580 §6.2) whose first packet is a public key, with a
// correct checksum if it has one. It does not parse the key itself: apt does
// that, and refuses a key it cannot use when it checks the repository.
func validateArmoredPublicKey(s string) error {
	if len(s) > MaxRepositoryKeyBytes {
		return fmt.Errorf("longer than %d bytes", MaxRepositoryKeyBytes)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && (r < 0x20 || r > 0x7e) }) {
		return errors.New("must be printable ASCII lines (an armoured key, as gpg --armor --export writes it)")
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	if len(lines) < 4 || lines[0] != armorBegin || lines[len(lines)-1] != armorEnd {
		return fmt.Errorf("must be one block from %q to %q", armorBegin, armorEnd)
	}
	body := lines[1 : len(lines)-1]
	for len(body) > 0 && body[0] != "" {
		if !armorHeaderRE.MatchString(body[0]) {
			return errors.New("armour header lines must look like \"Comment: text\" and end with an empty line")
		}
		body = body[1:]
	}
	if len(body) < 2 {
		return errors.New("no key data after the armour headers")
	}
	body = body[1:]
	var checksum string
	if last := body[len(body)-1]; strings.HasPrefix(last, "=") && len(last) == 5 {
		checksum, body = last[1:], body[:len(body)-1]
	}
	data, err := base64.StdEncoding.Strict().DecodeString(strings.Join(body, ""))
	if err != nil || len(data) == 0 {
		return errors.New("the key data is not base64")
	}
	if checksum != "" {
		sum, err := base64.StdEncoding.Strict().DecodeString(checksum)
		if err != nil || len(sum) != 3 || uint32(sum[0])<<16|uint32(sum[1])<<8|uint32(sum[2]) != crc24(data) {
			return errors.New("the armour checksum does not match: the key was cut or altered")
		}
	}
	if tag, ok := packetTag(data[0]); !ok || tag != publicKeyPacketTag {
		return errors.New("the block does not start with a public key packet")
	}
	return nil
}

// packetTag reads the tag of an OpenPGP packet from its first byte, in the
// new or the legacy format (RFC 9580 §4.2).
func packetTag(b byte) (int, bool) {
	switch {
	case b&0x80 == 0:
		return 0, false
	case b&0x40 != 0:
		return int(b & 0x3f), true
	default:
		return int(b>>2) & 0x0f, true
	}
}

// crc24 is the armour checksum of RFC 9580 §6.1.1.
func crc24(data []byte) uint32 {
	const init, poly = 0xB704CE, 0x1864CFB
	crc := uint32(init)
	for _, b := range data {
		crc ^= uint32(b) << 16
		for range 8 {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= poly
			}
		}
	}
	return crc & 0xFFFFFF
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// files are what the installation needs written before it runs: the apt
// source and its key, apt's proxy, the module and sysctl settings, and the
// script.
func (p *packagesPlan) files(proxy Proxy) []cloudFile {
	files := []cloudFile{
		file(aptSourcePath, modePublic, fmt.Sprintf("deb [signed-by=%s] %s /\n", aptKeyringPath, p.repository)),
	}
	if p.key != "" {
		files = append(files, file(aptKeyringPath, modePublic, p.key))
	}
	if proxy.Enabled() {
		files = append(files, file(aptProxyPath, proxy.fileMode(), aptProxyConf(proxy)))
	}
	return append(files,
		file(modulesLoadPath, modePublic, kubernetesModules),
		file(sysctlPath, modePublic, kubernetesSysctls),
		file(installScriptPath, modeProgram, installScript))
}

// command wraps then, the kubeadm command, so that it runs only once the
// installation succeeded: cloud-init runs every runcmd entry whatever the
// one before returned.
func (p *packagesPlan) command(then []string) []string {
	keyURL := ""
	if p.key == "" {
		keyURL = p.repository + "Release.key"
	}
	// Run through sh: /run is mounted noexec on some images.
	cmd := []string{"sh", installScriptPath, p.packageVersion, p.containerdPackage, keyURL, "--"}
	return append(cmd, then...)
}

// aptProxyConf keeps apt on the proxy after the first boot too (apt's timers
// do not read /etc/environment). apt.conf has no equivalent of NO_PROXY's
// domains and CIDRs, so only the first boot, whose script reads
// /etc/environment, honours those. The proxy URLs were checked free of quotes
// and backslashes, so they cannot end apt's quoted strings.
func aptProxyConf(p Proxy) string {
	var b strings.Builder
	if p.HTTPProxy != "" {
		fmt.Fprintf(&b, "Acquire::http::Proxy \"%s\";\n", p.HTTPProxy)
	}
	if p.HTTPSProxy != "" {
		fmt.Fprintf(&b, "Acquire::https::Proxy \"%s\";\n", p.HTTPSProxy)
	}
	return b.String()
}
