// Package maassim simulates the MAAS 2.0 REST API closely enough that
// gomaasclient (and other MAAS clients) cannot tell it from MAAS for the
// calls the operator makes. Controller tests, the demo, the benchmarks and
// the end-to-end suite run against it; nothing here is shared with
// internal/maas, the code it tests.
//
// # Serving
//
// New builds a Sim from a Config; Sim.Handler serves the API under
// /MAAS/api/2.0/, Prometheus counters at /metrics, a probe at /healthz and
// an admin API under /sim/ (faults, machine dump, counters, users), which
// off loopback needs an admin user's API key in the X-Maas-Sim-Admin-Key
// header: it hands out user data and API keys. Start does both on a
// loopback port and returns a Server whose URL is what clients are given;
// Server.Stop makes MAAS unreachable while its machines keep moving, and
// Server.Restart brings it back on the same address. cmd/maas-sim wraps the
// same engine in a binary.
//
// # What is simulated, as MAAS 3.x does it
//
//   - Endpoints: version/ (anonymous), users/ (whoami), machines/ (list with
//     MAAS's filters, list_allocated, allocate, bulk release),
//     machines/{id}/ (read, deploy, release, abort, set_workload_annotations,
//     query_power_state, power_on, power_off, and PUT for admins),
//     zones/, resourcepools/ and resourcepool/{id-or-name}/, domains/,
//     boot-resources/, tags/ and tags/{name}/ (op=machines, and
//     op=update_nodes for admins). The op may come from the query, the form
//     body or an /op-<name> path suffix. Every response carries
//     X-MAAS-API-Hash.
//   - Addresses (ipam.go, MAAS 3.6's ip_addresses.py, ipranges.py,
//     dnsresources.py, subnets.py): subnets/ and subnets/{id|cidr|name}/
//     (op=unreserved_ip_ranges, op=reserved_ip_ranges, op=statistics,
//     op=ip_addresses); ipaddresses/ (list,
//     op=reserve with ip/subnet/hostname/mac, op=release with force) with
//     MAAS's 400/403/404/503 bodies for a taken address, a reserved or
//     dynamic range, no subnet, a full subnet; ipranges/ and ipranges/{id}/
//     (reserved ranges for any user who then owns them, dynamic for admins,
//     MAAS's overlap and subnet validation); dnsresources/ (filter by fqdn
//     or name and domain; writes for admins; a reservation's hostname makes
//     one). Subnets come from Config.Subnets (or the inventory file's
//     "subnets") and from the machines' addresses. ipaddresses op=reserve
//     takes no comment in MAAS, and so here.
//   - Errors with MAAS's codes and bodies: 400 JSON form errors ("No such
//     constraint.", "No such zone(s): x."), 400 "Unrecognised signature",
//     404 "Unknown API endpoint: <path>.", 409 state and capacity messages
//     (including the Python-formatted constraint list), 401 OAuth errors, 403
//     for other users' machines.
//   - OAuth 1.0 with PLAINTEXT or HMAC-SHA1 signatures, a 300 s timestamp
//     window and nonce replay detection. Non-admin users see and use free
//     machines and their own; admins everything.
//   - Machine states and codes: Ready 4 → Allocated 10 → Deploying 9 →
//     Deployed 6 or Failed deployment 11; release through Disk erasing 14 and
//     Releasing 12 to Ready, or Releasing failed 13; abort Deploying →
//     Allocated, Disk erasing → Failed disk erasing 15. Deployments show
//     MAAS's status messages as they progress, driven by timers.
//   - Release follows MAAS's Node._release: the agent name, the deployed OS
//     and the user data are cleared when releasing starts; the owner, the
//     workload annotations and the addresses when it completes. A machine
//     that is already powered off (Allocated) is released at once. So a
//     machine leaves an agent_name filter as soon as it starts releasing.
//   - agent_name is stored and filterable but never shown; the admin dump
//     (/sim/machines) and Event snapshots show it, with the decoded user data.
//   - Deployed machines hold addresses from deployment until the release
//     completes, as MAAS's auto-assigned ones: the inventory's
//     (MachineSpec.IPs) unless reserved, in a range or held by another,
//     otherwise the lowest free address of the machine's subnet outside
//     every reservation and range (inside the reserved ranges on an
//     unmanaged subnet).
//
// # What is not
//
// Commissioning, testing, rescue mode, VM hosts, networking and storage
// configuration, DNS resource records other than addresses, reserved IPs
// (reservedips/), devices, subnet and range writes other than the above,
// and the filter and allocation
// constraints on subnets, VLANs, fabric classes, interfaces, devices, link
// speed and deployment target (refused with a 400 naming the simulator, so
// a test relying on them fails loudly). Deployments do not time out; use
// Faults to fail them. Wrong-signature 401s do not echo the expected
// PLAINTEXT signature, which MAAS does and which is the secret.
//
// # Faults, counters, events
//
// Faults (latency, error rate with optional Retry-After, per endpoint;
// failed deployments; stuck releases; exhausted capacity) are set with
// Config.Faults, Sim.SetFaults, maas-sim flags or PUT /sim/faults. Counts
// and /metrics count requests per method, endpoint pattern and op.
// Subscribe delivers an Event for every state change, which tests and the
// demo use to play a kubelet joining when a machine deploys.
package maassim
