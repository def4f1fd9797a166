# The two entry points a new user needs (see README.md):
#   make demo   install dependencies, build, run the main job
#   make test   install dependencies, build every variant, run every test
# Everything else here is a convenience around CMake presets.

DEMO_SECONDS ?= 2
FUZZ_SECONDS ?= 10

.PHONY: all deps build demo test test-release test-asan test-tsan test-fuzz bench clean

all: build

deps:
	./scripts/install-deps

build: deps
	cmake --preset release
	cmake --build --preset release

# The demo builds only what it runs: the `aether` target (which brings
# aether-dpdk-pinger along), not the tests, benchmarks or guest binaries.
demo: deps
	cmake --preset release
	cmake --build --preset release --target aether_cli
	./build/release/apps/aether/aether demo --seconds $(DEMO_SECONDS)

# Every variant and every test (scripts/test-all): the release tests run
# while the sanitizer and fuzz variants build beside them at low priority;
# each stage logs to build/test-logs/. The test-* targets below run one
# variant each, in the foreground.
test: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/test-all

test-release: build
	ctest --preset release

test-asan: deps
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan

test-tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan
	ctest --preset tsan

# Every libFuzzer target (tests/fuzz) for FUZZ_SECONDS each; a crash fails
# with its reproducer's path. Builds only what the targets need (clang).
test-fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz-test

bench: build
	for b in build/release/bench/aether_bench_*; do \
	  $$b --benchmark_out_format=json --benchmark_out=$$b.json || exit 1; \
	done

clean:
	rm -rf build
