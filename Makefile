# Pacer: the two set-up commands are `make run` and `make test`.
# Both install the Debian packages they need first (apt-get update, then install).

DEBS := build-essential pkg-config meson ninja-build clang libclang-rt-14-dev \
	libuv1-dev libmicrohttpd-dev libjansson-dev liblmdb-dev lmdb-utils uuid-dev \
	libcmocka-dev libpcre2-dev libcurl4-openssl-dev cppcheck python3 python3-pytest python3-requests
BENCH_DEBS := nginx-light curl
LISTEN ?= 127.0.0.1:8080
DATA ?= $(CURDIR)/data
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps bench-deps build run test unit e2e asan fuzz bench clean format

all: build

# Installs only when something is missing, so repeated runs cost nothing.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(DEBS); \
	fi

bench-deps:
	@$(MAKE) --no-print-directory deps DEBS="$(DEBS) $(BENCH_DEBS)"

build/build.ninja:
	meson setup build

build: deps build/build.ninja
	ninja -C build

run: build
	build/pacer dev --listen $(LISTEN) --data-dir $(DATA)

# The whole suite: unit and end-to-end tests, then both again under ASan+UBSan,
# then a short run of every fuzz target. tests/run prints the summary.
test: deps
	tests/run all

unit: build
	tests/run unit

e2e: build
	tests/run e2e

asan: deps
	tests/run asan

fuzz: deps
	tests/run fuzz

bench: bench-deps build
	bench/run all

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
