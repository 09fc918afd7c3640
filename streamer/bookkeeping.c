/*
 * bookkeeping.c — walstreamer's tables created on the source without the extension (bookkeeping.h).
 */
#include <stdio.h>
#include <string.h>

#include "bookkeeping.h"
#include "bookkeeping_sql.h"
#include "buf.h"
#include "log.h"

int
bookkeeping_present(PGconn *conn, char *err, size_t errlen)
{
	PGresult   *res = PQexec(conn, "SELECT pg_catalog.to_regclass('pgcdc.streamer_slot') IS NOT NULL "
							 "AND pg_catalog.to_regclass('pgcdc.snapshot_progress') IS NOT NULL "
							 "AND pg_catalog.to_regclass('pgcdc.snapshot_part') IS NOT NULL");
	int			present;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot look for walstreamer's tables: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	present = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return present;
}

bool
bookkeeping_ensure(PGconn *conn, bool *fatal, char *err, size_t errlen)
{
	Buf			sql = {0};
	PGresult   *res;
	int			present;
	bool		ok;

	*fatal = false;
	if ((present = bookkeeping_present(conn, err, errlen)) != 0)
		return present > 0;
	/* CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema is there. */
	res = PQexec(conn, "SELECT pg_catalog.to_regnamespace('pgcdc') IS NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot look for schema pgcdc: %s", PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	buf_printf(&sql, "BEGIN; %s" BOOKKEEPING_SQL "COMMIT",
			   PQgetvalue(res, 0, 0)[0] == 't' ? "CREATE SCHEMA pgcdc; " : "");
	PQclear(res);
	res = PQexec(conn, sql.data);
	buf_free(&sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		char		why[512];

		snprintf(why, sizeof(why), "%s", PQerrorMessage(conn));
		why[strcspn(why, "\n")] = '\0';
		*fatal = state != NULL && strcmp(state, "42501") == 0;
		snprintf(err, errlen, "cannot create walstreamer's tables in schema pgcdc on the source (%s)%s", why,
				 *fatal ? ": an administrator runs CREATE SCHEMA pgcdc AUTHORIZATION <walstreamer's role> "
				 "(walstreamer then creates them), or CREATE EXTENSION pgcdc where it is installed" : "");
	}
	else
		log_msg(LOG_INFO, "created walstreamer's tables in schema pgcdc on the source");
	PQclear(res);
	if (!ok)
		PQclear(PQexec(conn, "ROLLBACK"));
	return ok;
}
