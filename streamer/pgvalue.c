/*
 * pgvalue.c — a value's text, as its type's output function writes it, into
 * the canonical Value the pgcdc plugin makes of the datum (pgvalue.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "pgvalue.h"
#include "wire.h"

#define USECS_PER_DAY INT64_C(86400000000)
/* PostgreSQL's epoch, 2000-01-01, in days after 1970-01-01. */
#define PG_EPOCH_DAYS 10957
/* 2000-01-01 in µs after 1970-01-01. */
#define PG_EPOCH_USECS INT64_C(946684800000000)

PgvClass
pgvalue_class(uint32_t type_oid)
{
	switch (type_oid)
	{
		case 16:
			return PGV_BOOL;
		case 20:				/* int8 */
		case 21:				/* int2 */
		case 23:				/* int4 */
		case 26:				/* oid */
			return PGV_INT;
		case 700:
			return PGV_FLOAT4;
		case 701:
			return PGV_FLOAT8;
		case 1700:
			return PGV_NUMERIC;
		case 1114:				/* timestamp */
		case 1184:				/* timestamptz */
			return PGV_TIMESTAMP;
		case 1082:
			return PGV_DATE;
		case 1083:
			return PGV_TIME;
		case 25:				/* text */
		case 1043:				/* varchar */
		case 1042:				/* bpchar */
		case 114:				/* json */
			return PGV_TEXT;
		case 2950:
			return PGV_UUID;
		case 17:
			return PGV_BYTEA;
		default:
			return PGV_OUTPUT;
	}
}

/* A parse of the text, left to right; a mismatch makes it bad. */
typedef struct Text
{
	const char *s;
	size_t		len;
	size_t		at;
	bool		bad;
} Text;

static bool
more(const Text *t)
{
	return !t->bad && t->at < t->len;
}

static bool
accept(Text *t, char c)
{
	if (more(t) && t->s[t->at] == c)
	{
		t->at++;
		return true;
	}
	return false;
}

static void
expect(Text *t, char c)
{
	if (!accept(t, c))
		t->bad = true;
}

/* At least min digits (at most 18), as a number. */
static int64_t
digits(Text *t, int min)
{
	int64_t		v = 0;
	int			n = 0;

	while (more(t) && t->s[t->at] >= '0' && t->s[t->at] <= '9' && n < 18)
	{
		v = v * 10 + (t->s[t->at++] - '0');
		n++;
	}
	if (n < min)
		t->bad = true;
	return v;
}

/* "YYYY-MM-DD": days after 1970-01-01, before the era is known. */
static void
read_date(Text *t, int64_t *y, int64_t *m, int64_t *d)
{
	*y = digits(t, 4);
	expect(t, '-');
	*m = digits(t, 2);
	expect(t, '-');
	*d = digits(t, 2);
	if (*m < 1 || *m > 12 || *d < 1 || *d > 31)
		t->bad = true;
}

/* "HH:MM:SS[.ffffff]": µs after midnight (24:00:00 included). */
static int64_t
read_time(Text *t)
{
	int64_t		h = digits(t, 2),
				mi,
				s,
				frac = 0;

	expect(t, ':');
	mi = digits(t, 2);
	expect(t, ':');
	s = digits(t, 2);
	if (accept(t, '.'))
	{
		size_t		from = t->at;
		int64_t		f = digits(t, 1);
		size_t		n = t->at - from;

		if (n > 6)
			t->bad = true;
		for (frac = f; n < 6; n++)
			frac *= 10;
	}
	if (h > 24 || mi > 59 || s > 60 || (h == 24 && (mi || s || frac)))
		t->bad = true;
	return ((h * 60 + mi) * 60 + s) * INT64_C(1000000) + frac;
}

/* " BC" at the end: the year, counted from 1 BC as 0. */
static int64_t
era(Text *t, int64_t year)
{
	if (t->len - t->at == 3 && memcmp(t->s + t->at, " BC", 3) == 0)
	{
		t->at += 3;
		return 1 - year;
	}
	return year;
}

static bool
is(const char *text, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(text, word, len) == 0;
}

static uint8_t *
put_varint_value(uint8_t *p, int field, uint64_t v)
{
	return wire_put_varint_field(p, (uint32_t) field, v);
}

static size_t
infinity(uint8_t *out, bool negative)
{
	return (size_t) (put_varint_value(out, WIRE_VALUE_INFINITY,
									  wire_enum(negative ? PGCDC__INFINITY__INFINITY_NEGATIVE :
												PGCDC__INFINITY__INFINITY_POSITIVE)) - out);
}

static size_t
text_value(const char *text, size_t len, uint8_t *out)
{
	return (size_t) (wire_put_len_field(out, WIRE_VALUE_TEXT_VALUE, text, len) - out);
}

static size_t
timestamp(const char *text, size_t len, uint8_t *out, bool *bad)
{
	Text		t = {text, len, 0, false};
	int64_t		y,
				m,
				d,
				usecs,
				days;

	if (is(text, len, "infinity") || is(text, len, "-infinity"))
		return infinity(out, text[0] == '-');
	read_date(&t, &y, &m, &d);
	expect(&t, ' ');
	usecs = read_time(&t);
	/* timestamptz in TimeZone UTC: "+00". */
	if (accept(&t, '+'))
	{
		if (digits(&t, 2) != 0)
			t.bad = true;
	}
	y = era(&t, y);
	/* PostgreSQL's timestamps run from 4714 BC to 294276 AD. */
	if (t.bad || t.at != len || y < -4714 || y > 294276)
		return *bad = true, 0;
	days = civil_days(y, m, d);
	/* Past what µs after 1970 hold in 64 bits (PostgreSQL's end is later): its text, as the plugin does. */
	if ((days - PG_EPOCH_DAYS) * USECS_PER_DAY + usecs > INT64_MAX - PG_EPOCH_USECS)
		return text_value(text, len, out);
	return (size_t) (put_varint_value(out, WIRE_VALUE_TIMESTAMP_VALUE,
									  wire_zigzag64(days * USECS_PER_DAY + usecs)) - out);
}

static size_t
date(const char *text, size_t len, uint8_t *out, bool *bad)
{
	Text		t = {text, len, 0, false};
	int64_t		y,
				m,
				d;

	if (is(text, len, "infinity") || is(text, len, "-infinity"))
		return infinity(out, text[0] == '-');
	read_date(&t, &y, &m, &d);
	y = era(&t, y);
	/* PostgreSQL's dates run from 4714 BC to 5874897 AD. */
	if (t.bad || t.at != len || y < -4714 || y > 5874897)
		return *bad = true, 0;
	return (size_t) (put_varint_value(out, WIRE_VALUE_DATE_VALUE,
									  wire_zigzag32((int32_t) civil_days(y, m, d))) - out);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex digits (dashes skipped when allowed) into out; their count in bytes, or -1. */
static long
unhex(const char *s, size_t len, bool dashes, uint8_t *out)
{
	long		n = 0;
	int			hi = -1;

	for (size_t i = 0; i < len; i++)
	{
		int			v;

		if (dashes && s[i] == '-')
			continue;
		if ((v = hexval(s[i])) < 0)
			return -1;
		if (hi < 0)
			hi = v;
		else
		{
			out[n++] = (uint8_t) (hi << 4 | v);
			hi = -1;
		}
	}
	return hi < 0 ? n : -1;
}

static size_t
number(PgvClass c, const char *text, size_t len, uint8_t *out, bool *bad)
{
	char		buf[64];
	char	   *end;
	uint8_t    *p = out;

	if (len == 0 || len >= sizeof(buf))
		return *bad = true, 0;
	memcpy(buf, text, len);
	buf[len] = '\0';
	errno = 0;
	if (c == PGV_INT)
	{
		long long	v = strtoll(buf, &end, 10);

		if (errno || *end)
			return *bad = true, 0;
		p = put_varint_value(p, WIRE_VALUE_INT_VALUE, wire_zigzag64(v));
	}
	else
	{
		/* float4 read as a float, then widened: the datum's own value. */
		double		v = c == PGV_FLOAT4 ? (double) strtof(buf, &end) : strtod(buf, &end);
		uint64_t	bits;

		/* ERANGE: a subnormal, which the text still names exactly. */
		if (*end)
			return *bad = true, 0;
		memcpy(&bits, &v, sizeof(bits));
		p = wire_put_tag(p, WIRE_VALUE_FLOAT_VALUE, WIRE_TYPE_I64);
		for (int i = 0; i < 8; i++)
			*p++ = (uint8_t) (bits >> (8 * i));
	}
	return (size_t) (p - out);
}

size_t
pgvalue_body(PgvClass c, const char *text, size_t len, uint8_t *out, char *err, size_t errlen)
{
	bool		bad = false;
	size_t		n = 0;

	switch (c)
	{
		case PGV_BOOL:
			if (is(text, len, "t") || is(text, len, "f"))
				n = (size_t) (put_varint_value(out, WIRE_VALUE_BOOL_VALUE, text[0] == 't') - out);
			else
				bad = true;
			break;
		case PGV_INT:
		case PGV_FLOAT4:
		case PGV_FLOAT8:
			n = number(c, text, len, out, &bad);
			break;
		case PGV_NUMERIC:
			for (size_t i = 0; i < len && !bad; i++)
				bad = strchr("0123456789.-eE+NaInfity", text[i]) == NULL;
			if (!bad && len > 0)
				n = (size_t) (wire_put_len_field(out, WIRE_VALUE_NUMERIC_VALUE, text, len) - out);
			else
				bad = true;
			break;
		case PGV_TIMESTAMP:
			n = timestamp(text, len, out, &bad);
			break;
		case PGV_DATE:
			n = date(text, len, out, &bad);
			break;
		case PGV_TIME:
			{
				Text		t = {text, len, 0, false};
				int64_t		usecs = read_time(&t);

				if (t.bad || t.at != len)
					bad = true;
				else
					n = (size_t) (put_varint_value(out, WIRE_VALUE_TIME_VALUE, (uint64_t) usecs) - out);
				break;
			}
		case PGV_UUID:
			{
				uint8_t		uuid[16];

				if (len != 36 || unhex(text, len, true, uuid) != 16)
					bad = true;
				else
					n = (size_t) (wire_put_len_field(out, WIRE_VALUE_UUID_VALUE, uuid, 16) - out);
				break;
			}
		case PGV_BYTEA:
			{
				long		bytes;

				/* Decoded into out past where the field's tag and length go: they take at most 11 bytes. */
				if (len < 2 || text[0] != '\\' || text[1] != 'x' ||
					(bytes = unhex(text + 2, len - 2, false, out + 12)) < 0)
					bad = true;
				else
				{
					uint8_t    *p = wire_put_tag(out, WIRE_VALUE_BYTES_VALUE, WIRE_TYPE_LEN);

					p = wire_put_varint(p, (uint64_t) bytes);
					memmove(p, out + 12, (size_t) bytes);
					n = (size_t) (p - out) + (size_t) bytes;
				}
				break;
			}
		case PGV_TEXT:
		case PGV_OUTPUT:
			n = text_value(text, len, out);
			break;
	}
	if (bad)
	{
		snprintf(err, errlen, "not a value of its type: \"%.*s\"", len > 64 ? 64 : (int) len, text);
		return 0;
	}
	return n;
}

size_t
pgvalue_null(uint8_t *out)
{
	return (size_t) (put_varint_value(out, WIRE_VALUE_IS_NULL, 1) - out);
}

size_t
pgvalue_unchanged(uint8_t *out)
{
	return (size_t) (put_varint_value(out, WIRE_VALUE_UNCHANGED_TOAST, 1) - out);
}
