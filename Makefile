# pg_raft — top-level Makefile.
#
# The extension (pg_raft.so, its SQL script, pg_regress and TAP tests) is
# built with PGXS; the consensus library under raft/ and its tests
# (unit, simulator, fuzzers, I/O tests) are plain targets in raft.mk, built
# under build/ without PostgreSQL.
#
#   make              build pg_raft.so
#   make install      install it (as root)
#   make test         every suite: unit sim fuzz-short check-io installcheck prove
#   make demo         install what is missing, build, start a 3-server cluster
#
# See README.md for the rest.

EXTENSION = pg_raft
EXTVERSION = 0.1.0

MODULE_big = pg_raft
RAFT_LIB_SRCS = $(sort $(wildcard raft/core/*.c raft/codec/*.c raft/storage/*.c raft/transport/*.c))
EXT_SRCS = $(sort $(wildcard extension/*.c))
OBJS = $(EXT_SRCS:.c=.o) $(RAFT_LIB_SRCS:.c=.o)

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql))

PG_CPPFLAGS = -I$(srcdir)/raft -I$(srcdir)/raft/codec -I$(srcdir)/extension -I$(libpq_srcdir)
SHLIB_LINK = -luv -lcrypto -lpq

# pg_regress on its own preloaded temporary server (pg_cron's way).
REGRESS = $(patsubst regress/sql/%.sql,%,$(sort $(wildcard regress/sql/*.sql)))
REGRESS_OPTS = --inputdir=regress --outputdir=regress \
	--temp-instance=regress/tmp_check_regress \
	--temp-config=regress/pg_raft.conf
EXTRA_CLEAN = regress/tmp_check_regress regress/results regress/regression.diffs \
	regress/regression.out regress/log build tmp_check $(DATA_built)

PROVE_TESTS ?= $(sort $(wildcard regress/t/*.pl))
PROVE_FLAGS = -I $(CURDIR)/regress/t/lib

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifeq ($(wildcard $(PGXS)),)
# A fresh machine without PostgreSQL's build files: install them, then go on.
all install test demo unit sim check-io installcheck prove:
	scripts/install-deps
	$(MAKE) $@
else
include $(PGXS)

# raft/ is C11 and declares where it likes; keep PostgreSQL's warning for
# the extension only.
$(RAFT_LIB_SRCS:.c=.o): CFLAGS += -std=gnu11 -Wno-declaration-after-statement -Wno-missing-prototypes

# PGXS tracks no header dependencies: without this, an object built against
# an older raft.h (or extension header) is linked with newer ones into
# pg_raft.so, and the server crashes on a struct or enum that moved.
$(OBJS): $(wildcard raft/*.h raft/*/*.h extension/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# make prove: the multi-server TAP tests (PostgreSQL::Test::Cluster).
.PHONY: prove
prove:
	$(prove_installcheck)

include raft.mk
endif
