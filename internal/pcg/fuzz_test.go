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

package pcg

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// FuzzLoad: no input panics the parser, and wherever a MAAS API key is put
// in a file (each @KEY@ of the document is replaced by the key), no error,
// warning or redacted rendering shows it or its token secret.
//
//	go test ./internal/pcg -run '^$' -fuzz FuzzLoad -fuzztime=20s
func FuzzLoad(f *testing.F) {
	keyed := strings.ReplaceAll(base, testKey, "@KEY@")
	seeds := []string{
		base, keyed,
		strings.Replace(keyed, "zone: az1", "@KEY@: x", 1),
		strings.Replace(keyed, "zone: az1", "zone: @KEY@", 1),
		strings.Replace(keyed, "replicas: 3", "replicas: @KEY@", 1),
		strings.Replace(keyed, "httpProxy: http://proxy.example.com:3128", "httpProxy: http://@KEY@@proxy:3128", 1),
		strings.Replace(keyed, "controlPlaneEndpoint: 10.11.12.100", "controlPlaneEndpoint: [@KEY@", 1),
		"maas: {apiKey: \"@KEY@\", endpoint: [}\n",
		"- @KEY@\n",
		"a: &x [*x]\n",
		"---\n---\n",
		"",
	}
	inputs, _ := filepath.Glob("testdata/render/*.pcg.yaml")
	inputs = append(inputs, filepath.Join(repoRoot(), "config", "samples", "pcg.yaml"))
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s), testKey)
	}
	f.Fuzz(func(t *testing.T, doc []byte, key string) {
		if _, err := maas.ParseAPIKey(key); err != nil {
			key = "" // only a key of MAAS's shape is sure not to appear in a message by chance
		}
		key = strings.TrimSpace(key)
		doc = bytes.ReplaceAll(doc, []byte("@KEY@"), []byte(key))
		inst, err := Load(doc, Options{})
		var text string
		switch {
		case err != nil:
			text = err.Error()
			if _, ok := err.(Errors); !ok {
				t.Fatalf("Load returned %T, not Errors: %v", err, err)
			}
		default:
			if inst.Gateway == nil || len(inst.Secrets) == 0 {
				t.Fatalf("accepted without a Gateway and its Secret")
			}
			out, rerr := inst.Render(false)
			if rerr != nil {
				t.Fatalf("render: %v", rerr)
			}
			text = strings.Join(inst.Warnings, "\n") + string(out)
		}
		if key == "" {
			return
		}
		parts := strings.Split(key, ":")
		for _, s := range []string{key, parts[2]} {
			if strings.Contains(text, s) {
				t.Fatalf("the API key is shown:\n%s", text)
			}
		}
	})
}
