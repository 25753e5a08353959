# engram-operator — the commands that matter. README.md explains each.
CARGO ?= cargo
BIN := target/debug/engram-operator
# Tools the tests need besides cargo (kubectl, chromium), installed by .ci/tools.sh when the machine lacks them.
TOOLS_BIN := $(CURDIR)/target/tools/bin

.PHONY: build test lint crds demo demo-kube bench clean

build:
	$(CARGO) build --locked

test:
	bash .ci/tools.sh
	PATH="$(TOOLS_BIN):$$PATH" $(CARGO) test --locked --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

crds:
	$(CARGO) run --locked --quiet -- crd > crds/engramdataplane.yaml

demo: build
	$(BIN) validate -f examples/
	$(BIN) validate -f examples/customer/
	RUST_LOG=$${RUST_LOG:-warn} $(BIN) demo --specs examples

# Kubernetes mode with plain kubectl against mock-kube and the mock ARM (README, Kubernetes).
demo-kube: build
	bash .ci/tools.sh >/dev/null
	BIN=$(BIN) bash scripts/demo-kube.sh

clean:
	$(CARGO) clean
