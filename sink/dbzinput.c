/*
 * dbzinput.c — Debezium-format messages read as ChangeEvents (dbzinput.h).
 *
 * The JSON is parsed with jansson (duplicate keys refused, depth bounded);
 * everything the ChangeEvent keeps is copied into the batch's allocator,
 * and the parsed tree is freed before returning.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "civil.h"
#include "dbzbytes.h"
#include "dbzinput.h"

/* Debezium's stand-ins for PostgreSQL's infinities (streamer/dbztype.c writes the same). */
#define INF_US INT64_C(9223372036825200000)
#define NEG_INF_US INT64_C(-9223372036832400000)
#define INF_DAYS INT64_C(-2147472692)
#define NEG_INF_DAYS INT64_C(-2147472691)

typedef struct Ctx
{
	ProtobufCAllocator *alloc;
	const char *placeholder;
	const char *route_key_field;	/* a key field naming a routed table's own topic, not a column; NULL: none */
	char	   *why;
	size_t		whylen;
} Ctx;

static bool
fail(Ctx *c, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static bool
fail(Ctx *c, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->whylen, fmt, ap);
	va_end(ap);
	return false;
}

static void *
amem(Ctx *c, size_t n)
{
	void	   *p = c->alloc->alloc(c->alloc->allocator_data, n ? n : 1);

	memset(p, 0, n ? n : 1);
	return p;
}

static char *
astr(Ctx *c, const char *s, size_t n)
{
	char	   *p = amem(c, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

bool
dbzinput_is_json(const void *value, size_t len)
{
	const unsigned char *p = value;

	for (size_t i = 0; i < len; i++)
		if (!isspace(p[i]))
			return p[i] == '{';
	return false;
}

/* base64 into the allocator, with a reason when it is none. */
static bool
b64_decode(Ctx *c, const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	return dbzbytes_base64(c->alloc, s, n, out, outlen) || fail(c, "not base64: \"%.40s\"", s);
}

/* A schema's "name" and "type" ("" when absent). */
static const char *
sch_str(const json_t *sch, const char *key)
{
	const char *s = sch ? json_string_value(json_object_get(sch, key)) : NULL;

	return s ? s : "";
}

/* The schema of a struct's field by its name; NULL when there is none. */
static const json_t *
field_schema(const json_t *st, const char *name)
{
	const json_t *fields = st ? json_object_get(st, "fields") : NULL;
	size_t		i;
	const json_t *f;

	json_array_foreach(fields, i, f)
		if (strcmp(sch_str(f, "field"), name) == 0)
		return f;
	return NULL;
}

/* An ISO 8601 instant ("2024-02-29T11:14:15.123456Z", "+12345-...", "...+02:00") as µs since the epoch. */
static bool
iso_instant(const char *s, int64_t *us)
{
	long long	y,
				mo,
				d,
				h,
				mi,
				sec,
				oh = 0,
				om = 0;
	int			n = 0,
				sign = 1;
	int64_t		frac = 0;
	const char *p = s;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (sscanf(p, "%lld-%lld-%lldT%lld:%lld:%lld%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
		mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60)
		return false;
	p += n;
	if (*p == '.')
	{
		int			digits = 0;

		for (p++; isdigit((unsigned char) *p); p++)
			if (digits++ < 6)
				frac = frac * 10 + (*p - '0');
		for (; digits < 6; digits++)
			frac *= 10;
	}
	if (*p == '+' || *p == '-')
	{
		int			osign = *p == '-' ? -1 : 1;

		if (sscanf(p + 1, "%lld:%lld%n", &oh, &om, &n) != 2 || p[1 + n] != '\0')
			return false;
		oh *= osign;
		om *= osign;
	}
	else if (strcmp(p, "Z") != 0)
		return false;
	*us = ((civil_days(sign * y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
			oh * 3600 - om * 60) * INT64_C(1000000)) + frac;
	return true;
}

/* Values */

static void
set_kind(Pgcdc__Value *v, Pgcdc__Value__KindCase k)
{
	pgcdc__value__init(v);
	v->kind_case = k;
}

static void
set_text(Ctx *c, Pgcdc__Value *v, const char *s, size_t n)
{
	set_kind(v, PGCDC__VALUE__KIND_TEXT_VALUE);
	v->text_value = astr(c, s, n);
}

static void
set_int(Pgcdc__Value *v, int64_t i)
{
	set_kind(v, PGCDC__VALUE__KIND_INT_VALUE);
	v->int_value = i;
}

static void
set_timestamp(Pgcdc__Value *v, int64_t us)
{
	if (us == INF_US || us == NEG_INF_US)
	{
		set_kind(v, PGCDC__VALUE__KIND_INFINITY);
		v->infinity = us == INF_US ? PGCDC__INFINITY__INFINITY_POSITIVE : PGCDC__INFINITY__INFINITY_NEGATIVE;
		return;
	}
	set_kind(v, PGCDC__VALUE__KIND_TIMESTAMP_VALUE);
	v->timestamp_value = us;
}

/* A JSON value's text for an array element or a struct: strings as they are, the rest as JSON. */
static char *
json_text(Ctx *c, const json_t *j)
{
	char	   *s;
	char	   *out;

	if (json_is_string(j))
		return astr(c, json_string_value(j), json_string_length(j));
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL)
		return astr(c, "", 0);
	out = astr(c, s, strlen(s));
	free(s);
	return out;
}

/* An element's text in a PostgreSQL array literal: quoted, with \ and " escaped; NULL unquoted. */
static void
array_literal(Ctx *c, const json_t *arr, const json_t *items, char **out, size_t *len, size_t *cap);

static void
lit_append(Ctx *c, char **out, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap)
	{
		size_t		ncap = (*len + n + 1) * 2;
		char	   *bigger = amem(c, ncap);

		memcpy(bigger, *out, *len);
		*out = bigger;
		*cap = ncap;
	}
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

static void
array_literal(Ctx *c, const json_t *arr, const json_t *items, char **out, size_t *len, size_t *cap)
{
	size_t		i;
	const json_t *el;
	const char *name = sch_str(items, "name");

	lit_append(c, out, len, cap, "{", 1);
	json_array_foreach(arr, i, el)
	{
		if (i > 0)
			lit_append(c, out, len, cap, ",", 1);
		if (json_is_null(el))
			lit_append(c, out, len, cap, "NULL", 4);
		else if (json_is_array(el))
			array_literal(c, el, json_object_get(items ? items : json_null(), "items"), out, len, cap);
		else if (json_is_true(el) || json_is_false(el))
			lit_append(c, out, len, cap, json_is_true(el) ? "t" : "f", 1);
		else if (json_is_integer(el) && strcmp(name, "io.debezium.time.Date") == 0)
		{
			char		date[64];
			int64_t		y,
						m,
						d;

			civil_date(json_integer_value(el), &y, &m, &d);
			snprintf(date, sizeof(date), "%04lld-%02lld-%02lld%s", (long long) (y > 0 ? y : 1 - y),
					 (long long) m, (long long) d, y > 0 ? "" : " BC");
			lit_append(c, out, len, cap, date, strlen(date));
		}
		else
		{
			char	   *t = json_text(c, el);

			lit_append(c, out, len, cap, "\"", 1);
			for (const char *p = t; *p; p++)
			{
				if (*p == '"' || *p == '\\')
					lit_append(c, out, len, cap, "\\", 1);
				lit_append(c, out, len, cap, p, 1);
			}
			lit_append(c, out, len, cap, "\"", 1);
		}
	}
	lit_append(c, out, len, cap, "}", 1);
}

/* A Connect map (hstore.handling.mode = map) or a JSON object as an hstore literal. */
static char *
hstore_literal(Ctx *c, const json_t *obj)
{
	char	   *out = amem(c, 64);
	size_t		len = 0,
				cap = 64;
	const char *k;
	json_t	   *v;
	bool		first = true;

	json_object_foreach((json_t *) obj, k, v)
	{
		const char *parts[2] = {k, json_is_null(v) ? NULL : json_text(c, v)};

		if (!first)
			lit_append(c, &out, &len, &cap, ", ", 2);
		first = false;
		for (int i = 0; i < 2; i++)
		{
			if (i == 1)
				lit_append(c, &out, &len, &cap, "=>", 2);
			if (parts[i] == NULL)
			{
				lit_append(c, &out, &len, &cap, "NULL", 4);
				continue;
			}
			lit_append(c, &out, &len, &cap, "\"", 1);
			for (const char *p = parts[i]; *p; p++)
			{
				if (*p == '"' || *p == '\\')
					lit_append(c, &out, &len, &cap, "\\", 1);
				lit_append(c, &out, &len, &cap, p, 1);
			}
			lit_append(c, &out, &len, &cap, "\"", 1);
		}
	}
	return out;
}

/* Whether j is the unchanged-TOAST placeholder in the form Debezium writes it for this schema. */
static bool
is_placeholder(Ctx *c, const json_t *j, const json_t *sch)
{
	const char *ph = c->placeholder;
	size_t		n = strlen(ph);
	const char *type = sch_str(sch, "type");
	const char *name = sch_str(sch, "name");

	if (json_is_string(j))
	{
		const char *s = json_string_value(j);

		if (json_string_length(j) == n && memcmp(s, ph, n) == 0)
			return true;
		/* bytea's form of it: base64 of its bytes (without schemas, any text may be one). */
		if (strcmp(type, "bytes") == 0 || sch == NULL)
		{
			uint8_t    *b;
			size_t		blen;

			if (dbzbytes_base64(c->alloc, s, json_string_length(j), &b, &blen) && blen == n &&
				memcmp(b, ph, n) == 0)
				return true;
		}
		if (strcmp(name, "io.debezium.data.Json") == 0)
		{
			char		obj[600];

			snprintf(obj, sizeof(obj), "{\"%s\":\"%s\"}", ph, ph);
			return strcmp(s, obj) == 0;
		}
		return false;
	}
	if (json_is_array(j))
	{
		const json_t *first = json_array_get(j, 0);

		if (json_array_size(j) == 1 && json_is_string(first) && strcmp(json_string_value(first), ph) == 0)
			return true;
		if (json_array_size(j) != n || n == 0)
			return false;
		for (size_t i = 0; i < n; i++)
		{
			const json_t *e = json_array_get(j, i);

			if (!json_is_integer(e) || json_integer_value(e) != (signed char) ph[i])
				return false;
		}
		return true;
	}
	if (json_is_object(j) && json_object_size(j) == 1)
	{
		const json_t *v = json_object_get(j, ph);

		return v != NULL && json_is_string(v) && strcmp(json_string_value(v), ph) == 0;
	}
	return false;
}

/* A value read by its JSON type alone (no schema). */
static bool
by_json(Ctx *c, const json_t *j, Pgcdc__Value *v)
{
	switch (json_typeof(j))
	{
		case JSON_TRUE:
		case JSON_FALSE:
			set_kind(v, PGCDC__VALUE__KIND_BOOL_VALUE);
			v->bool_value = json_is_true(j);
			return true;
		case JSON_INTEGER:
			set_int(v, json_integer_value(j));
			return true;
		case JSON_REAL:
			set_kind(v, PGCDC__VALUE__KIND_FLOAT_VALUE);
			v->float_value = json_real_value(j);
			return true;
		case JSON_STRING:
			set_text(c, v, json_string_value(j), json_string_length(j));
			return true;
		case JSON_OBJECT:
			{
				const json_t *scale = json_object_get(j, "scale");
				const json_t *value = json_object_get(j, "value");

				/* io.debezium.data.VariableScaleDecimal */
				if (json_object_size(j) == 2 && json_is_integer(scale) && json_is_string(value))
				{
					uint8_t    *b;
					size_t		n;

					if (!b64_decode(c, json_string_value(value), json_string_length(value), &b, &n))
						return false;
					set_kind(v, PGCDC__VALUE__KIND_NUMERIC_VALUE);
					v->numeric_value = dbzbytes_decimal(c->alloc, b, n, (int) json_integer_value(scale));
					return true;
				}
				/* io.debezium.data.geometry.Point */
				if (json_is_number(json_object_get(j, "x")) && json_is_number(json_object_get(j, "y")) &&
					json_object_get(j, "wkb") != NULL)
				{
					char		pt[80];

					snprintf(pt, sizeof(pt), "(%.17g,%.17g)", json_number_value(json_object_get(j, "x")),
							 json_number_value(json_object_get(j, "y")));
					set_text(c, v, pt, strlen(pt));
					return true;
				}
				v->text_value = json_text(c, j);
				v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
				return true;
			}
		case JSON_ARRAY:
			{
				char	   *out = amem(c, 64);
				size_t		len = 0,
							cap = 64;

				array_literal(c, j, NULL, &out, &len, &cap);
				set_kind(v, PGCDC__VALUE__KIND_TEXT_VALUE);
				v->text_value = out;
				return true;
			}
		default:
			set_kind(v, PGCDC__VALUE__KIND_IS_NULL);
			v->is_null = true;
			return true;
	}
}

/* A float written as a number or as "NaN", "Infinity", "-Infinity". */
static bool
float_of(const json_t *j, double *d)
{
	const char *s = json_string_value(j);

	if (json_is_number(j))
		*d = json_number_value(j);
	else if (s && strcmp(s, "NaN") == 0)
		*d = NAN;
	else if (s && strcmp(s, "Infinity") == 0)
		*d = INFINITY;
	else if (s && strcmp(s, "-Infinity") == 0)
		*d = -INFINITY;
	else
		return false;
	return true;
}

/* A value as its Connect schema says (sch NULL: by its JSON type). */
static bool
convert(Ctx *c, const char *col, const json_t *j, const json_t *sch, bool update, Pgcdc__Value *v)
{
	const char *type = sch_str(sch, "type");
	const char *name = sch_str(sch, "name");

	if (j == NULL || json_is_null(j))
	{
		set_kind(v, PGCDC__VALUE__KIND_IS_NULL);
		v->is_null = true;
		return true;
	}
	if (update && is_placeholder(c, j, sch))
	{
		set_kind(v, PGCDC__VALUE__KIND_UNCHANGED_TOAST);
		v->unchanged_toast = true;
		return true;
	}
	if (sch == NULL)
		return by_json(c, j, v);
	if (strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0 && json_is_string(j))
	{
		const char *scale = json_string_value(json_object_get(json_object_get(sch, "parameters"), "scale"));
		uint8_t    *b;
		size_t		n;

		if (scale == NULL)
			return fail(c, "column \"%s\": a Decimal schema without its scale", col);
		if (!b64_decode(c, json_string_value(j), json_string_length(j), &b, &n))
			return false;
		set_kind(v, PGCDC__VALUE__KIND_NUMERIC_VALUE);
		v->numeric_value = dbzbytes_decimal(c->alloc, b, n, atoi(scale));
		return true;
	}
	if ((strcmp(name, "io.debezium.time.Date") == 0 || strcmp(name, "org.apache.kafka.connect.data.Date") == 0) &&
		json_is_integer(j))
	{
		int64_t		days = json_integer_value(j);

		if (days == INF_DAYS || days == NEG_INF_DAYS)
		{
			set_kind(v, PGCDC__VALUE__KIND_INFINITY);
			v->infinity = days == INF_DAYS ? PGCDC__INFINITY__INFINITY_POSITIVE : PGCDC__INFINITY__INFINITY_NEGATIVE;
			return true;
		}
		set_kind(v, PGCDC__VALUE__KIND_DATE_VALUE);
		v->date_value = (int32_t) days;
		return true;
	}
	if (json_is_integer(j) && (strcmp(name, "io.debezium.time.Time") == 0 ||
							   strcmp(name, "org.apache.kafka.connect.data.Time") == 0 ||
							   strcmp(name, "io.debezium.time.MicroTime") == 0 ||
							   strcmp(name, "io.debezium.time.NanoTime") == 0))
	{
		int64_t		t = json_integer_value(j);

		set_kind(v, PGCDC__VALUE__KIND_TIME_VALUE);
		v->time_value = strstr(name, "Micro") ? t : strstr(name, "Nano") ? t / 1000 : t * 1000;
		return true;
	}
	if (json_is_integer(j) && (strcmp(name, "io.debezium.time.Timestamp") == 0 ||
							   strcmp(name, "org.apache.kafka.connect.data.Timestamp") == 0))
	{
		int64_t		ms = json_integer_value(j);

		set_timestamp(v, ms == INF_US / 1000 ? INF_US : ms == NEG_INF_US / 1000 ? NEG_INF_US : ms * 1000);
		return true;
	}
	if (json_is_integer(j) && strcmp(name, "io.debezium.time.MicroTimestamp") == 0)
	{
		set_timestamp(v, json_integer_value(j));
		return true;
	}
	if (json_is_integer(j) && strcmp(name, "io.debezium.time.NanoTimestamp") == 0)
	{
		int64_t		ns = json_integer_value(j);

		set_timestamp(v, ns == INT64_MAX ? INF_US : ns == INT64_MIN ? NEG_INF_US : ns / 1000);
		return true;
	}
	if (json_is_string(j) && strcmp(name, "io.debezium.time.ZonedTimestamp") == 0)
	{
		const char *s = json_string_value(j);
		int64_t		us;

		if (strcmp(s, "infinity") == 0 || strcmp(s, "-infinity") == 0)
		{
			set_kind(v, PGCDC__VALUE__KIND_INFINITY);
			v->infinity = s[0] == '-' ? PGCDC__INFINITY__INFINITY_NEGATIVE : PGCDC__INFINITY__INFINITY_POSITIVE;
			return true;
		}
		if (!iso_instant(s, &us))
			return fail(c, "column \"%s\": not an ISO 8601 instant: \"%.40s\"", col, s);
		set_timestamp(v, us);
		return true;
	}
	if (json_is_integer(j) && (strcmp(name, "io.debezium.time.MicroDuration") == 0 ||
							   strcmp(name, "io.debezium.time.NanoDuration") == 0))
	{
		char		iv[48];
		int64_t		us = json_integer_value(j);

		if (name[17] == 'N')
			us /= 1000;
		snprintf(iv, sizeof(iv), "%" PRId64 " microseconds", us);
		set_text(c, v, iv, strlen(iv));
		return true;
	}
	/* io.debezium.data.Bits stays bytes: how many bits, the target's type says (sink/dbzfit.c). */
	if (json_is_object(j) && strcmp(type, "struct") == 0 && strcmp(name, "io.debezium.data.VariableScaleDecimal") != 0 &&
		strcmp(name, "io.debezium.data.geometry.Point") != 0)
	{
		v->text_value = json_text(c, j);
		v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
		return true;
	}
	if (strcmp(type, "map") == 0 && json_is_object(j))
	{
		set_kind(v, PGCDC__VALUE__KIND_TEXT_VALUE);
		v->text_value = hstore_literal(c, j);
		return true;
	}
	if (strcmp(type, "array") == 0 && json_is_array(j))
	{
		char	   *out = amem(c, 64);
		size_t		len = 0,
					cap = 64;

		array_literal(c, j, json_object_get(sch, "items"), &out, &len, &cap);
		set_kind(v, PGCDC__VALUE__KIND_TEXT_VALUE);
		v->text_value = out;
		return true;
	}
	if (strcmp(type, "bytes") == 0 && json_is_string(j))
	{
		uint8_t    *b;
		size_t		n;

		if (!b64_decode(c, json_string_value(j), json_string_length(j), &b, &n))
			return false;
		set_kind(v, PGCDC__VALUE__KIND_BYTES_VALUE);
		v->bytes_value.data = b;
		v->bytes_value.len = n;
		return true;
	}
	if ((strcmp(type, "float") == 0 || strcmp(type, "double") == 0))
	{
		double		d;

		if (!float_of(j, &d))
			return fail(c, "column \"%s\": not a %s", col, type);
		set_kind(v, PGCDC__VALUE__KIND_FLOAT_VALUE);
		v->float_value = d;
		return true;
	}
	if (strncmp(type, "int", 3) == 0 && !json_is_integer(j))
		return fail(c, "column \"%s\": not an integer", col);
	if (strcmp(type, "boolean") == 0 && !json_is_boolean(j))
		return fail(c, "column \"%s\": not a boolean", col);
	if (strcmp(type, "string") == 0 && !json_is_string(j))
		return fail(c, "column \"%s\": not a string", col);
	return by_json(c, j, v);
}

/*
 * The PostgreSQL type a column of this Connect schema has (for auto.create),
 * or of this JSON value; a Decimal with its precision is numeric(p,s),
 * written into buf.
 */
static const char *
type_name_of(const json_t *sch, const json_t *j, char *buf, size_t buflen)
{
	static const struct
	{
		const char *name;
		const char *pg;
	}			logical[] = {
		{"io.debezium.data.VariableScaleDecimal", "numeric"},
		{"org.apache.kafka.connect.data.Decimal", "numeric"},
		{"io.debezium.time.Date", "date"}, {"io.debezium.time.Time", "time"},
		{"org.apache.kafka.connect.data.Date", "date"}, {"org.apache.kafka.connect.data.Time", "time"},
		{"org.apache.kafka.connect.data.Timestamp", "timestamp"},
		{"io.debezium.time.MicroTime", "time"}, {"io.debezium.time.NanoTime", "time"},
		{"io.debezium.time.Timestamp", "timestamp"}, {"io.debezium.time.MicroTimestamp", "timestamp"},
		{"io.debezium.time.NanoTimestamp", "timestamp"},
		{"io.debezium.time.ZonedTimestamp", "timestamptz"}, {"io.debezium.time.ZonedTime", "timetz"},
		{"io.debezium.time.MicroDuration", "interval"}, {"io.debezium.time.NanoDuration", "interval"},
		{"io.debezium.time.Interval", "interval"},
		{"io.debezium.data.Json", "jsonb"}, {"io.debezium.data.Xml", "xml"}, {"io.debezium.data.Uuid", "uuid"},
		{"io.debezium.data.Bits", "varbit"}, {"io.debezium.data.geometry.Point", "point"},
	};
	static const struct
	{
		const char *type;
		const char *pg;
	}			plain[] = {
		{"boolean", "boolean"}, {"int8", "smallint"}, {"int16", "smallint"}, {"int32", "integer"},
		{"int64", "bigint"}, {"float", "real"}, {"double", "double precision"}, {"string", "text"},
		{"bytes", "bytea"}, {"map", "jsonb"}, {"struct", "jsonb"}, {"array", "text[]"},
	};
	const char *name = sch_str(sch, "name");
	const char *type = sch_str(sch, "type");
	const json_t *params = sch ? json_object_get(sch, "parameters") : NULL;

	if (strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0 && params != NULL &&
		json_is_string(json_object_get(params, "connect.decimal.precision")) &&
		json_is_string(json_object_get(params, "scale")))
	{
		long		p = strtol(json_string_value(json_object_get(params, "connect.decimal.precision")), NULL, 10);
		long		s = strtol(json_string_value(json_object_get(params, "scale")), NULL, 10);

		/* PostgreSQL's bounds: numeric(1..1000, -1000..1000). */
		if (p >= 1 && p <= 1000 && s >= -1000 && s <= 1000)
		{
			snprintf(buf, buflen, "numeric(%ld,%ld)", p, s);
			return buf;
		}
	}
	for (size_t i = 0; i < sizeof(logical) / sizeof(logical[0]); i++)
		if (strcmp(name, logical[i].name) == 0)
			return logical[i].pg;
	for (size_t i = 0; sch && i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(type, plain[i].type) == 0)
			return plain[i].pg;
	switch (j ? json_typeof(j) : JSON_NULL)
	{
		case JSON_TRUE:
		case JSON_FALSE:
			return "boolean";
		case JSON_INTEGER:
			return "bigint";
		case JSON_REAL:
			return "double precision";
		case JSON_OBJECT:
			return "jsonb";
		default:
			return "text";
	}
}

/* An LSN header ("16/B374D848") as a number; false when absent or malformed. */
static bool
header_lsn(const rd_kafka_message_t *msg, const char *name, uint64_t *out)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t		n;
	char		text[40];
	unsigned int hi,
				lo;

	if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || v == NULL ||
		n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, v, n);
	text[n] = '\0';
	if (strchr(text, '/') != NULL)
	{
		if (sscanf(text, "%X/%X", &hi, &lo) != 2)
			return false;
		*out = ((uint64_t) hi << 32) | lo;
		return true;
	}
	*out = strtoull(text, NULL, 10);
	return isdigit((unsigned char) text[0]);
}

static bool
has_header(const rd_kafka_message_t *msg, const char *name, const char *value)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t		n;

	return rd_kafka_message_headers(msg, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		(value == NULL || (v != NULL && n == strlen(value) && memcmp(v, value, n) == 0));
}

/* Where the message stands (dbzinput.h). */
static bool
place_of(Ctx *c, const rd_kafka_message_t *msg, const json_t *source, char op, DbzPlace *place)
{
	uint64_t	commit,
				seq;
	const char *seqtext = json_string_value(json_object_get(source, "sequence"));
	const json_t *lsn = json_object_get(source, "lsn");

	memset(place, 0, sizeof(*place));
	if (header_lsn(msg, "pgcdc.commit_lsn", &commit) && header_lsn(msg, "pgcdc.seq", &seq))
	{
		*place = (DbzPlace) {commit, seq, has_header(msg, "pgcdc.key", "new"), DBZ_ORDER_EXACT};
		return true;
	}
	if (!json_is_integer(lsn))
		return fail(c, "source.lsn missing: no position to apply it at");
	/* A snapshot read is where its snapshot was taken: [null, lsn], before any streamed change. */
	place->order = DBZ_ORDER_SHARED;
	place->seq = (uint64_t) json_integer_value(lsn);
	place->sub = op == 'c' && has_header(msg, "__debezium.oldkey", NULL);
	if (seqtext != NULL)
	{
		json_t	   *seqs = json_loads(seqtext, 0, NULL);
		const char *first = json_string_value(json_array_get(seqs, 0));

		if (first != NULL)
			place->lsn = strtoull(first, NULL, 10);
		json_decref(seqs);
	}
	return true;
}

/* The key's payload (an object), or NULL for none; false when the key is not JSON. */
static bool
key_fields(Ctx *c, const rd_kafka_message_t *msg, json_t **key)
{
	json_error_t jerr;
	json_t	   *k;

	*key = NULL;
	if (msg->key == NULL || msg->key_len == 0)
		return true;
	k = json_loadb(msg->key, msg->key_len, JSON_REJECT_DUPLICATES, &jerr);
	if (k == NULL)
		return fail(c, "key is not JSON: %s", jerr.text);
	if (json_is_object(k) && json_object_size(k) == 2 && json_object_get(k, "payload") &&
		json_object_get(k, "schema"))
	{
		json_t	   *p = json_incref(json_object_get(k, "payload"));

		json_decref(k);
		k = p;
	}
	if (!json_is_object(k))
	{
		json_decref(k);
		return json_is_null(k) ? true : fail(c, "key is not a JSON object");
	}
	*key = k;
	return true;
}

/* The columns, before and after of a change, in the row's column order. */
static bool
fill_rows(Ctx *c, Pgcdc__ChangeEvent *r, const json_t *payload, const json_t *schema, const json_t *key, char op)
{
	const json_t *before = json_object_get(payload, "before");
	const json_t *after = json_object_get(payload, "after");
	const json_t *row = json_is_object(after) ? after : before;
	const json_t *row_schema = field_schema(schema, json_is_object(after) ? "after" : "before");
	const json_t *before_schema = field_schema(schema, "before");
	size_t		n = json_object_size(row);
	const char *name;
	json_t	   *unused;
	size_t		i = 0;
	bool		full = false;

	if (!json_is_object(row))
		return fail(c, "op \"%c\" without a row (before and after are null)", op);
	if (op == 'd' && !json_is_object(before))
		return fail(c, "a delete without \"before\"");
	if (before != NULL && !json_is_null(before) && !json_is_object(before))
		return fail(c, "\"before\" is not an object");
	r->n_columns = n;
	r->columns = amem(c, n * sizeof(Pgcdc__Column *));
	r->n_after = json_is_object(after) ? n : 0;
	r->after = amem(c, n * sizeof(Pgcdc__Value *));
	r->n_before = json_is_object(before) ? n : 0;
	r->before = amem(c, n * sizeof(Pgcdc__Value *));
	json_object_foreach((json_t *) row, name, unused)
	{
		Pgcdc__Column *col = amem(c, sizeof(Pgcdc__Column));
		const json_t *fs = field_schema(row_schema, name);
		const json_t *a = json_object_get(after, name);
		const json_t *b = json_object_get(before, name);
		char		numeric[40];
		const char *type = type_name_of(fs, a ? a : b, numeric, sizeof(numeric));

		pgcdc__column__init(col);
		col->name = astr(c, name, strlen(name));
		col->key = key != NULL && json_object_get(key, name) != NULL;
		col->not_null = fs != NULL && json_is_false(json_object_get(fs, "optional"));
		col->type_name = astr(c, type, strlen(type));
		r->columns[i] = col;
		r->after[i] = amem(c, sizeof(Pgcdc__Value));
		r->before[i] = amem(c, sizeof(Pgcdc__Value));
		if (r->n_after && !convert(c, name, a, fs, op == 'u', r->after[i]))
			return false;
		if (r->n_before && !convert(c, name, b, field_schema(before_schema, name), false, r->before[i]))
			return false;
		/* An old row with more than its key: REPLICA IDENTITY FULL. */
		if (r->n_before && !col->key && b != NULL && !json_is_null(b))
			full = true;
		i++;
	}
	if (key != NULL)
	{
		const char *k;
		json_t	   *kv;

		json_object_foreach((json_t *) key, k, kv)
		{
			if (c->route_key_field != NULL && strcmp(k, c->route_key_field) == 0)
			{
				/* The records' own table is their source block's, their topic is bound to it (plan.c). */
				if (!json_is_string(kv))
					return fail(c, "key field \"%s\" (topic.routing.key.field.name) is not a string", k);
				continue;
			}
			if (json_object_get(row, k) == NULL)
				return fail(c, "key field \"%s\" is not a column of the row", k);
		}
	}
	r->replica_identity = full || (key == NULL && r->n_before > 0) ? PGCDC__REPLICA_IDENTITY__IDENTITY_FULL
		: PGCDC__REPLICA_IDENTITY__IDENTITY_DEFAULT;
	return true;
}

Pgcdc__ChangeEvent *
dbzinput_decode(const rd_kafka_message_t *msg, const char *placeholder, const char *route_key_field,
				ProtobufCAllocator *alloc, DbzPlace *place, char *why, size_t whylen)
{
	Ctx			c = {alloc, placeholder, route_key_field, why, whylen};
	json_error_t jerr;
	json_t	   *doc = json_loadb(msg->payload, msg->len, JSON_REJECT_DUPLICATES, &jerr);
	json_t	   *payload = doc;
	json_t	   *schema = NULL;
	json_t	   *key = NULL;
	const json_t *source;
	const char *op;
	const char *s;
	const char *t;
	Pgcdc__ChangeEvent *r = NULL;
	bool		ok = true;

	why[0] = '\0';
	if (doc == NULL)
	{
		fail(&c, "not JSON: %s (byte %d)", jerr.text, jerr.position);
		return NULL;
	}
	if (json_is_object(doc) && json_object_size(doc) == 2 && json_object_get(doc, "schema") &&
		json_object_get(doc, "payload"))
	{
		schema = json_object_get(doc, "schema");
		payload = json_object_get(doc, "payload");
	}
	r = amem(&c, sizeof(Pgcdc__ChangeEvent));
	pgcdc__change_event__init(r);
	r->version = 1;
	op = json_string_value(json_object_get(payload, "op"));
	if (!json_is_object(payload))
		ok = fail(&c, "not a Debezium message: a JSON %s", json_is_array(payload) ? "array" : "scalar");
	else if (op == NULL)
	{
		/* The transaction topic's BEGIN/END, a heartbeat: nothing to apply. */
		if (json_is_string(json_object_get(payload, "status")) || json_object_get(payload, "ts_ms") != NULL)
			r->op = PGCDC__OP__OP_MESSAGE;
		else
			ok = fail(&c, "not a Debezium change event: no \"op\"");
	}
	else if (strcmp(op, "m") == 0)
		r->op = PGCDC__OP__OP_MESSAGE;
	else if (strlen(op) != 1 || strchr("curdt", op[0]) == NULL)
		ok = fail(&c, "unknown op \"%.20s\"", op);
	else if (!json_is_object(source = json_object_get(payload, "source")) ||
			 (s = json_string_value(json_object_get(source, "schema"))) == NULL ||
			 (t = json_string_value(json_object_get(source, "table"))) == NULL)
		ok = fail(&c, "no source.schema and source.table");
	else
	{
		r->op = op[0] == 'c' ? PGCDC__OP__OP_INSERT : op[0] == 'u' ? PGCDC__OP__OP_UPDATE
			: op[0] == 'r' ? PGCDC__OP__OP_READ : op[0] == 'd' ? PGCDC__OP__OP_DELETE : PGCDC__OP__OP_TRUNCATE;
		r->schema = astr(&c, s, strlen(s));
		r->table = astr(&c, t, strlen(t));
		r->snapshot = op[0] == 'r';
		ok = place_of(&c, msg, source, op[0], place);
		if (ok && op[0] == 't')
		{
			Pgcdc__RelationRef *ref = amem(&c, sizeof(Pgcdc__RelationRef));

			pgcdc__relation_ref__init(ref);
			ref->schema = r->schema;
			ref->table = r->table;
			r->n_truncated = 1;
			r->truncated = amem(&c, sizeof(Pgcdc__RelationRef *));
			r->truncated[0] = ref;
		}
		else if (ok)
			ok = key_fields(&c, msg, &key) && fill_rows(&c, r, payload, schema, key, op[0]);
		r->commit_lsn = place->lsn;
		r->seq = (uint32_t) place->seq;
	}
	json_decref(key);
	json_decref(doc);
	return ok ? r : NULL;
}
