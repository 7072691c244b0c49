package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// lineWriter collects output and tells when a line matching re arrives.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan []string // gets the first match
	sent  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.match <- m
		w.sent = true
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestRunServesAndShutsDown(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(inv, []byte("machines:\n- {hostname: solo, cpu: 4, memoryMiB: 8192, zone: z1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lineWriter{re: regexp.MustCompile(`MAAS API at (\S+) \(1 machines\)[\s\S]*API key for bob: (\S+)\n`), match: make(chan []string, 1)}
	var errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-inventory", inv, "-user", "bob", "-deploy-time", "10ms",
			"-deploy-jitter", "0s", "-fail-deploy", "solo"}, out, &errOut)
	}()
	var m []string
	select {
	case m = <-out.match:
	case code := <-done:
		t.Fatalf("run exited with %d: %s", code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no start banner: %s", out.String())
	}
	url, bobKey := m[1], m[2]
	if !strings.Contains(out.String(), "API key for admin: "+maassim.DefaultAPIKey) {
		t.Fatalf("admin key not printed: %s", out.String())
	}
	c, err := client.GetClient(url, bobKey, "2.0")
	if err != nil {
		t.Fatal(err)
	}
	who, err := c.Users.Whoami()
	if err != nil || who.UserName != "bob" {
		t.Fatalf("whoami: %v %v", who, err)
	}
	ms, err := c.Machines.Get(&entity.MachinesParams{Zone: []string{"z1"}})
	if err != nil || len(ms) != 1 || ms[0].Hostname != "solo" {
		t.Fatalf("machines: %v %v", ms, err)
	}
	// The -fail-deploy flag reached the simulator.
	if _, err := c.Machine.Deploy(ms[0].SystemID, &entity.MachineDeployParams{}); err != nil {
		t.Fatal(err)
	}
	faults, err := http.Get(strings.TrimSuffix(url, "/MAAS") + "/sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(faults.Body)
	_ = faults.Body.Close()
	if !strings.Contains(string(body), `"failDeploy":["solo"]`) {
		t.Fatalf("faults: %s", body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := c.Version.Get(); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestRunFlags(t *testing.T) {
	// A kubeconfig that loads; nothing listens at its server.
	unreachable := writeKubeconfig(t, &rest.Config{Host: "https://127.0.0.1:1"})
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"version", []string{"-version"}, 0, "maas-sim 0.0.0-dev (commit unknown) (simulates MAAS " + maassim.DefaultMAASVersion + ")\n"},
		{"help", []string{"-h"}, 0, ""},
		{"unknown flag", []string{"-bogus"}, 2, ""},
		{"stray argument", []string{"extra"}, 2, ""},
		{"both inventories", []string{"-inventory", "x.yaml", "-generate", "3"}, 2, ""},
		{"missing inventory", []string{"-inventory", "/nonexistent/inv.yaml"}, 1, ""},
		{"bad key", []string{"-admin-key", "nope", "-listen", "127.0.0.1:0"}, 1, ""},
		{"bad error rate", []string{"-error-rate", "3", "-listen", "127.0.0.1:0"}, 1, ""},
		{"port in use", []string{"-listen", "256.0.0.1:1"}, 1, ""},
		{"join filter without kubeconfig", []string{"-join-cluster", "gw"}, 2, ""},
		{"join delay without kubeconfig", []string{"-join-delay", "1s"}, 2, ""},
		{"missing kubeconfig", []string{"-join-kubeconfig", "/nonexistent/kubeconfig", "-listen", "127.0.0.1:0"}, 1, ""},
		{"bad join endpoint", []string{"-join-kubeconfig", unreachable, "-join-endpoint", "vip:6443", "-listen", "127.0.0.1:0"}, 1, ""},
		{"VIP without control planes", []string{"-control-plane-vip", "10.96.0.100:6443=:16443"}, 2, ""},
		{"VIP without listen address", []string{"-control-planes", "/nonexistent", "-control-plane-vip", "10.96.0.100:6443"}, 2, ""},
		{"join against unreachable cluster", []string{"-join-kubeconfig", unreachable, "-listen", "127.0.0.1:0"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a run that gets as far as serving stops at once
			code := run(ctx, tt.args, &out, &errOut)
			if code != tt.code || (tt.out != "" && out.String() != tt.out) {
				t.Fatalf("exit %d, out %q, err %q", code, out.String(), errOut.String())
			}
		})
	}
}

func TestListFlag(t *testing.T) {
	var l listFlag
	for _, v := range []string{"a,b", " c ", ",,"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if l.String() != "a,b,c" {
		t.Fatalf("got %q", l.String())
	}
}

func TestExampleInventoryLoads(t *testing.T) {
	inv, err := maassim.LoadInventoryFile("inventory.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Machines) != 4 || len(inv.Subnets) != 1 || len(inv.Subnets[0].Reserved) != 1 {
		t.Fatalf("%d machines, subnets %+v", len(inv.Machines), inv.Subnets)
	}
	sim, err := maassim.New(maassim.Config{Inventory: inv.Machines, Subnets: inv.Subnets, Users: []maassim.User{{Name: "admin", Admin: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if got := sim.IPAM(); len(got.Subnets) != 1 || got.Subnets[0].Name != "gateway-lan" || len(got.Ranges) != 2 {
		t.Fatalf("example's subnets in the simulator: %+v", got)
	}
}

// writeKubeconfig writes a kubeconfig for cfg, as a user of maas-sim would
// have one.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The -join flags reach the emulator: a machine deployed with user data
// joining the named cluster appears as a Node of the kubeconfig's cluster
// (not Ready, as -join-not-ready asks); one joining another cluster, and
// one named by -join-never, do not.
func TestRunJoinsNodes(t *testing.T) {
	env, err := envtest.New(envtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false // Nodes are built in
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	k8s, err := ctrlclient.New(cfg, ctrlclient.Options{})
	if err != nil {
		t.Fatal(err)
	}

	inv := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(inv, []byte("machines:\n"+
		"- {hostname: join-01, systemID: jn0001, cpu: 4, memoryMiB: 8192, ips: [127.0.3.1]}\n"+
		"- {hostname: join-02, systemID: jn0002, cpu: 4, memoryMiB: 8192, ips: [127.0.3.2]}\n"+
		"- {hostname: join-03, systemID: jn0003, cpu: 4, memoryMiB: 8192, ips: [127.0.3.3]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lineWriter{re: regexp.MustCompile(`MAAS API at (\S+) `), match: make(chan []string, 1)}
	errOut := &lineWriter{re: regexp.MustCompile(`node joined`), match: make(chan []string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-inventory", inv, "-deploy-time", "10ms", "-deploy-jitter", "0s",
			"-join-kubeconfig", writeKubeconfig(t, cfg), "-join-endpoint", "10.11.12.100:6443", "-join-cluster", "gw",
			"-join-delay", "10ms", "-join-not-ready", "join-01", "-join-never", "jn0003"}, out, errOut)
	}()
	var url string
	select {
	case m := <-out.match:
		url = m[1]
	case code := <-done:
		t.Fatalf("run exited with %d: %s", code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no start banner: %s", out.String())
	}
	c, err := client.GetClient(url, maassim.DefaultAPIKey, "2.0")
	if err != nil {
		t.Fatal(err)
	}
	// join-02 asks for another cluster at the same endpoint. It and join-03
	// are Deployed before join-01 deploys, so by the time join-01 has
	// joined, they have been passed over.
	for _, m := range []struct{ systemID, cluster string }{{"jn0002", "tenant"}, {"jn0003", "gw"}, {"jn0001", "gw"}} {
		ud := joinUserData(t, m.systemID, m.cluster)
		if _, err := c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: m.systemID}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Machine.Deploy(m.systemID, &entity.MachineDeployParams{UserData: base64.StdEncoding.EncodeToString(ud)}); err != nil {
			t.Fatal(err)
		}
		NewWithT(t).Eventually(func() (string, error) {
			got, err := c.Machine.Get(m.systemID)
			if err != nil {
				return "", err
			}
			return got.StatusName, nil
		}).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal("Deployed"))
	}

	select {
	case <-errOut.match:
	case <-time.After(30 * time.Second):
		t.Fatalf("no node joined: %s", errOut.String())
	}
	node := &corev1.Node{}
	if err := k8s.Get(ctx, ctrlclient.ObjectKey{Name: "join-01"}, node); err != nil {
		t.Fatal(err)
	}
	if node.Spec.ProviderID != "maas://jn0001" {
		t.Fatalf("providerID %q", node.Spec.ProviderID)
	}
	if !slices.ContainsFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionFalse
	}) {
		t.Fatalf("join-01 is not NotReady despite -join-not-ready: %v", node.Status.Conditions)
	}
	for _, name := range []string{"join-02", "join-03"} {
		if err := k8s.Get(ctx, ctrlclient.ObjectKey{Name: name}, &corev1.Node{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s joined: %v", name, err)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

// joinUserData renders a worker's user data joining cluster at the VIP
// 10.11.12.100 (data, never dialled).
func joinUserData(t *testing.T, systemID, cluster string) []byte {
	t.Helper()
	tok, err := bootstrap.GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	ud, err := bootstrap.Render(bootstrap.NodeConfig{
		Role: bootstrap.RoleJoinWorker, ClusterName: cluster, SystemID: systemID, KubernetesVersion: "v1.34.2",
		ControlPlaneEndpoint: "10.11.12.100", PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12", Token: tok,
		CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ud
}
