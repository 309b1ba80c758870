# synlab — everything goes through the virtual environment in $(VENV), created on first use.
#   make book    build the book into _build/html (creates the environment if missing)
#   make test    the whole test suite: lint, unit tests, every chapter executed (with the
#                committed results, and again on the quick path with none), .py/.ipynb pairs in
#                sync, committed results fresh, strict book build, the book in a browser
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
NB_ENV := TQDM_DISABLE=1 PYDEVD_DISABLE_FILE_VALIDATION=1

.PHONY: book test venv lint unit nbval test-quick golden-full test-ray sync-check student-check results-check book-strict browser notebooks benchmarks clean

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

# Stages that cannot run on this machine (no Chromium, no Fashion-MNIST) are skipped outside CI
# and listed in the closing lines; under CI (CI=true) every stage is required.
SKIPS := _build/skipped-stages.txt

test: venv
	@mkdir -p _build; rm -f $(SKIPS)
	$(MAKE) lint unit nbval quick-if-data sync-check student-check results-check book-strict browser
	@echo; if [ -s $(SKIPS) ]; then echo "all checks passed, except these stages, skipped on this machine:"; \
	  cat $(SKIPS); else echo "all checks passed (no stage skipped)"; fi

# ruff: lint and format check (line length 100); import-linter: no import cycles in synlab, and
# the fast paths never import the experiments (configuration of both in pyproject.toml)
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

unit: venv
	$(REPRO_ENV) $(PY) -m pytest tests -q --ignore=tests/browser -m "not ray"

nbval: venv
	MPLBACKEND=Agg $(NB_ENV) $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env book

# Every chapter executed as a reader without the committed results runs it (Colab without the
# results, a fresh clone with results/ removed): an empty results folder and an empty cache, so
# every experiment computes its quick profile. Needs Fashion-MNIST (see README, Data).
# Then that store is checked against the golden results (tests/golden/): nothing is computed twice.
# GOLDEN_ENV pins torch's CPU kernels to AVX2: the fixtures were recorded so, and on a CPU with
# AVX-512 torch otherwise picks other kernels, whose sums round otherwise (a CPU without AVX2 falls
# back to torch's default kernels). Record a fixture under it too:
#   $(GOLDEN_ENV) $(PY) -m synlab run EXP --profile quick, then python tests/golden.py record ...
# REPRO_ENV pins MKL's code path to its AVX kernels (no FMA): MKL takes that path on the AMD EPYC
# where the fixtures and the committed full units were computed, and its AVX2/AVX-512 paths on an
# Intel CPU, where a committed perceptron unit then recomputes one pattern otherwise.
REPRO_ENV := MKL_CBWR=AVX
GOLDEN_ENV := ATEN_CPU_CAPABILITY=avx2 $(REPRO_ENV)
test-quick: venv
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export SYNLAB_RESULTS_DIR=$$tmp/results SYNLAB_CACHE_DIR=$$tmp/cache MPLBACKEND=Agg $(NB_ENV) \
	  $(GOLDEN_ENV); \
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env book && \
	$(PY) -m pytest -q -p no:cacheprovider tests/test_golden.py::test_store_matches_golden --golden-store $$tmp/cache

# One committed full unit per paper (Schug, Raman, Malkin: the cheapest computed on a CPU),
# recomputed into a temporary store and compared with the committed unit (tests/golden.py);
# minutes on 2 cores (Malkin's ~4 CPU-min), so not part of `make test`
golden-full: venv
	$(GOLDEN_ENV) $(PY) -m pytest -q -p no:cacheprovider tests/test_golden.py -k committed_full_unit --golden-full

# test-quick where Fashion-MNIST can be found; otherwise (outside CI) say why it was skipped
quick-if-data: venv
	@why=$$($(PY) -m synlab.data fashion_mnist 2>&1 >/dev/null); rc=$$?; \
	if [ $$rc -eq 0 ]; then $(MAKE) --no-print-directory test-quick; \
	elif [ -n "$$CI" ]; then echo "$$why" >&2; exit 1; \
	else echo "- test-quick (every chapter on the quick path): $$why" | tee -a $(SKIPS); fi

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

# The built book in headless Chromium (Debian packages chromium, chromium-driver); required
# under CI, skipped with a note elsewhere when Chromium is not installed.
browser: venv
	@if [ -n "$$CI" ] || $(PY) -c 'import shutil, sys; sys.exit(not all(map(shutil.which, ("chromium", "chromedriver"))))'; then \
	  SYNLAB_REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser -q -p no:cacheprovider; \
	else echo "- browser (the rendered book in headless Chromium): Chromium is not installed;" \
	  "enable it with: sudo apt-get install chromium chromium-driver" | tee -a $(SKIPS); fi

# The Ray backend of `synlab run --address` (an optional extra): installs `synlab[cluster]` into
# the environment and runs the Ray tests (same numbers as in-process, a worker SIGKILLed, a node
# lost, Ctrl-C on the driver), about 3 min. Not part of `make test`, whose suite needs no Ray
# (`unit` leaves the ray-marked tests out); .ci/run runs it after `make test`.
test-ray: venv
	$(PY) -m pip install -q -e ".[cluster]"
	$(PY) -m pytest tests/test_executor_ray.py -q -p no:cacheprovider -rs

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
