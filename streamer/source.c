/*
 * source.c — walsender commands, the slot's state and marker, and the CopyBoth stream over libpq.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "replproto.h"
#include "runtime.h"
#include "source.h"
#include "xalloc.h"

struct Source
{
	PGconn	   *conn;
	char	   *copybuf;		/* the last message from PQgetCopyData */
	bool		fatal;
	bool		streaming;
};

/* Copies libpq's message, without its trailing newline. */
static void
describe(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t		n;

	snprintf(err, errlen, "%s%s%s", what, *what ? ": " : "", msg && *msg ? msg : "unknown error");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	/* One log line: libpq's hints and detail lines join the message. */
	for (char *p = err; *p; p++)
	{
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	}
}

/* Errors that a retry cannot fix: a missing or unusable slot, privileges. */
static bool
fatal_sqlstate(const char *state)
{
	static const char *const fatal[] = {
		"42704",				/* undefined_object: no such slot */
		"55000",				/* object_not_in_prerequisite_state: slot invalidated */
		"42501",				/* insufficient_privilege */
		"42602",				/* invalid_name */
		"58P01",				/* undefined_file: plugin not installed */
		"22023",				/* invalid_parameter_value: plugin refused an option */
		NULL
	};

	for (int i = 0; state && fatal[i]; i++)
	{
		if (strcmp(state, fatal[i]) == 0)
			return true;
	}
	return false;
}

Source *
source_connect(const char *conninfo, char *err, size_t errlen)
{
	const char *keys[] = {"connect_timeout", "dbname", "replication", "fallback_application_name", NULL};
	const char *values[] = {"10", conninfo, "database", "walstreamer", NULL};
	Source	   *s = xcalloc(1, sizeof(Source));

	s->conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(s->conn) != CONNECTION_OK)
	{
		/* libpq may quote part of a malformed conninfo: its password too. */
		char	   *masked = config_mask_pqerror(conninfo, PQerrorMessage(s->conn));

		describe(err, errlen, "cannot connect to the source", masked);
		free(masked);
		source_close(s);
		return NULL;
	}
	return s;
}

PGconn *
source_connect_sql(const char *conninfo, const char *application, const char *what, char *err, size_t errlen)
{
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *values[] = {"10", conninfo, application, NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);
	char		prefix[256];
	char	   *masked;

	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	masked = config_mask_pqerror(conninfo, PQerrorMessage(conn));
	snprintf(prefix, sizeof(prefix), "%s: cannot connect to the source", what);
	describe(err, errlen, prefix, masked ? masked : "(message withheld)");
	free(masked);
	PQfinish(conn);
	return NULL;
}

void
source_close(Source *s)
{
	if (s == NULL)
		return;
	if (s->copybuf)
		PQfreemem(s->copybuf);
	PQfinish(s->conn);
	free(s);
}

char *
source_quote_literal(Source *s, const char *text)
{
	char	   *q = PQescapeLiteral(s->conn, text, strlen(text));
	char	   *copy = q ? xstrdup(q) : NULL;

	PQfreemem(q);
	return copy;
}

int
source_socket(Source *s)
{
	return PQsocket(s->conn);
}

bool
source_fatal(Source *s)
{
	return s->fatal;
}

PGresult *
source_query(Source *s, const char *sql, char *err, size_t errlen)
{
	PGresult   *res = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	s->fatal = fatal_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
	describe(err, errlen, "", PQerrorMessage(s->conn));
	PQclear(res);
	return NULL;
}

bool
source_identify(Source *s, SourceId *id, char *err, size_t errlen)
{
	PGresult   *res = source_query(s, "IDENTIFY_SYSTEM", err, errlen);

	if (res == NULL)
		return false;
	if (PQntuples(res) != 1 || PQnfields(res) < 4 || PQgetisnull(res, 0, 3))
	{
		snprintf(err, errlen, "IDENTIFY_SYSTEM: unexpected answer (is this a replication=database connection?)");
		PQclear(res);
		return false;
	}
	snprintf(id->sysid, sizeof(id->sysid), "%s", PQgetvalue(res, 0, 0));
	id->timeline = (unsigned) strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(id->dbname, sizeof(id->dbname), "%s", PQgetvalue(res, 0, 3));
	PQclear(res);
	return true;
}

static bool parse_lsn(const char *text, uint64_t *lsn);

bool
source_timeline_history(Source *s, unsigned timeline, char *out, size_t outlen, char *err, size_t errlen)
{
	char		sql[64];
	PGresult   *res;
	const char *p;
	size_t		at = 0;

	out[0] = '\0';
	if (timeline <= 1)
		return true;
	snprintf(sql, sizeof(sql), "TIMELINE_HISTORY %u", timeline);
	if ((res = source_query(s, sql, err, errlen)) == NULL)
		return false;
	if (PQntuples(res) != 1 || PQnfields(res) < 2)
	{
		snprintf(err, errlen, "TIMELINE_HISTORY: unexpected answer");
		PQclear(res);
		return false;
	}
	/* Lines "<parent timeline>\t<switch point>\t<reason>"; comments and blank lines aside. */
	for (p = PQgetvalue(res, 0, 1); *p; p += strcspn(p, "\n"), p += *p == '\n')
	{
		unsigned	tli,
					hi,
					lo;
		int			n;

		if (sscanf(p, "%u\t%X/%X", &tli, &hi, &lo) != 3)
			continue;
		n = snprintf(out + at, outlen - at, "%s%u:%X/%X", at ? "," : "", tli, hi, lo);
		if (n < 0 || (size_t) n >= outlen - at)
		{
			snprintf(err, errlen, "TIMELINE_HISTORY: a history longer than %zu bytes", outlen);
			PQclear(res);
			return false;
		}
		at += (size_t) n;
	}
	PQclear(res);
	return true;
}

static bool
parse_lsn(const char *text, uint64_t *lsn)
{
	unsigned	hi,
				lo;

	if (sscanf(text, "%X/%X", &hi, &lo) != 2)
		return false;
	*lsn = ((uint64_t) hi << 32) | lo;
	return true;
}

bool
source_slot_info(Source *s, const char *slot, SlotInfo *info, char *err, size_t errlen)
{
	char	   *quoted = PQescapeLiteral(s->conn, slot, strlen(slot));
	char		sql[512];
	PGresult   *res;

	memset(info, 0, sizeof(*info));
	if (quoted == NULL)
	{
		describe(err, errlen, "", PQerrorMessage(s->conn));
		return false;
	}
	/* PostgreSQL 17 on: whether the slot is synchronised to standbys (failover). */
	snprintf(sql, sizeof(sql),
			 "SELECT coalesce(plugin, ''), slot_type, coalesce(database, ''), coalesce(wal_status, ''), "
			 "temporary, coalesce(active_pid, 0), coalesce(confirmed_flush_lsn, '0/0'), %s "
			 "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
			 PQserverVersion(s->conn) >= 170000 ? "failover" : "NULL::boolean", quoted);
	PQfreemem(quoted);
	if ((res = source_query(s, sql, err, errlen)) == NULL)
		return false;
	if (PQntuples(res) == 1)
	{
		info->exists = true;
		snprintf(info->plugin, sizeof(info->plugin), "%s",
				 strcmp(PQgetvalue(res, 0, 1), "logical") == 0 ? PQgetvalue(res, 0, 0) : "(physical)");
		snprintf(info->database, sizeof(info->database), "%s", PQgetvalue(res, 0, 2));
		snprintf(info->wal_status, sizeof(info->wal_status), "%s", PQgetvalue(res, 0, 3));
		info->temporary = PQgetvalue(res, 0, 4)[0] == 't';
		info->active_pid = atoi(PQgetvalue(res, 0, 5));
		parse_lsn(PQgetvalue(res, 0, 6), &info->confirmed_flush);
		info->failover = PQgetvalue(res, 0, 7)[0] == 't';
	}
	PQclear(res);
	return true;
}

const char *
source_slot_unusable(const SlotInfo *info, const char *slot, const char *plugin, const char *dbname,
					 char *why, size_t len)
{
	if (strcmp(info->plugin, plugin) != 0)
		snprintf(why, len, "replication slot \"%s\" uses plugin \"%s\", not %s (source.plugin): "
				 "choose another slot.name, or drop that slot", slot, info->plugin, plugin);
	else if (strcmp(info->database, dbname) != 0)
		snprintf(why, len, "replication slot \"%s\" belongs to database \"%s\", not \"%s\"",
				 slot, info->database, dbname);
	else if (strcmp(info->wal_status, "lost") == 0)
		snprintf(why, len, "replication slot \"%s\" was invalidated (max_slot_wal_keep_size): "
				 "WAL it still needed is gone, so changes after " LSN_FMT " are lost. "
				 "Drop the slot, DELETE FROM pgcdc.streamer_slot WHERE slot_name = '%s', "
				 "and start again with a snapshot", slot, LSN_ARGS(info->confirmed_flush), slot);
	else if (info->temporary)
		snprintf(why, len, "replication slot \"%s\" is a temporary slot of another session", slot);
	else
		return NULL;
	return why;
}

bool
source_mark_slot(Source *s, const char *slot, const char *sysid, const uint64_t *snapshot_lsn,
				 char *err, size_t errlen)
{
	char		sql[1024];
	char		lsn[40] = "NULL";
	PGresult   *res;

	if (snapshot_lsn != NULL)
		snprintf(lsn, sizeof(lsn), "'" LSN_FMT "'", LSN_ARGS(*snapshot_lsn));
	snprintf(sql, sizeof(sql),
			 "INSERT INTO pgcdc.streamer_slot (slot_name, system_identifier, snapshot_lsn) "
			 "VALUES ('%s', '%s', %s) ON CONFLICT (slot_name) DO UPDATE "
			 "SET system_identifier = excluded.system_identifier, last_seen = now()%s",
			 slot, sysid, lsn,
			 snapshot_lsn ? ", snapshot_lsn = excluded.snapshot_lsn, created = now()" : "");
	res = source_query(s, sql, err, errlen);
	PQclear(res);
	return res != NULL;
}

int
source_slot_created(Source *s, const char *slot, const char *dbname, char *when, size_t whenlen,
					char *err, size_t errlen)
{
	char		sql[512];
	PGresult   *res;
	int			found;

	snprintf(sql, sizeof(sql), "SELECT created::text || ', last seen ' || last_seen::text "
			 "FROM pgcdc.streamer_slot WHERE slot_name = '%s'", slot);
	if ((res = source_query(s, sql, err, errlen)) == NULL)
	{
		char		why[512];

		snprintf(why, sizeof(why), "%.500s", err);
		snprintf(err, errlen, "cannot read pgcdc.streamer_slot (is the pgcdc extension "
				 "installed in database \"%s\"? CREATE EXTENSION pgcdc): %s", dbname, why);
		return -1;
	}
	found = PQntuples(res);
	if (found)
		snprintf(when, whenlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

bool
source_failover_slots(Source *s)
{
	return PQserverVersion(s->conn) >= 170000;
}

int
source_in_recovery(Source *s, char *err, size_t errlen)
{
	PGresult   *res = source_query(s, "SELECT pg_catalog.pg_is_in_recovery()", err, errlen);
	int			r;

	if (res == NULL)
		return -1;
	r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return r;
}

void
source_log_standby_snapshot(Source *primary)
{
	if (PQserverVersion(primary->conn) >= 160000)
		PQclear(PQexec(primary->conn, "SELECT pg_catalog.pg_log_standby_snapshot()"));
}

bool
source_set_failover(Source *s, const char *slot, char *err, size_t errlen)
{
	char		sql[128];
	PGresult   *res;

	snprintf(sql, sizeof(sql), "ALTER_REPLICATION_SLOT %s (FAILOVER true)", slot);
	if ((res = source_query(s, sql, err, errlen)) == NULL)
		return false;
	PQclear(res);
	return true;
}

bool
source_create_slot(Source *s, const char *slot, const char *plugin, bool temporary, bool export,
				   bool failover, uint64_t *consistent_lsn, char *snapshot, size_t snaplen,
				   char *err, size_t errlen)
{
	char		sql[256];
	PGresult   *res;

	/* PostgreSQL 14 knows only the older, unparenthesised options; 17 adds FAILOVER. */
	if (PQserverVersion(s->conn) < 150000)
		snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s%s LOGICAL %s %s", slot,
				 temporary ? " TEMPORARY" : "", plugin, export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
	else
		snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s%s LOGICAL %s (SNAPSHOT '%s'%s)",
				 slot, temporary ? " TEMPORARY" : "", plugin, export ? "export" : "nothing",
				 failover && !temporary && source_failover_slots(s) ? ", FAILOVER true" : "");
	if ((res = source_query(s, sql, err, errlen)) == NULL)
		return false;
	if (PQntuples(res) != 1 || PQnfields(res) < 4 || !parse_lsn(PQgetvalue(res, 0, 1), consistent_lsn))
	{
		snprintf(err, errlen, "CREATE_REPLICATION_SLOT: unexpected answer");
		PQclear(res);
		return false;
	}
	if (snapshot != NULL)
		snprintf(snapshot, snaplen, "%s", PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
	PQclear(res);
	return true;
}

bool
source_drop_slot(Source *s, const char *slot, char *err, size_t errlen)
{
	char		sql[128];
	PGresult   *res;

	snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT %s", slot);
	if ((res = source_query(s, sql, err, errlen)) == NULL)
		return false;
	PQclear(res);
	return true;
}

bool
source_start(Source *s, const char *slot, const char *options, char *err, size_t errlen)
{
	size_t		len = strlen(slot) + strlen(options) + 64;
	char	   *sql = xmalloc(len);
	PGresult   *res;

	snprintf(sql, len, "START_REPLICATION SLOT %s LOGICAL 0/0 (%s)", slot, options);
	res = PQexec(s->conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
	{
		s->fatal = fatal_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
		describe(err, errlen, "START_REPLICATION", PQerrorMessage(s->conn));
		PQclear(res);
		return false;
	}
	PQclear(res);
	if (PQsetnonblocking(s->conn, 1) != 0)
	{
		describe(err, errlen, "", PQerrorMessage(s->conn));
		return false;
	}
	s->streaming = true;
	return true;
}

int
source_read(Source *s, const char **buf, char *err, size_t errlen)
{
	int			n;

	if (s->copybuf)
	{
		PQfreemem(s->copybuf);
		s->copybuf = NULL;
	}
	n = PQgetCopyData(s->conn, &s->copybuf, 1);
	if (n == 0)
	{
		/* Nothing buffered: read what the socket has, then try again. */
		if (!PQconsumeInput(s->conn))
		{
			describe(err, errlen, "connection to the source lost", PQerrorMessage(s->conn));
			return -1;
		}
		n = PQgetCopyData(s->conn, &s->copybuf, 1);
	}
	if (n > 0)
	{
		*buf = s->copybuf;
		return n;
	}
	if (n == 0)
		return 0;
	if (n == -1)
	{
		/* The server ended the COPY: its final result says why. */
		PGresult   *res = PQgetResult(s->conn);

		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			snprintf(err, errlen, "the source ended replication");
		else
		{
			s->fatal = fatal_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
			describe(err, errlen, "replication stopped", PQerrorMessage(s->conn));
		}
		PQclear(res);
		s->streaming = false;
		return -1;
	}
	describe(err, errlen, "replication stream failed", PQerrorMessage(s->conn));
	return -1;
}

bool
source_send_status(Source *s, uint64_t write_lsn, uint64_t flush_lsn, bool reply,
				   char *err, size_t errlen)
{
	char		msg[REPLPROTO_STATUS_LEN];

	/* applied = flushed: nothing is applied beyond what Kafka holds */
	replproto_status(msg, write_lsn, flush_lsn, flush_lsn, replproto_now(), reply);
	if (PQputCopyData(s->conn, msg, sizeof(msg)) <= 0)
	{
		describe(err, errlen, "cannot send a status update", PQerrorMessage(s->conn));
		return false;
	}
	return source_flush(s, err, errlen);
}

bool
source_output_pending(Source *s)
{
	return PQflush(s->conn) == 1;
}

bool
source_flush(Source *s, char *err, size_t errlen)
{
	if (PQflush(s->conn) < 0)
	{
		describe(err, errlen, "cannot write to the source", PQerrorMessage(s->conn));
		return false;
	}
	return true;
}

void
source_end_copy(Source *s, int timeout_ms)
{
	int64_t		start;

	if (!s->streaming)
		return;
	s->streaming = false;
	if (PQputCopyEnd(s->conn, NULL) <= 0)
		return;
	start = runtime_now_ms();
	for (;;)
	{
		struct pollfd pfd = {PQsocket(s->conn), POLLIN, 0};
		char	   *buf;
		int			n;
		int			left;

		if (PQflush(s->conn) < 0 || !PQconsumeInput(s->conn))
			return;
		/* What the server still sends before it answers the CopyDone is dropped. */
		while ((n = PQgetCopyData(s->conn, &buf, 1)) > 0)
			PQfreemem(buf);
		if (n < 0)
		{
			PGresult   *res;

			while ((res = PQgetResult(s->conn)) != NULL)
				PQclear(res);
			return;
		}
		left = timeout_ms - (int) (runtime_now_ms() - start);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return;
	}
}
