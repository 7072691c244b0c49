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

// Command maas-gateway is the installer's command line. It reads a
// pcg.yaml: validate checks it with the rules the cluster applies, render
// prints the Gateway and Secrets it makes, install creates the gateway
// through a bootstrap cluster and moves it into itself (move alone moves a
// gateway between clusters).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/maas-gateway/maas-gateway/internal/pcg"
	"github.com/maas-gateway/maas-gateway/internal/version"
)

// Exit codes, so that a script can tell what to fix.
const (
	exitOK = 0
	// exitInvalid: the pcg.yaml is read but wrong; stderr names each field.
	exitInvalid = 1
	// exitUsage: the command line is wrong.
	exitUsage = 2
	// exitUnreadable: the pcg.yaml cannot be read (missing, a directory, no permission).
	exitUnreadable = 3
	// exitInternal: this binary is broken (its built-in CRD does not load).
	exitInternal = 4
	// exitFailed: an operation on the clusters failed (install, move); running the
	// same command again resumes it.
	exitFailed = 5
)

func main() {
	// The installer reports through its own progress lines; the clients
	// it builds on controller-runtime log nothing worth showing, and
	// without a logger controller-runtime prints a stack trace when a
	// client is first made 30 s in (as after the kind cluster's creation).
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitError carries the exit code of a failed command; its message is
// already written.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	if ee, ok := errors.AsType[exitError](err); ok {
		return ee.code
	}
	// Cobra's own: an unknown command or flag.
	_, _ = fmt.Fprintf(stderr, "maas-gateway: %v\nRun 'maas-gateway --help' for usage.\n", err)
	return exitUsage
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "maas-gateway",
		Short: "Install a MAAS private cloud gateway from a pcg.yaml",
		Long: `maas-gateway reads the gateway configuration file, pcg.yaml: the MAAS endpoint
and API key, proxies, pod and service ranges, placement and 1 or 3 nodes.
Start from config/samples/pcg.yaml.

Exit codes: 0 success, 1 the pcg.yaml (or install's --values) is invalid (each field to fix is named,
with its line), 2 wrong command line, 3 the pcg.yaml cannot be read,
4 internal error, 5 an install or a move failed (run it again to resume it).`,
		Version:       version.String("maas-gateway"),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		_, _ = fmt.Fprintf(stderr, "maas-gateway %s: %v\nRun 'maas-gateway %s --help' for usage.\n", c.Name(), err, c.Name())
		return exitError{exitUsage}
	})
	root.AddCommand(newValidateCommand(stdin, stdout, stderr), newRenderCommand(stdin, stdout, stderr),
		newMoveCommand(stdout, stderr), newInstallCommand(stdin, stdout, stderr))
	return root
}

// fileFlag is the -f flag every subcommand takes.
type fileFlag struct{ path string }

func (f *fileFlag) register(c *cobra.Command) {
	c.Flags().StringVarP(&f.path, "file", "f", "", "the pcg.yaml to read, or - for standard input")
}

func newValidateCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f fileFlag
	c := &cobra.Command{
		Use:   "validate -f pcg.yaml",
		Short: "Check a pcg.yaml with the rules the cluster applies to the Gateway it makes",
		Long: `validate checks a pcg.yaml as the cluster will check the Gateway and Secrets made
from it: the file's own fields (apiVersion, kind, name, the MAAS API key, proxy
credentials), the Gateway CRD's schema and rules, and the Gateway webhook's
checks. Nothing is contacted: MAAS and the machines are not checked.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			name, inst, err := load(f.path, stdin, stderr)
			if err != nil {
				return err
			}
			gw := inst.Gateway
			_, _ = fmt.Fprintf(stdout, "%s is valid: Gateway %s/%s, %d node(s), MAAS %s, "+
				"API server at %s; %d Secret(s) to create\n", name, gw.Namespace, gw.Name, gw.Spec.Replicas,
				gw.Spec.MAAS.Endpoint, gw.Spec.ControlPlaneEndpoint, len(inst.Secrets))
			return nil
		},
	}
	f.register(c)
	return c
}

func newRenderCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f fileFlag
	var showSecrets bool
	c := &cobra.Command{
		Use:   "render -f pcg.yaml",
		Short: "Print the Gateway and Secrets a pcg.yaml makes, as YAML",
		Long: `render validates a pcg.yaml as validate does and prints the Secrets and the
Gateway it makes, defaults filled in, as a YAML stream. Secret values are
replaced by a placeholder unless --show-secrets is given; with it, the output
holds the MAAS API key in clear: write it only where the key may be.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, inst, err := load(f.path, stdin, stderr)
			if err != nil {
				return err
			}
			out, err := inst.Render(showSecrets)
			if err != nil {
				_, _ = fmt.Fprintf(stderr, "maas-gateway: internal error: rendering: %v\n", err)
				return exitError{exitInternal}
			}
			_, _ = stdout.Write(out)
			return nil
		},
	}
	f.register(c)
	c.Flags().BoolVar(&showSecrets, "show-secrets", false,
		"print the Secrets' values (the MAAS API key, the proxy password) instead of a placeholder")
	return c
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		_, _ = fmt.Fprintf(c.ErrOrStderr(), "maas-gateway %s: unexpected argument %q; give the file with -f\n",
			c.Name(), args[0])
		return exitError{exitUsage}
	}
	return nil
}

// load reads and checks the file named by -f, writing every warning and
// error to stderr as FILE:LINE: FIELD: MESSAGE. It returns the name the
// file is shown by.
func load(path string, stdin io.Reader, stderr io.Writer) (string, *pcg.Installation, error) {
	if path == "" {
		_, _ = fmt.Fprintln(stderr, "maas-gateway: -f is required: the pcg.yaml to read "+
			"(start from config/samples/pcg.yaml), or - for standard input")
		return "", nil, exitError{exitUsage}
	}
	name, data, err := read(path, stdin)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "maas-gateway: cannot read %s: %v\n", name, err)
		return name, nil, exitError{exitUnreadable}
	}
	inst, err := pcg.Load(data, pcg.Options{})
	list, invalid := errors.AsType[pcg.Errors](err)
	switch {
	case invalid:
		for _, e := range list {
			_, _ = fmt.Fprintln(stderr, located(name, e))
		}
		noun := "errors"
		if len(list) == 1 {
			noun = "error"
		}
		_, _ = fmt.Fprintf(stderr, "%s: %d %s; fix the fields named above and run this again\n", name, len(list), noun)
		return name, nil, exitError{exitInvalid}
	case err != nil:
		_, _ = fmt.Fprintf(stderr, "maas-gateway: internal error: %v\n", err)
		return name, nil, exitError{exitInternal}
	}
	for _, w := range inst.Warnings {
		_, _ = fmt.Fprintf(stderr, "%s: warning: %s\n", name, w)
	}
	return name, inst, nil
}

func located(name string, e *pcg.FieldError) string {
	var b strings.Builder
	b.WriteString(name)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Detail)
	return b.String()
}

// read reads at most one byte more than a pcg.yaml may hold, so that an
// oversized file (or an endless stream) is refused without being read whole.
func read(path string, stdin io.Reader) (string, []byte, error) {
	if path == "-" {
		data, err := io.ReadAll(io.LimitReader(stdin, pcg.MaxFileSize+1))
		return "<stdin>", data, err
	}
	f, err := os.Open(path)
	if err != nil {
		return path, nil, unwrapPath(err)
	}
	defer func() { _ = f.Close() }()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return path, nil, errors.New("it is a directory")
	}
	data, err := io.ReadAll(io.LimitReader(f, pcg.MaxFileSize+1))
	return path, data, unwrapPath(err)
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}
