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
	"context"
	"slices"
	"strings"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
)

// Validation is what a CloudAccount learns about its MAAS and credentials.
type Validation struct {
	// Version is MAAS's version string, e.g. "3.6.0".
	Version string
	// User is the MAAS user the key belongs to; Admin whether it is a superuser.
	User  string
	Admin bool
	// Zones, ResourcePools and Domains are the names MAAS lists, sorted.
	Zones         []string
	ResourcePools []string
	Domains       []string
	// BootResources are the images machines can be deployed with, as
	// "osystem/series" (custom images as "custom/<name>"), sorted, unique.
	BootResources []string
}

// Validate checks the client's credentials and reads what a CloudAccount
// reports, in six requests: version, whoami, zones, resource pools,
// domains, boot resources. Bad credentials stop it after whoami with
// ClassUnauthorized and MAAS's message.
func Validate(ctx context.Context, c *Client) (Validation, error) {
	var v Validation
	steps := []struct {
		op string
		fn func(*client.Client) error
	}{
		{"version", func(gc *client.Client) error {
			ver, err := gc.Version.Get()
			if err == nil {
				v.Version = ver.Version
			}
			return err
		}},
		{"whoami", func(gc *client.Client) error {
			u, err := gc.Users.Whoami()
			if err == nil {
				v.User, v.Admin = u.UserName, u.IsSuperUser
			}
			return err
		}},
		{"list zones", func(gc *client.Client) error {
			zones, err := gc.Zones.Get()
			v.Zones = nil
			for _, z := range zones {
				v.Zones = append(v.Zones, z.Name)
			}
			return err
		}},
		{"list resource pools", func(gc *client.Client) error {
			pools, err := gc.ResourcePools.Get()
			v.ResourcePools = nil
			for _, p := range pools {
				v.ResourcePools = append(v.ResourcePools, p.Name)
			}
			return err
		}},
		{"list domains", func(gc *client.Client) error {
			domains, err := gc.Domains.Get()
			v.Domains = nil
			for _, d := range domains {
				v.Domains = append(v.Domains, d.Name)
			}
			return err
		}},
		{"list boot resources", func(gc *client.Client) error {
			res, err := gc.BootResources.Get(&entity.BootResourcesReadParams{})
			v.BootResources = nil
			for _, r := range res {
				v.BootResources = append(v.BootResources, imageName(r.Name))
			}
			return err
		}},
	}
	for _, s := range steps {
		if err := c.call(ctx, callSpec{op: s.op, idempotent: true}, s.fn); err != nil {
			return Validation{}, err
		}
	}
	for _, names := range []*[]string{&v.Zones, &v.ResourcePools, &v.Domains, &v.BootResources} {
		slices.Sort(*names)
		*names = slices.Compact(*names)
	}
	return v, nil
}

// imageName is a boot resource's name as deploy takes it: synced images
// are already "osystem/series"; uploaded custom images may be a bare name.
func imageName(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	return "custom/" + name
}
