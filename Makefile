# Two commands for a new user (Python 3.11 on PATH as python3.11):
#   make demo   set up .venv, install the kit, run the main job on digits
#   make test   set up .venv, install the kit, run the tests
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT ?= runs/demo

.PHONY: install demo test test-all lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A plain (non-editable) install: the tests run against what a user gets. setuptools' staging
# folder (build/) would keep modules deleted from the source since the last install: start clean.
install: $(BIN)/python
	rm -rf build
	$(BIN)/pip install --quiet --disable-pip-version-check ".[test,hw]"

demo: install
	$(BIN)/mrfpga demo --out $(DEMO_OUT) --force

# Three workers on two cores: a worker often waits on a subprocess (g++, Verilator, Yosys) or on TensorFlow's
# start, and a third keeps both cores busy. --dist loadgroup keeps the tests that share a class's HLS project
# or a module's model on one worker, and the longest start first (tests/conftest.py); the slowest tests are
# listed at the end. A fresh-clone `make test` takes about 12 minutes on two idle cores (11 of them pytest).
test: install
	$(BIN)/pytest -q -n 3 --dist loadgroup --no-loadscope-reorder --durations=25 -m "not extended"

# Everything, the extended variants too (about 30 minutes on two cores).
test-all: install
	$(BIN)/pytest -q -n 3 --dist loadgroup --no-loadscope-reorder --durations=25

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Figures, not pass/fail: spine (~1 min), quantizers (~0.5 min), HLS vs hls4ml and the demo's twin (~8 min),
# methods over 3 seeds (~7 min), training steps vs QKeras (~10 min), unit costs with Yosys (~12 min), the design
# against plain QKeras baselines with Yosys (~15 min), the streaming CNN's whole twin (~3 min) and against its plain
# streaming design (~8 min).
bench: install
	for script in bench/bench_spine.py bench/bench_quantizers.py bench/bench_hls.py bench/bench_methods.py \
			bench/bench_training.py bench/bench_units.py bench/bench_designs.py bench/bench_stream_twin.py \
			bench/bench_stream_baseline.py; do \
		$(BIN)/python $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) build runs *.egg-info
