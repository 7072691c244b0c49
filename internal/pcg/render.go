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
	"maps"

	"sigs.k8s.io/yaml"
)

// RedactedValue stands in for every Secret value a rendering does not show.
const RedactedValue = "REDACTED (maas-gateway render --show-secrets prints the value)"

// Render writes the Secrets, then the Gateway, as one multi-document YAML
// stream, in the order they are to be created. Secret values are replaced
// by RedactedValue unless showSecrets.
func (inst *Installation) Render(showSecrets bool) ([]byte, error) {
	var out bytes.Buffer
	for _, s := range inst.Secrets {
		s = s.DeepCopy()
		if !showSecrets {
			s.StringData = maps.Clone(s.StringData)
			for k := range s.StringData {
				s.StringData[k] = RedactedValue
			}
		}
		if err := writeDoc(&out, s); err != nil {
			return nil, err
		}
	}
	if err := writeDoc(&out, inst.Gateway); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeDoc(out *bytes.Buffer, obj any) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	out.WriteString("---\n")
	out.Write(b)
	return nil
}
