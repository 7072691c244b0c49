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

package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// GatewayVIP is the control-plane endpoint the harness's gateway is given:
// the join emulator answers joins to GatewayVIP:6443 by default, so gateway
// machines become Nodes of the envtest cluster, which stands for the gateway
// cluster, while tenant machines (joining their own VIPs) do not.
const GatewayVIP = "10.11.12.100"

// JoinAll, as Options.JoinEndpoint, answers every join request.
const JoinAll = "*"

// Options configure an Env. The zero value is a working environment.
type Options struct {
	// Sim configures the simulator; nil means maassim.DefaultConfig()
	// (24 machines, deployments of about 300 ms).
	Sim *maassim.Config
	// JoinEndpoint limits the join emulator to joins to this IP:port;
	// empty means GatewayVIP:6443, JoinAll every join.
	JoinEndpoint string
	// JoinDelay is the time from Deployed to the Node appearing.
	JoinDelay time.Duration
	// NoJoin runs no join emulator.
	NoJoin bool
	// ControlPlanes plays the machines of tenant clusters with real etcd
	// and kube-apiserver processes (internal/joinemu/controlplane), so that
	// a TenantCluster has an API server, etcd members and Nodes to look at.
	// The simulator's machines get loopback addresses (maassim.Loopback)
	// and the manager accepts loopback VIPs (--allow-loopback-endpoints);
	// give TenantClusters VIPs in 127.0.0.0/8 (TenantVIP). Joins to the
	// gateway's VIP stay the join emulator's.
	ControlPlanes bool
	// ControlPlaneOptions tune the emulator; the harness sets BinDir (the
	// envtest assets) and IgnoreEndpoints (the gateway's VIP).
	ControlPlaneOptions controlplane.Options
	// NoWebhooks installs no webhook configurations and runs the manager
	// without its webhook server.
	NoWebhooks bool

	// ManagerBinary is a prebuilt manager; empty means $MGW_MANAGER_BIN, or
	// else ./cmd/manager built into the Env's directory.
	ManagerBinary string
	// PollInterval, RevalidateInterval and RetryInterval are the manager's
	// --maas-poll-interval, --revalidate-interval and --maas-retry-interval;
	// zero means 500ms, 30s and 1s.
	PollInterval, RevalidateInterval, RetryInterval time.Duration
	// ManagerArgs are extra manager flags, passed after the harness's own
	// so that they override them.
	ManagerArgs []string
	// ManagerEnv are extra "KEY=value" environment entries for the manager.
	ManagerEnv []string
	// ManagerOutput receives a copy of the manager's output, which always
	// goes to Manager.LogPath.
	ManagerOutput io.Writer

	// Log receives the harness's progress lines; nil means none.
	Log io.Writer
	// KeepDir leaves the Env's directory (kubeconfig, manager log) behind.
	KeepDir bool
	// StartTimeout bounds Start, the manager's build included; zero means 3m.
	StartTimeout time.Duration
}

// Env is a running environment. Stop it when done.
type Env struct {
	// Dir holds the kubeconfig, the manager's log and binary.
	Dir string
	// Config and Client reach the API server as its administrator; the
	// Client's Scheme knows client-go's kinds and infra.maasgateway.io.
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	// Kubeconfig is the path of a kubeconfig file for kubectl and other
	// processes (the manager uses it).
	Kubeconfig string
	// Sim is the MAAS simulator: faults, counters, machines, users.
	Sim *maassim.Server
	// SimURL is the MAAS URL to give the operator; APIKey the admin's key.
	SimURL, APIKey string
	// Manager is the operator's process.
	Manager *Manager
	// ControlPlanes plays tenant clusters' machines (Options.ControlPlanes).
	ControlPlanes *controlplane.Emulator

	opts     Options
	logw     io.Writer
	cp       *crenvtest.Environment
	stopJoin func()
}

// NewScheme returns client-go's scheme plus the project's API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := infrav1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Start brings up the control plane, the simulator, the join emulator and
// the manager, and returns when the manager is ready (probes answer and its
// webhook port accepts connections). On error, what was started is stopped.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "maas-gateway-harness-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, opts: opts, Scheme: NewScheme(), logw: opts.Log}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()

	// The manager build and the control plane are independent: overlap them.
	bin := opts.ManagerBinary
	if bin == "" {
		bin = os.Getenv("MGW_MANAGER_BIN")
	}
	built := make(chan error, 1)
	if bin == "" {
		bin = filepath.Join(dir, "manager")
		go func() { built <- BuildManager(ctx, bin, opts.Log) }()
	} else {
		built <- nil
	}

	t0 := time.Now()
	e.cp, err = envtest.New(envtest.Options{Webhooks: !opts.NoWebhooks})
	if err != nil {
		return nil, err
	}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		// envtest's 20 s is short on a loaded 2-core machine, all the more
		// while the manager builds beside it.
		e.cp.ControlPlaneStartTimeout = 90 * time.Second
	}
	if e.Config, err = e.cp.Start(); err != nil {
		e.cp = nil
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	e.logf("control plane up at %s (%s)", e.Config.Host, since(t0))
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, e.cp.KubeConfig, 0o600); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: e.Scheme}); err != nil {
		return nil, err
	}

	simCfg := maassim.DefaultConfig()
	if opts.Sim != nil {
		simCfg = *opts.Sim
	}
	if opts.ControlPlanes {
		simCfg.Inventory = maassim.Loopback(simCfg.Inventory)
	}
	if e.Sim, err = maassim.Start(simCfg); err != nil {
		return nil, fmt.Errorf("starting the MAAS simulator: %w", err)
	}
	e.SimURL, e.APIKey = e.Sim.URL, e.Sim.DefaultAPIKey()
	e.logf("MAAS simulator up at %s with %d machines", e.SimURL, len(e.Sim.Machines()))

	if !opts.NoJoin {
		endpoint := opts.JoinEndpoint
		switch endpoint {
		case "":
			endpoint = GatewayVIP + ":6443"
		case JoinAll:
			endpoint = ""
		}
		em, err := joinemu.New(joinemu.Config{
			Client: e.Client, Endpoint: endpoint, Delay: opts.JoinDelay, Log: e.errorLogger("join"),
		})
		if err != nil {
			return nil, err
		}
		e.stopJoin = em.Attach(e.Sim.Sim)
	}
	if opts.ControlPlanes {
		if err := e.startControlPlanes(); err != nil {
			return nil, err
		}
	}

	if err := <-built; err != nil {
		return nil, err
	}
	e.Manager, err = newManager(e, bin)
	if err != nil {
		return nil, err
	}
	if err := e.Manager.Start(ctx); err != nil {
		return nil, err
	}
	e.logf("manager ready, pid %d, metrics at %s (%s)", e.Manager.PID(), e.Manager.MetricsURL(), since(t0))
	return e, nil
}

// Stop stops the manager, the join emulator, the simulator and the control
// plane, and removes Dir unless Options.KeepDir. It may be called twice.
func (e *Env) Stop() error {
	var errs []error
	if e.Manager != nil {
		errs = append(errs, e.Manager.Stop())
	}
	if e.stopJoin != nil {
		e.stopJoin()
		e.stopJoin = nil
	}
	if e.ControlPlanes != nil {
		// Close kills and reaps every process the emulator started and
		// fails when one outlives it.
		errs = append(errs, e.ControlPlanes.Close())
		e.ControlPlanes = nil
	}
	if e.Sim != nil {
		e.Sim.Close()
		e.Sim = nil
	}
	if e.cp != nil {
		errs = append(errs, e.cp.Stop())
		e.cp = nil
	}
	if !e.opts.KeepDir && e.Dir != "" {
		errs = append(errs, os.RemoveAll(e.Dir))
		e.Dir = ""
	}
	return errors.Join(errs...)
}

// TenantVIP returns a VIP for a tenant cluster in this Env's world: ip
// itself, or its loopback counterpart (maassim.LoopbackAddr) when the
// Env plays control planes, whose API servers listen on this host.
func (e *Env) TenantVIP(ip string) string {
	if !e.opts.ControlPlanes {
		return ip
	}
	if a, ok := maassim.LoopbackAddr(ip); ok {
		return a
	}
	return ip
}

func (e *Env) startControlPlanes() error {
	assets, err := envtest.AssetsDir()
	if err != nil {
		return err
	}
	cpOpts := e.opts.ControlPlaneOptions
	cpOpts.BinDir = assets
	gateway := e.opts.JoinEndpoint
	if gateway == "" {
		gateway = GatewayVIP + ":6443"
	}
	if gateway != JoinAll {
		cpOpts.IgnoreEndpoints = append(cpOpts.IgnoreEndpoints, gateway)
	}
	if cpOpts.Log.GetSink() == nil {
		cpOpts.Log = e.errorLogger("controlplane")
	}
	em, err := controlplane.New(cpOpts)
	if err != nil {
		return err
	}
	e.ControlPlanes = em
	em.Attach(e.Sim.Sim)
	e.logf("tenant control planes emulated with the binaries in %s", assets)
	return nil
}

// webhookServing returns where the control plane sends admission requests
// and the directory of the serving certificate (tls.crt, tls.key).
func (e *Env) webhookServing() (host string, port int, certDir string) {
	w := e.cp.WebhookInstallOptions
	return w.LocalServingHost, w.LocalServingPort, w.LocalServingCertDir
}

// logf writes a progress line to Options.Log.
func (e *Env) logf(format string, args ...any) {
	if e.logw != nil {
		_, _ = fmt.Fprintf(e.logw, "harness: "+format+"\n", args...)
	}
}

// errorLogger logs only errors to Options.Log: the join emulator's
// information lines would drown the harness's own.
func (e *Env) errorLogger(name string) logr.Logger {
	if e.logw == nil {
		return logr.Discard()
	}
	w := e.logw
	return funcr.New(func(prefix, args string) {
		if strings.Contains(args, `"error"=`) {
			_, _ = fmt.Fprintf(w, "harness: %s %s\n", prefix, args)
		}
	}, funcr.Options{}).WithName(name)
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }
