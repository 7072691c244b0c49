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

package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/install"
)

// kindAPI is how install reaches kind; nil means kind's library (tests
// put a fake here: creating a cluster needs Docker).
var kindAPI install.KindAPI

// kindNameRE is what kind accepts as a cluster name (it becomes container
// and host names).
var kindNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// kindOnlyFlags apply to the kind cluster install makes, not to a cluster
// given with --bootstrap-kubeconfig.
var kindOnlyFlags = []string{
	"bootstrap-name", "bootstrap-image", "bootstrap-config", "keep-bootstrap", "operator-image",
}

func newInstallCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f fileFlag
	var bootstrapKubeconfig, kubeconfigOut, valuesFile string
	var cni networkPluginFlags
	var kindName, kindImage, kindConfig, operatorImage string
	var keepBootstrap bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "install -f pcg.yaml --kubeconfig-out F [--bootstrap-kubeconfig K]",
		Short: "Install a gateway from a pcg.yaml through a bootstrap cluster, then move it into itself",
		Long: `install creates the gateway a pcg.yaml describes, from nothing but MAAS machines:

  1. bootstrap cluster        without --bootstrap-kubeconfig: a local kind cluster
                              (--bootstrap-name), made with the kind library built
                              into this binary through Docker, or the one an earlier
                              run made; --operator-image is loaded into it.
                              With --bootstrap-kubeconfig: that cluster, as it is
  2. operator there           the chart embedded in this binary, with --outside-gateway
  3. Gateway and Secrets      from pcg.yaml, with spec.initialize: the operator
                              generates the cluster's PKI and deploys the first node
                              with kubeadm init
  4. admin access             a client certificate signed by the new cluster's CA;
                              its kubeconfig written to --kubeconfig-out (mode 0600)
  5. network plugin           --network-plugin-manifests (a CNI's YAML) or
                              --network-plugin-chart (oci://), released with Helm as
                              kube-system/gateway-network-plugin; without either, the
                              first Node turns Ready once one is installed by other means
  6. first node Ready
  7. operator in the new cluster
  8. move                     as maas-gateway move, bootstrap → new cluster
  9. all nodes Ready          the operator, now inside, joins the others
 10. bootstrap cleanup       the kind cluster deleted (kept with --keep-bootstrap);
                              a --bootstrap-kubeconfig cluster is never deleted

Each step checks first whether its result already holds: after a failure or an
interrupt, run the same command again and it resumes (in the same kind cluster,
which a failed run keeps). Only step 10 deletes anything, and only after the
Gateway runs in the new cluster. The kind cluster's kubeconfig is written beside
--kubeconfig-out as <bootstrap-name>.kubeconfig.
--values takes chart values; --operator-image REPOSITORY:TAG sets the manager's
image (image.repository, image.tag, pullPolicy IfNotPresent) in both clusters,
loaded from the local Docker engine into the kind cluster. The installer sets
webhook.certManager.enabled=false, gateway.create=false and, in the bootstrap
cluster, --outside-gateway.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if kubeconfigOut == "" {
				_, _ = fmt.Fprintf(stderr, "maas-gateway install: [--kubeconfig-out] required: where the new cluster's "+
					"admin kubeconfig is written\n")
				return exitError{exitUsage}
			}
			if bootstrapKubeconfig != "" {
				var kindOnly []string
				for _, name := range kindOnlyFlags {
					if c.Flags().Changed(name) {
						kindOnly = append(kindOnly, "--"+name)
					}
				}
				if len(kindOnly) > 0 {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: %v apply to the kind cluster install makes without "+
						"--bootstrap-kubeconfig; the cluster of --bootstrap-kubeconfig is used as it is and never deleted "+
						"(set the manager's image there with --values)\n", kindOnly)
					return exitError{exitUsage}
				}
				if same(bootstrapKubeconfig, kubeconfigOut) {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: --kubeconfig-out is --bootstrap-kubeconfig (%s): "+
						"writing the new cluster's kubeconfig there would lose the bootstrap cluster's\n", kubeconfigOut)
					return exitError{exitUsage}
				}
			}
			var kind *install.KindBootstrap
			if bootstrapKubeconfig == "" {
				if !kindNameRE.MatchString(kindName) {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: --bootstrap-name %q is not a kind cluster name "+
						"(lower-case letters, digits, '-' and '.')\n", kindName)
					return exitError{exitUsage}
				}
				kind = &install.KindBootstrap{Name: kindName, NodeImage: kindImage, ConfigFile: kindConfig, API: kindAPI,
					Kubeconfig: filepath.Join(filepath.Dir(kubeconfigOut), kindName+".kubeconfig")}
				if same(kind.Kubeconfig, kubeconfigOut) {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: --kubeconfig-out %s is where the kind cluster %s's "+
						"kubeconfig goes; name it otherwise\n", kubeconfigOut, kindName)
					return exitError{exitUsage}
				}
				if operatorImage != "" {
					kind.Images = []string{operatorImage}
				}
			}
			var repo, tag string
			if operatorImage != "" {
				var ok bool
				if repo, tag, ok = splitImage(operatorImage); !ok {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: --operator-image %q: write it as REPOSITORY:TAG, "+
						"e.g. maas-gateway/manager:v0.1.0\n", operatorImage)
					return exitError{exitUsage}
				}
			}
			_, inst, err := load(f.path, stdin, stderr)
			if err != nil {
				return err
			}
			var values map[string]any
			if valuesFile != "" {
				data, err := os.ReadFile(valuesFile)
				if err != nil {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: cannot read --values %s: %v\n", valuesFile, unwrapPath(err))
					return exitError{exitUnreadable}
				}
				if err := yaml.Unmarshal(data, &values); err != nil {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: --values %s is not YAML: %v\n", valuesFile, err)
					return exitError{exitInvalid}
				}
			}
			plugin, err := cni.plugin(stderr)
			if err != nil {
				return err
			}
			if repo != "" {
				if values == nil {
					values = map[string]any{}
				}
				img, _ := values["image"].(map[string]any)
				if img == nil {
					img = map[string]any{}
				}
				img["repository"], img["tag"], img["pullPolicy"] = repo, tag, "IfNotPresent"
				values["image"] = img
			}
			opts := install.Options{Installation: inst, KubeconfigOut: kubeconfigOut,
				Operator: install.HelmInstaller{Values: values}, NetworkPlugin: plugin, Out: stdout, Timeout: timeout}
			if kind != nil {
				if kindConfig != "" {
					if _, err := os.Stat(kindConfig); err != nil {
						_, _ = fmt.Fprintf(stderr, "maas-gateway install: cannot read --bootstrap-config %s: %v\n",
							kindConfig, unwrapPath(err))
						return exitError{exitUnreadable}
					}
				}
				opts.Bootstrapper, opts.KeepBootstrap = kind, keepBootstrap
			} else {
				if _, err := os.Stat(bootstrapKubeconfig); err != nil {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: cannot read --bootstrap-kubeconfig %s: %v\n",
						bootstrapKubeconfig, unwrapPath(err))
					return exitError{exitUnreadable}
				}
				cfg, err := clientcmd.BuildConfigFromFlags("", bootstrapKubeconfig)
				if err != nil {
					_, _ = fmt.Fprintf(stderr, "maas-gateway install: cannot read --bootstrap-kubeconfig %s: %v\n",
						bootstrapKubeconfig, err)
					return exitError{exitUnreadable}
				}
				opts.Bootstrap = cfg
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt)
			defer stop()
			if _, err := install.Run(ctx, opts); err != nil {
				_, _ = fmt.Fprintf(stderr, "maas-gateway install: %v\n", err)
				return exitError{exitFailed}
			}
			_, _ = fmt.Fprintf(stdout, "the gateway runs in its own cluster: KUBECONFIG=%s kubectl get mgw -A\n", kubeconfigOut)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&kubeconfigOut, "kubeconfig-out", "",
		"where to write the new cluster's admin kubeconfig (required)")
	c.Flags().StringVar(&bootstrapKubeconfig, "bootstrap-kubeconfig", "",
		"kubeconfig of a cluster of yours to start the operator in, used as it is and never deleted; "+
			"without it a kind cluster is made")
	c.Flags().StringVar(&kindName, "bootstrap-name", install.DefaultKindName,
		"name of the kind bootstrap cluster (re-used when it exists)")
	c.Flags().StringVar(&kindImage, "bootstrap-image", "",
		"node image of the kind bootstrap cluster (default: kind's own for its version, pulled from registry.k8s.io)")
	c.Flags().StringVar(&kindConfig, "bootstrap-config", "",
		"kind Cluster config file (kind.x-k8s.io/v1alpha4) of the kind bootstrap cluster (default: one node)")
	c.Flags().BoolVar(&keepBootstrap, "keep-bootstrap", false,
		"keep the kind bootstrap cluster after the gateway has moved into its own cluster")
	c.Flags().StringVar(&operatorImage, "operator-image", "",
		"the manager's image (REPOSITORY:TAG) in both clusters, loaded from the local Docker engine into the kind cluster")
	c.Flags().StringVar(&valuesFile, "values", "", "chart values (YAML) for the operator in both clusters")
	cni.register(c)
	c.Flags().DurationVar(&timeout, "timeout", 45*time.Minute,
		"how long each wait may take (a node deploying, the move's waits)")
	return c
}

// splitImage splits REPOSITORY:TAG; a digest or no tag is refused (kind
// loads images by name, and the chart takes a tag).
func splitImage(image string) (repo, tag string, ok bool) {
	i := strings.LastIndex(image, ":")
	if i <= 0 || i == len(image)-1 || strings.Contains(image[i:], "/") || strings.Contains(image, "@") {
		return "", "", false
	}
	return image[:i], image[i+1:], true
}
