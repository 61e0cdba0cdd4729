# sluice - the two set-up commands are `make demo` and `make check` (see README.md).
# Both install missing Debian packages first, through scripts/deps.sh.
.PHONY: all build demo check bench fuzz clean deps

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: build

deps:
	@sh scripts/deps.sh build

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS) -- --no-print-directory

demo: build
	@bash scripts/demo.sh

check:
	@sh scripts/deps.sh build test
	@bash scripts/check.sh

bench: build
	@sh scripts/deps.sh bench
	@bash bench/run.sh

clean:
	rm -rf build build-asan build-fuzz
