.PHONY: all build test bench clean typecheck bpf-tests
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

bench: build
	npm run bench

clean:
	rm -rf dist bench/build
