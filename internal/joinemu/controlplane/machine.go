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
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// Ports as kubeadm's defaults: each machine has an address of its own, so
// they never collide.
const (
	etcdClientPort        = 2379
	etcdPeerPort          = 2380
	controllerManagerPort = 10257
)

// machine is one deployed MAAS machine that kubeadm ran on.
type machine struct {
	e        *Emulator
	systemID string
	hostname string
	nodeName string
	ip       netip.Addr
	dir      string // its disk: etc/kubernetes/pki, var/lib/etcd, logs
	snap     maassim.Machine
	ud       *userData
	log      logr.Logger

	mu      sync.Mutex // guards the fields below
	c       *cluster
	etcd    *process
	api     *process
	kcm     *process
	kubelet *kubelet
	// failed is the error kubeadm failed with, as its output would show it.
	failed error
}

func (m *machine) controlPlane() bool { return m.ud.intent.Role.ControlPlane() }

func (m *machine) pkiDir() string   { return filepath.Join(m.dir, "etc", "kubernetes", "pki") }
func (m *machine) etcdData() string { return filepath.Join(m.dir, "var", "lib", "etcd") }

func (m *machine) peerURL() string {
	return "https://" + net.JoinHostPort(m.ip.String(), strconv.Itoa(etcdPeerPort))
}

func (m *machine) clientURL() string {
	return "https://" + net.JoinHostPort(m.ip.String(), strconv.Itoa(etcdClientPort))
}

// apiAddr is where the machine's kube-apiserver listens (kubeadm's
// localAPIEndpoint): its own address, on the cluster's API server port.
func (m *machine) apiAddr() string {
	return net.JoinHostPort(m.ip.String(), strconv.Itoa(int(m.c.port)))
}

func (m *machine) state() MachineState {
	m.mu.Lock()
	defer m.mu.Unlock()
	alive := func(p *process) bool { return p != nil && !p.exited() }
	return MachineState{
		Etcd: alive(m.etcd), APIServer: alive(m.api), ControllerManager: alive(m.kcm),
		Kubelet: m.kubelet != nil && !m.kubelet.dead(),
	}
}

// servesAPI says whether the forwarder may send clients to this machine:
// its API server and the etcd it uses both run, as a load balancer's
// health check would see it.
func (m *machine) servesAPI() bool {
	s := m.state()
	return s.APIServer && s.Etcd
}

// boot runs what cloud-init runs on a freshly deployed machine: kubeadm
// init or join, as its user data says.
func (e *Emulator) boot(ctx context.Context, log logr.Logger, sm maassim.Machine, ud *userData) {
	// A machine deployed again starts from an empty disk.
	e.powerOff(log, sm.SystemID, true)
	ip, err := machineIP(sm)
	if err != nil {
		log.Error(err, "kubeadm cannot run on this machine")
		return
	}
	m := &machine{
		e: e, systemID: sm.SystemID, hostname: sm.Hostname, nodeName: strings.ToLower(sm.Hostname),
		ip: ip, dir: filepath.Join(e.dir, sm.SystemID), snap: sm, ud: ud, log: log,
	}
	if err := os.MkdirAll(m.pkiDir(), 0o700); err != nil {
		log.Error(err, "preparing the machine's disk")
		return
	}
	e.mu.Lock()
	e.machines[m.systemID] = m
	e.mu.Unlock()

	start := time.Now()
	role := ud.intent.Role
	switch role {
	case bootstrap.RoleInitControlPlane:
		err = m.kubeadmInit(ctx)
	default:
		err = m.kubeadmJoin(ctx)
	}
	switch {
	case ctx.Err() != nil:
		log.V(1).Info("kubeadm interrupted", "role", role)
	case err != nil:
		// As on hardware: a failed kubeadm leaves the machine as it was
		// when it failed, deployed in MAAS.
		log.Error(err, "kubeadm failed", "role", role, "cluster", ud.intent.ClusterName)
		m.mu.Lock()
		m.failed = err
		m.mu.Unlock()
	default:
		log.Info("machine joined its cluster", "role", role, "cluster", ud.intent.ClusterName,
			"node", m.nodeName, "took", time.Since(start).Round(time.Millisecond))
	}
}

// powerOff stops a machine's processes; wipe (a release) also erases its
// disk and forgets it. Its etcd member stays in the cluster's member list
// and its Node in the cluster, as on hardware.
func (e *Emulator) powerOff(log logr.Logger, systemID string, wipe bool) {
	e.mu.Lock()
	m := e.machines[systemID]
	e.mu.Unlock()
	if m == nil {
		return
	}
	m.stop(wipe)
	if wipe {
		// Forgotten only once its processes are gone, so that State
		// shows them until then.
		e.mu.Lock()
		if e.machines[systemID] == m {
			delete(e.machines, systemID)
		}
		e.mu.Unlock()
	}
	log.Info("machine stopped", "node", m.nodeName, "wiped", wipe)
}

// powerOn boots a machine that was powered off while deployed: systemd
// starts the kubelet, which starts etcd and the API server from their
// manifests, with the data on disk.
func (e *Emulator) powerOn(ctx context.Context, log logr.Logger, systemID string) {
	e.mu.Lock()
	m := e.machines[systemID]
	e.mu.Unlock()
	if m == nil || m.state() != (MachineState{}) {
		return
	}
	m.mu.Lock()
	c := m.c
	m.mu.Unlock()
	if c == nil {
		return // kubeadm never got far: nothing starts at boot
	}
	var err error
	if m.controlPlane() {
		if _, statErr := os.Stat(filepath.Join(m.etcdData(), "member")); statErr != nil {
			// Powered off before kubeadm started etcd: no static Pod
			// manifests, nothing to start but the kubelet.
			log.Info("machine powered on without an etcd member on disk; only its kubelet starts")
		} else if err = m.startEtcd(ctx, nil); err == nil {
			err = m.startControlPlane(ctx)
		}
	}
	if err == nil {
		m.startKubelet()
	}
	if err != nil && ctx.Err() == nil {
		log.Error(err, "machine did not come back after power on")
	}
}

// stop kills every process of the machine and waits for them to go.
func (m *machine) stop(wipe bool) {
	m.stopKubelet()
	m.mu.Lock()
	procs := []*process{m.kcm, m.api, m.etcd}
	c := m.c
	m.mu.Unlock()
	// Killed in the reverse order of their start; State shows each until
	// it is reaped.
	for _, p := range procs {
		p.kill()
	}
	m.mu.Lock()
	m.kcm, m.api, m.etcd = nil, nil, nil
	m.mu.Unlock()
	if c != nil {
		c.machineStopped(m, wipe)
	}
	if wipe {
		if err := os.RemoveAll(m.dir); err != nil {
			m.log.Error(err, "erasing the machine's disk")
		}
	}
}

// kubeadmInit is kubeadm init: certificates, a new etcd cluster, the API
// server, the cluster's bootstrap objects, the kubelet and its Node.
func (m *machine) kubeadmInit(ctx context.Context) error {
	c, err := m.e.initCluster(m)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.c = c
	m.mu.Unlock()
	c.addMachine(m)
	if err := m.writeControlPlaneCerts(); err != nil {
		return err
	}
	if err := m.startEtcd(ctx, []string{m.nodeName + "=" + m.peerURL()}); err != nil {
		return err
	}
	if err := m.startControlPlane(ctx); err != nil {
		return err
	}
	if err := c.initialise(ctx, m); err != nil {
		return err
	}
	m.startKubelet()
	return c.markControlPlane(ctx, m)
}

// kubeadmJoin is kubeadm join: discovery through the VIP with the bootstrap
// token, then for a control plane the shared keys (from its user data, or
// downloaded from the kubeadm-certs Secret with its certificate key), its
// certificates, an etcd member added to
// the cluster and the API server, then the kubelet and its Node.
func (m *machine) kubeadmJoin(ctx context.Context) error {
	c, err := m.e.discover(ctx, m)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.c = c
	m.mu.Unlock()
	c.addMachine(m)
	if m.controlPlane() {
		if m.ud.pki == nil {
			p, err := c.downloadCerts(ctx, m.ud)
			if err != nil {
				return fmt.Errorf("download-certs: %w", err)
			}
			m.ud.pki = p
		}
		if !c.sameCA(m.ud.pki) {
			return errors.New("the cluster CA in the user data is not the cluster's: the API server's certificate would not verify")
		}
		if err := m.writeControlPlaneCerts(); err != nil {
			return err
		}
		initial, id, err := c.addEtcdMember(ctx, m)
		if err != nil {
			return err
		}
		if err := m.startEtcd(ctx, initial); err != nil {
			return err
		}
		if err := c.promoteEtcdMember(ctx, m, id); err != nil {
			return fmt.Errorf("promoting etcd member: %w", err)
		}
		if err := m.startControlPlane(ctx); err != nil {
			return err
		}
	}
	m.startKubelet()
	if m.controlPlane() {
		return c.markControlPlane(ctx, m)
	}
	return nil
}

// writeControlPlaneCerts is kubeadm's certs phase on a control plane: the
// CAs from the user data, and this machine's own certificates signed by
// them.
func (m *machine) writeControlPlaneCerts() error {
	p := m.ud.pki
	dir := m.pkiDir()
	for name, data := range map[string][]byte{
		"ca.crt": p.CA.Cert, "etcd/ca.crt": p.EtcdCA.Cert, "front-proxy-ca.crt": p.FrontProxyCA.Cert,
		"sa.pub": p.ServiceAccount.Cert, "sa.key": p.ServiceAccount.Key,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	ip := m.ip.AsSlice()
	localhost := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	svc, err := firstServiceIP(m.c.serviceSubnet)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		ca   bootstrap.KeyPair
		spec certSpec
	}{
		{"etcd/server", p.EtcdCA, certSpec{commonName: m.nodeName, dnsNames: []string{m.nodeName, "localhost"},
			ips: append([]net.IP{ip}, localhost...), usages: bothAuth}},
		{"etcd/peer", p.EtcdCA, certSpec{commonName: m.nodeName, dnsNames: []string{m.nodeName, "localhost"},
			ips: append([]net.IP{ip}, localhost...), usages: bothAuth}},
		{"apiserver-etcd-client", p.EtcdCA, certSpec{commonName: "kube-apiserver-etcd-client", usages: clientAuth}},
		{"apiserver", p.CA, certSpec{commonName: "kube-apiserver",
			dnsNames: []string{m.nodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			ips:      []net.IP{svc.AsSlice(), ip, m.c.vip.AsSlice()}, usages: serverAuth}},
		{"front-proxy-client", p.FrontProxyCA, certSpec{commonName: "front-proxy-client", usages: clientAuth}},
	} {
		if err := writeCert(dir, c.name, c.ca, c.spec); err != nil {
			return fmt.Errorf("certificate %s: %w", c.name, err)
		}
	}
	// kubeadm writes controller-manager.conf with this identity.
	return m.writeKubeconfig("controller-manager.conf", certSpec{commonName: "system:kube-controller-manager"})
}

// firstServiceIP is the kubernetes Service's ClusterIP, which the API
// server's certificate names.
func firstServiceIP(subnet netip.Prefix) (netip.Addr, error) {
	a := subnet.Masked().Addr().Next()
	if !subnet.Contains(a) {
		return netip.Addr{}, fmt.Errorf("service subnet %s has no address", subnet)
	}
	return a, nil
}

func (m *machine) pki(name string) string { return filepath.Join(m.pkiDir(), name) }

// startEtcd starts the machine's etcd member. initialCluster is nil when
// the data directory already holds the member (a restart).
func (m *machine) startEtcd(ctx context.Context, initialCluster []string) error {
	args := []string{
		"--name=" + m.nodeName,
		"--data-dir=" + m.etcdData(),
		"--listen-client-urls=" + m.clientURL(),
		"--advertise-client-urls=" + m.clientURL(),
		"--listen-peer-urls=" + m.peerURL(),
		"--initial-advertise-peer-urls=" + m.peerURL(),
		"--cert-file=" + m.pki("etcd/server.crt"), "--key-file=" + m.pki("etcd/server.key"),
		"--client-cert-auth=true", "--trusted-ca-file=" + m.pki("etcd/ca.crt"),
		"--peer-cert-file=" + m.pki("etcd/peer.crt"), "--peer-key-file=" + m.pki("etcd/peer.key"),
		"--peer-client-cert-auth=true", "--peer-trusted-ca-file=" + m.pki("etcd/ca.crt"),
		"--snapshot-count=10000",
		// As envtest: a test world need not survive a power cut, and
		// fsync on a shared disk is most of etcd's start and write time.
		"--unsafe-no-fsync=true",
	}
	if initialCluster != nil {
		state := "new"
		if len(initialCluster) > 1 {
			state = "existing"
		}
		args = append(args, "--initial-cluster="+strings.Join(initialCluster, ","), "--initial-cluster-state="+state)
	}
	p, err := m.start(etcdBinary, args)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.etcd = p
	m.mu.Unlock()
	return m.await(ctx, p, func(ctx context.Context) error {
		cli, err := m.c.etcdClient([]string{m.clientURL()})
		if err != nil {
			return err
		}
		defer func() { _ = cli.Close() }()
		_, err = cli.Status(ctx, m.clientURL())
		return err
	})
}

// startControlPlane starts the API server and, when asked for, the
// controller manager.
func (m *machine) startControlPlane(ctx context.Context) error {
	if err := m.startAPIServer(ctx); err != nil {
		return err
	}
	if m.e.opts.ControllerManager {
		return m.startControllerManager(ctx)
	}
	return nil
}

// startAPIServer starts kube-apiserver with kubeadm's flags (and envtest's
// where this world differs) and waits until it is ready.
func (m *machine) startAPIServer(ctx context.Context) error {
	c := m.c
	args := []string{
		"--advertise-address=" + m.ip.String(),
		"--bind-address=" + m.ip.String(),
		"--secure-port=" + strconv.Itoa(int(c.port)),
		"--cert-dir=" + m.pki("apiserver-generated"),
		"--allow-privileged=true",
		"--authorization-mode=Node,RBAC",
		"--client-ca-file=" + m.pki("ca.crt"),
		"--enable-admission-plugins=NodeRestriction",
		// As envtest: the ServiceAccount admission plugin refuses Pods in
		// namespaces whose default ServiceAccount the (absent) service
		// account controller has not made.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-bootstrap-token-auth=true",
		"--etcd-servers=" + m.clientURL(),
		"--etcd-cafile=" + m.pki("etcd/ca.crt"),
		"--etcd-certfile=" + m.pki("apiserver-etcd-client.crt"),
		"--etcd-keyfile=" + m.pki("apiserver-etcd-client.key"),
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		"--proxy-client-cert-file=" + m.pki("front-proxy-client.crt"),
		"--proxy-client-key-file=" + m.pki("front-proxy-client.key"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-client-ca-file=" + m.pki("front-proxy-ca.crt"),
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + m.pki("sa.pub"),
		"--service-account-signing-key-file=" + m.pki("sa.key"),
		"--service-cluster-ip-range=" + c.serviceSubnet.String(),
		"--tls-cert-file=" + m.pki("apiserver.crt"),
		"--tls-private-key-file=" + m.pki("apiserver.key"),
		// The kubernetes Service's endpoints would be loopback addresses,
		// which the Endpoints API refuses; nothing here dials them.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	p, err := m.start(apiServerBinary, args)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.api = p
	m.mu.Unlock()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: c.adminTLS.Clone()}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	return m.await(ctx, p, func(ctx context.Context) error {
		return getOK(ctx, client, "https://"+m.apiAddr()+"/readyz")
	})
}

func getOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// startControllerManager starts kube-controller-manager against the local
// API server, with only the controllers asked for.
func (m *machine) startControllerManager(ctx context.Context) error {
	kubeconfig := filepath.Join(m.dir, "etc", "kubernetes", "controller-manager.conf")
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--bind-address=" + m.ip.String(),
		"--secure-port=" + strconv.Itoa(controllerManagerPort),
		"--controllers=" + strings.Join(m.e.opts.Controllers, ","),
		"--leader-elect=true",
		"--use-service-account-credentials=true",
		"--root-ca-file=" + m.pki("ca.crt"),
		"--service-account-private-key-file=" + m.pki("sa.key"),
		"--cluster-name=" + m.c.name,
		"--profiling=false",
	}
	p, err := m.start(controllerManagerBinary, args)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.kcm = p
	m.mu.Unlock()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		// Its serving certificate is self-signed, as kubeadm leaves it.
		InsecureSkipVerify: true, //nolint:gosec // a health probe on loopback
	}}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	return m.await(ctx, p, func(ctx context.Context) error {
		return getOK(ctx, client, "https://"+net.JoinHostPort(m.ip.String(), strconv.Itoa(controllerManagerPort))+"/healthz")
	})
}

// start starts one of the machine's programs, logging to its disk.
func (m *machine) start(binary string, args []string) (*process, error) {
	if err := os.MkdirAll(filepath.Join(m.dir, "log"), 0o700); err != nil {
		return nil, err
	}
	return startProcess(binary, filepath.Join(m.e.opts.BinDir, binary), args, filepath.Join(m.dir, "log", binary+".log"))
}

// await polls ready until it succeeds, p exits, ctx ends or the start
// timeout passes.
func (m *machine) await(ctx context.Context, p *process, ready func(context.Context) error) error {
	began := time.Now()
	defer func() {
		m.log.V(1).Info("process started", "process", p.name, "took", time.Since(began).Round(time.Millisecond))
	}()
	ctx, cancel := context.WithTimeout(ctx, m.e.opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, done := context.WithTimeout(ctx, 5*time.Second)
		last = ready(attempt)
		done()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			if p.exited() {
				return p.exitError()
			}
			return fmt.Errorf("%s not ready after %s: %v; its last output:\n%s", p.name, m.e.opts.StartTimeout, last, p.tail(10))
		case <-tick.C:
		}
	}
}
