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

package harness_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// TestStartKillRestart brings the whole environment up, checks that each
// part answers (the manager reconciles, its webhook admits and refuses, its
// metrics are served), then kills the manager with SIGKILL and restarts it.
func TestStartKillRestart(t *testing.T) {
	// The test's client reports the API server's warnings (webhook advice)
	// through controller-runtime's logger.
	ctrllog.SetLogger(funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{}))
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	env, err := harness.Start(ctx, harness.Options{Log: testWriter{t}})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { g.Expect(env.Stop()).To(Succeed()) }()

	g.Expect(env.Kubeconfig).To(BeAnExistingFile())
	pid := env.Manager.PID()
	g.Expect(pid).To(BeNumerically(">", 0))
	mem, err := env.Manager.Memory()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mem.RSS).To(BeNumerically(">", 1<<20))
	g.Expect(mem.PeakRSS).To(BeNumerically(">=", mem.RSS))

	// A Gateway without adopted machines or VIP takes no machine: its
	// default CloudAccount being validated proves manager → API server → MAAS.
	prep, err := env.PrepareGateway(ctx, harness.GatewayPrep{NoPKI: true})
	g.Expect(err).NotTo(HaveOccurred())
	gw := prep.Gateway()
	gw.Spec.ControlPlaneEndpoint = ""
	g.Expect(env.Client.Create(ctx, gw)).To(Succeed())
	g.Expect(gw.Spec.Replicas).To(BeEquivalentTo(1), "the mutating webhook (or schema default) set replicas")
	accountValid := func(g Gomega) {
		a := &infrav1.CloudAccount{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: prep.Namespace, Name: gw.Name + "-default"}, a)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(a.Status.Conditions, infrav1.ConditionReady)).To(BeTrue())
	}
	g.Eventually(accountValid).Should(Succeed())
	g.Expect(env.Sim.Counts()).NotTo(BeEmpty(), "the manager talked to the simulator")

	// The validating webhook answers: a second Gateway is refused (one per cluster).
	second := prep.Gateway()
	second.Name = "another"
	err = env.Client.Create(ctx, second)
	g.Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("admission webhook"))

	metrics, err := env.Manager.Scrape(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(metrics).To(ContainSubstring("controller_runtime_reconcile_total"))

	// SIGKILL: the process is gone at once, and nothing answers.
	exited := env.Manager.Exited()
	g.Expect(env.Manager.Kill()).To(Succeed())
	g.Expect(exited).To(BeClosed())
	g.Expect(env.Manager.Running()).To(BeFalse())
	_, err = os.Stat("/proc/" + strconv.Itoa(pid))
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "process %d still exists", pid)
	_, err = env.Manager.Scrape(ctx)
	g.Expect(err).To(HaveOccurred())

	// Restart: a new process on the same ports, which reconciles again.
	g.Expect(env.Manager.Restart(ctx)).To(Succeed())
	g.Expect(env.Manager.PID()).NotTo(BeZero())
	g.Expect(env.Manager.PID()).NotTo(Equal(pid))
	g.Expect(env.Manager.Starts()).To(Equal(2))
	g.Eventually(accountValid).Should(Succeed())
	g.Expect(env.Client.Delete(ctx, gw)).To(Succeed())
	// A restarted manager first syncs every cache and validates the account
	// again; under the load of the whole make test that took over 30 s once.
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(gw), &infrav1.Gateway{}))
	}).WithTimeout(2*time.Minute).Should(BeTrue(), "the restarted manager removed its finalizer")

	log, err := os.ReadFile(env.Manager.LogPath())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Count(string(log), "=== harness: start")).To(Equal(2))
	g.Expect(string(log)).NotTo(ContainSubstring(env.APIKey), "no secret in the manager's log")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
