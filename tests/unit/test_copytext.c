/*
 * test_copytext.c — Values as COPY text: dates and timestamps across the
 * epoch and BC, special floats, escaping, bytea and uuid forms.
 */
#include <math.h>
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
	buf_free(&b);
	return unit_summary("copytext");
}
