# synlab — everything goes through the virtual environment in $(VENV), created on first use.
#   make book    build the book into _build/html (creates the environment if missing)
#   make test    the whole test suite: unit tests, every chapter executed (quick profile),
#                .py/.ipynb pairs in sync, committed results fresh, strict book build
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first and on its own, so a machine's local build is used; override with
#   make TORCH="torch torchvision" ...
TORCH ?= torch==2.14.1 torchvision==0.29.1
BOOK_FLAGS ?= -W -n --keep-going
CHAPTERS := $(sort $(wildcard book/*/[0-9][0-9]_*.py))
# progress bars off when executing chapters; nbval also uses the Agg backend (no windows),
# while `make notebooks` keeps the inline backend so the stored notebooks contain the figures
NB_ENV := SYNLAB_PROGRESS=0 TQDM_DISABLE=1 PYDEVD_DISABLE_FILE_VALIDATION=1

.PHONY: book test venv lint unit nbval sync-check student-check results-check book-strict browser notebooks benchmarks clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[book,test]"
	@touch $@

venv: $(VENV)/.installed

book: venv
	$(VENV)/bin/jupyter-book build . $(BOOK_FLAGS)
	@echo; echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: venv
	$(MAKE) lint unit nbval sync-check results-check book-strict browser
	@echo "all checks passed"

# ruff: lint and format check (line length 100; configuration in pyproject.toml)
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: venv
	$(PY) -m pytest tests -q --ignore=tests/browser

nbval: venv
	MPLBACKEND=Agg $(NB_ENV) $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env book

sync-check: venv
	@for f in $(CHAPTERS); do $(VENV)/bin/jupytext --quiet --to py:percent -o "$$f" "$${f%.py}.ipynb" || exit 1; done
	git diff --exit-code -- book || (echo "book/*.py and *.ipynb are out of sync: edit the .py, then run 'make notebooks'" >&2; exit 1)

# the committed student edition (student/) is what the chapters give: regenerate with
#   $(PY) -m synlab.student edition
student-check: venv
	$(PY) -m synlab.student edition --check

results-check: venv
	$(PY) -m synlab status --check

book-strict: venv
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . $(BOOK_FLAGS)

# The built book in headless Chromium (Debian packages chromium, chromium-driver).
browser: venv
	SYNLAB_REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser -q -p no:cacheprovider

# Regenerate every chapter notebook from its .py twin and execute it (quick profile, or
# committed full results where fresh); run after editing a chapter. One chapter:
#   make notebooks CHAPTERS=book/foundations/01_quantal_release.py
notebooks: venv
	@for f in $(CHAPTERS); do echo "== $$f"; env -u MPLBACKEND $(NB_ENV) $(VENV)/bin/jupytext --to ipynb --execute "$$f" || exit 1; \
	  $(VENV)/bin/jupytext --quiet --to py:percent -o "$$f" "$${f%.py}.ipynb"; done

# Speed: ensemble vs one-at-a-time, and FLOP/s vs a large matmul (a minute each). The
# full-profile wall time is a separate, long command: $(PY) benchmarks/bench_full_profile.py
benchmarks: venv
	$(PY) benchmarks/bench_ensemble.py
	$(PY) benchmarks/bench_flops.py
	$(PY) benchmarks/bench_stacked.py
	$(PY) benchmarks/bench_continual_stacked.py

clean:
	rm -rf _build
