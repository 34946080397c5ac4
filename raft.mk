# raft.mk — the consensus library and its tests, without PostgreSQL.
# Included by the top-level Makefile.  Everything is built under build/.
#
#   make unit                    cmocka unit tests (regress/unit/test_*.c)
#   make sim SEEDS=N             N seeded simulator runs (default 2000; then
#                                LEASE_SEEDS with lease reads, FIVE_SEEDS on 5 nodes)
#   make sim SEED=s              replay one seed, with its trace
#   make sim-bugs                the simulator catches deliberately broken cores
#   make fuzz FUZZ_SECONDS=N     every libFuzzer target (regress/fuzz/fuzz_*.c)
#   make check-io                real processes, real TCP and fsync (regress/io)

B := build
RAFT_CC ?= cc
RAFT_CFLAGS ?= -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O2 \
	-Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
	-fno-omit-frame-pointer
RAFT_INC := -Iraft -Iraft/codec -Iraft/core -Iraft/storage -Iraft/transport

CORE_SRCS := $(sort $(wildcard raft/core/*.c raft/codec/*.c))
IO_SRCS := $(sort $(wildcard raft/storage/*.c raft/transport/*.c))
RAFT_HDRS := $(wildcard raft/*.h raft/*/*.h)

$(B)/obj/%.o: %.c $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) $(RAFT_INC) -c $< -o $@

$(B)/libraft.a: $(CORE_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libraft_io.a: $(IO_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

RAFT_LIBS := $(B)/libraft_io.a $(B)/libraft.a -luv -lcrypto

# --- unit tests --------------------------------------------------------------
UNIT_LIB_SRCS := $(sort $(wildcard regress/unit/lib/*.c))
UNIT_TESTS := $(patsubst regress/unit/%.c,$(B)/unit/%,$(sort $(wildcard regress/unit/test_*.c)))

$(B)/unit/%: regress/unit/%.c $(UNIT_LIB_SRCS) $(B)/libraft.a $(B)/libraft_io.a $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) $(RAFT_INC) -Iregress/unit $< $(UNIT_LIB_SRCS) -o $@ $(RAFT_LIBS) -lcmocka

.PHONY: unit sim sim-bugs fuzz fuzz-short check-io test prove-as-user installcheck-as-user
unit: $(UNIT_TESTS)
	@failed=0; for t in $(UNIT_TESTS); do \
	  echo "== $$t"; $$t || failed=$$((failed+1)); \
	done; \
	echo "unit: $(words $(UNIT_TESTS)) programs, $$failed failed"; test $$failed -eq 0

# --- simulator -----------------------------------------------------------------
SIM_SRCS := $(sort $(wildcard regress/sim/*.c))
SEEDS ?= 2000
LEASE_SEEDS ?= 1000
FIVE_SEEDS ?= 1000
SIM_ARGS ?=

$(B)/sim/raft-sim: $(SIM_SRCS) $(B)/libraft.a $(RAFT_HDRS) $(wildcard regress/sim/*.h)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) $(RAFT_INC) -Iregress/sim $(SIM_SRCS) -o $@ $(B)/libraft.a

sim: $(B)/sim/raft-sim
ifdef SEED
	$(B)/sim/raft-sim --seed $(SEED) --trace $(SIM_ARGS)
else
	$(B)/sim/raft-sim --seeds $(SEEDS) $(SIM_ARGS)
	$(B)/sim/raft-sim --seeds $(LEASE_SEEDS) --lease-reads $(SIM_ARGS)
	$(B)/sim/raft-sim --seeds $(FIVE_SEEDS) --nodes 5 $(SIM_ARGS)
endif

# Cores built with one rule broken on purpose (see raft/core: RAFT_BUG_*),
# and a host that breaks raft.h's loop (regress/sim/sim_host.c).
# The simulator must report a violation for each.
SIM_BUGS := COMMIT_OLD_TERMS DOUBLE_VOTE HOST_SENDS_ALL_EARLY LEASE_AFTER_TRANSFER
$(B)/sim/raft-sim-bug-%: $(SIM_SRCS) $(CORE_SRCS) $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) -DRAFT_BUG_$* $(RAFT_INC) -Iregress/sim $(SIM_SRCS) $(CORE_SRCS) -o $@

sim-bugs: $(SIM_BUGS:%=$(B)/sim/raft-sim-bug-%)
	@failed=0; for b in $(SIM_BUGS); do \
	  case $$b in LEASE_AFTER_TRANSFER) args=--lease-reads; n=8000;; *) args=; n=2000;; esac; \
	  if $(B)/sim/raft-sim-bug-$$b --seeds $${SIM_BUG_SEEDS:-$$n} $$args --expect-violation; then \
	    echo "ok: the simulator caught RAFT_BUG_$$b"; \
	  else echo "FAILED: the simulator missed RAFT_BUG_$$b"; failed=$$((failed+1)); fi; \
	done; test $$failed -eq 0

# --- fuzzers (clang, libFuzzer + ASan + UBSan) --------------------------------
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst regress/fuzz/%.c,$(B)/fuzz/%,$(sort $(wildcard regress/fuzz/fuzz_*.c)))
FUZZ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(B)/fuzz/%: regress/fuzz/%.c $(CORE_SRCS) $(IO_SRCS) $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(RAFT_INC) $< $(CORE_SRCS) $(IO_SRCS) -o $@ -luv -lcrypto

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
	  n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus/$$n; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 \
	      $(B)/fuzz/corpus/$$n $$( [ -d regress/fuzz/seeds/$$n ] && echo regress/fuzz/seeds/$$n ) \
	      > $(B)/fuzz/$$n.log 2>&1 || { tail -50 $(B)/fuzz/$$n.log; exit 1; }; \
	  grep -E '^#[0-9]+.*DONE' $(B)/fuzz/$$n.log | tail -1; \
	done; echo "fuzz: $(words $(FUZZ_TARGETS)) targets, no crash"

fuzz-short:
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS_SHORT:-10}

# --- I/O tests: real processes, TCP on 127.0.0.x, fsync ----------------------
IO_SRCS_TEST := $(sort $(wildcard regress/io/*.c))
$(B)/io/raft-node: $(IO_SRCS_TEST) $(B)/libraft.a $(B)/libraft_io.a $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) $(RAFT_INC) -Iregress/io $(IO_SRCS_TEST) -o $@ $(RAFT_LIBS)

check-io: $(if $(IO_SRCS_TEST),$(B)/io/raft-node)
	prove -v regress/io/t/

# --- everything ----------------------------------------------------------------
# The PostgreSQL suites need an unprivileged user when run as root:
# regress/run-as-user does that (see README).
test:
	@set -e; rm -f $(B)/suites.log; mkdir -p $(B); \
	pass=0; fail=0; \
	for s in unit sim sim-bugs fuzz-short check-io pg-installcheck pg-prove jepsen-unit jepsen; do \
	  echo "### $$s"; \
	  if $(MAKE) --no-print-directory $$s; then pass=$$((pass+1)); echo "$$s: ok" >> $(B)/suites.log; \
	  else fail=$$((fail+1)); echo "$$s: FAILED" >> $(B)/suites.log; fi; \
	done; \
	cat $(B)/suites.log; echo "$$pass passed, $$fail failed"; test $$fail -eq 0

pg-installcheck pg-prove: all
	sh regress/run-as-user $(subst pg-,,$@)

# --- the local three-server cluster (scripts/demo) ---------------------------
.PHONY: demo demo-stop demo-status demo-clean
demo:
	scripts/demo start
demo-stop:
	scripts/demo stop
demo-status:
	scripts/demo status
demo-clean:
	scripts/demo clean

# --- storage benchmark (prints figures; not a test) ---------------------------
#   make bench-storage [BENCH_STORAGE_ARGS="--seconds 5 --proposers 1,16,64"]
$(B)/bench/storage_bench: bench/storage_bench.c $(B)/libraft_io.a $(B)/libraft.a $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) $(RAFT_INC) $< -o $@ $(B)/libraft_io.a $(B)/libraft.a -lpthread

.PHONY: bench-storage
bench-storage: $(B)/bench/storage_bench
	$(B)/bench/storage_bench --dir $(B)/bench/data $(BENCH_STORAGE_ARGS)

# --- benchmarks: pg_raft against PostgreSQL's own replication ------------------
#   make bench          bench/run: every workload, clients 1 8 32 64 (see docs/benchmarks.md)
#   make bench-quick    the same with clients 1 8 and a few seconds per point
#   make bench-goal     the goal points only (32 clients and 1, leader writes
#                       against remote_apply), both sides alternating,
#                       BENCH_ROUNDS rounds (5), with CPU per write by process
# Figures, not tests: not part of `make test`.
$(B)/bench/core_bench: bench/core_bench.c $(B)/libraft.a $(RAFT_HDRS)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) $(RAFT_INC) $< -o $@ $(B)/libraft.a

.PHONY: bench bench-quick bench-goal
bench:
	bench/run
bench-quick:
	bench/run --quick
bench-goal:
	bench/run --goal

# --- Jepsen-style fault suite (regress/jepsen, see its README.md) ------------
#   make jepsen-unit             the history checker's unit tests
#   make jepsen [JEPSEN_SECONDS=N] [JEPSEN_SEED=s]
#                                8 clients, 3 servers, kill -9, SIGSTOP,
#                                partitions (as root); one verdict line
JEPSEN_SECONDS ?= 90
JEPSEN_CHECKER_SRCS := regress/jepsen/checker.c regress/jepsen/check_tables.c
JEPSEN_CHECKER := $(JEPSEN_CHECKER_SRCS) regress/jepsen/checker.h

$(B)/jepsen/jepsen-check: regress/jepsen/check_main.c $(JEPSEN_CHECKER)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) -Iregress/jepsen $< $(JEPSEN_CHECKER_SRCS) -o $@ -lpthread

$(B)/jepsen/test_checker: regress/jepsen/test_checker.c $(JEPSEN_CHECKER)
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) -Iregress/jepsen $< $(JEPSEN_CHECKER_SRCS) -o $@ -lpthread

$(B)/jepsen/jepsen-client: regress/jepsen/client.c
	@mkdir -p $(dir $@)
	$(RAFT_CC) $(RAFT_CFLAGS) -I$(shell $(PG_CONFIG) --includedir) $< -o $@ -lpq -lpthread

.PHONY: jepsen jepsen-unit
jepsen-unit: $(B)/jepsen/test_checker
	$(B)/jepsen/test_checker

jepsen: all $(B)/jepsen/jepsen-client $(B)/jepsen/jepsen-check
	JEPSEN_SECONDS=$(JEPSEN_SECONDS) JEPSEN_SEED=$(JEPSEN_SEED) sh regress/jepsen/run
