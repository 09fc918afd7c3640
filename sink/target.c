/*
 * target.c — the connection to the target and its transaction: session
 * set-up, walsink's own tables, the statements and their round trips.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "target.h"
#include "xalloc.h"

#define TARGET_DEFERRED 8

struct Target
{
	PGconn	   *conn;
	const Settings *settings;
	char	   *dead_letter;	/* dead.letter.table, quoted schema.table */
	char		state[6];		/* SQLSTATE of the last error target_error saw, "" when none */
	/* Statements waiting to go with the next one (target_defer). */
	const char *deferred[TARGET_DEFERRED];
	int			ndeferred;
};

void
target_error(Target *t, const PGresult *res, char *err, size_t errlen)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t		n;

	snprintf(t->state, sizeof(t->state), "%s", state ? state : "");
	if (msg == NULL)
		msg = PQerrorMessage(t->conn);
	n = (size_t) snprintf(err, errlen, "%s%s%s%s%s", msg, detail ? " (" : "", detail ? detail : "",
						  detail ? ")" : "", "");
	if (state && n < errlen)
		snprintf(err + n, errlen - n, " [%s]", state);
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

bool
target_broken(const Target *t)
{
	return PQstatus(t->conn) != CONNECTION_OK;
}

bool
target_unique_violation(const Target *t)
{
	return strcmp(t->state, "23505") == 0;
}

const Settings *
target_settings(const Target *t)
{
	return t->settings;
}

const char *
target_dead_letter_table(const Target *t)
{
	return t->dead_letter;
}

char *
target_quote(Target *t, const char *ident)
{
	char	   *q = PQescapeIdentifier(t->conn, ident, strlen(ident));
	char	   *copy = q ? xstrdup(q) : NULL;

	PQfreemem(q);
	return copy;
}

char *
target_quote_qualified(Target *t, const char *schema, const char *table)
{
	char	   *s = target_quote(t, schema);
	char	   *r = target_quote(t, table);
	char	   *out = s && r ? xmalloc(strlen(s) + strlen(r) + 2) : NULL;

	if (out)
		sprintf(out, "%s.%s", s, r);
	free(s);
	free(r);
	return out;
}

bool
target_defer(Target *t, const char *sql, char *err, size_t errlen)
{
	if (t->ndeferred == TARGET_DEFERRED)
	{
		PGresult   *res = target_query(t, t->deferred[--t->ndeferred]);
		bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			target_error(t, res, err, errlen);
		PQclear(res);
		if (!ok)
			return false;
	}
	t->deferred[t->ndeferred++] = sql;
	return true;
}

PGresult *
target_query(Target *t, const char *sql)
{
	Buf			q = {0};
	PGresult   *res;

	if (t->ndeferred == 0)
		return PQexec(t->conn, sql);
	/* One simple query: its statements run in order, and stop at the first error. */
	for (int i = 0; i < t->ndeferred; i++)
	{
		buf_append(&q, t->deferred[i], strlen(t->deferred[i]));
		buf_append(&q, "; ", 2);
	}
	buf_append(&q, sql, strlen(sql) + 1);
	t->ndeferred = 0;
	res = PQexec(t->conn, q.data);
	buf_free(&q);
	return res;
}

PGresult *
target_query_params(Target *t, const char *sql, int n, const char *const *values,
					const int *lengths, const int *formats, const char *then)
{
	PGconn	   *c = t->conn;
	int			nq = t->ndeferred + 1 + (then != NULL);
	int			main = t->ndeferred;
	bool		sent;
	PGresult   *res;
	PGresult   *out = NULL;
	PGresult   *failed = NULL;

	if (nq == 1)
		return PQexecParams(c, sql, n, NULL, values, lengths, formats, 0);
	/* Parameters need the extended protocol: the statements as one pipeline, one sync. */
	sent = PQenterPipelineMode(c) == 1;
	for (int i = 0; i < t->ndeferred && sent; i++)
		sent = PQsendQueryParams(c, t->deferred[i], 0, NULL, NULL, NULL, NULL, 0) == 1;
	t->ndeferred = 0;
	sent = sent && PQsendQueryParams(c, sql, n, NULL, values, lengths, formats, 0) == 1;
	sent = sent && (then == NULL || PQsendQueryParams(c, then, 0, NULL, NULL, NULL, NULL, 0) == 1);
	sent = sent && PQpipelineSync(c) == 1;
	for (int q = 0; q < nq && sent; q++)
		while ((res = PQgetResult(c)) != NULL)
		{
			if (failed == NULL && PQresultStatus(res) == PGRES_FATAL_ERROR)
				failed = res;
			else if (q == main && out == NULL)
				out = res;
			else
				PQclear(res);
		}
	while (sent && (res = PQgetResult(c)) != NULL)
	{
		bool		synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;

		PQclear(res);
		if (synced)
			break;
	}
	PQexitPipelineMode(c);
	if (failed || !sent)
	{
		PQclear(out);
		return failed ? failed : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
	}
	return out;
}

bool
target_exec_counts(Target *t, const char *sql, long *counts, size_t n, char *err, size_t errlen)
{
	Buf			q = {0};
	PGresult   *res;
	PGresult   *failed = NULL;
	size_t		got = 0;
	size_t		skip = (size_t) t->ndeferred;	/* their results come first */
	bool		sent;

	for (int i = 0; i < t->ndeferred; i++)
	{
		buf_append(&q, t->deferred[i], strlen(t->deferred[i]));
		buf_append(&q, "; ", 2);
	}
	buf_append(&q, sql, strlen(sql) + 1);
	t->ndeferred = 0;
	sent = PQsendQuery(t->conn, q.data) == 1;
	buf_free(&q);
	while (sent && (res = PQgetResult(t->conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			if (failed == NULL)
				failed = res;
			else
				PQclear(res);
			continue;
		}
		if (skip > 0)
			skip--;
		else if (got < n)
			counts[got++] = atol(PQcmdTuples(res));
		PQclear(res);
	}
	if (!sent || failed != NULL || got < n)
	{
		if (failed == NULL)
			failed = PQmakeEmptyPGresult(t->conn, PGRES_FATAL_ERROR);
		target_error(t, failed, err, errlen);
		PQclear(failed);
		return false;
	}
	return true;
}

bool
target_exec(Target *t, const char *sql, char *err, size_t errlen)
{
	return target_exec_rows(t, sql, NULL, err, errlen);
}

bool
target_exec_rows(Target *t, const char *sql, long *rows, char *err, size_t errlen)
{
	PGresult   *res = target_query(t, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		target_error(t, res, err, errlen);
	else if (rows)
		*rows = atol(PQcmdTuples(res));
	PQclear(res);
	return ok;
}

bool
target_exec_params(Target *t, const char *sql, int n, const char *const *values, const char *then,
				   PGresult **out, char *err, size_t errlen)
{
	PGresult   *res = target_query_params(t, sql, n, values, NULL, NULL, then);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		target_error(t, res, err, errlen);
	if (ok && out)
		*out = res;
	else
		PQclear(res);
	return ok;
}

bool
target_ensure_schema(Target *t, const char *schema, char *err, size_t errlen)
{
	const char *values[1] = {schema};
	PGresult   *res;
	bool		exists;
	char	   *q;
	char	   *sql;
	bool		ok;

	if (!target_exec_params(t, "SELECT FROM pg_namespace WHERE nspname = $1", 1, values, NULL, &res, err, errlen))
		return false;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists)
		return true;
	q = target_quote(t, schema);
	sql = xmalloc(strlen(q) + 128);
	sprintf(sql, TARGET_DDL_LOCK "CREATE SCHEMA IF NOT EXISTS %s", q);
	ok = target_exec(t, sql, err, errlen);
	free(sql);
	free(q);
	return ok;
}

/* walsink's own tables, created when missing. */
static bool
bootstrap(Target *t, char *err, size_t errlen)
{
	const char *dl = t->settings->dead_letter_table;
	const char *dot = strchr(dl, '.');
	char	   *schema = xstrndup(dl, (size_t) (dot - dl));
	char		index[80];
	char	   *qindex;
	char	   *qposition;
	char		sql[4096];	/* names quoted: up to ~260 bytes each */
	bool		ok;

	t->dead_letter = target_quote_qualified(t, schema, dot + 1);
	if (!target_ensure_schema(t, "pgcdc", err, errlen) || !target_ensure_schema(t, schema, err, errlen))
	{
		free(schema);
		return false;
	}
	/* Beside its table; the server cuts a longer name to 63 bytes as it would any. */
	snprintf(index, sizeof(index), "%s_message", dot + 1);
	qindex = target_quote(t, index);
	snprintf(index, sizeof(index), "%s_position", dot + 1);
	qposition = target_quote(t, index);
	snprintf(sql, sizeof(sql),
			 "SET client_min_messages = warning;"
			 TARGET_DDL_LOCK
			 "CREATE TABLE IF NOT EXISTS pgcdc.sink_position ("
			 " group_id text NOT NULL, topic text NOT NULL, partition int NOT NULL,"
			 " \"offset\" bigint NOT NULL, commit_lsn pg_lsn, seq bigint, sub int,"
			 " updated timestamptz NOT NULL DEFAULT now(),"
			 " PRIMARY KEY (group_id, topic, partition));"
			 "ALTER TABLE pgcdc.sink_position ADD COLUMN IF NOT EXISTS owner text;"
			 "ALTER TABLE pgcdc.sink_position ADD COLUMN IF NOT EXISTS source text;"
			 "CREATE TABLE IF NOT EXISTS pgcdc.sink_truncate ("
			 " group_id text NOT NULL, target_table text NOT NULL, commit_lsn pg_lsn NOT NULL,"
			 " seq bigint NOT NULL, PRIMARY KEY (group_id, target_table));"
			 "CREATE TABLE IF NOT EXISTS pgcdc.sink_snapshot_range ("
			 " group_id text NOT NULL, target_table text NOT NULL, commit_lsn pg_lsn NOT NULL,"
			 " PRIMARY KEY (group_id, target_table));"
			 "CREATE TABLE IF NOT EXISTS pgcdc.sink_key_move ("
			 " group_id text NOT NULL, topic text NOT NULL, commit_lsn pg_lsn NOT NULL, seq bigint NOT NULL,"
			 " image bytea, created timestamptz NOT NULL DEFAULT now(),"
			 " PRIMARY KEY (group_id, topic, commit_lsn, seq));"
			 "DO $$BEGIN IF (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'pgcdc.sink_key_move'::regclass"
			 " AND attname = 'image') THEN ALTER TABLE pgcdc.sink_key_move ALTER image DROP NOT NULL; END IF; END$$;"
			 "CREATE TABLE IF NOT EXISTS %s ("
			 " id bigserial PRIMARY KEY, topic text, partition int, \"offset\" bigint,"
			 " key bytea, value bytea, commit_lsn pg_lsn, seq bigint,"
			 " reason text NOT NULL, detail text, created timestamptz NOT NULL DEFAULT now());"
			 "ALTER TABLE %s ADD COLUMN IF NOT EXISTS value_bytes bigint;"
			 "CREATE INDEX IF NOT EXISTS %s ON %s (topic, partition, \"offset\");"
			 "CREATE INDEX IF NOT EXISTS %s ON %s (topic, commit_lsn, seq);"
			 "SET client_min_messages = notice",
			 t->dead_letter, t->dead_letter, qindex, t->dead_letter, qposition, t->dead_letter);
	ok = target_exec(t, sql, err, errlen);
	free(schema);
	free(qindex);
	free(qposition);
	return ok;
}

/* Server notices ("skipping", "does not exist") are walsink's business, not the log's. */
static void
on_notice(void *arg, const char *message)
{
	log_msg(LOG_DEBUG, "target: %.*s", (int) strcspn(message, "\n"), message);
}

Target *
target_connect(const Settings *s, char *err, size_t errlen)
{
	Target	   *t = xcalloc(1, sizeof(Target));
	char		set[512];

	t->settings = s;
	t->conn = PQconnectdb(s->target);
	if (PQstatus(t->conn) != CONNECTION_OK)
	{
		/* libpq may quote part of a malformed conninfo: its password too. */
		char	   *masked = config_mask_pqerror(s->target, PQerrorMessage(t->conn));

		snprintf(err, errlen, "cannot connect to the target: %s", masked);
		free(masked);
		for (char *p = err; *p; p++)
			if (*p == '\n')
				*p = ' ';
		target_free(t);
		return NULL;
	}
	PQsetNoticeProcessor(t->conn, on_notice, NULL);
	/* synchronous.commit is one of its listed values: nothing else reaches this text. */
	snprintf(set, sizeof(set), "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO'; "
			 "SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; "
			 "SET bytea_output = 'hex'; SET extra_float_digits = 1; SET synchronous_commit = %s",
			 s->synchronous_commit);
	if (!target_exec(t, set, err, errlen) || !bootstrap(t, err, errlen))
	{
		target_free(t);
		return NULL;
	}
	return t;
}

void
target_free(Target *t)
{
	if (t == NULL)
		return;
	PQfinish(t->conn);
	free(t->dead_letter);
	free(t);
}

void
target_array_add(Buf *arrays, size_t n, const char *const *values)
{
	for (size_t i = 0; i < n; i++)
	{
		Buf		   *b = &arrays[i];

		buf_putc(b, b->len == 0 ? '{' : ',');
		if (values[i] == NULL)
		{
			buf_append(b, "NULL", 4);
			continue;
		}
		buf_putc(b, '"');
		for (const char *c = values[i]; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				buf_putc(b, '\\');
			buf_putc(b, *c);
		}
		buf_putc(b, '"');
	}
}

const char	target_superuser_warning[] =
	"walsink's role is a superuser: a record could then write anywhere walsink's checks miss; "
	"run it as a role that owns its target schemas and pgcdc and nothing else (README: least privilege)";

const char *
target_superuser(const Target *t)
{
	const char *v = PQparameterStatus(t->conn, "is_superuser");

	return v != NULL && strcmp(v, "on") == 0 ? PQuser(t->conn) : NULL;
}

bool
target_copy_send(Target *t, const char *data, size_t len)
{
	return PQputCopyData(t->conn, data, (int) len) == 1;
}

/*
 * Ends the COPY FROM STDIN and takes its result.  sent: every piece went
 * (target_copy_send never failed); abandon: why the COPY is given up (the
 * target then fails it), or NULL.  Drains what results follow.
 */
bool
target_copy_end(Target *t, bool sent, const char *abandon, char *err, size_t errlen)
{
	PGresult   *res;
	bool		ok;

	ok = PQputCopyEnd(t->conn, abandon) == 1 && sent && abandon == NULL;
	res = PQgetResult(t->conn);
	ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		target_error(t, res, err, errlen);
	PQclear(res);
	while ((res = PQgetResult(t->conn)) != NULL)
		PQclear(res);
	return ok;
}
