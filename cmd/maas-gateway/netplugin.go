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
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/packs"
)

// networkPluginFlags say which pod network install puts into the new
// cluster: kubeadm init installs none.
type networkPluginFlags struct {
	manifests, chart, version, values string
}

func (f *networkPluginFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.manifests, "network-plugin-manifests", "",
		"YAML file of the network plugin (a CNI's published manifests) to install in the new cluster")
	c.Flags().StringVar(&f.chart, "network-plugin-chart", "",
		"oci:// reference of the network plugin's Helm chart, instead of --network-plugin-manifests")
	c.Flags().StringVar(&f.version, "network-plugin-version", "",
		"version (or semver constraint) of --network-plugin-chart; empty: the latest stable")
	c.Flags().StringVar(&f.values, "network-plugin-values", "", "values (YAML file) for --network-plugin-chart")
}

// plugin is the network plugin the flags name, nil for none, or the usage
// or reading error already written to stderr.
func (f *networkPluginFlags) plugin(stderr io.Writer) (install.NetworkPlugin, error) {
	fail := func(code int, format string, args ...any) (install.NetworkPlugin, error) {
		_, _ = fmt.Fprintf(stderr, "maas-gateway install: "+format+"\n", args...)
		return nil, exitError{code}
	}
	switch {
	case f.manifests != "" && f.chart != "":
		return fail(exitUsage, "--network-plugin-manifests and --network-plugin-chart: give one network plugin")
	case f.chart == "" && (f.version != "" || f.values != ""):
		return fail(exitUsage, "--network-plugin-version and --network-plugin-values go with --network-plugin-chart")
	case f.manifests != "":
		data, err := os.ReadFile(f.manifests)
		if err != nil {
			return fail(exitUnreadable, "cannot read --network-plugin-manifests %s: %v", f.manifests, unwrapPath(err))
		}
		return install.PackNetworkPlugin{Source: packs.Source{Manifests: string(data)}}, nil
	case f.chart != "":
		if !strings.HasPrefix(f.chart, "oci://") {
			return fail(exitUsage, "--network-plugin-chart %s: an oci:// reference "+
				"(a chart repository's charts: pull one and give its manifests)", f.chart)
		}
		var values map[string]any
		if f.values != "" {
			data, err := os.ReadFile(f.values)
			if err != nil {
				return fail(exitUnreadable, "cannot read --network-plugin-values %s: %v", f.values, unwrapPath(err))
			}
			if err := yaml.Unmarshal(data, &values); err != nil {
				return fail(exitInvalid, "--network-plugin-values %s is not YAML: %v", f.values, err)
			}
		}
		return install.PackNetworkPlugin{Source: packs.Source{Repository: f.chart, Version: f.version}, Values: values}, nil
	}
	return nil, nil
}
