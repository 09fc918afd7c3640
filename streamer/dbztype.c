/*
 * dbztype.c — a column's Debezium type and its values as JSON (dbztype.h).
 *
 * Most values come as their pgcdc kind (integers, floats, the numeric's
 * decimal text, µs timestamps...) and need only Debezium's unit or
 * encoding; the types pgcdc sends as their text output (money, timetz,
 * interval, hstore, bit strings, point, arrays) are read back from that
 * text, which the decoder produces with fixed settings (proto/cdc.proto:
 * DateStyle ISO, IntervalStyle postgres, TimeZone UTC, lc_monetary C).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "dbztype.h"
#include "jsonout.h"
#include "xalloc.h"

/*
 * Debezium's stand-ins for PostgreSQL's infinities: for timestamps pgjdbc's
 * DATE_POSITIVE/NEGATIVE_INFINITY, which Debezium reads as µs; for dates
 * the days of the dates pgjdbc parses "infinity" and "-infinity" into
 * (-5877611-06-21 and -22), cut to int32 as Java's cast does.
 */
#define PG_INFINITY_US INT64_C(9223372036825200000)
#define PG_NEG_INFINITY_US INT64_C(-9223372036832400000)
#define PG_INFINITY_DAYS INT64_C(-2147472692)
#define PG_NEG_INFINITY_DAYS INT64_C(-2147472691)

/* What a builtin type maps to, by OID (pg_type.dat). */
static const struct
{
	uint32_t	oid;
	DbzKind		kind;
	uint32_t	array_of;		/* an array type: its element type's OID */
}			builtin[] = {
	{16, DBZ_BOOLEAN, 0}, {17, DBZ_BYTES, 0}, {20, DBZ_INT64, 0}, {21, DBZ_INT16, 0},
	{23, DBZ_INT32, 0}, {26, DBZ_INT64, 0}, {114, DBZ_JSON, 0}, {142, DBZ_XML, 0},
	{600, DBZ_POINT, 0}, {700, DBZ_FLOAT32, 0}, {701, DBZ_FLOAT64, 0}, {790, DBZ_DECIMAL, 0},
	{1082, DBZ_DATE, 0}, {1083, DBZ_TIME_US, 0}, {1114, DBZ_TIMESTAMP_US, 0},
	{1184, DBZ_ZONED_TIMESTAMP, 0}, {1186, DBZ_DURATION, 0}, {1266, DBZ_ZONED_TIME, 0},
	{1560, DBZ_BITS, 0}, {1562, DBZ_BITS, 0}, {1700, DBZ_VARIABLE_DECIMAL, 0}, {2950, DBZ_UUID, 0},
	{3802, DBZ_JSON, 0},
	/* arrays */
	{1000, DBZ_ARRAY, 16}, {1005, DBZ_ARRAY, 21}, {1007, DBZ_ARRAY, 23}, {1016, DBZ_ARRAY, 20},
	{1021, DBZ_ARRAY, 700}, {1022, DBZ_ARRAY, 701}, {1009, DBZ_ARRAY, 25}, {1015, DBZ_ARRAY, 1043},
	{1014, DBZ_ARRAY, 1042}, {2951, DBZ_ARRAY, 2950}, {199, DBZ_ARRAY, 114}, {3807, DBZ_ARRAY, 3802},
	{1182, DBZ_ARRAY, 1082}, {1028, DBZ_ARRAY, 26},
	/* arrays Debezium has no schema for: it leaves the column out */
	{791, DBZ_OMIT, 0}, {1187, DBZ_OMIT, 0}, {1563, DBZ_OMIT, 0}, {143, DBZ_OMIT, 0}, {1017, DBZ_OMIT, 0},
};

static DbzKind
builtin_kind(uint32_t oid, uint32_t *array_of)
{
	*array_of = 0;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (builtin[i].oid == oid)
		{
			*array_of = builtin[i].array_of;
			return builtin[i].kind;
		}
	return DBZ_STRING;
}

/* The typmod's numbers in a format_type() name: "numeric(10,2)" → 10, 2; "time(3) with..." → 3. */
static int
typmod_numbers(const char *name, long *a, long *b)
{
	const char *p = strchr(name, '(');
	char	   *end;

	if (p == NULL)
		return 0;
	*a = strtol(p + 1, &end, 10);
	if (*end != ',')
		return 1;
	*b = strtol(end + 1, NULL, 10);
	return 2;
}

/* The kind of a type, its typmod read from its name (the domain's base's, for a domain). */
static void
type_of(DbzType *t, uint32_t oid, const char *name, bool has_labels)
{
	uint32_t	elem;
	long		a = 0,
				b = 0;
	int			n = typmod_numbers(name, &a, &b);

	t->kind = builtin_kind(oid, &elem);
	if (t->kind == DBZ_ARRAY)
	{
		uint32_t	unused;

		t->elem = builtin_kind(elem, &unused);
		return;
	}
	if (has_labels)
		t->kind = DBZ_ENUM;
	else if (t->kind == DBZ_STRING && (strcmp(name, "hstore") == 0 ||
									   (strlen(name) > 7 && strcmp(name + strlen(name) - 7, ".hstore") == 0)))
		t->kind = DBZ_HSTORE;
	else if (t->kind == DBZ_STRING && n == 0 && strlen(name) > 2 && strcmp(name + strlen(name) - 2, "[]") == 0)
	{
		t->kind = DBZ_ARRAY;
		t->elem = DBZ_STRING;
	}
	switch (t->kind)
	{
		case DBZ_VARIABLE_DECIMAL:
			if (n == 2)
			{
				t->kind = DBZ_DECIMAL;
				t->precision = (int) a;
				t->scale = (int) b;
			}
			break;
		case DBZ_DECIMAL:		/* money: lc_monetary C's two fraction digits */
			t->scale = 2;
			break;
		case DBZ_TIME_US:
			if (n == 1 && a <= 3)
				t->kind = DBZ_TIME_MS;
			break;
		case DBZ_TIMESTAMP_US:
			if (n == 1 && a <= 3)
				t->kind = DBZ_TIMESTAMP_MS;
			break;
		case DBZ_ZONED_TIMESTAMP:	/* its fraction's digits: the typmod, else 6 */
			t->precision = n == 1 ? (int) a : 6;
			break;
		case DBZ_BITS:
			t->length = n == 1 ? a : 2147483647;
			if (t->length == 1)
				t->kind = DBZ_BOOLEAN;
			break;
		default:
			break;
	}
}

/* A default-mode type in the form the modes ask for. */
static void
apply_modes(DbzType *t, const DbzModes *m)
{
	switch (t->kind)
	{
		case DBZ_DECIMAL:
		case DBZ_VARIABLE_DECIMAL:
			if (m->decimal != DBZ_DECIMAL_PRECISE)
				t->kind = m->decimal == DBZ_DECIMAL_MODE_STRING ? DBZ_DECIMAL_STRING : DBZ_DECIMAL_DOUBLE;
			break;
		case DBZ_DATE:
			if (m->time == DBZ_TIME_CONNECT)
				t->kind = DBZ_CONNECT_DATE;
			break;
		case DBZ_TIME_MS:
		case DBZ_TIME_US:
			if (m->time == DBZ_TIME_CONNECT)
				t->kind = DBZ_CONNECT_TIME;
			else if (m->time == DBZ_TIME_ADAPTIVE_MICROSECONDS)
				t->kind = DBZ_TIME_US;
			break;
		case DBZ_TIMESTAMP_MS:
		case DBZ_TIMESTAMP_US:
			if (m->time == DBZ_TIME_CONNECT)
				t->kind = DBZ_CONNECT_TIMESTAMP;
			break;
		case DBZ_BYTES:
			if (m->binary != DBZ_BINARY_BYTES)
			{
				t->kind = DBZ_BINARY_TEXT;
				t->binary = m->binary;
			}
			break;
		case DBZ_HSTORE:
			if (m->hstore_map)
				t->kind = DBZ_HSTORE_MAP;
			break;
		case DBZ_DURATION:
			if (m->interval_string)
				t->kind = DBZ_INTERVAL_STRING;
			break;
		default:
			break;
	}
}

bool
dbz_column_read(Span column, const DbzModes *modes, DbzColumn *c)
{
	const uint8_t *p = column.data;
	const uint8_t *end = column.data + column.len;
	uint32_t	oid = 0,
				base_oid = 0;
	Span		name = {NULL, 0},
				type_name = {NULL, 0},
				base_name = {NULL, 0};
	Buf			labels = {0};
	char	   *tn;

	memset(c, 0, sizeof(*c));
	c->optional = true;
	while (p < end)
	{
		WireField	f;

		if (wire_get_field(&p, end, &f) != WIRE_OK)
		{
			buf_free(&labels);
			return false;
		}
		if (f.type == WIRE_TYPE_VARINT)
		{
			if (f.number == WIRE_COLUMN_TYPE_OID)
				oid = (uint32_t) f.varint;
			else if (f.number == WIRE_COLUMN_BASE_TYPE_OID)
				base_oid = (uint32_t) f.varint;
			else if (f.number == WIRE_COLUMN_KEY)
				c->key = f.varint != 0;
			else if (f.number == WIRE_COLUMN_NOT_NULL)
				c->optional = f.varint == 0;
		}
		else if (f.type == WIRE_TYPE_LEN)
		{
			Span		s = {f.data, (size_t) f.len};

			if (f.number == WIRE_COLUMN_NAME)
				name = s;
			else if (f.number == WIRE_COLUMN_TYPE_NAME)
				type_name = s;
			else if (f.number == WIRE_COLUMN_BASE_TYPE_NAME)
				base_name = s;
			else if (f.number == WIRE_COLUMN_ENUM_LABELS)
			{
				if (labels.len > 0)
					buf_putc(&labels, ',');
				buf_append(&labels, s.data, s.len);
			}
		}
	}
	/* proto3 leaves an empty string out: its Span is then {NULL, 0}. */
	c->name = xstrndup(name.data ? (const char *) name.data : "", name.len);
	if (base_oid != 0)
		tn = xstrndup(base_name.data ? (const char *) base_name.data : "", base_name.len);
	else
		tn = xstrndup(type_name.data ? (const char *) type_name.data : "", type_name.len);
	type_of(&c->type, base_oid ? base_oid : oid, tn, labels.len > 0);
	free(tn);
	if (modes != NULL)
		apply_modes(&c->type, modes);
	if (c->type.kind == DBZ_ENUM)
	{
		buf_putc(&labels, '\0');
		c->type.allowed = labels.data;
	}
	else
		buf_free(&labels);
	return true;
}

void
dbz_column_clear(DbzColumn *c)
{
	free(c->name);
	free(c->type.allowed);
	memset(c, 0, sizeof(*c));
}

/* Schema */

static const char *
connect_type(DbzKind k)
{
	switch (k)
	{
		case DBZ_BOOLEAN: return "boolean";
		case DBZ_INT16: return "int16";
		case DBZ_INT32: case DBZ_DATE: case DBZ_TIME_MS: case DBZ_CONNECT_DATE:
		case DBZ_CONNECT_TIME: return "int32";
		case DBZ_INT64: case DBZ_TIME_US: case DBZ_TIMESTAMP_MS: case DBZ_TIMESTAMP_US:
		case DBZ_DURATION: case DBZ_CONNECT_TIMESTAMP: return "int64";
		case DBZ_FLOAT32: return "float";
		case DBZ_FLOAT64: case DBZ_DECIMAL_DOUBLE: return "double";
		case DBZ_HSTORE_MAP: return "map";
		case DBZ_DECIMAL: case DBZ_BYTES: case DBZ_BITS: return "bytes";
		case DBZ_VARIABLE_DECIMAL: case DBZ_POINT: return "struct";
		case DBZ_ARRAY: return "array";
		default: return "string";
	}
}

/* The logical type's name, or NULL for a plain Connect type. */
static const char *
logical_name(DbzKind k)
{
	switch (k)
	{
		case DBZ_VARIABLE_DECIMAL: return "io.debezium.data.VariableScaleDecimal";
		case DBZ_DECIMAL: return "org.apache.kafka.connect.data.Decimal";
		case DBZ_UUID: return "io.debezium.data.Uuid";
		case DBZ_JSON: case DBZ_HSTORE: return "io.debezium.data.Json";
		case DBZ_XML: return "io.debezium.data.Xml";
		case DBZ_ENUM: return "io.debezium.data.Enum";
		case DBZ_DATE: return "io.debezium.time.Date";
		case DBZ_TIME_MS: return "io.debezium.time.Time";
		case DBZ_TIME_US: return "io.debezium.time.MicroTime";
		case DBZ_ZONED_TIME: return "io.debezium.time.ZonedTime";
		case DBZ_TIMESTAMP_MS: return "io.debezium.time.Timestamp";
		case DBZ_TIMESTAMP_US: return "io.debezium.time.MicroTimestamp";
		case DBZ_ZONED_TIMESTAMP: return "io.debezium.time.ZonedTimestamp";
		case DBZ_DURATION: return "io.debezium.time.MicroDuration";
		case DBZ_BITS: return "io.debezium.data.Bits";
		case DBZ_POINT: return "io.debezium.data.geometry.Point";
		case DBZ_CONNECT_DATE: return "org.apache.kafka.connect.data.Date";
		case DBZ_CONNECT_TIME: return "org.apache.kafka.connect.data.Time";
		case DBZ_CONNECT_TIMESTAMP: return "org.apache.kafka.connect.data.Timestamp";
		case DBZ_INTERVAL_STRING: return "io.debezium.time.Interval";
		default: return NULL;
	}
}

void
dbz_uuid_text(const uint8_t *b, Buf *out)
{
	buf_printf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			   b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void
dbz_unlogged(const DbzType *t, Buf *out)
{
	const char *type = connect_type(t->kind);

	/* A logical string (a zoned timestamp, JSON, a uuid, an enum) has a fallback of its own: null here. */
	if (strcmp(type, "string") == 0 && logical_name(t->kind) == NULL)
		buf_puts(out, "\"\"");
	else if (strcmp(type, "string") == 0)
		buf_puts(out, "null");
	else if (strncmp(type, "int", 3) == 0)
		buf_putc(out, '0');
	else if (strcmp(type, "float") == 0 || strcmp(type, "double") == 0)
		buf_puts(out, "0.0");
	else if (strcmp(type, "boolean") == 0)
		buf_puts(out, "false");
	else
		buf_puts(out, "null");
}

/* {"type":...[,"fields"/"items"],"optional":...[,"name","version","doc","parameters"] — without the closing brace. */
static void
type_schema(const DbzType *t, bool optional, Buf *out)
{
	const char *name = logical_name(t->kind);

	buf_puts(out, "{\"type\":\"");
	buf_puts(out, connect_type(t->kind));
	buf_putc(out, '"');
	if (t->kind == DBZ_VARIABLE_DECIMAL)
		buf_puts(out, ",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
				 "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}]");
	else if (t->kind == DBZ_POINT)
		buf_puts(out, ",\"fields\":[{\"type\":\"double\",\"optional\":false,\"field\":\"x\"},"
				 "{\"type\":\"double\",\"optional\":false,\"field\":\"y\"},"
				 "{\"type\":\"bytes\",\"optional\":true,\"field\":\"wkb\"},"
				 "{\"type\":\"int32\",\"optional\":true,\"field\":\"srid\"}]");
	else if (t->kind == DBZ_HSTORE_MAP)
		buf_puts(out, ",\"keys\":{\"type\":\"string\",\"optional\":false},"
				 "\"values\":{\"type\":\"string\",\"optional\":true}");
	else if (t->kind == DBZ_ARRAY)
	{
		DbzType		elem = {.kind = t->elem};

		buf_puts(out, ",\"items\":");
		type_schema(&elem, true, out);
		buf_putc(out, '}');
	}
	buf_puts(out, optional ? ",\"optional\":true" : ",\"optional\":false");
	if (name == NULL)
		return;
	buf_puts(out, ",\"name\":\"");
	buf_puts(out, name);
	buf_puts(out, "\",\"version\":1");
	switch (t->kind)
	{
		case DBZ_VARIABLE_DECIMAL:
			buf_puts(out, ",\"doc\":\"Variable scaled decimal\"");
			break;
		case DBZ_POINT:
			buf_puts(out, ",\"doc\":\"Geometry (POINT)\"");
			break;
		case DBZ_DECIMAL:
			buf_printf(out, ",\"parameters\":{\"scale\":\"%d\"", t->scale);
			if (t->precision > 0)
				buf_printf(out, ",\"connect.decimal.precision\":\"%d\"", t->precision);
			buf_putc(out, '}');
			break;
		case DBZ_ENUM:
			buf_puts(out, ",\"parameters\":{\"allowed\":");
			json_cstr(out, t->allowed ? t->allowed : "");
			buf_putc(out, '}');
			break;
		case DBZ_BITS:
			buf_printf(out, ",\"parameters\":{\"length\":\"%ld\"}", t->length);
			break;
		default:
			break;
	}
}

void
dbz_value_schema(const DbzColumn *c, Buf *out)
{
	type_schema(&c->type, c->optional, out);
	if (c->masked)
		buf_puts(out, ",\"parameters\":{\"masked\":\"true\"}");
	buf_putc(out, '}');
}

void
dbz_column_schema(const DbzColumn *c, Buf *out)
{
	type_schema(&c->type, c->optional, out);
	/* Masks apply to character columns, whose schemas have no parameters of their own. */
	if (c->masked)
		buf_puts(out, ",\"parameters\":{\"masked\":\"true\"}");
	buf_puts(out, ",\"field\":");
	json_cstr(out, c->name);
	buf_putc(out, '}');
}

/* Values */

static bool
bad(char *err, size_t errlen, const char *what, const char *s, size_t n)
{
	snprintf(err, errlen, "a %s value that does not read as one: \"%.*s\"", what,
			 (int) (n > 60 ? 60 : n), s);
	return false;
}

/*
 * A decimal's unscaled value as Java's BigInteger.toByteArray() writes it
 * (big-endian two's complement, the fewest bytes that keep the sign), in
 * base64: digits are the decimal digits, neg its sign.
 */
static void
unscaled_base64(const char *digits, size_t n, bool neg, Buf *out)
{
	size_t		cap = n / 2 + 2;
	uint8_t    *mag = xcalloc(cap, 1);	/* big-endian, right-aligned */
	size_t		start;

	for (size_t i = 0; i < n; i++)
	{
		unsigned	carry = (unsigned) (digits[i] - '0');

		for (size_t j = cap; j-- > 0;)
		{
			unsigned	v = mag[j] * 10u + carry;

			mag[j] = (uint8_t) v;
			carry = v >> 8;
		}
	}
	if (neg)
	{
		unsigned	carry = 1;

		for (size_t j = cap; j-- > 0;)
		{
			unsigned	v = (uint8_t) ~mag[j] + carry;

			mag[j] = (uint8_t) v;
			carry = v >> 8;
		}
	}
	/* Drop sign-extension bytes: 0x00 before a byte < 0x80, 0xff before one >= 0x80. */
	start = 0;
	while (start + 1 < cap &&
		   ((mag[start] == 0x00 && mag[start + 1] < 0x80) || (mag[start] == 0xff && mag[start + 1] >= 0x80)))
		start++;
	json_base64(out, mag + start, cap - start);
	free(mag);
}

/*
 * A decimal text ("-12.3400") read as sign, digits and scale, the digits
 * rescaled to want_scale (< 0: kept) by padding zeros.  Commas and a
 * currency sign ("-$1,234.50", money's output) are passed over.  False when
 * it is no number, or has more fraction digits than want_scale.
 */
static bool
decimal_digits(const char *s, size_t n, int want_scale, Buf *digits, bool *neg, int *scale)
{
	bool		point = false;
	size_t		i = 0;

	*neg = false;
	*scale = 0;
	if (i < n && (s[i] == '-' || s[i] == '('))
	{
		*neg = true;
		i++;
	}
	for (; i < n; i++)
	{
		if (s[i] == '$' || s[i] == ',' || (s[i] == ')' && s[0] == '(' && i == n - 1))
			continue;
		if (s[i] == '.' && !point)
			point = true;
		else if (isdigit((unsigned char) s[i]))
		{
			buf_putc(digits, s[i]);
			if (point)
				(*scale)++;
		}
		else
			return false;
	}
	if (digits->len == 0)
		return false;
	if (want_scale >= 0)
	{
		if (*scale > want_scale)
			return false;
		for (; *scale < want_scale; (*scale)++)
			buf_putc(digits, '0');
	}
	return true;
}

static bool
put_decimal(const DbzType *t, const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	Buf			digits = {0};
	bool		neg;
	int			scale;

	bool		nan = n == 3 && memcmp(s, "NaN", 3) == 0;
	bool		inf = n >= 8 && memcmp(s + n - 8, "Infinity", 8) == 0;

	/*
	 * NaN and the infinities: precise has no BigDecimal for them (null, as
	 * Debezium writes them), string their names, double the doubles.
	 */
	if (nan || inf)
	{
		if (t->kind == DBZ_DECIMAL_STRING)
			buf_puts(out, nan ? "\"NAN\"" : s[0] == '-' ? "\"NEGATIVE_INFINITY\"" : "\"POSITIVE_INFINITY\"");
		else if (t->kind == DBZ_DECIMAL_DOUBLE)
			json_double(out, nan ? NAN : s[0] == '-' ? -INFINITY : INFINITY, false);
		else
			buf_puts(out, "null");
		return true;
	}
	if (!decimal_digits(s, n, t->kind == DBZ_DECIMAL ? t->scale : -1, &digits, &neg, &scale))
	{
		buf_free(&digits);
		return bad(err, errlen, "numeric", s, n);
	}
	/* string: the plain decimal (BigDecimal.toPlainString); double: that read as a double. */
	if (t->kind == DBZ_DECIMAL_STRING || t->kind == DBZ_DECIMAL_DOUBLE)
	{
		Buf			plain = {0};

		if (neg)
			buf_putc(&plain, '-');
		buf_append(&plain, digits.data, digits.len - (size_t) scale);
		if (scale > 0)
		{
			buf_putc(&plain, '.');
			buf_append(&plain, digits.data + digits.len - (size_t) scale, (size_t) scale);
		}
		buf_putc(&plain, '\0');
		if (t->kind == DBZ_DECIMAL_STRING)
			json_cstr(out, plain.data);
		else
			json_double(out, strtod(plain.data, NULL), false);
		buf_free(&plain);
		buf_free(&digits);
		return true;
	}
	/* Debezium's BigDecimal.stripTrailingZeros(), a negative scale set back to 0. */
	if (t->kind == DBZ_VARIABLE_DECIMAL)
	{
		while (scale > 0 && digits.len > 1 && digits.data[digits.len - 1] == '0')
		{
			digits.len--;
			scale--;
		}
		buf_printf(out, "{\"scale\":%d,\"value\":", scale);
	}
	unscaled_base64(digits.data, digits.len, neg, out);
	if (t->kind == DBZ_VARIABLE_DECIMAL)
		buf_putc(out, '}');
	buf_free(&digits);
	return true;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/*
 * A second's fraction of µs: digits > 0 that many digits (up to 6), always;
 * digits <= 0 as few as it takes, none for a whole second (Java's
 * ISO formatters).
 */
static void
put_seconds_fraction(Buf *out, int64_t us_of_second, int digits)
{
	char		f[8];
	int			n;

	snprintf(f, sizeof(f), "%06lld", (long long) us_of_second);
	if (digits > 0)
	{
		buf_putc(out, '.');
		buf_append(out, f, digits > 6 ? 6 : (size_t) digits);
		for (; digits > 6; digits--)
			buf_putc(out, '0');
		return;
	}
	for (n = 6; n > 0 && f[n - 1] == '0'; n--)
		;
	if (n > 0)
	{
		buf_putc(out, '.');
		buf_append(out, f, (size_t) n);
	}
}

/*
 * µs since the epoch as Debezium's ZonedTimestamp, an ISO 8601 instant in
 * UTC with the column's digits of fraction: "2024-02-29T11:14:15.123456Z".
 */
static void
put_instant(Buf *out, int64_t us, int digits)
{
	int64_t		days = floor_div(us, INT64_C(86400000000));
	int64_t		rest = us - days * INT64_C(86400000000);
	int64_t		secs = rest / 1000000;
	int64_t		y,
				m,
				d;

	civil_date(days, &y, &m, &d);
	buf_putc(out, '"');
	if (y > 9999)
		buf_printf(out, "+%lld", (long long) y);
	else if (y < 0)
		buf_printf(out, "-%04lld", (long long) -y);
	else
		buf_printf(out, "%04lld", (long long) y);
	buf_printf(out, "-%02lld-%02lldT%02lld:%02lld:%02lld", (long long) m, (long long) d, (long long) (secs / 3600),
			   (long long) (secs / 60 % 60), (long long) (secs % 60));
	put_seconds_fraction(out, rest % 1000000, digits);
	buf_puts(out, "Z\"");
}

/*
 * An unsigned number at *p (advanced); false when there is none, or when it
 * has more than 18 digits (no output of the types read here has: a longer
 * one is no such output, and would overflow).
 */
static bool
read_number(const char **p, const char *end, long long *v)
{
	const char *q = *p;

	*v = 0;
	while (q < end && isdigit((unsigned char) *q))
	{
		if (q - *p == 18)
			return false;
		*v = *v * 10 + (*q++ - '0');
	}
	if (q == *p)
		return false;
	*p = q;
	return true;
}

/* A fraction ".123" at *p as µs (advanced past it); 0 when there is none. */
static int64_t
read_fraction_us(const char **p, const char *end)
{
	int64_t		us = 0;
	int			digits = 0;

	if (*p >= end || **p != '.')
		return 0;
	for ((*p)++; *p < end && isdigit((unsigned char) **p); (*p)++)
		if (digits++ < 6)
			us = us * 10 + (**p - '0');
	for (; digits < 6; digits++)
		us *= 10;
	return us;
}

/* timetz's output "13:14:15.123456+02[:30]" as Debezium's ZonedTime: the time in UTC, "11:14:15.123456Z". */
static bool
put_zoned_time(const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	const char *p = s,
			   *end = s + n;
	long long	h,
				mi,
				sec,
				oh = 0,
				om = 0,
				os = 0;
	int64_t		us,
				local;
	int			sign;

	if (!read_number(&p, end, &h) || p >= end || *p++ != ':' || !read_number(&p, end, &mi) ||
		p >= end || *p++ != ':' || !read_number(&p, end, &sec))
		return bad(err, errlen, "timetz", s, n);
	us = read_fraction_us(&p, end);
	if (p >= end || (*p != '+' && *p != '-'))
		return bad(err, errlen, "timetz", s, n);
	sign = *p++ == '-' ? -1 : 1;
	if (!read_number(&p, end, &oh))
		return bad(err, errlen, "timetz", s, n);
	if (p < end && *p == ':' && (p++, !read_number(&p, end, &om)))
		return bad(err, errlen, "timetz", s, n);
	if (p < end && *p == ':' && (p++, !read_number(&p, end, &os)))
		return bad(err, errlen, "timetz", s, n);
	/* timetz's ranges (24:00:00 included, offsets to 15:59:59), which also keep the sums below in range. */
	if (p != end || h > 24 || mi > 59 || sec > 60 || oh > 15 || om > 59 || os > 59)
		return bad(err, errlen, "timetz", s, n);
	local = ((h * 60 + mi) * 60 + sec) * INT64_C(1000000) + us;
	local -= sign * ((oh * 60 + om) * 60 + os) * INT64_C(1000000);
	local = local - floor_div(local, INT64_C(86400000000)) * INT64_C(86400000000);
	buf_printf(out, "\"%02lld:%02lld:%02lld", (long long) (local / 3600000000),
			   (long long) (local / 60000000 % 60), (long long) (local / 1000000 % 60));
	put_seconds_fraction(out, local % 1000000, 0);
	buf_puts(out, "Z\"");
	return true;
}

/*
 * interval's output (IntervalStyle postgres: "1 year 2 mons 3 days
 * 04:05:06.789", "-1 days +02:03:00") as Debezium's MicroDuration: µs, a
 * month 365.25 / 12 days, computed in double as Debezium does and cut to
 * the int64 range as Java's cast does.
 */
static bool
put_duration(const char *s, size_t n, bool iso, Buf *out, char *err, size_t errlen)
{
	const char *p = s,
			   *end = s + n;
	double		years = 0,
				months = 0,
				days = 0,
				hours = 0,
				minutes = 0,
				seconds = 0,
				micros;

	while (p < end)
	{
		int			sign = 1;
		long long	v;
		const char *unit;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		if (*p == '-' || *p == '+')
			sign = *p++ == '-' ? -1 : 1;
		if (!read_number(&p, end, &v))
			return bad(err, errlen, "interval", s, n);
		if (p < end && *p == ':')
		{
			long long	mi,
						sec;
			int64_t		frac;

			p++;
			if (!read_number(&p, end, &mi) || p >= end || *p++ != ':' || !read_number(&p, end, &sec))
				return bad(err, errlen, "interval", s, n);
			frac = read_fraction_us(&p, end);
			hours = sign * (double) v;
			minutes = sign * (double) mi;
			seconds = sign * ((double) sec + (double) frac / 1e6);
			continue;
		}
		if (p >= end || *p != ' ')
			return bad(err, errlen, "interval", s, n);
		unit = ++p;
		while (p < end && *p != ' ')
			p++;
		/* The unit is not NUL-terminated: compared within its length. */
		if (p - unit >= 4 && memcmp(unit, "year", 4) == 0)
			years = sign * (double) v;
		else if (p - unit >= 3 && memcmp(unit, "mon", 3) == 0)
			months = sign * (double) v;
		else if (p - unit >= 3 && memcmp(unit, "day", 3) == 0)
			days = sign * (double) v;
		else
			return bad(err, errlen, "interval", s, n);
	}
	/* interval.handling.mode = string: ISO 8601 of the fields, "P1Y2M3DT4H5M6.789S". */
	if (iso)
	{
		int64_t		us = (int64_t) (seconds * 1e6 + (seconds < 0 ? -0.5 : 0.5));
		int64_t		whole = us / 1000000;
		int64_t		frac = llabs(us % 1000000);

		buf_printf(out, "\"P%.0fY%.0fM%.0fDT%.0fH%.0fM%s%lld", years, months, days, hours, minutes,
				   us < 0 && whole == 0 ? "-" : "", (long long) whole);
		if (frac != 0)
		{
			char		f[8];
			int			len = 6;

			snprintf(f, sizeof(f), "%06lld", (long long) frac);
			while (f[len - 1] == '0')
				len--;
			buf_printf(out, ".%.*s", len, f);
		}
		buf_puts(out, "S\"");
		return true;
	}
	micros = ((((((years * 12 + months) * (365.25 / 12) + days) * 24 + hours) * 60 + minutes) * 60) + seconds) * 1e6;
	if (micros >= 9223372036854775807.0)
		json_i64(out, INT64_MAX);
	else if (micros <= -9223372036854775808.0)
		json_i64(out, INT64_MIN);
	else
		json_i64(out, (int64_t) micros);
	return true;
}

/* hstore's output ("a"=>"1", "b"=>NULL) as a JSON object, in a JSON string. */
static bool
put_hstore(const char *s, size_t n, bool as_map, Buf *out, char *err, size_t errlen)
{
	const char *p = s,
			   *end = s + n;
	Buf			obj = {0};
	Buf			item = {0};
	bool		first = true;

	buf_putc(&obj, '{');
	while (p < end)
	{
		for (int part = 0; part < 2; part++)
		{
			while (p < end && *p == ' ')
				p++;
			if (part == 1 && end - p >= 4 && memcmp(p, "NULL", 4) == 0)
			{
				buf_puts(&obj, "null");
				p += 4;
				continue;
			}
			if (p >= end || *p++ != '"')
				goto malformed;
			item.len = 0;
			while (p < end && *p != '"')
			{
				if (*p == '\\' && p + 1 < end)
					p++;
				buf_putc(&item, *p++);
			}
			if (p >= end)
				goto malformed;
			p++;
			if (part == 0)
			{
				if (!first)
					buf_putc(&obj, ',');
				first = false;
			}
			json_str(&obj, item.data ? item.data : "", item.len);
			if (part == 0)
			{
				if (end - p < 2 || memcmp(p, "=>", 2) != 0)
					goto malformed;
				p += 2;
				buf_putc(&obj, ':');
			}
		}
		while (p < end && *p == ' ')
			p++;
		/* A comma, and another pair after it. */
		if (p < end && (*p++ != ',' || p == end))
			goto malformed;
	}
	buf_putc(&obj, '}');
	/* hstore.handling.mode = map: the object itself; json: the object as a string. */
	if (as_map)
		buf_append(out, obj.data, obj.len);
	else
		json_str(out, obj.data, obj.len);
	buf_free(&obj);
	buf_free(&item);
	return true;
malformed:
	buf_free(&obj);
	buf_free(&item);
	return bad(err, errlen, "hstore", s, n);
}

/* A bit string "1010" as the bytes of the number it spells, least significant byte first, no zero bytes on top. */
static bool
put_bits(const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	uint8_t    *bytes = xcalloc(n / 8 + 1, 1);
	size_t		len = 0;

	for (size_t i = 0; i < n; i++)
	{
		char		c = s[n - 1 - i];

		if (c != '0' && c != '1')
		{
			free(bytes);
			return bad(err, errlen, "bit string", s, n);
		}
		if (c == '1')
		{
			bytes[i / 8] |= (uint8_t) (1u << (i % 8));
			len = i / 8 + 1;
		}
	}
	json_base64(out, bytes, len);
	free(bytes);
	return true;
}

/* point's output "(1.5,-2.25)" as Debezium's Point: x, y, its WKB (little-endian), no SRID. */
static bool
put_point(const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	char	   *text = xstrndup(s, n);
	char	   *end;
	double		x,
				y;
	uint8_t		wkb[21] = {1, 1, 0, 0, 0};

	if (text[0] != '(' || (x = strtod(text + 1, &end), *end != ',') ||
		(y = strtod(end + 1, &end), *end != ')' || end[1] != '\0'))
	{
		free(text);
		return bad(err, errlen, "point", s, n);
	}
	free(text);
	for (int i = 0; i < 8; i++)
	{
		uint64_t	xb,
					yb;

		memcpy(&xb, &x, 8);
		memcpy(&yb, &y, 8);
		wkb[5 + i] = (uint8_t) (xb >> (8 * i));
		wkb[13 + i] = (uint8_t) (yb >> (8 * i));
	}
	buf_puts(out, "{\"x\":");
	json_double(out, x, false);
	buf_puts(out, ",\"y\":");
	json_double(out, y, false);
	buf_puts(out, ",\"wkb\":");
	json_base64(out, wkb, sizeof(wkb));
	buf_puts(out, ",\"srid\":null}");
	return true;
}

/* An ISO date "2024-02-29" or "0044-03-15 BC" as days since 1970-01-01. */
static bool
read_date(const char *s, size_t n, int64_t *days)
{
	const char *p = s,
			   *end = s + n;
	long long	y,
				m,
				d;

	if (!read_number(&p, end, &y) || p >= end || *p++ != '-' || !read_number(&p, end, &m) ||
		p >= end || *p++ != '-' || !read_number(&p, end, &d) || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	if (end - p == 3 && memcmp(p, " BC", 3) == 0)
		y = 1 - y;
	else if (p != end)
		return false;
	*days = civil_days(y, m, d);
	return true;
}

/* One element of an array's text, of the elements' kind. */
static bool
put_element(DbzKind k, const char *s, size_t n, bool quoted, Buf *out, char *err, size_t errlen)
{
	char	   *text;
	char	   *end;
	bool		ok = true;
	int64_t		days;

	if (!quoted && n == 4 && memcmp(s, "NULL", 4) == 0)
	{
		buf_puts(out, "null");
		return true;
	}
	switch (k)
	{
		case DBZ_BOOLEAN:
			if (n != 1 || (s[0] != 't' && s[0] != 'f'))
				return bad(err, errlen, "boolean", s, n);
			buf_puts(out, s[0] == 't' ? "true" : "false");
			return true;
		case DBZ_INT16:
		case DBZ_INT32:
		case DBZ_INT64:
			text = xstrndup(s, n);
			(void) strtoll(text, &end, 10);
			ok = n > 0 && *end == '\0';
			free(text);
			if (!ok)
				return bad(err, errlen, "integer", s, n);
			buf_append(out, s, n);
			return true;
		case DBZ_FLOAT32:
		case DBZ_FLOAT64:
			{
				double		v;

				text = xstrndup(s, n);
				v = strtod(text, &end);
				ok = n > 0 && *end == '\0';
				free(text);
				if (!ok)
					return bad(err, errlen, "float", s, n);
				json_double(out, v, k == DBZ_FLOAT32);
				return true;
			}
		case DBZ_DATE:
			if (!read_date(s, n, &days))
				return bad(err, errlen, "date", s, n);
			json_i64(out, days);
			return true;
		default:
			json_str(out, s, n);
			return true;
	}
}

/*
 * An array's text output "{1,2,3}", "{a,\"b c\",NULL}" as a JSON array
 * (nested ones nested).  Anything but that grammar is refused, never
 * half-written: an element missing ("{1,}"), braces that do not pair, text
 * around the outer braces.
 */
static bool
put_array(DbzKind elem, const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	const char *p = s,
			   *end = s + n;
	Buf			item = {0};
	int			depth = 0;

	/* Explicit bounds: "[0:2]={1,2,3}". */
	if (p < end && *p == '[')
	{
		const char *eq = memchr(p, '=', n);

		if (eq == NULL)
			return bad(err, errlen, "array", s, n);
		p = eq + 1;
	}
	if (p >= end || *p != '{')
		return bad(err, errlen, "array", s, n);
	while (p < end)
	{
		/* An element: a sub-array opened, or a value. */
		if (*p == '{')
		{
			buf_putc(out, '[');
			depth++;
			if (++p < end && *p != '}')
				continue;
		}
		else
		{
			bool		quoted = *p == '"';

			item.len = 0;
			if (quoted)
			{
				for (p++; p < end && *p != '"'; p++)
				{
					if (*p == '\\' && p + 1 < end)
						p++;
					buf_putc(&item, *p);
				}
				if (p >= end)
					goto malformed;
				p++;
			}
			else
			{
				while (p < end && *p != ',' && *p != '}' && *p != '{' && *p != '"')
					buf_putc(&item, *p++);
				if (item.len == 0)
					goto malformed;
			}
			if (!put_element(elem, item.data ? item.data : "", item.len, quoted, out, err, errlen))
			{
				buf_free(&item);
				return false;
			}
		}
		/* After it: the arrays it ends, then a comma or the end of the outermost. */
		while (p < end && *p == '}' && depth > 0)
		{
			buf_putc(out, ']');
			depth--;
			p++;
		}
		if (depth == 0)
			break;
		if (p >= end || *p != ',')
			goto malformed;
		buf_putc(out, ',');
		p++;
	}
	if (depth != 0 || p != end)
		goto malformed;
	buf_free(&item);
	return true;
malformed:
	buf_free(&item);
	return bad(err, errlen, "array", s, n);
}

/*
 * The placeholder of an unchanged TOASTed value in the type's form, as
 * Debezium writes it: the text for text-like types, its bytes for bytea,
 * a one-element array for arrays of text, its bytes as numbers for arrays
 * of integers or dates, a one-pair object for hstore; null for the types
 * whose schema cannot hold it (Debezium's conversion fails there, and
 * writes null).
 */
static void
put_placeholder(const DbzType *t, const char *placeholder, Buf *out)
{
	size_t		n = strlen(placeholder);
	Buf			obj = {0};

	switch (t->kind)
	{
		case DBZ_BYTES:
			json_base64(out, (const uint8_t *) placeholder, n);
			return;
		case DBZ_BINARY_TEXT:	/* hex: the text itself; base64 modes: null, as Debezium's */
		case DBZ_DECIMAL_STRING:
			if (t->kind == DBZ_BINARY_TEXT && t->binary != DBZ_BINARY_HEX)
				buf_puts(out, "null");
			else
				json_str(out, placeholder, n);
			return;
		case DBZ_HSTORE_MAP:
			buf_putc(out, '{');
			json_str(out, placeholder, n);
			buf_putc(out, ':');
			json_str(out, placeholder, n);
			buf_putc(out, '}');
			return;
		case DBZ_STRING:
		case DBZ_JSON:
		case DBZ_XML:
		case DBZ_ENUM:
		case DBZ_UUID:
			json_str(out, placeholder, n);
			return;
		case DBZ_HSTORE:
			buf_putc(&obj, '{');
			json_str(&obj, placeholder, n);
			buf_putc(&obj, ':');
			json_str(&obj, placeholder, n);
			buf_putc(&obj, '}');
			json_str(out, obj.data, obj.len);
			buf_free(&obj);
			return;
		case DBZ_ARRAY:
			if (t->elem == DBZ_STRING || t->elem == DBZ_JSON)
			{
				buf_putc(out, '[');
				json_str(out, placeholder, n);
				buf_putc(out, ']');
				return;
			}
			if (t->elem == DBZ_INT32 || t->elem == DBZ_INT64 || t->elem == DBZ_DATE)
			{
				buf_putc(out, '[');
				for (size_t i = 0; i < n; i++)
				{
					if (i > 0)
						buf_putc(out, ',');
					json_i64(out, (signed char) placeholder[i]);
				}
				buf_putc(out, ']');
				return;
			}
			buf_puts(out, "null");
			return;
		default:
			buf_puts(out, "null");
			return;
	}
}

bool
dbz_value_unchanged(Span value)
{
	const uint8_t *p = value.data;
	WireField	f;

	return value.len > 0 && wire_get_field(&p, value.data + value.len, &f) == WIRE_OK &&
		f.number == WIRE_VALUE_UNCHANGED_TOAST;
}

/* A text value for a type whose values travel as their text. */
static bool
text_value(const DbzType *t, const char *s, size_t n, Buf *out, char *err, size_t errlen)
{
	switch (t->kind)
	{
		case DBZ_DECIMAL:
		case DBZ_VARIABLE_DECIMAL:
		case DBZ_DECIMAL_STRING:
		case DBZ_DECIMAL_DOUBLE:
			return put_decimal(t, s, n, out, err, errlen);
		case DBZ_ZONED_TIME:
			return put_zoned_time(s, n, out, err, errlen);
		case DBZ_DURATION:
		case DBZ_INTERVAL_STRING:
			return put_duration(s, n, t->kind == DBZ_INTERVAL_STRING, out, err, errlen);
		case DBZ_HSTORE:
		case DBZ_HSTORE_MAP:
			return put_hstore(s, n, t->kind == DBZ_HSTORE_MAP, out, err, errlen);
		case DBZ_BITS:
			return put_bits(s, n, out, err, errlen);
		case DBZ_BOOLEAN:		/* bit(1) */
			if (n != 1 || (s[0] != '0' && s[0] != '1'))
				return bad(err, errlen, "bit(1)", s, n);
			buf_puts(out, s[0] == '1' ? "true" : "false");
			return true;
		case DBZ_POINT:
			return put_point(s, n, out, err, errlen);
		case DBZ_ARRAY:
			return put_array(t->elem, s, n, out, err, errlen);
		default:
			json_str(out, s, n);
			return true;
	}
}

/* Whether a Value's field has its kind's wire type (a forged one's payload is not read). */
static bool
value_wire_type_fits(const WireField *f)
{
	switch (f->number)
	{
		case WIRE_VALUE_FLOAT_VALUE:
			return f->type == WIRE_TYPE_I64;
		case WIRE_VALUE_NUMERIC_VALUE:
		case WIRE_VALUE_TEXT_VALUE:
		case WIRE_VALUE_UUID_VALUE:
		case WIRE_VALUE_BYTES_VALUE:
			return f->type == WIRE_TYPE_LEN;
		default:				/* the varints; an unknown kind is refused below */
			return f->type == WIRE_TYPE_VARINT || f->number > WIRE_VALUE_BYTES_VALUE;
	}
}

bool
dbz_value(const DbzType *t, Span value, const char *placeholder, Buf *out, char *err, size_t errlen)
{
	const uint8_t *p = value.data;
	WireField	f;
	int64_t		v;

	if (value.len == 0)			/* not logged (a before image's non-key column) */
	{
		buf_puts(out, "null");
		return true;
	}
	if (wire_get_field(&p, value.data + value.len, &f) != WIRE_OK)
	{
		snprintf(err, errlen, "a malformed value");
		return false;
	}
	if (!value_wire_type_fits(&f))
	{
		snprintf(err, errlen, "a value of kind %llu with wire type %d", (unsigned long long) f.number, f.type);
		return false;
	}
	v = wire_unzigzag64(f.varint);
	switch (f.number)
	{
		case WIRE_VALUE_IS_NULL:
			buf_puts(out, "null");
			return true;
		case WIRE_VALUE_UNCHANGED_TOAST:
			put_placeholder(t, placeholder, out);
			return true;
		case WIRE_VALUE_BOOL_VALUE:
			buf_puts(out, f.varint ? "true" : "false");
			return true;
		case WIRE_VALUE_INT_VALUE:
			if (t->kind == DBZ_STRING)
				buf_putc(out, '"');
			json_i64(out, v);
			if (t->kind == DBZ_STRING)
				buf_putc(out, '"');
			return true;
		case WIRE_VALUE_FLOAT_VALUE:
			{
				double		d;

				memcpy(&d, f.data, 8);
				json_double(out, d, t->kind == DBZ_FLOAT32);
				return true;
			}
		case WIRE_VALUE_NUMERIC_VALUE:
			if (t->kind != DBZ_DECIMAL && t->kind != DBZ_VARIABLE_DECIMAL && t->kind != DBZ_DECIMAL_STRING &&
				t->kind != DBZ_DECIMAL_DOUBLE)
			{
				json_str(out, (const char *) f.data, (size_t) f.len);
				return true;
			}
			return put_decimal(t, (const char *) f.data, (size_t) f.len, out, err, errlen);
		case WIRE_VALUE_TIMESTAMP_VALUE:
			if (t->kind == DBZ_ZONED_TIMESTAMP)
				put_instant(out, v, t->precision);
			else if (t->kind == DBZ_TIMESTAMP_MS || t->kind == DBZ_CONNECT_TIMESTAMP)
				json_i64(out, floor_div(v, 1000));
			else
				json_i64(out, v);
			return true;
		case WIRE_VALUE_DATE_VALUE:
			json_i64(out, (int32_t) wire_unzigzag64(f.varint));
			return true;
		case WIRE_VALUE_TIME_VALUE:
			json_i64(out, t->kind == DBZ_TIME_MS || t->kind == DBZ_CONNECT_TIME ? (int64_t) f.varint / 1000
					 : (int64_t) f.varint);
			return true;
		case WIRE_VALUE_INFINITY:
			{
				bool		pos = f.varint == PGCDC__INFINITY__INFINITY_POSITIVE;

				if (t->kind == DBZ_ZONED_TIMESTAMP)
					buf_puts(out, pos ? "\"infinity\"" : "\"-infinity\"");
				else if (t->kind == DBZ_TIMESTAMP_US)
					json_i64(out, pos ? PG_INFINITY_US : PG_NEG_INFINITY_US);
				else if (t->kind == DBZ_TIMESTAMP_MS || t->kind == DBZ_CONNECT_TIMESTAMP)
					json_i64(out, (pos ? PG_INFINITY_US : PG_NEG_INFINITY_US) / 1000);
				else if (t->kind == DBZ_DATE || t->kind == DBZ_CONNECT_DATE)
					json_i64(out, pos ? PG_INFINITY_DAYS : PG_NEG_INFINITY_DAYS);
				else
					buf_puts(out, "null");
				return true;
			}
		case WIRE_VALUE_TEXT_VALUE:
			return text_value(t, (const char *) f.data, (size_t) f.len, out, err, errlen);
		case WIRE_VALUE_UUID_VALUE:
			if (f.len != 16)
			{
				snprintf(err, errlen, "a uuid of %llu bytes", (unsigned long long) f.len);
				return false;
			}
			buf_putc(out, '"');
			dbz_uuid_text(f.data, out);
			buf_putc(out, '"');
			return true;
		case WIRE_VALUE_BYTES_VALUE:
			if (t->kind == DBZ_BINARY_TEXT && t->binary == DBZ_BINARY_HEX)
				json_hex(out, f.data, (size_t) f.len);
			else if (t->kind == DBZ_BINARY_TEXT && t->binary == DBZ_BINARY_BASE64_URL)
				json_base64_url(out, f.data, (size_t) f.len);
			else
				json_base64(out, f.data, (size_t) f.len);
			return true;
		default:
			snprintf(err, errlen, "a value of an unknown kind (field %llu)", (unsigned long long) f.number);
			return false;
	}
}
