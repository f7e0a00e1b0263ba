# Polaris quick start:
#   make run    set everything up, build, and run Polaris on the default models
#   make test   set everything up, build, and run every test suite
# Both are idempotent; the first run on a fresh machine downloads and builds
# (cached under ~/.cache/polaris), later runs take seconds.
#   make install PREFIX=DIR   install the build into DIR (docs/deploy.md)
#   make deb                  the Debian package, written into $(BUILD)

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# `make fuzz`: seconds per fuzz target, and how many run at once.
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2
JOBS ?= $(shell nproc)
# ccache keyed on paths relative to the checkout, so a fresh clone elsewhere
# (CI) reuses earlier compilations.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# Engines listed explicitly, so an old CMake cache never keeps one switched off.
CMAKE_COMMON = -G Ninja -C $(BUILD)/deps.cmake -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
               -DPOLARIS_MODELS_DIR=$(CURDIR)/$(BUILD)/models \
               -DPOLARIS_WITH_ONNXRUNTIME=ON -DPOLARIS_WITH_TORCH=ON -DPOLARIS_WITH_OPENCV=ON

.PHONY: run test bootstrap build build-asan fuzz-build fuzz python-package dashboard install deb clean

run: build dashboard
	scripts/run-default

test: bootstrap build build-asan fuzz-build python-package dashboard
	scripts/run-tests

bootstrap:
	scripts/bootstrap

build: bootstrap
	cmake -S . -B $(BUILD) $(CMAKE_COMMON)
	cmake --build $(BUILD) -j $(JOBS)

# The Python package (python/, docs/python.md) built and installed into
# build/pkg-venv, as `pip install ./python` does for a user; its CMake build
# folder (build/python-wheel) is kept, so a second install takes seconds.
python-package: build
	$(BUILD)/pkg-venv/bin/pip install -q --no-build-isolation ./python

# The web dashboard (dashboard/, docs/dashboard.md): npm packages from the
# lockfile (cached in ~/.cache/polaris/npm), built into the folder that
# $(BUILD)/bin/polaris serves at / (an install keeps it in
# share/polaris/dashboard beside bin/ too). Seconds when nothing changed.
dashboard: bootstrap
	scripts/build-dashboard $(BUILD)/share/polaris/dashboard

# bin/polaris, lib/polaris (engine modules and the engine libraries, found by
# $$ORIGIN), share/polaris (dashboard, default models) and the systemd unit,
# stripped, into PREFIX (default /usr/local); the installed copy needs
# neither this checkout nor ~/.cache/polaris (tests/python/test_install.py).
PREFIX ?= /usr/local
install: build dashboard
	scripts/install-polaris --build $(BUILD) --prefix $(PREFIX)

# polaris_<version>_<arch>.deb (CPack, cmake/PolarisPackaging.cmake) in $(BUILD).
deb: build dashboard
	scripts/build-deb --build $(BUILD)

# AddressSanitizer + UBSan build (clang) of everything but the benchmarks:
# core, the three engine modules and every C++ test suite.
build-asan: bootstrap
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_COMMON) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DPOLARIS_SANITIZE=ON -DPOLARIS_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer targets (fuzz/, docs/fuzzing.md) under ASan+UBSan, in their own
# build: only the fuzz targets and the ONNX Runtime module they load.
fuzz-build: bootstrap
	cmake -S . -B $(FUZZ_BUILD) $(CMAKE_COMMON) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DPOLARIS_SANITIZE=ON -DPOLARIS_BUILD_BENCH=OFF -DPOLARIS_BUILD_TESTS=OFF -DPOLARIS_BUILD_FUZZERS=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target polaris_fuzzers

# Every fuzz target for FUZZ_SECONDS, FUZZ_JOBS at a time, each on a scratch
# copy of its seeds (fuzz/corpus/<target> -> $(FUZZ_BUILD)/fuzz-run/corpus/,
# kept between runs); fails when any target finds a crash (its input:
# $(FUZZ_BUILD)/fuzz-run/artifacts/<target>/).
fuzz: fuzz-build
	fuzz/run --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

clean:
	rm -rf $(BUILD)/CMakeFiles $(BUILD)/bin $(BUILD)/lib $(ASAN_BUILD)
