# shoal — top-level wrapper around CMake/CTest.
#   make          build into build/ (the program is build/shoal)
#   make test     install dependencies, build, run every test
#   make demo     build and show shoal at work on a sample
#   make asan     build build-asan/ with ASan+UBSan (clang) and run unit,
#                 fuzz-corpus and integration tests there
#   make fuzz     build the libFuzzer targets in build-fuzz/
#   make format   reformat the sources; make format-check checks them
#   make lint     ban unsafe libc calls and raw malloc in the library

BUILD     ?= build
ASAN      ?= build-asan
FUZZ      ?= build-fuzz
JOBS      ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
export SHOAL_LOCAL_ONLY := 1

.PHONY: all build test demo deps asan fuzz format format-check lint clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(GENERATOR)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

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
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
