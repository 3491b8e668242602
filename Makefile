# edgekd — every entry point a fresh machine needs. `make demo` and `make test` install first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CARRY  := benchmarks/checkpoints
TARGET ?= raspberry-pi-4
# Keep the test suite's BLAS/torch threads from fighting each other on 2 cores.
export OMP_NUM_THREADS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install constraints demo test test-all lint bench bench-vision bench-vision-fm bench-vision-long bench-vision-data bench-speech bench-speech-aug bench-speech-loso bench-kd-sweep bench-compress bench-compress-byo bench-int8-width bench-first-conv bench-qat-guard bench-tflite-convert bench-latency bench-devices-export bench-devices bench-tf-features bench-byo-teachers bench-byo bench-small-data bench-fit gate baseline clean

install: $(STAMP)

# Two passes: one resolver pass for the package and its extras, held to the exact measured
# versions in constraints.txt; then two packages whose declared pins cannot resolve with that
# stack (they work with it), installed with --no-deps.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,keras]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt \
		onnx-neural-compressor onnxruntime-extensions
	touch $(STAMP)

# Rewrite constraints.txt from the current .venv (after changing a range in pyproject.toml and testing).
constraints: $(STAMP)
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --disable-pip-version-check \
		| grep -v -e '^-e ' -e '^edgekd' | sed 's/+cpu$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# Style of the package, benchmarks and tests, and types of the package (configured in pyproject.toml);
# CI runs it after the tests.
lint: $(STAMP)
	$(BIN)/ruff check edgekd benchmarks tests
	$(BIN)/mypy edgekd

demo: $(STAMP)
	$(BIN)/edgekd build --target $(TARGET) --out runs/demo

# Two workers, one per core; a test module stays on one worker (its module fixtures are built once), and
# tests/conftest.py gives each worker one torch thread (overriding the OMP_NUM_THREADS=2 exported above).
# Measured on the 2-core machine: 11 min 59 s in one process, 6 min 51 s this way.
PYTEST_PARALLEL := -n 2 --dist loadscope

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_PARALLEL)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

# `make bench` runs every benchmark; `make bench TARGET=name` one build of the default example for that target.
ifneq ($(filter command line environment,$(origin TARGET)),)
bench: $(STAMP)
	$(BIN)/edgekd build --target $(TARGET) --out runs/bench-$(TARGET)
else
bench: bench-vision bench-speech bench-kd-sweep bench-compress bench-latency bench-tf-features
endif

# Export every network of the published device-latency table (benchmarks/devices/) to ONNX, and
# the small ones to TFLite FP32/INT8, into benchmarks/work/devices/ (resumable; see its README).
bench-devices-export: $(STAMP)
	$(BIN)/python benchmarks/devices/export.py

# Predicted vs published on-device latency (benchmarks/devices/): cost every network once (cached in
# benchmarks/work/devices/costs/), fit the device model per runtime family, leave-one-source-out validation,
# bands; writes benchmarks/results/devices.json, edgekd/predict/device_coefficients.yaml and RESULTS.md.
bench-devices: $(STAMP)
	$(BIN)/python benchmarks/devices/costs.py
	$(BIN)/python benchmarks/devices/validate.py --write

# Predicted vs measured host latency for >= 20 students (writes benchmarks/results/latency.json).
bench-latency: $(STAMP)
	$(BIN)/python benchmarks/latency.py

# Distillation on real data: CIFAR-10 JPEGs + pretrained resnet56 (white box and ONNX), FSDD speech
# (two splits, soft-label cache timing). Pass a shorter budget with BENCH_ARGS="--set distill.epochs=3".
bench-vision: $(STAMP)
	$(BIN)/python benchmarks/vision.py $(BENCH_ARGS)

bench-speech: $(STAMP)
	$(BIN)/python benchmarks/speech.py $(BENCH_ARGS)

# edgekd's TensorFlow-style MFCC/log-mel vs tf.signal on every FSDD recording (writes results/tf-features.json).
bench-tf-features: $(STAMP)
	$(BIN)/python benchmarks/tf_features.py $(BENCH_ARGS)

# Hours-long vision runs, the KD student and the hard-label baseline as two one-thread processes side by side
# (logs: benchmarks/work/<name>-{student,baseline}.log); after an interruption the same command resumes both
# from their last epoch. Their checkpoints go to $(CARRY)/, which is deliberately not git-ignored: see
# benchmarks/checkpoints/README.md. The curves so far:
# `python benchmarks/vision.py --config benchmarks/<name>.yaml --merge`.
# bench-vision-fm: the function-matching KD recipe (benchmarks/vision-fm.yaml).
# bench-vision-long: bench-vision's standard recipe for 100 epochs (benchmarks/vision-long.yaml), to find
# where its curve plateaus.
bench-vision-fm bench-vision-long: $(STAMP)
	mkdir -p benchmarks/work
	for role in student baseline; do \
	  OMP_NUM_THREADS=1 $(BIN)/python benchmarks/vision.py --config benchmarks/$(@:bench-%=%).yaml --role $$role \
	    --no-onnx --threads 1 --work $(CARRY)/$(@:bench-%=%)-$$role $(BENCH_ARGS) \
	    > benchmarks/work/$(@:bench-%=%)-$$role.log 2>&1 & \
	done; wait
	tail -n 3 benchmarks/work/$(@:bench-%=%)-student.log benchmarks/work/$(@:bench-%=%)-baseline.log

# bench-vision-data: bench-vision's KD student on the first 250 and 500 JPEGs per class at equal compute
# (benchmarks/vision-data{250,500}.yaml, 80 and 40 epochs), side by side and resumable like the runs above;
# then benchmarks/vision_data.py sets them beside bench-vision's own run (1,000 per class) in RESULTS.md.
bench-vision-data: $(STAMP)
	mkdir -p benchmarks/work
	for n in 250 500; do \
	  OMP_NUM_THREADS=1 $(BIN)/python benchmarks/vision.py --config benchmarks/vision-data$$n.yaml --role student \
	    --no-onnx --threads 1 $(BENCH_ARGS) > benchmarks/work/vision-data$$n.log 2>&1 & \
	done; wait
	$(BIN)/python benchmarks/vision_data.py

# Leave-one-speaker-out: the augmented speech recipe with each FSDD speaker held out in turn (teacher, KD
# student, hard-label baseline; ~45 core-minutes a speaker, resumable), then KD - baseline over speakers.
# SPEAKERS picks a subset: two processes, e.g. SPEAKERS="george jackson lucas" and the other three, then
# `make bench-speech-loso SPEAKERS=` to tabulate what is there. A speaker whose results file exists is
# skipped (delete benchmarks/results/$(LOSO)-<speaker>.json to run it again). Another recipe under its
# own name: e.g. the 3-teacher ensemble (~75 core-minutes a speaker),
#   make bench-speech-loso LOSO=speech-loso-ens3 BENCH_ARGS="--set teacher.members=3"
FSDD_SPEAKERS := george jackson lucas nicolas theo yweweler
SPEAKERS ?= $(FSDD_SPEAKERS)
LOSO ?= speech-loso
bench-speech-loso: $(STAMP)
	for s in $(SPEAKERS); do out=benchmarks/results/$(LOSO)-$$s.json; [ -f $$out ] && continue; \
	  $(BIN)/python benchmarks/speech.py --config benchmarks/speech-aug.yaml --split held-out --speaker $$s \
	  --out $$out --no-section $(BENCH_ARGS) || exit $$?; done
	$(BIN)/python benchmarks/kd_seeds.py --by speaker --name $(LOSO) \
	  $$(for s in $(FSDD_SPEAKERS); do f=benchmarks/results/$(LOSO)-$$s.json; [ -f $$f ] && echo $$f; done)

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

# The same engines on a student distilled from the Keras DS-CNN teacher (TensorFlow MFCCs) of
# `make bench-byo-teachers BYO_ARGS="--only ds_cnn"` (run that first): material edgekd did not make.
bench-compress-byo: $(STAMP)
	$(BIN)/python benchmarks/compress.py --only byo-speech --out benchmarks/results/compress-byo.json \
	  --work benchmarks/work/compress-byo $(COMPRESS_ARGS)

# INT8/FP32 latency of the speech DS-CNN against its width (untrained models; latency only).
bench-int8-width: $(STAMP)
	$(BIN)/python benchmarks/int8_width.py $(WIDTH_ARGS)

# What quantize.float_first_conv auto decides for the bench-compress students on every target (predictions, seconds).
bench-first-conv: $(STAMP)
	$(BIN)/python benchmarks/first_conv.py

# QAT's kept-state guard on the bench-compress speech student: default and too-high learning rates (~10 min).
bench-qat-guard: $(STAMP)
	$(BIN)/python benchmarks/qat_guard.py

# Third-party-style Keras teachers (ResNet-8, DS-CNN on TF MFCCs, MobileNetV1-0.25 at 96x96) trained,
# converted with TensorFlow's TFLite converter and scored directly in TF/LiteRT (phase A of bench-byo).
# Resumable: rerun after an interruption. Outputs in benchmarks/work/byo/, summary in
# benchmarks/results/byo-teachers.json. BYO_ARGS="--only resnet8 --epochs 1" for a partial run.
bench-byo-teachers: $(STAMP)
	$(BIN)/python benchmarks/byo/teachers.py $(BYO_ARGS)

# Bring-your-own teachers, phase B: edgekd builds from each phase-A teacher's .tflite and .keras (teacher
# given its own input/front end), 3 distillation epochs each. Resumable (a finished build is skipped, a
# killed one resumed). BYO_ARGS="--teachers DIR" points at phase A's models if they are elsewhere.
# Results in benchmarks/results/byo.json.
bench-byo: $(STAMP)
	$(BIN)/python benchmarks/byo/distill.py --out benchmarks/work/byo-distill $(BYO_ARGS)

# The default build with 3 classes x 100 real images (CIFAR-10 JPEGs from ../shared/data): does a small
# folder with default settings end above chance? (writes benchmarks/results/small_data.json)
bench-small-data: $(STAMP)
	$(BIN)/python benchmarks/small_data.py

# Where TFLite INT8 conversion time goes: litert-torch PT2E phase by phase vs the AI Edge Quantizer
# (writes benchmarks/results/tflite-convert.json).
bench-tflite-convert: $(STAMP)
	$(BIN)/python benchmarks/tflite_convert.py

# Default student vs a small hand grid vs `edgekd build --fit` on FSDD (stm32h7a3, esp32-s3) and CIFAR-10
# (raspberry-pi-4, pixel-4), budgets tightened so the default misses (benchmarks/results/fit.json; resumable).
bench-fit: $(STAMP)
	$(BIN)/python benchmarks/fit.py $(FIT_ARGS)

# Build the default example, then gate it on its budgets and on the committed baseline (exit 3 on a miss).
# Top-1 and ECE are judged by what the 360 test images resolve (Newcombe-Wilson interval, bootstrap of
# the reliability bins); --max-regression applies to size and latency (see README "Gate in CI").
GATE_TARGET ?= raspberry-pi-4
gate: $(STAMP)
	rm -rf runs/gate
	$(BIN)/edgekd build --target $(GATE_TARGET) --out runs/gate || [ $$? -eq 3 ]
	$(BIN)/edgekd check runs/gate/report.json --target $(GATE_TARGET) \
		--baseline benchmarks/baseline/report.json --max-regression 5%

# Rebuild the committed baseline with the current code (run it on a quiet machine: host latency is
# compared only between quiet runs on the same CPU). Refuses a build that misses a budget.
baseline: $(STAMP)
	rm -rf runs/baseline
	$(BIN)/edgekd build --target $(GATE_TARGET) --out runs/baseline
	cp runs/baseline/report.json benchmarks/baseline/report.json
	@echo "wrote benchmarks/baseline/report.json (commit it)"

clean:
	rm -rf runs .pytest_cache
