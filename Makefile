# qnn-bench front door. Every target sets itself up: `make bench` and `make test` work on a
# fresh clone with nothing installed but Python 3.11.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Run-point variables, all optional (defaults live in bench/core/spec.py and docs/running.md).
BITS ?=
WBITS ?=
ABITS ?=
PE ?=
SIMD ?=
MODEL ?=
DATASET ?=
DATA_DIR ?=
EPOCHS ?=
SEED ?=
BOARD ?=
CLK_NS ?=
QUANT ?=
TARGET ?=
MVU ?=
DSP ?=
IMPL ?=
FP32 ?=
INPUT_SIZE ?=
SEEDS ?=
FULL ?=
QONNX ?=
INPUT_SCALE ?=
INPUT_OFFSET ?=
HW_ACC_SAMPLES ?=
DEVICE ?=
AUGMENT ?=
RESULTS ?= results
SPEC ?= finn_builds/example_sweep.yaml
JOBS ?= 1
# `make reproduce` uses the free cores unless JOBS is given.
REPRO_JOBS = $(if $(filter command line environment,$(origin JOBS)),$(JOBS),auto)
QUICK ?=
CHECK ?=
# `make test` also runs docker-test when Docker can be used; DOCKER_TEST=no leaves it out.
DOCKER_TEST ?= auto

opt = $(if $(strip $(2)),$(1) '$(strip $(2))')
RUN_ARGS = $(call opt,--bits,$(BITS)) $(call opt,--wbits,$(WBITS)) \
	$(call opt,--abits,$(ABITS)) $(call opt,--pe,$(PE)) $(call opt,--simd,$(SIMD)) \
	$(call opt,--model,$(MODEL)) $(call opt,--dataset,$(DATASET)) \
	$(call opt,--data-dir,$(DATA_DIR)) $(call opt,--epochs,$(EPOCHS)) \
	$(call opt,--seed,$(SEED)) $(call opt,--board,$(BOARD)) \
	$(call opt,--clk-ns,$(CLK_NS)) $(call opt,--quant,$(QUANT)) $(call opt,--target,$(TARGET)) \
	$(call opt,--input-size,$(INPUT_SIZE)) \
	$(call opt,--mvu,$(MVU)) $(call opt,--dsp,$(DSP)) $(call opt,--impl,$(IMPL)) \
	$(if $(filter 1 yes true,$(FP32)),--fp32-baseline) \
	$(call opt,--qonnx,$(QONNX)) $(call opt,--input-scale,$(INPUT_SCALE)) \
	$(call opt,--input-offset,$(INPUT_OFFSET)) \
	$(call opt,--hw-accuracy-samples,$(HW_ACC_SAMPLES)) $(call opt,--device,$(DEVICE)) \
	$(call opt,--augment,$(AUGMENT)) \
	--results-dir '$(RESULTS)'

.PHONY: install bench sweep reproduce budget report perf calibrate test test-fast docker-test docs \
	lint clean

install: $(STAMP)

# Re-runs only when a dependency file changes. finn-plus goes in with --no-deps on purpose:
# see requirements.txt for the brevitas/setuptools conflict this avoids.
$(STAMP): requirements.txt requirements-docs.txt requirements-finn.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements-docs.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-finn.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

bench: install
	$(BIN)/qnnbench run $(RUN_ARGS)

sweep: install
	$(BIN)/qnnbench sweep '$(SPEC)' --results-dir '$(RESULTS)' --jobs '$(JOBS)'

reproduce: install
	$(BIN)/qnnbench reproduce --results-dir '$(RESULTS)' --jobs '$(REPRO_JOBS)' \
		$(call opt,--dataset,$(DATASET)) $(call opt,--data-dir,$(DATA_DIR)) \
		$(call opt,--seeds,$(SEEDS)) \
		$(if $(filter 1 yes true,$(QUICK)),--quick) $(if $(filter 1 yes true,$(FULL)),--full) \
		$(if $(filter 1 yes true,$(POT_HW)),--pot-hardware) \
		$(if $(filter route,$(POT_HW)),--pot-hardware route)

# int vs power-of-two: the fastest design that fits each board (QUICK=1: small version;
# VERIFY=0: search only, build nothing)
budget: install
	$(BIN)/qnnbench budget --results-dir '$(RESULTS)' --jobs '$(REPRO_JOBS)' \
		$(call opt,--seeds,$(SEEDS)) $(call opt,--boards,$(BOARDS)) \
		$(if $(filter 1 yes true,$(QUICK)),--quick) \
		$(if $(filter 0 no false,$(VERIFY)),--no-verify)

report: install
	$(BIN)/qnnbench report --results-dir '$(RESULTS)'

perf: install
	$(BIN)/qnnbench perf --results-dir '$(RESULTS)'

# Synthesize the calibration corpus rows not yet measured, refit, print the check
# (CHECK=1: only the check). JOBS as for reproduce: the free cores unless given.
calibrate: install
	$(BIN)/qnnbench calibrate --results-dir '$(RESULTS)' --jobs '$(REPRO_JOBS)' \
		$(if $(filter 1 yes true,$(CHECK)),--check)

test: install
	$(BIN)/python -m pytest -q -m "slow or not slow"
ifeq ($(filter no 0 false,$(DOCKER_TEST)),)
	PYTHON='$(PYTHON)' docker/docker-test.sh --if-available
else
	@echo "docker-test skipped: DOCKER_TEST=$(DOCKER_TEST)"
endif

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# Build the image and run a bench point and the quick reproduction in it (see the README).
docker-test:
	PYTHON='$(PYTHON)' docker/docker-test.sh

# The documentation site (mkdocs.yml), built strictly: a broken link or reference fails.
docs: install
	$(BIN)/mkdocs build --strict --site-dir build/site

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(RESULTS) build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
