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
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/move"
)

func newMoveCommand(stdout, stderr io.Writer) *cobra.Command {
	var from, to, namespace string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "move --from-kubeconfig A --to-kubeconfig B -n NAMESPACE",
		Short: "Move a gateway (Gateway, CloudAccounts, TenantClusters, their Secrets) to another cluster",
		Long: `move carries the gateway whose Gateway lives in NAMESPACE from the cluster of
--from-kubeconfig to the cluster of --to-kubeconfig, where the operator must be
installed: it pauses the source's objects and waits until the operator reports
them Paused, copies namespaces, Secrets, the Gateway, its CloudAccounts,
ClusterProfiles and TenantClusters (paused, status included, each keeping the
identity its MAAS machines are marked with), deletes them from the source
without running their finalizers, and resumes them in the target. Nothing in
MAAS changes: the target's operator finds the machines by their marks.

A move that fails or is interrupted leaves the objects paused; run the same
command again: it continues from where the clusters are.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				_, _ = fmt.Fprintf(stderr, "maas-gateway move: unexpected argument %q; give the clusters with "+
					"--from-kubeconfig and --to-kubeconfig and the Gateway's namespace with -n\n", args[0])
				return exitError{exitUsage}
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			var missing []string
			for flag, v := range map[string]string{"--from-kubeconfig": from, "--to-kubeconfig": to, "-n": namespace} {
				if v == "" {
					missing = append(missing, flag)
				}
			}
			if len(missing) > 0 {
				_, _ = fmt.Fprintf(stderr, "maas-gateway move: %v required: --from-kubeconfig and --to-kubeconfig name the two "+
					"clusters, -n the Gateway's namespace\n", sortedFlags(missing))
				return exitError{exitUsage}
			}
			if same(from, to) {
				_, _ = fmt.Fprintf(stderr, "maas-gateway move: --from-kubeconfig and --to-kubeconfig are the same file (%s): "+
					"a gateway moves between two clusters\n", from)
				return exitError{exitUsage}
			}
			source, err := clusterClient(from)
			if err != nil {
				_, _ = fmt.Fprintf(stderr, "maas-gateway move: cannot read --from-kubeconfig %s: %v\n", from, err)
				return exitError{exitUnreadable}
			}
			target, err := clusterClient(to)
			if err != nil {
				_, _ = fmt.Fprintf(stderr, "maas-gateway move: cannot read --to-kubeconfig %s: %v\n", to, err)
				return exitError{exitUnreadable}
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt)
			defer stop()
			start := time.Now()
			if err := move.Run(ctx, move.Options{Source: source, Target: target, Namespace: namespace,
				Out: stdout, Timeout: timeout}); err != nil {
				_, _ = fmt.Fprintf(stderr, "maas-gateway move: %v\n", err)
				return exitError{exitFailed}
			}
			_, _ = fmt.Fprintf(stdout, "moved the gateway of namespace %s in %s\n", namespace,
				time.Since(start).Round(time.Second))
			return nil
		},
	}
	c.Flags().StringVar(&from, "from-kubeconfig", "", "kubeconfig of the cluster the gateway is in now")
	c.Flags().StringVar(&to, "to-kubeconfig", "", "kubeconfig of the cluster to move it to (the operator installed)")
	c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace of the Gateway")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Minute,
		"how long each wait may take (the source reporting Paused, a webhook of the target accepting a copy)")
	return c
}

// sortedFlags lists flags in the order the usage line names them.
func sortedFlags(flags []string) []string {
	var out []string
	for _, f := range []string{"--from-kubeconfig", "--to-kubeconfig", "-n"} {
		for _, g := range flags {
			if f == g {
				out = append(out, f)
			}
		}
	}
	return out
}

// same reports whether two paths name one file.
func same(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// clusterClient is an uncached client of the cluster of a kubeconfig file.
func clusterClient(path string) (client.Client, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, unwrapPath(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	return install.NewClient(cfg)
}
