# vdb: segmented vector search for PostgreSQL 15 (PGXS build)

EXTENSION = vdb
EXTVERSION = 0.2.0

MODULE_big = vdb
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script of the current version is assembled from one file per
# concern (sql/install/), in file-name order, so that each part of the
# extension owns its own SQL.  Released versions keep their install script
# frozen (sql/vdb--0.1.0.sql, committed) next to the upgrade scripts
# (sql/vdb--A--B.sql, written by hand) that ALTER EXTENSION vdb UPDATE runs;
# test/t/064_upgrade.pl checks that an upgraded database has exactly the
# objects of a fresh install.  One vdb.so serves every version's SQL.
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

# pg_regress inputs: every sql/*.sql except the generated install script.
REGRESS = $(sort $(filter-out $(EXTENSION)--%,$(notdir $(basename $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# OpenBLAS: the serial build only. The threaded builds start threads inside a
# backend, which PostgreSQL's signal handling does not tolerate.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS_DIR ?= /usr/lib/$(MULTIARCH)/openblas-serial
OPENBLAS_INC ?= /usr/include/$(MULTIARCH)/openblas-serial
SHLIB_LINK += -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lm

# Portable build: no -march=native. SIMD kernels are compiled per function
# with target attributes and chosen at run time (src/distance.c).
PG_CPPFLAGS = -I$(srcdir)/src -I$(OPENBLAS_INC)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql results regression.diffs \
	regression.out tmp_check tmp_install test/unit/*.bin

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS's RUNPATH ($(libdir)) comes before ours and finds the alternatives
# link libopenblas.so.0, usually the threaded build: make the serial
# build's directory the RUNPATH instead.
rpathdir = $(OPENBLAS_DIR)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

$(OBJS): $(wildcard src/*.h)

# The pg_regress schedule, for scripts/test.sh.
print-regress:
	@echo $(REGRESS)
