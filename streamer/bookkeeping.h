/*
 * bookkeeping.h — walstreamer's tables on the source (pgcdc.streamer_slot,
 * snapshot_progress, snapshot_part) where no pgcdc extension made them
 * (source.plugin = pgoutput on managed PostgreSQL): created in schema
 * pgcdc from the extension script's own definitions (generated into
 * bookkeeping_sql.h at build time), so both ways make the same tables.
 */
#ifndef PGCDC_STREAMER_BOOKKEEPING_H
#define PGCDC_STREAMER_BOOKKEEPING_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/*
 * The three tables, never streamed nor read by a snapshot: as a table list
 * (tablefilter.h) and as an SQL condition on pg_namespace n and pg_class c.
 */
#define BOOKKEEPING_TABLES "pgcdc.streamer_slot, pgcdc.snapshot_progress, pgcdc.snapshot_part"
#define BOOKKEEPING_RELATION_SQL \
	"(n.nspname = 'pgcdc' AND c.relname IN ('streamer_slot', 'snapshot_progress', 'snapshot_part'))"

/* Whether all three tables exist: 1, 0, or -1 with err. */
extern int	bookkeeping_present(PGconn *conn, char *err, size_t errlen);

/*
 * Creates what is missing.  False with err, *fatal when the role may not
 * (err then says what an administrator runs).
 */
extern bool bookkeeping_ensure(PGconn *conn, bool *fatal, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_BOOKKEEPING_H */
