/*
 * snapshot.c — tables read in chunks by key while the stream goes on, and
 * their progress on the source (snapshot.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "record.h"
#include "snapshot.h"
#include "xalloc.h"

/*
 * Per column of a table (its relid $1), in attnum order, one line each: how
 * the source orders its values, "" when its type has no collation, else
 * "<provider>:<locale>" (PostgreSQL 15's catalogs).
 */
#define COLLATIONS_SQL \
	"(SELECT coalesce(string_agg(CASE WHEN a.attcollation = 0 THEN '' " \
	"  WHEN a.attcollation = 100 THEN (SELECT d.datlocprovider::text || ':' || CASE d.datlocprovider " \
	"    WHEN 'i' THEN d.daticulocale ELSE d.datcollate END FROM pg_catalog.pg_database d " \
	"    WHERE d.datname = pg_catalog.current_database()) " \
	"  ELSE (SELECT c.collprovider::text || ':' || CASE c.collprovider WHEN 'i' THEN c.colliculocale " \
	"    ELSE c.collcollate END FROM pg_catalog.pg_collation c WHERE c.oid = a.attcollation) END, " \
	"  E'\\n' ORDER BY a.attnum), '') FROM pg_catalog.pg_attribute a " \
	"  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped)"

/* Chunks of one worker read but not yet acknowledged, at most (placed, they hold no rows)... */
#define IN_FLIGHT 6
/* ...of them not yet placed, holding their rows, at most. */
#define UNPLACED 2

typedef struct Table
{
	uint32_t	relid;
	char	   *schema;
	char	   *name;
	char	   *filter;			/* NULL: every row */
	MetricCell *m_rows;
	MetricCell *m_chunks;
	MetricCell *m_estimated;
} Table;

struct Snapshot
{
	const Settings *settings;
	SnapWatch  *watch;
	Metrics    *metrics;

	pthread_mutex_t lock;
	Table	   *tables;
	size_t		ntables;
	size_t		next_table;
	int			nworkers;
	pthread_t  *threads;
	int			finished;
	int			done_tables;
	char		error[1024];	/* first failure */
	bool		fatal;

	atomic_bool stop;
	atomic_uint_fast64_t flushed;
	atomic_uint_fast64_t rows;

	MetricCell *m_rows;
	MetricCell *m_tables_done;
	MetricCell *m_tables_total;
};

/* A key's values as text, the key columns' names and types: a chunk's bound. */
typedef struct Key
{
	char	  **values;
	int			n;
	uint8_t    *bytes;			/* as a Kafka key (proto Key) */
	size_t		len;
} Key;

/* A table's key columns, as its RELATION record says. */
typedef struct KeyCols
{
	char	  **names;			/* quoted identifiers */
	char	  **types;			/* format_type() */
	uint32_t   *positions;		/* in the row image */
	int			n;
	char	  **collations;		/* how the source orders each ("" when not collatable) */
} KeyCols;

/* A chunk read and handed to the stream, not yet acknowledged. */
typedef struct Flight
{
	Chunk	   *chunk;
	Key			from;			/* the chunk's rows are after this key */
	Key			last;			/* its last row's key */
} Flight;

/* What one worker knows of the table it reads. */
typedef struct Reader
{
	Snapshot   *snap;
	PGconn	   *conn;
	Table	   *t;
	char	   *qname;			/* schema.table, quoted */
	Key			last;			/* the last key read (sent to the stream) */
	KeyCols		cols;
	Flight		flights[IN_FLIGHT];
	int			nflights;
	int			keyless_spoiled;	/* reads of a keyless table the table changed under */
	Record		rec;
} Reader;

__attribute__((format(printf, 3, 4)))
static void
fail_as(Snapshot *snap, bool fatal, const char *fmt,...)
{
	pthread_mutex_lock(&snap->lock);
	if (snap->error[0] == '\0')
	{
		size_t		n;
		va_list		ap;

		snap->fatal = fatal;
		va_start(ap, fmt);
		vsnprintf(snap->error, sizeof(snap->error), fmt, ap);
		va_end(ap);
		n = strlen(snap->error);
		while (n > 0 && snap->error[n - 1] == '\n')
			snap->error[--n] = '\0';
	}
	pthread_mutex_unlock(&snap->lock);
	atomic_store(&snap->stop, true);
}

#define fail(snap, ...) fail_as((snap), false, __VA_ARGS__)

static void
key_free(Key *k)
{
	for (int i = 0; i < k->n; i++)
		free(k->values[i]);
	free(k->values);
	free(k->bytes);
	memset(k, 0, sizeof(*k));
}

static Key
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

static PGconn *
connect_source(Snapshot *snap, const char *what)
{
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *values[] = {"10", snap->settings->source, "walstreamer snapshot", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *masked = config_mask_pqerror(snap->settings->source, PQerrorMessage(conn));

		fail(snap, "snapshot: cannot connect to the source %s: %s", what, masked ? masked : "(message withheld)");
		free(masked);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Runs a statement expecting cmd status ok (COMMAND_OK or TUPLES_OK); false after fail(). */
static bool
run(Reader *r, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	bool		ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		fail(r->snap, "snapshot of %s.%s: %s: %s", r->t->schema, r->t->name, what, PQerrorMessage(r->conn));
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

/* The key columns of the chunk's RELATION record (none: a table without a key), with their collations (one line per column). */
static bool
key_columns(Reader *r, const Chunk *c, const char *collations)
{
	char		why[256];
	const char *line = collations;

	cols_free(&r->cols);
	if (!record_scan(c->relation, c->relation_len, &r->rec, why, sizeof(why)))
	{
		fail(r->snap, "snapshot: bad relation record of %s.%s: %s", r->t->schema, r->t->name, why);
		return false;
	}
	for (size_t i = 0; i < r->rec.columns.n; i++)
	{
		char	   *name,
				   *type;
		size_t		linelen = line ? strcspn(line, "\n") : 0;
		const char *this_line = line;

		if (line != NULL)
			line = line[linelen] ? line + linelen + 1 : NULL;
		if (!record_column_is_key(r->rec.columns.items[i]))
			continue;
		if (!column_name_type(r->rec.columns.items[i], &name, &type))
		{
			free(name);
			free(type);
			fail(r->snap, "snapshot: bad column in the relation record of %s.%s", r->t->schema, r->t->name);
			return false;
		}
		r->cols.names = xrealloc(r->cols.names, (size_t) r->cols.n + 1, sizeof(char *));
		r->cols.types = xrealloc(r->cols.types, (size_t) r->cols.n + 1, sizeof(char *));
		r->cols.collations = xrealloc(r->cols.collations, (size_t) r->cols.n + 1, sizeof(char *));
		r->cols.collations[r->cols.n] = this_line ? xstrndup(this_line, linelen) : xstrdup("");
		r->cols.positions = xrealloc(r->cols.positions, (size_t) r->cols.n + 1, sizeof(uint32_t));
		r->cols.names[r->cols.n] = PQescapeIdentifier(r->conn, name, strlen(name));
		r->cols.types[r->cols.n] = type;
		r->cols.positions[r->cols.n] = (uint32_t) i;
		r->cols.n++;
		free(name);
	}
	return true;
}

/* The chunk's query: its rows after r->last in key order, with their keys as text. */
static char *
chunk_query(Reader *r)
{
	Buf			q = {0};

	buf_printf(&q, "DECLARE pgcdc_chunk NO SCROLL CURSOR FOR SELECT pgcdc.read_record(t.*)");
	for (int i = 0; i < r->cols.n; i++)
		buf_printf(&q, ", t.%s::text", r->cols.names[i]);
	buf_printf(&q, " FROM ONLY %s t WHERE true", r->qname);
	if (r->t->filter)
		buf_printf(&q, " AND (%s)", r->t->filter);
	if (r->last.n > 0 && r->last.n == r->cols.n)
	{
		buf_printf(&q, " AND (");
		for (int i = 0; i < r->cols.n; i++)
			buf_printf(&q, "%st.%s", i ? ", " : "", r->cols.names[i]);
		buf_printf(&q, ") > (");
		for (int i = 0; i < r->cols.n; i++)
			buf_printf(&q, "%s$%d::%s", i ? ", " : "", i + 1, r->cols.types[i]);
		buf_printf(&q, ")");
	}
	if (r->cols.n > 0)
	{
		buf_printf(&q, " ORDER BY ");
		for (int i = 0; i < r->cols.n; i++)
			buf_printf(&q, "%st.%s", i ? ", " : "", r->cols.names[i]);
	}
	return q.data;
}

static bool watermark(Reader *r, const Chunk *c, bool in_txn);

/* Rows of avg bytes in one fetch: a quarter of a chunk's bytes' worth, 1 to most. */
static size_t
fetch_rows(size_t avg, size_t most)
{
	size_t		n = (SNAPSHOT_CHUNK_BYTES / 4) / (avg ? avg : 1);

	return n < 1 ? 1 : n > most ? most : n;
}

/*
 * Reads the next chunk into c (its snapshot, relation and rows); sets *full
 * when it stopped at its size, so that more may follow.  False after fail().
 */
static bool
read_chunk(Reader *r, Chunk *c, Key *last, bool *full, bool lock)
{
	Snapshot   *snap = r->snap;
	const char *relid_param[1];
	char		relid[16];
	char	   *sql;
	PGresult   *res;
	XidSnapshot xs;
	size_t		rows_cap = (size_t) snap->settings->snapshot_chunk_rows;
	size_t		fetch = rows_cap < (size_t) snap->settings->snapshot_fetch_size ? rows_cap :
		(size_t) snap->settings->snapshot_fetch_size;
	size_t		cap_bytes;
	size_t		keybytes;

	*full = false;
	snprintf(relid, sizeof(relid), "%u", r->t->relid);
	relid_param[0] = relid;
	if (!run(r, PQexec(r->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ"), "BEGIN"))
		return false;
	/* A table without a key, changed under its last reads: writers wait while it is read. */
	if (lock)
	{
		char	   *sql = xmalloc(strlen(r->qname) + 64);

		sprintf(sql, "LOCK TABLE ONLY %s IN SHARE MODE", r->qname);
		res = PQexec(r->conn, sql);
		free(sql);
		if (!run(r, res, "LOCK TABLE"))
			return false;
	}
	/* The first statement takes the transaction's snapshot: the chunk's. */
	res = PQexecParams(r->conn, "SELECT pg_catalog.pg_current_snapshot()::text, "
					   "pgcdc.relation_record($1::oid::regclass), " COLLATIONS_SQL,
					   1, NULL, relid_param, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return run(r, res, "the chunk's snapshot");
	if (!xidsnap_parse(PQgetvalue(res, 0, 0), &xs))
	{
		fail(snap, "snapshot: unreadable pg_current_snapshot(): %s", PQgetvalue(res, 0, 0));
		PQclear(res);
		return false;
	}
	snapwatch_snapshot(snap->watch, c, &xs);
	c->relation_len = (size_t) PQgetlength(res, 0, 1);
	c->relation = xmemdup(PQgetvalue(res, 0, 1), c->relation_len);
	if (!key_columns(r, c, PQgetvalue(res, 0, 2)))
	{
		PQclear(res);
		return false;
	}
	PQclear(res);
	c->keyless = r->cols.n == 0;
	c->partial = r->t->filter != NULL;
	if (c->keyless && c->partial)
	{
		log_msg(LOG_WARNING, "snapshot of %s.%s: a table without a key is read whole or not at all: "
				"the filter \"%s\" leaves nothing to read", r->t->schema, r->t->name, r->t->filter);
		*full = false;
		return run(r, PQexec(r->conn, "COMMIT"), "COMMIT");
	}
	c->ncollations = (size_t) r->cols.n;
	c->collations = xcalloc(c->ncollations ? c->ncollations : 1, sizeof(char *));
	for (int i = 0; i < r->cols.n; i++)
		c->collations[i] = xstrdup(r->cols.collations[i]);
	if (r->last.bytes != NULL && r->last.n == r->cols.n)
	{
		c->after = xmemdup(r->last.bytes, r->last.len ? r->last.len : 1);
		c->after_len = r->last.len;
	}
	cap_bytes = c->keyless ? SNAPSHOT_KEYLESS_BYTES : SNAPSHOT_CHUNK_BYTES;
	if (c->keyless)
		rows_cap = SIZE_MAX;
	if (r->last.n != r->cols.n)
		key_free(&r->last);		/* the key changed: from the start */

	sql = chunk_query(r);
	res = PQexecParams(r->conn, sql, r->last.n, NULL, (const char *const *) r->last.values, NULL, NULL, 0);
	free(sql);
	if (!run(r, res, "DECLARE"))
		return false;
	while (c->nrows < rows_cap)
	{
		char		cmd[64];
		int			n;
		size_t		bytes = 0;

		snprintf(cmd, sizeof(cmd), "FETCH %zu FROM pgcdc_chunk",
				 fetch < rows_cap - c->nrows ? fetch : rows_cap - c->nrows);
		res = PQexecParams(r->conn, cmd, 0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return run(r, res, "FETCH");
		if ((n = PQntuples(res)) == 0)
		{
			PQclear(res);
			break;
		}
		for (int i = 0; i < n; i++)
		{
			const uint8_t *row = (const uint8_t *) PQgetvalue(res, i, 0);
			size_t		len = (size_t) PQgetlength(res, i, 0);
			uint8_t    *key = NULL;
			uint8_t    *value;
			size_t		keylen = 0;
			char		why[256];

			bytes += len;
			if (!record_scan(row, len, &r->rec, why, sizeof(why)))
			{
				fail(snap, "snapshot: malformed record from pgcdc.read_record: %s", why);
				PQclear(res);
				return false;
			}
			if (!c->keyless)
			{
				keylen = record_key(&r->rec.after, r->cols.positions, (size_t) r->cols.n, NULL, 0);
				key = xmalloc(keylen ? keylen : 1);
				record_key(&r->rec.after, r->cols.positions, (size_t) r->cols.n, key, keylen);
			}
			/* The Kafka value, built here rather than by the stream's one thread. */
			value = xmalloc(c->relation_len + len + RECORD_POSITION_MAX);
			memcpy(value, c->relation, c->relation_len);
			chunk_add_row(c, value, c->relation_len + record_without_position(row, len, value + c->relation_len),
						  key, keylen);
		}
		if (!c->keyless)
		{
			const ChunkRow *lr = &c->rows[c->nrows - 1];

			key_free(last);
			last->n = r->cols.n;
			last->values = xcalloc((size_t) r->cols.n, sizeof(char *));
			for (int k = 0; k < r->cols.n; k++)
				last->values[k] = xstrdup(PQgetvalue(res, n - 1, k + 1));
			last->bytes = xmemdup(lr->key, lr->keylen ? lr->keylen : 1);
			last->len = lr->keylen;
			keybytes = 0;
			for (size_t k = c->nrows - (size_t) n; k < c->nrows; k++)
				keybytes += c->rows[k].keylen;
			c->key_bytes += keybytes;
		}
		PQclear(res);
		fetch = fetch_rows(bytes / (size_t) n, (size_t) snap->settings->snapshot_fetch_size);
		if (c->bytes >= cap_bytes || c->key_bytes >= SNAPSHOT_KEEP_BYTES)
		{
			if (c->keyless)
			{
				fail_as(snap, true, "snapshot of %s.%s: the table has no key (no primary key or replica "
						"identity index), so it is read in one piece, and it is larger than %d MB. "
						"Give it a primary key, or exclude it (exclude.tables)",
						r->t->schema, r->t->name, SNAPSHOT_KEYLESS_BYTES >> 20);
				return false;
			}
			break;
		}
		if (atomic_load(&snap->stop))
			return false;
	}
	*full = !c->keyless && (c->nrows >= rows_cap || c->bytes >= cap_bytes || c->key_bytes >= SNAPSHOT_KEEP_BYTES);
	if (*full)
	{
		c->last = xmemdup(last->bytes, last->len ? last->len : 1);
		c->last_len = last->len;
	}
	if (!run(r, PQexec(r->conn, "CLOSE pgcdc_chunk"), "CLOSE"))
		return false;
	/* Locked: the watermark before the lock goes, so no writer commits between the two. */
	if (lock)
	{
		snapwatch_submit(snap->watch, c);
		if (!watermark(r, c, true))
			return false;
	}
	return run(r, PQexec(r->conn, "COMMIT"), "COMMIT");
}

/* The watermark after the chunk's snapshot: where the stream places it. */
static bool
watermark(Reader *r, const Chunk *c, bool in_txn)
{
	char		sql[512];

	/*
	 * In a transaction whose commit is flushed at once (this session's
	 * others are not waited for), so the stream sees it at once.  The
	 * content is the slot's name (a-z, 0-9, _) and a number.
	 */
	snprintf(sql, sizeof(sql), "%sSET LOCAL synchronous_commit = on; "
			 "SELECT pg_catalog.pg_logical_emit_message(true, '" SNAPWATCH_PREFIX "', '%s/%" PRIu64 "')%s",
			 in_txn ? "" : "BEGIN; ", r->snap->settings->slot_name, c->id, in_txn ? "" : "; COMMIT");
	return run(r, PQexec(r->conn, sql), "the chunk's watermark (pg_logical_emit_message)");
}

/*
 * Waits until none of the stream's transactions begun so far is in progress
 * for a new snapshot: one that committed in the WAL before the table was
 * watched but is not visible yet would escape the record (snapwatch.h).
 */
static bool
await_pending(Reader *r)
{
	int64_t		waited = 0;

	while (!atomic_load(&r->snap->stop))
	{
		PGresult   *res = PQexec(r->conn, "SELECT pg_catalog.pg_current_snapshot()::text");
		XidSnapshot xs;
		size_t		n;

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return run(r, res, "pg_current_snapshot()");
		if (!xidsnap_parse(PQgetvalue(res, 0, 0), &xs))
		{
			fail(r->snap, "snapshot: unreadable pg_current_snapshot(): %s", PQgetvalue(res, 0, 0));
			PQclear(res);
			return false;
		}
		PQclear(res);
		n = snapwatch_pending(r->snap->watch, &xs);
		xidsnap_free(&xs);
		if (n == 0)
			return true;
		if (waited % 10000 == 0)
			log_msg(LOG_INFO, "snapshot of %s.%s waits for %zu transaction(s) committed but not yet visible",
					r->t->schema, r->t->name, n);
		snapwatch_wait(r->snap->watch, 20);
		waited += 20;
	}
	return false;
}

/* Writes the acknowledged chunk's progress: its last key, its rows. */
static bool
save_progress(Reader *r, const Flight *f)
{
	Buf			q = {0};
	char		relid[16];
	char		rows[24];
	const char **params = xcalloc((size_t) f->last.n + 4, sizeof(char *));
	int		   *lengths = xcalloc((size_t) f->last.n + 4, sizeof(int));
	int		   *formats = xcalloc((size_t) f->last.n + 4, sizeof(int));
	int			n = 3;
	bool		ok;

	snprintf(relid, sizeof(relid), "%u", r->t->relid);
	snprintf(rows, sizeof(rows), "%zu", f->chunk->nrows);
	params[0] = r->snap->settings->slot_name;
	params[1] = relid;
	params[2] = rows;
	buf_printf(&q, "UPDATE pgcdc.snapshot_progress SET rows = rows + $3::bigint, chunks = chunks + 1");
	if (f->last.n > 0)
	{
		buf_printf(&q, ", last_key_bytes = $4, last_key = ARRAY[");
		params[n] = (const char *) f->last.bytes;
		lengths[n] = (int) f->last.len;
		formats[n++] = 1;
		for (int i = 0; i < f->last.n; i++)
		{
			buf_printf(&q, "%s$%d::text", i ? ", " : "", n + 1);
			params[n++] = f->last.values[i];
		}
		buf_printf(&q, "]");
	}
	buf_printf(&q, " WHERE slot_name = $1 AND relid = $2::oid");
	ok = run(r, PQexecParams(r->conn, q.data, n, NULL, params, lengths, formats, 0), "saving its progress");
	free(q.data);
	free(params);
	free(lengths);
	free(formats);
	if (ok)
	{
		metrics_add(r->t->m_chunks, 1);
		metrics_add(r->t->m_rows, (int64_t) f->chunk->nrows);
	}
	return ok;
}

static void
drop_flights(Reader *r)
{
	for (int i = 0; i < r->nflights; i++)
	{
		snapwatch_release(r->snap->watch, r->flights[i].chunk);
		key_free(&r->flights[i].from);
		key_free(&r->flights[i].last);
	}
	r->nflights = 0;
}

/*
 * Settles the oldest chunk in flight: acknowledged, its progress saved;
 * spoiled, every chunk from it on is read again.  1 when one was
 * acknowledged, 2 when they are to be read again, 0 when nothing moved, -1
 * after fail().
 */
static int
settle(Reader *r)
{
	Flight	   *f = &r->flights[0];
	ChunkState	state;

	if (r->nflights == 0)
		return 0;
	state = snapwatch_state(r->snap->watch, f->chunk);
	if (state == CHUNK_SPOILED)
	{
		log_msg(LOG_INFO, "snapshot of %s.%s: a chunk is read again (%s)", r->t->schema, r->t->name,
				f->chunk->keyless ? "the table changed while it was read" : "too many changes while it was read");
		key_free(&r->last);
		r->last = key_copy(&f->from);
		r->keyless_spoiled += f->chunk->keyless;
		drop_flights(r);
		return await_pending(r) ? 2 : -1;
	}
	if (state != CHUNK_PLACED || atomic_load(&r->snap->flushed) < f->chunk->lsn)
		return 0;
	if (!save_progress(r, f))
		return -1;
	snapwatch_release(r->snap->watch, f->chunk);
	key_free(&f->from);
	key_free(&f->last);
	memmove(&r->flights[0], &r->flights[1], (size_t) (r->nflights - 1) * sizeof(Flight));
	r->nflights--;
	return 1;
}

/* The table's last saved key, to go on from. */
static bool
load_progress(Reader *r)
{
	char		relid[16];
	const char *params[2] = {r->snap->settings->slot_name, relid};
	PGresult   *res;

	snprintf(relid, sizeof(relid), "%u", r->t->relid);
	res = PQexecParams(r->conn, "SELECT k FROM pgcdc.snapshot_progress p, "
					   "unnest(p.last_key) WITH ORDINALITY AS u(k, i) "
					   "WHERE p.slot_name = $1 AND p.relid = $2::oid ORDER BY i", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return run(r, res, "reading its progress");
	key_free(&r->last);
	r->last.n = PQntuples(res);
	if (r->last.n > 0)
		r->last.values = xcalloc((size_t) r->last.n, sizeof(char *));
	for (int i = 0; i < r->last.n; i++)
		r->last.values[i] = xstrdup(PQgetvalue(res, i, 0));
	PQclear(res);
	if (r->last.n == 0)
		return true;
	res = PQexecParams(r->conn, "SELECT last_key_bytes FROM pgcdc.snapshot_progress "
					   "WHERE slot_name = $1 AND relid = $2::oid AND last_key_bytes IS NOT NULL",
					   2, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return run(r, res, "reading its progress");
	if (PQntuples(res) == 1)
	{
		r->last.len = (size_t) PQgetlength(res, 0, 0);
		r->last.bytes = xmemdup(PQgetvalue(res, 0, 0), r->last.len ? r->last.len : 1);
	}
	PQclear(res);
	log_msg(LOG_INFO, "snapshot of %s.%s goes on after its last acknowledged chunk",
			r->t->schema, r->t->name);
	return true;
}

static bool
mark_done(Reader *r)
{
	char		relid[16];
	const char *params[2] = {r->snap->settings->slot_name, relid};

	snprintf(relid, sizeof(relid), "%u", r->t->relid);
	return run(r, PQexecParams(r->conn, "UPDATE pgcdc.snapshot_progress SET done = now() "
							   "WHERE slot_name = $1 AND relid = $2::oid", 2, NULL, params, NULL, NULL, 0),
			   "marking it done");
}

/* The chunks in flight still waiting for their watermark (they hold their rows). */
static int
unplaced(Reader *r)
{
	int			n = 0;

	for (int i = 0; i < r->nflights; i++)
		n += snapwatch_state(r->snap->watch, r->flights[i].chunk) == CHUNK_SUBMITTED;
	return n;
}

/* Reads one table chunk by chunk until every chunk is acknowledged; false after fail() or a stop. */
static bool
read_table(Reader *r)
{
	Snapshot   *snap = r->snap;
	bool		more = true;
	bool		ok = false;

	if (!load_progress(r))
		return false;
	snapwatch_table_start(snap->watch, r->t->relid);
	if (!await_pending(r))
		goto out;
	while (!atomic_load(&snap->stop))
	{
		Chunk	   *c;
		Key			last = {0};
		bool		full;
		bool		lock;
		int			s;

		if (r->nflights == IN_FLIGHT || (!more && r->nflights > 0) || unplaced(r) >= UNPLACED)
		{
			if ((s = settle(r)) < 0)
				goto out;
			if (s == 0)
				snapwatch_wait(snap->watch, 100);
			else if (s == 2)
				more = true;
			continue;
		}
		if (!more)
			break;
		c = snapwatch_reserve(snap->watch, r->t->relid, false);
		lock = r->keyless_spoiled >= SNAPSHOT_KEYLESS_TRIES;
		if (!read_chunk(r, c, &last, &full, lock))
		{
			snapwatch_release(snap->watch, c);
			key_free(&last);
			goto out;
		}
		atomic_fetch_add(&snap->rows, c->nrows);
		metrics_add(snap->m_rows, (int64_t) c->nrows);
		/* An empty chunk too: its range says the target has nothing more there. */
		if (!lock)
		{
			snapwatch_submit(snap->watch, c);
			if (!watermark(r, c, false))
			{
				snapwatch_release(snap->watch, c);
				key_free(&last);
				goto out;
			}
		}
		r->flights[r->nflights++] = (Flight) {c, key_copy(&r->last), last};
		if (last.n > 0)
		{
			key_free(&r->last);
			r->last = key_copy(&last);
		}
		more = full;
	}
	ok = !atomic_load(&snap->stop) && r->nflights == 0 && mark_done(r);
out:
	drop_flights(r);
	snapwatch_table_stop(snap->watch, r->t->relid);
	return ok;
}

static void
finish_table(Snapshot *snap, const Table *t)
{
	pthread_mutex_lock(&snap->lock);
	snap->done_tables++;
	pthread_mutex_unlock(&snap->lock);
	metrics_add(snap->m_tables_done, 1);
	log_msg(LOG_INFO, "snapshot: %s.%s read", t->schema, t->name);
}

static void *
worker(void *arg)
{
	Snapshot   *snap = arg;
	Reader		r = {snap};

	record_init(&r.rec);
	r.conn = connect_source(snap, "for the snapshot");
	/*
	 * Progress rows are not waited for: one lost in a crash only means its
	 * chunk is read again (the watermarks are, watermark()).
	 */
	if (r.conn != NULL)
		PQclear(PQexec(r.conn, "SET synchronous_commit = off"));
	while (r.conn != NULL && !atomic_load(&snap->stop))
	{
		Table	   *t = NULL;
		char	   *qs,
				   *qn;

		pthread_mutex_lock(&snap->lock);
		if (snap->next_table < snap->ntables)
			t = &snap->tables[snap->next_table++];
		pthread_mutex_unlock(&snap->lock);
		if (t == NULL)
			break;
		r.t = t;
		r.keyless_spoiled = 0;
		qs = PQescapeIdentifier(r.conn, t->schema, strlen(t->schema));
		qn = PQescapeIdentifier(r.conn, t->name, strlen(t->name));
		r.qname = xmalloc(strlen(qs) + strlen(qn) + 2);
		sprintf(r.qname, "%s.%s", qs, qn);
		PQfreemem(qs);
		PQfreemem(qn);
		if (read_table(&r))
			finish_table(snap, t);
		else if (!atomic_load(&snap->stop))
			fail(snap, "snapshot of %s.%s stopped", t->schema, t->name);
		free(r.qname);
		key_free(&r.last);
		if (atomic_load(&snap->stop))
			break;
	}
	cols_free(&r.cols);
	record_free(&r.rec);
	PQfinish(r.conn);

	pthread_mutex_lock(&snap->lock);
	snap->finished++;
	pthread_mutex_unlock(&snap->lock);
	return NULL;
}

/* The tables not read yet, largest first; false with err. */
static bool
list_tables(Snapshot *snap, char *err, size_t errlen)
{
	PGconn	   *conn = connect_source(snap, "for the snapshot");
	const char *params[1] = {snap->settings->slot_name};
	PGresult   *res;

	if (conn == NULL)
	{
		snprintf(err, errlen, "%s", snap->error);
		return false;
	}
	/* A table dropped since it was asked for has nothing left to read. */
	res = PQexecParams(conn,
					   "WITH gone AS (DELETE FROM pgcdc.snapshot_progress p WHERE p.slot_name = $1 "
					   "  AND p.done IS NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c "
					   "  WHERE c.oid = p.relid AND c.relkind = 'r')) "
					   "SELECT p.relid, p.schema_name, p.table_name, p.filter, "
					   "coalesce(p.estimated_rows, 0), p.rows "
					   "FROM pgcdc.snapshot_progress p JOIN pg_catalog.pg_class c ON c.oid = p.relid "
					   "WHERE p.slot_name = $1 AND p.done IS NULL "
					   "AND NOT coalesce((SELECT s.snapshot_paused FROM pgcdc.streamer_slot s "
					   "  WHERE s.slot_name = $1), false) "
					   "ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, 2, 3",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "snapshot: cannot read pgcdc.snapshot_progress (is the pgcdc extension "
				 "installed in this database? CREATE EXTENSION pgcdc): %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return false;
	}
	snap->ntables = (size_t) PQntuples(res);
	snap->tables = xcalloc(snap->ntables ? snap->ntables : 1, sizeof(Table));
	for (size_t i = 0; i < snap->ntables; i++)
	{
		Table	   *t = &snap->tables[i];
		char		label[512];
		const char *labels[3] = {"table", label, NULL};

		t->relid = (uint32_t) strtoul(PQgetvalue(res, (int) i, 0), NULL, 10);
		t->schema = xstrdup(PQgetvalue(res, (int) i, 1));
		t->name = xstrdup(PQgetvalue(res, (int) i, 2));
		if (!PQgetisnull(res, (int) i, 3))
			t->filter = xstrdup(PQgetvalue(res, (int) i, 3));
		snprintf(label, sizeof(label), "%s.%s", t->schema, t->name);
		t->m_rows = metrics_cell(snap->metrics, "walstreamer_snapshot_table_rows", METRIC_GAUGE,
								 "Rows of the table its snapshot has sent and Kafka acknowledged", labels);
		t->m_chunks = metrics_cell(snap->metrics, "walstreamer_snapshot_table_chunks", METRIC_GAUGE,
								   "Chunks of the table its snapshot has sent and Kafka acknowledged", labels);
		t->m_estimated = metrics_cell(snap->metrics, "walstreamer_snapshot_table_estimated_rows", METRIC_GAUGE,
									  "Rows the table had when its snapshot was asked for (pg_class.reltuples)",
									  labels);
		metrics_set(t->m_estimated, strtoll(PQgetvalue(res, (int) i, 4), NULL, 10));
		metrics_set(t->m_rows, strtoll(PQgetvalue(res, (int) i, 5), NULL, 10));
	}
	PQclear(res);
	PQfinish(conn);
	return true;
}

Snapshot *
snapshot_start(const Settings *s, SnapWatch *w, Metrics *m, char *err, size_t errlen)
{
	Snapshot   *snap = xcalloc(1, sizeof(Snapshot));

	err[0] = '\0';
	snap->settings = s;
	snap->watch = w;
	snap->metrics = m;
	pthread_mutex_init(&snap->lock, NULL);
	snap->m_rows = metrics_cell(m, "walstreamer_snapshot_rows_total", METRIC_COUNTER,
								"Rows read by snapshots", NULL);
	snap->m_tables_done = metrics_cell(m, "walstreamer_snapshot_tables_done", METRIC_GAUGE,
									   "Tables the running snapshot has read", NULL);
	snap->m_tables_total = metrics_cell(m, "walstreamer_snapshot_tables", METRIC_GAUGE,
										"Tables the running snapshot reads", NULL);
	metrics_set(snap->m_tables_done, 0);
	if (!list_tables(snap, err, errlen) || snap->ntables == 0)
	{
		snapshot_free(snap);
		return NULL;
	}
	metrics_set(snap->m_tables_total, (int64_t) snap->ntables);
	log_msg(LOG_INFO, "snapshot: %zu table(s) to read, %d connection(s), chunks of %d rows",
			snap->ntables, s->snapshot_parallelism, s->snapshot_chunk_rows);

	snap->nworkers = s->snapshot_parallelism;
	if ((size_t) snap->nworkers > snap->ntables)
		snap->nworkers = (int) snap->ntables;
	snap->threads = xcalloc((size_t) snap->nworkers, sizeof(pthread_t));
	for (int i = 0; i < snap->nworkers; i++)
	{
		if (pthread_create(&snap->threads[i], NULL, worker, snap) != 0)
		{
			snap->nworkers = i;
			fail(snap, "snapshot: cannot start a thread");
			break;
		}
	}
	return snap;
}

void
snapshot_flushed(Snapshot *snap, uint64_t lsn)
{
	if (atomic_exchange(&snap->flushed, lsn) != lsn)
		snapwatch_wake(snap->watch);
}

bool
snapshot_complete(Snapshot *snap)
{
	bool		done;

	pthread_mutex_lock(&snap->lock);
	done = snap->finished == snap->nworkers && snap->error[0] == '\0' &&
		(size_t) snap->done_tables == snap->ntables;
	pthread_mutex_unlock(&snap->lock);
	return done;
}

bool
snapshot_failed(Snapshot *snap, char *err, size_t errlen)
{
	bool		failed;

	pthread_mutex_lock(&snap->lock);
	failed = snap->error[0] != '\0';
	if (failed)
		snprintf(err, errlen, "%s", snap->error);
	pthread_mutex_unlock(&snap->lock);
	return failed;
}

bool
snapshot_fatal(Snapshot *snap)
{
	bool		fatal;

	pthread_mutex_lock(&snap->lock);
	fatal = snap->fatal;
	pthread_mutex_unlock(&snap->lock);
	return fatal;
}

uint64_t
snapshot_rows(Snapshot *snap)
{
	return atomic_load(&snap->rows);
}

void
snapshot_free(Snapshot *snap)
{
	if (snap == NULL)
		return;
	atomic_store(&snap->stop, true);
	for (int i = 0; i < snap->nworkers; i++)
		pthread_join(snap->threads[i], NULL);
	for (size_t i = 0; i < snap->ntables; i++)
	{
		free(snap->tables[i].schema);
		free(snap->tables[i].name);
		free(snap->tables[i].filter);
	}
	free(snap->tables);
	free(snap->threads);
	pthread_mutex_destroy(&snap->lock);
	free(snap);
}
