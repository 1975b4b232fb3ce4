# A thin layer over CMake/CTest: `make demo` runs the main job, `make test` the test suite.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 600
FUZZ_RUNS ?= -1
SEEDS ?= 1
THREADS ?= 0

REPRODUCE := $(patsubst recipes/%/reproduce.json,reproduce-%,$(wildcard recipes/*/reproduce.json))

.PHONY: all deps configure build demo test asan minimal emu bench install clean fuzz fuzz-build $(REPRODUCE)

all: build

deps:
	@tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/bin/cformer demo

test: build
	cd $(BUILD) && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ctest --output-on-failure -j $(JOBS)

# The suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCF_SANITIZE=ON -DCF_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)"

# The optional dependencies off (no HDF5, MPI, CUDA): everything must still build; what needs them skips.
minimal:
	@$(MAKE) test BUILD=build-minimal CMAKE_FLAGS="-DCF_HDF5=OFF -DCF_MPI=OFF -DCF_CUDA=OFF $(CMAKE_FLAGS)"

# The CUDA backend without a GPU: its kernels built with the host compiler against the SIMT emulator, under ASan +
# UBSan, and only the CUDA-labelled tests (the emulator's own, the runtime plumbing, the cross-backend test,
# device parameters, and training on the device end to end, one rank and two: HDF5 and MPI on for those) run.
EMU_BUILD ?= build-emu
emu: deps
	@cmake -S . -B $(EMU_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCF_CUDA_EMU=ON -DCF_CUDA=OFF -DCF_SANITIZE=ON \
		$(CMAKE_FLAGS) >/dev/null
	@cmake --build $(EMU_BUILD) -j $(JOBS) --target cuda_tests
	cd $(EMU_BUILD) && ctest --output-on-failure -j $(JOBS) -L cuda

# The libFuzzer harnesses of tests/fuzz in their own clang build (ASan + UBSan + coverage instrumentation);
# `make fuzz` runs each for FUZZ_SECONDS over its corpus and prints executions and coverage per harness.
fuzz-build: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCF_FUZZ=ON -DCF_TESTS=OFF -DCF_MPI=OFF \
		-DCF_CUDA=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh build-fuzz

# A paper's published tables re-run from this checkout, beside the published numbers (tools/reproduce.sh):
# `make reproduce-gpt SEEDS=3` writes reproduce/gpt-DATE/results.md and results.json.
$(REPRODUCE): reproduce-%: build
	tools/reproduce.sh $* --seeds $(SEEDS) --threads $(THREADS) --build $(BUILD)

bench: build
	$(BUILD)/bin/cformer bench ops

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-minimal build-fuzz
