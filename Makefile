# Usual targets; the dev-VM targets come from vm-images/vm.mk.
.PHONY: all build test test-kernel bench clean typecheck bpf-tests
all: build

node_modules: package.json
	npm install
	touch node_modules

build: node_modules
	npm run build

typecheck: node_modules
	npm run typecheck

test: node_modules
	npm test

# Kernel tests must run, not skip (needs root).
test-kernel: node_modules
	TSBPF_REQUIRE_KERNEL=1 npm test

bench: build
	npm run bench

# Rebuild the C test objects with clang (the committed .o files keep tests clang-free).
bpf-tests: node_modules
	$(MAKE) -C bpf-tests

clean:
	rm -rf dist bench/build

include vm-images/vm.mk
