/*
 * render.c — a Value through copytext and copybin, checked.
 *
 * For every value: a text field is bounded and holds no byte that would end
 * it (tab, newline, CR); a binary field's length word counts exactly the
 * bytes after it; a value binary COPY cannot carry leaves the buffer as it
 * was; copybin carries no value that copytext_check refuses, and every date,
 * timestamp and infinity it accepts.  For accepted values, the text of a
 * time, date or timestamp, and the binary form of an integer, float, date,
 * timestamp, numeric, text, bytea or uuid read back as the value itself,
 * under PostgreSQL's reading of those forms (re-implemented here, small).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copybin.h"
#include "copytext.h"
#include "render.h"

#define EPOCH_DAYS INT64_C(10957)	/* 2000-01-01, PostgreSQL's epoch, from 1970-01-01 */
#define EPOCH_USECS (EPOCH_DAYS * INT64_C(86400000000))

void
render_fail(const char *what)
{
	fprintf(stderr, "render: %s\n", what);
	abort();
}

/* Days from 1970-01-01 of a proleptic Gregorian date, year 0 being 1 BC. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + doe - 719468;
}

/* At least min decimal digits at *p (at most 12) into *v. */
static bool
digits_at(const char **p, int min, int64_t *v)
{
	int			n = 0;

	*v = 0;
	while (n < 12 && (*p)[n] >= '0' && (*p)[n] <= '9')
		*v = *v * 10 + ((*p)[n++] - '0');
	*p += n;
	return n >= min;
}

/* "Y-MM-DD" at *p, then *p past it; the day checked against its month's length after the era is known. */
static bool
read_date(const char **p, int64_t ymd[3])
{
	return digits_at(p, 4, &ymd[0]) && *(*p)++ == '-' && digits_at(p, 2, &ymd[1]) && *(*p)++ == '-' &&
		digits_at(p, 2, &ymd[2]) && ymd[1] >= 1 && ymd[1] <= 12 && ymd[2] >= 1;
}

/* The days of ymd, rest being "" or " BC" after it; false when not a date. */
static bool
date_days(int64_t ymd[3], const char *rest, int64_t *days)
{
	int64_t		y = strcmp(rest, " BC") == 0 ? 1 - ymd[0] : ymd[0];
	int64_t		next = ymd[1] == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, ymd[1] + 1, 1);

	if ((rest[0] != '\0' && strcmp(rest, " BC") != 0) || (y <= 0) != (rest[0] != '\0'))
		return false;
	*days = days_from_civil(y, ymd[1], ymd[2]);
	return *days < next;
}

/* "HH:MM:SS.ffffff" at *p, then *p past it. */
static bool
read_time(const char **p, int64_t *usecs)
{
	int64_t		h,
				m,
				s,
				f;
	const char *frac;

	if (!digits_at(p, 2, &h) || *(*p)++ != ':' || !digits_at(p, 2, &m) || *(*p)++ != ':' ||
		!digits_at(p, 2, &s) || *(*p)++ != '.')
		return false;
	frac = *p;
	if (!digits_at(p, 6, &f) || *p - frac != 6 || m > 59 || s > 59)
		return false;
	*usecs = ((h * 60 + m) * 60 + s) * 1000000 + f;
	return true;
}

/* An accepted time's, date's or timestamp's text reads back as the value. */
static void
text_reads_back(const Pgcdc__Value *v, const char *s)
{
	const char *p = s;
	int64_t		ymd[3];
	int64_t		days;
	int64_t		usecs;

	switch (v->kind_case)
	{
		case PGCDC__VALUE__KIND_TIME_VALUE:
			RENDER_ASSERT(read_time(&p, &usecs) && *p == '\0' && usecs == v->time_value,
						  "a time's text does not read back");
			break;
		case PGCDC__VALUE__KIND_DATE_VALUE:
			RENDER_ASSERT(read_date(&p, ymd) && date_days(ymd, p, &days) && days == v->date_value,
						  "a date's text does not read back");
			break;
		case PGCDC__VALUE__KIND_TIMESTAMP_VALUE:
			RENDER_ASSERT(read_date(&p, ymd) && *p++ == ' ' && read_time(&p, &usecs) && usecs < INT64_C(86400000000) &&
						  strncmp(p, "+00", 3) == 0 && date_days(ymd, p + 3, &days) &&
						  days * INT64_C(86400000000) + usecs == v->timestamp_value,
						  "a timestamp's text does not read back");
			break;
		default:
			break;
	}
}

/* A text field: bounded, framed, and for accepted values read back where there is an oracle. */
static void
text_field(const Pgcdc__Value *v, bool accepted)
{
	Buf			b = {0};
	size_t		n;
	size_t		max = 64;

	buf_putc(&b, 'x');			/* a field is appended: not at the start */
	copytext_value(&b, v);
	n = b.len - 1;
	if (v->kind_case == PGCDC__VALUE__KIND_TEXT_VALUE)
		max = 2 * strlen(v->text_value);
	else if (v->kind_case == PGCDC__VALUE__KIND_NUMERIC_VALUE)
		max = 2 * strlen(v->numeric_value);
	else if (v->kind_case == PGCDC__VALUE__KIND_BYTES_VALUE)
		max = 3 + 2 * v->bytes_value.len;
	RENDER_ASSERT(n <= max, "a text field longer than its value allows");
	RENDER_ASSERT(memchr(b.data + 1, '\t', n) == NULL && memchr(b.data + 1, '\n', n) == NULL &&
				  memchr(b.data + 1, '\r', n) == NULL, "a text field with a raw tab, newline or CR");
	buf_putc(&b, '\0');
	if (accepted)
		text_reads_back(v, b.data + 1);
	buf_free(&b);
}

static uint64_t
be(const char *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | (uint8_t) p[i];
	return v;
}

/*
 * numeric_send's form as PostgreSQL's numeric_recv reads it, printed as
 * numeric_out would, beside the text it was made from with its leading
 * zeros (and a zero's sign) dropped, as numeric_in reads it.
 */
static void
numeric_reads_back(const char *f, size_t len, const char *text)
{
	size_t		ndigits = be(f, 2);
	int			weight = (int16_t) be(f + 2, 2);
	uint64_t	sign = be(f + 4, 2);
	int			dscale = (int) be(f + 6, 2);
	char		got[1100];
	char		want[1100];
	size_t		n = 0;
	bool		nonzero = false;
	const char *t = text + (text[0] == '-');

	RENDER_ASSERT(len == 8 + 2 * ndigits && dscale <= 0x3FFF, "a numeric's header");
	if (sign == 0xC000)
	{
		RENDER_ASSERT(ndigits == 0 && strcmp(text, "NaN") == 0, "NaN");
		return;
	}
	RENDER_ASSERT(sign == 0 || sign == 0x4000, "a numeric's sign");
	RENDER_ASSERT(4 * (weight < 0 ? 0 : weight) + 4 + dscale + 2 < (int) sizeof(got), "a numeric's size");
	for (int k = 4 * (weight < 0 ? 0 : weight) + 3; k >= -dscale; k--)
	{
		int			g = weight - (k >= 0 ? k / 4 : -((-k + 3) / 4));
		int			pos = ((k % 4) + 4) % 4;
		unsigned	gv = g >= 0 && (size_t) g < ndigits ? (unsigned) be(f + 8 + 2 * g, 2) : 0;
		int			d = (int) (gv / (pos == 0 ? 1 : pos == 1 ? 10 : pos == 2 ? 100 : 1000) % 10);

		RENDER_ASSERT(gv < 10000, "a base-10000 digit past 9999");
		nonzero |= d != 0;
		if (k == -1)
			got[n++] = '.';
		if (d != 0 || n > 0 || k == 0)
			got[n++] = (char) ('0' + d);
	}
	got[n] = '\0';
	n = 0;
	if (nonzero && sign == 0x4000)
		want[n++] = '-';
	t += strspn(t, "0");
	if (*t == '\0' || *t == '.')
		want[n++] = '0';
	snprintf(want + n, sizeof(want) - n, "%s", t);
	RENDER_ASSERT(strcmp(got, want + (want[0] == '-')) == 0 && (want[0] == '-') == (nonzero && sign == 0x4000),
				  "a numeric's binary form does not read back");
}

static bool
nullish(const Pgcdc__Value *v)
{
	return v->kind_case == PGCDC__VALUE__KIND__NOT_SET || v->kind_case == PGCDC__VALUE__KIND_IS_NULL ||
		v->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST;
}

/* Whether copybin must carry v as type t: a date, timestamp or infinity copytext_check accepts. */
static bool
must_carry(const Pgcdc__Value *v, CopyBinType t)
{
	switch (v->kind_case)
	{
		case PGCDC__VALUE__KIND_DATE_VALUE:
			return t == COPYBIN_DATE;
		case PGCDC__VALUE__KIND_TIMESTAMP_VALUE:
			return t == COPYBIN_TIMESTAMP;
		case PGCDC__VALUE__KIND_INFINITY:
			return t == COPYBIN_DATE || t == COPYBIN_TIMESTAMP;
		default:
			return nullish(v);
	}
}

/* A binary field (f, len bytes after the length word) reads back as v. */
static void
binary_reads_back(const Pgcdc__Value *v, CopyBinType t, const char *f, size_t len)
{
	union
	{
		uint64_t	u;
		double		d;
	}			d8;
	union
	{
		uint32_t	u;
		float		f;
	}			f4;
	int			bytes = t == COPYBIN_INT2 ? 2 : t == COPYBIN_INT4 ? 4 : 8;
	const ProtobufCBinaryData *bin;

	switch (t)
	{
		case COPYBIN_BOOL:
			RENDER_ASSERT(len == 1 && f[0] == v->bool_value, "a boolean's binary form");
			break;
		case COPYBIN_INT2:
		case COPYBIN_INT4:
		case COPYBIN_INT8:
			RENDER_ASSERT(len == (size_t) bytes &&
						  (int64_t) (be(f, bytes) << (64 - 8 * bytes)) >> (64 - 8 * bytes) == v->int_value,
						  "an integer's binary form");
			break;
		case COPYBIN_FLOAT8:
			d8.u = be(f, 8);
			RENDER_ASSERT(len == 8 && memcmp(&d8.d, &v->float_value, 8) == 0, "a float8's binary form");
			break;
		case COPYBIN_FLOAT4:
			f4.u = (uint32_t) be(f, 4);
			RENDER_ASSERT(len == 4 && ((double) f4.f == v->float_value || (isnan(f4.f) && isnan(v->float_value))),
						  "a float4's binary form");
			break;
		case COPYBIN_DATE:
			RENDER_ASSERT(len == 4 && (v->kind_case != PGCDC__VALUE__KIND_DATE_VALUE ||
									   (int32_t) be(f, 4) == v->date_value - EPOCH_DAYS), "a date's binary form");
			break;
		case COPYBIN_TIMESTAMP:
			RENDER_ASSERT(len == 8 && (v->kind_case != PGCDC__VALUE__KIND_TIMESTAMP_VALUE ||
									   (int64_t) be(f, 8) == v->timestamp_value - EPOCH_USECS),
						  "a timestamp's binary form");
			break;
		case COPYBIN_NUMERIC:
			numeric_reads_back(f, len, v->numeric_value);
			break;
		case COPYBIN_TEXT:
			RENDER_ASSERT(len == strlen(v->text_value) && memcmp(f, v->text_value, len) == 0, "a text's binary form");
			break;
		case COPYBIN_JSONB:
			RENDER_ASSERT(len == 1 + strlen(v->text_value) && f[0] == 1 && memcmp(f + 1, v->text_value, len - 1) == 0,
						  "a jsonb's binary form");
			break;
		case COPYBIN_BYTEA:
		case COPYBIN_UUID:
			bin = t == COPYBIN_UUID ? &v->uuid_value : &v->bytes_value;
			RENDER_ASSERT(len == bin->len && (len == 0 || memcmp(f, bin->data, len) == 0) &&
						  (t == COPYBIN_BYTEA || len == 16), "a bytea's or uuid's binary form");
			break;
		default:
			render_fail("a binary field for a type without one");
	}
}

static void
binary_field(const Pgcdc__Value *v, CopyBinType t, bool accepted)
{
	Buf			b = {0};
	bool		ok;
	size_t		n;
	uint64_t	len;

	buf_append(&b, "prefix", 6);	/* a field is appended: not at the start */
	ok = copybin_value(&b, t, v);
	n = b.len - 6;
	RENDER_ASSERT(ok || n == 0, "a value binary COPY cannot carry left bytes behind");
	RENDER_ASSERT(ok || !accepted || !must_carry(v, t), "binary COPY cannot carry a value it must");
	RENDER_ASSERT(!ok || accepted, "binary COPY carries a value copytext_check refuses");
	if (ok)
	{
		RENDER_ASSERT(n >= 4, "a binary field without its length word");
		len = be(b.data + 6, 4);
		if (len == 0xFFFFFFFF)
			RENDER_ASSERT(n == 4 && nullish(v), "a NULL field for a value, or with bytes after it");
		else
		{
			RENDER_ASSERT(n == 4 + len && !nullish(v), "a binary field's length word is not its length");
			binary_reads_back(v, t, b.data + 10, len);
		}
	}
	buf_free(&b);
}

void
render_value(const Pgcdc__Value *v)
{
	char		why[128];
	bool		accepted = copytext_check(v, why, sizeof(why));

	RENDER_ASSERT(accepted || (why[0] != '\0' && strlen(why) < sizeof(why) - 1), "a refusal without a reason");
	text_field(v, accepted);
	for (CopyBinType t = COPYBIN_NONE; t <= COPYBIN_TIMESTAMP; t++)
		binary_field(v, t, accepted);
}
