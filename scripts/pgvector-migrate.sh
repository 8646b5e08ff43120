#!/usr/bin/env bash
# Move a pgvector database into an empty database with vdb:
#
#   scripts/pgvector-migrate.sh [--keep-heap] SOURCE TARGET
#
# SOURCE and TARGET are connection strings or database names for pg_dump
# and psql (PGHOST etc. apply); TARGET must exist and be empty, on a server
# with vdb installed; the user needs to be able to read everything in
# SOURCE and to create the extension in TARGET.  The steps (each one can
# be run by hand as well; README.md, "Migrating from pgvector"):
#
#   1. the schema without indexes and constraints (pg_dump --section=pre-data),
#      rewritten by scripts/pgvector-schema.pl: CREATE EXTENSION vdb, vector
#      tables USING vdb (unless --keep-heap);
#   2. every table's rows with binary COPY, which is byte-compatible between
#      pgvector and vdb; sequences are set to their values in SOURCE;
#   3. indexes, constraints and triggers (pg_dump --section=post-data),
#      rewritten: ivfflat/hnsw indexes become vdb_ivf ones, built from the
#      loaded rows.
#
# Indexes vdb_ivf cannot serve are left out and reported (see
# pgvector-schema.pl); halfvec/sparsevec columns stop the migration before
# anything is written.  Large objects, roles and database settings are not
# moved (use pg_dumpall --globals-only and pg_dump --blobs for those).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
keep_heap=()
if [ "${1:-}" = --keep-heap ]; then
	keep_heap=(--keep-heap)
	shift
fi
if [ $# -ne 2 ]; then
	echo "usage: $0 [--keep-heap] SOURCE TARGET" >&2
	exit 2
fi
source_db=$1
target_db=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql_source() { psql -X -q -v ON_ERROR_STOP=1 -d "$source_db" "$@"; }
psql_target() { psql -X -q -v ON_ERROR_STOP=1 -d "$target_db" "$@"; }

# Rewrite both schema sections first: an unsupported column type stops
# here, before the target is touched.
pg_dump --no-owner --section=pre-data -d "$source_db" -f "$work/pre.sql"
pg_dump --no-owner --section=post-data -d "$source_db" -f "$work/post.sql"
"$here/pgvector-schema.pl" "${keep_heap[@]}" < "$work/pre.sql" > "$work/pre-vdb.sql"
"$here/pgvector-schema.pl" "${keep_heap[@]}" < "$work/post.sql" > "$work/post-vdb.sql"

# Empty: no relations but extension members (vdb may be there already).
if [ "$(psql_target -At -c "SELECT count(*) FROM pg_class c WHERE c.relnamespace NOT IN
		(SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema')
			OR nspname LIKE 'pg\_toast%')
	AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
		AND d.objid = c.oid AND d.deptype = 'e')
	AND NOT EXISTS (SELECT FROM pg_index i JOIN pg_depend d ON d.objid = i.indrelid
		AND d.classid = 'pg_class'::regclass AND d.deptype = 'e' WHERE i.indexrelid = c.oid)")" != 0 ]; then
	echo "$0: target database is not empty" >&2
	exit 1
fi

echo "pgvector-migrate: schema" >&2
psql_target -f "$work/pre-vdb.sql" > /dev/null

# Tables with storage of their own (partitions, not their parents), but
# those of extensions, with their column lists (generated columns are
# neither copied out nor in).
psql_source -At -F ' ' -c "
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
	AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
		AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1" > "$work/tables"
while read -r table; do
	echo "pgvector-migrate: rows of $table" >&2
	psql_source -c "\\copy $table TO STDOUT (FORMAT binary)" |
		psql_target -c "\\copy $table FROM STDIN (FORMAT binary)"
done < "$work/tables"

psql_source -At -c "
SELECT format('SELECT pg_catalog.setval(%L, %s, true);',
	format('%I.%I', schemaname, sequencename), last_value)
FROM pg_sequences WHERE last_value IS NOT NULL" > "$work/sequences.sql"
psql_target -f "$work/sequences.sql" > /dev/null

echo "pgvector-migrate: indexes and constraints" >&2
psql_target -f "$work/post-vdb.sql" > /dev/null
psql_target -c "ANALYZE"
echo "pgvector-migrate: done" >&2
