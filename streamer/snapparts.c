/*
 * snapparts.c — a table's parts and their progress on the source: the split
 * of a table into key ranges from a sample of its keys, and the rows of
 * pgcdc.snapshot_part and pgcdc.snapshot_progress that a restart goes on
 * from (snapread.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "snapread.h"
#include "xalloc.h"

/* Pages of a table its split samples, per part it may get. */
#define SAMPLE_PAGES_PER_PART 32
/* A part is at least this many chunks. */
#define PART_MIN_CHUNKS 2

void
parts_free(Part *parts, int nparts)
{
	for (int i = 0; i < nparts; i++)
	{
		key_free(&parts[i].upto);
		key_free(&parts[i].last);
	}
	free(parts);
}

static void
keys_free(Key *keys, int n)
{
	for (int i = 0; i < n; i++)
		key_free(&keys[i]);
	free(keys);
}

/* A key's values as a text[] of parameters (after the *n already set), or NULL for no key. */
static void
key_array(Buf *q, const Key *k, const char **params, int *n)
{
	if (k->n == 0)
	{
		buf_printf(q, "NULL");
		return;
	}
	buf_printf(q, "ARRAY[");
	for (int i = 0; i < k->n; i++)
	{
		buf_printf(q, "%s$%d::text", i ? ", " : "", *n + 1);
		params[(*n)++] = k->values[i];
	}
	buf_printf(q, "]");
}

/* The stored parts of the table's current request, into *parts (none: *nparts = 0). */
static bool
load_parts(TableRead *tr, Part **parts, int *nparts)
{
	char		relid[16];
	const char *params[2] = {tr->settings->slot_name, relid};
	PGresult   *res;

	snprintf(relid, sizeof(relid), "%u", tr->relid);
	*parts = NULL;
	*nparts = 0;
	res = PQexecParams(tr->book, "SELECT sp.part, sp.done IS NOT NULL, sp.upto_bytes, sp.last_key_bytes "
					   "FROM pgcdc.snapshot_part sp JOIN pgcdc.snapshot_progress p USING (slot_name, relid) "
					   "WHERE sp.slot_name = $1 AND sp.relid = $2::oid AND sp.requested = p.requested "
					   "ORDER BY sp.part", 2, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return tableread_run(tr, res, "reading its parts");
	*nparts = PQntuples(res);
	*parts = xcalloc((size_t) (*nparts ? *nparts : 1), sizeof(Part));
	for (int i = 0; i < *nparts; i++)
	{
		Part	   *p = &(*parts)[i];
		const char *no = PQgetvalue(res, i, 0);

		/* Binary results: int4 and bool in network order, bytea as is. */
		p->no = (int) (((unsigned) (uint8_t) no[0] << 24) | ((unsigned) (uint8_t) no[1] << 16) |
					   ((unsigned) (uint8_t) no[2] << 8) | (unsigned) (uint8_t) no[3]);
		p->done = PQgetvalue(res, i, 1)[0] != 0;
		if (!PQgetisnull(res, i, 2))
		{
			p->upto.len = (size_t) PQgetlength(res, i, 2);
			p->upto.bytes = xmemdup(PQgetvalue(res, i, 2), p->upto.len ? p->upto.len : 1);
		}
		if (!PQgetisnull(res, i, 3))
		{
			p->last.len = (size_t) PQgetlength(res, i, 3);
			p->last.bytes = xmemdup(PQgetvalue(res, i, 3), p->last.len ? p->last.len : 1);
		}
	}
	PQclear(res);
	/* The keys' values as text, one row per value. */
	res = PQexecParams(tr->book, "SELECT sp.part, k.which, k.v FROM pgcdc.snapshot_part sp "
					   "JOIN pgcdc.snapshot_progress p USING (slot_name, relid) "
					   "CROSS JOIN LATERAL (SELECT 'u', u.v, u.i FROM unnest(sp.upto) WITH ORDINALITY u(v, i) "
					   "  UNION ALL SELECT 'l', l.v, l.i FROM unnest(sp.last_key) WITH ORDINALITY l(v, i)) "
					   "  k(which, v, i) "
					   "WHERE sp.slot_name = $1 AND sp.relid = $2::oid AND sp.requested = p.requested "
					   "ORDER BY sp.part, k.which, k.i", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return tableread_run(tr, res, "reading its parts");
	for (int i = 0; i < PQntuples(res); i++)
	{
		int			no = atoi(PQgetvalue(res, i, 0));
		Key		   *k = NULL;

		for (int j = 0; j < *nparts && k == NULL; j++)
			if ((*parts)[j].no == no)
				k = PQgetvalue(res, i, 1)[0] == 'u' ? &(*parts)[j].upto : &(*parts)[j].last;
		if (k == NULL)
			continue;
		k->values = xrealloc(k->values, (size_t) k->n + 1, sizeof(char *));
		k->values[k->n++] = xstrdup(PQgetvalue(res, i, 2));
	}
	PQclear(res);
	return true;
}

/* The Kafka key of the row whose key columns hold `values` now; *found false when it is gone. */
static bool
row_key(TableRead *tr, char **values, Key *out, bool *found)
{
	Buf			q = {0};
	PGresult   *res;
	char		why[256];

	*found = false;
	buf_printf(&q, "SELECT ");
	tableread_row_select(tr, &q);
	buf_printf(&q, " FROM %s t WHERE ", tr->from);
	key_tuple(&q, &tr->cols);
	buf_printf(&q, " = ");
	key_params(&q, &tr->cols, 1);
	res = PQexecParams(tr->conn, q.data, tr->cols.n, NULL, (const char *const *) values, NULL, NULL,
					   tableread_result_format(tr));
	free(q.data);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return tableread_run(tr, res, "a part's bound");
	if (PQntuples(res) == 1)
	{
		const uint8_t *rec;
		size_t		len;

		if (!tableread_row_record(tr, res, 0, &rec, &len))
		{
			PQclear(res);
			return false;
		}
		if (!record_scan(rec, len, &tr->rec, why, sizeof(why)))
		{
			PQclear(res);
			return tableread_fail(tr, false, "snapshot: malformed READ record: %s", why);
		}
		out->n = tr->cols.n;
		out->values = xcalloc((size_t) out->n, sizeof(char *));
		for (int i = 0; i < out->n; i++)
			out->values[i] = xstrdup(values[i]);
		out->len = record_key(&tr->rec.after, tr->cols.positions, (size_t) tr->cols.n, NULL, 0);
		out->bytes = xmalloc(out->len ? out->len : 1);
		record_key(&tr->rec.after, tr->cols.positions, (size_t) tr->cols.n, out->bytes, out->len);
		*found = true;
	}
	PQclear(res);
	return true;
}

/*
 * The keys that split the table into at most `most` parts of at least
 * PART_MIN_CHUNKS chunks, from a sample of its pages (TABLESAMPLE SYSTEM):
 * equal shares of the sampled keys.  None for a small table.
 */
static bool
split_keys(TableRead *tr, int most, Key **bounds, int *nbounds)
{
	char		relid[16];
	const char *params[1] = {relid};
	PGresult   *res;
	double		pages,
				pct,
				estimate;
	int			sampled,
				nparts;
	Buf			q = {0};

	*bounds = NULL;
	*nbounds = 0;
	snprintf(relid, sizeof(relid), "%u", tr->relid);
	res = PQexecParams(tr->conn, "SELECT pg_catalog.pg_relation_size($1::oid) / "
					   "pg_catalog.current_setting('block_size')::bigint", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return tableread_run(tr, res, "its size");
	pages = strtod(PQgetvalue(res, 0, 0), NULL);
	PQclear(res);
	if (pages < 2)
		return true;
	pct = 100.0 * SAMPLE_PAGES_PER_PART * most / pages;
	if (pct > 100)
		pct = 100;
	buf_printf(&q, "SELECT ");
	for (int i = 0; i < tr->cols.n; i++)
		buf_printf(&q, "%st.%s::text", i ? ", " : "", tr->cols.names[i]);
	buf_printf(&q, " FROM %s t TABLESAMPLE SYSTEM (%.6f)", tr->from, pct);
	if (tr->filter)
		buf_printf(&q, " WHERE (%s)", tr->filter);
	buf_printf(&q, " ORDER BY ");
	for (int i = 0; i < tr->cols.n; i++)
		buf_printf(&q, "%st.%s", i ? ", " : "", tr->cols.names[i]);
	res = PQexec(tr->conn, q.data);
	free(q.data);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return tableread_run(tr, res, "a sample of its keys");
	sampled = PQntuples(res);
	estimate = sampled * 100.0 / pct;
	nparts = (int) (estimate / ((double) PART_MIN_CHUNKS * tr->settings->snapshot_chunk_rows));
	if (nparts > most)
		nparts = most;
	if (nparts > sampled)
		nparts = sampled;
	*bounds = xcalloc((size_t) (nparts > 1 ? nparts : 1), sizeof(Key));
	for (int j = 1; j < nparts; j++)
	{
		int			at = (int) ((long) j * sampled / nparts) - 1;
		char	  **values = xcalloc((size_t) tr->cols.n, sizeof(char *));
		bool		found;
		bool		ok;

		for (int i = 0; i < tr->cols.n; i++)
			values[i] = PQgetvalue(res, at, i);
		ok = row_key(tr, values, &(*bounds)[*nbounds], &found);
		free(values);
		if (!ok)
		{
			PQclear(res);
			return false;
		}
		*nbounds += found;		/* a row deleted since the sample: one part fewer */
	}
	PQclear(res);
	if (*nbounds > 0)
		log_msg(LOG_INFO, "snapshot of %s.%s: about %.0f rows (a sample of %d), read in %d part(s)",
			tr->schema, tr->name, estimate, sampled, *nbounds + 1);
	return true;
}

/* Stores the parts of the table's current request (replacing older ones); *stored false when none is left. */
static bool
store_parts(TableRead *tr, Part *parts, int nparts, bool *stored)
{
	char		relid[16];
	char		no[16];
	PGresult   *res;

	*stored = false;
	snprintf(relid, sizeof(relid), "%u", tr->relid);
	if (!tableread_run(tr, PQexec(tr->book, "BEGIN"), "BEGIN"))
		return false;
	{
		const char *params[2] = {tr->settings->slot_name, relid};

		res = PQexecParams(tr->book, "DELETE FROM pgcdc.snapshot_part WHERE slot_name = $1 AND relid = $2::oid",
						   2, NULL, params, NULL, NULL, 0);
		if (!tableread_run(tr, res, "storing its parts"))
			return false;
	}
	for (int i = 0; i < nparts; i++)
	{
		const Part *p = &parts[i];
		int			n = 5;
		int			total = 5 + p->upto.n + p->last.n;
		const char **params = xcalloc((size_t) total, sizeof(char *));
		int		   *lengths = xcalloc((size_t) total, sizeof(int));
		int		   *formats = xcalloc((size_t) total, sizeof(int));
		Buf			q = {0};

		snprintf(no, sizeof(no), "%d", p->no);
		params[0] = tr->settings->slot_name;
		params[1] = relid;
		params[2] = no;
		params[3] = (const char *) p->upto.bytes;
		lengths[3] = (int) p->upto.len;
		formats[3] = 1;
		params[4] = (const char *) p->last.bytes;
		lengths[4] = (int) p->last.len;
		formats[4] = 1;
		buf_printf(&q, "INSERT INTO pgcdc.snapshot_part (slot_name, relid, part, requested, upto_bytes, "
				   "last_key_bytes, upto, last_key) SELECT $1, $2::oid, $3::int, requested, $4, $5, ");
		key_array(&q, &p->upto, params, &n);
		buf_printf(&q, ", ");
		key_array(&q, &p->last, params, &n);
		buf_printf(&q, " FROM pgcdc.snapshot_progress WHERE slot_name = $1 AND relid = $2::oid AND done IS NULL");
		res = PQexecParams(tr->book, q.data, n, NULL, params, lengths, formats, 0);
		free(q.data);
		free(params);
		free(lengths);
		free(formats);
		if (PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(res), "0") == 0)
		{
			/* The request is gone (stop-snapshot): nothing to read. */
			PQclear(res);
			return tableread_run(tr, PQexec(tr->book, "ROLLBACK"), "ROLLBACK");
		}
		if (!tableread_run(tr, res, "storing its parts"))
			return false;
	}
	*stored = true;
	return tableread_run(tr, PQexec(tr->book, "COMMIT"), "COMMIT");
}

bool
parts_plan(TableRead *tr, int most, Part **parts, int *nparts)
{
	Key		   *bounds = NULL;
	int			nbounds = 0;
	bool		stored;
	int			done = 0;

	if (!load_parts(tr, parts, nparts))
		return false;
	if (*nparts > 0)
	{
		for (int i = 0; i < *nparts; i++)
			done += (*parts)[i].done;
		log_msg(LOG_INFO, "snapshot of %s.%s goes on: %d of its %d part(s) done, the others after their last "
				"acknowledged chunk", tr->schema, tr->name, done, *nparts);
		return true;
	}
	free(*parts);
	*parts = NULL;
	if (!tableread_columns(tr))
		return false;
	if (tr->cols.n > 0 && most > 1 && !split_keys(tr, most, &bounds, &nbounds))
	{
		keys_free(bounds, nbounds);
		return false;
	}
	/* Part i: after bound i - 1, up to bound i; the first from the start, the last to the end. */
	*nparts = nbounds + 1;
	*parts = xcalloc((size_t) *nparts, sizeof(Part));
	for (int i = 0; i < *nparts; i++)
	{
		(*parts)[i].no = i;
		if (i < nbounds)
			(*parts)[i].upto = key_copy(&bounds[i]);
		if (i > 0)
			(*parts)[i].last = key_copy(&bounds[i - 1]);
	}
	keys_free(bounds, nbounds);
	if (!store_parts(tr, *parts, *nparts, &stored))
		return false;
	if (!stored)
	{
		parts_free(*parts, *nparts);
		*parts = NULL;
		*nparts = 0;
	}
	return true;
}

bool
part_save(TableRead *tr, int no, const Key *last, size_t rows)
{
	Buf			q = {0};
	char		relid[16];
	char		nrows[24];
	char		part[16];
	int			total = last->n + 5;
	const char **params = xcalloc((size_t) total, sizeof(char *));
	int		   *lengths = xcalloc((size_t) total, sizeof(int));
	int		   *formats = xcalloc((size_t) total, sizeof(int));
	int			n = 4;
	bool		ok;

	snprintf(relid, sizeof(relid), "%u", tr->relid);
	snprintf(nrows, sizeof(nrows), "%zu", rows);
	snprintf(part, sizeof(part), "%d", no);
	params[0] = tr->settings->slot_name;
	params[1] = relid;
	params[2] = nrows;
	params[3] = part;
	buf_printf(&q, "WITH p AS (UPDATE pgcdc.snapshot_part SET rows = rows + $3::bigint");
	if (last->n > 0)
	{
		buf_printf(&q, ", last_key_bytes = $5, last_key = ");
		params[n] = (const char *) last->bytes;
		lengths[n] = (int) last->len;
		formats[n++] = 1;
		key_array(&q, last, params, &n);
	}
	buf_printf(&q, " WHERE slot_name = $1 AND relid = $2::oid AND part = $4::int) "
			   "UPDATE pgcdc.snapshot_progress SET rows = rows + $3::bigint, chunks = chunks + 1 "
			   "WHERE slot_name = $1 AND relid = $2::oid");
	ok = tableread_run(tr, PQexecParams(tr->book, q.data, n, NULL, params, lengths, formats, 0),
					   "saving its progress");
	free(q.data);
	free(params);
	free(lengths);
	free(formats);
	return ok;
}

bool
part_done(TableRead *tr, int no, bool table)
{
	char		relid[16];
	char		part[16];
	const char *params[4] = {tr->settings->slot_name, relid, part, table ? "true" : "false"};

	snprintf(relid, sizeof(relid), "%u", tr->relid);
	snprintf(part, sizeof(part), "%d", no);
	return tableread_run(tr, PQexecParams(tr->book, "WITH p AS (UPDATE pgcdc.snapshot_part SET done = now() "
										  "WHERE slot_name = $1 AND relid = $2::oid AND part = $3::int) "
										  "UPDATE pgcdc.snapshot_progress SET done = now() "
										  "WHERE slot_name = $1 AND relid = $2::oid AND $4::boolean",
										  4, NULL, params, NULL, NULL, 0),
						 table ? "marking it done" : "marking a part done");
}
