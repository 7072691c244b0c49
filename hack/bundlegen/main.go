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

// Command bundlegen writes the OLM bundle (bundle/, bundle.Dockerfile) from
// the kustomize build of config/manifests and validates it; see package
// internal/bundle. `make bundle` runs it through hack/bundle.sh.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/maas-gateway/maas-gateway/internal/bundle"
)

func main() {
	var o bundle.Options
	check := flag.Bool("check", false, "only report whether the bundle on disk is stale (exit 1 if so)")
	flag.StringVar(&o.Root, "root", ".", "repository root")
	flag.StringVar(&o.Version, "version", "", "release version (default: the VERSION file)")
	flag.StringVar(&o.ImagePrefix, "image-prefix", bundle.DefaultImagePrefix, "repository prefix of the images")
	flag.StringVar(&o.Replaces, "replaces", "", "previous release this one upgrades from (none for the first)")
	flag.StringVar(&o.Channel, "channel", bundle.DefaultChannel, "OLM channel")
	flag.Parse()
	if err := run(o, *check); err != nil {
		fmt.Fprintln(os.Stderr, "bundlegen:", err)
		os.Exit(1)
	}
}

func run(o bundle.Options, check bool) error {
	if o.Version == "" {
		b, err := os.ReadFile(filepath.Join(o.Root, "VERSION"))
		if err != nil {
			return err
		}
		o.Version = strings.TrimSpace(string(b))
	}
	files, err := bundle.Generate(o)
	if err != nil {
		return err
	}
	if check {
		diffs, err := bundle.Stale(o.Root, files)
		if err != nil {
			return err
		}
		if len(diffs) > 0 {
			return fmt.Errorf("bundle is stale, run make bundle:\n  %s", strings.Join(diffs, "\n  "))
		}
		return nil
	}
	if err := bundle.Write(o.Root, files); err != nil {
		return err
	}
	errs, warnings, err := bundle.Validate(filepath.Join(o.Root, bundle.BundleDir))
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "bundlegen: warning:", w)
	}
	fmt.Printf("bundlegen: %s (%d files) for %s\n",
		bundle.CSVName(o.Version), len(files), bundle.ManagerImage(o.ImagePrefix, o.Version))
	if len(errs) > 0 {
		return fmt.Errorf("the bundle does not validate:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
