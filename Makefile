# weightkit build. One static library (common/ quant/ kernels/ formats/ models/ engine/ verify/, every
# .c file in them and in their subfolders) and one small binary per tool in tools/. Files under
# kernels/avx2/ get AVX2/FMA/F16C flags, files under kernels/avx512/ those and AVX-512
# F/BW/VL/VNNI; all other code targets baseline x86-64 and reaches the fast kernels through
# the CPU traits chosen at start-up (kernels/traits.h).
#
# make CUDA=1 adds the CUDA backend (docs/cuda.md): kernels/cuda/*.cu compiled by nvcc (from
# PATH, else $(CUDA_HOME)/bin) into the library with every *_cuda.c, WK_CUDA defined, the CUDA
# runtime linked statically (a machine then needs only the NVIDIA driver), into build-cuda/
# and bin-cuda/. Without nvcc it says so and builds without CUDA. A plain make neither needs
# nor touches CUDA. CUDA_ARCH: the compute capabilities to compile for (space-separated; 90 is
# the H100/H200), plus PTX for 8.0 that the driver compiles for any newer card. make CUDA=emu
# builds the same tools with kernels/cuda/emulate.c, the CUDA interface run on the host, into
# build-cuemu/ and bin-cuemu/: no nvcc, no GPU; it tests the backend's host code (cuda-check).

CUDA      ?= 0
CUDA_HOME ?= /usr/local/cuda
CUDA_ARCH ?= 90
ifeq ($(CUDA),1)
NVCC := $(shell command -v nvcc 2>/dev/null || { test -x $(CUDA_HOME)/bin/nvcc && echo $(CUDA_HOME)/bin/nvcc; })
ifeq ($(NVCC),)
$(info nvcc not found (not on PATH, not in CUDA_HOME=$(CUDA_HOME)/bin): building without CUDA)
else
WITH_CUDA := 1
BUILD   ?= build-cuda
BIN     ?= bin-cuda
endif
endif

ifeq ($(CUDA),emu)
WITH_CUDA_EMU := 1
BUILD   ?= build-cuemu
BIN     ?= bin-cuemu
endif

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
AVX512_CFLAGS := $(SIMD_CFLAGS) -mavx512f -mavx512bw -mavx512vl -mavx512vnni
LDLIBS   := $(PKG_LIBS) -fopenmp -lm

ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS  += -fsanitize=address,undefined
endif

LIB_DIRS := common quant kernels formats models engine verify
LIB_SRC  := $(sort $(shell find $(LIB_DIRS) -name '*.c'))
ifdef WITH_CUDA
# Where the CUDA runtime lives, as nvcc itself reports it (its TOP): nvcc may be a wrapper
# script outside the toolkit (/usr/local/bin/nvcc), so its own path does not tell.
CUDA_ROOT := $(abspath $(shell $(NVCC) -dryrun -x cu -c /dev/null -o /dev/null 2>&1 | \
                               sed -n 's/^\#\$$ TOP=//p'))
CUDA_RT   := $(firstword $(wildcard $(CUDA_ROOT)/lib64/libcudart_static.a \
                                  $(CUDA_ROOT)/targets/x86_64-linux/lib/libcudart_static.a))
ifeq ($(CUDA_RT),)
$(error the CUDA runtime libcudart_static.a is in neither $(CUDA_ROOT)/lib64 nor \
        $(CUDA_ROOT)/targets/x86_64-linux/lib (toolkit root as $(NVCC) -dryrun reports it))
endif
CU_SRC   := $(sort $(wildcard kernels/cuda/*.cu))
# --fmad=false: no multiply-add is fused, so the device rounds as the CPU code (built with
# -ffp-contract=off) that it is held to.
NVCCFLAGS := -O3 -std=c++17 --fmad=false -I. -DWK_CUDA -Xcompiler -Wall \
             $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a)) \
             -gencode arch=compute_80,code=compute_80
BASE_CFLAGS += -DWK_CUDA
LDLIBS   += -L$(dir $(CUDA_RT)) -lcudart_static \
            -ldl -lrt -lpthread -lstdc++
else ifdef WITH_CUDA_EMU
BASE_CFLAGS += -DWK_CUDA
else
LIB_SRC  := $(filter-out %_cuda.c,$(LIB_SRC))
endif
ifndef WITH_CUDA_EMU
LIB_SRC  := $(filter-out kernels/cuda/emulate.c,$(LIB_SRC))
endif
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_SRC:%.cu=$(BUILD)/%.o)
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

.PHONY: all deps test test-only unit e2e demo bench install clean asan asan-only cuda-check \
        test-gpu
all: $(LIB) $(TOOLS) $(HELPERS)

$(BUILD)/kernels/avx2/%.o: kernels/avx2/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(SIMD_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/kernels/avx512/%.o: kernels/avx512/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(AVX512_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

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
	@$(MAKE) --no-print-directory cuda-check

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

# The CUDA backend where there is no GPU (part of make test, so it never rots). First its host
# code on the emulated device (make CUDA=emu): the GPU tests against the CPU engine on the
# small models, and the errors it reports. Then, with nvcc, the whole tree built with CUDA=1
# into build-cuda/ bin-cuda/ and the end-to-end tests of its errors without a device;
# without nvcc, a line saying that part was skipped.
cuda-check:
	@$(MAKE) --no-print-directory -j$(JOBS) CUDA=emu BUILD=build-cuemu BIN=bin-cuemu all
	WK_BIN=$(abspath bin-cuemu) WK_GEN=$(abspath build-cuemu/gen) \
	  WK_GPU_MODELS="stories260k student256" WK_GPU_REPORT=$(abspath build-cuemu/gpu-tests.json) \
	  $(PYTHON) -m pytest -q tests/gpu/test_gpu.py $(PYTEST_ARGS)
	@if command -v nvcc >/dev/null 2>&1 || test -x $(CUDA_HOME)/bin/nvcc; then \
	  $(MAKE) --no-print-directory -j$(JOBS) CUDA=1 BUILD=build-cuda BIN=bin-cuda all && \
	  WK_BIN=$(abspath $(BIN)) WK_GEN=$(abspath $(BUILD)/gen) WK_CUDA_BIN=$(abspath bin-cuda) \
	  WK_CUDA_GEN=$(abspath build-cuda/gen) WK_CUDA_EMU_BIN=$(abspath bin-cuemu) \
	    $(PYTHON) -m pytest -q tests/e2e/test_cuda.py tests/e2e/test_bench_gpu.py $(PYTEST_ARGS); \
	else \
	  echo "cuda-check: the CUDA=1 build skipped: nvcc not found (not on PATH, not in" \
	       "$(CUDA_HOME)/bin)"; \
	  WK_BIN=$(abspath $(BIN)) WK_GEN=$(abspath $(BUILD)/gen) WK_CUDA_EMU_BIN=$(abspath bin-cuemu) \
	    $(PYTHON) -m pytest -q tests/e2e/test_cuda.py tests/e2e/test_bench_gpu.py $(PYTEST_ARGS); \
	fi

# On a machine with an NVIDIA GPU: the CUDA build, its tests against the CPU engine and the
# benchmark (tests/gpu/run.sh; docs/cuda.md).
test-gpu:
	@tests/gpu/run.sh

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
	rm -rf build build-asan bin bin-asan build-cuda bin-cuda build-cuemu bin-cuemu

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

$(FUZZ_BUILD)/obj/kernels/avx512/%.o: kernels/avx512/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(AVX512_CFLAGS) -MMD -MP -c $< -o $@

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
