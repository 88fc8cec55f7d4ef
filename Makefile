# weightkit build. One static library (common/ quant/ kernels/ formats/ models/ engine/ verify/, every
# .c file in them and in their subfolders) and one small binary per tool in tools/. Files under
# kernels/avx2/ get AVX2/FMA/F16C flags; all other code targets baseline x86-64 and reaches the
# fast kernels through the CPU traits chosen at start-up (kernels/traits.h).

PREFIX  ?= /usr/local
BUILD   ?= build
BIN     ?= bin
PYTHON  ?= /usr/bin/python3
CC      ?= cc
JOBS    ?= $(shell nproc)

PKGS     := zlib libarchive libcjson libxxhash
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wvla
BASE_CFLAGS := -std=gnu11 $(WARN) -ffp-contract=off -fopenmp -I. -D_FILE_OFFSET_BITS=64 $(PKG_CFLAGS)
# Bit-exact twins need the same roundings in scalar and vector code: no multiply-add is fused
# unless the code asks for one by name (_mm256_fmadd_*).
SIMD_CFLAGS := -mavx2 -mfma -mf16c
LDLIBS   := $(PKG_LIBS) -fopenmp -lm

ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS  += -fsanitize=address,undefined
endif

LIB_DIRS := common quant kernels formats models engine verify
LIB_SRC  := $(sort $(shell find $(LIB_DIRS) -name '*.c'))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libweightkit.a

TOOL_SRC := $(sort $(wildcard tools/wk-*.c))
TOOLS    := $(TOOL_SRC:tools/%.c=$(BIN)/%)

HELPER_SRC := $(sort $(wildcard tests/gen/*.c))
HELPERS  := $(HELPER_SRC:tests/gen/%.c=$(BUILD)/gen/%)

UNIT_SRC := $(sort $(shell find tests/unit -name '*.c'))
UNIT_BIN := $(BUILD)/tests/unit-tests

# The objects of tools and helpers are reached only through pattern rules; without this make
# deletes them as intermediates and the next `make` rebuilds and relinks.
.SECONDARY: $(TOOL_SRC:%.c=$(BUILD)/%.o) $(HELPER_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps test test-only unit e2e demo bench install clean asan asan-only
all: $(LIB) $(TOOLS) $(HELPERS)

$(BUILD)/kernels/avx2/%.o: kernels/avx2/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(SIMD_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/gen/%: $(BUILD)/tests/gen/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(UNIT_BIN): $(UNIT_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lcriterion

deps:
	@scripts/install-deps.sh

# The README's test command. Installs what is missing, builds, runs every test, then runs
# them all again on the sanitizer build.
test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(UNIT_BIN)
	@$(MAKE) --no-print-directory test-only
	@$(MAKE) --no-print-directory asan-only

test-only: unit e2e

unit: $(UNIT_BIN)
	$(UNIT_BIN) --jobs $(JOBS)

e2e: all
	WK_BIN=$(abspath $(BIN)) WK_GEN=$(abspath $(BUILD)/gen) $(PYTHON) -m pytest -q tests/e2e $(PYTEST_ARGS)

# The same tests, built with AddressSanitizer and UndefinedBehaviorSanitizer. A sanitizer
# report makes the process exit 86/87 (leaks 23), which no test accepts. The end-to-end tests
# marked slow (long cross-checks, the benchmark scripts) run in the plain pass only.
asan: deps
	@$(MAKE) --no-print-directory asan-only

asan-only:
	@$(MAKE) --no-print-directory -j$(JOBS) SAN=1 BUILD=build-asan BIN=bin-asan all build-asan/tests/unit-tests
	ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
	  $(MAKE) --no-print-directory SAN=1 BUILD=build-asan BIN=bin-asan test-only PYTEST_ARGS='-m "not slow"'

demo: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@scripts/demo.sh $(BIN) $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@bench/run.sh $(BIN) $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan bin bin-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Coverage-guided fuzzing (docs/fuzzing.md): every reader under libFuzzer with ASan + UBSan.
# Not part of `make test`. `make fuzz FUZZ_SECONDS=60` builds the harnesses in tests/fuzz/,
# writes seeds, runs each harness FUZZ_SECONDS and fails if any found a crash, leak, hang or
# sanitizer report (inputs kept in $(FUZZ_BUILD)/crashes/<harness>/).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 $(WARN) -ffp-contract=off -g -O1 -I. -D_FILE_OFFSET_BITS=64 $(PKG_CFLAGS) -fopenmp=libgomp $(FUZZ_SAN)
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz fuzz-build
fuzz: fuzz-build $(BUILD)/gen/gguf-write-sample
	$(PYTHON) tests/fuzz/make_seeds.py $(FUZZ_BUILD)/seeds $(BUILD)/gen/gguf-write-sample
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/kernels/avx2/%.o: kernels/avx2/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(SIMD_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# clang 14 rejects __builtin_cpu_supports("f16c"): kernels/cpu.c (CPU feature detection, no
# input) is built uninstrumented with $(CC).
$(FUZZ_BUILD)/obj/kernels/cpu.o: kernels/cpu.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -g -MMD -MP -c $< -o $@

$(FUZZ_BINS): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/tests/fuzz/%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
