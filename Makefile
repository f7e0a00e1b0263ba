# Polaris quick start:
#   make run    set everything up, build, and run Polaris on the default models
#   make test   set everything up, build, and run every test suite
# Both are idempotent; the first run on a fresh machine downloads and builds
# (cached under ~/.cache/polaris), later runs take seconds.

BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere
# (CI) reuses earlier compilations.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# Engines listed explicitly, so an old CMake cache never keeps one switched off.
CMAKE_COMMON = -G Ninja -C $(BUILD)/deps.cmake -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
               -DPOLARIS_MODELS_DIR=$(CURDIR)/$(BUILD)/models \
               -DPOLARIS_WITH_ONNXRUNTIME=ON -DPOLARIS_WITH_TORCH=ON -DPOLARIS_WITH_OPENCV=ON

.PHONY: run test bootstrap build build-asan unit-test asan-test python-test clean

run: build
	scripts/run-default

test: bootstrap build build-asan
	scripts/run-tests

bootstrap:
	scripts/bootstrap

build: bootstrap
	cmake -S . -B $(BUILD) $(CMAKE_COMMON)
	cmake --build $(BUILD) -j $(JOBS)

# AddressSanitizer + UBSan build (clang) of everything but the benchmarks:
# core, the three engine modules and every C++ test suite.
build-asan: bootstrap
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_COMMON) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DPOLARIS_SANITIZE=ON -DPOLARIS_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)

clean:
	rm -rf $(BUILD)/CMakeFiles $(BUILD)/bin $(BUILD)/lib $(ASAN_BUILD)
