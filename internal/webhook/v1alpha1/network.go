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

package v1alpha1

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Address ranges a cluster gets when neither it nor its gateway names one:
// kubeadm's service range and the range the usual CNIs (Calico) default to.
const (
	DefaultPodCIDR     = "192.168.0.0/16"
	DefaultServiceCIDR = "10.96.0.0/12"
)

// Limits Kubernetes itself puts on address ranges. kube-controller-manager
// hands each node a /24 (IPv4) or /64 (IPv6) of the pod range, and refuses an
// IPv6 range more than 16 bits wider than that. Before v1.34 kube-apiserver
// refused a service range of more than 20 host bits. kubeadm gives the 10th
// service address to cluster DNS.
const (
	nodePodMaskIPv4       = 24
	nodePodMaskIPv6       = 64
	maxPodSubnetBitDiffV6 = 16
	maxServiceHostBits    = 20
	minServiceHostBits    = 4
	// serviceRangeUnlimitedMinor is the first Kubernetes minor version
	// without the service range limit (MultiCIDRServiceAllocator locked on).
	serviceRangeUnlimitedMinor = 34
)

// parseCIDR parses a range as the schema's isCIDR does (host bits allowed)
// and says whether host bits were set, since they are silently dropped.
func parseCIDR(s string) (netip.Prefix, bool, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("not a CIDR, e.g. 10.96.0.0/12: %w", err)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, false, fmt.Errorf("not a CIDR: a range carries no IPv6 zone")
	}
	return p.Masked(), p.Masked() != p, nil
}

// networkPaths are the fields a cluster network is read from, for messages.
type networkPaths struct {
	pod, service *field.Path
}

// checkNetwork validates a pod and a service range of a cluster of
// `machines` nodes running Kubernetes 1.`minor` (0: not known) and returns
// the parsed ranges (a missing or invalid one is left zero).
func checkNetwork(paths networkPaths, pod, service string, machines, minor int) (netip.Prefix, netip.Prefix, field.ErrorList, []string) {
	var errs field.ErrorList
	var warns []string
	parse := func(path *field.Path, s string) netip.Prefix {
		if s == "" {
			return netip.Prefix{}
		}
		p, hostBits, err := parseCIDR(s)
		if err != nil {
			errs = append(errs, field.Invalid(path, s, err.Error()))
			return netip.Prefix{}
		}
		if hostBits {
			warns = append(warns, fmt.Sprintf("%s %s has host bits set; it is read as %s", path, s, p))
		}
		return p
	}
	podP, svcP := parse(paths.pod, pod), parse(paths.service, service)

	if podP.IsValid() {
		nodeMask := nodePodMaskIPv4
		if podP.Addr().Is6() {
			nodeMask = nodePodMaskIPv6
		}
		diff := nodeMask - podP.Bits()
		switch {
		case diff < 0:
			errs = append(errs, field.Invalid(paths.pod, pod, fmt.Sprintf(
				"too small: each node takes a /%d of the pod range, so it must be /%d or wider", nodeMask, nodeMask)))
		case podP.Addr().Is6() && diff > maxPodSubnetBitDiffV6:
			errs = append(errs, field.Invalid(paths.pod, pod, fmt.Sprintf(
				"too large: Kubernetes splits an IPv6 pod range into at most 2^%d node ranges of /%d, so it must be /%d or narrower",
				maxPodSubnetBitDiffV6, nodeMask, nodeMask-maxPodSubnetBitDiffV6)))
		case diff < 31 && machines > 1<<diff:
			errs = append(errs, field.Invalid(paths.pod, pod, fmt.Sprintf(
				"has room for %d nodes (a /%d each) but the cluster asks for %d machines", 1<<diff, nodeMask, machines)))
		}
	}
	if svcP.IsValid() {
		hostBits := svcP.Addr().BitLen() - svcP.Bits()
		switch {
		case hostBits < minServiceHostBits:
			errs = append(errs, field.Invalid(paths.service, service, fmt.Sprintf(
				"too small: cluster DNS takes the 10th service address, so the range must be /%d or wider",
				svcP.Addr().BitLen()-minServiceHostBits)))
		case hostBits > maxServiceHostBits && minor != 0 && minor < serviceRangeUnlimitedMinor:
			errs = append(errs, field.Invalid(paths.service, service, fmt.Sprintf(
				"too large: Kubernetes before v1.%d accepts a service range of /%d or narrower",
				serviceRangeUnlimitedMinor, svcP.Addr().BitLen()-maxServiceHostBits)))
		case hostBits > maxServiceHostBits && minor == 0:
			warns = append(warns, fmt.Sprintf("%s %s is wider than /%d, which Kubernetes before v1.%d refuses",
				paths.service, service, svcP.Addr().BitLen()-maxServiceHostBits, serviceRangeUnlimitedMinor))
		}
	}
	if podP.IsValid() && svcP.IsValid() {
		switch {
		case podP.Addr().Is4() != svcP.Addr().Is4():
			errs = append(errs, field.Invalid(paths.service, service,
				fmt.Sprintf("must be of the same IP family as %s %s", paths.pod, pod)))
		case podP.Overlaps(svcP):
			errs = append(errs, field.Invalid(paths.service, service,
				fmt.Sprintf("overlaps %s %s: pod and service addresses must be distinct", paths.pod, pod)))
		}
	}
	return podP, svcP, errs, warns
}

// kubernetesMinor returns the minor version of "v1.34.2", or 0 when the
// string is empty or not of that form.
func kubernetesMinor(version string) int {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil || minor < 0 {
		return 0
	}
	return minor
}

// checkVIP validates a control-plane endpoint: a unicast IP address outside
// the cluster's own pod and service ranges (either may be zero). A loopback
// address is refused unless the policy allows it, and then only warned about.
func checkVIP(path *field.Path, vip string, pod, service netip.Prefix, policy Options) (netip.Addr, field.ErrorList, admission.Warnings) {
	addr, err := netip.ParseAddr(vip)
	if err != nil {
		return netip.Addr{}, field.ErrorList{field.Invalid(path, vip, "must be an IP address, e.g. 10.11.12.100")}, nil
	}
	addr = addr.Unmap()
	var warns admission.Warnings
	if addr.IsLoopback() && policy.AllowLoopbackEndpoints {
		warns = append(warns, fmt.Sprintf("%s %s is a loopback address: accepted because the manager runs with "+
			"--allow-loopback-endpoints (a test world whose machines all live on this host); "+
			"real machines cannot share it", path, vip))
	}
	errs := checkVIPAddr(path, vip, addr, pod, service, policy)
	return addr, errs, warns
}

func checkVIPAddr(path *field.Path, vip string, addr netip.Addr, pod, service netip.Prefix, policy Options) field.ErrorList {
	switch {
	case addr.Zone() != "":
		return field.ErrorList{field.Invalid(path, vip, "must be an IP address without an IPv6 zone")}
	case addr.IsLoopback() && !policy.AllowLoopbackEndpoints,
		addr.IsUnspecified(), addr.IsMulticast(), addr.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(path, vip,
			"must be a unicast address the machines can share (not unspecified, loopback, multicast or link-local)")}
	case pod.IsValid() && pod.Contains(addr):
		return field.ErrorList{field.Invalid(path, vip, fmt.Sprintf("lies inside the pod range %s; pick an address of the machines' network", pod))}
	case service.IsValid() && service.Contains(addr):
		return field.ErrorList{field.Invalid(path, vip, fmt.Sprintf("lies inside the service range %s; pick an address of the machines' network", service))}
	}
	return nil
}

// hostOf returns the host of a URL (MAAS endpoint, proxy), lower-cased, and
// its address when the host is an IP literal.
func hostOf(raw string) (string, netip.Addr, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", netip.Addr{}, false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host, netip.Addr{}, true
	}
	return host, addr.Unmap(), true
}

// noProxyCovers reports whether a NO_PROXY list exempts host, the way Go's
// and curl's proxy selection read it: "*", an exact host or IP, a CIDR
// holding the IP, or a domain matching the host or any of its parents (with
// or without a leading dot). A port on an entry is ignored.
func noProxyCovers(entries []string, host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return false
	}
	addr, addrErr := netip.ParseAddr(host)
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "*" {
			return true
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			if addrErr == nil && p.Masked().Contains(addr.Unmap()) {
				return true
			}
			continue
		}
		if h, _, err := net.SplitHostPort(e); err == nil {
			e = h
		}
		e = strings.TrimSuffix(e, ".")
		if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
			if addrErr == nil && a.Unmap() == addr.Unmap() {
				return true
			}
			continue
		}
		if addrErr == nil {
			continue
		}
		domain := strings.TrimPrefix(e, "*")
		domain = strings.TrimPrefix(domain, ".")
		if domain != "" && (host == domain || strings.HasSuffix(host, "."+domain)) {
			return true
		}
	}
	return false
}

// invalidNoProxyEntries returns the entries that look like a CIDR but are not
// one; proxy clients skip them silently.
func invalidNoProxyEntries(entries []string) []string {
	var bad []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			if _, err := netip.ParsePrefix(e); err != nil {
				bad = append(bad, e)
			}
		}
	}
	return bad
}

// hasUserinfo reports whether a proxy URL embeds credentials.
func hasUserinfo(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.User != nil
}

// checkOutside refuses ranges that hold an address the cluster's machines
// must reach (MAAS, the gateway): traffic to it would be routed into the
// pod or service network instead of the machines' network.
func checkOutside(paths networkPaths, pod, service netip.Prefix, addr netip.Addr, what string) field.ErrorList {
	var errs field.ErrorList
	for _, r := range []struct {
		path   *field.Path
		prefix netip.Prefix
	}{{paths.pod, pod}, {paths.service, service}} {
		if r.prefix.IsValid() && addr.IsValid() && r.prefix.Contains(addr) {
			errs = append(errs, field.Invalid(r.path, r.prefix.String(), fmt.Sprintf(
				"contains %s %s: the cluster's machines would route traffic for it into the cluster network", what, addr)))
		}
	}
	return errs
}
