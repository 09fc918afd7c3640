/*
 * test_copybin.c — Values as COPY binary fields: numerics in base 10000,
 * timestamps and dates from PostgreSQL's epoch, integers and floats that fit
 * their column, and the values that must go as text instead; every kind at
 * its extremes, and values binary COPY cannot carry leaving the buffer as it
 * was.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "copybin.h"
#include "unit.h"

/* Whether v as a field of type t is the bytes want (length word included), or not writable when want is NULL. */
static bool
field_is(CopyBinType t, const Pgcdc__Value *v, const char *want, size_t n)
{
	Buf			b = {0};
	bool		ok = copybin_value(&b, t, v);
	bool		same = want ? ok && b.len == n && memcmp(b.data, want, n) == 0 : !ok && b.len == 0;

	buf_free(&b);
	return same;
}

static bool
numeric_is(const char *text, const char *want, size_t n)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;

	v.kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
	v.numeric_value = (char *) text;
	return field_is(COPYBIN_NUMERIC, &v, want, n);
}

/* Dates and timestamps at the ends of PostgreSQL's range, and past them. */
static void
times(void)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;

	v.kind_case = PGCDC__VALUE__KIND_TIMESTAMP_VALUE;
	v.timestamp_value = INT64_MAX;	/* INT64_MAX - 946684800000000 from 2000 */
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, "\0\0\0\x08\x7f\xfc\xa2\xfe\xc4\xc8\x1f\xff", 12), "timestamp INT64_MAX");
	v.timestamp_value = INT64_C(-210866803200000000);	/* 4714-11-24 00:00 BC: MIN_TIMESTAMP */
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, "\0\0\0\x08\xfd\x0f\x7c\xc1\x41\x1f\xa0\x00", 12), "first timestamp");
	v.timestamp_value--;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, NULL, 0), "the microsecond before: text");
	v.kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
	v.date_value = -2440588;	/* 4714-11-24 BC: -2451545 from 2000 */
	CHECK(field_is(COPYBIN_DATE, &v, "\0\0\0\x04\xff\xda\x97\xa7", 8), "first date");
	v.date_value = 2145042905;	/* 5874897-12-31 */
	CHECK(field_is(COPYBIN_DATE, &v, "\0\0\0\x04\x7f\xda\x97\x0c", 8), "last date");
	v.date_value++;
	CHECK(field_is(COPYBIN_DATE, &v, NULL, 0), "the day after: text");
	v.date_value = INT32_MIN;
	CHECK(field_is(COPYBIN_DATE, &v, NULL, 0), "date INT32_MIN: text");
	v.date_value = INT32_MAX;
	CHECK(field_is(COPYBIN_DATE, &v, NULL, 0), "date INT32_MAX: text");
	v.kind_case = PGCDC__VALUE__KIND_INFINITY;
	v.infinity = PGCDC__INFINITY__INFINITY_NEGATIVE;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, "\0\0\0\x08\x80\0\0\0\0\0\0\0", 12) &&
		  field_is(COPYBIN_DATE, &v, "\0\0\0\x04\x80\0\0\0", 8), "-infinity");
	v.infinity = PGCDC__INFINITY__INFINITY_UNSPECIFIED;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, NULL, 0) && field_is(COPYBIN_DATE, &v, NULL, 0),
		  "an infinity of no sign is no infinity");
	v.infinity = 7;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, NULL, 0) && field_is(COPYBIN_DATE, &v, NULL, 0), "nor of sign 7");
	v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;	/* time has no binary form here */
	v.time_value = -1;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, NULL, 0) && field_is(COPYBIN_NONE, &v, NULL, 0), "time: text");
}

/* Numerics of every size, and garbage; integers and floats at their limits. */
static void
numbers(void)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;
	char	   *big = malloc(16400);
	Buf			b = {0};

	memset(big, '9', 1000);
	big[1000] = '\0';
	v.kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
	v.numeric_value = big;
	CHECK(copybin_value(&b, COPYBIN_NUMERIC, &v) && b.len == 4 + 8 + 2 * 250, "1000 digits: %zu bytes", b.len);
	strcpy(big + 1000, "9");
	CHECK(numeric_is(big, NULL, 0), "1001 digits: text");
	memcpy(big, "0.", 2);
	memset(big + 2, '1', 16383);
	big[16385] = '\0';
	CHECK(numeric_is(big, NULL, 0), "a scale of 16383: text");
	CHECK(numeric_is("-0", "\0\0\0\x0a" "\0\x01" "\0\0" "\x40\0" "\0\0" "\0\0", 14), "-0");
	CHECK(numeric_is("-", NULL, 0) && numeric_is("-NaN", NULL, 0) && numeric_is("1.2.3", NULL, 0) &&
		  numeric_is("0x1", NULL, 0) && numeric_is("1.", NULL, 0) && numeric_is("-.", NULL, 0), "garbage: text");
	free(big);
	buf_free(&b);

	v.kind_case = PGCDC__VALUE__KIND_INT_VALUE;
	v.int_value = INT64_MIN;
	CHECK(field_is(COPYBIN_INT8, &v, "\0\0\0\x08\x80\0\0\0\0\0\0\0", 12) && field_is(COPYBIN_INT4, &v, NULL, 0) &&
		  field_is(COPYBIN_INT2, &v, NULL, 0), "INT64_MIN");
	v.int_value = INT32_MIN;
	CHECK(field_is(COPYBIN_INT4, &v, "\0\0\0\x04\x80\0\0\0", 8), "INT32_MIN");
	v.int_value = INT32_MIN - INT64_C(1);
	CHECK(field_is(COPYBIN_INT4, &v, NULL, 0), "INT32_MIN - 1: text");
	v.kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
	v.float_value = DBL_MAX;
	CHECK(field_is(COPYBIN_FLOAT4, &v, NULL, 0) &&
		  field_is(COPYBIN_FLOAT8, &v, "\0\0\0\x08\x7f\xef\xff\xff\xff\xff\xff\xff", 12), "DBL_MAX");
	v.float_value = -INFINITY;
	CHECK(field_is(COPYBIN_FLOAT4, &v, "\0\0\0\x04\xff\x80\0\0", 8), "float4 -Infinity");
	v.float_value = FLT_TRUE_MIN;
	CHECK(field_is(COPYBIN_FLOAT4, &v, "\0\0\0\x04\0\0\0\x01", 8), "smallest float4");
	v.float_value = (double) FLT_TRUE_MIN / 2;
	CHECK(field_is(COPYBIN_FLOAT4, &v, NULL, 0), "below the smallest float4: text");
}

/* Empty and wrong-length values; a kind the column type does not take. */
static void
lengths(void)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;
	uint8_t		uuid[17] = {0};

	v.kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v.text_value = "";
	CHECK(field_is(COPYBIN_TEXT, &v, "\0\0\0\0", 4) && field_is(COPYBIN_JSONB, &v, "\0\0\0\x01\x01", 5),
		  "empty text");
	CHECK(field_is(COPYBIN_BYTEA, &v, NULL, 0) && field_is(COPYBIN_UUID, &v, NULL, 0) &&
		  field_is(COPYBIN_INT4, &v, NULL, 0) && field_is(COPYBIN_NUMERIC, &v, NULL, 0), "text elsewhere: text");
	v.kind_case = PGCDC__VALUE__KIND_UUID_VALUE;
	v.uuid_value.data = uuid;
	v.uuid_value.len = 17;
	CHECK(field_is(COPYBIN_UUID, &v, NULL, 0), "uuid of 17 bytes: text");
	v.uuid_value.len = 0;
	CHECK(field_is(COPYBIN_UUID, &v, NULL, 0), "empty uuid: text");
	v.uuid_value.len = 16;
	CHECK(field_is(COPYBIN_UUID, &v, "\0\0\0\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20), "uuid");
	v.kind_case = PGCDC__VALUE__KIND_BOOL_VALUE;
	CHECK(field_is(COPYBIN_INT4, &v, NULL, 0) && field_is(COPYBIN_TEXT, &v, NULL, 0), "bool elsewhere: text");
	v.kind_case = PGCDC__VALUE__KIND_IS_NULL;
	CHECK(field_is(COPYBIN_UUID, &v, "\xff\xff\xff\xff", 4), "NULL in any column");
}

int
main(void)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;
	Buf			b = {0};

	/* ndigits, weight, sign, dscale, digits: 37919.01 = 3|7919.0100 */
	CHECK(numeric_is("37919.01", "\0\0\0\x0e" "\0\x03" "\0\x01" "\0\0" "\0\x02" "\0\x03" "\x1e\xef" "\0\x64", 18),
		  "37919.01");
	CHECK(numeric_is("-0.5", "\0\0\0\x0c" "\0\x02" "\0\0" "\x40\0" "\0\x01" "\0\0" "\x13\x88", 16), "-0.5");
	CHECK(numeric_is("10000", "\0\0\0\x0c" "\0\x02" "\0\x01" "\0\0" "\0\0" "\0\x01" "\0\0", 16), "10000");
	CHECK(numeric_is("NaN", "\0\0\0\x08" "\0\0" "\0\0" "\xc0\0" "\0\0", 12), "NaN");
	CHECK(numeric_is("1e5", NULL, 0) && numeric_is("Infinity", NULL, 0) && numeric_is(".5", NULL, 0) &&
		  numeric_is("5.", NULL, 0) && numeric_is("+1", NULL, 0) && numeric_is("", NULL, 0) &&
		  numeric_is("1 ", NULL, 0), "other numeric text goes as text");

	v.kind_case = PGCDC__VALUE__KIND_INT_VALUE;
	v.int_value = -32768;
	CHECK(field_is(COPYBIN_INT2, &v, "\0\0\0\x02\x80\0", 6), "int2 min");
	v.int_value = 32768;
	CHECK(field_is(COPYBIN_INT2, &v, NULL, 0), "int2 out of range");
	v.int_value = INT64_C(2147483648);
	CHECK(field_is(COPYBIN_INT4, &v, NULL, 0) &&
		  field_is(COPYBIN_INT8, &v, "\0\0\0\x08\0\0\0\x00\x80\0\0\0", 12), "int4 out of range, int8 not");
	CHECK(field_is(COPYBIN_NUMERIC, &v, NULL, 0) && field_is(COPYBIN_TEXT, &v, NULL, 0),
		  "an integer for a numeric or text column goes as text");

	v.kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
	v.float_value = 0.1;
	CHECK(field_is(COPYBIN_FLOAT4, &v, NULL, 0), "0.1 is no float4");
	CHECK(field_is(COPYBIN_FLOAT8, &v, "\0\0\0\x08\x3f\xb9\x99\x99\x99\x99\x99\x9a", 12), "float8 0.1");
	v.float_value = 0.5;
	CHECK(field_is(COPYBIN_FLOAT4, &v, "\0\0\0\x04\x3f\0\0\0", 8), "float4 0.5");
	v.float_value = NAN;
	CHECK(copybin_value(&b, COPYBIN_FLOAT4, &v), "float4 NaN");

	v.kind_case = PGCDC__VALUE__KIND_TIMESTAMP_VALUE;
	v.timestamp_value = INT64_C(946684800000001);	/* 2000-01-01 00:00:00.000001 */
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, "\0\0\0\x08\0\0\0\0\0\0\0\x01", 12), "timestamp from 2000");
	v.timestamp_value = INT64_MIN;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, NULL, 0), "before 4714 BC: text");
	v.kind_case = PGCDC__VALUE__KIND_INFINITY;
	v.infinity = PGCDC__INFINITY__INFINITY_POSITIVE;
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, "\0\0\0\x08\x7f\xff\xff\xff\xff\xff\xff\xff", 12) &&
		  field_is(COPYBIN_DATE, &v, "\0\0\0\x04\x7f\xff\xff\xff", 8), "infinity");
	v.kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
	v.date_value = 10956;		/* 1999-12-31 */
	CHECK(field_is(COPYBIN_DATE, &v, "\0\0\0\x04\xff\xff\xff\xff", 8), "date before 2000");
	CHECK(field_is(COPYBIN_TIMESTAMP, &v, NULL, 0), "a date for a timestamp column goes as text");

	v.kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v.text_value = "{}";
	CHECK(field_is(COPYBIN_JSONB, &v, "\0\0\0\x03\x01{}", 7) && field_is(COPYBIN_TEXT, &v, "\0\0\0\x02{}", 6),
		  "jsonb has its version byte");
	v.kind_case = PGCDC__VALUE__KIND_UNCHANGED_TOAST;
	CHECK(field_is(COPYBIN_NONE, &v, "\xff\xff\xff\xff", 4), "unchanged TOAST is NULL in any column");
	v.kind_case = PGCDC__VALUE__KIND_BYTES_VALUE;
	v.bytes_value.data = NULL;	/* how protobuf-c unpacks an empty bytea */
	v.bytes_value.len = 0;
	CHECK(field_is(COPYBIN_BYTEA, &v, "\0\0\0\0", 4), "empty bytea");
	v.kind_case = PGCDC__VALUE__KIND_UUID_VALUE;
	v.uuid_value.len = 3;
	CHECK(field_is(COPYBIN_UUID, &v, NULL, 0), "a 3-byte uuid goes as text");

	CHECK(copybin_type(1184) == COPYBIN_TIMESTAMP && copybin_type(1043) == COPYBIN_TEXT &&
		  copybin_type(1007) == COPYBIN_NONE, "types by OID");
	b.len = 0;
	copybin_start(&b);
	copybin_end(&b);
	CHECK(b.len == 21 && memcmp(b.data, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\xff\xff", 21) == 0, "header, trailer");
	buf_free(&b);
	times();
	numbers();
	lengths();
	return unit_summary("copybin");
}
