/*
 * progress.c — which tables a slot's snapshot is to read: the rows of the
 * source's pgcdc.snapshot_progress written when a snapshot is asked for
 * (progress.h).  The rows' progress as chunks are acknowledged is
 * snapshot.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "included.h"
#include "log.h"
#include "progress.h"
#include "source.h"
#include "xalloc.h"

/*
 * The rows of pgcdc.snapshot_progress of slot $1 for the tables in the
 * oid[] parameter `tables` (included.h); the rest of the WHERE clause may
 * follow.
 */
#define INCLUDED_SQL(tables) \
	"INSERT INTO pgcdc.snapshot_progress AS p (slot_name, relid, schema_name, table_name, estimated_rows) " \
	"SELECT $1, c.oid, n.nspname, c.relname, GREATEST(c.reltuples, 0)::bigint " \
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE c.oid = ANY (" tables "::oid[]) "
/* ...and a table asked for again starts over. */
#define AGAIN_SQL \
	"ON CONFLICT (slot_name, relid) DO UPDATE SET requested = now(), filter = NULL, rows = 0, chunks = 0, " \
	"done = NULL, estimated_rows = EXCLUDED.estimated_rows "

/* The included tables' rows in pgcdc.snapshot_progress, replacing the slot's. */
bool
progress_schedule(const Settings *s, char *err, size_t errlen)
{
	Buf			oids = {0};
	const char *params[2] = {s->slot_name, NULL};
	PGconn	   *conn = source_connect_sql(s->writes, "walstreamer snapshot", "snapshot", err, errlen);
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return false;
	if (!included_tables(conn, s->include_tables, s->exclude_tables, s->signal_table, s->via_root, &oids,
						 err, errlen))
	{
		PQfinish(conn);
		return false;
	}
	params[1] = oids.data;
	res = PQexecParams(conn,
					   "WITH fresh AS (" INCLUDED_SQL("$2") AGAIN_SQL "RETURNING relid), "
					   /* The slot's rows of tables no longer included go. */
					   "gone AS (DELETE FROM pgcdc.snapshot_progress p WHERE p.slot_name = $1 "
					   "AND p.relid NOT IN (SELECT relid FROM fresh)) "
					   "SELECT count(*) FROM fresh",
					   2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "snapshot: cannot ask for the tables to be read (pgcdc.snapshot_progress): %s",
				 PQerrorMessage(conn));
	else
		log_msg(LOG_INFO, "snapshot: %s table(s) to read", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	buf_free(&oids);
	return ok;
}

/*
 * The lists of the last start, when they differ from these and the slot has
 * progress rows (a slot without them predates the lists): 1, 0, -1 on error.
 */
static int
last_lists(PGconn *conn, const Settings *s, char **include, char **exclude, char *err, size_t errlen)
{
	const char *params[3] = {s->slot_name, s->include_tables, s->exclude_tables};
	PGresult   *res = PQexecParams(conn, "SELECT include_list, exclude_list FROM pgcdc.streamer_slot "
								   "WHERE slot_name = $1 AND (include_list, exclude_list) IS DISTINCT FROM ($2, $3) "
								   "AND EXISTS (SELECT FROM pgcdc.snapshot_progress p WHERE p.slot_name = $1)",
								   3, NULL, params, NULL, NULL, 0);
	int			found;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "snapshot: cannot read the last start's table lists: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	found = PQntuples(res);
	*include = found && !PQgetisnull(res, 0, 0) ? xstrdup(PQgetvalue(res, 0, 0)) : NULL;
	*exclude = found && !PQgetisnull(res, 0, 1) ? xstrdup(PQgetvalue(res, 0, 1)) : NULL;
	PQclear(res);
	return found;
}

bool
progress_reconcile(const Settings *s, char *err, size_t errlen)
{
	PGconn	   *conn = source_connect_sql(s->writes, "walstreamer snapshot", "snapshot", err, errlen);
	Buf			now = {0},
				before = {0};
	char	   *old_include = NULL,
			   *old_exclude = NULL;
	PGresult   *res = NULL;
	int			changed;
	bool		ok = false;

	if (conn == NULL)
		return false;
	if ((changed = last_lists(conn, s, &old_include, &old_exclude, err, errlen)) < 0 ||
		!included_tables(conn, s->include_tables, s->exclude_tables, s->signal_table, s->via_root, &now,
						 err, errlen))
		goto out;
	if (!changed)
		buf_puts(&before, "{}");
	else if (!included_tables(conn, old_include, old_exclude, s->signal_table, s->via_root, &before,
							  err, errlen))
		goto out;
	{
		const char *params[7] = {s->slot_name, s->include_tables, s->exclude_tables,
			s->snapshot_mode == SNAPSHOT_NEVER ? "f" : "t", now.data, before.data, changed ? "t" : "f"};

		/* $5: the tables included now, $6: at the last start, $7: whether the lists changed. */
		res = PQexecParams(conn,
						   "WITH added AS (" INCLUDED_SQL("$5") "AND $4::boolean AND $7::boolean "
						   "  AND NOT c.oid = ANY ($6::oid[]) "
						   AGAIN_SQL "RETURNING 'reads ' || p.schema_name || '.' || p.table_name), "
						   "dropped AS (DELETE FROM pgcdc.snapshot_progress p WHERE $7::boolean AND p.slot_name = $1 "
						   "  AND p.done IS NULL AND NOT p.relid = ANY ($5::oid[]) "
						   "  RETURNING 'stops reading ' || p.schema_name || '.' || p.table_name), "
						   "noted AS (UPDATE pgcdc.streamer_slot SET include_list = $2, exclude_list = $3 "
						   "  WHERE slot_name = $1) "
						   "SELECT * FROM added UNION ALL SELECT * FROM dropped",
						   7, NULL, params, NULL, NULL, 0);
	}
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "snapshot: cannot compare the table lists with the last start's: %s",
				 PQerrorMessage(conn));
	for (int i = 0; ok && i < PQntuples(res); i++)
		log_msg(LOG_INFO, "snapshot: the table lists changed: %s", PQgetvalue(res, i, 0));
out:
	PQclear(res);
	PQfinish(conn);
	buf_free(&now);
	buf_free(&before);
	free(old_include);
	free(old_exclude);
	return ok;
}
