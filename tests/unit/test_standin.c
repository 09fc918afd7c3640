/*
 * test_standin.c — the words walstreamer logs for an oversized change
 * (standin_describe) and the stand-in it sends in its place
 * (standin_value), from records built with proto/wire.h; a key Value whose
 * wire type is not its field's (a forged record) is named "?", never read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "standin.h"
#include "unit.h"
#include "wire.h"

typedef struct Bytes
{
	uint8_t		data[512];
	size_t		len;
} Bytes;

static void
put_varint(Bytes *b, uint32_t number, uint64_t v)
{
	b->len = (size_t) (wire_put_varint_field(b->data + b->len, number, v) - b->data);
}

static void
put_len(Bytes *b, uint32_t number, const void *data, size_t len)
{
	b->len = (size_t) (wire_put_len_field(b->data + b->len, number, data, len) - b->data);
}

/* A fixed-size field (WIRE_TYPE_I64 or I32, or a forged size): its n bytes as they are. */
static void
put_fixed(Bytes *b, uint32_t number, int type, const void *data, size_t n)
{
	b->len = (size_t) (wire_put_tag(b->data + b->len, number, type) - b->data);
	memcpy(b->data + b->len, data, n);
	b->len += n;
}

static void
put_bytes(Bytes *b, const Bytes *inner, uint32_t number)
{
	put_len(b, number, inner->data, inner->len);
}

/*
 * An insert into public.t (id key, v), after image (value, 11), as
 * walstreamer produces it: the RELATION record's fields, then the change's.
 */
static Bytes
insert(const Bytes *key_value)
{
	Bytes		b = {.len = 0};
	Bytes		id = {.len = 0},
				v = {.len = 0},
				other = {.len = 0};

	put_len(&id, WIRE_COLUMN_NAME, "id", 2);
	put_varint(&id, WIRE_COLUMN_TYPE_OID, 23);
	put_varint(&id, WIRE_COLUMN_KEY, 1);
	put_len(&v, WIRE_COLUMN_NAME, "v", 1);
	put_varint(&v, WIRE_COLUMN_TYPE_OID, 25);
	put_len(&other, WIRE_VALUE_TEXT_VALUE, "x", 1);

	put_varint(&b, WIRE_CHANGE_EVENT_VERSION, 1);
	put_varint(&b, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_RELATION);
	put_len(&b, WIRE_CHANGE_EVENT_SCHEMA, "public", 6);
	put_len(&b, WIRE_CHANGE_EVENT_TABLE, "t", 1);
	put_varint(&b, WIRE_CHANGE_EVENT_RELID, 16384);
	put_bytes(&b, &id, WIRE_CHANGE_EVENT_COLUMNS);
	put_bytes(&b, &v, WIRE_CHANGE_EVENT_COLUMNS);
	put_varint(&b, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_INSERT);
	put_varint(&b, WIRE_CHANGE_EVENT_COMMIT_LSN, 0x16B3F28);
	put_varint(&b, WIRE_CHANGE_EVENT_LSN, 0x16B3E00);
	put_varint(&b, WIRE_CHANGE_EVENT_SEQ, 3);
	put_bytes(&b, key_value, WIRE_CHANGE_EVENT_AFTER);
	put_bytes(&b, &other, WIRE_CHANGE_EVENT_AFTER);
	return b;
}

/*
 * standin_describe of the insert whose key is key_value names the key as
 * key, from a copy exactly its size (ASan sees an overread).
 */
static void
check_described(const Bytes *key_value, const char *key)
{
	Bytes		b = insert(key_value);
	uint8_t    *copy = malloc(b.len);
	char		out[400];
	char		want[400];

	memcpy(copy, b.data, b.len);
	standin_describe(copy, b.len, out, sizeof(out));
	snprintf(want, sizeof(want), "insert of public.t (id)=(%s) (commit 0/16B3F28, change #3 at 0/16B3E00)", key);
	CHECK(strcmp(out, want) == 0, "described as \"%s\", \"%s\" expected", out, want);
	free(copy);
}

static void
describe(void)
{
	Bytes		v = {.len = 0};
	double		d = 1.5;

	put_varint(&v, WIRE_VALUE_INT_VALUE, wire_zigzag64(11));
	check_described(&v, "11");

	v.len = 0;
	put_fixed(&v, WIRE_VALUE_FLOAT_VALUE, WIRE_TYPE_I64, &d, sizeof(d));	/* little-endian, as protobuf */
	check_described(&v, "1.5");

	v.len = 0;
	put_len(&v, WIRE_VALUE_TEXT_VALUE, "abc", 3);
	check_described(&v, "abc");
}

/* Forged: each Value field under a wire type that is not its own. */
static void
forged(void)
{
	Bytes		v = {.len = 0};

	/* float_value as a varint: no payload at all. */
	put_varint(&v, WIRE_VALUE_FLOAT_VALUE, 42);
	check_described(&v, "?");

	/* float_value as 32 bits: 4 bytes where 8 would be read. */
	v.len = 0;
	put_fixed(&v, WIRE_VALUE_FLOAT_VALUE, WIRE_TYPE_I32, "\x3f\x3f\x3f\x3f", 4);
	check_described(&v, "?");

	/* float_value as bytes, of one byte. */
	v.len = 0;
	put_len(&v, WIRE_VALUE_FLOAT_VALUE, "x", 1);
	check_described(&v, "?");

	/* text_value and int_value the other way round. */
	v.len = 0;
	put_varint(&v, WIRE_VALUE_TEXT_VALUE, 7);
	check_described(&v, "?");
	v.len = 0;
	put_len(&v, WIRE_VALUE_INT_VALUE, "12345678", 8);
	check_described(&v, "?");
}

/* The stand-in: op OP_OVERSIZED, the key's Value kept, the other column's dropped. */
static void
stand_in(void)
{
	Bytes		v = {.len = 0};
	Bytes		b;
	Oversize	o = {2097152, 1048576, "message.max.bytes", "pgcdc.public.t"};
	uint8_t    *s;
	size_t		len = 0;
	size_t		at = 0;
	RecordField f;
	uint64_t	op = 0;
	size_t		after = 0;
	bool		oversized = false;

	put_varint(&v, WIRE_VALUE_INT_VALUE, wire_zigzag64(11));
	b = insert(&v);
	s = standin_value(b.data, b.len, &o, &len);
	if (!CHECK(s != NULL, "no stand-in for a well-formed insert"))
		return;
	while (record_next_field(s, len, &at, &f))
	{
		if (f.number == WIRE_CHANGE_EVENT_OP && f.wire == WIRE_TYPE_VARINT)
			op = f.varint;
		else if (f.number == WIRE_CHANGE_EVENT_AFTER && f.wire == WIRE_TYPE_LEN)
		{
			if (after == 0)
				CHECK(f.payload.len == v.len && memcmp(f.payload.data, v.data, v.len) == 0,
					  "the key's Value changed");
			else
				CHECK(f.payload.len == 0, "a Value of %zu bytes kept outside the key", f.payload.len);
			after++;
		}
		else if (f.number == WIRE_CHANGE_EVENT_OVERSIZED && f.wire == WIRE_TYPE_LEN)
			oversized = true;
	}
	CHECK(at == len, "stand-in not well-formed at byte %zu of %zu", at, len);
	CHECK(op == PGCDC__OP__OP_OVERSIZED, "op %llu", (unsigned long long) op);
	CHECK(oversized, "no Oversized message");
	CHECK(after == 2, "%zu after Values", after);
	free(s);

	/* Not a record: no stand-in. */
	CHECK(standin_value((const uint8_t *) "\xff", 1, &o, &len) == NULL, "a stand-in for garbage");
}

int
main(void)
{
	describe();
	forged();
	stand_in();
	return unit_summary("test_standin");
}
