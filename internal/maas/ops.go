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

package maas

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
)

// Constraints choose the machine allocate takes, from a placement or a node pool.
type Constraints struct {
	Zone       string
	NotInZones []string
	Pool       string
	// Tags must all be on the machine.
	Tags         []string
	MinCPU       int
	MinMemoryMiB int64
	// MinDiskGiB is the minimum size of the root (first) disk.
	MinDiskGiB int64
}

// storageConstraint renders MinDiskGiB in MAAS's storage syntax
// "label:size(tags)", whose size is in decimal gigabytes: round up so the
// disk MAAS picks has at least MinDiskGiB binary gigabytes.
func (c Constraints) storageConstraint() string {
	const bytesPerGB = 1_000_000_000
	gb := (c.MinDiskGiB<<30 + bytesPerGB - 1) / bytesPerGB
	return "root:" + strconv.FormatInt(gb, 10)
}

// allocateParams renders the constraints as MAAS allocate parameters.
func (c Constraints) allocateParams() *entity.MachineAllocateParams {
	p := &entity.MachineAllocateParams{
		Zone:      c.Zone,
		NotInZone: c.NotInZones,
		Pool:      c.Pool,
		Tags:      c.Tags,
		CPUCount:  c.MinCPU,
		Mem:       c.MinMemoryMiB,
	}
	if c.MinDiskGiB > 0 {
		p.Storage = []string{c.storageConstraint()}
	}
	return p
}

func (c Constraints) validate() error {
	if c.MinCPU < 0 || c.MinMemoryMiB < 0 || c.MinDiskGiB < 0 {
		return fmt.Errorf("constraints must not be negative")
	}
	if c.MinDiskGiB > 1<<30 {
		return fmt.Errorf("minimum disk size is out of range")
	}
	return nil
}

// AllocateRequest asks for one machine for Owner.
type AllocateRequest struct {
	// AgentName is the installation's identity, stored by MAAS with the allocation.
	AgentName string
	Owner     Owner
	// Comment is recorded in the machine's MAAS event log; empty means one naming Owner.
	Comment     string
	Constraints Constraints
}

// ValidateAgentName checks an installation identity before MAAS sees it.
func ValidateAgentName(agentName string) error {
	if agentName == "" || len(agentName) > 255 {
		return fmt.Errorf("agent name must be 1 to 255 characters long")
	}
	for i := 0; i < len(agentName); i++ {
		c := agentName[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("agent name may contain only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// Available asks MAAS, with a dry-run allocation, whether a machine
// matching c could be allocated now. Nothing is allocated. Only the
// operator's own machines are listed by the inventory, so this is how a
// caller learns whether MAAS has a spare machine.
func (c *Client) Available(ctx context.Context, k Constraints) (bool, error) {
	const op = opAllocate // its 409 means no capacity, as for a real allocation
	if err := k.validate(); err != nil {
		return false, refusal(ClassInvalid, op, "", err.Error())
	}
	params := k.allocateParams()
	params.DryRun = true
	err := c.call(ctx, callSpec{op: op, idempotent: true}, func(gc *client.Client) error {
		_, err := gc.Machines.Allocate(params)
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case IsNoCapacity(err):
		return false, nil
	}
	return false, err
}

// Allocate takes a Ready machine matching req.Constraints, marks it with
// req.AgentName and a comment, and annotates it with req.Owner at once.
// No capacity is ClassNoCapacity with MAAS's message naming the constraints.
//
// If annotating fails, the error is returned together with the machine,
// which is allocated but unclaimed: not lost, because the inventory lists
// it for Adopt, or for release by ReleasableUnclaimed once its grace has passed.
func (c *Client) Allocate(ctx context.Context, req AllocateRequest) (Machine, error) {
	const op = opAllocate
	if err := ValidateAgentName(req.AgentName); err != nil {
		return Machine{}, refusal(ClassInvalid, op, "", err.Error())
	}
	if err := req.Owner.validate(); err != nil {
		return Machine{}, refusal(ClassInvalid, op, "", err.Error())
	}
	if err := req.Constraints.validate(); err != nil {
		return Machine{}, refusal(ClassInvalid, op, "", err.Error())
	}
	comment := req.Comment
	if comment == "" {
		comment = "maas-gateway: for " + req.Owner.String()
		if req.Owner.Pool != "" {
			comment += " pool " + req.Owner.Pool
		}
	}
	k := req.Constraints
	params := k.allocateParams()
	params.AgentName, params.Comment = req.AgentName, comment
	var allocated *entity.Machine
	err := c.call(ctx, callSpec{op: op}, func(gc *client.Client) error {
		var err error
		allocated, err = gc.Machines.Allocate(params)
		return err
	})
	if err != nil {
		return Machine{}, err
	}
	m := machineFromEntity(allocated)
	annotated, err := c.annotate(ctx, m.SystemID, req.Owner)
	if err != nil {
		e := newError("annotate", m.SystemID, err)
		return m, &Error{
			Class: e.Class, Op: op, SystemID: m.SystemID, StatusCode: e.StatusCode,
			Message: "allocated but not annotated, so unclaimed until adopted: " + e.Message,
			Err:     e,
		}
	}
	return annotated, nil
}

// Adopt claims an unclaimed machine of the installation for owner (or
// updates the pool and slot of a machine owner already holds). A machine
// claimed by another object is ClassConflict; one without agentName is
// ClassNotOwned. Repeating Adopt is harmless.
func (c *Client) Adopt(ctx context.Context, agentName, systemID string, owner Owner) (Machine, error) {
	const op = "adopt"
	if err := owner.validate(); err != nil {
		return Machine{}, refusal(ClassInvalid, op, systemID, err.Error())
	}
	m, err := c.requireOwned(ctx, op, agentName, systemID)
	if err != nil {
		return Machine{}, err
	}
	return c.adoptOwned(ctx, m, owner)
}

func (c *Client) adoptOwned(ctx context.Context, m Machine, owner Owner) (Machine, error) {
	if m.Owner != nil {
		if !m.Owner.SameObject(owner) {
			return Machine{}, refusal(ClassConflict, "adopt", m.SystemID, "machine is already claimed by "+m.Owner.String())
		}
		if m.Owner.sameMarks(owner) {
			return m, nil
		}
	}
	return c.annotate(ctx, m.SystemID, owner)
}

func (c *Client) annotate(ctx context.Context, systemID string, owner Owner) (Machine, error) {
	var out *entity.Machine
	err := c.call(ctx, callSpec{op: "annotate", systemID: systemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.Machine.SetWorkloadAnnotations(systemID, owner.annotations())
		return err
	})
	if err != nil {
		return Machine{}, err
	}
	return machineFromEntity(out), nil
}

// SetDomain registers an owned machine's hostname in the DNS domain
// (placement's domain: MAAS's allocate cannot choose it). Nothing is sent
// when the machine is already there. It needs a key allowed to edit
// machines (MAAS admins).
func (c *Client) SetDomain(ctx context.Context, agentName, systemID, domain string) (Machine, error) {
	const op = "set domain"
	m, err := c.requireOwned(ctx, op, agentName, systemID)
	if err != nil || m.Domain == domain {
		return m, err
	}
	var out *entity.Machine
	err = c.call(ctx, callSpec{op: op, systemID: systemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.Machine.Update(systemID, &entity.MachineUpdateParams{Domain: domain}, nil)
		return err
	})
	if err != nil {
		return Machine{}, err
	}
	return machineFromEntity(out), nil
}

// DeployParams say what to install on a machine.
type DeployParams struct {
	// OSystem ("ubuntu", "custom", …) and DistroSeries ("jammy", or a
	// custom image's name) name the image; DistroSeries is required so that
	// a repeated Deploy can tell the same image from another.
	OSystem      string
	DistroSeries string
	// UserData is the cloud-init user data, sent base64-encoded.
	UserData  []byte
	HWEKernel string
	Comment   string
}

// Image is the image as MAAS's distro_series accepts it: "osystem/series".
func (p DeployParams) Image() string {
	if p.OSystem == "" {
		return p.DistroSeries
	}
	return p.OSystem + "/" + p.DistroSeries
}

func (p DeployParams) sameImage(m Machine) bool {
	return m.DistroSeries == p.DistroSeries && (p.OSystem == "" || m.OSystem == p.OSystem)
}

// Deploy installs p's image on an owned machine. A machine already
// Deploying or Deployed with the same image is success, not a 409; one
// with another image, or in a state deploy cannot leave (Failed
// deployment…), is ClassConflict; one without agentName is ClassNotOwned.
func (c *Client) Deploy(ctx context.Context, agentName, systemID string, p DeployParams) (Machine, error) {
	const op = "deploy"
	if p.DistroSeries == "" {
		return Machine{}, refusal(ClassInvalid, op, systemID, "deploy needs a distro series")
	}
	m, err := c.requireOwned(ctx, op, agentName, systemID)
	if err != nil {
		return Machine{}, err
	}
	return c.deployOwned(ctx, agentName, m, p)
}

// deployOwned deploys m, known to carry agentName, as last seen.
func (c *Client) deployOwned(ctx context.Context, agentName string, m Machine, p DeployParams) (Machine, error) {
	const op = "deploy"
	if done, err := deployProgress(m, p); done || err != nil {
		return m, err
	}
	params := &entity.MachineDeployParams{
		DistroSeries: p.Image(),
		HWEKernel:    p.HWEKernel,
		AgentName:    agentName,
		Comment:      p.Comment,
	}
	if len(p.UserData) > 0 {
		params.UserData = base64.StdEncoding.EncodeToString(p.UserData)
	}
	var out *entity.Machine
	err := c.call(ctx, callSpec{op: op, systemID: m.SystemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.Machine.Deploy(m.SystemID, params)
		return err
	})
	if err == nil {
		return machineFromEntity(out), nil
	}
	if !IsConflict(err) {
		return Machine{}, err
	}
	// Our view was stale (or an earlier attempt did reach MAAS): judge by
	// the machine's state now.
	now, rerr := c.requireOwned(ctx, op, agentName, m.SystemID)
	if rerr != nil {
		return Machine{}, err
	}
	if done, derr := deployProgress(now, p); done || derr != nil {
		return now, derr
	}
	return Machine{}, err
}

// deployProgress says whether deploying p on m is already done (in progress
// or finished with the same image), impossible (an error), or still to do.
func deployProgress(m Machine, p DeployParams) (bool, error) {
	switch m.Status {
	case StatusAllocated:
		return false, nil
	case StatusDeploying, StatusDeployed:
		if p.sameImage(m) {
			return true, nil
		}
		return false, refusal(ClassConflict, "deploy", m.SystemID,
			fmt.Sprintf("machine is %s with %s, not %s; release it first", m.StatusName, m.Image(), p.Image()))
	}
	return false, refusal(ClassConflict, "deploy", m.SystemID,
		fmt.Sprintf("cannot deploy a machine that is %s", statusLabel(m)))
}

func statusLabel(m Machine) string {
	if m.StatusName != "" {
		return m.StatusName
	}
	return m.Status.String()
}

// ReleaseParams say how to release a machine.
type ReleaseParams struct {
	Comment string
	// Erase wipes the disks before the machine returns to Ready;
	// QuickErase wipes only their first and last megabytes.
	Erase      bool
	QuickErase bool
}

// Release returns an owned machine to MAAS. MAAS clears agent_name as
// soon as a release begins, so a repeated Release finds the machine
// Releasing (or already Ready) and no longer listed as ours: that is
// success, and the machine is left alone. A machine still erasing its disks
// is ours and underway: success too. Any other machine without agentName
// is ClassNotOwned; one MAAS no longer knows is ClassNotFound, which a
// finalizer may take as released.
func (c *Client) Release(ctx context.Context, agentName, systemID string, p ReleaseParams) (Machine, error) {
	const op = "release"
	m, owned, err := c.ownedMachine(ctx, op, agentName, systemID)
	if err != nil {
		return Machine{}, err
	}
	if !owned {
		return c.settledElsewhere(ctx, op, systemID)
	}
	if releaseUnderway(m.Status) {
		return m, nil
	}
	out, err := c.release(ctx, systemID, p)
	if err == nil {
		return out, nil
	}
	if !IsConflict(err) {
		return Machine{}, err
	}
	now, owned, rerr := c.ownedMachine(ctx, op, agentName, systemID)
	switch {
	case rerr != nil:
		return Machine{}, err
	case !owned:
		return c.settledElsewhere(ctx, op, systemID)
	case releaseUnderway(now.Status):
		return now, nil
	}
	return Machine{}, err
}

// RetryRelease releases again a machine whose release this installation
// began and MAAS failed (Failed releasing). MAAS cleared its agent_name when
// the release began, so ownership cannot be checked here: the caller knows
// the machine from its own record. Any other state is left alone.
func (c *Client) RetryRelease(ctx context.Context, systemID string, p ReleaseParams) (Machine, error) {
	m, err := c.Machine(ctx, systemID)
	if err != nil || m.Status != StatusFailedReleasing {
		return m, err
	}
	return c.release(ctx, systemID, p)
}

// release asks MAAS to release a machine, without checking whose it is.
func (c *Client) release(ctx context.Context, systemID string, p ReleaseParams) (Machine, error) {
	params := &entity.MachineReleaseParams{Comment: p.Comment, Erase: p.Erase, QuickErase: p.QuickErase}
	var out *entity.Machine
	err := c.call(ctx, callSpec{op: "release", systemID: systemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.Machine.Release(systemID, params)
		return err
	})
	if err != nil {
		return Machine{}, err
	}
	return machineFromEntity(out), nil
}

func releaseUnderway(s Status) bool {
	return s == StatusReady || s == StatusReleasing || s == StatusDiskErasing
}

// settledElsewhere handles a machine MAAS no longer lists under our
// agent_name: fine if it is on its way back to the pool or there already
// (our release began or completed), ClassNotOwned otherwise. It is never
// touched either way.
func (c *Client) settledElsewhere(ctx context.Context, op, systemID string) (Machine, error) {
	m, err := c.Machine(ctx, systemID)
	if err != nil {
		return Machine{}, err
	}
	if leftInstallation(m.Status) {
		return m, nil
	}
	return Machine{}, notOwned(op, systemID)
}

// leftInstallation reports whether a machine in status s no longer carries
// any agent_name: MAAS clears it when a release begins, and a released
// machine returns to Ready (or New, without commissioning data).
func leftInstallation(s Status) bool {
	return s == StatusReleasing || s == StatusReady || s == StatusNew
}

// Abort stops what MAAS is doing to an owned machine (a deployment, a
// disk erase). A machine with nothing in progress is left alone and is
// success, so a repeated Abort is harmless; so is a machine released since
// (Releasing or Ready, no longer ours). Any other machine without
// agentName is ClassNotOwned.
func (c *Client) Abort(ctx context.Context, agentName, systemID, comment string) (Machine, error) {
	const op = "abort"
	m, owned, err := c.ownedMachine(ctx, op, agentName, systemID)
	if err != nil {
		return Machine{}, err
	}
	if !owned {
		return c.settledElsewhere(ctx, op, systemID)
	}
	if !abortable(m.Status) {
		return m, nil
	}
	var out *entity.Machine
	err = c.call(ctx, callSpec{op: op, systemID: systemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.Machine.Abort(systemID, comment)
		return err
	})
	if err == nil {
		return machineFromEntity(out), nil
	}
	if !IsConflict(err) {
		return Machine{}, err
	}
	now, rerr := c.requireOwned(ctx, op, agentName, systemID)
	if rerr == nil && !abortable(now.Status) {
		return now, nil
	}
	return Machine{}, err
}

func abortable(s Status) bool {
	switch s {
	case StatusDeploying, StatusDiskErasing, StatusCommissioning, StatusTesting:
		return true
	}
	return false
}

// ListOwned lists every machine carrying agentName, in one request.
func (c *Client) ListOwned(ctx context.Context, agentName string) ([]Machine, error) {
	var list []Machine
	err := c.listOwned(ctx, agentName, 0, func(gc *client.Client, filters url.Values) error {
		var err error
		list, err = listMachines(gc, filters, nil)
		return err
	})
	return list, err
}

// listOwnedInto lists the machines carrying agentName into cache (see
// listCache.list); gen and unchanged are cache's (see listCache.commit).
func (c *Client) listOwnedInto(ctx context.Context, agentName string, attempts int, cache *listCache) (gen uint64, unchanged bool, _ error) {
	err := c.listOwned(ctx, agentName, attempts, func(gc *client.Client, filters url.Values) error {
		cache.begin()
		_, err := listMachines(gc, filters, cache)
		return err
	})
	if err != nil {
		return 0, false, err
	}
	gen, unchanged = cache.commit()
	return gen, unchanged, nil
}

func (c *Client) listOwned(ctx context.Context, agentName string, attempts int, list func(*client.Client, url.Values) error) error {
	const op = "list machines"
	if err := ValidateAgentName(agentName); err != nil {
		return refusal(ClassInvalid, op, "", err.Error())
	}
	filters := url.Values{"agent_name": {agentName}}
	return c.call(ctx, callSpec{op: op, idempotent: true, attempts: attempts}, func(gc *client.Client) error {
		return list(gc, filters)
	})
}

// maxIDsPerList bounds the id filters of one list request. MAAS's system
// IDs are 6 characters, so 200 of them make a 2 KB query string: well
// within what MAAS's nginx and any proxy in front of it accept in a
// request line (8 KB by default), OAuth header aside.
const maxIDsPerList = 200

// listByID lists the machines among ids, whoever owns them, in one request
// per maxIDsPerList ids (the id filter is repeatable and matches any). A
// machine MAAS does not know, or does not show this key, is not in the
// list. It stops at the first failed request: asked is the ids of the
// requests that succeeded, whose absence from the list means something.
func (c *Client) listByID(ctx context.Context, ids []string, attempts int, cache *listCache) (list []Machine, asked []string, err error) {
	const op = "list followed machines"
	cache.begin()
	for chunk := range slices.Chunk(ids, maxIDsPerList) {
		n := len(cache.order)
		err = c.call(ctx, callSpec{op: op, idempotent: true, attempts: attempts}, func(gc *client.Client) error {
			cache.order = cache.order[:n] // a failed attempt may have added some
			_, err := listMachines(gc, url.Values{"id": chunk}, cache)
			return err
		})
		if err != nil {
			cache.order = cache.order[:n]
			break
		}
		asked = append(asked, chunk...)
	}
	list = cache.reading()
	if err == nil {
		cache.commit()
	}
	return list, asked, err
}

// Machine reads one machine, whoever owns it. Unknown is ClassNotFound.
func (c *Client) Machine(ctx context.Context, systemID string) (Machine, error) {
	var out *entity.Machine
	err := c.call(ctx, callSpec{op: "get machine", systemID: systemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		out, err = gc.Machine.Get(systemID)
		return err
	})
	if err != nil {
		return Machine{}, err
	}
	return machineFromEntity(out), nil
}

// ownedMachine reads systemID through the agent_name filter: one request
// that proves ownership and returns the current state.
func (c *Client) ownedMachine(ctx context.Context, op, agentName, systemID string) (Machine, bool, error) {
	if err := ValidateAgentName(agentName); err != nil {
		return Machine{}, false, refusal(ClassInvalid, op, systemID, err.Error())
	}
	if systemID == "" {
		return Machine{}, false, refusal(ClassInvalid, op, systemID, "no system ID")
	}
	var list []Machine
	err := c.call(ctx, callSpec{op: op, systemID: systemID, idempotent: true}, func(gc *client.Client) error {
		var err error
		list, err = listMachines(gc, url.Values{"agent_name": {agentName}, "id": {systemID}}, nil)
		return err
	})
	if err != nil {
		return Machine{}, false, err
	}
	for _, m := range list {
		if m.SystemID == systemID {
			return m, true, nil
		}
	}
	return Machine{}, false, nil
}

func (c *Client) requireOwned(ctx context.Context, op, agentName, systemID string) (Machine, error) {
	m, owned, err := c.ownedMachine(ctx, op, agentName, systemID)
	if err != nil {
		return Machine{}, err
	}
	if !owned {
		return Machine{}, notOwned(op, systemID)
	}
	return m, nil
}

func notOwned(op, systemID string) *Error {
	return refusal(ClassNotOwned, op, systemID, "machine does not carry this installation's agent_name; it is left alone")
}
