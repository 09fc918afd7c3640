/*
 * pgcatalog.h — a relation described from the source's catalog over SQL,
 * and its records built without the pgcdc extension (source.plugin =
 * pgoutput): the pgcdc RELATION record of the relation (each column's
 * format_type() name, NOT NULL and key flag, a domain's base type, an
 * enum's labels, the replica identity, as decoder/relcache.c builds it),
 * each column's value class (its base type's, pgvalue.h), and a snapshot's
 * READ record of a row read in text (as the extension's pgcdc.read_record()
 * makes it).
 *
 * The message's columns and identity are what the WAL was decoded with and
 * win over the catalog's present state; the catalog adds names of types,
 * NOT NULL, the primary key (the key under REPLICA IDENTITY FULL or
 * NOTHING), base types and enum labels.  A relation dropped since is
 * described from the message alone (no NOT NULL; no key under FULL or
 * NOTHING).
 *
 * The connection must have search_path '' (pgcatalog_prepare sets it), so
 * that format_type() qualifies every type outside pg_catalog, as the
 * plugin does.
 */
#ifndef PGCDC_STREAMER_PGCATALOG_H
#define PGCDC_STREAMER_PGCATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "buf.h"
#include "pgoutput.h"
#include "pgvalue.h"

typedef struct PgcRelation
{
	uint32_t	relid;
	char	   *schema;			/* UTF-8 */
	char	   *table;
	uint8_t    *record;			/* the RELATION record, all but its lsn */
	size_t		record_len;
	size_t		ncolumns;
	char	  **names;			/* per column */
	PgvClass   *classes;
	bool	   *identity;		/* per column: kept in an old key image ('K') */
	bool		old_key_only;	/* REPLICA IDENTITY DEFAULT or USING INDEX */
} PgcRelation;

/* Sets the session up for pgcatalog_describe and for values in text (PGVALUE_SESSION_SQL). */
extern bool pgcatalog_prepare(PGconn *conn, char *err, size_t errlen);

/*
 * Describes the relation of a RELATION message (msg), or, msg NULL, relid
 * from the catalog alone (then a relation that no longer exists is an
 * error).  database: the records' database name.  False with err on a
 * failed query.
 */
extern bool pgcatalog_describe(PGconn *conn, const char *database, uint32_t relid, const PgoMessage *msg,
							   PgcRelation *out, char *err, size_t errlen);
extern void pgcatalog_release(PgcRelation *r);

/*
 * The READ record (without a position) of a row whose columns
 * first..first + ncolumns - 1 of res hold rel's columns in text, read in
 * a transaction that started at commit_ts (µs since 1970), appended to
 * out.  False with err when a value is not one of its type's.
 */
extern bool pgcatalog_read_record(const PgcRelation *rel, const char *database, int64_t commit_ts,
								  const PGresult *res, int row, int first, Buf *out, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_PGCATALOG_H */
