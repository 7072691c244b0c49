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

package v1alpha1

// Addresses reserved in MAAS: the condition a TenantCluster or a Gateway
// with a control-plane endpoint carries about its VIP; its reasons are in
// reasons.go with all the others.
const (
	// ConditionVIPReserved is True when the control-plane endpoint is
	// reserved in MAAS for this object (a user-reserved address, marked
	// with the installation and the object), so that MAAS hands it to no
	// machine. While it is False no machine is allocated or deployed: the
	// reason and the message say who or what holds the address.
	ConditionVIPReserved = "VIPReserved"
	// ConditionLoadBalancerPoolReserved is True when the cluster's
	// spec.loadBalancer addresses are reserved in MAAS (a reserved IP range
	// whose comment marks the installation and the cluster). Present only
	// when the cluster asks for a pool; the machines do not wait for it.
	ConditionLoadBalancerPoolReserved = "LoadBalancerPoolReserved"
)
