/*
 * copybin.c — Values to COPY binary format.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include "copybin.h"

/* PostgreSQL's epoch, 2000-01-01, from the Unix epoch. */
#define EPOCH_DAYS 10957
#define EPOCH_USECS (INT64_C(10957) * INT64_C(86400000000))
/* Its first valid timestamp, and its valid dates, counted from its epoch (MIN_TIMESTAMP, IS_VALID_DATE). */
#define MIN_TIMESTAMP INT64_C(-211813488000000000)
#define MIN_DATE (-2451545)
#define END_DATE (2147483494 - 2451545)
/* Numerics longer than this many digits go as text (the target's own limits are far higher). */
#define NUMERIC_DIGITS_MAX 1000

CopyBinType
copybin_type(uint32_t oid)
{
	switch (oid)
	{
		case 16:
			return COPYBIN_BOOL;
		case 17:
			return COPYBIN_BYTEA;
		case 20:
			return COPYBIN_INT8;
		case 21:
			return COPYBIN_INT2;
		case 23:
			return COPYBIN_INT4;
		case 25:				/* text */
		case 114:				/* json */
		case 1042:				/* bpchar */
		case 1043:				/* varchar */
			return COPYBIN_TEXT;
		case 700:
			return COPYBIN_FLOAT4;
		case 701:
			return COPYBIN_FLOAT8;
		case 1082:
			return COPYBIN_DATE;
		case 1114:				/* timestamp */
		case 1184:				/* timestamptz */
			return COPYBIN_TIMESTAMP;
		case 1700:
			return COPYBIN_NUMERIC;
		case 2950:
			return COPYBIN_UUID;
		case 3802:
			return COPYBIN_JSONB;
		default:
			return COPYBIN_NONE;
	}
}

static void
put_be(Buf *b, uint64_t v, int bytes)
{
	buf_reserve(b, (size_t) bytes);
	while (bytes-- > 0)
		b->data[b->len++] = (char) (v >> (8 * bytes));
}

void
copybin_start(Buf *b)
{
	buf_append(b, "PGCOPY\n\377\r\n\0", 11);
	put_be(b, 0, 4);			/* flags */
	put_be(b, 0, 4);			/* header extension */
}

void
copybin_end(Buf *b)
{
	put_be(b, 0xFFFF, 2);
}

void
copybin_row(Buf *b, int nfields)
{
	put_be(b, (uint64_t) nfields, 2);
}

void
copybin_null(Buf *b)
{
	put_be(b, 0xFFFFFFFF, 4);
}

void
copybin_int4(Buf *b, int32_t v)
{
	put_be(b, 4, 4);
	put_be(b, (uint32_t) v, 4);
}

void
copybin_char(Buf *b, char c)
{
	put_be(b, 1, 4);
	buf_putc(b, c);
}

void
copybin_bool(Buf *b, bool v)
{
	put_be(b, 1, 4);
	buf_putc(b, v ? 1 : 0);
}

void
copybin_text(Buf *b, const char *s, size_t n)
{
	put_be(b, n, 4);
	buf_append(b, s, n);
}

static bool
digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * A numeric's decimal text ([-]digits[.digits], or NaN) in numeric_send's
 * form: ndigits, weight, sign, dscale, then base-10000 digits aligned on the
 * decimal point.  False for any other text (exponents, infinities, too long).
 */
static bool
numeric(Buf *b, const char *s)
{
	bool		neg = s[0] == '-';
	const char *i = s + neg;
	const char *dot = strchr(i, '.');
	size_t		ni = dot ? (size_t) (dot - i) : strlen(i);
	size_t		nf = dot ? strlen(dot + 1) : 0;
	size_t		lead = (4 - ni % 4) % 4;	/* zeros before, to fill the first group */
	size_t		ngroups_i = (ni + lead) / 4;
	size_t		ngroups = ngroups_i + (nf + 3) / 4;

	if (strcmp(s, "NaN") == 0)
	{
		put_be(b, 8, 4);
		put_be(b, 0, 2);
		put_be(b, 0, 2);
		put_be(b, 0xC000, 2);
		put_be(b, 0, 2);
		return true;
	}
	if (!digits(i, ni) || (dot && !digits(dot + 1, nf)) || ni + nf > NUMERIC_DIGITS_MAX)
		return false;
	put_be(b, 8 + 2 * ngroups, 4);
	put_be(b, ngroups, 2);
	put_be(b, (uint16_t) (int16_t) ((int) ngroups_i - 1), 2);
	put_be(b, neg ? 0x4000 : 0, 2);
	put_be(b, nf, 2);
	for (size_t g = 0; g < ngroups; g++)
	{
		unsigned	d = 0;

		for (size_t k = 0; k < 4; k++)
		{
			/* Position in the digits of the integer part followed by the fraction's, after the lead. */
			size_t		pos = g * 4 + k;
			char		c = '0';

			if (pos >= lead && pos - lead < ni)
				c = i[pos - lead];
			else if (pos >= lead + ni && pos - lead - ni < nf)
				c = dot[1 + pos - lead - ni];
			d = d * 10 + (unsigned) (c - '0');
		}
		put_be(b, d, 2);
	}
	return true;
}

/* An infinity of a sign the format has (walsink dead-letters any other: copytext_check). */
static bool
known_infinity(const Pgcdc__Value *v)
{
	return v->infinity == PGCDC__INFINITY__INFINITY_POSITIVE || v->infinity == PGCDC__INFINITY__INFINITY_NEGATIVE;
}

static bool
timestamp(Buf *b, const Pgcdc__Value *v)
{
	int64_t		ts;

	if (v->kind_case == PGCDC__VALUE__KIND_INFINITY && !known_infinity(v))
		return false;
	if (v->kind_case == PGCDC__VALUE__KIND_INFINITY)
		ts = v->infinity == PGCDC__INFINITY__INFINITY_NEGATIVE ? INT64_MIN : INT64_MAX;
	else if (v->kind_case != PGCDC__VALUE__KIND_TIMESTAMP_VALUE || v->timestamp_value < MIN_TIMESTAMP + EPOCH_USECS)
		return false;			/* (every later int64 is before END_TIMESTAMP from 2000) */
	else
		ts = v->timestamp_value - EPOCH_USECS;
	put_be(b, 8, 4);
	put_be(b, (uint64_t) ts, 8);
	return true;
}

static bool
date(Buf *b, const Pgcdc__Value *v)
{
	int32_t		d;

	if (v->kind_case == PGCDC__VALUE__KIND_INFINITY && !known_infinity(v))
		return false;
	if (v->kind_case == PGCDC__VALUE__KIND_INFINITY)
		d = v->infinity == PGCDC__INFINITY__INFINITY_NEGATIVE ? INT32_MIN : INT32_MAX;
	else if (v->kind_case != PGCDC__VALUE__KIND_DATE_VALUE ||
			 (int64_t) v->date_value - EPOCH_DAYS < MIN_DATE || (int64_t) v->date_value - EPOCH_DAYS >= END_DATE)
		return false;
	else
		d = v->date_value - EPOCH_DAYS;
	put_be(b, 4, 4);
	put_be(b, (uint32_t) d, 4);
	return true;
}

static bool
integer(Buf *b, int64_t v, int bytes)
{
	int64_t		limit = bytes == 8 ? INT64_MAX : (INT64_C(1) << (8 * bytes - 1)) - 1;

	if (v > limit || v < -limit - 1)
		return false;
	put_be(b, (uint64_t) bytes, 4);
	put_be(b, (uint64_t) v, bytes);
	return true;
}

static bool
floating(Buf *b, double d, bool single)
{
	union
	{
		double		d;
		uint64_t	u;
	}			u8 = {.d = d};
	union
	{
		float		f;
		uint32_t	u;
	}			u4 = {.f = (float) d};

	if (!single)
	{
		put_be(b, 8, 4);
		put_be(b, u8.u, 8);
		return true;
	}
	/* Only what is a float exactly: a rounding here could differ from float4in's. */
	if ((double) u4.f != d && d == d)
		return false;
	put_be(b, 4, 4);
	put_be(b, u4.u, 4);
	return true;
}

bool
copybin_value(Buf *b, CopyBinType t, const Pgcdc__Value *v)
{
	switch (v->kind_case)
	{
		case PGCDC__VALUE__KIND__NOT_SET:
		case PGCDC__VALUE__KIND_IS_NULL:
		case PGCDC__VALUE__KIND_UNCHANGED_TOAST:
			copybin_null(b);
			return true;
		default:
			break;
	}
	switch (t)
	{
		case COPYBIN_BOOL:
			if (v->kind_case != PGCDC__VALUE__KIND_BOOL_VALUE)
				return false;
			copybin_bool(b, v->bool_value);
			return true;
		case COPYBIN_INT2:
		case COPYBIN_INT4:
		case COPYBIN_INT8:
			return v->kind_case == PGCDC__VALUE__KIND_INT_VALUE &&
				integer(b, v->int_value, t == COPYBIN_INT2 ? 2 : t == COPYBIN_INT4 ? 4 : 8);
		case COPYBIN_FLOAT4:
		case COPYBIN_FLOAT8:
			return v->kind_case == PGCDC__VALUE__KIND_FLOAT_VALUE &&
				floating(b, v->float_value, t == COPYBIN_FLOAT4);
		case COPYBIN_NUMERIC:
			return v->kind_case == PGCDC__VALUE__KIND_NUMERIC_VALUE && numeric(b, v->numeric_value);
		case COPYBIN_TEXT:
		case COPYBIN_JSONB:
			if (v->kind_case != PGCDC__VALUE__KIND_TEXT_VALUE)
				return false;
			if (t == COPYBIN_JSONB)
			{
				size_t		n = strlen(v->text_value);

				put_be(b, n + 1, 4);
				buf_putc(b, 1);	/* jsonb_send's version */
				buf_append(b, v->text_value, n);
			}
			else
				copybin_text(b, v->text_value, strlen(v->text_value));
			return true;
		case COPYBIN_BYTEA:
			if (v->kind_case != PGCDC__VALUE__KIND_BYTES_VALUE)
				return false;
			copybin_text(b, (const char *) v->bytes_value.data, v->bytes_value.len);
			return true;
		case COPYBIN_UUID:
			if (v->kind_case != PGCDC__VALUE__KIND_UUID_VALUE || v->uuid_value.len != 16)
				return false;
			copybin_text(b, (const char *) v->uuid_value.data, 16);
			return true;
		case COPYBIN_DATE:
			return date(b, v);
		case COPYBIN_TIMESTAMP:
			return timestamp(b, v);
		default:
			return false;
	}
}
