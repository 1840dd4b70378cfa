# Dev VMs: boot Debian kernels under qemu and run tsbpf inside (see vm-images/README.md).
# Included by the top-level Makefile. The logic is in vm-images/vm.ts; these targets only pass variables.
#   make vm-kernels                 fetch the kernels (KERNELS=6.1,6.12; default all)
#   make vm-image                   build the guest image layers
#   make vm-run KERNEL=6.1 CMD='npx tsbpf run examples/...'
#   make vm-test [KERNELS=6.1] [VM_TESTS='test/kernel/**/*.test.ts'] [VM_TIMEOUT=3600]
#   make vm-flake KERNEL=6.12 VM_TESTS='test/kernel/x.test.ts' RUNS=5   tests whose result changes between runs
#   make vm-shell [KERNEL=6.12]
#   make vm-bench [VM_RUNS=3]        boot-to-command time per kernel
#   make vm-clean
VM := node --import tsx vm-images/vm.ts
KERNELS ?= all
KERNEL ?=
CMD ?=
VM_TESTS ?=
VM_TIMEOUT ?=
RUNS ?= 5

.PHONY: vm-kernels vm-image vm-run vm-test vm-flake vm-shell vm-clean vm-list vm-bench

# The variables reach the script through the environment, so quoting in CMD survives make;
# $(value CMD) keeps a '$' in CMD for the guest's shell instead of expanding it as a make variable.
TSBPF_VM_CMD := $(value CMD)
export TSBPF_VM_CMD KERNEL KERNELS VM_TESTS VM_TIMEOUT RUNS

vm-list: node_modules
	@$(VM) list

vm-kernels: node_modules
	@$(VM) kernels --kernel "$${KERNEL:-$$KERNELS}"

vm-image: node_modules
	@$(VM) image --kernel "$${KERNEL:-$$KERNELS}"

vm-run: node_modules
	@$(VM) run --kernel "$${KERNEL:-6.1}" --timeout "$${VM_TIMEOUT:-600}" --cmd "$$TSBPF_VM_CMD"

vm-test: node_modules
	@$(VM) test --kernel "$${KERNEL:-$$KERNELS}" --timeout "$${VM_TIMEOUT:-3600}" --tests "$$VM_TESTS"

# Runs VM_TESTS RUNS times in one boot per kernel and reports each test whose result changed (see npm run flake).
vm-flake: node_modules
	@$(VM) flake --kernel "$${KERNEL:-$$KERNELS}" --runs "$$RUNS" --timeout "$$VM_TIMEOUT" --tests "$$VM_TESTS"

# Boot-to-command time per kernel (VM_RUNS boots of 'true' each), as a markdown table.
vm-bench: node_modules
	@$(VM) bench --kernel "$${KERNEL:-$$KERNELS}" --runs "$${VM_RUNS:-3}"

vm-shell: node_modules
	@$(VM) shell --kernel "$${KERNEL:-6.1}"

vm-clean:
	rm -rf vm-images/cache
