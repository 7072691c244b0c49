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
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"k8s.io/client-go/rest"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
)

// operatorUser is the name the operator's own client certificates carry in
// the clusters it runs, so that their audit logs tell its requests from a
// person's with the admin kubeconfig.
const operatorUser = "maas-gateway-operator"

// Endpoint is where a cluster's API server answers.
type Endpoint struct {
	// VIP is the control-plane endpoint's address.
	VIP string
	// Port is the API server port; 0 means 6443.
	Port int32
}

func (e Endpoint) hostPort() (string, error) {
	a, err := netip.ParseAddr(e.VIP)
	if err != nil {
		return "", fmt.Errorf("control-plane endpoint %q is not an IP address", e.VIP)
	}
	port := e.Port
	if port == 0 {
		port = 6443
	}
	return net.JoinHostPort(a.Unmap().String(), strconv.Itoa(int(port))), nil
}

// RESTConfig returns a client configuration for the cluster whose PKI and
// endpoint the operator generated: it trusts only the cluster CA and
// authenticates with a client certificate signed in memory by that CA for
// validity from now. Nothing comes from a kubeconfig, so nothing a user
// wrote into a Secret can redirect the operator (a server, a token file, an
// exec plugin). The group is the one kubeadm binds to cluster-admin for the
// cluster's Kubernetes version (bootstrap.AdminGroup).
func RESTConfig(pki *bootstrap.ClusterPKI, ep Endpoint, kubernetesVersion string, now time.Time, validity time.Duration) (*rest.Config, error) {
	if pki == nil || len(pki.CA.Cert) == 0 {
		return nil, errors.New("the cluster CA is required")
	}
	hostPort, err := ep.hostPort()
	if err != nil {
		return nil, err
	}
	group, err := bootstrap.AdminGroup(kubernetesVersion)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := bootstrap.SignClientCertificate(pki.CA, operatorUser, []string{group}, now, validity)
	if err != nil {
		return nil, fmt.Errorf("signing the operator's client certificate: %w", err)
	}
	return &rest.Config{
		Host: "https://" + hostPort,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   pki.CA.Cert,
			CertData: certPEM,
			KeyData:  keyPEM,
		},
		UserAgent: operatorUser,
		// Cluster API's defaults for workload clusters: a slow or gone
		// cluster must not hold a reconcile for long.
		Timeout: 10 * time.Second,
		QPS:     20,
		Burst:   30,
	}, nil
}
