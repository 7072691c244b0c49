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
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/install"
)

func newInstallCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f fileFlag
	var bootstrapKubeconfig, kubeconfigOut, valuesFile string
	var cni networkPluginFlags
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "install -f pcg.yaml --bootstrap-kubeconfig K --kubeconfig-out F",
		Short: "Install a gateway from a pcg.yaml through a bootstrap cluster, then move it into itself",
		Long: `install creates the gateway a pcg.yaml describes, from nothing but MAAS machines:

  1. bootstrap cluster        the cluster of --bootstrap-kubeconfig (any cluster
                              reachable from here; this command does not create one:
                              no kind cluster is made for you yet)
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

Each step checks first whether its result already holds: after a failure or an
interrupt, run the same command again and it resumes. The bootstrap cluster is
not deleted: no Gateway, CloudAccount or TenantCluster remains in it, but the
Secrets the move copied (the MAAS API key, the gateway's CAs) and the Helm
release do; delete it once the gateway runs.
--values takes chart values (the manager's image, at least, where the default
is not pullable); the installer sets webhook.certManager.enabled=false,
gateway.create=false and, in the bootstrap cluster, --outside-gateway.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var missing []string
			for _, m := range []struct{ flag, v string }{{"--bootstrap-kubeconfig", bootstrapKubeconfig},
				{"--kubeconfig-out", kubeconfigOut}} {
				if m.v == "" {
					missing = append(missing, m.flag)
				}
			}
			if len(missing) > 0 {
				_, _ = fmt.Fprintf(stderr, "maas-gateway install: %v required: --bootstrap-kubeconfig names the cluster "+
					"the operator starts in, --kubeconfig-out where the new cluster's admin kubeconfig is written\n", missing)
				return exitError{exitUsage}
			}
			if same(bootstrapKubeconfig, kubeconfigOut) {
				_, _ = fmt.Fprintf(stderr, "maas-gateway install: --kubeconfig-out is --bootstrap-kubeconfig (%s): "+
					"writing the new cluster's kubeconfig there would lose the bootstrap cluster's\n", kubeconfigOut)
				return exitError{exitUsage}
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
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt)
			defer stop()
			if _, err := install.Run(ctx, install.Options{Installation: inst, Bootstrap: cfg, KubeconfigOut: kubeconfigOut,
				Operator: install.HelmInstaller{Values: values}, NetworkPlugin: plugin, Out: stdout,
				Timeout: timeout}); err != nil {
				_, _ = fmt.Fprintf(stderr, "maas-gateway install: %v\n", err)
				return exitError{exitFailed}
			}
			_, _ = fmt.Fprintf(stdout, "the gateway runs in its own cluster: KUBECONFIG=%s kubectl get mgw -A\n", kubeconfigOut)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&bootstrapKubeconfig, "bootstrap-kubeconfig", "",
		"kubeconfig of the bootstrap cluster the operator starts in (required; kind creation is not built in)")
	c.Flags().StringVar(&kubeconfigOut, "kubeconfig-out", "",
		"where to write the new cluster's admin kubeconfig (required)")
	c.Flags().StringVar(&valuesFile, "values", "", "chart values (YAML) for the operator in both clusters, e.g. its image")
	cni.register(c)
	c.Flags().DurationVar(&timeout, "timeout", 45*time.Minute,
		"how long each wait may take (a node deploying, the move's waits)")
	return c
}
