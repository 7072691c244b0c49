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

package bootstrap

import (
	"strings"
	"testing"
)

func TestValidatePackages(t *testing.T) {
	key := fixtureRepositoryKey(t)
	keyLines := strings.Split(strings.TrimSuffix(key, "\n"), "\n")
	// keyWith returns the fixture key with its line i replaced.
	keyWith := func(i int, line string) string {
		l := append([]string(nil), keyLines...)
		if i < 0 {
			i += len(l)
		}
		l[i] = line
		return strings.Join(l, "\n") + "\n"
	}
	var checksumLine int
	for i, l := range keyLines {
		if strings.HasPrefix(l, "=") {
			checksumLine = i
		}
	}
	withoutChecksum := strings.Join(append(append([]string(nil), keyLines[:checksumLine]...), keyLines[checksumLine+1:]...), "\n")
	withHeaders := strings.Replace(key, armorBegin+"\n", armorBegin+"\nComment: pkgs.k8s.io mirror\nVersion: GnuPG v2\n", 1)
	// A signature packet (tag 2) in the armour of a public key.
	signature := armorBegin + "\n\niHUEABYKAB0WIQQ4ksc3tgQSf20qKR1NCLipQs8QzQUCaxYAlQAKCRBNCLipQs8Q\n" + armorEnd + "\n"
	// The key of a pasted private key block is never accepted, nor quoted.
	private := strings.ReplaceAll(key, "PUBLIC KEY", "PRIVATE KEY")

	cases := []struct {
		name    string
		version string
		p       NodePackages
		// wantErr is empty for a valid configuration, or what the error
		// must contain.
		wantErr string
	}{
		{name: "defaults", p: NodePackages{}},
		{name: "https mirror, key fetched", p: NodePackages{KubernetesRepository: "https://mirror.example.com/k8s/core:/stable:/v1.34/deb/"}},
		{name: "http mirror with its key", p: NodePackages{KubernetesRepository: fixtureMirror, KubernetesRepositoryKey: key}},
		{name: "key without checksum", p: NodePackages{KubernetesRepositoryKey: withoutChecksum}},
		{name: "key with armour headers", p: NodePackages{KubernetesRepositoryKey: withHeaders}},
		{name: "other containerd package", p: NodePackages{ContainerdPackage: "containerd.io"}},

		{name: "http mirror without key", p: NodePackages{KubernetesRepository: "http://mirror.example.com/deb/"}, wantErr: "packages.kubernetesRepository: an http:// repository needs kubernetesRepositoryKey"},
		{name: "ftp", p: NodePackages{KubernetesRepository: "ftp://mirror.example.com/deb/"}, wantErr: "packages.kubernetesRepository: must be an http:// or https:// URL"},
		{name: "file", p: NodePackages{KubernetesRepository: "file:///srv/deb/"}, wantErr: "packages.kubernetesRepository"},
		{name: "no host", p: NodePackages{KubernetesRepository: "https:///deb/"}, wantErr: "packages.kubernetesRepository: must be a URL with a host"},
		{name: "port only", p: NodePackages{KubernetesRepository: "https://:443/deb/"}, wantErr: "packages.kubernetesRepository: must be a URL with a host"},
		{name: "no trailing slash", p: NodePackages{KubernetesRepository: "https://mirror.example.com/deb"}, wantErr: "ending in /"},
		{name: "credentials", p: NodePackages{KubernetesRepository: "https://user:hunter2@mirror.example.com/deb/"}, wantErr: "no credentials"},
		{name: "query", p: NodePackages{KubernetesRepository: "https://mirror.example.com/deb/?x=/"}, wantErr: "packages.kubernetesRepository"},
		{name: "fragment", p: NodePackages{KubernetesRepository: "https://mirror.example.com/deb/#/"}, wantErr: "packages.kubernetesRepository"},
		{name: "space ends the sources.list field", p: NodePackages{KubernetesRepository: "https://mirror.example.com/deb/ trusted=yes /"}, wantErr: "packages.kubernetesRepository"},
		{name: "bracket opens apt options", p: NodePackages{KubernetesRepository: "https://mirror.example.com/[trusted=yes]/"}, wantErr: "packages.kubernetesRepository"},
		{name: "command substitution", p: NodePackages{KubernetesRepository: "https://mirror.example.com/$(reboot)/"}, wantErr: "packages.kubernetesRepository"},
		{name: "backquotes", p: NodePackages{KubernetesRepository: "https://mirror.example.com/`reboot`/"}, wantErr: "packages.kubernetesRepository"},
		{name: "quote", p: NodePackages{KubernetesRepository: "https://mirror.example.com/'; reboot; '/"}, wantErr: "packages.kubernetesRepository"},
		{name: "semicolon", p: NodePackages{KubernetesRepository: "https://mirror.example.com/;reboot/"}, wantErr: "packages.kubernetesRepository"},
		{name: "newline", p: NodePackages{KubernetesRepository: "https://mirror.example.com/\ndeb http://evil/ /\n/"}, wantErr: "packages.kubernetesRepository"},
		{name: "NUL", p: NodePackages{KubernetesRepository: "https://mirror.example.com/\x00/"}, wantErr: "packages.kubernetesRepository"},
		{name: "too long", p: NodePackages{KubernetesRepository: "https://mirror.example.com/" + strings.Repeat("a/", 600)}, wantErr: "packages.kubernetesRepository: longer than"},

		{name: "key too big", p: NodePackages{KubernetesRepositoryKey: armorBegin + "\n\n" + strings.Repeat("QUFB\n", MaxRepositoryKeyBytes/5) + armorEnd + "\n"}, wantErr: "packages.kubernetesRepositoryKey: longer than"},
		{name: "key not armoured", p: NodePackages{KubernetesRepositoryKey: "mDMEaxYAlRYJKwYBBAHaRw8BAQdAeBYtbiAx7HxGrod"}, wantErr: "packages.kubernetesRepositoryKey: must be one block"},
		{name: "private key", p: NodePackages{KubernetesRepositoryKey: private}, wantErr: "packages.kubernetesRepositoryKey: must be one block"},
		{name: "two blocks", p: NodePackages{KubernetesRepositoryKey: key + key}, wantErr: "packages.kubernetesRepositoryKey"},
		{name: "text after the block", p: NodePackages{KubernetesRepositoryKey: key + "deb http://evil/ /\n"}, wantErr: "packages.kubernetesRepositoryKey: must be one block"},
		{name: "CRLF", p: NodePackages{KubernetesRepositoryKey: strings.ReplaceAll(key, "\n", "\r\n")}, wantErr: "packages.kubernetesRepositoryKey: must be printable ASCII"},
		{name: "non-ASCII", p: NodePackages{KubernetesRepositoryKey: strings.Replace(key, "\n\n", "\nComment: café\n\n", 1)}, wantErr: "packages.kubernetesRepositoryKey: must be printable ASCII"},
		{name: "no empty line after the headers", p: NodePackages{KubernetesRepositoryKey: keyWith(1, "Comment: x")}, wantErr: "packages.kubernetesRepositoryKey: armour header"},
		{name: "no key data", p: NodePackages{KubernetesRepositoryKey: armorBegin + "\n\n" + armorEnd + "\n"}, wantErr: "packages.kubernetesRepositoryKey"},
		{name: "not base64", p: NodePackages{KubernetesRepositoryKey: keyWith(2, "not base64 at all!")}, wantErr: "packages.kubernetesRepositoryKey: the key data is not base64"},
		{name: "altered", p: NodePackages{KubernetesRepositoryKey: keyWith(2, strings.Replace(keyLines[2], "m", "n", 1))}, wantErr: "packages.kubernetesRepositoryKey: the armour checksum does not match"},
		{name: "cut", p: NodePackages{KubernetesRepositoryKey: strings.Join(append(append([]string(nil), keyLines[:3]...), keyLines[checksumLine:]...), "\n")}, wantErr: "packages.kubernetesRepositoryKey: the armour checksum does not match"},
		{name: "signature, not key", p: NodePackages{KubernetesRepositoryKey: signature}, wantErr: "packages.kubernetesRepositoryKey: the block does not start with a public key packet"},

		{name: "containerd package with a version", p: NodePackages{ContainerdPackage: "containerd=1.7.28"}, wantErr: "packages.containerdPackage"},
		{name: "containerd package as an option", p: NodePackages{ContainerdPackage: "-oAPT::Get::AllowUnauthenticated=1"}, wantErr: "packages.containerdPackage"},
		{name: "containerd package injection", p: NodePackages{ContainerdPackage: "containerd; reboot"}, wantErr: "packages.containerdPackage"},
		{name: "containerd package upper case", p: NodePackages{ContainerdPackage: "Containerd"}, wantErr: "packages.containerdPackage"},

		{name: "pre-release", version: "v1.35.0-rc.1", p: NodePackages{}, wantErr: "kubernetesVersion: packages are installed only for a release"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, RoleJoinWorker)
			if tc.version != "" {
				cfg.KubernetesVersion = tc.version
			}
			p := tc.p
			cfg.Packages = &p
			out, err := Render(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				checkUserData(t, cfg, out)
				return
			}
			if err == nil {
				t.Fatalf("Render succeeded, want an error with %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want %q", err, tc.wantErr)
			}
			// The URL may carry credentials, and a key is long: neither is
			// repeated (a bad package name is short and secret-free).
			for _, secret := range []string{"hunter2", "mirror.example.com", "mDMEaxYAlRYJ"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q repeats the value it refuses", err)
				}
			}
		})
	}
}

// A pre-release is fine on an image that has its packages.
func TestPreReleaseWithoutPackages(t *testing.T) {
	cfg := testConfig(t, RoleJoinWorker)
	cfg.KubernetesVersion = "v1.35.0-rc.1"
	if _, err := Render(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultRepositoryFollowsMinorRelease(t *testing.T) {
	cfg := withStock(testConfig(t, RoleJoinWorker))
	cfg.KubernetesVersion = "v1.33.7"
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, cc := renderedFiles(t, out)
	const repo = "https://pkgs.k8s.io/core:/stable:/v1.33/deb/"
	if got, want := files[aptSourcePath].Content, "deb [signed-by="+aptKeyringPath+"] "+repo+" /\n"; got != want {
		t.Errorf("apt source %q, want %q", got, want)
	}
	if got := cc.RunCmd[0][2:5]; got[0] != "1.33.7" || got[2] != repo+"Release.key" {
		t.Errorf("installation arguments %q", got)
	}
}

// FuzzNodePackages feeds Render arbitrary repositories, keys and package
// names: whatever it accepts must reach the apt source and the script's
// arguments with nothing a shell or sources.list would read as syntax, and
// the key file must be one armoured public key block.
func FuzzNodePackages(f *testing.F) {
	key := fixtureRepositoryKey(f)
	f.Add("", "", "")
	f.Add(fixtureMirror, key, "containerd.io")
	f.Add("https://mirror.example.com/deb/ trusted=yes /", "", "containerd")
	f.Add("https://mirror.example.com/$(reboot)/", strings.ReplaceAll(key, "\n", "\r\n"), "containerd; reboot")
	f.Add("https://user:pw@mirror.example.com/deb/", key+key, "-o")
	f.Fuzz(func(t *testing.T, repo, key, pkg string) {
		cfg := testConfig(t, RoleJoinWorker)
		cfg.Packages = &NodePackages{KubernetesRepository: repo, KubernetesRepositoryKey: key, ContainerdPackage: pkg}
		if err := validateArmoredPublicKey(key); err == nil && !strings.HasPrefix(key, armorBegin+"\n") {
			t.Fatalf("key accepted without the armour's first line: %q", key)
		}
		out, err := Render(cfg)
		if err != nil {
			return
		}
		files, cc := renderedFiles(t, out)
		source := files[aptSourcePath].Content
		url := strings.TrimSuffix(strings.TrimPrefix(source, "deb [signed-by="+aptKeyringPath+"] "), " /\n")
		if strings.ContainsAny(url, " \t\r\n\"'`$\\;&|<>()[]{}#?*!\x00") || !strings.HasPrefix(url, "http") {
			t.Fatalf("apt source %q", source)
		}
		for _, arg := range cc.RunCmd[0] {
			if strings.ContainsAny(arg, " \t\r\n\"'`$\\;&|<>()[]{}#?*!\x00") {
				t.Fatalf("installation argument %q", arg)
			}
		}
		if key != "" {
			k := files[aptKeyringPath].Content
			if !strings.HasPrefix(k, armorBegin+"\n") || !strings.HasSuffix(k, armorEnd+"\n") || strings.Count(k, "-----BEGIN") != 1 {
				t.Fatalf("key file %q", k)
			}
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("Parse: %v", err)
		}
	})
}
