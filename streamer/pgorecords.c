/*
 * pgorecords.c — pgoutput's messages into pgcdc records (pgorecords.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgorecords.h"
#include "recwrite.h"
#include "xalloc.h"

/* 2000-01-01 (pgoutput's epoch) in µs after 1970-01-01 (the records'). */
#define PG_EPOCH_USECS INT64_C(946684800000000)

/* A subtransaction's streamed changes: consecutive in seq (proto/cdc.proto, StreamInfo). */
typedef struct StreamedSub
{
	uint32_t	xid;
	uint32_t	first;
	uint32_t	last;
} StreamedSub;

/* A transaction streamed in progress (pgoutput's streaming), until it ends. */
typedef struct Streamed
{
	uint32_t	xid;
	uint32_t	seq;			/* of its next streamed change */
	StreamedSub *subs;
	size_t		nsubs;
} Streamed;

typedef struct Entry
{
	uint32_t	relid;			/* 0: a free slot */
	bool		included;
	PgcRelation rel;			/* described only when included */
} Entry;

struct PgoRecords
{
	char	   *database;
	const TableFilter *filter;
	PgoDescribeFn describe;
	void	   *describe_arg;

	Entry	   *entries;		/* open addressing by relid */
	size_t		capacity;		/* a power of two */
	size_t		used;

	/* The transaction being read. */
	bool		in_txn;
	bool		begin_written;
	uint64_t	first_lsn;
	uint64_t	final_lsn;
	uint32_t	xid;
	int64_t		commit_ts;
	uint32_t	seq;
	bool		describe_failed;	/* the last failure was describe's */

	/* Streaming: the transactions in progress, and the one whose block is open. */
	Streamed   *streamed;
	size_t		nstreamed;
	Streamed   *stream;			/* between STREAM_START and STREAM_STOP */

	PgoMessage	m;
	Buf			rec;			/* the record being built */
};

PgoRecords *
pgorecords_new(const char *database, const TableFilter *filter, PgoDescribeFn describe, void *arg)
{
	PgoRecords *pr = xcalloc(1, sizeof(PgoRecords));

	pr->database = xstrdup(database);
	pr->filter = filter;
	pr->describe = describe;
	pr->describe_arg = arg;
	pr->capacity = 64;
	pr->entries = xcalloc(pr->capacity, sizeof(Entry));
	pgo_init(&pr->m);
	return pr;
}

void
pgorecords_free(PgoRecords *pr)
{
	if (pr == NULL)
		return;
	for (size_t i = 0; i < pr->capacity; i++)
		pgcatalog_release(&pr->entries[i].rel);
	free(pr->entries);
	free(pr->database);
	pgo_free(&pr->m);
	buf_free(&pr->rec);
	for (size_t i = 0; i < pr->nstreamed; i++)
		free(pr->streamed[i].subs);
	free(pr->streamed);
	free(pr);
}

static Entry *
find(PgoRecords *pr, uint32_t relid, bool add)
{
	size_t		mask = pr->capacity - 1;

	for (size_t i = (relid * 2654435761u) & mask;; i = (i + 1) & mask)
	{
		Entry	   *e = &pr->entries[i];

		if (e->relid == relid)
			return e;
		if (e->relid == 0)
		{
			if (!add)
				return NULL;
			e->relid = relid;
			pr->used++;
			return e;
		}
	}
}

/* Room for one more relation: the table stays at most half full. */
static void
grow(PgoRecords *pr)
{
	Entry	   *old = pr->entries;
	size_t		oldcap = pr->capacity;

	if (2 * (pr->used + 1) <= pr->capacity)
		return;
	pr->capacity *= 2;
	pr->entries = xcalloc(pr->capacity, sizeof(Entry));
	pr->used = 0;
	for (size_t i = 0; i < oldcap; i++)
	{
		if (old[i].relid != 0)
			*find(pr, old[i].relid, true) = old[i];
	}
	free(old);
}

/* The record built in pr->rec, framed by its length, onto out. */
static void
frame(PgoRecords *pr, Buf *out)
{
	buf_reserve(out, WIRE_VARINT_MAX + pr->rec.len);
	out->len = (size_t) (wire_put_varint((uint8_t *) out->data + out->len, pr->rec.len) - (uint8_t *) out->data);
	buf_append(out, pr->rec.data, pr->rec.len);
	pr->rec.len = 0;
}

/*
 * The fields of a streamed change (event_init_txn's in a block): no commit
 * yet, the top-level xid, the subtransaction's (the xid pgoutput gives it),
 * and its seq among the transaction's streamed changes, its
 * subtransaction's range growing to it.
 */
static void
streamed_fields(PgoRecords *pr, Pgcdc__Op op, uint64_t lsn)
{
	Streamed   *t = pr->stream;
	uint32_t	seq = t->seq++;
	uint32_t	subxid = pr->m.xid ? pr->m.xid : t->xid;

	if (subxid != t->xid)
	{
		StreamedSub *sub = NULL;

		for (size_t i = t->nsubs; i > 0 && sub == NULL; i--)
			if (t->subs[i - 1].xid == subxid)
				sub = &t->subs[i - 1];
		if (sub == NULL)
		{
			t->subs = xrealloc(t->subs, t->nsubs + 1, sizeof(StreamedSub));
			sub = &t->subs[t->nsubs++];
			*sub = (StreamedSub) {subxid, seq, seq};
		}
		sub->last = seq;
	}
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_VERSION, 1);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_OP, (uint64_t) op);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_LSN, lsn);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_SEQ, seq);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_XID, t->xid);
	recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_DATABASE, pr->database, strlen(pr->database));
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_STREAMED, 1);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_SUBXID, subxid);
}

/* The fields every record of the open transaction has (event_init_txn's). */
static void
txn_fields(PgoRecords *pr, Pgcdc__Op op, uint64_t lsn, uint32_t seq)
{
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_VERSION, 1);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_OP, (uint64_t) op);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_COMMIT_LSN, pr->final_lsn);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_LSN, lsn);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_SEQ, seq);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_XID, pr->xid);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_COMMIT_TS, (uint64_t) pr->commit_ts);
	recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_DATABASE, pr->database, strlen(pr->database));
}

/* The transaction's BEGIN record, before its first record (skip-empty-xacts). */
static void
start_output(PgoRecords *pr, Buf *out)
{
	if (pr->begin_written)
		return;
	txn_fields(pr, PGCDC__OP__OP_BEGIN, pr->first_lsn, 0);
	frame(pr, out);
	pr->begin_written = true;
}

static void
relation_fields(Buf *b, const PgcRelation *rel)
{
	recwrite_bytes(b, WIRE_CHANGE_EVENT_SCHEMA, rel->schema, strlen(rel->schema));
	recwrite_bytes(b, WIRE_CHANGE_EVENT_TABLE, rel->table, strlen(rel->table));
	recwrite_varint(b, WIRE_CHANGE_EVENT_RELID, rel->relid);
}

static bool
on_relation(PgoRecords *pr, uint64_t lsn, Buf *out, char *err, size_t errlen)
{
	const PgoMessage *m = &pr->m;
	Entry	   *e;

	if (m->relid == 0)
	{
		snprintf(err, errlen, "RELATION message for relation 0");
		return false;
	}
	grow(pr);
	e = find(pr, m->relid, true);
	pgcatalog_release(&e->rel);
	e->included = tablefilter_table(pr->filter, (const char *) m->nspname.data, m->nspname.len,
									(const char *) m->relname.data, m->relname.len);
	if (!e->included)
		return true;
	if (!pr->describe(pr->describe_arg, m, &e->rel, err, errlen))
	{
		pr->describe_failed = true;
		e->included = false;
		return false;
	}
	/* As the plugin: after the transaction's BEGIN, at the change that needs it. */
	if (pr->in_txn)
		start_output(pr, out);
	buf_append(&pr->rec, e->rel.record, e->rel.record_len);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_LSN, lsn);
	frame(pr, out);
	return true;
}

/* One row image as Values (field number), per column of rel. */
static bool
put_image(PgoRecords *pr, uint32_t number, const PgcRelation *rel, const PgoTuple *t, bool key_only,
		  char *err, size_t errlen)
{
	if (t->n != rel->ncolumns)
	{
		snprintf(err, errlen, "%s.%s: a row of %zu columns, its relation has %zu", rel->schema, rel->table,
				 t->n, rel->ncolumns);
		return false;
	}
	for (size_t i = 0; i < t->n; i++)
	{
		const PgoValue *v = &t->values[i];
		uint8_t		marker[4];
		char		why[200];

		if (key_only && !rel->identity[i])
			recwrite_message(&pr->rec, number, marker, 0);	/* outside the old key: not logged, an empty Value */
		else if (v->kind == PGO_UNCHANGED)
			recwrite_message(&pr->rec, number, marker, pgvalue_unchanged(marker));
		else if (v->kind == PGO_BINARY)
		{
			snprintf(err, errlen, "%s.%s, column %zu: a binary value, which walstreamer does not ask for",
					 rel->schema, rel->table, i + 1);
			return false;
		}
		else if (!recwrite_value(&pr->rec, number, rel->classes[i],
								 v->kind == PGO_NULL ? NULL : (const char *) v->data.data, v->data.len,
								 why, sizeof(why)))
		{
			snprintf(err, errlen, "%s.%s, column %zu: %s", rel->schema, rel->table, i + 1, why);
			return false;
		}
	}
	return true;
}

static bool
on_change(PgoRecords *pr, uint64_t lsn, Buf *out, char *err, size_t errlen)
{
	const PgoMessage *m = &pr->m;
	Entry	   *e = find(pr, m->relid, false);
	Pgcdc__Op	op = m->kind == PGO_INSERT ? PGCDC__OP__OP_INSERT
		: m->kind == PGO_UPDATE ? PGCDC__OP__OP_UPDATE : PGCDC__OP__OP_DELETE;

	if (e == NULL)
	{
		snprintf(err, errlen, "change for relation %u at " "%X/%X" " before its RELATION message",
				 m->relid, (unsigned) (lsn >> 32), (unsigned) lsn);
		return false;
	}
	if (pr->stream != NULL)
	{
		streamed_fields(pr, op, lsn);
		if (!e->included)
		{
			pr->rec.len = 0;	/* counted, as the plugin counts filtered changes */
			return true;
		}
	}
	else
	{
		uint32_t	seq = pr->seq++;

		if (!e->included)
			return true;
		start_output(pr, out);
		txn_fields(pr, op, lsn, seq);
	}
	relation_fields(&pr->rec, &e->rel);
	if (m->old_kind != 0 &&
		!put_image(pr, WIRE_CHANGE_EVENT_BEFORE, &e->rel, &m->old, m->old_kind == 'K' && e->rel.old_key_only,
				   err, errlen))
		return false;
	if (m->kind != PGO_DELETE && !put_image(pr, WIRE_CHANGE_EVENT_AFTER, &e->rel, &m->new, false, err, errlen))
		return false;
	frame(pr, out);
	return true;
}

static bool
on_truncate(PgoRecords *pr, uint64_t lsn, Buf *out, char *err, size_t errlen)
{
	const PgoMessage *m = &pr->m;
	Buf			refs = {0};
	Buf			ref = {0};

	for (size_t i = 0; i < m->nrelids; i++)
	{
		Entry	   *e = find(pr, m->relids[i], false);

		if (e == NULL)
		{
			snprintf(err, errlen, "TRUNCATE of relation %u before its RELATION message", m->relids[i]);
			buf_free(&refs);
			return false;
		}
		if (!e->included)
			continue;
		ref.len = 0;
		recwrite_bytes(&ref, WIRE_RELATION_REF_SCHEMA, e->rel.schema, strlen(e->rel.schema));
		recwrite_bytes(&ref, WIRE_RELATION_REF_TABLE, e->rel.table, strlen(e->rel.table));
		recwrite_varint(&ref, WIRE_RELATION_REF_RELID, e->rel.relid);
		recwrite_message(&refs, WIRE_CHANGE_EVENT_TRUNCATED, ref.data, ref.len);
	}
	buf_free(&ref);
	if (pr->stream != NULL)
		streamed_fields(pr, PGCDC__OP__OP_TRUNCATE, lsn);
	else
	{
		uint32_t	seq = pr->seq++;

		if (refs.len > 0)
		{
			start_output(pr, out);
			txn_fields(pr, PGCDC__OP__OP_TRUNCATE, lsn, seq);
		}
	}
	if (refs.len > 0)
	{
		buf_append(&pr->rec, refs.data, refs.len);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_CASCADE, (m->flags & 1) != 0);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_RESTART_IDENTITY, (m->flags & 2) != 0);
		frame(pr, out);
	}
	pr->rec.len = 0;			/* streamed, of no included table: counted, not written */
	buf_free(&refs);
	return true;
}

static void
on_message(PgoRecords *pr, uint64_t lsn, Buf *out)
{
	const PgoMessage *m = &pr->m;
	bool		in_txn = m->transactional && pr->in_txn;
	uint32_t	seq = in_txn ? pr->seq++ : 0;

	if (m->transactional && pr->stream != NULL)
	{
		streamed_fields(pr, PGCDC__OP__OP_MESSAGE, lsn);
		if (!tablefilter_message(pr->filter, (const char *) m->prefix.data, m->prefix.len))
		{
			pr->rec.len = 0;
			return;
		}
	}
	else if (!tablefilter_message(pr->filter, (const char *) m->prefix.data, m->prefix.len))
		return;
	else if (in_txn)
	{
		start_output(pr, out);
		txn_fields(pr, PGCDC__OP__OP_MESSAGE, lsn, seq);
	}
	else
	{
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_VERSION, 1);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_MESSAGE);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_LSN, lsn);
		recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_DATABASE, pr->database, strlen(pr->database));
	}
	recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_PREFIX, m->prefix.data, m->prefix.len);
	recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_CONTENT, m->content.data, m->content.len);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_TRANSACTIONAL, m->transactional);
	frame(pr, out);
}

static Streamed *
streamed_find(PgoRecords *pr, uint32_t xid, bool add)
{
	for (size_t i = 0; i < pr->nstreamed; i++)
		if (pr->streamed[i].xid == xid)
			return &pr->streamed[i];
	if (!add)
		return NULL;
	pr->streamed = xrealloc(pr->streamed, pr->nstreamed + 1, sizeof(Streamed));
	pr->streamed[pr->nstreamed] = (Streamed) {xid, 0, NULL, 0};
	return &pr->streamed[pr->nstreamed++];
}

static void
streamed_forget(PgoRecords *pr, uint32_t xid)
{
	Streamed   *t = streamed_find(pr, xid, false);

	if (t == NULL)
		return;
	free(t->subs);
	*t = pr->streamed[--pr->nstreamed];
}

/* A streamed transaction's end, as the plugin's stream_commit and stream_abort write it. */
static bool
on_stream_end(PgoRecords *pr, uint64_t lsn, Buf *out, char *err, size_t errlen)
{
	const PgoMessage *m = &pr->m;
	Streamed   *t = streamed_find(pr, m->xid, false);

	if (pr->in_txn || pr->stream != NULL)
	{
		snprintf(err, errlen, "pgoutput stream end ('%c') inside a transaction or stream at %X/%X",
				 (char) m->kind, (unsigned) (lsn >> 32), (unsigned) lsn);
		return false;
	}
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_VERSION, 1);
	if (m->kind == PGO_STREAM_COMMIT)
	{
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_STREAM_COMMIT);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_COMMIT_LSN, m->lsn);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_LSN, m->lsn);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_SEQ, t ? t->seq : 0);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_XID, m->xid);
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_COMMIT_TS, (uint64_t) (m->time + PG_EPOCH_USECS));
		recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_DATABASE, pr->database, strlen(pr->database));
		recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_END_LSN, m->end_lsn);
		streamed_forget(pr, m->xid);
		frame(pr, out);
		return true;
	}
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_STREAM_ABORT);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_LSN, lsn);
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_XID, m->xid);
	recwrite_bytes(&pr->rec, WIRE_CHANGE_EVENT_DATABASE, pr->database, strlen(pr->database));
	recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_SUBXID, m->subxid);
	if (m->subxid == m->xid)
		streamed_forget(pr, m->xid);
	else
	{
		StreamedSub *sub = NULL;
		uint8_t		pair[2 * WIRE_VARINT_MAX];
		uint8_t		info[3 * WIRE_VARINT_MAX];
		uint8_t    *p;
		size_t		i;

		for (i = 0; t != NULL && i < t->nsubs && sub == NULL; i++)
			if (t->subs[i].xid == m->subxid)
				sub = &t->subs[i];
		if (sub == NULL)
		{
			pr->rec.len = 0;	/* none of its changes streamed: nothing to void */
			return true;
		}
		p = wire_put_varint(pair, sub->first);
		p = wire_put_varint(p, sub->last - sub->first + 1);
		p = wire_put_len_field(info, WIRE_STREAM_INFO_ABORTED, pair, (size_t) (p - pair));
		recwrite_message(&pr->rec, WIRE_CHANGE_EVENT_STREAM, info, (size_t) (p - info));
		t->subs[i - 1] = t->subs[--t->nsubs];
	}
	frame(pr, out);
	return true;
}

bool
pgorecords_add(PgoRecords *pr, uint64_t wal_start, const uint8_t *buf, size_t len, Buf *out,
			   uint64_t *skipped_end, char *err, size_t errlen)
{
	PgoMessage *m = &pr->m;

	*skipped_end = 0;
	pr->describe_failed = false;
	if (!pgo_parse(buf, len, pr->stream != NULL, false, m, err, errlen))
		return false;
	switch (m->kind)
	{
		case PGO_STREAM_START:
			if (pr->in_txn || pr->stream != NULL)
			{
				snprintf(err, errlen, "pgoutput STREAM START inside a transaction or stream at %X/%X",
						 (unsigned) (wal_start >> 32), (unsigned) wal_start);
				return false;
			}
			pr->stream = streamed_find(pr, m->xid, true);
			return true;
		case PGO_STREAM_STOP:
			if (pr->stream == NULL)
			{
				snprintf(err, errlen, "pgoutput STREAM STOP outside a stream at %X/%X",
						 (unsigned) (wal_start >> 32), (unsigned) wal_start);
				return false;
			}
			pr->stream = NULL;
			return true;
		case PGO_STREAM_COMMIT:
		case PGO_STREAM_ABORT:
			return on_stream_end(pr, wal_start, out, err, errlen);
		case PGO_BEGIN:
			if (pr->in_txn)
			{
				snprintf(err, errlen, "pgoutput BEGIN inside a transaction at %X/%X",
						 (unsigned) (wal_start >> 32), (unsigned) wal_start);
				return false;
			}
			pr->in_txn = true;
			pr->begin_written = false;
			pr->first_lsn = wal_start;
			pr->final_lsn = m->lsn;
			pr->xid = m->xid;
			pr->commit_ts = m->time + PG_EPOCH_USECS;
			pr->seq = 0;
			return true;
		case PGO_COMMIT:
			if (!pr->in_txn)
			{
				snprintf(err, errlen, "pgoutput COMMIT outside a transaction at %X/%X",
						 (unsigned) (wal_start >> 32), (unsigned) wal_start);
				return false;
			}
			pr->in_txn = false;
			if (!pr->begin_written)
			{
				*skipped_end = m->end_lsn;
				return true;
			}
			pr->commit_ts = m->time + PG_EPOCH_USECS;
			txn_fields(pr, PGCDC__OP__OP_COMMIT, m->lsn, pr->seq);
			recwrite_varint(&pr->rec, WIRE_CHANGE_EVENT_END_LSN, m->end_lsn);
			frame(pr, out);
			return true;
		case PGO_RELATION:
			return on_relation(pr, wal_start, out, err, errlen);
		case PGO_TYPE:
		case PGO_ORIGIN:
			return true;		/* types come from the catalog; origins are not in records */
		case PGO_INSERT:
		case PGO_UPDATE:
		case PGO_DELETE:
		case PGO_TRUNCATE:
			if (!pr->in_txn && pr->stream == NULL)
			{
				snprintf(err, errlen, "pgoutput change ('%c') outside a transaction at %X/%X", (char) m->kind,
						 (unsigned) (wal_start >> 32), (unsigned) wal_start);
				return false;
			}
			return m->kind == PGO_TRUNCATE ? on_truncate(pr, wal_start, out, err, errlen)
				: on_change(pr, wal_start, out, err, errlen);
		case PGO_MESSAGE:
			on_message(pr, wal_start, out);
			return true;
		default:
			snprintf(err, errlen, "pgoutput message '%c' (a two-phase transaction), which "
					 "walstreamer does not ask for", (char) m->kind);
			return false;
	}
}

bool
pgorecords_retryable(const PgoRecords *pr)
{
	return pr->describe_failed;
}
