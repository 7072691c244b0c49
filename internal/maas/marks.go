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

package maas

import (
	"fmt"
	"net/url"
	"strings"
)

// Purpose says what an address reservation is for.
type Purpose string

const (
	// PurposeVIP is a control-plane endpoint: one user-reserved address,
	// marked by a one-address reserved range.
	PurposeVIP Purpose = "vip"
	// PurposeLoadBalancer is a pool of LoadBalancer addresses: a reserved range.
	PurposeLoadBalancer Purpose = "lb"
)

// Marks name the holder of an address reservation: the installation and
// the owning object. MAAS keeps no owner data on an address (ipaddresses
// op=reserve takes no comment, and records only the MAAS user), so the
// marks live in the comment of a reserved IP range (at most 255
// characters): the pool's own range, or for a VIP a range of that one
// address created right after the address is reserved.
type Marks struct {
	// Installation is the installation's identity (the agent name its
	// machines carry).
	Installation string
	Purpose      Purpose
	Kind         string
	Namespace    string
	Name         string
	// UID tells a recreated object from the one that reserved.
	UID string
}

// Owner is the object the marks name.
func (m Marks) Owner() Owner {
	return Owner{Kind: m.Kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID}
}

// Held reports whether the marks name installation and owner's object.
func (m Marks) Held(installation string, owner Owner) bool {
	return m.Installation == installation && m.Owner().SameObject(owner)
}

func (m Marks) String() string {
	return m.Owner().String() + " (uid " + m.UID + ") of installation " + m.Installation
}

// markPrefix starts every comment this package writes; the version lets
// a later format live beside this one.
const markPrefix = "maas-gateway:v1"

// MaxCommentLen is the length of MAAS's IPRange.comment.
const MaxCommentLen = 255

// The keys of a marks comment.
const (
	markInstallation = "inst"
	markKind         = "kind"
	markNamespace    = "ns"
	markName         = "name"
	markUID          = "uid"
)

// FormatMarks renders m as a range comment:
//
//	maas-gateway:v1 vip inst=gw-1234 kind=TenantCluster ns=team-a name=demo uid=5f0c…
//
// Values are percent-encoded outside [A-Za-z0-9._~-], so that no value
// can forge another key. It fails when a required field is missing or the
// comment would not fit MAAS's 255 characters.
func FormatMarks(m Marks) (string, error) {
	if err := ValidateAgentName(m.Installation); err != nil {
		return "", err
	}
	if m.Purpose == "" || !isMarkToken(string(m.Purpose)) {
		return "", fmt.Errorf("purpose %q is not a word of letters, digits, '.', '_' or '-'", m.Purpose)
	}
	if m.Kind == "" || m.Name == "" || m.UID == "" {
		return "", fmt.Errorf("marks need a kind, a name and a UID")
	}
	var b strings.Builder
	b.WriteString(markPrefix)
	b.WriteByte(' ')
	b.WriteString(string(m.Purpose))
	for _, kv := range [...]struct{ k, v string }{
		{markInstallation, m.Installation}, {markKind, m.Kind}, {markNamespace, m.Namespace},
		{markName, m.Name}, {markUID, m.UID},
	} {
		if kv.v == "" {
			continue // only the namespace may be empty
		}
		b.WriteByte(' ')
		b.WriteString(kv.k)
		b.WriteByte('=')
		b.WriteString(escapeMark(kv.v))
	}
	if b.Len() > MaxCommentLen {
		return "", fmt.Errorf("the owner marks take %d characters, more than the %d of a MAAS comment", b.Len(), MaxCommentLen)
	}
	return b.String(), nil
}

// ParseMarks reads marks written by FormatMarks. Comments anyone may edit
// in MAAS's UI are input like any other: ok is false for anything not in
// the format (another prefix, a missing or repeated key, a bad escape), so
// a hand-made or damaged comment never passes for an owner. Unknown keys
// are skipped, for a later version adding some.
func ParseMarks(comment string) (m Marks, ok bool) {
	fields := strings.Fields(comment)
	if len(fields) < 2 || fields[0] != markPrefix || !isMarkToken(fields[1]) {
		return Marks{}, false
	}
	m.Purpose = Purpose(fields[1])
	seen := map[string]bool{}
	for _, f := range fields[2:] {
		k, raw, found := strings.Cut(f, "=")
		if !found || k == "" {
			return Marks{}, false
		}
		if seen[k] {
			return Marks{}, false
		}
		seen[k] = true
		v, err := url.PathUnescape(raw)
		if err != nil {
			return Marks{}, false
		}
		switch k {
		case markInstallation:
			m.Installation = v
		case markKind:
			m.Kind = v
		case markNamespace:
			m.Namespace = v
		case markName:
			m.Name = v
		case markUID:
			m.UID = v
		}
	}
	if ValidateAgentName(m.Installation) != nil || m.Kind == "" || m.Name == "" || m.UID == "" {
		return Marks{}, false
	}
	return m, true
}

func isMarkToken(s string) bool {
	if s == "" || strings.Contains(s, "=") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// escapeMark percent-encodes every byte outside the unreserved set of
// RFC 3986, so values hold no space, '=' or '%' of their own.
func escapeMark(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
