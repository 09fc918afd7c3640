/*
 * test_pgoutput.c — pgoutput's messages read from bytes laid out as the
 * server's proto.c writes them: transaction boundaries, relations and
 * types, each kind of change and value, truncate, logical messages,
 * streamed and two-phase transactions; and every message cut short, with
 * bytes left over, with counts its bytes cannot hold or with an unknown
 * kind of value, refused with a reason, never read past (run under ASan).
 */
#include <stdint.h>
#include <string.h>

#include "pgoutput.h"
#include "pgowrite.h"
#include "unit.h"

static bool
same(PgoBytes b, const char *s)
{
	return b.len == strlen(s) && memcmp(b.data, s, b.len) == 0;
}

static char err[256];

/* Every shorter prefix of a good message is refused; so is one more byte. */
static void
no_prefix_read(const Out *o, bool in_stream, bool parallel, const char *what)
{
	PgoMessage m;
	uint8_t		longer[1025];

	pgo_init(&m);
	for (size_t len = 0; len < o->len; len++)
		if (!CHECK(!pgo_parse(o->buf, len, in_stream, parallel, &m, err, sizeof(err)),
				   "%s cut to %zu of %zu bytes read", what, len, o->len))
			break;
	memcpy(longer, o->buf, o->len);
	longer[o->len] = 0;
	CHECK(!pgo_parse(longer, o->len + 1, in_stream, parallel, &m, err, sizeof(err))
		  && strstr(err, "left after its end") != NULL, "%s with a byte more: %s", what, err);
	pgo_free(&m);
}

static void
transaction(void)
{
	Out			b = {{0}, 0},
				c = {{0}, 0},
				o = {{0}, 0};
	PgoMessage	m;

	pgo_init(&m);
	put8(&b, 'B');
	put64(&b, UINT64_C(0x16B3F2800));
	put64(&b, UINT64_C(123456789));
	put32(&b, 771);
	CHECK(pgo_parse(b.buf, b.len, false, false, &m, err, sizeof(err)), "begin: %s", err);
	CHECK(m.kind == PGO_BEGIN && m.lsn == UINT64_C(0x16B3F2800) && m.time == 123456789 && m.xid == 771,
		  "begin read as kind %c lsn %llx xid %u", m.kind, (unsigned long long) m.lsn, m.xid);
	no_prefix_read(&b, false, false, "begin");

	put8(&c, 'C');
	put8(&c, 0);
	put64(&c, UINT64_C(0x16B3F2700));
	put64(&c, UINT64_C(0x16B3F2800));
	put64(&c, UINT64_C(987654321));
	CHECK(pgo_parse(c.buf, c.len, false, false, &m, err, sizeof(err)), "commit: %s", err);
	CHECK(m.kind == PGO_COMMIT && m.lsn == UINT64_C(0x16B3F2700) && m.end_lsn == UINT64_C(0x16B3F2800) &&
		  m.time == 987654321, "commit read wrong");
	no_prefix_read(&c, false, false, "commit");

	put8(&o, 'O');
	put64(&o, 42);
	putstr(&o, "east");
	CHECK(pgo_parse(o.buf, o.len, false, false, &m, err, sizeof(err)) && same(m.origin, "east") && m.lsn == 42,
		  "origin: %s", err);
	no_prefix_read(&o, false, false, "origin");
	pgo_free(&m);
}

static void
relation_and_type(void)
{
	Out			r = {{0}, 0},
				y = {{0}, 0};
	PgoMessage	m;

	pgo_init(&m);
	put8(&r, 'R');
	put32(&r, 16384);
	putstr(&r, "public");
	putstr(&r, "acct");
	put8(&r, 'd');
	put16(&r, 3);
	put8(&r, 1);
	putstr(&r, "id");
	put32(&r, 23);
	put32(&r, 0xffffffff);
	put8(&r, 0);
	putstr(&r, "balance");
	put32(&r, 1700);
	put32(&r, (12 << 16 | 2) + 4);
	put8(&r, 0);
	putstr(&r, "");
	put32(&r, 25);
	put32(&r, 0xffffffff);
	CHECK(pgo_parse(r.buf, r.len, false, false, &m, err, sizeof(err)), "relation: %s", err);
	CHECK(m.kind == PGO_RELATION && m.relid == 16384 && same(m.nspname, "public") && same(m.relname, "acct") &&
		  m.replident == 'd' && m.ncolumns == 3, "relation read wrong (%zu columns)", m.ncolumns);
	CHECK(m.columns[0].key && same(m.columns[0].name, "id") && m.columns[0].type == 23 &&
		  m.columns[0].typmod == -1, "column id read wrong");
	CHECK(!m.columns[1].key && m.columns[1].type == 1700 && m.columns[1].typmod == ((12 << 16 | 2) + 4),
		  "column balance read wrong");
	CHECK(same(m.columns[2].name, ""), "an empty column name");
	no_prefix_read(&r, false, false, "relation");

	/* More columns than bytes could hold: refused before anything is allocated for them. */
	r.buf[1 + 4 + 7 + 5 + 1] = 0xff;
	r.buf[1 + 4 + 7 + 5 + 2] = 0xff;
	CHECK(!pgo_parse(r.buf, r.len, false, false, &m, err, sizeof(err)) && m.columns_capacity < 0xffff,
		  "65535 columns in %zu bytes", r.len);

	put8(&y, 'Y');
	put32(&y, 9);				/* the xid: inside a streamed transaction */
	put32(&y, 16500);
	putstr(&y, "public");
	putstr(&y, "mood");
	CHECK(pgo_parse(y.buf, y.len, true, false, &m, err, sizeof(err)) && m.kind == PGO_TYPE && m.xid == 9 &&
		  m.relid == 16500 && same(m.relname, "mood"), "streamed type: %s", err);
	CHECK(!pgo_parse(y.buf, y.len, false, false, &m, err, sizeof(err)), "a streamed type read as not streamed");
	no_prefix_read(&y, true, false, "type");
	pgo_free(&m);
}

/* A tuple of 4 values: text "7", null, unchanged TOAST, binary 00 01 (length 2). */
static void
put_tuple(Out *o)
{
	put16(o, 4);
	put8(o, 't');
	put32(o, 1);
	put8(o, '7');
	put8(o, 'n');
	put8(o, 'u');
	put8(o, 'b');
	put32(o, 2);
	putbytes(o, "\x00\x01", 2);
}

static bool
tuple_is_expected(const PgoTuple *t)
{
	return t->n == 4 && t->values[0].kind == PGO_TEXT && same(t->values[0].data, "7") &&
		t->values[1].kind == PGO_NULL && t->values[2].kind == PGO_UNCHANGED &&
		t->values[3].kind == PGO_BINARY && t->values[3].data.len == 2 &&
		memcmp(t->values[3].data.data, "\x00\x01", 2) == 0;
}

static void
changes(void)
{
	Out			i = {{0}, 0},
				u = {{0}, 0},
				u2 = {{0}, 0},
				d = {{0}, 0},
				si = {{0}, 0};
	PgoMessage	m;

	pgo_init(&m);
	put8(&i, 'I');
	put32(&i, 16384);
	put8(&i, 'N');
	put_tuple(&i);
	CHECK(pgo_parse(i.buf, i.len, false, false, &m, err, sizeof(err)), "insert: %s", err);
	CHECK(m.kind == PGO_INSERT && m.relid == 16384 && m.old_kind == 0 && tuple_is_expected(&m.new),
		  "insert read wrong");
	no_prefix_read(&i, false, false, "insert");

	put8(&u, 'U');
	put32(&u, 16384);
	put8(&u, 'K');
	put_tuple(&u);
	put8(&u, 'N');
	put_tuple(&u);
	CHECK(pgo_parse(u.buf, u.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_UPDATE &&
		  m.old_kind == 'K' && tuple_is_expected(&m.old) && tuple_is_expected(&m.new), "key update: %s", err);
	no_prefix_read(&u, false, false, "key update");

	/* Without an old row: the previous message's is not left behind. */
	put8(&u2, 'U');
	put32(&u2, 16384);
	put8(&u2, 'N');
	put_tuple(&u2);
	CHECK(pgo_parse(u2.buf, u2.len, false, false, &m, err, sizeof(err)) && m.old_kind == 0 && m.old.n == 0 &&
		  tuple_is_expected(&m.new), "update: %s", err);

	put8(&d, 'D');
	put32(&d, 16384);
	put8(&d, 'O');
	put_tuple(&d);
	CHECK(pgo_parse(d.buf, d.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_DELETE &&
		  m.old_kind == 'O' && tuple_is_expected(&m.old) && m.new.n == 0, "delete: %s", err);
	no_prefix_read(&d, false, false, "delete");
	d.buf[5] = 'N';
	CHECK(!pgo_parse(d.buf, d.len, false, false, &m, err, sizeof(err)) && strstr(err, "no old row"),
		  "a delete without its old row: %s", err);

	/* An unknown kind of value. */
	i.buf[1 + 4 + 1 + 2] = 'x';
	CHECK(!pgo_parse(i.buf, i.len, false, false, &m, err, sizeof(err)) && strstr(err, "unknown kind"),
		  "a value of kind x: %s", err);
	/* A value longer than the message. */
	i.buf[1 + 4 + 1 + 2] = 't';
	i.buf[1 + 4 + 1 + 2 + 1] = 0x7f;
	CHECK(!pgo_parse(i.buf, i.len, false, false, &m, err, sizeof(err)), "a value of 2 GB in %zu bytes", i.len);

	put8(&si, 'I');
	put32(&si, 1234);
	put32(&si, 16384);
	put8(&si, 'N');
	put_tuple(&si);
	CHECK(pgo_parse(si.buf, si.len, true, false, &m, err, sizeof(err)) && m.xid == 1234 && m.relid == 16384 &&
		  tuple_is_expected(&m.new), "streamed insert: %s", err);
	no_prefix_read(&si, true, false, "streamed insert");
	pgo_free(&m);
}

static void
truncate_and_message(void)
{
	Out			t = {{0}, 0},
				msg = {{0}, 0};
	PgoMessage	m;

	pgo_init(&m);
	put8(&t, 'T');
	put32(&t, 2);
	put8(&t, 1);
	put32(&t, 16384);
	put32(&t, 16390);
	CHECK(pgo_parse(t.buf, t.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_TRUNCATE &&
		  m.flags == 1 && m.nrelids == 2 && m.relids[0] == 16384 && m.relids[1] == 16390, "truncate: %s", err);
	no_prefix_read(&t, false, false, "truncate");
	t.buf[1] = 0x40;			/* a billion relations in 14 bytes */
	CHECK(!pgo_parse(t.buf, t.len, false, false, &m, err, sizeof(err)) && m.relids_capacity < 1000,
		  "a truncate of 2^30 relations");

	put8(&msg, 'M');
	put8(&msg, 1);
	put64(&msg, UINT64_C(0x1000));
	putstr(&msg, "app");
	put32(&msg, 5);
	putbytes(&msg, "a\0b\0c", 5);
	CHECK(pgo_parse(msg.buf, msg.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_MESSAGE &&
		  m.transactional && m.lsn == 0x1000 && same(m.prefix, "app") && m.content.len == 5 &&
		  memcmp(m.content.data, "a\0b\0c", 5) == 0, "message: %s", err);
	no_prefix_read(&msg, false, false, "message");
	pgo_free(&m);
}

static void
streamed_and_prepared(void)
{
	Out			s = {{0}, 0},
				e = {{0}, 0},
				c = {{0}, 0},
				a2 = {{0}, 0},
				a4 = {{0}, 0},
				p = {{0}, 0},
				rb = {{0}, 0};
	PgoMessage	m;

	pgo_init(&m);
	put8(&s, 'S');
	put32(&s, 900);
	put8(&s, 1);
	CHECK(pgo_parse(s.buf, s.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_STREAM_START &&
		  m.xid == 900 && m.first_segment, "stream start: %s", err);
	no_prefix_read(&s, false, false, "stream start");

	put8(&e, 'E');
	CHECK(pgo_parse(e.buf, e.len, true, false, &m, err, sizeof(err)) && m.kind == PGO_STREAM_STOP,
		  "stream stop: %s", err);

	put8(&c, 'c');
	put32(&c, 900);
	put8(&c, 0);
	put64(&c, 10);
	put64(&c, 20);
	put64(&c, 30);
	CHECK(pgo_parse(c.buf, c.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_STREAM_COMMIT &&
		  m.xid == 900 && m.lsn == 10 && m.end_lsn == 20 && m.time == 30, "stream commit: %s", err);
	no_prefix_read(&c, false, false, "stream commit");

	put8(&a2, 'A');
	put32(&a2, 900);
	put32(&a2, 901);
	CHECK(pgo_parse(a2.buf, a2.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_STREAM_ABORT &&
		  m.xid == 900 && m.subxid == 901, "stream abort: %s", err);
	/* With streaming = parallel (protocol 4), the abort's LSN and time follow. */
	put8(&a4, 'A');
	put32(&a4, 900);
	put32(&a4, 900);
	put64(&a4, 77);
	put64(&a4, 88);
	CHECK(pgo_parse(a4.buf, a4.len, false, true, &m, err, sizeof(err)) && m.lsn == 77 && m.time == 88,
		  "stream abort, parallel: %s", err);
	CHECK(!pgo_parse(a4.buf, a4.len, false, false, &m, err, sizeof(err)), "a parallel abort read as not");
	no_prefix_read(&a4, false, true, "stream abort (parallel)");

	put8(&p, 'P');
	put8(&p, 0);
	put64(&p, 100);
	put64(&p, 200);
	put64(&p, 300);
	put32(&p, 55);
	putstr(&p, "gid-1");
	CHECK(pgo_parse(p.buf, p.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_PREPARE && m.lsn == 100 &&
		  m.end_lsn == 200 && m.time == 300 && m.xid == 55 && same(m.gid, "gid-1"), "prepare: %s", err);
	no_prefix_read(&p, false, false, "prepare");
	p.buf[0] = 'K';
	CHECK(pgo_parse(p.buf, p.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_COMMIT_PREPARED &&
		  m.xid == 55, "commit prepared: %s", err);

	put8(&rb, 'r');
	put8(&rb, 0);
	put64(&rb, 100);
	put64(&rb, 210);
	put64(&rb, 300);
	put64(&rb, 310);
	put32(&rb, 55);
	putstr(&rb, "gid-1");
	CHECK(pgo_parse(rb.buf, rb.len, false, false, &m, err, sizeof(err)) && m.kind == PGO_ROLLBACK_PREPARED &&
		  m.end_lsn == 100 && m.lsn == 210 && m.time == 310 && same(m.gid, "gid-1"), "rollback prepared: %s", err);
	no_prefix_read(&rb, false, false, "rollback prepared");

	CHECK(!pgo_parse((const uint8_t *) "Z", 1, false, false, &m, err, sizeof(err)) && strstr(err, "unknown"),
		  "message type Z: %s", err);
	CHECK(!pgo_parse((const uint8_t *) "", 0, false, false, &m, err, sizeof(err)), "an empty message");
	pgo_free(&m);
}

int
main(void)
{
	transaction();
	relation_and_type();
	changes();
	truncate_and_message();
	streamed_and_prepared();
	return unit_summary("test_pgoutput");
}
