# Two commands matter on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstalled when the package metadata or the C extension changes (an editable install does not rebuild it).
NATIVE := setup.py $(wildcard collector/*/*.c)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(NATIVE) | cksum | cut -d' ' -f1)

.PHONY: run test test-fast lint typecheck fuzz fuzz-ci bench venv docs clean phoenix libvenvs

$(STAMP): pyproject.toml $(NATIVE)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

## Start the daemon on the embedded default config (extra flags: make run ARGS="--config my.yaml").
run: $(STAMP)
	$(VENV)/bin/llm-collector run $(ARGS)

## Every test, slow integration tests included (this is what CI runs).
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## Quick loop while developing: skips tests marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## Static checks (ruff: pyflakes, import order, bugbear, pyupgrade; configured in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .

## Type checks (mypy over collector/, the generated Jaeger protobuf code excepted; configured in pyproject.toml).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

## Coverage-guided fuzzing of the C walks under ASan/UBSan (fuzz/): FUZZ_SECONDS per target, FUZZ_JOBS targets
## at once, FUZZ_TARGETS to pick some (default all). Coverage of the C code needs clang; with gcc only the
## Python reference walks guide the fuzzer. Fails on any crash (input kept in build/fuzz/crashes/).
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 1
fuzz: $(STAMP)
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) $(FUZZ_TARGETS)

## What CI runs: 60 s per target, two at a time (~6 min for the 11 targets).
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=60 FUZZ_JOBS=2

## Arize Phoenix, a real third-party OTLP server for tests/integration/test_phoenix.py (~1 min, ~850 MB), kept
## out of the project's venv; without it that test is skipped. CI installs it.
phoenix: .phoenix-venv/bin/phoenix
.phoenix-venv/bin/phoenix:
	$(PYTHON) -m venv .phoenix-venv
	.phoenix-venv/bin/pip install --quiet --disable-pip-version-check arize-phoenix

## One venv per real GenAI library for tests/integration/test_genai_libraries.py (tests/libvenvs.py: pinned in
## tests/venvs/*.txt, built in parallel under .cache/libvenvs, reused while the pins are unchanged). The test
## builds missing ones itself; CI builds them first so the install time shows on its own.
libvenvs: $(STAMP)
	$(PY) tests/libvenvs.py

## Throughput / CPU / RSS table for the pass-through and LLM pipelines (current figures in docs/performance.md).
bench: $(STAMP)
	$(PY) benchmarks/bench.py $(ARGS)

## Regenerate docs/configuration.md (the config reference) from the typed component configs.
docs: $(STAMP)
	$(PY) -m collector.docs --write docs/configuration.md

clean:
	rm -rf $(VENV) .phoenix-venv .cache build dist *.egg-info data
