# LB Lab: `make run` and `make test` on a fresh machine; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: run test venv venv-dev lint check migrate clean

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
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) -m lbsite.runner

# Browser tests drive Debian's Chromium: Playwright's own browser download cannot work here.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium

# Everything: unit, integration (PostgreSQL when DATABASE_URL is set, a real qcluster), API,
# browser (Playwright on Debian's Chromium), manifests.
# LBLAB_Q_NAME keeps the test worker's queue apart from any `make run` on the same Redis.
test: venv-dev $(CHROMIUM)
	LBLAB_Q_NAME=lblab-test-$$$$ $(PY) -m pytest $(PYTEST_ARGS)

lint: venv-dev
	$(VENV)/bin/ruff check .

check: venv-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .cache staticfiles lblab.sqlite3* .test-lblab*.sqlite3*
