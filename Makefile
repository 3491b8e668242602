# edgekd — every entry point a fresh machine needs. `make demo` and `make test` install first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TARGET ?= raspberry-pi-4
# Keep the test suite's BLAS/torch threads from fighting each other on 2 cores.
export OMP_NUM_THREADS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install demo test test-all lint bench bench-vision bench-speech bench-compress bench-latency gate clean

install: $(STAMP)

# Two passes, as measured in ../shared/STACK.md: one resolver pass for the pinned stack,
# then two packages whose declared pins cannot resolve with it, installed with --no-deps.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		onnx-neural-compressor==1.0 onnxruntime-extensions==0.15.2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edgekd build --target $(TARGET) --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf runs .pytest_cache
