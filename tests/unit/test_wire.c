/*
 * test_wire.c — proto/wire.h: each field number against protobuf-c's
 * generated descriptors (the ones no generated constant checks at compile
 * time), varints and zigzag against protobuf's documented bytes, what the
 * writers write read back by libprotobuf-c, and the field reader on
 * well-formed, cut and malformed input.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc.pb-c.h"
#include "unit.h"
#include "wire.h"

/* A constant of wire.h against the descriptor's field of that name. */
static void
field_is(const ProtobufCMessageDescriptor *desc, const char *name, int number)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);

	CHECK(f != NULL, "%s.%s: no such field in cdc.proto", desc->short_name, name);
	if (f != NULL)
		CHECK((int) f->id == number, "%s.%s is field %u in cdc.proto, %d in wire.h",
			  desc->short_name, name, f->id, number);
}

/* Every field of desc has a constant: counted against what field_is() saw. */
static void
all_fields(const ProtobufCMessageDescriptor *desc, unsigned checked)
{
	CHECK(desc->n_fields == checked, "%s has %u fields, wire.h names %u",
		  desc->short_name, desc->n_fields, checked);
}

static void
field_numbers(void)
{
	const ProtobufCMessageDescriptor *d = &pgcdc__change_event__descriptor;

	field_is(d, "version", WIRE_CHANGE_EVENT_VERSION);
	field_is(d, "op", WIRE_CHANGE_EVENT_OP);
	field_is(d, "commit_lsn", WIRE_CHANGE_EVENT_COMMIT_LSN);
	field_is(d, "lsn", WIRE_CHANGE_EVENT_LSN);
	field_is(d, "seq", WIRE_CHANGE_EVENT_SEQ);
	field_is(d, "xid", WIRE_CHANGE_EVENT_XID);
	field_is(d, "commit_ts", WIRE_CHANGE_EVENT_COMMIT_TS);
	field_is(d, "database", WIRE_CHANGE_EVENT_DATABASE);
	field_is(d, "schema", WIRE_CHANGE_EVENT_SCHEMA);
	field_is(d, "table", WIRE_CHANGE_EVENT_TABLE);
	field_is(d, "relid", WIRE_CHANGE_EVENT_RELID);
	field_is(d, "before", WIRE_CHANGE_EVENT_BEFORE);
	field_is(d, "after", WIRE_CHANGE_EVENT_AFTER);
	field_is(d, "snapshot", WIRE_CHANGE_EVENT_SNAPSHOT);
	field_is(d, "replica_identity", WIRE_CHANGE_EVENT_REPLICA_IDENTITY);
	field_is(d, "columns", WIRE_CHANGE_EVENT_COLUMNS);
	field_is(d, "truncated", WIRE_CHANGE_EVENT_TRUNCATED);
	field_is(d, "cascade", WIRE_CHANGE_EVENT_CASCADE);
	field_is(d, "restart_identity", WIRE_CHANGE_EVENT_RESTART_IDENTITY);
	field_is(d, "prefix", WIRE_CHANGE_EVENT_PREFIX);
	field_is(d, "content", WIRE_CHANGE_EVENT_CONTENT);
	field_is(d, "transactional", WIRE_CHANGE_EVENT_TRANSACTIONAL);
	field_is(d, "end_lsn", WIRE_CHANGE_EVENT_END_LSN);
	field_is(d, "event_counts", WIRE_CHANGE_EVENT_EVENT_COUNTS);
	field_is(d, "oversized", WIRE_CHANGE_EVENT_OVERSIZED);
	field_is(d, "range", WIRE_CHANGE_EVENT_RANGE);
	field_is(d, "streamed", WIRE_CHANGE_EVENT_STREAMED);
	field_is(d, "subxid", WIRE_CHANGE_EVENT_SUBXID);
	field_is(d, "stream", WIRE_CHANGE_EVENT_STREAM);
	all_fields(d, 29);

	d = &pgcdc__column__descriptor;
	field_is(d, "name", WIRE_COLUMN_NAME);
	field_is(d, "type_oid", WIRE_COLUMN_TYPE_OID);
	field_is(d, "type_name", WIRE_COLUMN_TYPE_NAME);
	field_is(d, "key", WIRE_COLUMN_KEY);
	field_is(d, "not_null", WIRE_COLUMN_NOT_NULL);
	field_is(d, "base_type_oid", WIRE_COLUMN_BASE_TYPE_OID);
	field_is(d, "base_type_name", WIRE_COLUMN_BASE_TYPE_NAME);
	field_is(d, "enum_labels", WIRE_COLUMN_ENUM_LABELS);
	all_fields(d, 8);

	/* Value's numbers are its oneof cases (wire.h): pack.c and json.c need it to be one oneof. */
	d = &pgcdc__value__descriptor;
	for (unsigned i = 0; i < d->n_fields; i++)
		CHECK((d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0, "Value.%s is not in the oneof",
			  d->fields[i].name);
	field_is(d, "int_value", WIRE_VALUE_INT_VALUE);

	d = &pgcdc__relation_ref__descriptor;
	field_is(d, "schema", WIRE_RELATION_REF_SCHEMA);
	field_is(d, "table", WIRE_RELATION_REF_TABLE);
	field_is(d, "relid", WIRE_RELATION_REF_RELID);
	all_fields(d, 3);

	d = &pgcdc__table_count__descriptor;
	field_is(d, "schema", WIRE_TABLE_COUNT_SCHEMA);
	field_is(d, "table", WIRE_TABLE_COUNT_TABLE);
	field_is(d, "count", WIRE_TABLE_COUNT_COUNT);
	all_fields(d, 3);

	d = &pgcdc__oversized__descriptor;
	field_is(d, "op", WIRE_OVERSIZED_OP);
	field_is(d, "size", WIRE_OVERSIZED_SIZE);
	field_is(d, "limit", WIRE_OVERSIZED_LIMIT);
	field_is(d, "limit_name", WIRE_OVERSIZED_LIMIT_NAME);
	all_fields(d, 4);

	d = &pgcdc__key__descriptor;
	field_is(d, "values", WIRE_KEY_VALUES);
	all_fields(d, 1);

	d = &pgcdc__snapshot_range__descriptor;
	field_is(d, "after", WIRE_SNAPSHOT_RANGE_AFTER);
	field_is(d, "last", WIRE_SNAPSHOT_RANGE_LAST);
	field_is(d, "keep", WIRE_SNAPSHOT_RANGE_KEEP);
	field_is(d, "collations", WIRE_SNAPSHOT_RANGE_COLLATIONS);
	field_is(d, "keyless", WIRE_SNAPSHOT_RANGE_KEYLESS);
	all_fields(d, 5);

	d = &pgcdc__stream_info__descriptor;
	field_is(d, "aborted", WIRE_STREAM_INFO_ABORTED);
	field_is(d, "run", WIRE_STREAM_INFO_RUN);
	field_is(d, "first_offset", WIRE_STREAM_INFO_FIRST_OFFSET);
	all_fields(d, 3);
}

/* Varints as protobuf's encoding guide writes them, and back. */
static void
varints(void)
{
	static const struct
	{
		uint64_t	v;
		size_t		n;
		uint8_t		bytes[10];
	}			cases[] = {
		{0, 1, {0x00}},
		{1, 1, {0x01}},
		{127, 1, {0x7f}},
		{128, 2, {0x80, 0x01}},
		{150, 2, {0x96, 0x01}},
		{300, 2, {0xac, 0x02}},
		{UINT32_MAX, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
		{UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		uint8_t		out[WIRE_VARINT_MAX];
		uint8_t    *end = wire_put_varint(out, cases[i].v);
		const uint8_t *p = out;
		uint64_t	back = 0;

		CHECK(wire_varint_size(cases[i].v) == cases[i].n, "size of %llu: %zu",
			  (unsigned long long) cases[i].v, wire_varint_size(cases[i].v));
		CHECK((size_t) (end - out) == cases[i].n && memcmp(out, cases[i].bytes, cases[i].n) == 0,
			  "bytes of %llu", (unsigned long long) cases[i].v);
		CHECK(wire_get_varint(&p, end, &back) && back == cases[i].v && p == end,
			  "%llu read back as %llu", (unsigned long long) cases[i].v, (unsigned long long) back);
		/* Every cut of it is refused. */
		for (size_t cut = 0; cut < cases[i].n; cut++)
		{
			p = out;
			CHECK(!wire_get_varint(&p, out + cut, &back), "%llu cut to %zu bytes read",
				  (unsigned long long) cases[i].v, cut);
		}
	}

	/* Eleven continuation bytes: longer than 64 bits. */
	{
		uint8_t		eleven[11];
		const uint8_t *p = eleven;
		uint64_t	v;

		memset(eleven, 0x80, sizeof(eleven));
		CHECK(!wire_get_varint(&p, eleven + sizeof(eleven), &v), "an 11-byte varint read");
	}

	CHECK(wire_zigzag64(0) == 0 && wire_zigzag64(-1) == 1 && wire_zigzag64(1) == 2 &&
		  wire_zigzag64(-2) == 3 && wire_zigzag64(INT64_MAX) == UINT64_MAX - 1 &&
		  wire_zigzag64(INT64_MIN) == UINT64_MAX, "zigzag64");
	CHECK(wire_zigzag32(-1) == 1 && wire_zigzag32(INT32_MIN) == UINT32_MAX, "zigzag32");
	CHECK(wire_unzigzag64(wire_zigzag64(INT64_MIN)) == INT64_MIN &&
		  wire_unzigzag64(wire_zigzag64(-12345)) == -12345 &&
		  wire_unzigzag64(wire_zigzag64(INT64_MAX)) == INT64_MAX, "unzigzag64");
	CHECK(wire_enum(-1) == UINT64_MAX && wire_enum(7) == 7, "enum");
	CHECK(wire_tag(WIRE_CHANGE_EVENT_OVERSIZED, WIRE_TYPE_LEN) == (25 << 3 | 2) &&
		  wire_tag_size(15) == 1 && wire_tag_size(16) == 2, "tags");
}

/* What the writers write, unpacked by libprotobuf-c. */
static void
writers(void)
{
	uint8_t		buf[256];
	uint8_t    *p = buf;
	Pgcdc__ChangeEvent *ev;
	size_t		want;

	want = wire_varint_field_size(WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_OVERSIZED) +
		wire_varint_field_size(WIRE_CHANGE_EVENT_LSN, UINT64_C(0x16B3F28)) +
		wire_len_field_size(WIRE_CHANGE_EVENT_SCHEMA, 6) +
		wire_len_field_size(WIRE_CHANGE_EVENT_CONTENT, 0);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_OVERSIZED);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_LSN, UINT64_C(0x16B3F28));
	p = wire_put_len_field(p, WIRE_CHANGE_EVENT_SCHEMA, "public", 6);
	p = wire_put_len_field(p, WIRE_CHANGE_EVENT_CONTENT, NULL, 0);
	CHECK((size_t) (p - buf) == want, "wrote %zu bytes, sized %zu", (size_t) (p - buf), want);
	ev = pgcdc__change_event__unpack(NULL, (size_t) (p - buf), buf);
	if (CHECK(ev != NULL, "libprotobuf-c does not unpack what wire.h wrote"))
	{
		CHECK(ev->op == PGCDC__OP__OP_OVERSIZED && ev->lsn == UINT64_C(0x16B3F28) &&
			  strcmp(ev->schema, "public") == 0 && ev->content.len == 0,
			  "unpacked op %d lsn %llx schema %s", (int) ev->op, (unsigned long long) ev->lsn, ev->schema);
		pgcdc__change_event__free_unpacked(ev, NULL);
	}
}

static void
reader(void)
{
	uint8_t		buf[64];
	uint8_t    *end = buf;
	const uint8_t *p = buf;
	WireField	f;

	end = wire_put_varint_field(end, WIRE_CHANGE_EVENT_XID, 300);
	end = wire_put_len_field(end, WIRE_CHANGE_EVENT_TABLE, "t1", 2);
	end = wire_put_tag(end, 5, WIRE_TYPE_I64);
	memcpy(end, "12345678", 8);
	end += 8;
	end = wire_put_tag(end, 6, WIRE_TYPE_I32);
	memcpy(end, "abcd", 4);
	end += 4;

	CHECK(wire_get_field(&p, end, &f) == WIRE_OK && f.number == WIRE_CHANGE_EVENT_XID &&
		  f.type == WIRE_TYPE_VARINT && f.varint == 300, "varint field");
	CHECK(wire_get_field(&p, end, &f) == WIRE_OK && f.number == WIRE_CHANGE_EVENT_TABLE &&
		  f.type == WIRE_TYPE_LEN && f.len == 2 && memcmp(f.data, "t1", 2) == 0, "length-delimited field");
	CHECK(wire_get_field(&p, end, &f) == WIRE_OK && f.number == 5 && f.type == WIRE_TYPE_I64 &&
		  f.len == 8 && memcmp(f.data, "12345678", 8) == 0, "64-bit field");
	CHECK(wire_get_field(&p, end, &f) == WIRE_OK && f.number == 6 && f.type == WIRE_TYPE_I32 &&
		  f.len == 4 && memcmp(f.data, "abcd", 4) == 0 && p == end, "32-bit field");
	CHECK(wire_get_field(&p, end, &f) == WIRE_NO_TAG && p == end, "past the end");

	/* The length-delimited field cut inside its payload: its claimed length, *p unmoved. */
	p = buf;
	wire_get_field(&p, end, &f);
	{
		const uint8_t *at = p;

		CHECK(wire_get_field(&p, at + 3, &f) == WIRE_CUT_SHORT && f.len == 2 &&
			  f.data == at + 2 && p == at, "payload cut short");
		CHECK(wire_get_field(&p, at + 1, &f) == WIRE_CUT_SHORT && f.len == 0 && p == at,
			  "length cut short");
	}
	/* The 64-bit field cut short. */
	p = buf + 7;
	CHECK(wire_get_field(&p, buf + 12, &f) == WIRE_CUT_SHORT && f.len == 8, "fixed field cut short");

	/* Wire types 3, 4 (groups), 6 and 7. */
	for (int t = 3; t <= 7; t++)
	{
		uint8_t		one = (uint8_t) (1 << 3 | t);

		if (t == 5)
			continue;
		p = &one;
		CHECK(wire_get_field(&p, &one + 1, &f) == WIRE_BAD_TYPE && p == &one, "wire type %d", t);
	}
}

int
main(void)
{
	field_numbers();
	varints();
	writers();
	reader();
	return unit_summary("test_wire");
}
