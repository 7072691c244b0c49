// Command maas-sim serves a simulated MAAS 2.0 API for development, demos
// and end-to-end tests: machines with MAAS's states and timings, OAuth API
// keys, fault injection, request counters (/metrics) and an admin API
// (/sim/). See package internal/maassim. With -join-kubeconfig, deployed
// machines whose user data asks to join a cluster appear as Nodes in it
// (package internal/joinemu).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// say writes a line of output; there is nothing useful to do when the
// terminal is gone.
func say(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("maas-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen       = fs.String("listen", "127.0.0.1:5240", "address to serve on")
		inventory    = fs.String("inventory", "", "YAML inventory file (default: the built-in 24 machines)")
		generate     = fs.Int("generate", 0, "generate this many machines instead of an inventory")
		seed         = fs.Int64("seed", 1, "seed for every random choice")
		adminUser    = fs.String("admin-user", "admin", "name of the admin user")
		adminKey     = fs.String("admin-key", maassim.DefaultAPIKey, "API key of the admin user (consumer:token:secret)")
		maasVersion  = fs.String("maas-version", maassim.DefaultMAASVersion, "MAAS version to report")
		showVersion  = fs.Bool("version", false, "print the version and exit")
		users        listFlag
		zones, pools listFlag
		subnets      listFlag
		failDeploy   listFlag
		stuckRelease listFlag
		t            maassim.Timings
		f            maassim.Faults
		join         joinOptions
		cp           controlPlaneOptions
	)
	fs.Var(&users, "user", "extra non-admin user (repeatable); its generated key is printed")
	fs.Var(&zones, "zone", "extra zone to create (repeatable)")
	fs.Var(&pools, "pool", "extra resource pool to create (repeatable)")
	fs.Var(&subnets, "subnet", "extra subnet CIDR MAAS knows, e.g. for VIPs to be reserved in (repeatable; "+
		"without -inventory the default VIP subnets are there too)")
	fs.DurationVar(&t.DeployTime, "deploy-time", 30*time.Second, "time a deployment takes")
	fs.DurationVar(&t.DeployJitter, "deploy-jitter", 10*time.Second, "deployments vary by up to this much either way")
	fs.DurationVar(&t.ReleaseTime, "release-time", 5*time.Second, "time a release takes when the machine must power off")
	fs.DurationVar(&t.ReleaseJitter, "release-jitter", time.Second, "release time varies by up to this much either way")
	fs.DurationVar(&t.EraseTime, "erase-time", time.Minute, "time a full disk erase takes")
	fs.DurationVar(&t.QuickEraseTime, "quick-erase-time", 10*time.Second, "time a quick disk erase takes")
	eraseOnRelease := fs.Bool("erase-on-release", false, "erase disks on every release")
	fs.DurationVar(&f.Latency, "latency", 0, "added latency on every API request")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "probability that an API request fails")
	fs.IntVar(&f.ErrorStatus, "error-status", 503, "HTTP status of injected failures")
	fs.IntVar(&f.RetryAfter, "retry-after", 0, "Retry-After seconds sent with injected failures (0: none)")
	fs.Float64Var(&f.FailDeployRate, "fail-deploy-rate", 0, "probability that a deployment fails")
	fs.Var(&failDeploy, "fail-deploy", "machines (hostname or system ID) whose deployments fail")
	fs.Float64Var(&f.StuckReleaseRate, "stuck-release-rate", 0, "probability that a release never completes")
	fs.Var(&stuckRelease, "stuck-release", "machines whose releases never complete")
	fs.BoolVar(&f.StuckReleaseFails, "stuck-release-fails", false,
		"stuck releases end in 'Releasing failed' instead of staying Releasing")
	fs.BoolVar(&f.ExhaustCapacity, "exhaust", false, "answer every allocation with 409 as if nothing matched")
	join.register(fs)
	cp.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		say(stderr, "maas-sim: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := join.check(fs); err != nil {
		say(stderr, "maas-sim: %v\n", err)
		return 2
	}
	if err := cp.check(); err != nil {
		say(stderr, "maas-sim: %v\n", err)
		return 2
	}
	if *showVersion {
		say(stdout, "%s (simulates MAAS %s)\n", version.String("maas-sim"), *maasVersion)
		return 0
	}
	f.FailDeploy, f.StuckRelease = failDeploy, stuckRelease

	cfg := maassim.Config{
		Zones: zones, Pools: pools, Timings: t, EraseOnRelease: *eraseOnRelease,
		Faults: f, Seed: *seed, MAASVersion: *maasVersion,
		Users: []maassim.User{{Name: *adminUser, Admin: true, APIKey: *adminKey}},
	}
	for _, u := range users {
		cfg.Users = append(cfg.Users, maassim.User{Name: u})
	}
	switch {
	case *inventory != "" && *generate > 0:
		say(stderr, "maas-sim: use either -inventory or -generate\n")
		return 2
	case *inventory != "":
		inv, err := maassim.LoadInventoryFile(*inventory)
		if err != nil {
			say(stderr, "maas-sim: %v\n", err)
			return 1
		}
		cfg.Inventory, cfg.Subnets = inv.Machines, inv.Subnets
	case *generate > 0:
		cfg.Inventory = maassim.GenerateInventory(*generate, *seed)
	default:
		cfg.Inventory = maassim.DefaultInventory()
	}
	if *inventory == "" {
		cfg.Subnets = maassim.DefaultSubnets()
	}
	for _, c := range subnets {
		cfg.Subnets = append(cfg.Subnets, maassim.SubnetSpec{CIDR: c})
	}
	if cp.binDir != "" {
		cfg.Inventory = maassim.Loopback(cfg.Inventory)
	}

	sim, err := maassim.New(cfg)
	if err != nil {
		say(stderr, "maas-sim: %v\n", err)
		return 1
	}
	defer sim.Close()
	if join.kubeconfig != "" {
		stopJoin, err := join.attach(sim, stderr)
		if err != nil {
			say(stderr, "maas-sim: %v\n", err)
			return 1
		}
		defer stopJoin()
	}
	if cp.binDir != "" {
		closeCP, err := cp.attach(sim, join.endpoint, stderr)
		if err != nil {
			say(stderr, "maas-sim: %v\n", err)
			return 1
		}
		defer closeCP()
	}
	srv, err := maassim.Serve(sim, *listen)
	if err != nil {
		say(stderr, "maas-sim: %v\n", err)
		return 1
	}
	say(stdout, "maas-sim %s: MAAS API at %s (%d machines)\n", version.Version, srv.URL, len(sim.Machines()))
	say(stdout, "maas-sim: metrics at http://%s/metrics, admin API at http://%s/sim/ "+
		"(off loopback: an admin's key in %s)\n", srv.Addr(), srv.Addr(), maassim.AdminKeyHeader)
	if *adminKey == maassim.DefaultAPIKey && !loopbackOnly(srv.Addr()) {
		// The key protects the admin API (user data with CA keys, other
		// users' keys) and the MAAS API; the built-in one is in the source.
		say(stderr, "maas-sim: warning: listening on %s beyond loopback with the built-in admin key: "+
			"whoever reaches it can use the admin API; pass -admin-key\n", srv.Addr())
	}
	// The keys are the simulator's own test credentials; printing them is
	// how a developer gets one.
	for _, u := range cfg.Users {
		key, _ := sim.APIKey(u.Name)
		say(stdout, "maas-sim: API key for %s: %s\n", u.Name, key)
	}

	<-ctx.Done()
	say(stdout, "maas-sim: shutting down\n")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		say(stderr, "maas-sim: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// loopbackOnly says whether a listening address (host:port) is reachable
// from this host only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// joinOptions are the flags of the kubelet-join emulator.
type joinOptions struct {
	kubeconfig, endpoint, cluster string
	delay                         time.Duration
	notReady, never               listFlag
}

func (o *joinOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "join-kubeconfig", "",
		"kubeconfig of a cluster in which deployed machines whose user data asks to join appear as Nodes (default: off)")
	fs.StringVar(&o.endpoint, "join-endpoint", "", "answer only joins to this control-plane endpoint (IP:port)")
	fs.StringVar(&o.cluster, "join-cluster", "", "answer only joins to this cluster name")
	fs.DurationVar(&o.delay, "join-delay", 0, "time from Deployed to the Node appearing")
	fs.Var(&o.notReady, "join-not-ready", "machines (hostname or system ID) whose Node never becomes Ready")
	fs.Var(&o.never, "join-never", "machines (hostname or system ID) whose Node never appears")
}

// check refuses the other -join flags without -join-kubeconfig, where they
// would silently do nothing.
func (o *joinOptions) check(fs *flag.FlagSet) error {
	if o.kubeconfig != "" {
		return nil
	}
	var orphan string
	fs.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "join-") && orphan == "" {
			orphan = f.Name
		}
	})
	if orphan != "" {
		return fmt.Errorf("-%s needs -join-kubeconfig", orphan)
	}
	return nil
}

// attach runs the emulator on sim against the cluster of o.kubeconfig,
// logging to logs.
func (o *joinOptions) attach(sim *maassim.Sim, logs io.Writer) (stop func(), err error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("join: loading %s: %w", o.kubeconfig, err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("join: client for %s: %w", cfg.Host, err)
	}
	log := funcr.New(func(prefix, args string) { say(logs, "maas-sim: %s %s\n", prefix, args) }, funcr.Options{})
	e, err := joinemu.New(joinemu.Config{
		Client: c, Endpoint: o.endpoint, ClusterName: o.cluster, Delay: o.delay,
		NotReady: o.notReady, NeverJoin: o.never, Log: log.WithName("join"),
	})
	if err != nil {
		return nil, err
	}
	return e.Attach(sim), nil
}

// controlPlaneOptions are the flags of the control-plane emulator.
type controlPlaneOptions struct {
	binDir            string
	controllerManager bool
	joinFails         listFlag
	vips              listFlag
	vipListen         map[string]string
}

func (o *controlPlaneOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.binDir, "control-planes", "",
		"directory of the etcd and kube-apiserver binaries (the envtest assets, $KUBEBUILDER_ASSETS): machines get "+
			"loopback addresses and deployed machines whose user data runs kubeadm start real control planes "+
			"(default: off)")
	fs.BoolVar(&o.controllerManager, "control-plane-controller-manager", false,
		"also run kube-controller-manager's disruption controller beside each emulated API server")
	fs.Var(&o.joinFails, "control-plane-join-fails", "machines (hostname or system ID) whose kubeadm fails")
	fs.Var(&o.vips, "control-plane-vip",
		"VIP:PORT=LISTEN (repeatable): hold a cluster VIP that is not a loopback address at the local LISTEN "+
			"address instead, for a Service whose ClusterIP is the VIP to route to (the kind e2e suite)")
}

// check parses -control-plane-vip.
func (o *controlPlaneOptions) check() error {
	if len(o.vips) == 0 {
		return nil
	}
	if o.binDir == "" {
		return errors.New("-control-plane-vip needs -control-planes")
	}
	o.vipListen = map[string]string{}
	for _, v := range o.vips {
		vip, listen, ok := strings.Cut(v, "=")
		if !ok || vip == "" || listen == "" {
			return fmt.Errorf("-control-plane-vip %q: want VIP:PORT=LISTEN", v)
		}
		o.vipListen[vip] = listen
	}
	return nil
}

// attach runs the control-plane emulator on sim, leaving joins to
// gatewayEndpoint (the -join-endpoint) to the kubelet-join emulator.
func (o *controlPlaneOptions) attach(sim *maassim.Sim, gatewayEndpoint string,
	logs io.Writer) (closeAll func(), err error) {
	log := funcr.New(func(prefix, args string) { say(logs, "maas-sim: %s %s\n", prefix, args) }, funcr.Options{})
	opts := controlplane.Options{
		BinDir: o.binDir, ControllerManager: o.controllerManager, JoinFails: o.joinFails, VIPListen: o.vipListen,
		Log: log.WithName("controlplane"),
	}
	if gatewayEndpoint != "" {
		opts.IgnoreEndpoints = []string{gatewayEndpoint}
	}
	e, err := controlplane.New(opts)
	if err != nil {
		return nil, err
	}
	e.Attach(sim)
	return func() {
		if err := e.Close(); err != nil {
			say(logs, "maas-sim: stopping control planes: %v\n", err)
		}
	}, nil
}
