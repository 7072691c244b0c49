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
// with a control-plane endpoint carries about its VIP, and its reasons.
const (
	// ConditionVIPReserved is True when the control-plane endpoint is
	// reserved in MAAS for this object (a user-reserved address, marked
	// with the installation and the object), so that MAAS hands it to no
	// machine. While it is False no machine is allocated or deployed: the
	// reason and the message say who or what holds the address.
	ConditionVIPReserved = "VIPReserved"
)

// Reasons of the VIPReserved condition.
const (
	// ReasonVIPReserved: MAAS holds the address for this object.
	ReasonVIPReserved = "Reserved"
	// ReasonVIPReservedByOther: the address is reserved in MAAS for another
	// object (of this installation or another); the message names it. MAAS's
	// answer decided, so of two objects asking at once exactly one holds it.
	// The other waits, and takes the address once it is released.
	ReasonVIPReservedByOther = "VIPReservedByOther"
	// ReasonVIPInUse: a machine, a device or an unmarked reservation holds
	// the address in MAAS; the message says who, when MAAS says so.
	ReasonVIPInUse = "VIPInUse"
	// ReasonVIPInReservedRange: the address is inside a reserved range that
	// marks no owner (made by hand in MAAS).
	ReasonVIPInReservedRange = "VIPInReservedRange"
	// ReasonVIPInDynamicRange: the address is in a DHCP range of MAAS.
	ReasonVIPInDynamicRange = "VIPInDynamicRange"
	// ReasonVIPOutsideSubnets: the address is in no subnet MAAS knows.
	ReasonVIPOutsideSubnets = "VIPOutsideSubnets"
	// ReasonVIPReservationFailed: MAAS did not answer, or answered in a way
	// that says nothing of the address; the reservation is retried.
	ReasonVIPReservationFailed = "VIPReservationFailed"
)
