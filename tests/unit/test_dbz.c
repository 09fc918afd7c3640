/*
 * test_dbz.c — walstreamer's Debezium formatting (dbztype.c, jsonout.c)
 * against Debezium 3.6.1's behaviour: Columns and Values built with
 * proto/wire.h, each value's JSON and each column's schema compared with
 * what the connector writes; malformed texts of the text-parsed types
 * refused with a message, every value read from a buffer of exactly its
 * size (ASan sees any overread).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbztype.h"
#include "jsonout.h"
#include "unit.h"
#include "wire.h"

#define PLACEHOLDER "__debezium_unavailable_value"

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

/* Values, one of each kind */

static Bytes
v_text(const char *s)
{
	Bytes		b = {.len = 0};

	put_len(&b, WIRE_VALUE_TEXT_VALUE, s, strlen(s));
	return b;
}

static Bytes
v_numeric(const char *s)
{
	Bytes		b = {.len = 0};

	put_len(&b, WIRE_VALUE_NUMERIC_VALUE, s, strlen(s));
	return b;
}

static Bytes
v_int(int64_t v)
{
	Bytes		b = {.len = 0};

	put_varint(&b, WIRE_VALUE_INT_VALUE, wire_zigzag64(v));
	return b;
}

static Bytes
v_timestamp(int64_t us)
{
	Bytes		b = {.len = 0};

	put_varint(&b, WIRE_VALUE_TIMESTAMP_VALUE, wire_zigzag64(us));
	return b;
}

static Bytes
v_date(int32_t days)
{
	Bytes		b = {.len = 0};

	put_varint(&b, WIRE_VALUE_DATE_VALUE, wire_zigzag32(days));
	return b;
}

static Bytes
v_time(int64_t us)
{
	Bytes		b = {.len = 0};

	put_varint(&b, WIRE_VALUE_TIME_VALUE, (uint64_t) us);
	return b;
}

static Bytes
v_infinity(bool positive)
{
	Bytes		b = {.len = 0};

	put_varint(&b, WIRE_VALUE_INFINITY,
			   wire_enum(positive ? PGCDC__INFINITY__INFINITY_POSITIVE : PGCDC__INFINITY__INFINITY_NEGATIVE));
	return b;
}

static Bytes
v_float(double d)
{
	Bytes		b = {.len = 0};
	uint64_t	bits;

	memcpy(&bits, &d, 8);
	b.len = (size_t) (wire_put_tag(b.data, WIRE_VALUE_FLOAT_VALUE, WIRE_TYPE_I64) - b.data);
	for (int i = 0; i < 8; i++)
		b.data[b.len++] = (uint8_t) (bits >> (8 * i));
	return b;
}

static Bytes
v_flag(uint32_t number, bool v)
{
	Bytes		b = {.len = 0};

	put_varint(&b, number, v);
	return b;
}

static Bytes
v_raw(uint32_t number, const void *data, size_t len)
{
	Bytes		b = {.len = 0};

	put_len(&b, number, data, len);
	return b;
}

/* Columns */

/* A Column's bytes: name "c", oid and type_name, and (when base_oid) a domain's base. */
static Bytes
column_bytes(uint32_t oid, const char *type_name, uint32_t base_oid, const char *base_name,
			 const char *const *labels, bool not_null)
{
	Bytes		b = {.len = 0};

	put_len(&b, WIRE_COLUMN_NAME, "c", 1);
	put_varint(&b, WIRE_COLUMN_TYPE_OID, oid);
	put_len(&b, WIRE_COLUMN_TYPE_NAME, type_name, strlen(type_name));
	if (not_null)
		put_varint(&b, WIRE_COLUMN_NOT_NULL, 1);
	if (base_oid != 0)
	{
		put_varint(&b, WIRE_COLUMN_BASE_TYPE_OID, base_oid);
		put_len(&b, WIRE_COLUMN_BASE_TYPE_NAME, base_name, strlen(base_name));
	}
	for (; labels && *labels; labels++)
		put_len(&b, WIRE_COLUMN_ENUM_LABELS, *labels, strlen(*labels));
	return b;
}

static DbzColumn
column_of(Bytes b)
{
	DbzColumn	c;
	Span		s = {b.data, b.len};

	if (!CHECK(dbz_column_read(s, NULL, &c), "column of %zu bytes not read", b.len))
		memset(&c, 0, sizeof(c));
	return c;
}

static DbzColumn
col(uint32_t oid, const char *type_name)
{
	return column_of(column_bytes(oid, type_name, 0, NULL, NULL, false));
}

/* Checks */

/* The JSON of a value, read from a copy of exactly its size; false (err filled) as dbz_value. */
static bool
format(const DbzColumn *c, Bytes v, Buf *out, char *err, size_t errlen)
{
	uint8_t    *copy = malloc(v.len ? v.len : 1);
	Span		s = {copy, v.len};
	bool		ok;

	memcpy(copy, v.data, v.len);
	out->len = 0;
	err[0] = '\0';
	ok = dbz_value(&c->type, s, PLACEHOLDER, out, err, errlen);
	free(copy);
	return ok;
}

static void
value_is(int line, const DbzColumn *c, Bytes v, const char *want)
{
	Buf			out = {0};
	char		err[256];

	if (!format(c, v, &out, err, sizeof(err)))
		unit_fail(__FILE__, line, "want %s, got an error: %s", want, err);
	else if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		unit_fail(__FILE__, line, "want %s, got %.*s", want, (int) out.len, out.data ? out.data : "");
	unit_checks++;
	buf_free(&out);
}

static void
value_bad(int line, const DbzColumn *c, Bytes v)
{
	Buf			out = {0};
	char		err[256];

	if (format(c, v, &out, err, sizeof(err)))
		unit_fail(__FILE__, line, "accepted, as %.*s", (int) out.len, out.data ? out.data : "");
	else if (err[0] == '\0')
		unit_fail(__FILE__, line, "refused without a message");
	unit_checks++;
	buf_free(&out);
}

static void
schema_is(int line, const DbzColumn *c, const char *want)
{
	Buf			out = {0};

	dbz_column_schema(c, &out);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		unit_fail(__FILE__, line, "schema\n  want %s\n  got  %.*s", want, (int) out.len,
				  out.data ? out.data : "");
	unit_checks++;
	buf_free(&out);
}

#define VALUE(c, v, want) value_is(__LINE__, &(c), (v), (want))
#define TEXT(c, s, want) value_is(__LINE__, &(c), v_text(s), (want))
#define BAD_TEXT(c, s) value_bad(__LINE__, &(c), v_text(s))
#define SCHEMA(c, want) schema_is(__LINE__, &(c), (want))

/* jsonout.c */

/* json_str of n bytes, read from a copy of exactly n. */
static void
str_is(int line, const char *s, size_t n, const char *want)
{
	Buf			out = {0};
	char	   *copy = malloc(n ? n : 1);

	memcpy(copy, s, n);
	json_str(&out, copy, n);
	free(copy);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		unit_fail(__FILE__, line, "json_str: want %s, got %.*s", want, (int) out.len, out.data);
	unit_checks++;
	buf_free(&out);
}

static void
double_is(int line, double v, bool single, const char *want)
{
	Buf			out = {0};

	json_double(&out, v, single);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		unit_fail(__FILE__, line, "json_double(%.17g%s): want %s, got %.*s", v, single ? ", single" : "",
				  want, (int) out.len, out.data);
	unit_checks++;
	buf_free(&out);
}

static void
base64_is(int line, const char *s, const char *want)
{
	Buf			out = {0};

	json_base64(&out, (const uint8_t *) s, strlen(s));
	if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
		unit_fail(__FILE__, line, "json_base64(%s): want %s, got %.*s", s, want, (int) out.len, out.data);
	unit_checks++;
	buf_free(&out);
}

static void
json_strings(void)
{
	static const char a[] = "a\"b\\c\n\x01";
	static const char controls[] = "\r\t\b\f\x1f\x7f";
	static const char emoji[] = "\xf0\x9f\x98\x80";
	static const char mixed[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80!";

	str_is(__LINE__, a, sizeof(a) - 1, "\"a\\\"b\\\\c\\n\\u0001\"");
	str_is(__LINE__, controls, sizeof(controls) - 1, "\"\\r\\t\\b\\f\\u001F\x7f\"");
	str_is(__LINE__, "\0", 1, "\"\\u0000\"");
	str_is(__LINE__, emoji, sizeof(emoji) - 1, "\"\\uD83D\\uDE00\"");
	/* é and € (two and three bytes) as they are, then the surrogate pair. */
	str_is(__LINE__, mixed, sizeof(mixed) - 1, "\"\xc3\xa9\xe2\x82\xac\\uD83D\\uDE00!\"");
	/* U+10FFFF, the last code point. */
	str_is(__LINE__, "\xf4\x8f\xbf\xbf", 4, "\"\\uDBFF\\uDFFF\"");
	str_is(__LINE__, "", 0, "\"\"");
	/* A four-byte sequence cut short at the end passes as it is, never read past. */
	str_is(__LINE__, "x\xf0\x9f\x98", 4, "\"x\xf0\x9f\x98\"");
	str_is(__LINE__, "\xf0", 1, "\"\xf0\"");

	base64_is(__LINE__, "", "\"\"");
	base64_is(__LINE__, "f", "\"Zg==\"");
	base64_is(__LINE__, "fo", "\"Zm8=\"");
	base64_is(__LINE__, "foo", "\"Zm9v\"");
	base64_is(__LINE__, "foob", "\"Zm9vYg==\"");
	base64_is(__LINE__, "\xfb\xff", "\"+/8=\"");
}

static void
json_doubles(void)
{
	double_is(__LINE__, 100.0, false, "100.0");
	double_is(__LINE__, 0.001, false, "0.001");
	double_is(__LINE__, 2.25, false, "2.25");
	double_is(__LINE__, -2.25, false, "-2.25");
	double_is(__LINE__, 1.0, false, "1.0");
	double_is(__LINE__, 0.1, false, "0.1");
	double_is(__LINE__, 1.0 / 3, false, "0.3333333333333333");
	double_is(__LINE__, 9999999.0, false, "9999999.0");
	double_is(__LINE__, 1234567.125, false, "1234567.125");
	double_is(__LINE__, 1e7, false, "1.0E7");
	double_is(__LINE__, 1e10, false, "1.0E10");
	double_is(__LINE__, 1.5e-5, false, "1.5E-5");
	double_is(__LINE__, 1e-4, false, "1.0E-4");
	double_is(__LINE__, 0.00999, false, "0.00999");
	double_is(__LINE__, 1.7976931348623157e308, false, "1.7976931348623157E308");
	double_is(__LINE__, -1.25e-300, false, "-1.25E-300");
	/* The least subnormals: Java's two closest digits, not the one that also reads back. */
	double_is(__LINE__, 4.9e-324, false, "4.9E-324");
	double_is(__LINE__, -4.9e-324, false, "-4.9E-324");
	double_is(__LINE__, 1e23, false, "1.0E23");
	double_is(__LINE__, 0.0, false, "0.0");
	double_is(__LINE__, -0.0, false, "-0.0");
	double_is(__LINE__, NAN, false, "\"NaN\"");
	double_is(__LINE__, INFINITY, false, "\"Infinity\"");
	double_is(__LINE__, -INFINITY, false, "\"-Infinity\"");
	/* A float4's value, widened to double: float's shortest digits. */
	double_is(__LINE__, (double) 1.1f, true, "1.1");
	double_is(__LINE__, (double) 1.1f, false, "1.100000023841858");
	double_is(__LINE__, (double) 3.4028235e38f, true, "3.4028235E38");
	double_is(__LINE__, (double) 0.1f, true, "0.1");
	double_is(__LINE__, (double) 1e10f, true, "1.0E10");
	double_is(__LINE__, (double) 16777216.0f, true, "1.6777216E7");
	double_is(__LINE__, (double) 1.4e-45f, true, "1.4E-45");
}

/* Numbers */

static void
numerics(void)
{
	DbzColumn	c = col(1700, "numeric");
	DbzColumn	d = col(1700, "numeric(10,2)");
	DbzColumn	m = col(790, "money");

	SCHEMA(c, "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
		   "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],\"optional\":true,"
		   "\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,"
		   "\"doc\":\"Variable scaled decimal\",\"field\":\"c\"}");
	VALUE(c, v_numeric("12345.6789"), "{\"scale\":4,\"value\":\"B1vNFQ==\"}");
	VALUE(c, v_numeric("-0.000001"), "{\"scale\":6,\"value\":\"/w==\"}");
	VALUE(c, v_numeric("1.50"), "{\"scale\":1,\"value\":\"Dw==\"}");
	VALUE(c, v_numeric("100"), "{\"scale\":0,\"value\":\"ZA==\"}");
	VALUE(c, v_numeric("0.00"), "{\"scale\":0,\"value\":\"AA==\"}");
	VALUE(c, v_numeric("0"), "{\"scale\":0,\"value\":\"AA==\"}");
	VALUE(c, v_numeric("128"), "{\"scale\":0,\"value\":\"AIA=\"}");
	VALUE(c, v_numeric("-128"), "{\"scale\":0,\"value\":\"gA==\"}");
	VALUE(c, v_numeric("-129"), "{\"scale\":0,\"value\":\"/38=\"}");
	VALUE(c, v_numeric("127"), "{\"scale\":0,\"value\":\"fw==\"}");
	VALUE(c, v_numeric("-1"), "{\"scale\":0,\"value\":\"/w==\"}");
	VALUE(c, v_numeric("-256"), "{\"scale\":0,\"value\":\"/wA=\"}");
	VALUE(c, v_numeric("NaN"), "null");
	VALUE(c, v_numeric("Infinity"), "null");
	VALUE(c, v_numeric("-Infinity"), "null");
	value_bad(__LINE__, &c, v_numeric("12a"));
	value_bad(__LINE__, &c, v_numeric(""));
	value_bad(__LINE__, &c, v_numeric("-"));

	SCHEMA(d, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","
		   "\"version\":1,\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"10\"},\"field\":\"c\"}");
	VALUE(d, v_numeric("12.34"), "\"BNI=\"");
	VALUE(d, v_numeric("-99999999.99"), "\"/av0HAE=\"");
	VALUE(d, v_numeric("12.3"), "\"BM4=\"");		/* 1230 at scale 2 */
	VALUE(d, v_numeric("0.00"), "\"AA==\"");
	VALUE(d, v_numeric("NaN"), "null");

	SCHEMA(m, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","
		   "\"version\":1,\"parameters\":{\"scale\":\"2\"},\"field\":\"c\"}");
	TEXT(m, "$12.34", "\"BNI=\"");
	TEXT(m, "-$92,233,720,368,547,758.08", "\"gAAAAAAAAAA=\"");
	TEXT(m, "$92,233,720,368,547,758.07", "\"f/////////8=\"");
	TEXT(m, "($1.00)", "\"nA==\"");	/* -100: one byte, as -128 is */
	TEXT(m, "$0.00", "\"AA==\"");
	BAD_TEXT(m, "$1.2.3");
	BAD_TEXT(m, "$");
	BAD_TEXT(m, "");
	BAD_TEXT(m, "1.234");		/* more fraction digits than the scale */

	dbz_column_clear(&c);
	dbz_column_clear(&d);
	dbz_column_clear(&m);
}

static void
scalars(void)
{
	static const uint8_t uuid[16] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
	0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
	DbzColumn	u = col(2950, "uuid");
	DbzColumn	by = col(17, "bytea");
	DbzColumn	b = col(16, "boolean");
	DbzColumn	i2 = col(21, "smallint");
	DbzColumn	i4 = col(23, "integer");
	DbzColumn	i8 = col(20, "bigint");
	DbzColumn	f4 = col(700, "real");
	DbzColumn	f8 = col(701, "double precision");
	DbzColumn	t = col(25, "text");
	DbzColumn	nn = column_of(column_bytes(23, "integer", 0, NULL, NULL, true));

	SCHEMA(u, "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Uuid\",\"version\":1,\"field\":\"c\"}");
	VALUE(u, v_raw(WIRE_VALUE_UUID_VALUE, uuid, 16), "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
	value_bad(__LINE__, &u, v_raw(WIRE_VALUE_UUID_VALUE, uuid, 15));

	SCHEMA(by, "{\"type\":\"bytes\",\"optional\":true,\"field\":\"c\"}");
	VALUE(by, v_raw(WIRE_VALUE_BYTES_VALUE, "\x00\xff\x10", 3), "\"AP8Q\"");
	VALUE(by, v_raw(WIRE_VALUE_BYTES_VALUE, "", 0), "\"\"");

	SCHEMA(b, "{\"type\":\"boolean\",\"optional\":true,\"field\":\"c\"}");
	VALUE(b, v_flag(WIRE_VALUE_BOOL_VALUE, true), "true");
	VALUE(b, v_flag(WIRE_VALUE_BOOL_VALUE, false), "false");

	SCHEMA(i2, "{\"type\":\"int16\",\"optional\":true,\"field\":\"c\"}");
	SCHEMA(i4, "{\"type\":\"int32\",\"optional\":true,\"field\":\"c\"}");
	SCHEMA(i8, "{\"type\":\"int64\",\"optional\":true,\"field\":\"c\"}");
	SCHEMA(nn, "{\"type\":\"int32\",\"optional\":false,\"field\":\"c\"}");
	VALUE(i2, v_int(-32768), "-32768");
	VALUE(i4, v_int(2147483647), "2147483647");
	VALUE(i8, v_int(INT64_MIN), "-9223372036854775808");
	VALUE(i8, v_int(INT64_MAX), "9223372036854775807");
	VALUE(i4, v_flag(WIRE_VALUE_IS_NULL, true), "null");
	VALUE(i4, (Bytes) {.len = 0}, "null");	/* not logged */

	SCHEMA(f4, "{\"type\":\"float\",\"optional\":true,\"field\":\"c\"}");
	SCHEMA(f8, "{\"type\":\"double\",\"optional\":true,\"field\":\"c\"}");
	VALUE(f4, v_float((double) 1.1f), "1.1");
	VALUE(f8, v_float(1.1), "1.1");
	VALUE(f8, v_float(1e10), "1.0E10");
	VALUE(f8, v_float(NAN), "\"NaN\"");
	VALUE(f8, v_float(-INFINITY), "\"-Infinity\"");

	SCHEMA(t, "{\"type\":\"string\",\"optional\":true,\"field\":\"c\"}");
	TEXT(t, "caf\xc3\xa9 \"x\"", "\"caf\xc3\xa9 \\\"x\\\"\"");

	/* Malformed Values: cut short, or a kind that does not exist. */
	{
		Bytes		cut = v_text("abc");
		Bytes		unknown = {.len = 0};

		cut.len--;
		value_bad(__LINE__, &t, cut);
		put_varint(&unknown, 99, 1);
		value_bad(__LINE__, &t, unknown);
	}
	/* A forged Value whose wire type is not its field's: refused, its payload never read. */
	value_bad(__LINE__, &f8, v_flag(WIRE_VALUE_FLOAT_VALUE, true));
	value_bad(__LINE__, &t, v_flag(WIRE_VALUE_TEXT_VALUE, true));
	value_bad(__LINE__, &u, v_flag(WIRE_VALUE_UUID_VALUE, true));
	value_bad(__LINE__, &i4, v_raw(WIRE_VALUE_INT_VALUE, "ab", 2));
	{
		DbzColumn	pt = col(600, "point");

		value_bad(__LINE__, &pt, v_flag(WIRE_VALUE_TEXT_VALUE, true));
		dbz_column_clear(&pt);
	}

	dbz_column_clear(&u);
	dbz_column_clear(&by);
	dbz_column_clear(&b);
	dbz_column_clear(&i2);
	dbz_column_clear(&i4);
	dbz_column_clear(&i8);
	dbz_column_clear(&f4);
	dbz_column_clear(&f8);
	dbz_column_clear(&t);
	dbz_column_clear(&nn);
}

/* Dates and times */

static void
times(void)
{
	DbzColumn	tz = col(1266, "time with time zone");
	DbzColumn	ts = col(1184, "timestamp with time zone");
	DbzColumn	ts3 = col(1184, "timestamp(3) with time zone");
	DbzColumn	ts0 = col(1184, "timestamp(0) with time zone");
	DbzColumn	lt = col(1114, "timestamp without time zone");
	DbzColumn	lt3 = col(1114, "timestamp(3) without time zone");
	DbzColumn	dt = col(1082, "date");
	DbzColumn	tm = col(1083, "time without time zone");
	DbzColumn	tm3 = col(1083, "time(3) without time zone");

	SCHEMA(tz, "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.time.ZonedTime\",\"version\":1,\"field\":\"c\"}");
	TEXT(tz, "13:14:15.123456+02", "\"11:14:15.123456Z\"");
	TEXT(tz, "00:00:00-14", "\"14:00:00Z\"");
	TEXT(tz, "10:00:00.12+00", "\"10:00:00.12Z\"");
	TEXT(tz, "24:00:00+00", "\"00:00:00Z\"");
	TEXT(tz, "12:00:00+05:30", "\"06:30:00Z\"");
	TEXT(tz, "01:00:00+02", "\"23:00:00Z\"");
	BAD_TEXT(tz, "25");
	BAD_TEXT(tz, "12:00:00");
	BAD_TEXT(tz, "12:00:00+");
	BAD_TEXT(tz, "12:00:00+01:");
	BAD_TEXT(tz, "12:00:00+01x");
	BAD_TEXT(tz, "");
	BAD_TEXT(tz, "99999999999999999999:00:00+00");
	BAD_TEXT(tz, "9999999999999:00:00+00");
	BAD_TEXT(tz, "12:00:00+9999999999999");

	SCHEMA(ts, "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1,\"field\":\"c\"}");
	VALUE(ts, v_timestamp(0), "\"1970-01-01T00:00:00.000000Z\"");
	VALUE(ts, v_timestamp(500000), "\"1970-01-01T00:00:00.500000Z\"");
	VALUE(ts, v_timestamp(-1), "\"1969-12-31T23:59:59.999999Z\"");
	VALUE(ts3, v_timestamp(500000), "\"1970-01-01T00:00:00.500Z\"");
	VALUE(ts0, v_timestamp(0), "\"1970-01-01T00:00:00Z\"");
	VALUE(ts0, v_timestamp(INT64_C(1709205255) * 1000000), "\"2024-02-29T11:14:15Z\"");
	VALUE(ts, v_infinity(true), "\"infinity\"");
	VALUE(ts, v_infinity(false), "\"-infinity\"");
	/* 0044-03-15 BC is year -43; 12345-01-01 needs its sign. */
	VALUE(ts, v_timestamp(INT64_C(-63517824000000000)), "\"-0043-03-15T00:00:00.000000Z\"");
	VALUE(ts, v_timestamp(INT64_C(327403382400000000)), "\"+12345-01-01T00:00:00.000000Z\"");

	SCHEMA(lt, "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1,\"field\":\"c\"}");
	SCHEMA(lt3, "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.Timestamp\",\"version\":1,\"field\":\"c\"}");
	VALUE(lt, v_timestamp(1500), "1500");
	VALUE(lt3, v_timestamp(1500), "1");
	VALUE(lt3, v_timestamp(-1), "-1");		/* floor */
	VALUE(lt, v_infinity(true), "9223372036825200000");
	VALUE(lt, v_infinity(false), "-9223372036832400000");
	VALUE(lt3, v_infinity(true), "9223372036825200");
	VALUE(lt3, v_infinity(false), "-9223372036832400");

	SCHEMA(dt, "{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Date\",\"version\":1,\"field\":\"c\"}");
	VALUE(dt, v_date(19782), "19782");
	VALUE(dt, v_date(-1), "-1");
	VALUE(dt, v_infinity(true), "-2147472692");
	VALUE(dt, v_infinity(false), "-2147472691");

	SCHEMA(tm, "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroTime\",\"version\":1,\"field\":\"c\"}");
	SCHEMA(tm3, "{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Time\",\"version\":1,\"field\":\"c\"}");
	VALUE(tm, v_time(INT64_C(86399999999)), "86399999999");
	VALUE(tm3, v_time(INT64_C(86399999000)), "86399999");

	dbz_column_clear(&tz);
	dbz_column_clear(&ts);
	dbz_column_clear(&ts3);
	dbz_column_clear(&ts0);
	dbz_column_clear(&lt);
	dbz_column_clear(&lt3);
	dbz_column_clear(&dt);
	dbz_column_clear(&tm);
	dbz_column_clear(&tm3);
}

static void
intervals(void)
{
	DbzColumn	c = col(1186, "interval");

	SCHEMA(c, "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroDuration\",\"version\":1,\"field\":\"c\"}");
	TEXT(c, "1 year 2 mons 3 days 04:05:06.789", "37091106789000");
	TEXT(c, "-178000000 years", "-9223372036854775808");
	TEXT(c, "178000000 years", "9223372036854775807");
	TEXT(c, "00:00:00", "0");
	TEXT(c, "-1 days +02:03:00", "-79020000000");
	TEXT(c, "-00:00:01.5", "-1500000");
	TEXT(c, "1 mon", "2629800000000");
	TEXT(c, "2 years", "63115200000000");
	BAD_TEXT(c, "banana");
	BAD_TEXT(c, "1");
	BAD_TEXT(c, "1 ");
	BAD_TEXT(c, "1 y");			/* a unit cut short, at the end of the buffer */
	BAD_TEXT(c, "1 mo");
	BAD_TEXT(c, "1 fortnights");
	BAD_TEXT(c, "01:02");
	BAD_TEXT(c, "01:02:");
	BAD_TEXT(c, "-");
	BAD_TEXT(c, "99999999999999999999999 years");	/* a number past int64: refused, not overflowed */
	BAD_TEXT(c, "99999999999999999999999:00:00");
	dbz_column_clear(&c);
}

/* Text-parsed types */

static void
hstores(void)
{
	DbzColumn	c = col(16400, "hstore");
	DbzColumn	p = col(16400, "public.hstore");

	SCHEMA(c, "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Json\",\"version\":1,\"field\":\"c\"}");
	TEXT(c, "\"a\"=>\"1\", \"b\"=>NULL", "\"{\\\"a\\\":\\\"1\\\",\\\"b\\\":null}\"");
	TEXT(p, "\"a\"=>\"1\", \"b\"=>NULL", "\"{\\\"a\\\":\\\"1\\\",\\\"b\\\":null}\"");
	TEXT(c, "", "\"{}\"");
	/* "k\"q"=>"v\\w": the key k"q, the value v\w, JSON-escaped inside the string. */
	TEXT(c, "\"k\\\"q\"=>\"v\\\\w\"", "\"{\\\"k\\\\\\\"q\\\":\\\"v\\\\\\\\w\\\"}\"");
	/* A key "NULL" is a string. */
	TEXT(c, "\"NULL\"=>\"x\"", "\"{\\\"NULL\\\":\\\"x\\\"}\"");
	BAD_TEXT(c, "\"a\"=");
	BAD_TEXT(c, "\"a\"");
	BAD_TEXT(c, "\"a\"=>");
	BAD_TEXT(c, "\"a\"=>\"1");
	BAD_TEXT(c, "\"a");
	BAD_TEXT(c, "\"a\\");
	BAD_TEXT(c, "a=>b");
	BAD_TEXT(c, "\"a\"=>\"1\" \"b\"=>\"2\"");
	BAD_TEXT(c, "\"a\"=>\"1\",");
	dbz_column_clear(&c);
	dbz_column_clear(&p);
}

static void
bits(void)
{
	DbzColumn	b4 = col(1560, "bit(4)");
	DbzColumn	b16 = col(1560, "bit(16)");
	DbzColumn	b9 = col(1560, "bit(9)");
	DbzColumn	b1 = col(1560, "bit(1)");
	DbzColumn	vb1 = col(1562, "bit varying(1)");
	DbzColumn	vb = col(1562, "bit varying");

	SCHEMA(b4, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"version\":1,"
		   "\"parameters\":{\"length\":\"4\"},\"field\":\"c\"}");
	SCHEMA(vb, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"version\":1,"
		   "\"parameters\":{\"length\":\"2147483647\"},\"field\":\"c\"}");
	SCHEMA(b1, "{\"type\":\"boolean\",\"optional\":true,\"field\":\"c\"}");
	SCHEMA(vb1, "{\"type\":\"boolean\",\"optional\":true,\"field\":\"c\"}");
	TEXT(b4, "1010", "\"Cg==\"");
	TEXT(b4, "0000", "\"\"");
	TEXT(b16, "0000000100000010", "\"AgE=\"");
	TEXT(b9, "100000000", "\"AAE=\"");
	TEXT(vb, "", "\"\"");
	TEXT(b1, "1", "true");
	TEXT(b1, "0", "false");
	TEXT(vb1, "1", "true");
	TEXT(vb1, "0", "false");
	BAD_TEXT(b4, "10a0");
	BAD_TEXT(b1, "2");
	BAD_TEXT(b1, "");
	BAD_TEXT(b1, "10");
	dbz_column_clear(&b4);
	dbz_column_clear(&b16);
	dbz_column_clear(&b9);
	dbz_column_clear(&b1);
	dbz_column_clear(&vb1);
	dbz_column_clear(&vb);
}

static void
points(void)
{
	DbzColumn	c = col(600, "point");

	SCHEMA(c, "{\"type\":\"struct\",\"fields\":[{\"type\":\"double\",\"optional\":false,\"field\":\"x\"},"
		   "{\"type\":\"double\",\"optional\":false,\"field\":\"y\"},"
		   "{\"type\":\"bytes\",\"optional\":true,\"field\":\"wkb\"},"
		   "{\"type\":\"int32\",\"optional\":true,\"field\":\"srid\"}],\"optional\":true,"
		   "\"name\":\"io.debezium.data.geometry.Point\",\"version\":1,\"doc\":\"Geometry (POINT)\",\"field\":\"c\"}");
	TEXT(c, "(1.5,-2.25)", "{\"x\":1.5,\"y\":-2.25,\"wkb\":\"AQEAAAAAAAAAAAD4PwAAAAAAAALA\",\"srid\":null}");
	BAD_TEXT(c, "(1,");
	BAD_TEXT(c, "(1,2");
	BAD_TEXT(c, "(1,2))");
	BAD_TEXT(c, "1,2");
	BAD_TEXT(c, "(a,2)");
	BAD_TEXT(c, "");
	dbz_column_clear(&c);
}

static void
arrays(void)
{
	DbzColumn	i4 = col(1007, "integer[]");
	DbzColumn	t = col(1009, "text[]");
	DbzColumn	b = col(1000, "boolean[]");
	DbzColumn	f8 = col(1022, "double precision[]");
	DbzColumn	d = col(1182, "date[]");
	static const struct
	{
		uint32_t	oid;
		const char *name;
	}			omitted[] = {
		{791, "money[]"}, {1187, "interval[]"}, {1563, "bit varying[]"}, {143, "xml[]"}, {1017, "point[]"},
	};

	SCHEMA(i4, "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true},\"optional\":true,\"field\":\"c\"}");
	SCHEMA(t, "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},\"optional\":true,\"field\":\"c\"}");
	SCHEMA(d, "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Date\","
		   "\"version\":1},\"optional\":true,\"field\":\"c\"}");
	TEXT(i4, "{1,2,3}", "[1,2,3]");
	TEXT(i4, "{}", "[]");
	TEXT(i4, "{1,NULL,-3}", "[1,null,-3]");
	TEXT(i4, "[0:1]={1,2}", "[1,2]");
	TEXT(i4, "{{1,2},{3,4}}", "[[1,2],[3,4]]");
	TEXT(t, "{a,\"b c\",NULL}", "[\"a\",\"b c\",null]");
	TEXT(t, "{\"NULL\"}", "[\"NULL\"]");
	TEXT(t, "{\"a\\\\b\"}", "[\"a\\\\b\"]");
	TEXT(t, "{\"a\\\"b\",\"\"}", "[\"a\\\"b\",\"\"]");
	TEXT(b, "{t,f}", "[true,false]");
	TEXT(f8, "{1.5,NaN}", "[1.5,\"NaN\"]");
	TEXT(f8, "{-Infinity,1e+100}", "[\"-Infinity\",1.0E100]");
	TEXT(d, "{2024-02-29}", "[19782]");
	TEXT(d, "{1970-01-01,NULL}", "[0,null]");
	TEXT(d, "{\"0044-03-15 BC\"}", "[-735160]");
	BAD_TEXT(i4, "{1,2");
	BAD_TEXT(i4, "{1,x}");
	BAD_TEXT(i4, "{1,}");
	BAD_TEXT(i4, "{");
	BAD_TEXT(i4, "[0:1]");
	BAD_TEXT(i4, "1,2");
	BAD_TEXT(i4, "}{");
	BAD_TEXT(i4, "{1}}");
	BAD_TEXT(i4, "{1},{2}");
	BAD_TEXT(i4, "");
	BAD_TEXT(t, "{\"a}");
	BAD_TEXT(t, "{\"a\\");
	BAD_TEXT(b, "{x}");
	BAD_TEXT(f8, "{1.5x}");
	BAD_TEXT(d, "{2024-13-01}");
	BAD_TEXT(d, "{2024-01}");

	for (size_t i = 0; i < sizeof(omitted) / sizeof(omitted[0]); i++)
	{
		DbzColumn	o = col(omitted[i].oid, omitted[i].name);

		CHECK(o.type.kind == DBZ_OMIT, "%s: kind %d, not DBZ_OMIT", omitted[i].name, (int) o.type.kind);
		dbz_column_clear(&o);
	}
	dbz_column_clear(&i4);
	dbz_column_clear(&t);
	dbz_column_clear(&b);
	dbz_column_clear(&f8);
	dbz_column_clear(&d);
}

/* An unchanged TOASTed value: the placeholder, in the column's type. */
static void
unchanged_toast(void)
{
	Bytes		toast = v_flag(WIRE_VALUE_UNCHANGED_TOAST, true);
	DbzColumn	t = col(25, "text");
	DbzColumn	by = col(17, "bytea");
	DbzColumn	i4 = col(1007, "integer[]");
	DbzColumn	ta = col(1009, "text[]");
	DbzColumn	h = col(16400, "hstore");
	DbzColumn	n = col(1700, "numeric");
	DbzColumn	f8 = col(1022, "double precision[]");
	Span		s = {toast.data, toast.len},
				other = {NULL, 0};
	Bytes		txt = v_text("x");

	CHECK(dbz_value_unchanged(s), "unchanged_toast not seen");
	other.data = txt.data;
	other.len = txt.len;
	CHECK(!dbz_value_unchanged(other), "a text value taken for unchanged");
	other.len = 0;
	CHECK(!dbz_value_unchanged(other), "an empty value taken for unchanged");

	VALUE(t, toast, "\"" PLACEHOLDER "\"");
	VALUE(by, toast, "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"");
	VALUE(i4, toast, "[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,"
		  "95,118,97,108,117,101]");
	VALUE(ta, toast, "[\"" PLACEHOLDER "\"]");
	VALUE(h, toast, "\"{\\\"" PLACEHOLDER "\\\":\\\"" PLACEHOLDER "\\\"}\"");
	VALUE(n, toast, "null");
	VALUE(f8, toast, "null");

	dbz_column_clear(&t);
	dbz_column_clear(&by);
	dbz_column_clear(&i4);
	dbz_column_clear(&ta);
	dbz_column_clear(&h);
	dbz_column_clear(&n);
	dbz_column_clear(&f8);
}

/* Domains map as their base type; an enum carries its labels. */
static void
domains_and_enums(void)
{
	static const char *const labels[] = {"sad", "ok", "happy", NULL};
	DbzColumn	dom = column_of(column_bytes(16385, "posint", 23, "integer", NULL, false));
	DbzColumn	dnum = column_of(column_bytes(16386, "price", 1700, "numeric(10,2)", NULL, false));
	DbzColumn	e = column_of(column_bytes(16390, "mood", 0, NULL, labels, false));
	DbzColumn	de = column_of(column_bytes(16391, "mood_d", 16390, "mood", labels, false));
	DbzColumn	unknown = col(16392, "tsvector");

	SCHEMA(dom, "{\"type\":\"int32\",\"optional\":true,\"field\":\"c\"}");
	VALUE(dom, v_int(7), "7");
	SCHEMA(dnum, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","
		   "\"version\":1,\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"10\"},\"field\":\"c\"}");
	VALUE(dnum, v_numeric("12.34"), "\"BNI=\"");
	SCHEMA(e, "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
		   "\"parameters\":{\"allowed\":\"sad,ok,happy\"},\"field\":\"c\"}");
	TEXT(e, "ok", "\"ok\"");
	SCHEMA(de, "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
		   "\"parameters\":{\"allowed\":\"sad,ok,happy\"},\"field\":\"c\"}");
	SCHEMA(unknown, "{\"type\":\"string\",\"optional\":true,\"field\":\"c\"}");
	TEXT(unknown, "'a':1", "\"'a':1\"");

	dbz_column_clear(&dom);
	dbz_column_clear(&dnum);
	dbz_column_clear(&e);
	dbz_column_clear(&de);
	dbz_column_clear(&unknown);
}

/* Every prefix of a Column either reads or is refused, never read past (exact-size copies). */
static void
column_prefixes(void)
{
	static const char *const labels[] = {"sad", "ok", NULL};
	Bytes		b = column_bytes(16391, "mood_d", 16390, "mood", labels, true);
	DbzColumn	c;

	for (size_t n = 0; n <= b.len; n++)
	{
		uint8_t    *copy = malloc(n ? n : 1);
		Span		s = {copy, n};

		memcpy(copy, b.data, n);
		if (dbz_column_read(s, NULL, &c))
			dbz_column_clear(&c);
		free(copy);
	}
	c = column_of(b);
	CHECK(c.name && strcmp(c.name, "c") == 0 && !c.optional && c.type.kind == DBZ_ENUM,
		  "column read back: %s optional %d kind %d", c.name ? c.name : "(null)", c.optional, (int) c.type.kind);
	dbz_column_clear(&c);
}

int
main(void)
{
	json_strings();
	json_doubles();
	numerics();
	scalars();
	times();
	intervals();
	hstores();
	bits();
	points();
	arrays();
	unchanged_toast();
	domains_and_enums();
	column_prefixes();
	return unit_summary("test-dbz");
}
