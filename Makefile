# edgekd — every entry point a fresh machine needs. `make demo` and `make test` install first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TARGET ?= raspberry-pi-4
# Keep the test suite's BLAS/torch threads from fighting each other on 2 cores.
export OMP_NUM_THREADS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install demo test test-all lint bench bench-vision bench-vision-fm bench-speech bench-speech-aug bench-kd-sweep bench-compress bench-latency gate clean

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

# `make bench` runs every benchmark; `make bench TARGET=name` one build of the default example for that target.
ifneq ($(filter command line environment,$(origin TARGET)),)
bench: $(STAMP)
	$(BIN)/edgekd build --target $(TARGET) --out runs/bench-$(TARGET)
else
bench: bench-vision bench-speech bench-kd-sweep bench-compress bench-latency
endif

# Predicted vs measured host latency for >= 20 students (writes benchmarks/results/latency.json).
bench-latency: $(STAMP)
	$(BIN)/python benchmarks/latency.py

# Distillation on real data: CIFAR-10 JPEGs + pretrained resnet56 (white box and ONNX), FSDD speech
# (two splits, soft-label cache timing). Pass a shorter budget with BENCH_ARGS="--set distill.epochs=3".
bench-vision: $(STAMP)
	$(BIN)/python benchmarks/vision.py $(BENCH_ARGS)

bench-speech: $(STAMP)
	$(BIN)/python benchmarks/speech.py $(BENCH_ARGS)

# The function-matching KD recipe (benchmarks/vision-fm.yaml), hours long: the KD student and the hard-label
# baseline train as two one-thread processes side by side (logs: benchmarks/work/vision-fm-{student,baseline}.log);
# after an interruption the same command resumes both from their last epoch (checkpoints in benchmarks/work/).
# The curves so far: `python benchmarks/vision.py --config benchmarks/vision-fm.yaml --merge`.
bench-vision-fm: $(STAMP)
	mkdir -p benchmarks/work
	for role in student baseline; do \
	  OMP_NUM_THREADS=1 $(BIN)/python benchmarks/vision.py --config benchmarks/vision-fm.yaml --role $$role \
	    --no-onnx --threads 1 $(BENCH_ARGS) > benchmarks/work/vision-fm-$$role.log 2>&1 & \
	done; wait
	tail -n 3 benchmarks/work/vision-fm-student.log benchmarks/work/vision-fm-baseline.log

# Speech with train-time augmentation (time shift, noise, SpecAugment): benchmarks/speech-aug.yaml.
bench-speech-aug: $(STAMP)
	$(BIN)/python benchmarks/speech.py --config benchmarks/speech-aug.yaml $(BENCH_ARGS)

# KD's temperature and alpha chosen on the validation split (one teacher, a small grid, the baseline).
bench-kd-sweep: $(STAMP)
	$(BIN)/python benchmarks/kd_sweep.py $(BENCH_ARGS)

# FP32 vs INT8 (ORT static, accuracy-aware, TFLite) side by side, and pruning to half the MACs + KD recovery
# (writes benchmarks/results/compress.json). Starts from the students bench-vision and bench-speech saved in
# benchmarks/work/ (run those first); COMPRESS_ARGS="--train-here --vision-epochs 3" trains its own instead.
bench-compress: $(STAMP)
	$(BIN)/python benchmarks/compress.py $(COMPRESS_ARGS)

# Build the default example, then gate it on its budgets and on the committed baseline (exit 3 on a miss).
GATE_TARGET ?= raspberry-pi-4
gate: $(STAMP)
	rm -rf runs/gate
	$(BIN)/edgekd build --target $(GATE_TARGET) --out runs/gate || [ $$? -eq 3 ]
	$(BIN)/edgekd check runs/gate/report.json --target $(GATE_TARGET) \
		--baseline benchmarks/baseline/report.json --max-regression 5%

clean:
	rm -rf runs .pytest_cache
