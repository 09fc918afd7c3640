/*
 * test_record.c — the record scanner against hand-built wire bytes: fields
 * found, unknown fields skipped, keys built from key positions, and every
 * truncation of a valid record rejected or scanned without reading past it;
 * a snapshot row's position taken out and put back (its watermark's).
 */
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "unit.h"

/* A tiny protobuf writer for building test records. */
typedef struct Buf
{
	uint8_t		data[1024];
	size_t		len;
} Buf;

static void
varint(Buf *b, uint64_t v)
{
	do
	{
		b->data[b->len++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void
field_varint(Buf *b, uint32_t field, uint64_t v)
{
	varint(b, (uint64_t) field << 3);
	varint(b, v);
}

static void
field_bytes(Buf *b, uint32_t field, const void *data, size_t len)
{
	varint(b, (uint64_t) field << 3 | 2);
	varint(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* Value{int_value = v} (sint64, zigzag). */
static Buf
int_value(int64_t v)
{
	Buf			b = {.len = 0};

	field_varint(&b, 4, ((uint64_t) v << 1) ^ (uint64_t) (v >> 63));
	return b;
}

static Buf
text_value(const char *s)
{
	Buf			b = {.len = 0};

	field_bytes(&b, 11, s, strlen(s));
	return b;
}

static Buf
column(const char *name, bool key)
{
	Buf			b = {.len = 0};

	field_bytes(&b, 1, name, strlen(name));
	field_varint(&b, 2, 23);
	if (key)
		field_varint(&b, 4, 1);
	return b;
}

static void
relation_record(void)
{
	Buf			b = {.len = 0};
	Record		r;
	char		err[128];
	Buf			c1 = column("id", true),
				c2 = column("v", false),
				c3 = column("k2", true);

	field_varint(&b, 1, 1);
	field_varint(&b, 2, PGCDC__OP__OP_RELATION);
	field_bytes(&b, 9, "public", 6);
	field_bytes(&b, 10, "t", 1);
	field_varint(&b, 11, 16384);
	field_bytes(&b, 16, c1.data, c1.len);
	field_bytes(&b, 16, c2.data, c2.len);
	field_bytes(&b, 16, c3.data, c3.len);
	field_bytes(&b, 99, "future", 6);	/* unknown: skipped */
	field_varint(&b, 98, 7);

	record_init(&r);
	CHECK(record_scan(b.data, b.len, &r, err, sizeof(err)), "relation record: %s", err);
	CHECK(r.op == PGCDC__OP__OP_RELATION && r.relid == 16384, "op %u relid %u", r.op, r.relid);
	CHECK(r.schema.len == 6 && memcmp(r.schema.data, "public", 6) == 0, "schema");
	CHECK(r.columns.n == 3, "columns %zu", r.columns.n);
	CHECK(record_column_is_key(r.columns.items[0]) && !record_column_is_key(r.columns.items[1]) &&
		  record_column_is_key(r.columns.items[2]), "key flags");

	/* Every prefix of it either fails cleanly or is a valid shorter record. */
	for (size_t n = 0; n < b.len; n++)
	{
		uint8_t    *copy = malloc(n ? n : 1);	/* exactly n bytes: ASan sees any overread */

		memcpy(copy, b.data, n);
		(void) record_scan(copy, n, &r, err, sizeof(err));
		free(copy);
	}
	record_free(&r);
}

static void
change_and_key(void)
{
	Buf			b = {.len = 0};
	Record		r;
	char		err[128];
	uint32_t	keys[] = {0, 2};
	uint8_t		key[64];
	size_t		n;
	Buf			v1 = int_value(-5),
				v2 = text_value("hello"),
				v3 = int_value(300),
				empty = {.len = 0};

	field_varint(&b, 2, PGCDC__OP__OP_UPDATE);
	field_varint(&b, 3, 0x1000000ABCULL);
	field_varint(&b, 11, 16384);
	field_bytes(&b, 12, empty.data, 0);	/* before: key only, non-key unset */
	field_bytes(&b, 12, empty.data, 0);
	field_bytes(&b, 12, v3.data, v3.len);
	field_bytes(&b, 13, v1.data, v1.len);
	field_bytes(&b, 13, v2.data, v2.len);
	field_bytes(&b, 13, v3.data, v3.len);

	record_init(&r);
	CHECK(record_scan(b.data, b.len, &r, err, sizeof(err)), "update: %s", err);
	CHECK(r.commit_lsn == 0x1000000ABCULL, "commit_lsn");
	CHECK(r.before.n == 3 && r.after.n == 3, "images %zu %zu", r.before.n, r.after.n);

	n = record_key(&r.after, keys, 2, key, sizeof(key));
	CHECK(n == 2 + v1.len + 2 + v3.len, "key length %zu", n);
	CHECK(key[0] == 0x0a && key[1] == v1.len && memcmp(key + 2, v1.data, v1.len) == 0 &&
		  key[2 + v1.len] == 0x0a && memcmp(key + 4 + v1.len, v3.data, v3.len) == 0, "key bytes");
	CHECK(record_key(&r.after, keys, 2, key, 3) == n, "a short buffer still reports the length");
	CHECK(record_key(&r.before, keys, 2, key, sizeof(key)) == 0, "an unset key value: no key");
	CHECK(record_key(&r.after, keys, 0, key, sizeof(key)) == 0, "no key columns: no key");
	record_free(&r);
}

static void
malformed(void)
{
	Record		r;
	char		err[128];
	const uint8_t bad_wire[] = {0x13};	/* field 2, wire type 3 (groups): refused */
	const uint8_t long_len[] = {0x4a, 0x7f, 'a'};	/* schema claims 127 bytes */
	const uint8_t no_op[] = {0x08, 0x01};
	const uint8_t wrong_type[] = {0x10, 0x03, 0x48, 0x05};	/* schema as a varint */
	const uint8_t endless[] = {0x10, 0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};

	record_init(&r);
	CHECK(!record_scan(bad_wire, sizeof(bad_wire), &r, err, sizeof(err)), "group wire type");
	CHECK(!record_scan(long_len, sizeof(long_len), &r, err, sizeof(err)), "length past the end");
	CHECK(!record_scan(no_op, sizeof(no_op), &r, err, sizeof(err)) &&
		  strstr(err, "unknown operation") != NULL, "no op: %s", err);
	CHECK(!record_scan(wrong_type, sizeof(wrong_type), &r, err, sizeof(err)), "wrong wire type");
	CHECK(!record_scan(endless, sizeof(endless), &r, err, sizeof(err)), "varint too long");
	record_free(&r);
}

static void
frames(void)
{
	/* Two records of 2 and 130 bytes (a two-byte length), then a cut frame. */
	uint8_t		batch[2 + 1 + 2 + 130];
	const uint8_t *rec;
	size_t		reclen,
				at = 0;
	char		err[128];
	const uint8_t endless[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};

	memset(batch, 0x55, sizeof(batch));
	batch[0] = 2;
	batch[3] = 0x82;
	batch[4] = 0x01;
	CHECK(record_frame(batch, sizeof(batch), &at, &rec, &reclen, err, sizeof(err)) &&
		  rec == batch + 1 && reclen == 2 && at == 3, "first frame");
	CHECK(record_frame(batch, sizeof(batch), &at, &rec, &reclen, err, sizeof(err)) &&
		  rec == batch + 5 && reclen == 130 && at == sizeof(batch), "two-byte length");
	at = 3;
	CHECK(!record_frame(batch, sizeof(batch) - 1, &at, &rec, &reclen, err, sizeof(err)) &&
		  strstr(err, "only 129 left") != NULL, "cut short: %s", err);
	at = 3;
	CHECK(!record_frame(batch, 4, &at, &rec, &reclen, err, sizeof(err)), "length cut in two");
	at = 0;
	CHECK(!record_frame(endless, sizeof(endless), &at, &rec, &reclen, err, sizeof(err)) &&
		  strstr(err, "bad record length") != NULL, "not a varint: %s", err);
}

/* A READ record without its position, then at a watermark's: every other field as it was. */
static void
positions(void)
{
	Buf			b = {.len = 0};
	Buf			v = int_value(7);
	uint8_t		out[1024 + RECORD_POSITION_MAX];
	size_t		len;
	Record		r;
	char		err[128];

	record_init(&r);
	field_varint(&b, 1, 1);
	field_varint(&b, 2, 8);		/* READ */
	field_varint(&b, 3, 0x1234);	/* commit_lsn, lsn, seq as read_record wrote them */
	field_varint(&b, 4, 0x1234);
	field_varint(&b, 5, 9);
	field_bytes(&b, 9, "public", 6);
	field_bytes(&b, 13, v.data, v.len);
	len = record_without_position(b.data, b.len, out);
	CHECK(len == b.len - 2 * 3 - 2, "three fields of the position left out (%zu of %zu bytes)", len, b.len);
	CHECK(record_scan(out, len, &r, err, sizeof(err)) && r.commit_lsn == 0 && r.lsn == 0 &&
		  r.op == PGCDC__OP__OP_READ && r.after.n == 1 && r.schema.len == 6, "the rest intact: %s", err);
	len = (size_t) (record_put_position(out + len, UINT64_C(0x1600000A0), 42) - out);
	CHECK(record_scan(out, len, &r, err, sizeof(err)) && r.commit_lsn == UINT64_C(0x1600000A0) &&
		  r.lsn == UINT64_C(0x1600000A0) && r.after.n == 1, "placed at the watermark: %s", err);
	CHECK(len <= b.len + RECORD_POSITION_MAX, "within RECORD_POSITION_MAX");
	record_free(&r);
}

int
main(void)
{
	positions();
	relation_record();
	change_and_key();
	malformed();
	frames();
	return unit_summary("record");
}
