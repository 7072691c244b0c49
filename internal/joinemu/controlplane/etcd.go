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

package controlplane

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdClient returns an etcd client of endpoints with the cluster's etcd
// client certificate.
func (c *cluster) etcdClient(endpoints []string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no etcd member runs")
	}
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         c.etcdTLS.Clone(),
		DialTimeout: 5 * time.Second,
		// The client's own logging is noise in tests; errors come back
		// from the calls.
		Logger: zap.NewNop(),
	})
}

// etcdEndpoints are the client URLs of the cluster's members whose etcd
// runs now, except machine skip's.
func (c *cluster) etcdEndpoints(skip *machine) []string {
	var out []string
	for _, m := range c.controlPlanes() {
		if m != skip && m.state().Etcd {
			out = append(out, m.clientURL())
		}
	}
	return out
}

// addEtcdMember is the first half of kubeadm join's etcd phase (learner
// mode, kubeadm's default since v1.32): the machine is added to the member
// list as a non-voting learner, and the returned --initial-cluster names
// every member. A member already listed with the machine's peer URL (left
// by an earlier deployment of the same machine, or an earlier attempt) is
// reused, as kubeadm does. etcd refuses a second learner while one is
// catching up: the join retries, then fails.
func (c *cluster) addEtcdMember(ctx context.Context, m *machine) (initial []string, id uint64, err error) {
	err = retry(ctx, m.e.opts.StartTimeout, func(ctx context.Context) error {
		cli, err := c.etcdClient(c.etcdEndpoints(m))
		if err != nil {
			return err
		}
		defer func() { _ = cli.Close() }()
		call, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		list, err := cli.MemberList(call)
		if err != nil {
			return fmt.Errorf("listing etcd members: %w", err)
		}
		members := list.Members
		i := slices.IndexFunc(members, func(mem *etcdserverpb.Member) bool { return slices.Contains(mem.PeerURLs, m.peerURL()) })
		if i >= 0 {
			id = members[i].ID
		} else {
			resp, err := cli.MemberAddAsLearner(call, []string{m.peerURL()})
			if err != nil {
				m.log.Info("etcd member add refused; retrying", "reason", err.Error())
				return fmt.Errorf("adding etcd member: %w", err)
			}
			members, id = resp.Members, resp.Member.ID
			m.log.Info("etcd member added as learner", "id", strconv.FormatUint(id, 16))
		}
		initial = initial[:0]
		for _, mem := range members {
			name := mem.Name
			switch {
			case mem.ID == id:
				name = m.nodeName
			case name == "":
				// Added but never started: etcd matches members by peer URL.
				name = "unstarted-" + strconv.FormatUint(mem.ID, 16)
			}
			for _, u := range mem.PeerURLs {
				initial = append(initial, name+"="+u)
			}
		}
		return nil
	})
	return initial, id, err
}

// promoteEtcdMember is the second half: once the learner has caught up
// with the leader, it becomes a voting member (etcd refuses before).
func (c *cluster) promoteEtcdMember(ctx context.Context, m *machine, id uint64) error {
	return retry(ctx, m.e.opts.StartTimeout, func(ctx context.Context) error {
		cli, err := c.etcdClient(c.etcdEndpoints(nil))
		if err != nil {
			return err
		}
		defer func() { _ = cli.Close() }()
		call, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err = cli.MemberPromote(call, id)
		if err != nil && strings.Contains(err.Error(), "not a learner") {
			return nil // promoted by an earlier attempt
		}
		return err
	})
}

// Member is one etcd member as the cluster's member list shows it.
type Member struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	// Started says whether the member ever started (the member list shows
	// its name and client URLs only then).
	Started bool
	// Learner says whether the member is a non-voting learner.
	Learner bool
	// Reachable says whether the member answered a status request just now.
	Reachable bool
}

// EtcdMembers returns the member list of the etcd of the cluster at
// endpoint (VIP:port), read from its running members, with each member's
// reachability.
func (e *Emulator) EtcdMembers(ctx context.Context, endpoint string) ([]Member, error) {
	c, err := e.cluster(endpoint)
	if err != nil {
		return nil, err
	}
	cli, err := c.etcdClient(c.etcdEndpoints(nil))
	if err != nil {
		return nil, err
	}
	defer func() { _ = cli.Close() }()
	call, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := cli.MemberList(call)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	out := make([]Member, 0, len(list.Members))
	for _, mem := range list.Members {
		mb := Member{
			ID: mem.ID, Name: mem.Name, Learner: mem.IsLearner, Started: mem.Name != "",
			PeerURLs: slices.Clone(mem.PeerURLs), ClientURLs: slices.Clone(mem.ClientURLs),
		}
		for _, u := range mem.ClientURLs {
			st, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := cli.Status(st, u)
			cancel()
			if err == nil {
				mb.Reachable = true
				break
			}
		}
		out = append(out, mb)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func x509CertPool(pemCerts []byte) *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCerts) {
		return nil
	}
	return pool
}

// decodeJSON reads a successful JSON response into v.
func decodeJSON(resp *http.Response, v any) error {
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return json.Unmarshal(body, v)
}

// AddStrayLearner adds to the etcd of the cluster at endpoint a learner
// member peering from peerURL that no process will ever start: what a
// kubeadm join that died after "member add" leaves behind. It returns the
// member's ID.
func (e *Emulator) AddStrayLearner(ctx context.Context, endpoint, peerURL string) (uint64, error) {
	c, err := e.cluster(endpoint)
	if err != nil {
		return 0, err
	}
	cli, err := c.etcdClient(c.etcdEndpoints(nil))
	if err != nil {
		return 0, err
	}
	defer func() { _ = cli.Close() }()
	call, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cli.MemberAddAsLearner(call, []string{peerURL})
	if err != nil {
		return 0, fmt.Errorf("adding a stray learner at %s: %w", peerURL, err)
	}
	return resp.Member.ID, nil
}
