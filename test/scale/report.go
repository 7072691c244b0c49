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

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

const mib = 1 << 20

// Budgets of DESIGN.md §6 the figures are held against.
const (
	budgetRequestsPerMachine = 4.0
	budgetOverheadRatio      = 1.05
	budgetRSSMiB             = 200.0
	budgetWebhookP99ms       = 20.0
)

func verdict(ok bool) string { return either(ok, "meets", "MISSES") }

// passOver is the verdict on a budget a figure may exceed.
func passOver(ok bool) string { return either(ok, "PASS", "OVER") }

func either(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func printBench(r benchResult) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fprintf(w, "\n%d TenantClusters × %d machines (sim deploy %s, release %s; poll %s)\t\t\t\n", r.Clusters,
		r.PerCluster, r.DeployTime, r.ReleaseTime, r.Poll)
	fprintln(w, "figure\tvalue\tbudget (DESIGN §6)\t")
	fprintf(w, "MAAS requests per machine deployed\t%.2f (min %.0f)\t≤ %.0f: %s\t\n", r.Create.PerMachine,
		r.Create.Minimum,
		budgetRequestsPerMachine, verdict(r.Create.PerMachine <= budgetRequestsPerMachine))
	fprintf(w, "MAAS requests per machine released\t%.2f (min %.0f)\t-\t\n", r.Delete.PerMachine, r.Delete.Minimum)
	fprintf(w, "convergence / sim deploy time\t%.2f (%.1fs / %.1fs)\t≤ %.2f: %s\t\n", r.Create.Ratio,
		r.Create.WallSeconds, r.Create.PhysicalSeconds,
		budgetOverheadRatio, verdict(r.Create.Ratio <= budgetOverheadRatio))
	fprintf(w, "  per cluster, median / worst\t%.2f / %.2f\t\t\n", r.Create.PerClusterP50, r.Create.PerClusterMax)
	fprintf(w,
		"  median cluster: 1st allocate / last deploy start / last Deployed / Running\t%.1f / %.1f / %.1f / %.1f s\t\t\n",
		r.Timeline.FirstAllocate, r.Timeline.LastDeployStart, r.Timeline.LastDeployed, r.Timeline.Running)
	fprintf(w, "deletion / sim release time\t%.2f (%.1fs / %.1fs)\t-\t\n", r.Delete.Ratio, r.Delete.WallSeconds,
		r.Delete.PhysicalSeconds)
	fprintf(w, "Deployed → recorded delay p50/p99/max\t%.0f / %.0f / %.0f ms (%d never)\t-\t\n", r.RecordP50ms,
		r.RecordP99ms, r.RecordMaxms, r.Unrecorded)
	fprintf(w, "K8s API requests per cluster (create / delete)\t%.1f / %.1f\t-\t\n", r.Create.KubePerCluster,
		r.Delete.KubePerCluster)
	fprintf(w, "reconciles per cluster (create / delete)\t%.1f / %.1f\t-\t\n", r.Create.ReconcilesPerTC,
		r.Delete.ReconcilesPerTC)
	fprintf(w, "reconcile errors (create / delete)\t%.0f / %.0f\t-\t\n", r.Create.ReconcileErrors,
		r.Delete.ReconcileErrors)
	if r.Idle != nil {
		fprintf(w,
			"manager with %d foreign Secrets of %d KiB, no cluster: peak RSS since start / settled\t%.0f / %.0f MiB\t-\t\n",
			r.Idle.ForeignSecrets, r.Idle.SecretBytes>>10, float64(r.Idle.PeakRSS)/mib, float64(r.Idle.RSS)/mib)
	}
	rss := float64(r.PeakRSS) / mib
	fprintf(w,
		"manager peak RSS / heap in use / Go sys\t%.0f / %.0f / %.0f MiB\t≤ %.0f MiB RSS at 1000 clusters: %s\t\n",
		rss, r.PeakHeap/mib, r.PeakGoSys/mib,
		budgetRSSMiB, verdict(rss <= budgetRSSMiB))
	for _, wr := range r.Webhooks {
		name := strings.TrimPrefix(wr.Path, "/")
		name, _, _ = strings.Cut(name, "-infra")
		budget := "-"
		if wr.Mode == "burst" {
			budget = fmt.Sprintf("≤ %.0f ms p99: %s", budgetWebhookP99ms, verdict(wr.P99ms <= budgetWebhookP99ms))
		}
		fprintf(w, "webhook %s p50 / p99, %d concurrent (%s)\t%.1f / %.1f ms (%.0f/s, %d errors)\t%s\t\n", name,
			wr.Concurrency, wr.Mode,
			wr.P50ms, wr.P99ms, wr.PerSecond, wr.Errors, budget)
	}
	for _, p := range []struct {
		name string
		ph   phaseResult
	}{{"create", r.Create}, {"delete", r.Delete}} {
		fprintf(w,
			"simulator during %s: served / achieved / capacity\t"+
				"%d req, %.0f req/s, %.0f req/s per core (mean %v, max %v)\t-\t\n", p.name,
			p.ph.Sim.Requests, p.ph.SimAchievedPerSec, p.ph.Sim.PerSecond(), p.ph.Sim.Mean(), p.ph.Sim.Max)
	}
	fprintf(w,
		"audit: machines / owned / orphans / duplicates / leaks\t%d / %d / %d / %d / %d\t0 orphans, no secret: %s\t\n",
		r.Audit.Machines, r.Audit.Owned,
		len(r.Audit.Orphans)+len(r.Audit.Foreign), len(r.Audit.Duplicates), len(r.Audit.Leaks), verdict(!r.Audit.failed()))
	_ = w.Flush()
	for _, p := range []struct {
		name string
		ph   phaseResult
	}{{"create", r.Create}, {"delete", r.Delete}} {
		fmt.Printf("\nMAAS requests during %s (%d machines):\n", p.name, p.ph.Machines)
		printRequests(p.ph.Requests, p.ph.Machines)
		fmt.Printf("K8s API requests by verb: %s\n", fmtFloats(p.ph.KubeRequests))
		fmt.Printf("reconciles by controller: %s\n", fmtFloats(p.ph.Reconciles))
	}
	printAuditDetail("audit", r.Audit)
}

func printRequests(req map[string]int, machines int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	keys := slices.Collect(maps.Keys(req))
	slices.SortFunc(keys, func(a, b string) int { return req[b] - req[a] })
	for _, k := range keys {
		per := 0.0
		if machines > 0 {
			per = float64(req[k]) / float64(machines)
		}
		fprintf(w, "  %s\t%d\t%.2f per machine\t\n", k, req[k], per)
	}
	_ = w.Flush()
}

func fmtFloats(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s=%.0f", k, m[k]))
		}
	}
	return strings.Join(parts, " ")
}

func printAuditDetail(name string, a auditReport) {
	for _, l := range []struct {
		what  string
		items []string
	}{{"foreign", a.Foreign}, {"orphan", a.Orphans}, {"duplicate", a.Duplicates}, {"unsettled",
		a.Unsettled}, {"missing", a.Missing}, {"leak", a.Leaks}, {"orphaned address", a.OrphanAddresses}} {
		for i, it := range l.items {
			if i == 20 {
				fmt.Printf("%s: %s: … %d more\n", name, l.what, len(l.items)-20)
				break
			}
			fmt.Printf("%s: %s: %s\n", name, l.what, it)
		}
	}
}

func printChaos(r chaosResult) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fprintf(w, "\nchaos: %d TenantClusters × %d machines\t\t\n", r.Clusters, r.PerCluster)
	fprintf(w, "manager SIGKILLs / starts\t%d / %d\t\n", r.Kills, r.Starts)
	fprintf(w, "faults\t%s; stuck release on %s\t\n", r.Faults, r.StuckMachine)
	fprintf(w, "resized / rolled / deleted during the kills\t%d / %d / %d\t\n", len(r.Resized), len(r.Rolled),
		len(r.Deleted))
	fprintf(w, "failed deployments / failed releases seen\t%d / %d\t\n", r.DeployFailures, r.ReleaseFailed)
	fprintf(w, "converged after the faults were lifted in\t%s\t\n", r.ConvergedIn)
	for _, a := range []struct {
		name string
		a    auditReport
	}{{"audit (converged)", r.AuditLive}, {"audit (all deleted)", r.AuditFinal}} {
		fprintf(w, "%s: machines / owned / free\t%d / %d / %d\t\n", a.name, a.a.Machines, a.a.Owned, a.a.Free)
		fprintf(w, "%s: foreign / orphans / duplicates / unsettled / missing\t%d / %d / %d / %d / %d\t\n", a.name,
			len(a.a.Foreign), len(a.a.Orphans), len(a.a.Duplicates), len(a.a.Unsettled), len(a.a.Missing))
		fprintf(w, "%s: secret leaks (values checked, bytes searched)\t%d (%d, %d)\t\n", a.name, len(a.a.Leaks),
			a.a.SecretsChecked, a.a.HaystackBytes)
		fprintf(w, "%s: reserved addresses and ranges / orphaned\t%d / %d\t\n", a.name, a.a.Reservations,
			len(a.a.OrphanAddresses))
	}
	for _, ch := range r.Checks {
		res := "PASS"
		if !ch.Passed {
			res = "FAIL"
		}
		fprintf(w, "check: %s\t%s in %s\t\n", ch.Name, res, ch.Took)
	}
	_ = w.Flush()
	for _, ch := range r.Checks {
		for _, d := range ch.Detail {
			fmt.Printf("check %q: %s\n", ch.Name, d)
		}
	}
	printAuditDetail("audit (converged)", r.AuditLive)
	printAuditDetail("audit (all deleted)", r.AuditFinal)
	if r.ControlPlanes != nil {
		printControlPlaneChaos(*r.ControlPlanes)
	}
	total := 0
	for _, v := range r.Requests {
		total += v
	}
	per := 0.0
	if r.Deployments > 0 {
		per = float64(total) / float64(r.Deployments)
	}
	fmt.Printf("\nMAAS requests during the chaos workload: %d, %.2f per machine brought to Deployed (%d deployments):\n",
		total, per, r.Deployments)
	printRequests(r.Requests, r.Deployments)
}

// fprintf and fprintln write to a tabwriter, whose errors surface at Flush.
func fprintf(w io.Writer, format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) }

func fprintln(w io.Writer, a ...any) { _, _ = fmt.Fprintln(w, a...) }

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func printControlPlaneChaos(r controlPlaneChaos) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fprintf(w, "\nchaos, control planes: %d clusters × %d real control-plane machines (%s)\t\t\n", len(r.Clusters),
		cpSize, strings.Join(r.Strategies, ", "))
	fprintf(w, "rolled (%s) under SIGKILLs\t%d kills, rolled in %s\t\n", r.Rolled, r.Kills, r.RolledIn)
	fprintf(w, "etcd member reads during the roll / failed\t%d / %d\t\n", r.Samples, r.ReadErrors)
	for _, name := range slices.Sorted(maps.Keys(r.MaxMembers)) {
		fprintf(w, "most members seen in %s\t%d\t\n", name, r.MaxMembers[name])
	}
	for _, ch := range r.Checks {
		res := "PASS"
		if len(ch.Problems) > 0 {
			res = "FAIL: " + strings.Join(ch.Problems, "; ")
		}
		fprintf(w, "etcd after %s, %s: members / reachable\t%d / %d\t%s\t\n", ch.At, ch.Cluster, ch.Members,
			ch.Reachable, res)
	}
	a := r.Audit
	fprintf(w, "audit: machines / owned / orphans / duplicates / unsettled / missing / leaks\t"+
		"%d / %d / %d / %d / %d / %d / %d\t\n", a.Machines, a.Owned, len(a.Orphans)+len(a.Foreign), len(a.Duplicates),
		len(a.Unsettled), len(a.Missing), len(a.Leaks))
	verdict := "PASS"
	if r.failed() {
		verdict = "FAIL"
	}
	fprintf(w, "check: quorum at every moment, member count after every kill and at the end\t%s\t\n", verdict)
	_ = w.Flush()
	if r.Error != "" {
		fmt.Printf("chaos, control planes: %s\n", r.Error)
	}
	for _, v := range r.Violations {
		fmt.Printf("chaos, control planes: %s\n", v)
	}
	printAuditDetail("audit (control planes)", a)
}
