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

package controlplane

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// Where the user data puts what this package reads, as kubeadm finds it on
// a machine (internal/bootstrap writes them there).
const (
	pkiDir        = "/etc/kubernetes/pki"
	kubeadmConfig = "/run/kubeadm/kubeadm.yaml"
)

// userData is what cloud-init and kubeadm make of a machine's user data:
// the node intent, the kubeadm configuration and, on control-plane roles,
// the cluster's shared PKI.
type userData struct {
	intent *bootstrap.NodeIntent
	// pki is the shared key material the user data writes: on the first
	// control plane only. A joining control plane downloads it (see
	// downloadCerts); workers never hold a CA key.
	pki *bootstrap.ClusterPKI
	// certificateKey is the hex key of kubeadm's certificate upload: the
	// one kubeadm init encrypts the kubeadm-certs Secret with (when
	// uploadCerts), or the one kubeadm join --control-plane decrypts it with.
	certificateKey string
	// uploadCerts is kubeadm init's --upload-certs.
	uploadCerts bool
	// token is the bootstrap token: the one kubeadm init creates, or the one
	// kubeadm join authenticates its discovery with.
	token string
	// tokenTTL is how long the token kubeadm init creates lasts (0: for ever).
	tokenTTL time.Duration
	// caCertHashes pin the cluster CA on joining machines.
	caCertHashes []string
	// serviceSubnet and podSubnet come from the ClusterConfiguration, which
	// only kubeadm init reads (joining machines read it from the cluster).
	serviceSubnet, podSubnet string
	// clusterConfiguration is that document as written, which kubeadm init
	// uploads to the kubeadm-config ConfigMap.
	clusterConfiguration string
}

// parseUserData reads a deployed machine's user data as cloud-init and
// kubeadm would. Its errors name files and fields, never their contents
// (keys, token).
func parseUserData(raw []byte) (*userData, error) {
	intent, err := bootstrap.Parse(raw)
	if err != nil {
		return nil, err
	}
	var cc struct {
		WriteFiles []struct {
			Path    string `json:"path"`
			Content string `json:"content"`
		} `json:"write_files"`
		RunCmd [][]string `json:"runcmd"`
	}
	// bootstrap.Parse accepted it, so it is a cloud-config, base64 or not.
	doc, err := cloudConfig(raw)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(doc, &cc); err != nil {
		return nil, fmt.Errorf("parsing cloud-config: %w", err)
	}
	files := map[string]string{}
	for _, f := range cc.WriteFiles {
		files[f.Path] = f.Content
	}
	ud := &userData{intent: intent}
	kc, ok := files[kubeadmConfig]
	if !ok {
		return nil, fmt.Errorf("user data writes no %s", kubeadmConfig)
	}
	if err := ud.readKubeadm(kc); err != nil {
		return nil, fmt.Errorf("%s: %w", kubeadmConfig, err)
	}
	for _, cmd := range cc.RunCmd {
		// kubeadm init runs last, or behind the installation script's "--".
		if i := slices.Index(cmd, "kubeadm"); i >= 0 && len(cmd) > i+1 && cmd[i+1] == "init" {
			ud.uploadCerts = slices.Contains(cmd[i+2:], "--upload-certs")
		}
	}
	switch {
	case intent.Role == bootstrap.RoleInitControlPlane:
		if ud.pki, err = readPKI(files); err != nil {
			return nil, err
		}
		if ud.uploadCerts && ud.certificateKey == "" {
			return nil, errors.New("kubeadm init --upload-certs without certificateKey: kubeadm would make a key nobody knows")
		}
	case intent.Role == bootstrap.RoleJoinControlPlane && hasPKI(files):
		// kubeadm uses keys it finds on disk, as it did before the
		// operator sent certificate keys instead.
		if ud.pki, err = readPKI(files); err != nil {
			return nil, err
		}
	case intent.Role == bootstrap.RoleJoinControlPlane && ud.certificateKey == "":
		return nil, fmt.Errorf("a joining control plane with neither the cluster's keys under %s nor controlPlane.certificateKey to download them with", pkiDir)
	}
	return ud, nil
}

// cloudConfig returns user data as a #cloud-config document, decoding
// base64 as MAAS's deploy API may carry it.
func cloudConfig(raw []byte) ([]byte, error) {
	if strings.HasPrefix(string(raw), "#cloud-config") {
		return raw, nil
	}
	return decodeBase64(raw)
}

// kubeadmDoc holds the fields of kubeadm's v1beta4 Init, Cluster and Join
// configurations that the emulated machines act on.
type kubeadmDoc struct {
	Kind            string `json:"kind"`
	BootstrapTokens []struct {
		Token string           `json:"token"`
		TTL   *metav1.Duration `json:"ttl"`
	} `json:"bootstrapTokens"`
	Networking struct {
		ServiceSubnet string `json:"serviceSubnet"`
		PodSubnet     string `json:"podSubnet"`
	} `json:"networking"`
	// CertificateKey of an InitConfiguration.
	CertificateKey string `json:"certificateKey"`
	// ControlPlane of a JoinConfiguration.
	ControlPlane *struct {
		CertificateKey string `json:"certificateKey"`
	} `json:"controlPlane"`
	Discovery struct {
		BootstrapToken *struct {
			Token             string   `json:"token"`
			APIServerEndpoint string   `json:"apiServerEndpoint"`
			CACertHashes      []string `json:"caCertHashes"`
		} `json:"bootstrapToken"`
	} `json:"discovery"`
}

func (ud *userData) readKubeadm(content string) error {
	for part := range strings.SplitSeq(content, "\n---\n") {
		var d kubeadmDoc
		if err := yaml.Unmarshal([]byte(part), &d); err != nil {
			return fmt.Errorf("parsing a document: %w", err)
		}
		switch d.Kind {
		case "InitConfiguration":
			ud.certificateKey = d.CertificateKey
			if len(d.BootstrapTokens) > 0 {
				ud.token = d.BootstrapTokens[0].Token
				if ttl := d.BootstrapTokens[0].TTL; ttl != nil {
					ud.tokenTTL = ttl.Duration
				}
			}
		case "ClusterConfiguration":
			ud.serviceSubnet, ud.podSubnet = d.Networking.ServiceSubnet, d.Networking.PodSubnet
			ud.clusterConfiguration = part
		case "JoinConfiguration":
			if bt := d.Discovery.BootstrapToken; bt != nil {
				ud.token, ud.caCertHashes = bt.Token, bt.CACertHashes
			}
			if cp := d.ControlPlane; cp != nil {
				ud.certificateKey = cp.CertificateKey
			}
		}
	}
	if ud.token == "" {
		return errors.New("no bootstrap token")
	}
	if ud.intent.Role == bootstrap.RoleInitControlPlane {
		for _, s := range []struct{ name, v string }{{"serviceSubnet", ud.serviceSubnet}, {"podSubnet", ud.podSubnet}} {
			if _, err := netip.ParsePrefix(s.v); err != nil {
				return fmt.Errorf("networking.%s %q is not a CIDR", s.name, s.v)
			}
		}
	}
	if ud.intent.Joins() && len(ud.caCertHashes) == 0 {
		return errors.New("a join without caCertHashes")
	}
	return nil
}

// hasPKI says whether the user data writes any of the shared keys.
func hasPKI(files map[string]string) bool {
	for _, name := range []string{"ca.key", "etcd/ca.key", "front-proxy-ca.key", "sa.key"} {
		if _, ok := files[pkiDir+"/"+name]; ok {
			return true
		}
	}
	return false
}

// readPKI reads the cluster's shared key material where kubeadm looks for
// it before generating its own.
func readPKI(files map[string]string) (*bootstrap.ClusterPKI, error) {
	pair := func(crt, key string) (bootstrap.KeyPair, error) {
		c, k := files[pkiDir+"/"+crt], files[pkiDir+"/"+key]
		if c == "" || k == "" {
			return bootstrap.KeyPair{}, fmt.Errorf("user data writes no %s/%s or %s", pkiDir, crt, key)
		}
		return bootstrap.KeyPair{Cert: []byte(c), Key: []byte(k)}, nil
	}
	var p bootstrap.ClusterPKI
	var err error
	for _, f := range []struct {
		crt, key string
		into     *bootstrap.KeyPair
	}{
		{"ca.crt", "ca.key", &p.CA},
		{"etcd/ca.crt", "etcd/ca.key", &p.EtcdCA},
		{"front-proxy-ca.crt", "front-proxy-ca.key", &p.FrontProxyCA},
		{"sa.pub", "sa.key", &p.ServiceAccount},
	} {
		if *f.into, err = pair(f.crt, f.key); err != nil {
			return nil, err
		}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("cluster PKI in user data: %w", err)
	}
	return &p, nil
}

func decodeBase64(raw []byte) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, errors.New("user data is neither a #cloud-config document nor base64")
	}
	return b, nil
}
