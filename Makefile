# Every target that needs the tools depends on `setup`, so any of them works as the
# first command on a fresh clone. `setup` only installs what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := tcpdump tshark tcptrace ethtool nftables iproute2 strace curl chromium build-essential bpftrace
SCENARIO ?= refused
FAMILY ?=
STORE ?=

.PHONY: setup deb-packages capture analyze diagram test test-fast lint expected scenarios corpus gallery docs bench run clean

# The editable install compiles the per-packet path (setup.py); native.build() compiles it
# again, through setup.py too, after its sources change, and does nothing while they do not.
setup: deb-packages $(STAMP)
	@$(BIN)/python -c 'import analyzer.native; analyzer.native.build()'

deb-packages:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "setup: installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "setup: missing Debian packages:$$missing (run 'sudo make setup' to install them; capture needs them)"; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

capture: setup
	@$(BIN)/handshake capture $(SCENARIO) $(if $(FAMILY),--family $(FAMILY)) $(if $(STORE),--store)

scenarios: setup
	@$(BIN)/handshake scenarios

# Any program under the microscope: make run CMD="python3 examples/echo_pair.py" [NAME=x] [TRACE=0]
TRACE ?= 1
export CMD
run: setup
	@test -n "$$CMD" || { echo 'usage: make run CMD="command ..." [NAME=name] [TRACE=0]'; exit 2; }
	@$(BIN)/handshake run --name $(or $(NAME),$(notdir $(firstword $(CMD)))) $(if $(filter 1,$(TRACE)),--trace-calls) -- sh -c "$$CMD"

analyze: setup
	@test -n "$(PCAP)" || { echo "usage: make analyze PCAP=file.pcap"; exit 2; }
	@$(BIN)/handshake analyze "$(PCAP)"

diagram: setup
	@test -n "$(PCAP)" || { echo "usage: make diagram PCAP=file.pcap [OUT=file.svg]"; exit 2; }
	@$(BIN)/handshake diagram "$(PCAP)" -o "$(or $(OUT),$(basename $(PCAP)).svg)"

# The ten slowest tests listed at the end: what keeps `make test` from its 5 minutes. The
# tests that capture nothing run in TEST_JOBS processes (pytest-xdist; a module with a costly
# module fixture keeps to one, xdist_group); the live captures after them, alone: their
# timings (a RST before the call's return, a kernel event read in time) need an idle machine.
TEST_JOBS ?= 2
test: setup
	@$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadgroup -m 'not live' --durations=10
	@$(BIN)/python -m pytest -m live --durations=10

# The unit and replay tests: no live captures, no installs, nothing marked slow (pyproject.toml).
test-fast: setup
	@$(BIN)/python -m pytest -m 'not live and not install and not slow'

# ruff on everything; mypy on the whole package ([tool.mypy] in pyproject.toml), not only
# the modules mypyc compiles.
lint: setup
	@$(BIN)/ruff check analyzer tests setup.py
	@$(BIN)/ruff format --check analyzer tests setup.py
	@$(BIN)/mypy

# Regenerates the expected analyses of the stored captures on purpose; tests never do.
expected: setup
	@$(BIN)/handshake expected captures

clean:
	rm -rf runs .pytest_cache .ruff_cache build dist
	find analyzer -name '*.so' -delete
	rm -f analyzer/native-build.txt

# Our answers against tshark, tcptrace and Zeek on ../shared/corpus, with the explained differences.
corpus: setup
	@$(BIN)/handshake corpus $(or $(CORPUS),../shared/corpus) --known tests/corpus_known_disagreements.tsv

# One report page per stored capture and an index: runs/gallery/index.html
gallery: setup
	@$(BIN)/handshake gallery captures -o runs/gallery

# The README's pictures, drawn from the stored captures (run after re-storing them), and the
# state diagram drawn from the state machine's table (docs/tcp-states.mmd, .svg, .png).
DOC_LADDERS := handshake syn-timeout-linear-off simultaneous-close lossy-transfer
docs: setup
	@$(BIN)/python -m analyzer.output.state_diagram docs
	@for name in $(DOC_LADDERS); do $(BIN)/handshake diagram captures/$$name.pcap -o docs/$$name.png; done
	@$(BIN)/handshake timeline captures/simultaneous-close.pcap -o docs/simultaneous-close.states.png
	@$(BIN)/handshake backoff captures/syn-timeout-linear-off.pcap -o docs/syn-timeout-linear-off.backoff.png

# Speed and memory against tshark and tcptrace on captures of four shapes, each made once into
# a cache outside git (analyzer/benchmark/shapes.py); real-mix is recorded in a network
# namespace of its own, as root, and skipped (saying why) where it cannot be.
# BENCH_SHAPES=synthetic,long-flow,syn-flood,port-scan,concurrent,real-mix BENCH_SIZES=100k,1M,5M (of synthetic)
# BENCH_RUNS=1 (default: 3 for synthetic, 1 for the others) BENCH_CACHE=~/.cache/handshake-analyzer/bench
bench: setup
	@$(BIN)/python -m analyzer.benchmark
