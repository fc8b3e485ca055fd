# The kratix platform engine. `make run` starts a local platform; `make test` runs every test.
SHELL := /usr/bin/env bash -o pipefail -o errexit -o nounset

ROOT := $(shell pwd)
BIN := $(ROOT)/bin
K8S_VERSION := $(shell sed -n 's/^[[:space:]]*k8s.io\/kubernetes v\([^ ]*\).*/v\1/p' hack/tools/go.mod | head -n1)
CONTROLLER_TOOLS_VERSION := $(shell sed -n 's/^[[:space:]]*sigs.k8s.io\/controller-tools v\([^ ]*\).*/v\1/p' hack/tools/go.mod | head -n1)
export KUBEBUILDER_ASSETS := $(BIN)/k8s/$(K8S_VERSION)
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# The manager is built with Go's classic garbage collector: under a platform's load (a busy
# API server and pipelines' processes on the same cores) Go 1.26's default collector (Green
# Tea) took 30-45 s of marking per collection of a 300 MB heap, the same heap that marks in
# under a second on a quiet machine; at N=1,000 the manager spent 24% less CPU per re-run
# without it (docs/scale.md §3). The benchmarks measure the binary as it is built. Go 1.27 is
# expected to drop the opt-out: measure again then. `make build MANAGER_GOEXPERIMENT=` builds
# with the default collector.
MANAGER_GOEXPERIMENT ?= nogreenteagc
KUBECTL := $(KUBEBUILDER_ASSETS)/kubectl
KUSTOMIZE := $(BIN)/kustomize

# The image of the cluster install; empty keeps the one config/default names.
IMG ?=

# go test flags; TEST_FLAGS="-run Foo -v" narrows a run.
TEST_FLAGS ?=
# `make test` runs every package under the race detector (about 6 minutes warm on 2 cores, 9-10
# with a cold race build cache); RACE= runs without it.
RACE ?= -race
TEST_TIMEOUT ?= 20m

.PHONY: all
all: build

##@ Development

.PHONY: tools
tools: ## Build kube-apiserver, etcd, kubectl, kube-controller-manager, controller-gen, versitygw, kustomize and Flux's controllers into bin/ (skips what is built).
	hack/build-tools.sh

$(CONTROLLER_GEN) $(KUBEBUILDER_ASSETS)/kube-apiserver $(KUBEBUILDER_ASSETS)/etcd $(KUBECTL):
	hack/build-tools.sh

$(KUSTOMIZE):
	hack/build-tools.sh

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs into config/crd/bases and the manager's RBAC.
	$(CONTROLLER_GEN) crd rbac:roleName=kratix-manager paths=./api/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: install-manifests
install-manifests: manifests $(KUSTOMIZE) ## Render the cluster install into dist/install.yaml; IMG=registry/kratix:tag sets the image.
	@# kustomize edits a copy of config/, so that the target leaves the tree as it was.
	@mkdir -p dist
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -R config "$$tmp/config"; \
	if [[ -n "$(IMG)" ]]; then (cd "$$tmp/config/default" && $(KUSTOMIZE) edit set image "kratix=$(IMG)"); fi; \
	$(KUSTOMIZE) build "$$tmp/config/default" > "$$tmp/install.yaml"; \
	mv "$$tmp/install.yaml" dist/install.yaml
	@echo "dist/install.yaml: kubectl apply --server-side -f dist/install.yaml"

.PHONY: verify
verify: ## Fail when generated files are stale (regenerates them, so a commit fixes it).
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet every package.
	go vet ./...

.PHONY: build
build: ## Build bin/kratix.
	GOEXPERIMENT=$(MANAGER_GOEXPERIMENT) go build -o $(BIN)/kratix ./cmd/kratix

.PHONY: test
test: tools verify vet ## Run every test against a real kube-apiserver and etcd, but the fault suite.
	@gofmt_out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$gofmt_out" ]; then echo "gofmt needed: $$gofmt_out"; exit 1; fi
	RACE="$(RACE)" TEST_TIMEOUT="$(TEST_TIMEOUT)" TEST_FLAGS="$(TEST_FLAGS)" hack/test.sh

.PHONY: bench
bench: tools ## Run the benchmarks that issue notes quote: scheduler, Git and S3 writers, local job runner.
	go test -run '^$$' -bench . -benchmem ./scheduling/
	go test -run '^$$' -bench 'BenchmarkGitWriter/.*/(isolated|writers=1|writers=8|compact|clone|git-cli-baseline)$$' -benchtime 3s -timeout 30m ./statestore/git/
	@# Sustained throughput needs a fixed, long run: b.N's short warm-up runs mostly measure clones.
	go test -run '^$$' -bench 'BenchmarkGitWriter/.*/writers=64$$' -benchtime 5000x -timeout 30m ./statestore/git/
	go test -run '^$$' -bench . -benchtime 2s ./statestore/s3/
	go test -run '^$$' -bench BenchmarkRunnerTrivialJobs -benchtime 100x ./pipeline/local/
	GOEXPERIMENT=$(MANAGER_GOEXPERIMENT) go test -run '^$$' -bench 'BenchmarkPlacement/defaults' -benchtime 1x -timeout 30m ./controllers/

.PHONY: bench-e2e
bench-e2e: tools ## The engine end to end in local mode: N=100 and N=1,000 resource requests created, then a Promise update re-runs them all; then the same update without a rollout policy, at 100% and in 10% batches, side by side.
	GOEXPERIMENT=$(MANAGER_GOEXPERIMENT) go test -run '^$$' -bench 'BenchmarkPromiseUpdate/requests=(100|1000)(,namespaces=[0-9]+)?$$|BenchmarkRollout' -benchtime 1x -timeout 120m ./controllers/

.PHONY: bench-scale
bench-scale: tools ## bench-e2e's Promise update at N=10,000 resource requests (hours on a 2-core machine): the create and update rounds, with the manager's peak RSS. KRATIX_BENCH_NAMESPACES=10 spreads the requests over 10 namespaces.
	GOEXPERIMENT=$(MANAGER_GOEXPERIMENT) go test -run '^$$' -bench 'BenchmarkPromiseUpdate/requests=10000(,namespaces=[0-9]+)?$$' -benchtime 1x -timeout 300m ./controllers/

# Flags of `kratix local` for `make run`, e.g. LOCAL_FLAGS="--api-port 6443 --data-dir /tmp/k".
LOCAL_FLAGS ?=

.PHONY: run
run: tools build ## Start the local platform (API server, engine, Git state store) in .kratix-local/; Ctrl-C stops it.
	$(strip $(BIN)/kratix local $(LOCAL_FLAGS))

.PHONY: test-e2e
test-e2e: tools ## Run the end-to-end test of `kratix local` alone.
	go test -count=1 -v $(TEST_FLAGS) ./test/e2e/

.PHONY: test-flux
test-flux: tools ## Run the Flux end-to-end tests alone: the engine's output through Flux's real controllers on destination clusters, and `kratix local --gitops`.
	go test -count=1 -v -timeout 20m $(TEST_FLAGS) ./test/flux/

.PHONY: test-faults
test-faults: tools ## Run the fault suite alone (slow; FAULTS_N placements, 200 by default).
	go test -count=1 -v -timeout 60m $(TEST_FLAGS) ./test/faults/

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
