# Cairn: the two commands a new user runs are `make demo` and `make test`.
# Both install what is missing from Debian's packages, configure and build (Release), then run.

BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the main job need.
PKGS := cmake g++ make pkg-config libopenblas-openmp-dev libdnnl-dev libyaml-cpp-dev nlohmann-json3-dev \
        libgtest-dev libgmock-dev libbenchmark-dev ccache zlib1g-dev libpng-dev libjpeg-dev dataset-fashion-mnist
# Extra packages for regenerating PyTorch reference files and running the side-by-side benchmarks
# (wordnet-base: general-English pretraining text for bench/mr_bert, see docs/bert.md).
REF_PKGS := python3-torch python3-numpy wordnet-base
# Extra packages for the fuzzers (clang, libFuzzer + sanitizer runtimes, clang's OpenMP headers and runtime).
FUZZ_PKGS := clang libclang-rt-14-dev libomp-dev

.PHONY: all deps ref-deps build demo test test-sanitize bench golden fuzz clean

all: build

deps:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

ref-deps:
	@$(MAKE) --no-print-directory deps PKGS="$(REF_PKGS)"

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job: train the reference CNN on Fashion-MNIST, evaluate it on the test set, save it.
demo: build
	./$(BUILD)/bin/cairn train examples/fashion_mnist_cnn.yaml

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize:
	$(MAKE) --no-print-directory test BUILD=build-asan CMAKE_ARGS="-DCAIRN_SANITIZE=address,undefined -DCAIRN_BUILD_BENCH=OFF"

# Side-by-side benchmarks against PyTorch (see BENCHMARKS.md).
bench: ref-deps build
	bash bench/run_all.sh $(BUILD)

# Regenerate the committed PyTorch reference files under tests/golden/.
golden: ref-deps
	/usr/bin/python3 tools/golden/make_golden.py tests/golden

fuzz:
	@$(MAKE) --no-print-directory deps PKGS="$(PKGS) $(FUZZ_PKGS)"
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
	  -DCAIRN_FUZZ=ON -DCAIRN_BUILD_TESTS=OFF -DCAIRN_BUILD_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
