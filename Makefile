# shoal — top-level wrapper around CMake/CTest.
#   make          build into build/ (the program is build/shoal)
#   make test     install dependencies, build, run every test
#   make demo     build and show shoal at work on a sample
#   make asan     build build-asan/ with ASan+UBSan (clang) and run unit,
#                 fuzz-corpus and integration tests there
#   make tsan     build build-tsan/ with ThreadSanitizer (clang) and run unit
#                 and integration tests there; any race report fails it
#   make debug    build everything in build-debug/ as a gcc Debug build and
#                 run the unit tests there
#   make fuzz     build the libFuzzer targets in build-fuzz/
#   make format   reformat the sources; make format-check checks them
#   make lint     ban unsafe libc calls and raw malloc in the library
#   make install  build, then install the program and its man page under
#                 PREFIX (default /usr/local): bin/shoal, share/man/man1/shoal.1;
#                 DESTDIR, when set, is put in front of every path (packaging)

BUILD     ?= build
ASAN      ?= build-asan
TSAN      ?= build-tsan
DEBUG     ?= build-debug
FUZZ      ?= build-fuzz
JOBS      ?= $(shell nproc)
PREFIX    ?= /usr/local
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
export SHOAL_LOCAL_ONLY := 1

.PHONY: all build test demo deps asan tsan debug fuzz format format-check lint clean install

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(GENERATOR)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# cmake --install reads DESTDIR from the environment.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

deps:
	sh scripts/install-deps.sh

test: deps
	$(MAKE) build
	$(MAKE) lint
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	sh scripts/demo.sh $(BUILD)/shoal

$(ASAN)/CMakeCache.txt:
	CC=clang cmake -S . -B $(ASAN) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
	    -DSHOAL_SANITIZE=address,undefined

asan: $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz|integration'

# ThreadSanitizer. RelWithDebInfo because TSan at -O0 is several times slower
# still, and the races it finds do not depend on the optimisation level.
# The integration tests start the shoal binary of this tree, so it is
# instrumented too; a test may not look at that process's exit code, so every
# report also goes to a file under $(TSAN)/tsan-reports/, and any such file
# fails the target. There is no suppressions file: a race in shoal is fixed,
# never silenced. Should a third-party library ever need one, it goes in
# tests/tsan.supp with a reason per entry, passed here as suppressions=FILE.
# clang 14's TSan dies at start ("unexpected memory mapping") on kernels that
# randomise mmap with more than 28 bits (vm.mmap_rnd_bits=32 on some recent
# ones); there the tests run without address randomisation (setarch -R).
TSAN_REPORTS = $(abspath $(TSAN))/tsan-reports
TSAN_OPTIONS_ = halt_on_error=1 second_deadlock_stack=1 log_path=$(TSAN_REPORTS)/report
TSAN_NO_ASLR := $(shell [ "$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ] \
                  && echo setarch $$(uname -m) -R)

$(TSAN)/CMakeCache.txt:
	CC=clang cmake -S . -B $(TSAN) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DSHOAL_SANITIZE=thread

tsan: $(TSAN)/CMakeCache.txt
	cmake --build $(TSAN) -j $(JOBS)
	rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	cd $(TSAN) && TSAN_OPTIONS="$(TSAN_OPTIONS_)" \
	    $(TSAN_NO_ASLR) ctest --output-on-failure -j $(JOBS) -L 'unit|integration'; rc=$$?; \
	    if ls $(TSAN_REPORTS) | grep -q .; then \
	        cat $(TSAN_REPORTS)/*; echo "tsan: race reports above" >&2; exit 1; \
	    fi; exit $$rc

# gcc's warnings depend on the optimisation level (at -O0 its
# -Wformat-truncation caught a buffer the optimised build let pass), and
# -Werror makes each an error; so every target is built this way too. The
# unit tests are enough to run there: the other trees run the rest.
$(DEBUG)/CMakeCache.txt:
	CC=gcc cmake -S . -B $(DEBUG) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug

debug: $(DEBUG)/CMakeCache.txt
	cmake --build $(DEBUG) -j $(JOBS)
	cd $(DEBUG) && ctest --output-on-failure -j $(JOBS) -L unit

$(FUZZ)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DSHOAL_FUZZ=ON -DSHOAL_SANITIZE=address,undefined

fuzz: $(FUZZ)/CMakeCache.txt
	cmake --build $(FUZZ) -j $(JOBS)

SOURCES = $(shell find include src cli tests/unit tests/fuzz -path tests/fuzz/corpus -prune -o -name '*.[ch]' -print | sort)

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

lint:
	sh scripts/lint.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(DEBUG) $(FUZZ)
