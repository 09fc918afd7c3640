/*
 * test_copytext.c — Values as COPY text: dates and timestamps across the
 * epoch and BC, special floats, escaping, bytea and uuid forms; every kind
 * at its extremes, the ones PostgreSQL has accepted by copytext_check and
 * written as PostgreSQL reads them, the others refused with the reason and,
 * written anyway, bounded and without breaking the COPY's framing.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "unit.h"

static const char *
render(Pgcdc__Value *v, Buf *b)
{
	b->len = 0;
	copytext_value(b, v);
	buf_putc(b, '\0');
	return b->data;
}

/* copytext_check refuses v, with a reason containing want. */
static bool
refused(const Pgcdc__Value *v, const char *want)
{
	char		why[128] = "";

	return !copytext_check(v, why, sizeof(why)) && strstr(why, want) != NULL;
}

static bool
accepted(const Pgcdc__Value *v)
{
	char		why[128];

	return copytext_check(v, why, sizeof(why));
}

/* v written as one field: short and free of what would end it (tab, newline, CR), whatever v is. */
static bool
framed(Pgcdc__Value *v, Buf *b)
{
	render(v, b);
	return b->len - 1 <= 64 && strpbrk(b->data, "\t\n\r") == NULL;
}

/* Times: 00:00:00 to 24:00:00 only; any int64 written within bounds (a negative one crashed walsink). */
static void
times(Buf *b)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;

	v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	v.time_value = -1;
	CHECK(strcmp(render(&v, b), "-00:00:00.000001") == 0, "time -1 as it is: %s", b->data);
	CHECK(refused(&v, "time value -1 (microseconds after midnight) is not between 00:00:00 and 24:00:00"),
		  "time -1 refused");
	v.time_value = INT64_C(-3661000001);	/* every field negative: 84 bytes into 64, walsink's SIGSEGV */
	CHECK(strcmp(render(&v, b), "-01:01:01.000001") == 0, "time -01:01:01.000001: %s", b->data);
	v.time_value = INT64_MIN;
	CHECK(strcmp(render(&v, b), "-2562047788:00:54.775808") == 0, "time INT64_MIN: %s", b->data);
	CHECK(refused(&v, "time value -9223372036854775808"), "time INT64_MIN refused");
	v.time_value = INT64_MAX;
	CHECK(strcmp(render(&v, b), "2562047788:00:54.775807") == 0, "time INT64_MAX: %s", b->data);
	CHECK(refused(&v, "time value 9223372036854775807"), "time INT64_MAX refused");
	v.time_value = INT64_C(86400000001);
	CHECK(refused(&v, "is not between"), "time just past 24:00:00 refused");
	v.time_value = INT64_C(86400000000);
	CHECK(accepted(&v), "24:00:00 accepted");
	v.time_value = 0;
	CHECK(accepted(&v) && strcmp(render(&v, b), "00:00:00.000000") == 0, "midnight: %s", b->data);
}

/* Dates and timestamps: PostgreSQL's range exactly, and infinities of a known sign. */
static void
dates(Buf *b)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;

	v.kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
	v.date_value = -2440588;
	CHECK(accepted(&v) && strcmp(render(&v, b), "4714-11-24 BC") == 0, "first date: %s", b->data);
	v.date_value = -2440589;
	CHECK(refused(&v, "date value -2440589 (days from 1970-01-01) is not between 4714-11-24 BC and "
				  "5874897-12-31"), "the day before refused");
	v.date_value = 2145042905;
	CHECK(accepted(&v) && strcmp(render(&v, b), "5874897-12-31") == 0, "last date: %s", b->data);
	v.date_value = 2145042906;
	CHECK(refused(&v, "date value 2145042906"), "the day after refused");
	v.date_value = INT32_MIN;
	CHECK(refused(&v, "date value -2147483648") && framed(&v, b), "date INT32_MIN: %s", b->data);
	v.date_value = INT32_MAX;
	CHECK(refused(&v, "date value 2147483647") && framed(&v, b), "date INT32_MAX: %s", b->data);

	v.kind_case = PGCDC__VALUE__KIND_TIMESTAMP_VALUE;
	v.timestamp_value = INT64_C(-210866803200000000);
	CHECK(accepted(&v) && strcmp(render(&v, b), "4714-11-24 00:00:00.000000+00 BC") == 0,
		  "first timestamp: %s", b->data);
	v.timestamp_value--;
	CHECK(refused(&v, "timestamp value -210866803200000001 (microseconds from 1970) is before "
				  "4714-11-24 00:00:00 BC"), "the microsecond before refused");
	v.timestamp_value = INT64_MIN;
	CHECK(refused(&v, "timestamp value -9223372036854775808") && framed(&v, b), "timestamp INT64_MIN: %s",
		  b->data);
	v.timestamp_value = INT64_MAX;
	CHECK(accepted(&v) && strcmp(render(&v, b), "294247-01-10 04:00:54.775807+00") == 0,
		  "timestamp INT64_MAX: %s", b->data);

	v.kind_case = PGCDC__VALUE__KIND_INFINITY;
	v.infinity = PGCDC__INFINITY__INFINITY_POSITIVE;
	CHECK(accepted(&v) && strcmp(render(&v, b), "infinity") == 0, "infinity: %s", b->data);
	v.infinity = PGCDC__INFINITY__INFINITY_UNSPECIFIED;
	CHECK(refused(&v, "infinity of unknown sign 0") && framed(&v, b), "infinity of no sign refused");
	v.infinity = 7;
	CHECK(refused(&v, "infinity of unknown sign 7") && framed(&v, b), "infinity of sign 7 refused");
}

static bool
numeric_accepted(const char *text)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;

	v.kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
	v.numeric_value = (char *) text;
	return accepted(&v);
}

/* Numerics: numeric_out's forms only, up to 131072 digits before the point and 16383 after. */
static void
numerics(void)
{
	static const char *good[] = {"NaN", "Infinity", "-Infinity", "0", "-0", "-0.5", "12345.678900", "007.10"};
	static const char *garbage[] = {"", "-", "1e5", ".5", "5.", "+1", "1 ", " 1", "abc", "1.2.3", "--1",
	"-NaN", "NaN ", "nan", "inf", "0x10", "1,5", "\t1"};
	char	   *big = malloc(200003);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(numeric_accepted(good[i]), "numeric %s accepted", good[i]);
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		CHECK(!numeric_accepted(garbage[i]), "numeric \"%s\" refused", garbage[i]);
	big[0] = '1';
	memset(big + 1, '0', 131071);
	big[131072] = '\0';
	CHECK(numeric_accepted(big), "131072 digits before the point");
	strcpy(big + 131072, "0");
	CHECK(!numeric_accepted(big), "131073 digits before the point refused");
	memset(big, '0', 200000);
	strcpy(big + 200000, "1");
	CHECK(numeric_accepted(big), "leading zeros do not count");
	memcpy(big, "-0.", 3);
	memset(big + 3, '9', 16383);
	big[3 + 16383] = '\0';
	CHECK(numeric_accepted(big), "16383 digits after the point");
	strcpy(big + 3 + 16383, "9");
	CHECK(!numeric_accepted(big), "16384 digits after the point refused");
	free(big);
}

/* What has no range of its own: accepted at its extremes, written as PostgreSQL reads it. */
static void
others(Buf *b)
{
	Pgcdc__Value v = PGCDC__VALUE__INIT;
	uint8_t		uuid[17] = {0};

	v.kind_case = PGCDC__VALUE__KIND_UUID_VALUE;
	v.uuid_value.data = uuid;
	v.uuid_value.len = 17;
	CHECK(refused(&v, "a uuid of 17 bytes") && framed(&v, b), "uuid of 17 bytes");
	v.uuid_value.len = 0;
	v.uuid_value.data = NULL;
	CHECK(refused(&v, "a uuid of 0 bytes") && framed(&v, b), "empty uuid");
	v.kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
	v.float_value = -DBL_MAX;
	CHECK(accepted(&v) && strcmp(render(&v, b), "-1.7976931348623157e+308") == 0, "-DBL_MAX: %s", b->data);
	v.float_value = 5e-324;
	CHECK(strcmp(render(&v, b), "4.9406564584124654e-324") == 0, "smallest double: %s", b->data);
	v.kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v.text_value = "";
	CHECK(accepted(&v) && strcmp(render(&v, b), "") == 0, "empty text");
	/* An interval is text: the target judges it. */
	v.text_value = "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808";
	CHECK(accepted(&v) && strcmp(render(&v, b), v.text_value) == 0, "interval at its minimum: %s", b->data);
	v.kind_case = PGCDC__VALUE__KIND_BYTES_VALUE;
	v.bytes_value.data = NULL;
	v.bytes_value.len = 0;
	CHECK(accepted(&v) && strcmp(render(&v, b), "\\\\x") == 0, "empty bytea: %s", b->data);
	v.kind_case = PGCDC__VALUE__KIND__NOT_SET;
	CHECK(accepted(&v) && strcmp(render(&v, b), "\\N") == 0, "unset");
}

int
main(void)
{
	char		out[64];
	Buf			b = {0};
	Pgcdc__Value v = PGCDC__VALUE__INIT;
	uint8_t		bytes[] = {0x00, 0xff, 0x5c};
	uint8_t		uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8};

	copytext_date(out, 0);
	CHECK(strcmp(out, "1970-01-01") == 0, "epoch: %s", out);
	copytext_date(out, -1);
	CHECK(strcmp(out, "1969-12-31") == 0, "day before: %s", out);
	copytext_date(out, 11016);
	CHECK(strcmp(out, "2000-02-29") == 0, "leap day: %s", out);
	copytext_date(out, -719163);	/* 0000-12-31: the last day of 1 BC */
	CHECK(strcmp(out, "0001-12-31 BC") == 0, "1 BC: %s", out);
	copytext_timestamp(out, INT64_C(915768306789000));
	CHECK(strcmp(out, "1999-01-08 04:05:06.789000+00") == 0, "timestamp: %s", out);
	copytext_timestamp(out, -1);
	CHECK(strcmp(out, "1969-12-31 23:59:59.999999+00") == 0, "just before the epoch: %s", out);

	copytext_timestamp(out, INT64_C(253402300799999999));	/* 9999-12-31 23:59:59.999999 */
	CHECK(strcmp(out, "9999-12-31 23:59:59.999999+00") == 0, "last of year 9999: %s", out);
	copytext_timestamp(out, INT64_C(253402300800000000));
	CHECK(strcmp(out, "10000-01-01 00:00:00.000000+00") == 0, "five-digit year: %s", out);
	copytext_timestamp(out, INT64_C(-62135596800000001));	/* just before 0001-01-01 */
	CHECK(strcmp(out, "0001-12-31 23:59:59.999999+00 BC") == 0, "timestamp BC: %s", out);
	v.kind_case = PGCDC__VALUE__KIND_INT_VALUE;
	v.int_value = INT64_MIN;
	CHECK(strcmp(render(&v, &b), "-9223372036854775808") == 0, "int64 min: %s", b.data);
	v.int_value = INT64_MAX;
	CHECK(strcmp(render(&v, &b), "9223372036854775807") == 0, "int64 max: %s", b.data);
	v.int_value = 0;
	CHECK(strcmp(render(&v, &b), "0") == 0, "zero: %s", b.data);
	v.int_value = -7;
	CHECK(strcmp(render(&v, &b), "-7") == 0, "negative: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	v.time_value = INT64_C(86400000000);	/* 24:00:00 is a valid time */
	CHECK(strcmp(render(&v, &b), "24:00:00.000000") == 0, "time 24:00: %s", b.data);

	v.kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v.text_value = "a\tb\\c\nd\re";
	CHECK(strcmp(render(&v, &b), "a\\tb\\\\c\\nd\\re") == 0, "escaping: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
	v.float_value = -INFINITY;
	CHECK(strcmp(render(&v, &b), "-Infinity") == 0, "-inf: %s", b.data);
	v.float_value = NAN;
	CHECK(strcmp(render(&v, &b), "NaN") == 0, "nan: %s", b.data);
	v.float_value = 0.1;
	CHECK(strcmp(render(&v, &b), "0.10000000000000001") == 0, "round trip digits: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_BYTES_VALUE;
	v.bytes_value.data = bytes;
	v.bytes_value.len = sizeof(bytes);
	CHECK(strcmp(render(&v, &b), "\\\\x00ff5c") == 0, "bytea: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_UUID_VALUE;
	v.uuid_value.data = uuid;
	v.uuid_value.len = 16;
	CHECK(strcmp(render(&v, &b), "12345678-9abc-def0-0102-030405060708") == 0, "uuid: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_UNCHANGED_TOAST;
	CHECK(strcmp(render(&v, &b), "\\N") == 0, "unchanged toast: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_INFINITY;
	v.infinity = PGCDC__INFINITY__INFINITY_NEGATIVE;
	CHECK(strcmp(render(&v, &b), "-infinity") == 0, "-infinity: %s", b.data);
	v.kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
	v.time_value = INT64_C(86399999999);
	CHECK(strcmp(render(&v, &b), "23:59:59.999999") == 0, "time: %s", b.data);
	b.len = 0;
	buf_put_utf8(&b, "ok \xC3\xA9 \xF0\x9F\x98\x80");
	CHECK(strcmp(b.data, "ok \xC3\xA9 \xF0\x9F\x98\x80") == 0, "valid UTF-8 kept: %s", b.data);
	b.len = 0;
	buf_put_utf8(&b, "a\xFF" "b\xC3(\xC0\xAF\xED\xA0\x80\xE2\x82");
	CHECK(strcmp(b.data, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
				 "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0,
		  "stray, overlong, surrogate and cut sequences replaced: %s", b.data);
	CHECK(utf8_valid("ok \xC3\xA9 \xF0\x9F\x98\x80") && utf8_valid(""), "valid UTF-8");
	CHECK(!utf8_valid("a\xC3") && !utf8_valid("\xED\xA0\x80") && !utf8_valid("\xF4\x90\x80\x80"),
		  "cut, surrogate, beyond U+10FFFF: not valid");
	times(&b);
	dates(&b);
	numerics();
	others(&b);
	buf_free(&b);
	return unit_summary("copytext");
}
