# Dockyard: set-up, demo and tests on a Debian 12 machine, as root.
PYTHON ?= /usr/bin/python3
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
# Debian packages the engine and its tests use: busybox-static (offline base image), tini
# (--init), runc and crun (alternative runtimes, differential tests), iproute2 and nftables
# (container networks: ip -batch, nft), python3-venv,
# mmdebstrap (dockyard bootstrap debian); docker-registry, skopeo, umoci, apache2-utils
# (htpasswd) and openssl for the registry tests (issue 10).
DEB_PACKAGES := busybox-static tini runc crun iproute2 nftables python3-venv ca-certificates mmdebstrap gcc libc6-dev docker-registry skopeo umoci apache2-utils openssl

.PHONY: deps install demo test lint bench conformance docker-py-suite record-differential clean

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

# Debian's python3 starts in a third of the time a pyenv build takes: latency is a feature.
$(BIN)/dockyard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	# pip's console scripts pay for site and re on every start: launchers run under -S.
	$(BIN)/python tools/launchers.py
	# Byte-compile now: with PYTHONDONTWRITEBYTECODE set, every start would compile again.
	$(BIN)/python -m compileall -q src $(VENV)/lib >/dev/null
	ln -sf $(BIN)/dockyard /usr/local/bin/dockyard
	ln -sf $(BIN)/dockyard-runtime /usr/local/bin/dockyard-runtime
	ln -sf $(BIN)/dockyard-compose /usr/local/bin/dockyard-compose

install: deps $(BIN)/dockyard
	# Sources added since the venv was made are compiled too (see above).
	$(BIN)/python -m compileall -q src >/dev/null

demo: install
	$(BIN)/python demo/demo.py

lint: $(BIN)/dockyard
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy
	# The layers (.importlinter): front ends, facade, services, runtime, shared values.
	cd $(CURDIR) && $(BIN)/lint-imports --no-cache

# Two workers, a test file each at a time (module fixtures stay in one process): the
# suite waits on containers, registries and Debian's archive much of the time, so two
# workers on CI's 2 cores take it from about 15 minutes to about 10. Each worker has its
# own cgroup parent, default bridge and leak check (tests/conftest.py).
test: install
	$(MAKE) lint
	$(BIN)/pytest -n 2 --dist loadfile

bench: install
	$(BIN)/python bench/run_latency.py
	$(BIN)/python bench/build_latency.py --skip-install
	$(BIN)/python bench/cli_latency.py --skip-install

# OCI runtime conformance (docs/conformance.md): runtime-tools' validation programs against
# dockyard-runtime and runc. Needs golang-go and a runtime-tools checkout:
#   make conformance RUNTIME_TOOLS=/path/to/runtime-tools
conformance: $(BIN)/dockyard
	@test -n "$(RUNTIME_TOOLS)" || { echo "set RUNTIME_TOOLS=<runtime-tools checkout>" >&2; exit 2; }
	DOCKYARD_RUNTIME=$(BIN)/dockyard-runtime tools/conformance.sh $(RUNTIME_TOOLS) $(CONFORMANCE_OUT)

# The docker-py 7.2.0 integration suite against the Engine API service (issue 11's
# scoreboard): prints the pass count and the failures' reasons.
docker-py-suite: install
	$(BIN)/python bench/docker_py_suite.py

# Re-record Docker's side of the differential scenarios (tests/data/differential): needs
# Debian's docker.io (dockerd and client 20.10); starts a private dockerd without host
# networking under a temporary directory and stops it after.
record-differential: $(BIN)/dockyard
	$(BIN)/python tests/differential.py record

clean:
	rm -rf $(VENV) build src/*.egg-info
