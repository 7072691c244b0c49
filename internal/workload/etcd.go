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

package workload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// EtcdClientPort is where kubeadm's stacked etcd serves clients on every
// control-plane machine.
const EtcdClientPort = 2379

// etcdClientName is the identity the operator's etcd client certificate
// carries; etcd checks only that the etcd CA signed it.
const etcdClientName = "maas-gateway-operator"

// Timeouts of etcd calls: a member that does not answer within them counts
// as unhealthy rather than holding a reconcile.
const (
	etcdDialTimeout = 5 * time.Second
	etcdCallTimeout = 10 * time.Second
)

// EtcdTLS returns a client TLS configuration for a cluster's etcd: a client
// certificate signed in memory by the cluster's etcd CA, valid for validity
// from now, and the etcd CA as the only root. Unlike Cluster API's control
// plane provider, server certificates are verified: kubeadm issues them for
// the machine's address, which is where the operator dials.
func EtcdTLS(pki *bootstrap.ClusterPKI, now time.Time, validity time.Duration) (*tls.Config, error) {
	certPEM, keyPEM, err := bootstrap.SignClientCertificate(pki.EtcdCA, etcdClientName, nil, now, validity)
	if err != nil {
		return nil, fmt.Errorf("signing the etcd client certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading the etcd client certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pki.EtcdCA.Cert) {
		return nil, errors.New("the etcd CA certificate is not PEM")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// EtcdEndpoint is the client URL of the etcd member on a machine at addr.
func EtcdEndpoint(addr string) string {
	return "https://" + net.JoinHostPort(addr, strconv.Itoa(EtcdClientPort))
}

// Etcd reads and changes one cluster's etcd membership.
type Etcd struct {
	tls       *tls.Config
	endpoints []string
	client    *clientv3.Client
}

// DialEtcd connects to the etcd members at endpoints (client URLs); any one
// that answers serves membership calls.
func DialEtcd(ctx context.Context, endpoints []string, tlsConfig *tls.Config) (*Etcd, error) {
	c, err := newEtcdClient(ctx, endpoints, tlsConfig)
	if err != nil {
		return nil, err
	}
	return &Etcd{tls: tlsConfig, endpoints: slices.Clone(endpoints), client: c}, nil
}

func newEtcdClient(ctx context.Context, endpoints []string, tlsConfig *tls.Config) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsConfig,
		DialTimeout: etcdDialTimeout,
		Context:     ctx,
		// The client logs every retry at info level otherwise.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %v: %w", endpoints, err)
	}
	return c, nil
}

// Close releases the connections.
func (e *Etcd) Close() error { return e.client.Close() }

// Members lists the members (a linearizable read, so it fails without a
// quorum) and asks each started member for its status, concurrently.
func (e *Etcd) Members(ctx context.Context) ([]Member, error) {
	cctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
	defer cancel()
	resp, err := e.client.MemberList(cctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	members := make([]Member, len(resp.Members))
	var wg sync.WaitGroup
	for i, pm := range resp.Members {
		members[i] = Member{
			ID: pm.ID, Name: pm.Name, IsLearner: pm.IsLearner,
			PeerURLs: slices.Clone(pm.PeerURLs), ClientURLs: slices.Clone(pm.ClientURLs),
		}
		if len(pm.ClientURLs) == 0 {
			members[i].Err = "not started"
			continue
		}
		wg.Go(func() {
			m := &members[i]
			st, err := e.client.Status(cctx, m.ClientURLs[0])
			switch {
			case err != nil:
				m.Err = err.Error()
			case len(st.Errors) > 0:
				m.Err = st.Errors[0]
			default:
				m.Healthy = true
				m.Leader = st.Leader == m.ID
			}
		})
	}
	wg.Wait()
	return members, nil
}

// RemoveMember removes the member with id when PlanMemberRemoval allows it,
// moving leadership to another healthy voter first if it leads. It returns
// PlanMemberRemoval's error (ErrNotMember once the member is gone) without
// changing anything when the removal is not safe.
func (e *Etcd) RemoveMember(ctx context.Context, id uint64) error {
	members, err := e.Members(ctx)
	if err != nil {
		return err
	}
	if err := PlanMemberRemoval(members, id); err != nil {
		return err
	}
	i := slices.IndexFunc(members, func(m Member) bool { return m.ID == id })
	if members[i].Leader {
		if err := e.moveLeader(ctx, members, members[i]); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
	defer cancel()
	if _, err := e.client.MemberRemove(cctx, id); err != nil {
		return fmt.Errorf("removing etcd member %s: %w", displayName(members[i]), err)
	}
	return nil
}

// moveLeader hands leadership from leader to another healthy voter. Only the
// leader accepts MoveLeader, so the call goes to its own endpoint.
func (e *Etcd) moveLeader(ctx context.Context, members []Member, leader Member) error {
	to := slices.IndexFunc(members, func(m Member) bool { return m.ID != leader.ID && m.Healthy && !m.IsLearner })
	if to < 0 {
		return fmt.Errorf("%w: no healthy member to hand leadership to", ErrQuorum)
	}
	c, err := newEtcdClient(ctx, leader.ClientURLs[:1], e.tls)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	cctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
	defer cancel()
	if _, err := c.MoveLeader(cctx, members[to].ID); err != nil {
		return fmt.Errorf("moving etcd leadership from %s to %s: %w", displayName(leader), displayName(members[to]), err)
	}
	return nil
}
