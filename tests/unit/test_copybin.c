/*
 * test_copybin.c — Values as COPY binary fields: numerics in base 10000,
 * timestamps and dates from PostgreSQL's epoch, integers and floats that fit
 * their column, and the values that must go as text instead.
 */
#include <math.h>
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
	return unit_summary("copybin");
}
