/*
 * signals.c — signal rows read from the stream and executed on the source
 * (signals.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "included.h"
#include "log.h"
#include "signals.h"
#include "source.h"
#include "xalloc.h"

bool
signal_table_is(const Settings *s, const Relation *rel)
{
	return s->signal_table != NULL && strcmp(s->signal_table, rel->name) == 0;
}

/* The column named name's value as text (malloc'd), NULL when absent or not text. */
static char *
column_text(const Relation *rel, const Record *r, const char *name)
{
	Record		relrec;
	char		why[128];
	char	   *out = NULL;

	record_init(&relrec);
	if (record_scan(rel->record, rel->record_len, &relrec, why, sizeof(why)))
	{
		for (size_t i = 0; i < relrec.columns.n && i < r->after.n; i++)
		{
			Span		col,
						text;

			if (record_column_name(relrec.columns.items[i], &col) && col.len == strlen(name) &&
				memcmp(col.data, name, col.len) == 0 && record_value_text(r->after.items[i], &text))
				out = xstrndup((const char *) text.data, text.len);
		}
	}
	record_free(&relrec);
	return out;
}

static bool
signal_parse(const Relation *rel, const Record *r, uint64_t lsn, Signal *out)
{
	memset(out, 0, sizeof(*out));
	if (r->op != PGCDC__OP__OP_INSERT)
		return false;
	out->type = column_text(rel, r, "type");
	if (out->type == NULL)
	{
		log_msg(LOG_WARNING, "a row of the signal table %s without a type is ignored", rel->name);
		return false;
	}
	out->id = column_text(rel, r, "id");
	out->data = column_text(rel, r, "data");
	out->lsn = lsn;
	if (out->id == NULL)
		out->id = xstrdup("(none)");
	return true;
}

void
signals_add(Signals *q, const Relation *rel, const Record *r, uint64_t lsn)
{
	Signal		sig;

	if (!signal_parse(rel, r, lsn, &sig))
		return;
	if (q->n == q->cap)
	{
		q->cap = q->cap ? q->cap * 2 : 4;
		q->items = xrealloc(q->items, q->cap, sizeof(Signal));
	}
	q->items[q->n++] = sig;
}

bool
signals_take(Signals *q, Signal *out)
{
	if (q->n == 0)
		return false;
	*out = q->items[0];
	memmove(&q->items[0], &q->items[1], (q->n - 1) * sizeof(Signal));
	q->n--;
	return true;
}

void
signals_clear(Signals *q)
{
	for (size_t i = 0; i < q->n; i++)
		signal_free(&q->items[i]);
	free(q->items);
	q->items = NULL;
	q->n = q->cap = 0;
}

void
signal_free(Signal *sig)
{
	free(sig->id);
	free(sig->type);
	free(sig->data);
	memset(sig, 0, sizeof(*sig));
}

/* What each type does: its statement, with $1 the slot, $2 the data, $3 the included tables (included.h). */
static const struct
{
	const char *type;
	const char *sql;
	int			nparams;
}			actions[] = {
	{"execute-snapshot",
		"INSERT INTO pgcdc.snapshot_progress AS p "
		"(slot_name, relid, schema_name, table_name, estimated_rows, filter) "
		"SELECT $1, c.oid, n.nspname, c.relname, GREATEST(c.reltuples, 0)::bigint, "
		"  coalesce((SELECT f->>'filter' FROM jsonb_array_elements(coalesce($2::jsonb->'additional-conditions', "
		"    '[]')) f WHERE f->>'data-collection' IN (dc.name, n.nspname || '.' || c.relname) LIMIT 1), "
		"    $2::jsonb->>'additional-condition') "
		"FROM jsonb_array_elements_text($2::jsonb->'data-collections') dc(name) "
		"JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(dc.name) "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.oid = ANY ($3::oid[]) "
		"ON CONFLICT (slot_name, relid) DO UPDATE SET requested = now(), filter = EXCLUDED.filter, "
		"rows = 0, chunks = 0, done = NULL, "
		"estimated_rows = EXCLUDED.estimated_rows "
		"RETURNING p.schema_name || '.' || p.table_name", 3},
	{"stop-snapshot",
		"DELETE FROM pgcdc.snapshot_progress WHERE slot_name = $1 AND done IS NULL AND "
		"(coalesce(jsonb_array_length($2::jsonb->'data-collections'), 0) = 0 OR relid IN ("
		"SELECT pg_catalog.to_regclass(n)::oid FROM jsonb_array_elements_text($2::jsonb->'data-collections') n)) "
		"RETURNING schema_name || '.' || table_name", 2},
	{"pause-snapshot",
		"UPDATE pgcdc.streamer_slot SET snapshot_paused = true WHERE slot_name = $1 RETURNING 'paused'", 1},
	{"resume-snapshot",
		"UPDATE pgcdc.streamer_slot SET snapshot_paused = false WHERE slot_name = $1 RETURNING 'resumed'", 1},
};

static bool
exec_ok(PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* A statement without parameters whose result is only its status. */
static bool
command(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = exec_ok(res);

	PQclear(res);
	return ok;
}

/* Marks sig done (its position in pgcdc.streamer_slot); true when it was not already. */
static bool
mark(PGconn *conn, const Settings *s, const Signal *sig, bool *fresh, char *err, size_t errlen)
{
	char		lsn[32];
	const char *params[2] = {s->slot_name, lsn};
	PGresult   *res;

	snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(sig->lsn));
	res = PQexecParams(conn, "UPDATE pgcdc.streamer_slot SET last_signal_lsn = $2::pg_lsn "
					   "WHERE slot_name = $1 AND coalesce(last_signal_lsn, '0/0') < $2::pg_lsn RETURNING 1",
					   2, NULL, params, NULL, NULL, 0);
	if (!exec_ok(res))
	{
		snprintf(err, errlen, "signal %s: %s", sig->id, PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	*fresh = PQntuples(res) == 1;
	PQclear(res);
	return true;
}

/* Runs the action in the open transaction: false with why when the source refused it. */
static bool
act(PGconn *conn, const Settings *s, const Signal *sig, const char *sql, int nparams, char *why, size_t whylen)
{
	const char *params[3] = {s->slot_name, sig->data ? sig->data : "{}", NULL};
	PGresult   *res;
	Buf			names = {0};
	Buf			oids = {0};

	if (nparams > 2)
	{
		if (!included_tables(conn, s->include_tables, s->exclude_tables, s->signal_table, s->via_root, &oids,
							 why, whylen))
			return false;
		params[2] = oids.data;
	}
	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	buf_free(&oids);

	if (!exec_ok(res))
	{
		snprintf(why, whylen, "%s", PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
		buf_printf(&names, "%s%s", i ? ", " : "", PQgetvalue(res, i, 0));
	log_msg(LOG_INFO, "signal %s (%s) at " LSN_FMT ": %s", sig->id, sig->type, LSN_ARGS(sig->lsn),
			names.len ? names.data : "nothing to do");
	buf_free(&names);
	PQclear(res);
	return true;
}

bool
signal_execute(const Settings *s, const Signal *sig, char *err, size_t errlen)
{
	PGconn	   *conn;
	const char *sql = NULL;
	int			nparams = 0;
	char		why[1024] = "";
	bool		fresh = false;
	bool		ok = false;

	err[0] = '\0';
	if ((conn = source_connect_sql(s->writes, "walstreamer signal", "signal", err, errlen)) == NULL)
		return false;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].type, sig->type) == 0)
		{
			sql = actions[i].sql;
			nparams = actions[i].nparams;
		}
	if (!command(conn, "BEGIN") || !mark(conn, s, sig, &fresh, err, errlen))
		goto done;
	if (!fresh)
	{
		ok = command(conn, "COMMIT");
		goto done;
	}
	if (sql == NULL)
		snprintf(why, sizeof(why), "unknown type \"%s\"", sig->type);
	else if (strcmp(sig->type, "execute-snapshot") == 0 && sig->data == NULL)
		snprintf(why, sizeof(why), "execute-snapshot without data naming its data-collections");
	else if (act(conn, s, sig, sql, nparams, why, sizeof(why)))
	{
		ok = command(conn, "COMMIT");
		goto done;
	}
	/* Not executable: said once, and marked done so that it is not tried again. */
	log_msg(LOG_WARNING, "signal %s (%s) at " LSN_FMT " ignored: %s", sig->id, sig->type, LSN_ARGS(sig->lsn),
			why);
	ok = command(conn, "ROLLBACK") && command(conn, "BEGIN") && mark(conn, s, sig, &fresh, err, errlen) &&
		command(conn, "COMMIT");
done:
	if (!ok && err[0] == '\0')
		snprintf(err, errlen, "signal %s: %s", sig->id, PQerrorMessage(conn));
	PQfinish(conn);
	return ok;
}
