# The user's entry points. Both install missing Debian packages, configure
# and build with CMake into build/, then run.
#   make demo   the transfer-learning story on Fashion-MNIST (writes build/demo;
#               DEMO_ARGS="--device cpu" etc. are passed on to `graft demo`)
#   make test   the whole CTest suite
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps configure build test demo clean

all: build

deps:
	@tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	$(BUILD_DIR)/tools/graft demo --out $(BUILD_DIR)/demo $(DEMO_ARGS)

clean:
	rm -rf $(BUILD_DIR)
