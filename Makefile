# Front door.  The real build is meson + ninja; these targets also install
# whatever Debian packages are missing (scripts/install-deps.sh).
BUILD      ?= build
BUILD_SAN  ?= build-sanitize
BUILD_TSAN ?= build-tsan
BUILD_REL  ?= build-release
BUILD_FUZZ ?= build-fuzz
BUILD_MUT  ?= build-mutate
MESON_TEST ?= meson test --print-errorlogs --num-processes 2

.PHONY: all build install deb check check-fast check-sanitize check-tsan demo bench bench-placement deps clean \
	fuzz fuzz-build fuzz-smoke fuzz-merge mutate

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	ninja -C $(BUILD)

# meson install: binary, man page, systemd units, QEMU's descriptor, example
# configuration.  PREFIX (default /usr/local) and DESTDIR as usual.
PREFIX ?= /usr/local
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD)

# The binary Debian package, in $(BUILD)/deb/ (scripts/deb.sh; lintian must
# report no error or warning).
deb:
	@scripts/install-deps.sh deb
	scripts/deb.sh $(BUILD)/deb

# Every test: unit, rig (VM-less, against the real binary) and real guests,
# then the same again with AddressSanitizer + UndefinedBehaviorSanitizer,
# those where threads meet with ThreadSanitizer, then a few seconds of each
# fuzz harness.
check: check-fast check-sanitize check-tsan fuzz-smoke

check-fast: build
	@scripts/install-deps.sh test
	scripts/mutate.py --check
	$(MESON_TEST) -C $(BUILD)

check-sanitize: deps
	@scripts/install-deps.sh test
	@[ -f $(BUILD_SAN)/build.ninja ] || \
		meson setup $(BUILD_SAN) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD_SAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MESON_TEST) -C $(BUILD_SAN)

# The tests where threads meet (suite 'threads': the router, the API's
# thread, reloads) under ThreadSanitizer.  GCC cannot instrument the ring's
# fences (-Wtsan); they order guest memory against another process, which
# ThreadSanitizer does not see anyway.
check-tsan: deps
	@scripts/install-deps.sh test
	@[ -f $(BUILD_TSAN)/build.ninja ] || \
		meson setup $(BUILD_TSAN) -Db_sanitize=thread -Db_lundef=false -Dc_args=-Wno-tsan
	ninja -C $(BUILD_TSAN)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		$(MESON_TEST) -C $(BUILD_TSAN) --suite threads --timeout-multiplier 4

# libFuzzer harnesses (tests/fuzz/), built with clang in $(BUILD_FUZZ)/.
# FUZZ_SECONDS per harness, FUZZ_TARGETS to pick some; see scripts/fuzz.sh.
fuzz-build:
	@scripts/install-deps.sh fuzz
	@[ -f $(BUILD_FUZZ)/build.ninja ] || CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true
	ninja -C $(BUILD_FUZZ) fuzz

fuzz: fuzz-build
	scripts/fuzz.sh run $(BUILD_FUZZ)

fuzz-smoke: fuzz-build
	scripts/fuzz.sh smoke $(BUILD_FUZZ)

# Scratch-corpus inputs that add coverage go into tests/fuzz/corpus/ (review, commit).
fuzz-merge: fuzz-build
	scripts/fuzz.sh merge $(BUILD_FUZZ)

# Mutation testing: each mutant of tests/mutants.txt against the fast suites
# (scripts/mutate.py); MUTANTS=device_tx runs only those of matching files.
mutate: deps
	@scripts/install-deps.sh test
	scripts/mutate.py $(BUILD_MUT) $(MUTANTS)

demo: build
	@scripts/install-deps.sh guest
	scripts/demo.sh

bench: deps
	@scripts/install-deps.sh bench
	@[ -f $(BUILD_REL)/build.ninja ] || meson setup $(BUILD_REL) --buildtype=release
	ninja -C $(BUILD_REL)
	scripts/bench.sh $(BUILD_REL)

# The single-connection figures under each placement of the three parties.
bench-placement: deps
	@scripts/install-deps.sh bench
	@[ -f $(BUILD_REL)/build.ninja ] || meson setup $(BUILD_REL) --buildtype=release
	ninja -C $(BUILD_REL)
	scripts/bench-placement.sh $(BUILD_REL)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_TSAN) $(BUILD_REL) $(BUILD_FUZZ) $(BUILD_MUT)
