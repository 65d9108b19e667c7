# epara: convenience wrapper around CMake. `make demo` and `make test` do all set-up on a
# fresh Debian/Ubuntu machine (dependencies are installed when missing).
#   make deps    install the Debian packages the build needs (idempotent; sudo when not root)
#   make         release build at build/epara
#   make test    Debug + ASan/UBSan build in build-test/, then every CTest test
#   make demo    build, then run the main job (scripts/demo.sh) into demo-out/
#   make plots   draw every figure of a results database (PLOTS_DB, default
#                demo-out/results.db) into PLOTS_OUT (default demo-out/figures)
#   make format  reformat tracked C files with clang-format
#   make fuzz    libFuzzer targets with clang in build-fuzz/
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

PLOTS_DB ?= demo-out/results.db
PLOTS_OUT ?= demo-out/figures

.PHONY: all deps build test demo plots format format-check fuzz clean bench

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@if [ ! -f build/CMakeCache.txt ]; then cmake -S . -B build $(GEN) -DCMAKE_BUILD_TYPE=Release; fi
	cmake --build build -j $(JOBS)

test: deps
	@if [ ! -f build-test/CMakeCache.txt ]; then cmake -S . -B build-test $(GEN) \
		-DCMAKE_BUILD_TYPE=Debug -DEP_SANITIZE=address,undefined -DEP_WERROR=ON; fi
	cmake --build build-test -j $(JOBS)
	cd build-test && ctest --output-on-failure -j $(JOBS)

demo: build
	scripts/demo.sh

plots: build
	build/epara plot --db $(PLOTS_DB) --out $(PLOTS_OUT)

bench: build
	build/epara bench trace

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@out=$$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | head -40; echo "clang-format: run 'make format'"; exit 1; fi

# The fuzz targets exercise the CPU parsers; the optional CUDA engine stays out of this build
# (its linker does not take the fuzzer's flags).
fuzz: deps
	CC=clang cmake -S . -B build-fuzz $(GEN) -DCMAKE_BUILD_TYPE=Debug -DEP_FUZZ=ON -DEPARA_CUDA=OFF
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf build build-test build-fuzz demo-out
