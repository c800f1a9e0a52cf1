# LB Lab: `make run` and `make test` on a fresh machine; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
# Debian's real balancers for the sandbox's `--balancer nginx|haproxy` (installed below)
NGINX := /usr/sbin/nginx
NGINX_STREAM := /usr/lib/nginx/modules/ngx_stream_module.so
HAPROXY := /usr/sbin/haproxy
WRK := /usr/bin/wrk
# Debian's Prometheus and promtool: the tests scrape LB Lab and the sandbox pods with the real one.
PROMETHEUS := /usr/bin/prometheus
# Debian's Redis server and Sentinel for the stateful sandbox (clusters/sandbox/stateful/redis.py).
REDIS_SERVER := /usr/bin/redis-server
REDIS_SENTINEL := /usr/bin/redis-sentinel
# Debian's Patroni and etcd (its store) for the stateful sandbox's PostgreSQL
# (clusters/sandbox/stateful/postgres.py), over the PostgreSQL 15 server binaries.
PATRONI := /usr/bin/patroni
ETCD := /usr/bin/etcd
POSTGRES_SERVER := /usr/lib/postgresql/15/bin/postgres

.PHONY: run test venv venv-dev lint check migrate clean balancers bench-tools monitoring stateful

# The venv is rebuilt only when a requirements file changes (a stamp per file set).
$(VENV)/.runtime-stamp: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev-stamp: requirements.txt requirements-dev.txt $(VENV)/.runtime-stamp
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime-stamp
venv-dev: $(VENV)/.dev-stamp

migrate: venv
	$(PY) manage.py migrate --noinput

# Starts daphne (HTTP + WebSockets + static) and the task worker; Ctrl-C stops both.
run: migrate $(NGINX) $(NGINX_STREAM) $(HAPROXY)
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) -m lbsite.runner

# Browser tests drive Debian's Chromium: Playwright's own browser download cannot work here.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium

# The sandbox's real balancers (`--balancer nginx|haproxy`): Debian's nginx (its `nginx` package
# has the upstream modules LB Lab writes: hash, ip_hash, least_conn, random two least_conn; its
# stream module, for the L4 `l4_connection`, is `libnginx-mod-stream`) and HAProxy. Debian's own services are never started: the packages' postinst scripts are held
# back by a policy-rc.d (exit 101) for the install when the machine has none, and LB Lab runs
# each balancer itself, with its own config in a temp dir, stopped by PID with the sandbox.
POLICY_RC := /usr/sbin/policy-rc.d
define apt_install_no_services
	$(SUDO) apt-get update -q
	@if [ -e $(POLICY_RC) ]; then \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(1); \
	else \
		printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee $(POLICY_RC) >/dev/null && $(SUDO) chmod 755 $(POLICY_RC); \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(1); \
		status=$$?; $(SUDO) rm -f $(POLICY_RC); exit $$status; \
	fi
endef
$(NGINX) $(NGINX_STREAM):
	$(call apt_install_no_services,nginx libnginx-mod-stream)
$(HAPROXY):
	$(call apt_install_no_services,haproxy)
$(WRK):
	$(call apt_install_no_services,wrk)
$(PROMETHEUS):
	$(call apt_install_no_services,prometheus)
# The stateful sandbox's Redis: LB Lab starts its own primary, replica and Sentinels on free
# loopback ports, each with its config and data dir in a temp dir; Debian's redis-server and
# redis-sentinel services are never started (the policy-rc.d above), and no Redis the machine
# already runs is touched.
$(REDIS_SERVER) $(REDIS_SENTINEL):
	$(call apt_install_no_services,redis-server redis-sentinel)
# Its PostgreSQL: Patroni (with python3-etcd, its client of etcd) and etcd-server, over Debian's
# PostgreSQL 15 server. Debian's etcd, patroni and postgresql services are never started either
# (the same policy-rc.d): LB Lab starts its own etcd member and two Patroni nodes on free loopback
# ports, each data dir in a temp dir, and never touches a PostgreSQL the machine already runs.
$(PATRONI) $(ETCD) $(POSTGRES_SERVER):
	$(call apt_install_no_services,patroni python3-etcd etcd-server postgresql-15)
stateful: $(REDIS_SERVER) $(REDIS_SENTINEL) $(PATRONI) $(ETCD) $(POSTGRES_SERVER)
monitoring: $(PROMETHEUS)
balancers: $(NGINX) $(NGINX_STREAM) $(HAPROXY)
# benchmarks/sandbox_vs_nginx.py and benchmarks/sandbox_backends.py drive wrk.
bench-tools: balancers $(WRK)

# Everything: unit, integration (PostgreSQL when DATABASE_URL is set, a real qcluster), API,
# browser (Playwright on Debian's Chromium), manifests.
# LBLAB_Q_NAME keeps the session's Redis keys (task queue, channel groups, cache) apart from any
# `make run` or other session on the same Redis; each pytest-xdist worker adds its id (settings).
# Two phases: most tests in TEST_WORKERS pytest-xdist workers (much of a test's time is spent
# waiting on real load, sleeping), then the `solo` ones, whose numbers another test's load would
# skew, one at a time (none marked is fine: pytest's 5); both always run, and either failing
# fails `make test`. With PYTEST_ARGS it is one plain pytest run of exactly those arguments (no
# xdist start-up for a focused run; add `-n 2` to them for a parallel one).
TEST_WORKERS ?= 2
test: venv-dev $(CHROMIUM) $(NGINX) $(NGINX_STREAM) $(HAPROXY) $(PROMETHEUS) $(REDIS_SERVER) $(REDIS_SENTINEL) \
		$(PATRONI) $(ETCD) $(POSTGRES_SERVER)
ifeq ($(strip $(PYTEST_ARGS)),)
	status=0; \
	LBLAB_Q_NAME=lblab-test-$$$$ $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not solo" || status=1; \
	LBLAB_Q_NAME=lblab-test-$$$$ $(PY) -m pytest -m solo || [ $$? = 5 ] || status=1; \
	exit $$status
else
	LBLAB_Q_NAME=lblab-test-$$$$ $(PY) -m pytest $(PYTEST_ARGS)
endif

lint: venv-dev
	$(VENV)/bin/ruff check .

check: venv-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .cache staticfiles lblab.sqlite3* .test-lblab*.sqlite3*
