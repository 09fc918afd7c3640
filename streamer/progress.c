/*
 * progress.c — which tables a slot's snapshot is to read: the rows of the
 * source's pgcdc.snapshot_progress written when a snapshot is asked for
 * (progress.h).  The rows' progress as chunks are acknowledged is
 * snapshot.c's.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "log.h"
#include "progress.h"
#include "source.h"

/*
 * The rows of pgcdc.snapshot_progress for the included tables ($2, $3),
 * but the signal table ($4) and the extension's own, of slot $1; the rest
 * of the WHERE clause may follow.
 */
#define INCLUDED_SQL \
	"INSERT INTO pgcdc.snapshot_progress AS p (slot_name, relid, schema_name, table_name, estimated_rows) " \
	"SELECT $1, c.oid, n.nspname, c.relname, GREATEST(c.reltuples, 0)::bigint " \
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE c.relkind = 'r' AND c.relpersistence = 'p' " \
	"AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' " \
	"AND c.oid NOT IN (SELECT objid FROM pg_catalog.pg_depend d " \
	"  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid " \
	"  WHERE e.extname = 'pgcdc' AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass) " \
	"AND pgcdc.table_included(c.oid, $2, $3) " \
	"AND n.nspname || '.' || c.relname IS DISTINCT FROM $4 "
/* ...and a table asked for again starts over. */
#define AGAIN_SQL \
	"ON CONFLICT (slot_name, relid) DO UPDATE SET requested = now(), filter = NULL, rows = 0, chunks = 0, " \
	"done = NULL, estimated_rows = EXCLUDED.estimated_rows "

/* The included tables' rows in pgcdc.snapshot_progress, replacing the slot's. */
bool
progress_schedule(const Settings *s, char *err, size_t errlen)
{
	const char *params[4] = {s->slot_name, s->include_tables, s->exclude_tables, s->signal_table};
	PGconn	   *conn = source_connect_sql(s->source, "walstreamer snapshot", "snapshot", err, errlen);
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return false;
	res = PQexecParams(conn,
					   "WITH fresh AS (" INCLUDED_SQL AGAIN_SQL "RETURNING relid), "
					   /* The slot's rows of tables no longer included go. */
					   "gone AS (DELETE FROM pgcdc.snapshot_progress p WHERE p.slot_name = $1 "
					   "AND p.relid NOT IN (SELECT relid FROM fresh)) "
					   "SELECT count(*) FROM fresh",
					   4, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "snapshot: cannot ask for the tables to be read (pgcdc.snapshot_progress; "
				 "is the pgcdc extension installed in this database? CREATE EXTENSION pgcdc): %s",
				 PQerrorMessage(conn));
	else
		log_msg(LOG_INFO, "snapshot: %s table(s) to read", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

bool
progress_reconcile(const Settings *s, char *err, size_t errlen)
{
	const char *params[5] = {s->slot_name, s->include_tables, s->exclude_tables, s->signal_table,
	s->snapshot_mode == SNAPSHOT_NEVER ? "f" : "t"};
	PGconn	   *conn = source_connect_sql(s->source, "walstreamer snapshot", "snapshot", err, errlen);
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return false;
	/* The last start's lists, when they differ (a slot without progress rows predates them). */
	res = PQexecParams(conn,
					   "WITH old AS (SELECT include_list, exclude_list FROM pgcdc.streamer_slot "
					   "  WHERE slot_name = $1 AND (include_list, exclude_list) IS DISTINCT FROM ($2, $3) "
					   "  AND EXISTS (SELECT FROM pgcdc.snapshot_progress p WHERE p.slot_name = $1)), "
					   "added AS (" INCLUDED_SQL "AND $5::boolean AND EXISTS (SELECT FROM old "
					   "  WHERE NOT pgcdc.table_included(c.oid, old.include_list, old.exclude_list)) "
					   AGAIN_SQL "RETURNING 'reads ' || p.schema_name || '.' || p.table_name), "
					   "dropped AS (DELETE FROM pgcdc.snapshot_progress p USING old WHERE p.slot_name = $1 "
					   "  AND p.done IS NULL AND NOT pgcdc.table_included(p.relid, $2, $3) "
					   "  RETURNING 'stops reading ' || p.schema_name || '.' || p.table_name), "
					   "noted AS (UPDATE pgcdc.streamer_slot SET include_list = $2, exclude_list = $3 "
					   "  WHERE slot_name = $1) "
					   "SELECT * FROM added UNION ALL SELECT * FROM dropped",
					   5, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "snapshot: cannot compare the table lists with the last start's: %s",
				 PQerrorMessage(conn));
	for (int i = 0; ok && i < PQntuples(res); i++)
		log_msg(LOG_INFO, "snapshot: the table lists changed: %s", PQgetvalue(res, i, 0));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

