/*
 * snapread.c — one table's chunks read on one connection: each in its own
 * short REPEATABLE READ transaction, in key order between two keys, turned
 * into Kafka values, then its watermark (snapread.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "snapread.h"
#include "snapshot.h"
#include "xalloc.h"

/*
 * Per column of a table (its relid $1) the relation record lists, in attnum
 * order, one line each: how the source orders its values, "" when its
 * type has no collation, else "<provider>:<locale>".  The catalogs differ:
 * PostgreSQL 14 knows only libc (and ICU collations' locale in
 * collcollate), 15 and 16 say ICU locales apart, 17 renames them and adds
 * the builtin provider.
 */
#define COLLATIONS_SQL(dat_provider, dat_icu, coll_icu) \
	"(SELECT coalesce(string_agg(CASE WHEN a.attcollation = 0 THEN '' " \
	"  WHEN a.attcollation = 100 THEN (SELECT " dat_provider "::text || ':' || CASE " dat_provider " " \
	"    WHEN 'c' THEN d.datcollate ELSE " dat_icu " END FROM pg_catalog.pg_database d " \
	"    WHERE d.datname = pg_catalog.current_database()) " \
	"  ELSE (SELECT c.collprovider::text || ':' || CASE c.collprovider WHEN 'c' THEN c.collcollate " \
	"    ELSE " coll_icu " END FROM pg_catalog.pg_collation c WHERE c.oid = a.attcollation) END, " \
	"  E'\\n' ORDER BY a.attnum), '') FROM pg_catalog.pg_attribute a " \
	"  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')"

static const char *
collations_sql(PGconn *conn)
{
	int			version = PQserverVersion(conn);

	if (version >= 170000)
		return COLLATIONS_SQL("d.datlocprovider", "d.datlocale", "c.colllocale");
	if (version >= 150000)
		return COLLATIONS_SQL("d.datlocprovider", "d.daticulocale", "c.colliculocale");
	return COLLATIONS_SQL("'c'", "d.datcollate", "c.collcollate");
}

void
key_free(Key *k)
{
	for (int i = 0; i < k->n; i++)
		free(k->values[i]);
	free(k->values);
	free(k->bytes);
	memset(k, 0, sizeof(*k));
}

Key
key_copy(const Key *k)
{
	Key			c = {NULL, k->n, NULL, k->len};

	if (k->n > 0)
	{
		c.values = xcalloc((size_t) k->n, sizeof(char *));
		for (int i = 0; i < k->n; i++)
			c.values[i] = xstrdup(k->values[i]);
	}
	if (k->bytes != NULL)
		c.bytes = xmemdup(k->bytes, k->len ? k->len : 1);
	return c;
}

static void
cols_free(KeyCols *c)
{
	for (int i = 0; i < c->n; i++)
	{
		PQfreemem(c->names[i]);
		free(c->types[i]);
		free(c->collations[i]);
	}
	free(c->names);
	free(c->types);
	free(c->collations);
	free(c->positions);
	memset(c, 0, sizeof(*c));
}

void
tableread_init(TableRead *tr, const Settings *s, SnapWatch *w, atomic_bool *stop, PGconn *conn,
			   PGconn *book, uint32_t relid, const char *schema, const char *name, bool partitioned,
			   const char *filter)
{
	char	   *qs = PQescapeIdentifier(conn, schema, strlen(schema));
	char	   *qn = PQescapeIdentifier(conn, name, strlen(name));

	memset(tr, 0, sizeof(*tr));
	tr->settings = s;
	tr->watch = w;
	tr->stop = stop;
	tr->conn = conn;
	tr->book = book;
	tr->relid = relid;
	tr->schema = schema;
	tr->name = name;
	tr->filter = filter;
	tr->own_rows = s->plugin == PLUGIN_PGOUTPUT;
	tr->qname = xmalloc(strlen(qs) + strlen(qn) + 2);
	sprintf(tr->qname, "%s.%s", qs, qn);
	/* A plain table without the tables that inherit from it; a partitioned one with its partitions. */
	tr->from = xmalloc(strlen(tr->qname) + 6);
	sprintf(tr->from, "%s%s", partitioned ? "" : "ONLY ", tr->qname);
	PQfreemem(qs);
	PQfreemem(qn);
	record_init(&tr->rec);
}

void
tableread_free(TableRead *tr)
{
	cols_free(&tr->cols);
	record_free(&tr->rec);
	pgcatalog_release(&tr->desc);
	buf_free(&tr->row);
	free(tr->qname);
	tr->qname = NULL;
	free(tr->from);
	tr->from = NULL;
}

bool
tableread_fail(TableRead *tr, bool fatal, const char *fmt,...)
{
	va_list		ap;
	size_t		n;

	va_start(ap, fmt);
	vsnprintf(tr->err, sizeof(tr->err), fmt, ap);
	va_end(ap);
	n = strlen(tr->err);
	while (n > 0 && tr->err[n - 1] == '\n')
		tr->err[--n] = '\0';
	tr->fatal = fatal;
	return false;
}

static bool lock_on_primary(TableRead *tr);

bool
tableread_run(TableRead *tr, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	bool		ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	/* The result's own error: the statement may have run on book. */
	if (!ok)
		tableread_fail(tr, false, "snapshot of %s.%s: %s: %s", tr->schema, tr->name, what,
					   res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) :
					   PQstatus(tr->book) != CONNECTION_OK ? PQerrorMessage(tr->book) : PQerrorMessage(tr->conn));
	PQclear(res);
	return ok;
}

/* A Column's name and type_name (fields 1 and 3). */
static bool
column_name_type(Span column, char **name, char **type)
{
	size_t		at = 0;
	RecordField f;

	*name = *type = NULL;
	while (record_next_field(column.data, column.len, &at, &f))
	{
		if (f.wire != 2)
			continue;
		if (f.number == 1)
		{
			free(*name);
			*name = xstrndup((const char *) f.payload.data, f.payload.len);
		}
		else if (f.number == 3)
		{
			free(*type);
			*type = xstrndup((const char *) f.payload.data, f.payload.len);
		}
	}
	return *name != NULL && *type != NULL;
}

/* The key columns of a RELATION record (none: a table without a key), with their collations (one line per column). */
static bool
key_columns(TableRead *tr, const uint8_t *relation, size_t len, const char *collations)
{
	char		why[256];
	const char *line = collations;
	KeyCols    *kc = &tr->cols;

	cols_free(kc);
	if (!record_scan(relation, len, &tr->rec, why, sizeof(why)))
		return tableread_fail(tr, false, "snapshot: bad relation record of %s.%s: %s", tr->schema, tr->name, why);
	for (size_t i = 0; i < tr->rec.columns.n; i++)
	{
		char	   *name,
				   *type;
		size_t		linelen = line ? strcspn(line, "\n") : 0;
		const char *this_line = line;

		if (line != NULL)
			line = line[linelen] ? line + linelen + 1 : NULL;
		if (!record_column_is_key(tr->rec.columns.items[i]))
			continue;
		if (!column_name_type(tr->rec.columns.items[i], &name, &type))
		{
			free(name);
			free(type);
			return tableread_fail(tr, false, "snapshot: bad column in the relation record of %s.%s",
								  tr->schema, tr->name);
		}
		kc->names = xrealloc(kc->names, (size_t) kc->n + 1, sizeof(char *));
		kc->types = xrealloc(kc->types, (size_t) kc->n + 1, sizeof(char *));
		kc->collations = xrealloc(kc->collations, (size_t) kc->n + 1, sizeof(char *));
		kc->collations[kc->n] = this_line ? xstrndup(this_line, linelen) : xstrdup("");
		kc->positions = xrealloc(kc->positions, (size_t) kc->n + 1, sizeof(uint32_t));
		kc->names[kc->n] = PQescapeIdentifier(tr->conn, name, strlen(name));
		kc->types[kc->n] = type;
		kc->positions[kc->n] = (uint32_t) i;
		kc->n++;
		free(name);
	}
	return true;
}

/*
 * The table's relation record and its key columns, as the open
 * transaction sees it; with c, also the transaction's snapshot, handed to
 * the stream's watcher, and the relation record, the chunk's.
 */
static bool
describe(TableRead *tr, Chunk *c)
{
	char		relid[16];
	const char *params[1] = {relid};
	Buf			q = {0};
	PGresult   *res;
	const uint8_t *relation;
	size_t		relation_len;
	bool		ok;

	snprintf(relid, sizeof(relid), "%u", tr->relid);
	buf_printf(&q, "SELECT %s, pg_catalog.pg_current_snapshot()::text, pg_catalog.current_database(), "
			   "(extract(epoch FROM pg_catalog.transaction_timestamp()) * 1000000)::int8::text, %s",
			   tr->own_rows ? "NULL::bytea" : "pgcdc.relation_record($1::oid::regclass)",
			   collations_sql(tr->conn));
	res = PQexecParams(tr->conn, q.data, 1, NULL, params, NULL, NULL, 1);
	buf_free(&q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return tableread_run(tr, res, c ? "the chunk's snapshot" : "its columns");
	if (tr->own_rows)
	{
		snprintf(tr->database, sizeof(tr->database), "%s", PQgetvalue(res, 0, 2));
		tr->read_ts = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		pgcatalog_release(&tr->desc);
		if (!pgcatalog_describe(tr->conn, tr->database, tr->relid, NULL, &tr->desc, tr->err, sizeof(tr->err)))
		{
			PQclear(res);
			tr->fatal = false;
			return false;
		}
		relation = tr->desc.record;
		relation_len = tr->desc.record_len;
	}
	else
	{
		relation = (const uint8_t *) PQgetvalue(res, 0, 0);
		relation_len = (size_t) PQgetlength(res, 0, 0);
	}
	if (c != NULL)
	{
		XidSnapshot xs;

		if (!xidsnap_parse(PQgetvalue(res, 0, 1), &xs))
		{
			tableread_fail(tr, false, "snapshot: unreadable pg_current_snapshot(): %s", PQgetvalue(res, 0, 1));
			PQclear(res);
			return false;
		}
		snapwatch_snapshot(tr->watch, c, &xs);
		c->relation_len = relation_len;
		c->relation = xmemdup(relation, relation_len);
	}
	ok = key_columns(tr, relation, relation_len, PQgetvalue(res, 0, 4));
	PQclear(res);
	return ok;
}

bool
tableread_columns(TableRead *tr)
{
	return describe(tr, NULL);
}

void
tableread_row_select(TableRead *tr, Buf *q)
{
	if (!tr->own_rows)
	{
		buf_puts(q, "pgcdc.read_record(t.*)");
		return;
	}
	for (size_t i = 0; i < tr->desc.ncolumns; i++)
	{
		buf_puts(q, i ? ", t.\"" : "t.\"");
		for (const char *p = tr->desc.names[i]; *p; p++)
		{
			if (*p == '"')
				buf_putc(q, '"');
			buf_putc(q, *p);
		}
		buf_puts(q, "\"");
	}
}

int
tableread_row_width(const TableRead *tr)
{
	return tr->own_rows ? (int) tr->desc.ncolumns : 1;
}

int
tableread_result_format(const TableRead *tr)
{
	return tr->own_rows ? 0 : 1;
}

bool
tableread_row_record(TableRead *tr, const PGresult *res, int row, const uint8_t **rec, size_t *len)
{
	if (!tr->own_rows)
	{
		*rec = (const uint8_t *) PQgetvalue(res, row, 0);
		*len = (size_t) PQgetlength(res, row, 0);
		return true;
	}
	tr->row.len = 0;
	if (!pgcatalog_read_record(&tr->desc, tr->database, tr->read_ts, res, row, 0, &tr->row, tr->err,
							   sizeof(tr->err)))
	{
		tr->fatal = false;
		return false;
	}
	*rec = (const uint8_t *) tr->row.data;
	*len = tr->row.len;
	return true;
}

void
key_tuple(Buf *q, const KeyCols *kc)
{
	buf_printf(q, "(");
	for (int i = 0; i < kc->n; i++)
		buf_printf(q, "%st.%s", i ? ", " : "", kc->names[i]);
	buf_printf(q, ")");
}

void
key_params(Buf *q, const KeyCols *kc, int first)
{
	buf_printf(q, "(");
	for (int i = 0; i < kc->n; i++)
		buf_printf(q, "%s$%d::%s", i ? ", " : "", first + i, kc->types[i]);
	buf_printf(q, ")");
}

/*
 * The chunk's query: its rows in key order with their keys as text; from:
 * after the key in the first parameters (else from the start); upto: up to
 * the key in the next ones, inclusive (else to the end).
 */
static char *
chunk_query(TableRead *tr, bool from, bool upto)
{
	Buf			q = {0};

	buf_printf(&q, "DECLARE pgcdc_chunk NO SCROLL CURSOR FOR SELECT ");
	tableread_row_select(tr, &q);
	for (int i = 0; i < tr->cols.n; i++)
		buf_printf(&q, ", t.%s::text", tr->cols.names[i]);
	buf_printf(&q, " FROM %s t WHERE true", tr->from);
	if (tr->filter)
		buf_printf(&q, " AND (%s)", tr->filter);
	if (from)
	{
		buf_printf(&q, " AND ");
		key_tuple(&q, &tr->cols);
		buf_printf(&q, " > ");
		key_params(&q, &tr->cols, 1);
	}
	if (upto)
	{
		buf_printf(&q, " AND ");
		key_tuple(&q, &tr->cols);
		buf_printf(&q, " <= ");
		key_params(&q, &tr->cols, from ? tr->cols.n + 1 : 1);
	}
	if (tr->cols.n > 0)
	{
		buf_printf(&q, " ORDER BY ");
		for (int i = 0; i < tr->cols.n; i++)
			buf_printf(&q, "%st.%s", i ? ", " : "", tr->cols.names[i]);
	}
	return q.data;
}

/* Rows of avg bytes in one fetch: a quarter of a chunk's bytes' worth, 1 to most. */
static size_t
fetch_rows(size_t avg, size_t most)
{
	size_t		n = (SNAPSHOT_CHUNK_BYTES / 4) / (avg ? avg : 1);

	return n < 1 ? 1 : n > most ? most : n;
}

/* One fetched row into the chunk's arena: its READ record without a position, and its key. */
static bool
add_row(TableRead *tr, Chunk *c, const uint8_t *row, size_t len)
{
	uint8_t    *key = NULL;
	uint8_t    *rec;
	size_t		keylen = 0;
	char		why[256];

	if (!record_scan(row, len, &tr->rec, why, sizeof(why)))
		return tableread_fail(tr, false, "snapshot: malformed READ record: %s", why);
	if (!c->keyless)
	{
		keylen = record_key(&tr->rec.after, tr->cols.positions, (size_t) tr->cols.n, NULL, 0);
		key = chunk_alloc(c, keylen);
		record_key(&tr->rec.after, tr->cols.positions, (size_t) tr->cols.n, key, keylen);
	}
	rec = chunk_alloc(c, len);
	chunk_add_row(c, rec, record_without_position(row, len, rec), key, keylen);
	return true;
}

bool
tableread_chunk(TableRead *tr, Chunk *c, const Key *from, const Key *upto, Key *last, bool *full, bool lock)
{
	size_t		rows_cap = (size_t) tr->settings->snapshot_chunk_rows;
	size_t		fetch = rows_cap < (size_t) tr->settings->snapshot_fetch_size ? rows_cap :
		(size_t) tr->settings->snapshot_fetch_size;
	size_t		cap_bytes;
	bool		use_from,
				use_upto;
	const char **params;
	char	   *sql;
	PGresult   *res;

	*full = false;
	/* On a standby the lock is the primary's, held until the standby has replayed past it. */
	if (lock && tr->book != tr->conn && !lock_on_primary(tr))
		return false;
	if (!tableread_run(tr, PQexec(tr->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ"), "BEGIN"))
		return false;
	/* A table without a key, changed under its last reads: writers wait while it is read. */
	if (lock && tr->book == tr->conn)
	{
		Buf			q = {0};

		buf_printf(&q, "LOCK TABLE %s IN SHARE MODE", tr->from);
		res = PQexec(tr->conn, q.data);
		free(q.data);
		if (!tableread_run(tr, res, "LOCK TABLE"))
			return false;
	}
	/* The chunk's first statement, which takes its snapshot. */
	if (!describe(tr, c))
		return false;
	c->keyless = tr->cols.n == 0;
	c->partial = tr->filter != NULL;
	if (c->keyless && c->partial)
	{
		log_msg(LOG_WARNING, "snapshot of %s.%s: a table without a key is read whole or not at all: "
				"the filter \"%s\" leaves nothing to read", tr->schema, tr->name, tr->filter);
		if (lock && tr->book != tr->conn && !tableread_run(tr, PQexec(tr->book, "COMMIT"), "COMMIT"))
			return false;
		return tableread_run(tr, PQexec(tr->conn, "COMMIT"), "COMMIT");
	}
	c->ncollations = (size_t) tr->cols.n;
	c->collations = xcalloc(c->ncollations ? c->ncollations : 1, sizeof(char *));
	for (int i = 0; i < tr->cols.n; i++)
		c->collations[i] = xstrdup(tr->cols.collations[i]);
	/* Bounds of another key (it changed since they were read) are ignored: from the start, to the end. */
	use_from = from->n > 0 && from->n == tr->cols.n && from->bytes != NULL;
	use_upto = upto->n > 0 && upto->n == tr->cols.n && upto->bytes != NULL;
	if (use_from)
	{
		c->after = xmemdup(from->bytes, from->len ? from->len : 1);
		c->after_len = from->len;
	}
	cap_bytes = c->keyless ? SNAPSHOT_KEYLESS_BYTES : SNAPSHOT_CHUNK_BYTES;
	if (c->keyless)
		rows_cap = SIZE_MAX;

	params = xcalloc((size_t) tr->cols.n * 2 + 1, sizeof(char *));
	for (int i = 0; use_from && i < from->n; i++)
		params[i] = from->values[i];
	for (int i = 0; use_upto && i < upto->n; i++)
		params[(use_from ? from->n : 0) + i] = upto->values[i];
	sql = chunk_query(tr, use_from, use_upto);
	res = PQexecParams(tr->conn, sql, (use_from ? from->n : 0) + (use_upto ? upto->n : 0), NULL, params,
					   NULL, NULL, 0);
	free(sql);
	free(params);
	if (!tableread_run(tr, res, "DECLARE"))
		return false;
	while (c->nrows < rows_cap)
	{
		char		cmd[64];
		int			n;
		size_t		bytes = 0;

		snprintf(cmd, sizeof(cmd), "FETCH %zu FROM pgcdc_chunk",
				 fetch < rows_cap - c->nrows ? fetch : rows_cap - c->nrows);
		res = PQexecParams(tr->conn, cmd, 0, NULL, NULL, NULL, NULL, tableread_result_format(tr));
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return tableread_run(tr, res, "FETCH");
		if ((n = PQntuples(res)) == 0)
		{
			PQclear(res);
			break;
		}
		for (int i = 0; i < n; i++)
		{
			const uint8_t *row;
			size_t		len;

			if (!tableread_row_record(tr, res, i, &row, &len) || !add_row(tr, c, row, len))
			{
				PQclear(res);
				return false;
			}
			bytes += len;
		}
		if (!c->keyless)
		{
			const ChunkRow *lr = &c->rows[c->nrows - 1];

			key_free(last);
			last->n = tr->cols.n;
			last->values = xcalloc((size_t) tr->cols.n, sizeof(char *));
			for (int k = 0; k < tr->cols.n; k++)
				last->values[k] = xstrdup(PQgetvalue(res, n - 1, tableread_row_width(tr) + k));
			last->bytes = xmemdup(lr->key, lr->keylen ? lr->keylen : 1);
			last->len = lr->keylen;
			for (size_t k = c->nrows - (size_t) n; k < c->nrows; k++)
				c->key_bytes += c->rows[k].keylen;
		}
		PQclear(res);
		fetch = fetch_rows(bytes / (size_t) n, (size_t) tr->settings->snapshot_fetch_size);
		if (c->bytes >= cap_bytes || c->key_bytes >= SNAPSHOT_KEEP_BYTES)
		{
			if (c->keyless)
				return tableread_fail(tr, true, "snapshot of %s.%s: the table has no key (no primary key or "
									  "replica identity index), so it is read in one piece, and it is larger "
									  "than %d MB. Give it a primary key, or exclude it (exclude.tables)",
									  tr->schema, tr->name, SNAPSHOT_KEYLESS_BYTES >> 20);
			break;
		}
		if (atomic_load(tr->stop))
			return tableread_fail(tr, false, "stopped");
	}
	*full = !c->keyless && (c->nrows >= rows_cap || c->bytes >= cap_bytes || c->key_bytes >= SNAPSHOT_KEEP_BYTES);
	/* The range ends at its last row when more follows, else where the part ends (NULL: the table's end). */
	if (*full)
	{
		c->last = xmemdup(last->bytes, last->len ? last->len : 1);
		c->last_len = last->len;
	}
	else if (use_upto)
	{
		c->last = xmemdup(upto->bytes, upto->len ? upto->len : 1);
		c->last_len = upto->len;
	}
	if (!tableread_run(tr, PQexec(tr->conn, "CLOSE pgcdc_chunk"), "CLOSE"))
		return false;
	/* Locked: the watermark before the lock goes, so no writer commits between the two. */
	if (lock)
	{
		snapwatch_submit(tr->watch, c);
		if (!tableread_watermark(tr, c, true))
			return false;
		if (tr->book != tr->conn && !tableread_run(tr, PQexec(tr->book, "COMMIT"), "COMMIT"))
			return false;
	}
	return tableread_run(tr, PQexec(tr->conn, "COMMIT"), "COMMIT");
}

/*
 * A table without a key read on a standby: the SHARE lock taken on the
 * primary (book), in a transaction left open for the watermark; then the
 * standby waits until it has replayed the primary's WAL as of the lock, so
 * that what it reads is what the lock holds still.
 */
static bool
lock_on_primary(TableRead *tr)
{
	Buf			q = {0};
	PGresult   *res;
	char		lsn[64];
	const char *params[1] = {lsn};
	int64_t		waited = 0;

	buf_printf(&q, "BEGIN; LOCK TABLE %s IN SHARE MODE; SELECT pg_catalog.pg_current_wal_lsn()::text",
			   tr->from);
	res = PQexec(tr->book, q.data);
	free(q.data);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return tableread_run(tr, res, "LOCK TABLE on the primary");
	snprintf(lsn, sizeof(lsn), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	while (!atomic_load(tr->stop))
	{
		res = PQexecParams(tr->conn, "SELECT pg_catalog.pg_last_wal_replay_lsn() >= $1::pg_lsn", 1, NULL,
						   params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return tableread_run(tr, res, "the standby's replay position");
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		{
			PQclear(res);
			return true;
		}
		PQclear(res);
		if (waited % 10000 == 0 && waited > 0)
			log_msg(LOG_INFO, "snapshot of %s.%s waits for the standby to replay %s", tr->schema, tr->name, lsn);
		snapwatch_wait(tr->watch, 10);
		waited += 10;
	}
	return tableread_fail(tr, false, "stopped");
}

bool
tableread_watermark(TableRead *tr, const Chunk *c, bool in_txn)
{
	char		sql[512];

	/*
	 * In a transaction whose commit is flushed at once (this session's
	 * others are not waited for), so the stream sees it at once.  The
	 * content is the slot's name (a-z, 0-9, _) and a number.
	 */
	snprintf(sql, sizeof(sql), "%sSET LOCAL synchronous_commit = on; "
			 "SELECT pg_catalog.pg_logical_emit_message(true, '" SNAPWATCH_PREFIX "', '%s/%" PRIu64 "')%s",
			 in_txn ? "" : "BEGIN; ", tr->settings->slot_name, c->id, in_txn ? "" : "; COMMIT");
	return tableread_run(tr, PQexec(tr->book, sql), "the chunk's watermark (pg_logical_emit_message)");
}

bool
tableread_await_pending(TableRead *tr)
{
	int64_t		waited = 0;

	while (!atomic_load(tr->stop))
	{
		PGresult   *res = PQexec(tr->conn, "SELECT pg_catalog.pg_current_snapshot()::text");
		XidSnapshot xs;
		size_t		n;

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return tableread_run(tr, res, "pg_current_snapshot()");
		if (!xidsnap_parse(PQgetvalue(res, 0, 0), &xs))
		{
			tableread_fail(tr, false, "snapshot: unreadable pg_current_snapshot(): %s", PQgetvalue(res, 0, 0));
			PQclear(res);
			return false;
		}
		PQclear(res);
		n = snapwatch_pending(tr->watch, &xs);
		xidsnap_free(&xs);
		if (n == 0)
			return true;
		if (waited % 10000 == 0)
			log_msg(LOG_INFO, "snapshot of %s.%s waits for %zu transaction(s) committed but not yet visible",
					tr->schema, tr->name, n);
		snapwatch_wait(tr->watch, 20);
		waited += 20;
	}
	return tableread_fail(tr, false, "stopped");
}
