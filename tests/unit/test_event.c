/*
 * test_event.c — walsink's decoding of a consumed message (sink/event.c).
 *
 * A value PostgreSQL has no form for (a time before 00:00:00 or past
 * 24:00:00, a date or timestamp out of its range, an infinity of no sign, a
 * numeric not in numeric_out's form or past numeric's limits, a uuid not of
 * 16 bytes) makes the event a dead letter naming the column, in an insert's
 * row, a delete's key and a key change's old copy alike, with or without
 * its columns cached.  A length that claims more than the message holds (a
 * value's 1 GB, a field's 2^64 - 1) is a dead letter saying where, never a
 * read past the end: the stub's messages are allocated to the byte.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "event.h"
#include "kafkastub.h"
#include "unit.h"

static Arena *arena;
static Layouts *layouts;

typedef struct Outcome
{
	EventKind	kind;
	char		reason[EVENT_REASON_MAX];
} Outcome;

static Outcome
decode_bytes(const uint8_t *buf, size_t len, size_t max_value, const char *role)
{
	Event		e;
	Outcome		o;

	event_decode(&e, kafkastub_message(buf, len, role), max_value, arena_allocator(arena), layouts, NULL, NULL);
	o.kind = e.kind;
	snprintf(o.reason, sizeof(o.reason), "%s", e.reason ? e.reason : "");
	event_free(&e);
	return o;
}

/* A record's bytes, and extra (n bytes) after them. */
static Outcome
decode_rec(const Pgcdc__ChangeEvent *ev, const char *role, const uint8_t *extra, size_t n)
{
	size_t		len = pgcdc__change_event__get_packed_size(ev);
	uint8_t    *buf = malloc(len + n);
	Outcome		o;

	pgcdc__change_event__pack(ev, buf);
	if (n > 0)
		memcpy(buf + len, extra, n);
	o = decode_bytes(buf, len + n, 1 << 20, role);
	free(buf);
	return o;
}

static bool
bad_with(Outcome o, const char *want)
{
	return o.kind == EVENT_BAD && strstr(o.reason, want) != NULL;
}

/* A change of public.t (id int4 key, v of type oid): v's value is the caller's. */
typedef struct Change
{
	Pgcdc__ChangeEvent ev;
	Pgcdc__Column cols[2];
	Pgcdc__Column *colp[2];
	Pgcdc__Value id;
	Pgcdc__Value v;
	Pgcdc__Value *image[2];
} Change;

static void
change_init(Change *c, Pgcdc__Op op, uint32_t oid)
{
	static const char *names[] = {"id", "v"};

	pgcdc__change_event__init(&c->ev);
	c->ev.version = 1;
	c->ev.op = op;
	c->ev.commit_lsn = 100;
	c->ev.schema = "public";
	c->ev.table = "t";
	for (int i = 0; i < 2; i++)
	{
		pgcdc__column__init(&c->cols[i]);
		c->cols[i].name = (char *) names[i];
		c->cols[i].type_oid = i == 0 ? 23 : oid;
		c->cols[i].type_name = i == 0 ? "integer" : "x";
		c->colp[i] = &c->cols[i];
	}
	c->cols[0].key = true;
	c->ev.n_columns = 2;
	c->ev.columns = c->colp;
	pgcdc__value__init(&c->id);
	c->id.kind_case = PGCDC__VALUE__KIND_INT_VALUE;
	c->id.int_value = 1;
	pgcdc__value__init(&c->v);
	c->image[0] = &c->id;
	c->image[1] = &c->v;
	if (op == PGCDC__OP__OP_DELETE || op == PGCDC__OP__OP_UPDATE)
	{
		c->ev.n_before = 2;
		c->ev.before = c->image;
	}
	if (op != PGCDC__OP__OP_DELETE)
	{
		c->ev.n_after = 2;
		c->ev.after = c->image;
	}
}

/* An insert of (1, v) as walsink decodes it. */
static Outcome
insert_of(const Pgcdc__Value *v, uint32_t oid)
{
	Change		c;

	change_init(&c, PGCDC__OP__OP_INSERT, oid);
	c.v = *v;
	return decode_rec(&c.ev, NULL, NULL, 0);
}

static void
values_out_of_range(void)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;
	Outcome		o;
	char		frac[16387] = "0.";

	v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	v.time_value = INT64_C(86400000000);
	CHECK(insert_of(&v, 1083).kind == EVENT_UPSERT, "time 24:00:00 applied");
	v.time_value = -1;
	o = insert_of(&v, 1083);
	CHECK(o.kind == EVENT_BAD && strcmp(o.reason, "column \"v\": time value -1 (microseconds after midnight) "
										"is not between 00:00:00 and 24:00:00") == 0, "time -1: %s", o.reason);
	v.time_value = INT64_MIN;
	CHECK(bad_with(insert_of(&v, 1083), "time value -9223372036854775808"), "time INT64_MIN");
	v.time_value = INT64_C(86400000001);
	CHECK(bad_with(insert_of(&v, 1083), "time value 86400000001"), "time past 24:00:00");

	v.kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
	v.date_value = INT32_MIN;
	CHECK(bad_with(insert_of(&v, 1082), "column \"v\": date value -2147483648 (days from 1970-01-01) is not "
					 "between 4714-11-24 BC and 5874897-12-31"), "date INT32_MIN");
	v.date_value = INT32_MAX;
	CHECK(bad_with(insert_of(&v, 1082), "date value 2147483647"), "date INT32_MAX");
	v.kind_case = PGCDC__VALUE__KIND_TIMESTAMP_VALUE;
	v.timestamp_value = INT64_MIN;
	CHECK(bad_with(insert_of(&v, 1184), "timestamp value -9223372036854775808 (microseconds from 1970) is "
					 "before 4714-11-24 00:00:00 BC"), "timestamp INT64_MIN");
	v.timestamp_value = INT64_MAX;
	CHECK(insert_of(&v, 1184).kind == EVENT_UPSERT, "timestamp INT64_MAX (year 294247) applied");
	v.kind_case = PGCDC__VALUE__KIND_INFINITY;
	v.infinity = 3;
	CHECK(bad_with(insert_of(&v, 1184), "infinity of unknown sign 3"), "infinity of no sign");

	v.kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
	v.numeric_value = "1e5";
	CHECK(bad_with(insert_of(&v, 1700), "numeric value of 3 bytes is not a decimal number"), "numeric 1e5");
	v.numeric_value = "";
	CHECK(bad_with(insert_of(&v, 1700), "numeric value of 0 bytes"), "empty numeric");
	memset(frac + 2, '7', 16384);
	v.numeric_value = frac;
	CHECK(bad_with(insert_of(&v, 1700), "numeric value has 16384 digits after the point"), "numeric dscale");
	frac[16385] = '\0';
	CHECK(insert_of(&v, 1700).kind == EVENT_UPSERT, "numeric of 16383 digits after the point applied");

	v.kind_case = PGCDC__VALUE__KIND_UUID_VALUE;
	v.uuid_value.len = 0;
	v.uuid_value.data = NULL;
	CHECK(bad_with(insert_of(&v, 2950), "column \"v\": a uuid of 0 bytes"), "empty uuid");
}

/* A delete's key and a key change's old copy are checked like an insert's row; columns cached or not. */
static void
other_images(void)
{
	Change		c;
	Pgcdc__Value v = PGCDC__VALUE__INIT;

	change_init(&c, PGCDC__OP__OP_DELETE, 1083);
	c.v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	c.v.time_value = -5;
	CHECK(bad_with(decode_rec(&c.ev, NULL, NULL, 0), "column \"v\": time value -5"), "delete's old row");
	c.id.kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
	c.id.date_value = INT32_MIN;
	CHECK(bad_with(decode_rec(&c.ev, NULL, NULL, 0), "column \"id\": date value"), "delete's key value");

	change_init(&c, PGCDC__OP__OP_UPDATE, 1083);
	c.v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	c.v.time_value = 0;
	CHECK(decode_rec(&c.ev, "old", NULL, 0).kind == EVENT_DELETE, "a key change's old copy");
	c.v.time_value = INT64_MAX;
	CHECK(bad_with(decode_rec(&c.ev, "old", NULL, 0), "time value 9223372036854775807"),
		  "a key change's old copy with a bad value");
	CHECK(bad_with(decode_rec(&c.ev, "new", NULL, 0), "time value 9223372036854775807"),
		  "its new copy: the same values here");

	/* The first insert's columns are cached: the second's values are checked all the same. */
	v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	v.time_value = 1;
	CHECK(insert_of(&v, 1083).kind == EVENT_UPSERT && insert_of(&v, 1083).kind == EVENT_UPSERT, "cached columns");
	v.time_value = -1;
	CHECK(bad_with(insert_of(&v, 1083), "time value -1"), "a bad value with cached columns");
}

/* Lengths that claim more than there is: each a dead letter saying where. */
static void
lengths(void)
{
	Change		c;
	uint8_t		abc[3] = {'a', 'b', 'c'};
	/* after += Value{bytes_value: 1 GB claimed, 3 bytes there} */
	static const uint8_t gigabyte[] = {0x6a, 0x09, 0x6a, 0x80, 0x80, 0x80, 0x80, 0x04, 'a', 'b', 'c'};
	/* after: 2^64 - 1 bytes claimed */
	static const uint8_t huge[] = {0x6a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	/* schema: 1 GB claimed; a varint that never ends */
	static const uint8_t schema[] = {0x4a, 0x80, 0x80, 0x80, 0x80, 0x04, 'p'};
	static const uint8_t endless[] = {0x08, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81};
	Outcome		o;

	change_init(&c, PGCDC__OP__OP_INSERT, 17);
	c.v.kind_case = PGCDC__VALUE__KIND_BYTES_VALUE;
	c.v.bytes_value.data = abc;
	c.v.bytes_value.len = 3;
	CHECK(decode_rec(&c.ev, NULL, NULL, 0).kind == EVENT_UPSERT, "bytea");
	o = decode_rec(&c.ev, NULL, gigabyte, sizeof(gigabyte));
	CHECK(bad_with(o, "undecodable value: not a pgcdc ChangeEvent: field 13 at byte") &&
		  strstr(o.reason, "is cut short: 1073741824 bytes, 3 left"), "1 GB bytea claimed: %s", o.reason);
	o = decode_rec(&c.ev, NULL, huge, sizeof(huge));
	CHECK(bad_with(o, "is cut short: 18446744073709551615 bytes, 0 left"), "2^64-1 bytes claimed: %s", o.reason);
	o = decode_rec(&c.ev, NULL, schema, sizeof(schema));
	CHECK(bad_with(o, "field 9 at byte") && strstr(o.reason, "1073741824 bytes, 1 left"),
		  "1 GB schema claimed: %s", o.reason);
	o = decode_rec(&c.ev, NULL, endless, sizeof(endless));
	CHECK(bad_with(o, "undecodable value"), "endless varint: %s", o.reason);
	o = decode_bytes(gigabyte, 0, 1 << 20, NULL);
	CHECK(bad_with(o, "empty value"), "empty message: %s", o.reason);
	o = decode_bytes(NULL, 0, 1 << 20, NULL);
	CHECK(o.kind == EVENT_IGNORE && o.reason[0] == '\0', "a tombstone is passed over: %d %s", o.kind, o.reason);
	o = decode_bytes(gigabyte, sizeof(gigabyte), 8, NULL);
	CHECK(bad_with(o, "oversized value: 11 bytes, max.value.bytes is 8"), "oversized: %s", o.reason);
}

/*
 * A change of a table without key columns still has a key, an empty one:
 * keys are compared with memcmp, which must not get NULL (UB even for 0
 * bytes; found by fuzz-event).  walsink sorts by key a target table that has
 * a key, whatever the record says.
 */
static void
empty_key(void)
{
	Change		c;
	size_t		len;
	uint8_t    *buf;
	Event		e[2];

	change_init(&c, PGCDC__OP__OP_INSERT, 23);
	c.cols[0].key = false;
	c.v.kind_case = PGCDC__VALUE__KIND_IS_NULL;
	len = pgcdc__change_event__get_packed_size(&c.ev);
	buf = malloc(len);
	pgcdc__change_event__pack(&c.ev, buf);
	for (int i = 0; i < 2; i++)
		event_decode(&e[i], kafkastub_message(buf, len, NULL), 1 << 20, arena_allocator(arena), layouts, NULL, NULL);
	CHECK(e[0].kind == EVENT_UPSERT && e[0].key != NULL && e[0].keylen == 0, "an empty key, not NULL");
	CHECK(event_key_cmp(&e[0], &e[1]) == 0, "equal keyless events");
	for (int i = 0; i < 2; i++)
		event_free(&e[i]);
	free(buf);
}

/*
 * A snapshot chunk's row and a streamed change of one key order by position
 * alone: the row sits at its watermark (streamer/snapwatch.h).
 */
static void
chunk_row_by_position(void)
{
	uint8_t		key[1] = {7};
	Event		row = {.key = key, .keylen = 1, .pos = {0x1000, 3, 0}};
	Event		streamed = {.key = key, .keylen = 1, .pos = {0xfff, 9, 0}};

	CHECK(event_key_cmp(&streamed, &row) < 0, "a change committed before the watermark is older");
	streamed.pos.lsn = 0x1001;
	CHECK(event_key_cmp(&row, &streamed) < 0, "one committed after is newer");
	CHECK(event_key_cmp(&row, &row) == 0, "equal");
}

/* A record decoded at offset, with sc (NULL: not reading a transaction back). */
static Event
decode_at(const Pgcdc__ChangeEvent *ev, int64_t offset, const StreamCommit *sc)
{
	size_t		len = pgcdc__change_event__get_packed_size(ev);
	uint8_t    *buf = malloc(len);
	rd_kafka_message_t *m;
	Event		e;

	pgcdc__change_event__pack(ev, buf);
	m = kafkastub_message(buf, len, NULL);
	m->offset = offset;
	free(buf);
	event_decode(&e, m, 1 << 20, arena_allocator(arena), layouts, sc, NULL);
	return e;
}

/*
 * Streamed changes (proto `streamed`): ignored until read back with their
 * transaction's commit, then the committed transaction's, at its commit
 * LSN, seq less the rolled-back changes before it; a rolled-back one, or
 * one of another transaction or run, stays ignored.  The commit record is
 * checked before a partition seeks back by it.
 */
static void
streamed(void)
{
	static uint32_t aborted[] = {2, 3, 8, 1};
	StreamCommit sc = {5, 9, 0x500, 1234, 3, aborted, 4};
	Pgcdc__StreamInfo info = PGCDC__STREAM_INFO__INIT;
	Change		c;
	Event		e;
	struct
	{
		uint32_t	xid;
		uint64_t	run;
		uint32_t	seq;
		bool		applies;
		uint32_t	committed_seq;
	}			cases[] = {
		{5, 9, 10, true, 6}, {5, 9, 1, true, 1}, {5, 9, 5, true, 2}, {5, 9, 3, false, 0},
		{5, 9, 8, false, 0}, {5, 8, 10, false, 0}, {6, 9, 10, false, 0},
	};

	change_init(&c, PGCDC__OP__OP_INSERT, 23);
	c.v.kind_case = PGCDC__VALUE__KIND_INT_VALUE;
	c.ev.commit_lsn = 0;
	c.ev.streamed = true;
	c.ev.stream = &info;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		c.ev.xid = cases[i].xid;
		info.run = cases[i].run;
		c.ev.seq = cases[i].seq;
		e = decode_at(&c.ev, 4, NULL);
		CHECK(e.kind == EVENT_IGNORE, "case %zu: in progress, ignored", i);
		CHECK(event_streamed_by(e.msg, &sc) == (cases[i].xid == 5 && cases[i].run == 9),
			  "case %zu: read from its bytes", i);
		event_free(&e);
		e = decode_at(&c.ev, 4, &sc);
		if (cases[i].applies)
			CHECK(e.kind == EVENT_UPSERT && e.pos.lsn == 0x500 && e.pos.seq == cases[i].committed_seq &&
				  e.rec->commit_ts == 1234 && !e.rec->streamed,
				  "case %zu: kind %d at %llx #%llu", i, (int) e.kind, (unsigned long long) e.pos.lsn,
				  (unsigned long long) e.pos.seq);
		else
			CHECK(e.kind == EVENT_IGNORE, "case %zu: not the transaction's, or rolled back", i);
		event_free(&e);
	}

	/* The commit record. */
	{
		static uint32_t good[] = {2, 3, 8, 1};
		static uint32_t overlapping[] = {2, 3, 4, 1};
		static uint32_t odd[] = {2, 3, 8};
		Pgcdc__ChangeEvent ev = PGCDC__CHANGE_EVENT__INIT;
		StreamCommit got;

		ev.version = 1;
		ev.op = PGCDC__OP__OP_STREAM_COMMIT;
		ev.xid = 5;
		ev.commit_lsn = 0x500;
		ev.commit_ts = 1234;
		ev.stream = &info;
		info.run = 9;
		info.first_offset = 3;
		info.aborted = good;
		info.n_aborted = 4;
		e = decode_at(&ev, 10, NULL);
		CHECK(e.kind == EVENT_IGNORE && e.stream_commit, "a commit record: %s", e.reason ? e.reason : "");
		if (e.stream_commit)
		{
			got = event_stream_commit(&e);
			CHECK(got.xid == 5 && got.run == 9 && got.commit_lsn == 0x500 && got.first_offset == 3 &&
				  got.naborted == 4 && got.aborted[2] == 8, "its fields");
		}
		event_free(&e);
		info.first_offset = 10;
		e = decode_at(&ev, 10, NULL);
		CHECK(e.kind == EVENT_BAD && strstr(e.reason, "not before it"), "first change not before it: %s",
			  e.reason ? e.reason : "");
		event_free(&e);
		info.first_offset = 3;
		info.aborted = overlapping;
		e = decode_at(&ev, 10, NULL);
		CHECK(e.kind == EVENT_BAD && strstr(e.reason, "overlapping"), "overlapping ranges");
		event_free(&e);
		info.aborted = odd;
		info.n_aborted = 3;
		e = decode_at(&ev, 10, NULL);
		CHECK(e.kind == EVENT_BAD && strstr(e.reason, "pairs"), "not pairs");
		event_free(&e);
		ev.stream = NULL;
		e = decode_at(&ev, 10, NULL);
		CHECK(e.kind == EVENT_BAD && strstr(e.reason, "run"), "no stream info");
		event_free(&e);
	}
}

int
main(void)
{
	arena = arena_new();
	layouts = layouts_new();
	values_out_of_range();
	other_images();
	lengths();
	empty_key();
	chunk_row_by_position();
	streamed();
	layouts_free(layouts);
	arena_free(arena);
	return unit_summary("event");
}
