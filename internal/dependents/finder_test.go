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

package dependents

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	projectenvtest "github.com/maas-gateway/maas-gateway/test/envtest"
)

// The Finder is tested against a real API server: the behaviour under test is
// how the informer cache's namespaced field indexes and the API server's
// paged lists answer, which a fake client would only imitate.
var (
	cfg    *rest.Config
	scheme = runtime.NewScheme()
	live   client.Client
)

func TestMain(m *testing.M) {
	os.Exit(runWithEnv(m))
}

func runWithEnv(m *testing.M) int {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, infrav1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	env, err := projectenvtest.New(projectenvtest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if live, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// startCache starts an informer cache with the package's indexes. A blind
// cache sees no CloudAccount or TenantCluster: it stands for one that has not
// yet received the objects the test just created.
func startCache(t *testing.T, blind bool) cache.Cache {
	t.Helper()
	opts := cache.Options{Scheme: scheme}
	if blind {
		nothing := labels.SelectorFromSet(labels.Set{"test.maasgateway.io/never": "set"})
		opts.ByObject = map[client.Object]cache.ByObject{
			&infrav1alpha1.TenantCluster{}: {Label: nothing},
			&infrav1alpha1.CloudAccount{}:  {Label: nothing},
		}
	}
	c, err := cache.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := SetupIndexes(ctx, c); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return c
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := live.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func namespace(t *testing.T, name string) {
	t.Helper()
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

func account(ns, name string, gw infrav1alpha1.GatewayReference) *infrav1alpha1.CloudAccount {
	return &infrav1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1alpha1.CloudAccountSpec{
			GatewayRef: gw,
			MAASConnection: infrav1alpha1.MAASConnection{
				Endpoint:             "https://10.11.12.13:5443/MAAS",
				CredentialsSecretRef: infrav1alpha1.SecretKeyReference{Name: "maas"},
			},
		},
	}
}

func tenant(ns, name, acct string) *infrav1alpha1.TenantCluster {
	return &infrav1alpha1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1alpha1.TenantClusterSpec{
			CloudAccountRef:      infrav1alpha1.LocalObjectReference{Name: acct},
			Profile:              &infrav1alpha1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
			ControlPlaneEndpoint: "10.11.12.100",
			ControlPlane:         infrav1alpha1.ControlPlanePool{Size: 1},
		},
	}
}

// gateway is a Gateway "gw" of namespace ns allowing accounts from from.
func gateway(ns string, from infrav1alpha1.FromNamespaces) *infrav1alpha1.Gateway {
	return &infrav1alpha1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec: infrav1alpha1.GatewaySpec{AllowedCloudAccounts: infrav1alpha1.AllowedCloudAccounts{
			Namespaces: infrav1alpha1.AccountNamespaces{From: from}}}}
}

func names(deps []Dependent) []string {
	out := make([]string, len(deps))
	for i, d := range deps {
		out[i] = d.String()
	}
	return out
}

func TestFinderThroughIndexes(t *testing.T) {
	ctx := context.Background()
	for _, ns := range []string{"idx-a", "idx-b", "idx-gw"} {
		namespace(t, ns)
	}
	gw := gateway("idx-gw", infrav1alpha1.NamespacesFromAll)
	mustCreate(t, account("idx-a", "acct1", infrav1alpha1.GatewayReference{Name: "gw", Namespace: "idx-gw"}))
	mustCreate(t, account("idx-b", "acct2", infrav1alpha1.GatewayReference{Name: "gw", Namespace: "idx-gw"}))
	mustCreate(t, account("idx-gw", "default", infrav1alpha1.GatewayReference{Name: "gw"}))
	mustCreate(t, account("idx-a", "elsewhere", infrav1alpha1.GatewayReference{Name: "gw"})) // idx-a/gw, another gateway
	mustCreate(t, tenant("idx-a", "t2", "acct1"))
	mustCreate(t, tenant("idx-a", "t1", "acct1"))
	mustCreate(t, tenant("idx-b", "t3", "acct2"))
	mustCreate(t, tenant("idx-gw", "t4", "default"))
	mustCreate(t, tenant("idx-a", "t5", "elsewhere"))
	mustCreate(t, tenant("idx-b", "t6", "acct1")) // acct1 of idx-b does not exist: no dependent

	f := Finder{Cache: startCache(t, false)}
	want := []string{"idx-a/t1", "idx-a/t2", "idx-b/t3", "idx-gw/t4"}
	// The cache sees what the API server stored a moment later.
	gomega.NewWithT(t).Eventually(func() ([]string, error) {
		deps, err := f.OfGateway(ctx, gw)
		return names(deps), err
	}).WithTimeout(10 * time.Second).Should(gomega.Equal(want))
	deps, err := f.OfCloudAccount(ctx, types.NamespacedName{Namespace: "idx-a", Name: "acct1"})
	if err != nil || !slices.Equal(names(deps), []string{"idx-a/t1", "idx-a/t2"}) {
		t.Errorf("OfCloudAccount(idx-a/acct1) = %v, %v", names(deps), err)
	}
	deps, err = f.OfGateway(ctx, gateway("idx-a", ""))
	if err != nil || !slices.Equal(names(deps), []string{"idx-a/t5"}) {
		t.Errorf("OfGateway(idx-a/gw) = %v, %v", names(deps), err)
	}
	// Accounts of namespaces the Gateway does not allow are not used, and
	// do not hold it: only its own namespace's by default.
	if deps, err := f.OfGateway(ctx, gateway("idx-gw", infrav1alpha1.NamespacesFromSame)); err != nil ||
		!slices.Equal(names(deps), []string{"idx-gw/t4"}) {
		t.Errorf("OfGateway(from Same) = %v, %v; want idx-gw/t4", names(deps), err)
	}
	accounts, err := f.CloudAccountsOf(ctx, client.ObjectKeyFromObject(gw))
	wantAccounts := []types.NamespacedName{{Namespace: "idx-a", Name: "acct1"}, {Namespace: "idx-b", Name: "acct2"},
		{Namespace: "idx-gw", Name: "default"}}
	if err != nil || !slices.Equal(accounts, wantAccounts) {
		t.Errorf("CloudAccountsOf = %v, %v", accounts, err)
	}

	// The live path must give the same answer as the indexes.
	lf := Finder{Cache: startCache(t, true), Live: live}
	deps, err = lf.OfGateway(ctx, gw)
	if err != nil || !slices.Equal(names(deps), want) {
		t.Errorf("live OfGateway = %v, %v; want %v", names(deps), err, want)
	}
}

// A cache that has not seen a cluster yet must not let a delete through.
func TestFinderConfirmsEmptyCacheAnswerWithAPIServer(t *testing.T) {
	ctx := context.Background()
	namespace(t, "lag")
	mustCreate(t, account("lag", "acct", infrav1alpha1.GatewayReference{Name: "gw"}))
	mustCreate(t, tenant("lag", "fresh", "acct"))
	stale := startCache(t, true)
	acct := types.NamespacedName{Namespace: "lag", Name: "acct"}
	gw := gateway("lag", "")

	if deps, err := (Finder{Cache: stale}).OfCloudAccount(ctx, acct); err != nil || len(deps) != 0 {
		t.Fatalf("precondition: the stale cache should see nothing, got %v, %v", names(deps), err)
	}
	f := Finder{Cache: stale, Live: live}
	if deps, err := f.OfCloudAccount(ctx, acct); err != nil || !slices.Equal(names(deps), []string{"lag/fresh"}) {
		t.Errorf("OfCloudAccount = %v, %v; want lag/fresh", names(deps), err)
	}
	if deps, err := f.OfGateway(ctx, gw); err != nil || !slices.Equal(names(deps), []string{"lag/fresh"}) {
		t.Errorf("OfGateway = %v, %v; want lag/fresh", names(deps), err)
	}
}

func TestFinderMarksClustersBeingDeleted(t *testing.T) {
	ctx := context.Background()
	namespace(t, "del")
	mustCreate(t, account("del", "acct", infrav1alpha1.GatewayReference{Name: "gw"}))
	tc := tenant("del", "going", "acct")
	tc.Finalizers = []string{"test.maasgateway.io/hold"}
	mustCreate(t, tc)
	if err := live.Delete(ctx, tc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tc.Finalizers = nil
		_ = live.Update(ctx, tc)
	})
	if err := live.Get(ctx, client.ObjectKeyFromObject(tc), tc); err != nil {
		t.Fatal(err)
	}
	f := Finder{Cache: startCache(t, true), Live: live}
	deps, err := f.OfCloudAccount(ctx, types.NamespacedName{Namespace: "del", Name: "acct"})
	if err != nil || len(deps) != 1 || !deps[0].Deleting || deps[0].String() != "del/going (deleting)" {
		t.Errorf("OfCloudAccount = %v, %v; want del/going marked deleting", names(deps), err)
	}
}

// The uncached lists are paged; more clusters than a page must all be found.
func TestFinderPagesLiveLists(t *testing.T) {
	ctx := context.Background()
	namespace(t, "bulk")
	mustCreate(t, account("bulk", "acct", infrav1alpha1.GatewayReference{Name: "gw"}))
	const n = pageSize + 7
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				acct := "acct"
				if i%10 == 0 {
					acct = "other"
				}
				if err := live.Create(ctx, tenant("bulk", fmt.Sprintf("c%04d", i), acct)); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f := Finder{Cache: startCache(t, true), Live: live}
	deps, err := f.OfGateway(ctx, gateway("bulk", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantCount := n - (n+9)/10
	if len(deps) != wantCount {
		t.Errorf("found %d dependents, want %d", len(deps), wantCount)
	}
	if !slices.IsSorted(names(deps)) {
		t.Error("dependents are not sorted")
	}
}
