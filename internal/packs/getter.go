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

package packs

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restGetter gives Helm a tenant cluster from a rest.Config alone. The
// getter cli-runtime offers (ConfigFlags) keeps its discovery cache under
// $HOME/.kube/cache; the manager's root filesystem is read-only and it may
// have no home, so discovery is cached in memory for the one operation the
// getter serves.
type restGetter struct {
	cfg       *rest.Config
	namespace string
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

// NewRESTClientGetter is the getter Helm's action.Configuration.Init takes,
// for a cluster given as a rest.Config rather than a kubeconfig file, with
// discovery cached in memory (see restGetter). The installer uses it too.
func NewRESTClientGetter(cfg *rest.Config, namespace string) (genericclioptions.RESTClientGetter, error) {
	return newRESTGetter(cfg, namespace)
}

func newRESTGetter(cfg *rest.Config, namespace string) (*restGetter, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	return &restGetter{
		cfg:       cfg,
		namespace: namespace,
		discovery: cached,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(cached),
	}, nil
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return memoryClientConfig{cfg: g.cfg, namespace: g.namespace}
}

// memoryClientConfig answers what Helm and kubectl's factory ask of a
// kubeconfig (chiefly the default namespace) without any file behind it.
// ClientConfig returns the caller's rest.Config itself rather than one
// rebuilt from kubeconfig fields, which would lose exec plugins, custom
// dialers and transports.
type memoryClientConfig struct {
	cfg       *rest.Config
	namespace string
}

const memoryContext = "tenant"

func (c memoryClientConfig) RawConfig() (clientcmdapi.Config, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[memoryContext] = &clientcmdapi.Cluster{Server: c.cfg.Host}
	cfg.AuthInfos[memoryContext] = &clientcmdapi.AuthInfo{}
	cfg.Contexts[memoryContext] = &clientcmdapi.Context{
		Cluster:   memoryContext,
		AuthInfo:  memoryContext,
		Namespace: c.namespace,
	}
	cfg.CurrentContext = memoryContext
	return *cfg, nil
}

func (c memoryClientConfig) ClientConfig() (*rest.Config, error) { return rest.CopyConfig(c.cfg), nil }

func (c memoryClientConfig) Namespace() (string, bool, error) { return c.namespace, false, nil }

// ConfigAccess is only used by commands that edit kubeconfig files; empty
// loading rules make sure nothing is read or written even then.
func (c memoryClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return &clientcmd.ClientConfigLoadingRules{}
}
