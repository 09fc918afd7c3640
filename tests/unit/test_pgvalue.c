/*
 * test_pgvalue.c — values in their output functions' text (as pgoutput sends
 * them) made into the plugin's canonical Values: each class to the byte,
 * the ends of the ranges (BC dates, infinity, a timestamp past what µs
 * after 1970 hold, 24:00:00), and text no output function writes refused.
 */
#include <string.h>

#include "pgvalue.h"
#include "unit.h"
#include "wire.h"

static uint8_t out[256];
static char err[256];

static size_t
body(PgvClass c, const char *text)
{
	err[0] = '\0';
	return pgvalue_body(c, text, strlen(text), out, err, sizeof(err));
}

/* The body is the one varint field `field` holding v. */
static bool
is_varint(size_t n, int field, uint64_t v)
{
	uint8_t		want[32];
	size_t		len = (size_t) (wire_put_varint_field(want, (uint32_t) field, v) - want);

	return n == len && memcmp(out, want, len) == 0;
}

static bool
is_len(size_t n, int field, const void *data, size_t len)
{
	uint8_t		want[128];
	size_t		wlen = (size_t) (wire_put_len_field(want, (uint32_t) field, data, len) - want);

	return n == wlen && memcmp(out, want, wlen) == 0;
}

static bool
is_double(size_t n, double v)
{
	uint64_t	bits;

	memcpy(&bits, &v, sizeof(bits));
	if (n != 9 || out[0] != (WIRE_VALUE_FLOAT_VALUE << 3 | WIRE_TYPE_I64))
		return false;
	for (int i = 0; i < 8; i++)
		if (out[1 + i] != (uint8_t) (bits >> (8 * i)))
			return false;
	return true;
}

static void
scalars(void)
{
	CHECK(is_varint(body(PGV_BOOL, "t"), WIRE_VALUE_BOOL_VALUE, 1), "true");
	CHECK(is_varint(body(PGV_BOOL, "f"), WIRE_VALUE_BOOL_VALUE, 0), "false, written (a oneof's field)");
	CHECK(is_varint(body(PGV_INT, "-9223372036854775808"), WIRE_VALUE_INT_VALUE,
					wire_zigzag64(INT64_MIN)), "int8's least");
	CHECK(is_varint(body(PGV_INT, "4294967295"), WIRE_VALUE_INT_VALUE, wire_zigzag64(4294967295)), "an oid");
	CHECK(is_varint(body(PGV_INT, "0"), WIRE_VALUE_INT_VALUE, 0), "zero");
	/* float4's text names the float: read as one, then widened, as the plugin widens the datum. */
	CHECK(is_double(body(PGV_FLOAT4, "1.1"), (double) 1.1f), "float4 1.1");
	CHECK(is_double(body(PGV_FLOAT8, "1.1"), 1.1), "float8 1.1");
	CHECK(is_double(body(PGV_FLOAT8, "-Infinity"), -__builtin_inf()), "-Infinity");
	CHECK(body(PGV_FLOAT8, "NaN") == 9, "NaN");
	CHECK(is_double(body(PGV_FLOAT8, "4.9406564584124654e-324"), 4.9406564584124654e-324), "a subnormal");
	CHECK(is_len(body(PGV_NUMERIC, "-12.50"), WIRE_VALUE_NUMERIC_VALUE, "-12.50", 6), "numeric as written");
	CHECK(is_len(body(PGV_NUMERIC, "NaN"), WIRE_VALUE_NUMERIC_VALUE, "NaN", 3), "numeric NaN");
	CHECK(is_len(body(PGV_TEXT, "é \"x\""), WIRE_VALUE_TEXT_VALUE, "é \"x\"", strlen("é \"x\"")), "text");
	CHECK(is_len(body(PGV_OUTPUT, "{1,2}"), WIRE_VALUE_TEXT_VALUE, "{1,2}", 5), "an array's output");
	CHECK(is_len(body(PGV_TEXT, ""), WIRE_VALUE_TEXT_VALUE, "", 0), "empty text");
	CHECK(is_len(body(PGV_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), WIRE_VALUE_UUID_VALUE,
				 "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16), "uuid");
	CHECK(is_len(body(PGV_BYTEA, "\\x00ff10"), WIRE_VALUE_BYTES_VALUE, "\x00\xff\x10", 3), "bytea");
	CHECK(is_len(body(PGV_BYTEA, "\\x"), WIRE_VALUE_BYTES_VALUE, "", 0), "empty bytea");
	CHECK(is_varint(pgvalue_null(out), WIRE_VALUE_IS_NULL, 1), "NULL");
	CHECK(is_varint(pgvalue_unchanged(out), WIRE_VALUE_UNCHANGED_TOAST, 1), "unchanged TOAST");
}

static void
times(void)
{
	/* µs after 1970-01-01 00:00 UTC (Python's datetime for the AD ones). */
	static const struct
	{
		const char *text;
		int64_t		usecs;
	}			ts[] = {
		{"2000-01-01 00:00:00", INT64_C(946684800000000)},
		{"2026-12-06 13:50:48.123456", INT64_C(1796565048123456)},
		{"2026-12-06 13:50:48.123456+00", INT64_C(1796565048123456)},
		{"1969-12-31 23:59:59.999999", -1},
		{"0001-01-01 00:00:00", INT64_C(-62135596800000000)},
		{"9999-12-31 23:59:59.999999", INT64_C(253402300799999999)},
		{"1900-03-01 00:00:00.5", INT64_C(-2203891199500000)},
		/* 1 BC is year 0, a leap year: a day and a year before 0001-01-01. */
		{"0001-12-31 00:00:00 BC", INT64_C(-62135596800000000) - INT64_C(86400000000)},
		{"0001-01-01 00:00:00+00 BC", INT64_C(-62135596800000000) - 366 * INT64_C(86400000000)},
	};

	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		CHECK(is_varint(body(PGV_TIMESTAMP, ts[i].text), WIRE_VALUE_TIMESTAMP_VALUE, wire_zigzag64(ts[i].usecs)),
			  "timestamp %s: %s", ts[i].text, err);
	CHECK(is_varint(body(PGV_TIMESTAMP, "infinity"), WIRE_VALUE_INFINITY,
					wire_enum(PGCDC__INFINITY__INFINITY_POSITIVE)), "timestamp infinity");
	CHECK(is_varint(body(PGV_TIMESTAMP, "-infinity"), WIRE_VALUE_INFINITY,
					wire_enum(PGCDC__INFINITY__INFINITY_NEGATIVE)), "timestamp -infinity");
	/* Past 64 bits of µs after 1970 (PostgreSQL goes on to 294276): its text, as the plugin sends it. */
	CHECK(is_len(body(PGV_TIMESTAMP, "294276-12-31 23:59:59.999999"), WIRE_VALUE_TEXT_VALUE,
				 "294276-12-31 23:59:59.999999", 28), "the last timestamp: %s", err);

	CHECK(is_varint(body(PGV_DATE, "2026-12-06"), WIRE_VALUE_DATE_VALUE, wire_zigzag32(20793)), "date");
	CHECK(is_varint(body(PGV_DATE, "0001-01-01"), WIRE_VALUE_DATE_VALUE, wire_zigzag32(-719162)), "date 1 AD");
	/* Julian day 0, PostgreSQL's first date. */
	CHECK(is_varint(body(PGV_DATE, "4714-11-24 BC"), WIRE_VALUE_DATE_VALUE, wire_zigzag32(-2440588)),
		  "date 4714-11-24 BC: %s", err);
	CHECK(is_varint(body(PGV_DATE, "-infinity"), WIRE_VALUE_INFINITY,
					wire_enum(PGCDC__INFINITY__INFINITY_NEGATIVE)), "date -infinity");

	CHECK(is_varint(body(PGV_TIME, "13:50:48.123456"), WIRE_VALUE_TIME_VALUE, INT64_C(49848123456)), "time");
	CHECK(is_varint(body(PGV_TIME, "00:00:00.5"), WIRE_VALUE_TIME_VALUE, 500000), "time with a tenth");
	CHECK(is_varint(body(PGV_TIME, "24:00:00"), WIRE_VALUE_TIME_VALUE, INT64_C(86400000000)), "24:00:00");
}

static void
refused(void)
{
	static const struct
	{
		PgvClass	c;
		const char *text;
	}			bad[] = {
		{PGV_BOOL, "true"}, {PGV_BOOL, ""}, {PGV_INT, "12x"}, {PGV_INT, ""},
		{PGV_INT, "99999999999999999999"}, {PGV_FLOAT8, "1.5 "}, {PGV_NUMERIC, "1;DROP"},
		{PGV_NUMERIC, ""}, {PGV_TIMESTAMP, "2026-13-01 00:00:00"}, {PGV_TIMESTAMP, "2026-12-06"},
		{PGV_TIMESTAMP, "2026-12-06 25:00:00"}, {PGV_TIMESTAMP, "2026-12-06 10:00:00+02"},
		{PGV_TIMESTAMP, "2026-12-06 10:00:00.1234567"}, {PGV_TIMESTAMP, "999999999-01-01 00:00:00"},
		{PGV_DATE, "2026-12-06 BCE"}, {PGV_DATE, "26-12-06"}, {PGV_TIME, "24:00:01"}, {PGV_TIME, "1:2:3"},
		{PGV_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"}, {PGV_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g"},
		{PGV_BYTEA, "00ff"}, {PGV_BYTEA, "\\x0"}, {PGV_BYTEA, "\\xzz"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(body(bad[i].c, bad[i].text) == 0 && strstr(err, "not a value of its type"),
			  "class %d took \"%s\"", (int) bad[i].c, bad[i].text);
}

static void
classes(void)
{
	CHECK(pgvalue_class(16) == PGV_BOOL && pgvalue_class(20) == PGV_INT && pgvalue_class(26) == PGV_INT &&
		  pgvalue_class(700) == PGV_FLOAT4 && pgvalue_class(1184) == PGV_TIMESTAMP &&
		  pgvalue_class(1042) == PGV_TEXT && pgvalue_class(2950) == PGV_UUID && pgvalue_class(17) == PGV_BYTEA,
		  "built-in classes");
	/* jsonb, interval, arrays: their output as is. */
	CHECK(pgvalue_class(3802) == PGV_OUTPUT && pgvalue_class(1186) == PGV_OUTPUT &&
		  pgvalue_class(1007) == PGV_OUTPUT, "output classes");
}

int
main(void)
{
	scalars();
	times();
	refused();
	classes();
	return unit_summary("test_pgvalue");
}
