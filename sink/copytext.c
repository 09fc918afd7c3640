/*
 * copytext.c — Values to COPY text.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "copytext.h"

#define USECS_PER_DAY INT64_C(86400000000)

/*
 * PostgreSQL's ranges (IS_VALID_DATE, IS_VALID_TIMESTAMP, numeric's weight
 * and dscale limits), counted from the Unix epoch as Values are: dates from
 * 4714-11-24 BC up to 5874898-01-01, timestamps from 4714-11-24 00:00 BC (the
 * end, in year 294277, is past every int64 from 1970), numerics of up to
 * 131072 digits before the point (leading zeros aside) and 16383 after.
 */
#define DATE_MIN INT64_C(-2440588)
#define DATE_END INT64_C(2145042906)
#define TIMESTAMP_MIN INT64_C(-210866803200000000)
#define NUMERIC_INT_DIGITS_MAX 131072
#define NUMERIC_FRAC_DIGITS_MAX 16383

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t		n;
	unsigned	min;
	unsigned	cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0)
	{
		n = 2;
		min = 0x80;
		cp = s[0] & 0x1F;
	}
	else if ((s[0] & 0xF0) == 0xE0)
	{
		n = 3;
		min = 0x800;
		cp = s[0] & 0x0F;
	}
	else if ((s[0] & 0xF8) == 0xF0)
	{
		n = 4;
		min = 0x10000;
		cp = s[0] & 0x07;
	}
	else
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		n;

	while (*p)
	{
		if ((n = utf8_seq(p)) == 0)
			return false;
		p += n;
	}
	return true;
}

void
buf_put_utf8(Buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p)
	{
		size_t		n = utf8_seq(p);

		if (n == 0)
		{
			buf_append(b, "\xEF\xBF\xBD", 3);
			p++;
		}
		else
		{
			buf_append(b, p, n);
			p += n;
		}
	}
	buf_putc(b, '\0');
	b->len--;
}

void
copytext_escaped(Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n + 16);
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];
		char		esc = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;

		if (esc)
		{
			buf_reserve(b, n - i + 2);
			b->data[b->len++] = '\\';
			b->data[b->len++] = esc;
		}
		else
			b->data[b->len++] = c;
	}
}

/* v in decimal, zero-padded to at least width digits; no terminator (sprintf cost a tenth of walsink's formatting). */
static size_t
decimal(char *out, uint64_t v, int width)
{
	char		tmp[20];
	int			n = 0;

	do
		tmp[n++] = (char) ('0' + v % 10);
	while ((v /= 10) != 0);
	while (n < width)
		tmp[n++] = '0';
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return (size_t) n;
}

/* "YYYY-MM-DD", with " BC" for year 0 and before (which is 1 BC). */
static size_t
date_text(char *out, int64_t days, bool *bc)
{
	int64_t		y,
				m,
				d;
	size_t		n;

	civil_date(days, &y, &m, &d);
	*bc = y <= 0;
	n = decimal(out, (uint64_t) (y <= 0 ? 1 - y : y), 4);
	out[n++] = '-';
	n += decimal(out + n, (uint64_t) m, 2);
	out[n++] = '-';
	n += decimal(out + n, (uint64_t) d, 2);
	return n;
}

size_t
copytext_date(char *out, int32_t days)
{
	bool		bc;
	size_t		n = date_text(out, days, &bc);

	memcpy(out + n, bc ? " BC" : "", bc ? 4 : 1);
	return n + (bc ? 3 : 0);
}

/*
 * "HH:MM:SS.ffffff", hours past 24 and a sign as they come: at most 24 bytes
 * for any int64 (only 0 to 24:00:00 is a time; copytext_check).
 */
static size_t
time_text(char *out, int64_t usecs)
{
	uint64_t	u = usecs < 0 ? 0 - (uint64_t) usecs : (uint64_t) usecs;
	size_t		n = 0;

	if (usecs < 0)
		out[n++] = '-';
	n += decimal(out + n, u / UINT64_C(3600000000), 2);
	out[n++] = ':';
	n += decimal(out + n, u / 60000000 % 60, 2);
	out[n++] = ':';
	n += decimal(out + n, u / 1000000 % 60, 2);
	out[n++] = '.';
	n += decimal(out + n, u % 1000000, 6);
	out[n] = '\0';
	return n;
}

size_t
copytext_timestamp(char *out, int64_t usecs)
{
	int64_t		days = usecs / USECS_PER_DAY;
	int64_t		rem = usecs % USECS_PER_DAY;
	bool		bc;
	size_t		n;

	if (rem < 0)
	{
		rem += USECS_PER_DAY;
		days--;
	}
	n = date_text(out, days, &bc);
	out[n++] = ' ';
	n += time_text(out + n, rem);
	memcpy(out + n, bc ? "+00 BC" : "+00", bc ? 7 : 4);
	return n + (bc ? 6 : 3);
}

/*
 * Whether s is in numeric_out's form, [-]digits[.digits], within numeric's
 * limits; if not, why.
 */
static bool
numeric_ok(const char *s, char *why, size_t whylen)
{
	const char *p = s + (s[0] == '-');
	size_t		lead = strspn(p, "0");	/* never past the point: ni counts them too */
	size_t		ni = strspn(p, "0123456789");
	size_t		nf = p[ni] == '.' ? strspn(p + ni + 1, "0123456789") : 0;
	size_t		len = ni + (p[ni] == '.' ? 1 + nf : 0);

	if (ni == 0 || p[len] != '\0' || (p[ni] == '.' && nf == 0))
		snprintf(why, whylen, "numeric value of %zu bytes is not a decimal number, NaN or [-]Infinity",
				 strlen(s));
	else if (ni - lead > NUMERIC_INT_DIGITS_MAX)
		snprintf(why, whylen, "numeric value has %zu digits before the point, PostgreSQL's numeric at most %d",
				 ni - lead, NUMERIC_INT_DIGITS_MAX);
	else if (nf > NUMERIC_FRAC_DIGITS_MAX)
		snprintf(why, whylen, "numeric value has %zu digits after the point, PostgreSQL's numeric at most %d",
				 nf, NUMERIC_FRAC_DIGITS_MAX);
	else
		return true;
	return false;
}

bool
copytext_check(const Pgcdc__Value *v, char *why, size_t whylen)
{
	switch (v->kind_case)
	{
		case PGCDC__VALUE__KIND_TIME_VALUE:
			if (v->time_value >= 0 && v->time_value <= USECS_PER_DAY)
				return true;
			snprintf(why, whylen, "time value %" PRId64 " (microseconds after midnight) is not "
					 "between 00:00:00 and 24:00:00", v->time_value);
			return false;
		case PGCDC__VALUE__KIND_DATE_VALUE:
			if (v->date_value >= DATE_MIN && v->date_value < DATE_END)
				return true;
			snprintf(why, whylen, "date value %" PRId32 " (days from 1970-01-01) is not between "
					 "4714-11-24 BC and 5874897-12-31", v->date_value);
			return false;
		case PGCDC__VALUE__KIND_TIMESTAMP_VALUE:
			if (v->timestamp_value >= TIMESTAMP_MIN)
				return true;
			snprintf(why, whylen, "timestamp value %" PRId64 " (microseconds from 1970) is before "
					 "4714-11-24 00:00:00 BC", v->timestamp_value);
			return false;
		case PGCDC__VALUE__KIND_INFINITY:
			if (v->infinity == PGCDC__INFINITY__INFINITY_POSITIVE ||
				v->infinity == PGCDC__INFINITY__INFINITY_NEGATIVE)
				return true;
			snprintf(why, whylen, "infinity of unknown sign %d", (int) v->infinity);
			return false;
		case PGCDC__VALUE__KIND_NUMERIC_VALUE:
			if (strcmp(v->numeric_value, "NaN") == 0 || strcmp(v->numeric_value, "Infinity") == 0 ||
				strcmp(v->numeric_value, "-Infinity") == 0)
				return true;
			return numeric_ok(v->numeric_value, why, whylen);
		case PGCDC__VALUE__KIND_UUID_VALUE:
			if (v->uuid_value.len == 16)
				return true;
			snprintf(why, whylen, "a uuid of %zu bytes", v->uuid_value.len);
			return false;
		default:
			return true;
	}
}

static void
hex(Buf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	buf_reserve(b, 2 * n);
	for (size_t i = 0; i < n; i++)
	{
		b->data[b->len++] = digits[p[i] >> 4];
		b->data[b->len++] = digits[p[i] & 15];
	}
}

void
copytext_value(Buf *b, const Pgcdc__Value *v)
{
	char		tmp[64];
	size_t		n;

	switch (v->kind_case)
	{
		case PGCDC__VALUE__KIND_BOOL_VALUE:
			buf_putc(b, v->bool_value ? 't' : 'f');
			return;
		case PGCDC__VALUE__KIND_INT_VALUE:
			n = 0;
			if (v->int_value < 0)
				tmp[n++] = '-';
			n += decimal(tmp + n, v->int_value < 0 ? 0 - (uint64_t) v->int_value : (uint64_t) v->int_value, 1);
			break;
		case PGCDC__VALUE__KIND_FLOAT_VALUE:
			if (isnan(v->float_value))
				n = (size_t) sprintf(tmp, "NaN");
			else if (isinf(v->float_value))
				n = (size_t) sprintf(tmp, "%sInfinity", v->float_value < 0 ? "-" : "");
			else
				n = (size_t) sprintf(tmp, "%.17g", v->float_value);
			break;
		case PGCDC__VALUE__KIND_NUMERIC_VALUE:
			copytext_escaped(b, v->numeric_value, strlen(v->numeric_value));
			return;
		case PGCDC__VALUE__KIND_TIMESTAMP_VALUE:
			n = copytext_timestamp(tmp, v->timestamp_value);
			break;
		case PGCDC__VALUE__KIND_DATE_VALUE:
			n = copytext_date(tmp, v->date_value);
			break;
		case PGCDC__VALUE__KIND_TIME_VALUE:
			n = time_text(tmp, v->time_value);
			break;
		case PGCDC__VALUE__KIND_INFINITY:
			n = (size_t) sprintf(tmp, "%sinfinity",
								 v->infinity == PGCDC__INFINITY__INFINITY_NEGATIVE ? "-" : "");
			break;
		case PGCDC__VALUE__KIND_TEXT_VALUE:
			copytext_escaped(b, v->text_value, strlen(v->text_value));
			return;
		case PGCDC__VALUE__KIND_UUID_VALUE:
			if (v->uuid_value.len != 16)
			{
				buf_append(b, "\\N", 2);	/* not a uuid: the decoder never writes this */
				return;
			}
			for (int i = 0; i < 16; i++)
			{
				if (i == 4 || i == 6 || i == 8 || i == 10)
					buf_putc(b, '-');
				hex(b, v->uuid_value.data + i, 1);
			}
			return;
		case PGCDC__VALUE__KIND_BYTES_VALUE:
			buf_append(b, "\\\\x", 3);	/* \x, its backslash escaped for COPY */
			hex(b, v->bytes_value.data, v->bytes_value.len);
			return;
		default:				/* NULL, unchanged TOAST, unset */
			buf_append(b, "\\N", 2);
			return;
	}
	buf_append(b, tmp, n);
}

bool
copytext_plain(Buf *b, const Pgcdc__Value *v)
{
	Buf			field = {0};

	if (v->kind_case == PGCDC__VALUE__KIND__NOT_SET || v->kind_case == PGCDC__VALUE__KIND_IS_NULL ||
		v->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST)
		return false;
	copytext_value(&field, v);
	/* Undo copytext_escaped's escapes: \\, \n, \r, \t. */
	for (size_t i = 0; i < field.len; i++)
	{
		char		c = field.data[i];

		if (c == '\\' && i + 1 < field.len)
		{
			c = field.data[++i];
			c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
		}
		buf_putc(b, c);
	}
	buf_free(&field);
	return true;
}
