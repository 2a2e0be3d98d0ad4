# FastReid.K8s — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
DOTNET ?= dotnet
CONFIGURATION ?= Release
ARTIFACTS := $(CURDIR)/artifacts
FASTREID := $(ARTIFACTS)/fastreid/fastreid
PUBLISH := $(DOTNET) publish -c $(CONFIGURATION) -r linux-x64 --self-contained false --nologo -v quiet
DEMO_DIR ?= $(CURDIR)/output/demo
DEMO_QUICK_DIR ?= $(CURDIR)/output/demo-quick
DEMO_DATA ?= $(CURDIR)/datasets
TEST_FILTER ?=

.PHONY: all build build-cli test test-deps demo demo-quick bench clean help crds

all: build

help:
	@echo "make demo   the pipeline on this machine: teacher, student alone and distilled, a sweep, ONNX export, report"
	@echo "make demo-quick  one model: synthetic data, train the CPU recipe, evaluate, export, print the table"
	@echo "make test   build and run every test suite"
	@echo "make build  publish artifacts/fastreid/fastreid, artifacts/kube-emulator/kube-emulator, artifacts/operator/fastreid-operator"
	@echo "make bench  run the benchmarks under bench/ (results in bench/results/)"
	@echo "make crds   regenerate crds/*.yaml from the API types (a test fails when they are stale)"

build: build-cli
	$(PUBLISH) tests/FastReid.KubeEmulator -o $(ARTIFACTS)/kube-emulator
	$(PUBLISH) operator/src/FastReid.Operator -o $(ARTIFACTS)/operator

crds:
	$(DOTNET) run --project operator/src/FastReid.Operator -c $(CONFIGURATION) -- crds --output $(CURDIR)/crds
	cp crds/*.yaml charts/fastreid-operator/crds/

build-cli:
	$(PUBLISH) trainer-image/src/FastReid.Cli -o $(ARTIFACTS)/fastreid

# Tests build their own copies; `build` first so CLI tests can run the published binaries.
# Real peers the tests start themselves (s3rver for the storage tests; onnxruntime-node for the
# independent check of ONNX exports; Debian's PyTorch and Pillow for the FastReID parity tests).
test-deps:
	@bash tests/s3rver/install.sh
	@bash tests/onnx-check/install.sh
	@bash tests/pytorch/install.sh
	@bash tests/report-check/install.sh
	@command -v promtool >/dev/null 2>&1 || { echo "installing promtool (Debian package prometheus)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v kubectl >/dev/null 2>&1 || { echo "kubectl is required by the emulator and operator tests: install it (apt package kubectl)"; exit 1; }

test: build test-deps
	$(DOTNET) test FastReid.K8s.sln -c $(CONFIGURATION) --nologo $(if $(TEST_FILTER),--filter "$(TEST_FILTER)",) \
	  --logger "console;verbosity=normal" -- RunConfiguration.TestSessionTimeout=1500000

demo: build-cli
	@bash trainer-image/scripts/demo.sh "$(FASTREID)" "$(DEMO_DIR)"

demo-quick: build-cli
	@bash trainer-image/scripts/demo-quick.sh "$(FASTREID)" "$(DEMO_DATA)" "$(DEMO_QUICK_DIR)"

bench: build
	@bash bench/run.sh "$(FASTREID)"

clean:
	rm -rf $(ARTIFACTS) output
	find . -name bin -o -name obj -type d -prune -exec rm -rf {} +
