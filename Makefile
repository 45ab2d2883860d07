# sagesync — developer entry points. `make test` works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint browser demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check sagesync tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The status page is tested in a real headless browser: Debian's chromium, installed quietly
# when running as root and missing (otherwise those tests skip and say why).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  ! command -v apt-get >/dev/null 2>&1 || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	  echo "chromium could not be installed: the status page's browser tests will skip"

# The SFTP tests run a real OpenSSH sshd on 127.0.0.1: installed here when running as root and
# missing (elsewhere those tests skip, saying why). The suite runs on two processes (pytest-xdist),
# a test file to each at a time, so a module's fixtures are built once: about 8 minutes, not 14.
test: lint browser
	@if [ "$$(id -u)" = 0 ] && ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ] \
	    && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing openssh-server for the SFTP tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null 2>&1; } \
	  || echo "could not install openssh-server: the SFTP tests will skip"; \
	fi
	$(BIN)/pytest -n 2 --dist loadfile

demo: $(STAMP)
	rm -rf demo-state
	$(BIN)/sagesync --state-dir demo-state run recipes/demo.toml

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo-state .pytest_cache build *.egg-info
