# volsync: the operator (volsyncd) and its CLI (volsyncctl).
#
#   make demo     bring up a local control plane, run volsyncd against it, apply the samples
#   make test     every test, against a real kube-apiserver and etcd built by hack/envtest-assets.sh

SHELL := /usr/bin/env bash -o pipefail
export GOFLAGS ?= -mod=mod

TOOLS_DIR  = $(shell bash hack/tools.sh)
CONTROLLER_GEN = $(TOOLS_DIR)/controller-gen
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    = -X github.com/volsync/volsync/pkg/version.Version=$(VERSION)
GO_TEST_FLAGS ?= -count=1

.PHONY: all
all: build

## Code generation ------------------------------------------------------------------------------

.PHONY: generate
generate: ## deepcopy functions from controller-gen
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./pkg/apis/...

.PHONY: manifests
manifests: ## CRDs and RBAC from controller-gen
	$(CONTROLLER_GEN) crd:maxDescLen=0 paths=./pkg/apis/... output:crd:artifacts:config=specs/crds
	$(CONTROLLER_GEN) rbac:roleName=volsync-manager paths=./pkg/... output:rbac:artifacts:config=specs/rbac

.PHONY: verify-generated
verify-generated: generate manifests ## fail when generated files are stale
	@git diff --exit-code -- pkg/apis specs/crds specs/rbac \
	  || { echo "generated files are stale: run 'make generate manifests' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- pkg/apis specs/crds specs/rbac)" \
	  || { git status --porcelain -- pkg/apis specs/crds specs/rbac; echo "generated files are not committed"; exit 1; }

## Build -----------------------------------------------------------------------------------------

.PHONY: build
build: ## volsyncd and volsyncctl into bin/
	go build -ldflags "$(LDFLAGS)" -o bin/volsyncd ./cmd/volsyncd
	go build -ldflags "$(LDFLAGS)" -o bin/volsyncctl ./cmd/volsyncctl

.PHONY: envtest-assets
envtest-assets: ## build kube-apiserver, etcd and kubectl if missing; prints their directory last
	@bash hack/envtest-assets.sh

## Test ------------------------------------------------------------------------------------------

.PHONY: vet
vet:
	go vet ./...

.PHONY: test
test: verify-generated vet ## every test: unit, admission and controllers on a real API server
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-assets.sh | tail -1)" go test $(GO_TEST_FLAGS) ./...

.PHONY: bench
bench: ## benchmarks, with figures
	go test -run '^$$' -bench . -benchmem ./pkg/...

## Demo ------------------------------------------------------------------------------------------

.PHONY: demo
demo: build ## a local control plane, volsyncd against it, the samples applied and shown reconciled
	bash hack/demo.sh

.PHONY: clean
clean:
	rm -rf bin
