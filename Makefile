# The two commands of the README, and the rest.
#   make run    build, then load the quickstart drops into an embedded SQLite warehouse
#   make test   build, then run every test (unit, integration, ASan+UBSan, fuzz smoke)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 15
CTEST_ARGS ?= --output-on-failure -j2

.PHONY: all deps deps-test deps-pkg build build-asan build-fuzz run test test-fast test-asan test-fuzz fuzz soak bench install deb clean

all: build

# `make run` needs only what builds and runs sluice; the tests need more.
deps:
	@bash scripts/setup-deps.sh

deps-test:
	@bash scripts/setup-deps.sh --test

$(BUILD)/build.ninja $(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_REQUIRE_TESTS=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

build-fuzz: deps-test
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers

# Only lintian, which `make test` does not need (the package test runs it
# when it is there).
deps-pkg:
	@bash scripts/setup-deps.sh --pkg

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, man pages, bash
# completion, the systemd unit and (unless one is there) the example config.
PREFIX ?= /usr/local
install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# make deb: a Debian package of the release build, in $(BUILD)/
deb: build
	bash scripts/make-deb.sh $(BUILD)

# The quickstart runs in a fresh copy each time, so `make run` always shows a load.
run: build
	@rm -rf $(BUILD)/quickstart && mkdir -p $(BUILD)/quickstart
	@cp -r examples/quickstart.yaml examples/drops $(BUILD)/quickstart/
	./$(BUILD)/sluice check $(BUILD)/quickstart/quickstart.yaml
	./$(BUILD)/sluice run $(BUILD)/quickstart/quickstart.yaml
	./$(BUILD)/sluice status $(BUILD)/quickstart/quickstart.yaml

test: test-fast test-asan test-fuzz

test-fast: deps-test build
	@cmake -S . -B $(BUILD) -DSLUICE_REQUIRE_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest $(CTEST_ARGS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS) -LE slow

test-fuzz: build-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_BUILD)

fuzz: build-fuzz
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} bash tests/fuzz/run.sh $(FUZZ_BUILD)

# The fault tests, longer: 100 SIGKILLs per destination (and 30 between a
# commit and the move to done/), 100 connection cuts each way, 30 restarts.
SOAK_ENV ?= SL_KILL_TRIALS=100 SL_KILL_MOVE_TRIALS=30 SL_PROXY_CUTS=100 SL_RESTARTS=30
soak: deps-test build
	cd $(BUILD) && $(SOAK_ENV) ctest $(CTEST_ARGS) -R 'pg_start|pg_stop|it_t_kill_recover|it_t_fault_'

bench: build
	@bash scripts/setup-deps.sh --bench
	bash bench/run.sh $(BUILD)
	bash bench/run_pg.sh $(BUILD)
	bash bench/run_events.sh $(BUILD)
	bash bench/run_logs.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
