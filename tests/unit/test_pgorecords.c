/*
 * test_pgorecords.c — pgoutput's messages into the plugin's records
 * (streamer/pgorecords.c), with relations described by a stand-in for the
 * catalog: positions (BEGIN at its XLogData, commit_lsn from BEGIN, seq
 * counting filtered changes and messages), BEGIN held until a record needs
 * it and a transaction without one reported as skipped, RELATION records,
 * old key images with the columns outside the identity empty, unchanged
 * TOASTed values, truncates of some included relations, message prefixes;
 * and each message out of place, a change before its relation, a value
 * not of its type, a streamed message and a failed description refused
 * (the last as retryable).  Under ASan in the sanitizer build.
 */
#include <stdlib.h>
#include <string.h>

#include "pgorecords.h"
#include "pgowrite.h"
#include "record.h"
#include "unit.h"
#include "xalloc.h"

/* A text value, or 'n' / 'u' when text is NULL (kind given). */
static void
putval(Out *o, char kind, const char *text)
{
	put8(o, (unsigned) kind);
	if (kind == 't')
	{
		put32(o, (uint32_t) strlen(text));
		memcpy(o->buf + o->len, text, strlen(text));
		o->len += strlen(text);
	}
}

static Out
begin(uint64_t final_lsn, uint32_t xid)
{
	Out			o = {.len = 0};

	put8(&o, 'B');
	put64(&o, final_lsn);
	put64(&o, 1000000);			/* 1 s after 2000-01-01 */
	put32(&o, xid);
	return o;
}

static Out
commit(uint64_t lsn, uint64_t end)
{
	Out			o = {.len = 0};

	put8(&o, 'C');
	put8(&o, 0);
	put64(&o, lsn);
	put64(&o, end);
	put64(&o, 2000000);
	return o;
}

/* RELATION relid nsp.name (id int4 key, v text, big text), identity d. */
static Out
relation(uint32_t relid, const char *nsp, const char *name)
{
	Out			o = {.len = 0};

	put8(&o, 'R');
	put32(&o, relid);
	putstr(&o, nsp);
	putstr(&o, name);
	put8(&o, 'd');
	put16(&o, 3);
	put8(&o, 1);
	putstr(&o, "id");
	put32(&o, 23);
	put32(&o, (uint32_t) -1);
	put8(&o, 0);
	putstr(&o, "v");
	put32(&o, 25);
	put32(&o, (uint32_t) -1);
	put8(&o, 0);
	putstr(&o, "big");
	put32(&o, 25);
	put32(&o, (uint32_t) -1);
	return o;
}

static int	describes;
static bool describe_fails;

/* The catalog's stand-in: classes by type, the key flags as identity, a small RELATION record. */
static bool
describe(void *arg, const PgoMessage *m, PgcRelation *out, char *err, size_t errlen)
{
	uint8_t    *p;

	describes++;
	if (describe_fails)
	{
		snprintf(err, errlen, "connection lost");
		return false;
	}
	memset(out, 0, sizeof(*out));
	out->relid = m->relid;
	out->schema = xstrndup((const char *) m->nspname.data, m->nspname.len);
	out->table = xstrndup((const char *) m->relname.data, m->relname.len);
	out->ncolumns = m->ncolumns;
	out->classes = xcalloc(m->ncolumns, sizeof(PgvClass));
	out->identity = xcalloc(m->ncolumns, sizeof(bool));
	out->names = xcalloc(m->ncolumns, sizeof(char *));
	for (size_t i = 0; i < m->ncolumns; i++)
	{
		out->classes[i] = pgvalue_class(m->columns[i].type);
		out->identity[i] = m->columns[i].key;
		out->names[i] = xstrndup((const char *) m->columns[i].name.data, m->columns[i].name.len);
	}
	out->old_key_only = true;
	out->record = p = xmalloc(64);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_RELATION);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_RELID, m->relid);
	out->record_len = (size_t) (p - out->record);
	return true;
}

static Buf	out;
static Record rec;
static char err[512];

/* The records of out, scanned in turn. */
static size_t at;

static bool
next(void)
{
	const uint8_t *r;
	size_t		len;

	if (at >= out.len || !record_frame((const uint8_t *) out.data, out.len, &at, &r, &len, err, sizeof(err)))
		return false;
	return record_scan(r, len, &rec, err, sizeof(err));
}

static bool
add(PgoRecords *pr, uint64_t lsn, Out o, uint64_t *skipped)
{
	uint64_t	ignored;

	return pgorecords_add(pr, lsn, o.buf, o.len, &out, skipped ? skipped : &ignored, err, sizeof(err));
}

static bool
span_is(Span s, const uint8_t *want, size_t len)
{
	return s.len == len && memcmp(s.data, want, len) == 0;
}

/* A RELATION message in a stream block: the transaction's xid after the type. */
static Out
streamed_relation(uint32_t xid, uint32_t relid, const char *nsp, const char *name)
{
	Out			r = relation(relid, nsp, name);
	Out			o = {.len = 0};

	put8(&o, 'R');
	put32(&o, xid);
	memcpy(o.buf + o.len, r.buf + 1, r.len - 1);
	o.len += r.len - 1;
	return o;
}

/* An insert of (id) into relid, in a stream block: its (sub)transaction's xid first. */
static Out
streamed_insert(uint32_t xid, uint32_t relid, const char *id)
{
	Out			o = {.len = 0};

	put8(&o, 'I');
	put32(&o, xid);
	put32(&o, relid);
	put8(&o, 'N');
	put16(&o, 3);
	putval(&o, 't', id);
	putval(&o, 'n', NULL);
	putval(&o, 'n', NULL);
	return o;
}

static Out
stream_start(uint32_t xid, bool first)
{
	Out			o = {.len = 0};

	put8(&o, 'S');
	put32(&o, xid);
	put8(&o, first);
	return o;
}

static Out
stream_stop(void)
{
	Out			o = {.len = 0};

	put8(&o, 'E');
	return o;
}

/*
 * pgoutput's streaming (protocol 2): changes in blocks, marked streamed,
 * seq counted across blocks (a change of a skipped table too), a
 * subtransaction's rollback voiding its range, the commit with the count.
 */
static void
streamed(PgoRecords *pr)
{
	Out			o;

	out.len = 0;
	CHECK(add(pr, 0x1000, stream_start(45, true), NULL) && out.len == 0, "STREAM START writes nothing: %s", err);
	CHECK(add(pr, 0x1010, streamed_relation(45, 16400, "public", "t"), NULL), "a relation in the stream: %s", err);
	CHECK(add(pr, 0x1020, streamed_insert(45, 16400, "1"), NULL), "a streamed insert: %s", err);
	CHECK(add(pr, 0x1030, streamed_insert(46, 16400, "2"), NULL), "a subtransaction's: %s", err);
	CHECK(!add(pr, 0x1040, stream_start(45, false), NULL) && strstr(err, "inside"), "STREAM START in a stream");
	CHECK(add(pr, 0x1050, stream_stop(), NULL), "STREAM STOP: %s", err);
	CHECK(!add(pr, 0x1060, stream_stop(), NULL) && strstr(err, "outside a stream"), "STREAM STOP alone");
	CHECK(add(pr, 0x1070, stream_start(45, false), NULL), "the next block: %s", err);
	CHECK(add(pr, 0x1080, streamed_relation(45, 16500, "public", "skipped"), NULL), "a skipped table's relation: %s", err);
	CHECK(add(pr, 0x1090, streamed_insert(46, 16500, "3"), NULL), "a skipped table's change: %s", err);
	CHECK(add(pr, 0x10a0, streamed_insert(46, 16400, "4"), NULL), "the subtransaction again: %s", err);
	CHECK(add(pr, 0x10b0, stream_stop(), NULL), "STREAM STOP: %s", err);
	o = (Out) {.len = 0};
	put8(&o, 'A');
	put32(&o, 45);
	put32(&o, 46);
	CHECK(add(pr, 0x10c0, o, NULL), "STREAM ABORT of the subtransaction: %s", err);
	o = (Out) {.len = 0};
	put8(&o, 'c');
	put32(&o, 45);
	put8(&o, 0);
	put64(&o, 0x2000);
	put64(&o, 0x2010);
	put64(&o, 2000000);
	CHECK(add(pr, 0x10d0, o, NULL), "STREAM COMMIT: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_RELATION && rec.relid == 16400, "RELATION record");
	CHECK(next() && rec.op == PGCDC__OP__OP_INSERT && rec.streamed && rec.commit_lsn == 0 && rec.xid == 45 &&
		  rec.subxid == 45 && rec.seq == 0 && rec.lsn == 0x1020, "a streamed change, top level");
	CHECK(next() && rec.streamed && rec.subxid == 46 && rec.seq == 1, "a subtransaction's");
	CHECK(next() && rec.streamed && rec.subxid == 46 && rec.seq == 3, "seq counted the skipped table's change");
	CHECK(next() && rec.op == PGCDC__OP__OP_STREAM_ABORT && rec.xid == 45 && rec.subxid == 46 &&
		  rec.has_aborted && rec.aborted[0] == 1 && rec.aborted[1] == 3, "the subtransaction's range voided");
	CHECK(next() && rec.op == PGCDC__OP__OP_STREAM_COMMIT && rec.xid == 45 && rec.commit_lsn == 0x2000 &&
		  rec.end_lsn == 0x2010 && rec.seq == 4, "STREAM COMMIT with the count");
	CHECK(at == out.len, "nothing else");
	/* Aborted whole: the top level's abort, its state gone. */
	out.len = 0;
	CHECK(add(pr, 0x3000, stream_start(50, true), NULL) && add(pr, 0x3010, streamed_insert(50, 16400, "5"), NULL) &&
		  add(pr, 0x3020, stream_stop(), NULL), "another streamed transaction: %s", err);
	o = (Out) {.len = 0};
	put8(&o, 'A');
	put32(&o, 50);
	put32(&o, 50);
	CHECK(add(pr, 0x3030, o, NULL), "its abort: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_INSERT && rec.streamed && next() &&
		  rec.op == PGCDC__OP__OP_STREAM_ABORT && rec.xid == 50 && rec.subxid == 50 && !rec.has_aborted,
		  "the top level's abort");
	out.len = 0;
}

int
main(void)
{
	TableFilter *f = tablefilter_new("public.*", "public.skipped", "app", err, sizeof(err));
	PgoRecords *pr = pgorecords_new("db", f, describe, NULL);
	uint64_t	skipped = 0;
	Out			o;
	static const uint8_t int7[] = {0x20, 14};	/* int_value 7 (zigzag) */
	static const uint8_t unchanged[] = {0x10, 1};

	record_init(&rec);

	/* A transaction: BEGIN held until its first record, at its own position; seq counts. */
	CHECK(add(pr, 0x100, begin(0x500, 42), NULL) && out.len == 0, "BEGIN alone writes nothing: %s", err);
	CHECK(add(pr, 0x110, relation(16400, "public", "t"), NULL), "relation: %s", err);
	CHECK(describes == 1, "described once");
	o = (Out) {.len = 0};
	put8(&o, 'I');
	put32(&o, 16400);
	put8(&o, 'N');
	put16(&o, 3);
	putval(&o, 't', "7");
	putval(&o, 't', "seven");
	putval(&o, 'n', NULL);
	CHECK(add(pr, 0x120, o, NULL), "insert: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_BEGIN && rec.lsn == 0x100 && rec.commit_lsn == 0x500 && rec.xid == 42,
		  "BEGIN at the transaction's first message, commit_lsn from BEGIN");
	CHECK(next() && rec.op == PGCDC__OP__OP_RELATION && rec.lsn == 0x110 && rec.relid == 16400, "RELATION record");
	CHECK(next() && rec.op == PGCDC__OP__OP_INSERT && rec.lsn == 0x120 && rec.commit_lsn == 0x500 &&
		  rec.after.n == 3, "INSERT record");
	CHECK(rec.after.n == 3 && rec.after.items[0].len == 2 && memcmp(rec.after.items[0].data, int7, 2) == 0,
		  "an int4's text as int_value");

	/* An update whose old key is logged ('K'): the other columns empty; 'u' kept as unchanged. */
	out.len = 0;
	o = (Out) {.len = 0};
	put8(&o, 'U');
	put32(&o, 16400);
	put8(&o, 'K');
	put16(&o, 3);
	putval(&o, 't', "7");
	putval(&o, 'n', NULL);
	putval(&o, 'n', NULL);
	put8(&o, 'N');
	put16(&o, 3);
	putval(&o, 't', "8");
	putval(&o, 't', "eight");
	putval(&o, 'u', NULL);
	CHECK(add(pr, 0x130, o, NULL), "update: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_UPDATE && rec.before.n == 3 && rec.before.items[1].len == 0 &&
		  rec.before.items[2].len == 0 && span_is(rec.before.items[0], int7, 2), "old key image: key only");
	CHECK(rec.after.n == 3 && span_is(rec.after.items[2], unchanged, 2), "'u' is unchanged_toast");

	/* A change of a table the lists leave out: no record, but counted in seq. */
	out.len = 0;
	CHECK(add(pr, 0x140, relation(16500, "public", "skipped"), NULL) && out.len == 0 && describes == 1,
		  "an excluded relation is not described");
	o = (Out) {.len = 0};
	put8(&o, 'D');
	put32(&o, 16500);
	put8(&o, 'K');
	put16(&o, 3);
	putval(&o, 't', "1");
	putval(&o, 'n', NULL);
	putval(&o, 'n', NULL);
	CHECK(add(pr, 0x150, o, NULL) && out.len == 0, "an excluded change: nothing");
	/* Messages: another prefix counted, not written; ours written. */
	o = (Out) {.len = 0};
	put8(&o, 'M');
	put8(&o, 1);
	put64(&o, 0x160);
	putstr(&o, "other");
	put32(&o, 1);
	put8(&o, 'x');
	CHECK(add(pr, 0x160, o, NULL) && out.len == 0, "a message of another prefix: nothing");
	o = (Out) {.len = 0};
	put8(&o, 'M');
	put8(&o, 1);
	put64(&o, 0x170);
	putstr(&o, "app");
	put32(&o, 2);
	put8(&o, 'h');
	put8(&o, 'i');
	CHECK(add(pr, 0x170, o, NULL), "message: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_MESSAGE && rec.transactional && rec.content.len == 2, "MESSAGE record");
	out.len = 0;
	CHECK(add(pr, 0x180, commit(0x500, 0x510), &skipped) && skipped == 0, "commit: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_COMMIT && rec.end_lsn == 0x510 && rec.lsn == 0x500,
		  "COMMIT record");
	{
		/* seq: insert 0, update 1, excluded delete 2, other message 3, app message 4; COMMIT says 5. */
		RecordField fld;
		size_t		pos = 0;
		const uint8_t *r;
		size_t		len;
		uint64_t	seq = 0;

		at = 0;
		record_frame((const uint8_t *) out.data, out.len, &at, &r, &len, err, sizeof(err));
		while (record_next_field(r, len, &pos, &fld))
			if (fld.number == WIRE_CHANGE_EVENT_SEQ)
				seq = fld.varint;
		CHECK(seq == 5, "COMMIT's seq counts every change and message: %llu", (unsigned long long) seq);
	}

	/* A transaction without a record: nothing, and where it ended. */
	out.len = 0;
	CHECK(add(pr, 0x600, begin(0x700, 43), NULL) && add(pr, 0x610, commit(0x700, 0x710), &skipped) &&
		  out.len == 0 && skipped == 0x710, "a transaction without a record is skipped at its end");

	/* Truncate of an included and an excluded relation, with CASCADE and RESTART IDENTITY. */
	out.len = 0;
	o = (Out) {.len = 0};
	put8(&o, 'T');
	put32(&o, 2);
	put8(&o, 3);
	put32(&o, 16500);
	put32(&o, 16400);
	CHECK(add(pr, 0x800, begin(0x900, 44), NULL) && add(pr, 0x810, o, NULL), "truncate: %s", err);
	at = 0;
	CHECK(next() && rec.op == PGCDC__OP__OP_BEGIN && next() && rec.op == PGCDC__OP__OP_TRUNCATE &&
		  rec.truncated.n == 1, "TRUNCATE lists the included relation only");

	/* Refused: a change before its relation, a value not of its type, a streamed message. */
	out.len = 0;
	o = (Out) {.len = 0};
	put8(&o, 'I');
	put32(&o, 99999);
	put8(&o, 'N');
	put16(&o, 0);
	CHECK(!add(pr, 0x820, o, NULL) && strstr(err, "before its RELATION") != NULL, "a change before its relation");
	o = (Out) {.len = 0};
	put8(&o, 'I');
	put32(&o, 16400);
	put8(&o, 'N');
	put16(&o, 3);
	putval(&o, 't', "seven");
	putval(&o, 'n', NULL);
	putval(&o, 'n', NULL);
	CHECK(!add(pr, 0x830, o, NULL) && strstr(err, "public.t, column 1") != NULL && !pgorecords_retryable(pr),
		  "a value not of its type, named: %s", err);
	o = (Out) {.len = 0};
	put8(&o, 'I');
	put32(&o, 16400);
	put8(&o, 'N');
	put16(&o, 2);
	putval(&o, 't', "1");
	putval(&o, 'n', NULL);
	CHECK(!add(pr, 0x840, o, NULL) && strstr(err, "a row of 2 columns") != NULL, "a row of the wrong width");
	CHECK(add(pr, 0x850, commit(0x900, 0x910), NULL), "commit");
	CHECK(!add(pr, 0x860, commit(0x900, 0x910), NULL) && strstr(err, "outside a transaction"), "COMMIT alone");
	streamed(pr);
	o = (Out) {.len = 0};
	put8(&o, 'b');
	put64(&o, 0x990);
	put64(&o, 0x9a0);
	put64(&o, 3000000);
	put32(&o, 47);
	putstr(&o, "gid");
	CHECK(!add(pr, 0x980, o, NULL) && strstr(err, "does not ask for") != NULL, "a two-phase transaction: %s", err);
	describe_fails = true;
	CHECK(!add(pr, 0x880, relation(16600, "public", "u"), NULL) && pgorecords_retryable(pr),
		  "a failed description may pass after a restart");

	record_free(&rec);
	pgorecords_free(pr);
	tablefilter_free(f);
	buf_free(&out);
	return unit_summary("unit-pgorecords");
}
