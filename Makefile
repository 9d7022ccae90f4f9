# CPC top-level commands. On a fresh Debian 12 machine:
#   make run    install what is needed, build, start the main job
#   make test   install, build, run every test, then again under ASan+UBSan
#   make bench  benchmarks (ratios against reference tools, same run)
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan run test test-plain test-asan bench fuzz format clean

all: build

deps:
	bash scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCPC_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	bash scripts/run

test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --repeat until-pass:2
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) --repeat until-pass:2
	bash scripts/fuzz-smoke

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --repeat until-pass:2

bench: build
	bash bench/run-all

fuzz: deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} bash scripts/fuzz-smoke

format:
	clang-format -i include/cpc/*.h lib/*/*.[ch] apps/*/*.[ch] tests/unit/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
