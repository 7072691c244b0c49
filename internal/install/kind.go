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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// Bootstrapper makes the bootstrap cluster for the installer, and removes
// it once the gateway runs in its own cluster.
type Bootstrapper interface {
	// Ensure creates the cluster, or finds the one an earlier run made
	// (a re-run resumes in it), and returns how to reach it, with a word
	// on what it did. Progress lines go to out.
	Ensure(ctx context.Context, out io.Writer) (*rest.Config, string, error)
	// Delete removes the cluster and says what it removed.
	Delete(ctx context.Context) (string, error)
	// Describe names the cluster, for the message of a kept one.
	Describe() string
}

// DefaultKindName is the kind cluster the installer makes when no name is
// given.
const DefaultKindName = "maas-gateway-bootstrap"

// KindAPI is what KindBootstrap needs of kind; KindLibrary is kind's own,
// tests pass a fake (creating a cluster needs a container engine).
type KindAPI interface {
	// Clusters lists the kind clusters that have nodes.
	Clusters() ([]string, error)
	// Create creates cluster name from node image (empty: kind's default)
	// and a kind Cluster config file (empty: one control-plane node),
	// waiting up to wait for its nodes to be Ready, and writes its
	// kubeconfig to the file kubeconfig (never the user's ~/.kube/config).
	Create(name, image, configFile, kubeconfig string, wait time.Duration) error
	// Kubeconfig is the cluster's kubeconfig, as reached from this host.
	Kubeconfig(name string) (string, error)
	// LoadImages loads images from the local container engine into every
	// node of the cluster, skipping those a node holds already, and says
	// which it loaded.
	LoadImages(ctx context.Context, name string, images []string) ([]string, error)
	// Delete deletes the cluster's nodes, and its entry from the file
	// kubeconfig.
	Delete(name, kubeconfig string) error
}

// KindBootstrap is a Bootstrapper of a local kind cluster, made with the
// kind library go.mod pins (sigs.k8s.io/kind), so no kind CLI is needed:
// only Docker (or Podman), found on PATH as kind finds it.
type KindBootstrap struct {
	// Name of the kind cluster; default DefaultKindName.
	Name string
	// NodeImage is the node image; empty means kind's default for its
	// version (pulled from registry.k8s.io).
	NodeImage string
	// ConfigFile is a kind Cluster config (v1alpha4); empty means one
	// control-plane node with kind's default network plugin.
	ConfigFile string
	// Images are loaded from the local engine into every node: an
	// operator image that no registry serves.
	Images []string
	// Kubeconfig is where the cluster's kubeconfig is written (mode
	// 0600); removed with the cluster. Required.
	Kubeconfig string
	// Wait bounds the nodes turning Ready at creation; default 5 minutes.
	Wait time.Duration
	// API is kind; nil means KindLibrary.
	API KindAPI
}

func (k *KindBootstrap) name() string {
	if k.Name == "" {
		return DefaultKindName
	}
	return k.Name
}

func (k *KindBootstrap) api() KindAPI {
	if k.API == nil {
		return KindLibrary{}
	}
	return k.API
}

func (k *KindBootstrap) exists() (bool, error) {
	clusters, err := k.api().Clusters()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w", err)
	}
	return slices.Contains(clusters, k.name()), nil
}

// Ensure creates the kind cluster unless it exists, writes its kubeconfig
// and loads the images.
func (k *KindBootstrap) Ensure(ctx context.Context, out io.Writer) (*rest.Config, string, error) {
	if k.Kubeconfig == "" {
		return nil, "", errors.New("kind bootstrap: no kubeconfig path")
	}
	if out == nil {
		out = io.Discard
	}
	name := k.name()
	found, err := k.exists()
	if err != nil {
		return nil, "", err
	}
	var did []string
	if found {
		did = append(did, fmt.Sprintf("kind cluster %s exists (an earlier run's): re-used", name))
	} else {
		wait := k.Wait
		if wait <= 0 {
			wait = 5 * time.Minute
		}
		image := k.NodeImage
		if image == "" {
			image = "kind's default node image"
		}
		_, _ = fmt.Fprintf(out, "creating kind cluster %s from %s\n", name, image)
		start := time.Now()
		if err := k.api().Create(name, k.NodeImage, k.ConfigFile, k.Kubeconfig, wait); err != nil {
			return nil, "", fmt.Errorf("creating kind cluster %s: %w", name, err)
		}
		did = append(did, fmt.Sprintf("kind cluster %s created from %s in %s", name, image, round(time.Since(start))))
	}
	kc, err := k.api().Kubeconfig(name)
	if err != nil {
		return nil, "", fmt.Errorf("kind cluster %s: kubeconfig: %w", name, err)
	}
	if err := writeFileAtomic(k.Kubeconfig, []byte(kc)); err != nil {
		return nil, "", err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, "", fmt.Errorf("kind cluster %s: kubeconfig: %w", name, err)
	}
	if len(k.Images) > 0 {
		loaded, err := k.api().LoadImages(ctx, name, k.Images)
		if err != nil {
			return nil, "", fmt.Errorf("loading images into kind cluster %s: %w", name, err)
		}
		if len(loaded) > 0 {
			did = append(did, "loaded "+strings.Join(loaded, ", "))
		} else {
			did = append(did, "its nodes hold "+strings.Join(k.Images, ", ")+" already")
		}
	}
	did = append(did, "kubeconfig "+k.Kubeconfig)
	return cfg, strings.Join(did, "; "), nil
}

// Delete deletes the kind cluster and the kubeconfig Ensure wrote.
func (k *KindBootstrap) Delete(_ context.Context) (string, error) {
	name := k.name()
	found, err := k.exists()
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("kind cluster %s was gone already", name)
	if found {
		if err := k.api().Delete(name, k.Kubeconfig); err != nil {
			return "", fmt.Errorf("deleting kind cluster %s: %w", name, err)
		}
		msg = fmt.Sprintf("kind cluster %s deleted", name)
	}
	if k.Kubeconfig != "" {
		if err := os.Remove(k.Kubeconfig); err == nil {
			msg += ", with its kubeconfig " + k.Kubeconfig
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s, but its kubeconfig stays: %w", msg, err)
		}
	}
	return msg, nil
}

// Describe names the cluster and how to delete it by hand.
func (k *KindBootstrap) Describe() string {
	return fmt.Sprintf("kind cluster %s (KUBECONFIG=%s; delete it with `kind delete cluster --name %s`)",
		k.name(), k.Kubeconfig, k.name())
}

// KindLibrary is KindAPI through kind's Go library, with the container
// engine kind detects (Docker unless KIND_EXPERIMENTAL_PROVIDER says).
type KindLibrary struct{}

func (KindLibrary) provider() *cluster.Provider { return cluster.NewProvider() }

// Clusters lists kind's clusters.
func (l KindLibrary) Clusters() ([]string, error) { return l.provider().List() }

// Create creates the cluster as `kind create cluster` would.
func (l KindLibrary) Create(name, image, configFile, kubeconfig string, wait time.Duration) error {
	opts := []cluster.CreateOption{
		cluster.CreateWithWaitForReady(wait),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
		cluster.CreateWithKubeconfigPath(kubeconfig),
	}
	if image != "" {
		opts = append(opts, cluster.CreateWithNodeImage(image))
	}
	if configFile != "" {
		opts = append(opts, cluster.CreateWithConfigFile(configFile))
	}
	return l.provider().Create(name, opts...)
}

// Kubeconfig is the cluster's external kubeconfig.
func (l KindLibrary) Kubeconfig(name string) (string, error) {
	return l.provider().KubeConfig(name, false)
}

// Delete deletes the cluster's nodes and its entry in kubeconfig.
func (l KindLibrary) Delete(name, kubeconfig string) error {
	return l.provider().Delete(name, kubeconfig)
}

// LoadImages does what `kind load docker-image` does: `docker save` piped
// into each node's containerd (`ctr images import`), for the images a node
// does not hold under the local engine's image ID.
func (l KindLibrary) LoadImages(ctx context.Context, name string, images []string) ([]string, error) {
	nodes, err := l.provider().ListInternalNodes(name)
	if err != nil {
		return nil, err
	}
	var loaded []string
	for _, image := range images {
		id, err := output(ctx, "docker", "image", "inspect", "-f", "{{.Id}}", image)
		if err != nil {
			return loaded, fmt.Errorf("image %s is not in the local Docker engine: %w", image, err)
		}
		for _, n := range nodes {
			if have, err := nodeutils.ImageID(n, image); err == nil && have == id {
				continue
			}
			cmd := exec.CommandContext(ctx, "docker", "save", image)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			archive, err := cmd.StdoutPipe()
			if err != nil {
				return loaded, err
			}
			if err := cmd.Start(); err != nil {
				return loaded, fmt.Errorf("docker save %s: %w", image, err)
			}
			loadErr := nodeutils.LoadImageArchive(n, archive)
			// The node stopped reading: let docker save end rather than
			// block on a full pipe.
			_, _ = io.Copy(io.Discard, archive)
			if err := cmd.Wait(); err != nil {
				return loaded, fmt.Errorf("docker save %s: %w: %s", image, err, strings.TrimSpace(stderr.String()))
			}
			if loadErr != nil {
				return loaded, fmt.Errorf("loading %s into node %s: %w", image, n, loadErr)
			}
			loaded = append(loaded, fmt.Sprintf("%s into %s", image, n))
		}
	}
	return loaded, nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// writeFileAtomic writes data readable by its owner only, beside the file
// and renamed, so an interrupted run never leaves half a file.
func writeFileAtomic(path string, data []byte) error {
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
