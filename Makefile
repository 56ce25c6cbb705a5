# benchgen: `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
SEEDS ?= 8
# Debian packages: the sandbox (bubblewrap), headless rendering (EGL and OSMesa from Mesa, no GPU needed).
SYSTEM_PACKAGES := python3-venv bubblewrap libegl1 libgl1-mesa-dri libosmesa6

.PHONY: install system-deps run test lint typecheck unit bench-worker bench-pipeline bench-skills bench-quality bench-providers bench-layout-scales bench-scale bench-eval clean

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade uv
	@# Bytecode compiled at install: with PYTHONDONTWRITEBYTECODE set (CI, the sandbox) every import would
	@# otherwise compile build123d and its stack from source, seconds per process.
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev,providers,hf]'
	touch $(STAMP)

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "warning: missing system packages:$$missing (sudo apt-get install$$missing)" >&2; \
	fi

install: $(STAMP) system-deps

# The main job: a mixed batch (both tiers) generated offline through the Dagster assets.
run: install
	$(VENV)/bin/benchgen generate --batch examples/make_run.yaml

lint: install
	$(VENV)/bin/ruff check benchgen_dagster tests bench
	$(VENV)/bin/ruff format --check benchgen_dagster tests bench

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest

test: lint typecheck unit

bench-worker: install
	$(PY) -m bench.bench_worker --seeds $(SEEDS)

# Dagster's cost on top of the same agent + sandbox work (goal: overhead ≤ 1.15).
bench-pipeline: install
	$(PY) -m bench.bench_pipeline --seeds $(SEEDS)

# Journals → learned skills → the same requests again (offline): first-attempt pass rate and mean rounds.
bench-skills: install
	$(PY) bench/bench_skills.py --seeds $(SEEDS)

# A mixed batch through the whole pipeline, then an audit on fresh seeds: yield, rejections, audit pass rate.
AUDIT_SEEDS ?= 16
EVAL_SEEDS ?= 4
bench-quality: install
	$(PY) bench/bench_quality.py --seeds $(SEEDS) --audit-seeds $(AUDIT_SEEDS)

# One real-client session (langchain-openai) against the scripted provider server: calls, tokens, cost per
# role, and the wall time split into model and sandbox time.
bench-providers: install
	$(PY) -m bench.bench_providers

# How far each family's layout grows (2, 1.6 or 1.3×) and still passes every check over 16 seeds, beside
# what library/parameters.LAYOUT_SCALES declares; exits 1 where a declaration claims more.
bench-layout-scales: install
	$(PY) -m bench.bench_layout_scales

# The Celery path: 1 vs 2 workers (one core each), against the in-process path, and 4x the batch on both
# (about 45 minutes). Needs PostgreSQL, RabbitMQ and Redis on loopback (.ci/services starts them).
bench-scale: install
	$(PY) -m bench.bench_scale --seeds $(SEEDS)

# The three baselines (reference, none, the offline engineer) on a mixed generated dataset: solve rates, wall
# time per benchmark × seed, and the rank correlation of the feature-based and the empirical difficulty.
bench-eval: install
	$(PY) -m bench.bench_eval --seeds $(SEEDS) --eval-seeds $(EVAL_SEEDS)

clean:
	rm -rf $(VENV) .benchgen .pytest_cache .mypy_cache .ruff_cache
