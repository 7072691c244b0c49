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

package controlplane_test

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// How a test, the demo or cmd/maas-sim attaches the emulator to a
// simulator, and looks inside a tenant cluster once the operator has
// deployed its machines (with user data from internal/bootstrap whose VIP,
// like the machines' addresses, is in 127.0.0.0/8).
func Example() {
	sim, err := maassim.New(maassim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	e, err := controlplane.New(controlplane.Options{
		BinDir:            os.Getenv("KUBEBUILDER_ASSETS"), // etcd, kube-apiserver, kube-controller-manager
		ControllerManager: true,                            // PodDisruptionBudget status, for drains
	})
	if err != nil {
		panic(err)
	}
	defer func() {
		// Kills and reaps every process; an error names any left running.
		if err := e.Close(); err != nil {
			panic(err)
		}
	}()
	e.Attach(sim)

	// ... the operator allocates and deploys machines ...

	for _, endpoint := range e.Endpoints() { // e.g. 127.20.100.1:6443
		cfg, err := e.AdminConfig(endpoint) // system:masters, through the VIP
		if err != nil {
			panic(err)
		}
		nodes, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			panic(err)
		}
		members, err := e.EtcdMembers(context.Background(), endpoint)
		if err != nil {
			panic(err)
		}
		fmt.Println(endpoint, len(nodes.Items), "nodes,", len(members), "etcd members")
	}
}
