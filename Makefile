# Clockwork — the two commands that matter on a fresh machine:
#   make demo   set up and run the main job (local mode, quickstart example)
#   make test   set up everything the tests need and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_QUIET := --quiet --disable-pip-version-check
# COMMAND:PACKAGE pairs the real-component tests need; grows with the test tiers.
TEST_DEB_PACKAGES := unzip:unzip npm:npm sshd:openssh-server ssh:openssh-client nft:nftables ip:iproute2 nsenter:util-linux git:git podman:podman systemd-analyze:systemd prometheus:prometheus promtool:prometheus

.PHONY: venv demo test test-deps lint unit generate clean kind-up kind-demo image bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip
	$(BIN)/python -m pip install $(PIP_QUIET) -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/clockwork apply -f manifests/examples/quickstart.yaml
	$(BIN)/clockwork status -f manifests/examples/quickstart.yaml

# System packages and services the real-component tests need (root on Debian).
test-deps:
	./scripts/install-test-deps.sh $(TEST_DEB_PACKAGES)
	./scripts/docker/ensure-dockerd.sh
	./scripts/docker/build-test-images.sh
	./scripts/controlplane/build.sh >/dev/null

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
