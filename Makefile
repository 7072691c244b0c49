# maas-gateway — build, generate, test.
#
# Everything here works on a machine whose only network is the Go module proxy
# and Debian's packages: tools are built with `go install`, and the envtest
# binaries (kube-apiserver, etcd) are built from source when no download works
# (hack/envtest-assets.sh), cached in the user cache.

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

VERSION ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
YEAR ?= $(shell date +%Y)

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0

# Packages of `make test`: everything but the kind e2e suite (build tag e2e).
TEST_PKGS ?= ./...
# The controller suite runs real control planes (etcd, kube-apiserver) under
# -race and outgrew go test's 10-minute default on CI's two cores.
TEST_FLAGS ?= -race -count=1 -timeout=30m
ENVTEST_ASSETS = $(shell hack/envtest-assets.sh)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configurations from markers.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	hack/sync-chart.sh

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt",year=$(YEAR) paths="./..."

.PHONY: verify-generated
verify-generated: manifests generate bundle ## Fail when generated code or manifests are stale.
	@if [ -n "$$(git status --porcelain -- api config internal cmd charts bundle)" ]; then \
		echo "Generated files are stale; run 'make generate manifests' and commit:"; \
		git status --porcelain -- api config internal cmd charts bundle; git --no-pager diff --stat; exit 1; \
	fi

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: verify-fmt
verify-fmt: ## Fail when a Go file is not gofmt-clean.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: vet
vet: ## Run go vet (including the e2e build tag).
	go vet ./...
	@if [ -d test/e2e ]; then go vet -tags e2e ./test/...; fi

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	"$(GOLANGCI_LINT)" run ./...

.PHONY: envtest-assets
envtest-assets: ## Build or fetch kube-apiserver and etcd for envtest (cached).
	@hack/envtest-assets.sh

.PHONY: test
test: ## Run unit and envtest integration tests (no Docker needed).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test $(TEST_FLAGS) $(TEST_PKGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s).
	@hack/fuzz.sh $${FUZZTIME:-10s}

##@ Demo, benchmarks and chaos

.PHONY: demo
demo: ## Walk the whole life cycle on a local control plane, the MAAS simulator and the join emulator.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./test/demo $(DEMO_FLAGS)

INSTALL_DEPLOY_TIME ?= 2m

.PHONY: bench-install
bench-install: ## Measure maas-gateway install's overhead beyond the machines' deploy time (INSTALL_DEPLOY_TIME per deployment, default 2m).
	INSTALL_DEPLOY_TIME=$(INSTALL_DEPLOY_TIME) KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -run '^TestInstallOverhead$$' -v -timeout 60m ./internal/install

.PHONY: bench
bench: ## Measure MAAS and API requests, convergence, memory and webhook latency at scale (BENCH_FLAGS=-short for a quick run).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/bench.sh $(BENCH_FLAGS)

.PHONY: chaos
chaos: ## Kill and restart the manager under injected MAAS faults, then audit machines, finalizers and secrets.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/chaos.sh $(CHAOS_FLAGS)

##@ Build

LDFLAGS = -s -w -X github.com/maas-gateway/maas-gateway/internal/version.Version=$(VERSION) -X github.com/maas-gateway/maas-gateway/internal/version.Commit=$(COMMIT)

.PHONY: build
build: ## Build the manager and the MAAS simulator into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd/manager
	@if [ -d cmd/maas-sim ]; then CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/maas-sim ./cmd/maas-sim; fi

.PHONY: run
run: manifests generate ## Run the manager against the cluster in ~/.kube/config.
	go run ./cmd/manager

.PHONY: docker-build
docker-build: ## Build the manager and maas-sim images with the local Docker engine (no registry).
	VERSION=$(VERSION) COMMIT=$(COMMIT) hack/docker-build.sh

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle under bundle/ from the kustomize output.
	VERSION=$(VERSION) hack/bundle.sh

.PHONY: bundle-build
bundle-build: bundle ## Build the OLM bundle image with the local Docker engine.
	docker build -f bundle.Dockerfile -t maas-gateway-bundle:v$(VERSION) .

##@ kind e2e (needs a Docker engine)

KIND_CLUSTER ?= maas-gateway-e2e

.PHONY: kind-image
kind-image: ## Build the kind node image offline (cached by a content key).
	hack/kind/node-image.sh

.PHONY: kind-up
kind-up: kind-image docker-build ## Create the kind cluster and load the operator and simulator images.
	KIND_CLUSTER=$(KIND_CLUSTER) VERSION=$(VERSION) hack/kind/up.sh

.PHONY: kind-down
kind-down: ## Delete the kind cluster.
	KIND_CLUSTER=$(KIND_CLUSTER) hack/kind/down.sh

.PHONY: test-e2e
test-e2e: docker-build ## kind up, the e2e suite, kind down (KEEP_CLUSTER=1 keeps it on failure).
	KIND_CLUSTER=$(KIND_CLUSTER) VERSION=$(VERSION) hack/kind/test-e2e.sh

##@ Dependencies

$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen (pinned) into bin/.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint (pinned) into bin/.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool installs package $2 at version $3 as $1-$3 and links $1 to it,
# so changing a pinned version rebuilds the tool.
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
