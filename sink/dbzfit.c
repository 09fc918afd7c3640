/*
 * dbzfit.c — Debezium values fitted to their target column's type (dbzfit.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dbzbytes.h"
#include "dbzfit.h"

/* Debezium's stand-ins for PostgreSQL's infinities (as in sink/dbzinput.c). */
#define INF_US INT64_C(9223372036825200000)
#define NEG_INF_US INT64_C(-9223372036832400000)
#define INF_DAYS INT64_C(-2147472692)
#define NEG_INF_DAYS INT64_C(-2147472691)

static char *
astr(ProtobufCAllocator *a, const char *s, size_t n)
{
	char	   *p = a->alloc(a->allocator_data, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* type is "name" or "name(...)..." */
static bool
is_type(const char *type, const char *name)
{
	size_t		n = strlen(name);

	return strncmp(type, name, n) == 0 && (type[n] == '\0' || type[n] == '(' || type[n] == ' ');
}

/* bit(n), not bit varying. */
static bool
is_fixed_bit(const char *type)
{
	return is_type(type, "bit") && !is_type(type, "bit varying");
}

/* The first number of a typmod, "time(3) ..." → 3; -1 without one. */
static long
typmod_first(const char *type, long *second)
{
	const char *p = strchr(type, '(');
	char	   *end;
	long		a;

	*second = -1;
	if (p == NULL)
		return -1;
	a = strtol(p + 1, &end, 10);
	if (*end == ',')
		*second = strtol(end + 1, NULL, 10);
	return a;
}

/* A plain decimal number, NaN or an infinity: what PostgreSQL's numeric reads. */
static bool
is_decimal(const char *s)
{
	bool		digits = false;

	if (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0)
		return true;
	if (*s == '-' || *s == '+')
		s++;
	for (; isdigit((unsigned char) *s); s++)
		digits = true;
	if (*s == '.')
		for (s++; isdigit((unsigned char) *s); s++)
			digits = true;
	if (digits && (*s == 'e' || *s == 'E'))
	{
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!isdigit((unsigned char) *s))
			return false;
		while (isdigit((unsigned char) *s))
			s++;
	}
	return digits && *s == '\0';
}

/*
 * Debezium's Bits (least significant byte first) as a bit string for a
 * column of type: bit(n) n bits; a varbit as many as the value has, its
 * leading zeros not being in it.
 */
static char *
bits_text(ProtobufCAllocator *a, const uint8_t *b, size_t n, const char *type, long first)
{
	long		bits = is_fixed_bit(type) && first > 0 ? first : (long) n * 8;
	char	   *text;

	if (!is_fixed_bit(type))
		while (bits > 0 && !(b[(bits - 1) / 8] & (1u << ((bits - 1) % 8))))
			bits--;
	text = a->alloc(a->allocator_data, (size_t) bits + 1);
	for (long i = 0; i < bits; i++)
		text[bits - 1 - i] = (size_t) (i / 8) < n && (b[i / 8] & (1u << (i % 8))) ? '1' : '0';
	text[bits] = '\0';
	return text;
}

static void
set_text(Pgcdc__Value *v, char *s)
{
	pgcdc__value__init(v);
	v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v->text_value = s;
}

static void
set_infinity(Pgcdc__Value *v, bool positive)
{
	pgcdc__value__init(v);
	v->kind_case = PGCDC__VALUE__KIND_INFINITY;
	v->infinity = positive ? PGCDC__INFINITY__INFINITY_POSITIVE : PGCDC__INFINITY__INFINITY_NEGATIVE;
}

/* A JSON object's text (hstore.handling.mode = json) as an hstore literal; NULL when it is not one. */
static char *
hstore_from_json(ProtobufCAllocator *a, const char *text)
{
	json_t	   *obj = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	size_t		cap = strlen(text) * 2 + 16,
				o = 0;
	char	   *out;
	const char *k;
	json_t	   *val;

	if (!json_is_object(obj))
	{
		json_decref(obj);
		return NULL;
	}
	out = a->alloc(a->allocator_data, cap);
	json_object_foreach(obj, k, val)
	{
		const char *parts[2] = {k, json_string_value(val)};

		if (!json_is_string(val) && !json_is_null(val))
		{
			json_decref(obj);
			return NULL;
		}
		if (o > 0)
		{
			out[o++] = ',';
			out[o++] = ' ';
		}
		for (int i = 0; i < 2; i++)
		{
			if (i == 1)
			{
				out[o++] = '=';
				out[o++] = '>';
			}
			if (parts[i] == NULL)
			{
				memcpy(out + o, "NULL", 4);
				o += 4;
				continue;
			}
			out[o++] = '"';
			for (const char *p = parts[i]; *p; p++)
			{
				if (*p == '"' || *p == '\\')
					out[o++] = '\\';
				out[o++] = *p;
			}
			out[o++] = '"';
		}
	}
	out[o] = '\0';
	json_decref(obj);
	return out;
}

bool
dbzfit_value(Pgcdc__Value *v, const char *type, bool hex, ProtobufCAllocator *a, char *why, size_t whylen)
{
	long		second;
	long		first = typmod_first(type, &second);

	switch (v->kind_case)
	{
		case PGCDC__VALUE__KIND_TEXT_VALUE:
			{
				const char *s = v->text_value;

				if (is_type(type, "hstore") && s[0] == '{')
				{
					char	   *h = hstore_from_json(a, s);

					if (h == NULL)
					{
						snprintf(why, whylen, "not an hstore as JSON: \"%.40s\"", s);
						return false;
					}
					set_text(v, h);
				}
				else if (is_type(type, "bytea"))
				{
					uint8_t    *b;
					size_t		n;

					if (!(hex ? dbzbytes_hex(a, s, strlen(s), &b, &n) : dbzbytes_base64(a, s, strlen(s), &b, &n)))
					{
						snprintf(why, whylen, "a bytea value that is not %s: \"%.40s\"", hex ? "hex" : "base64", s);
						return false;
					}
					pgcdc__value__init(v);
					v->kind_case = PGCDC__VALUE__KIND_BYTES_VALUE;
					v->bytes_value.data = b;
					v->bytes_value.len = n;
				}
				else if (is_type(type, "numeric") &&
						 (strcmp(s, "NAN") == 0 || strcmp(s, "POSITIVE_INFINITY") == 0 ||
						  strcmp(s, "NEGATIVE_INFINITY") == 0))
				{
					/* decimal.handling.mode = string writes the special values by their Java names. */
					pgcdc__value__init(v);
					v->kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
					v->numeric_value = astr(a, s[0] == 'N' && s[1] == 'A' ? "NaN" : s[0] == 'P' ? "Infinity"
											: "-Infinity", s[0] == 'N' && s[1] == 'A' ? 3 : s[0] == 'P' ? 8 : 9);
				}
				else if ((is_type(type, "numeric") || is_type(type, "money")) && !is_decimal(s))
				{
					uint8_t    *b;
					size_t		n;
					long		scale = is_type(type, "money") ? 2 : second;

					if (scale < 0 || !dbzbytes_base64(a, s, strlen(s), &b, &n) || n == 0)
					{
						snprintf(why, whylen, "a %s value that is neither a number nor Debezium's "
								 "decimal bytes (with its scale): \"%.40s\"", type, s);
						return false;
					}
					pgcdc__value__init(v);
					v->kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
					v->numeric_value = dbzbytes_decimal(a, b, n, scale);
				}
				else if (is_type(type, "bit") || is_type(type, "bit varying"))
				{
					/* Debezium's Bits in JSON is always base64 ("1010" included). */
					uint8_t    *b;
					size_t		n;
					if (!dbzbytes_base64(a, s, strlen(s), &b, &n))
					{
						snprintf(why, whylen, "a bit string that is neither bits nor base64: \"%.40s\"", s);
						return false;
					}
					set_text(v, bits_text(a, b, n, type, first));
				}
				else if ((is_type(type, "real") || is_type(type, "double precision")) &&
						 (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0))
				{
					double		d = s[0] == 'N' ? NAN : s[0] == '-' ? -INFINITY : INFINITY;

					pgcdc__value__init(v);
					v->kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
					v->float_value = d;
				}
				return true;
			}
		case PGCDC__VALUE__KIND_INT_VALUE:
			{
				int64_t		i = v->int_value;
				char		text[64];

				if (is_type(type, "date"))
				{
					if (i == INF_DAYS || i == NEG_INF_DAYS)
						set_infinity(v, i == INF_DAYS);
					else if (i < INT32_MIN || i > INT32_MAX)
					{
						snprintf(why, whylen, "a date of %" PRId64 " days", i);
						return false;
					}
					else
					{
						pgcdc__value__init(v);
						v->kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
						v->date_value = (int32_t) i;
					}
				}
				else if (is_type(type, "timestamp"))
				{
					/* time.precision.mode = adaptive: precision 0 to 3 in ms, else µs. */
					bool		ms = first >= 0 && first <= 3;

					if (ms ? (i == INF_US / 1000 || i == NEG_INF_US / 1000) : (i == INF_US || i == NEG_INF_US))
						set_infinity(v, i > 0);
					else
					{
						pgcdc__value__init(v);
						v->kind_case = PGCDC__VALUE__KIND_TIMESTAMP_VALUE;
						v->timestamp_value = ms ? i * 1000 : i;
					}
				}
				else if (is_type(type, "time") && strstr(type, "with time zone") == NULL)
				{
					pgcdc__value__init(v);
					v->kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
					v->time_value = first >= 0 && first <= 3 ? i * 1000 : i;
				}
				else if (is_type(type, "interval"))
				{
					snprintf(text, sizeof(text), "%" PRId64 " microseconds", i);
					set_text(v, astr(a, text, strlen(text)));
				}
				else if (is_type(type, "numeric") || is_type(type, "money"))
				{
					snprintf(text, sizeof(text), "%" PRId64, i);
					pgcdc__value__init(v);
					v->kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
					v->numeric_value = astr(a, text, strlen(text));
				}
				return true;
			}
		case PGCDC__VALUE__KIND_FLOAT_VALUE:
			if ((is_type(type, "numeric") || is_type(type, "money")) && isfinite(v->float_value))
			{
				char		text[40];
				double		d = v->float_value;

				/* The fewest digits that read back as the double (decimal.handling.mode = double). */
				for (int digits = 1; digits <= 17; digits++)
				{
					snprintf(text, sizeof(text), "%.*g", digits, d);
					if (strtod(text, NULL) == d)
						break;
				}
				pgcdc__value__init(v);
				v->kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
				v->numeric_value = astr(a, text, strlen(text));
			}
			return true;
		case PGCDC__VALUE__KIND_BYTES_VALUE:
			/* io.debezium.data.Bits: least significant byte first; a varbit's leading zeros are not in it. */
			if (is_type(type, "bit") || is_type(type, "bit varying"))
			{
				set_text(v, bits_text(a, v->bytes_value.data, v->bytes_value.len, type, first));
			}
			return true;
		case PGCDC__VALUE__KIND_BOOL_VALUE:
			if (is_type(type, "bit") || is_type(type, "bit varying"))
				set_text(v, astr(a, v->bool_value ? "1" : "0", 1));
			return true;
		default:
			return true;
	}
}

bool
dbzfit_event(Event *e, const TableInfo *ti, const int *map, char *why, size_t whylen)
{
	Pgcdc__ChangeEvent *r = e->rec;

	if (e->fitted || r == NULL || map == NULL)
		return true;
	for (size_t j = 0; j < ti->ncols; j++)
	{
		int			k = map[j];
		char		reason[160];

		if (k < 0)
			continue;
		if (((size_t) k < r->n_after &&
			 !dbzfit_value(r->after[k], ti->types[j], e->hex_bytes, e->alloc, reason, sizeof(reason))) ||
			((size_t) k < r->n_before &&
			 !dbzfit_value(r->before[k], ti->types[j], e->hex_bytes, e->alloc, reason, sizeof(reason))))
		{
			snprintf(why, whylen, "column \"%s\": %s", ti->cols[j], reason);
			return false;
		}
	}
	e->fitted = true;
	return true;
}
