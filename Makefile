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

# The demo's build is quiet: its log goes to $(BUILD_DIR)/build.log and is
# shown only when the build fails (errors and all).
demo: configure
	@echo "building graft (log: $(BUILD_DIR)/build.log) ..."
	@cmake --build $(BUILD_DIR) -j $(JOBS) >$(BUILD_DIR)/build.log 2>&1 || \
	  { cat $(BUILD_DIR)/build.log; echo "make demo: the build failed (log: $(BUILD_DIR)/build.log)" >&2; exit 1; }
	@echo "running: $(BUILD_DIR)/tools/graft demo --out $(BUILD_DIR)/demo $(DEMO_ARGS)"
	@$(BUILD_DIR)/tools/graft demo --out $(BUILD_DIR)/demo $(DEMO_ARGS)

clean:
	rm -rf $(BUILD_DIR)
