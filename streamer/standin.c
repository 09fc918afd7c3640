/*
 * standin.c — the oversized stand-in, built field by field from the record
 * it replaces.
 *
 * Top-level fields are copied as they are, except the operation (written
 * last, OP_OVERSIZED), the row images (a key column's Value kept, every
 * other one written empty, so positions still match the columns), a
 * message's content and a commit's per-table counts.  Which columns are
 * keys comes from the RELATION record's columns in front of the change.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "record.h"
#include "standin.h"

/* Fields of proto/cdc.proto this file reads or writes. */
enum
{
	F_OP = 2, F_COMMIT_LSN = 3, F_LSN = 4, F_SEQ = 5, F_SCHEMA = 9, F_TABLE = 10,
	F_BEFORE = 12, F_AFTER = 13, F_COLUMNS = 16, F_PREFIX = 20, F_CONTENT = 21,
	F_EVENT_COUNTS = 24, F_OVERSIZED = 25
};

#define OP_DELETE 5
#define OP_OVERSIZED 10

/* What a scan of the value found. */
typedef struct Scan
{
	uint32_t	op;
	uint64_t	commit_lsn;
	uint64_t	lsn;
	uint64_t	seq;
	Span		schema;
	Span		table;
	Span		prefix;
	size_t		ncolumns;
	Span	   *columns;		/* each Column's bytes */
	bool	   *is_key;
} Scan;

static void
scan_free(Scan *s)
{
	free(s->columns);
	free(s->is_key);
}

static bool
scan(const uint8_t *value, size_t len, Scan *s)
{
	size_t		at = 0;
	size_t		cap = 0;
	RecordField f;

	memset(s, 0, sizeof(*s));
	while (record_next_field(value, len, &at, &f))
	{
		if (f.number == F_OP && f.wire == 0)
			s->op = (uint32_t) f.varint;
		else if (f.number == F_COMMIT_LSN && f.wire == 0)
			s->commit_lsn = f.varint;
		else if (f.number == F_LSN && f.wire == 0)
			s->lsn = f.varint;
		else if (f.number == F_SEQ && f.wire == 0)
			s->seq = f.varint;
		else if (f.number == F_SCHEMA && f.wire == 2)
			s->schema = f.payload;
		else if (f.number == F_TABLE && f.wire == 2)
			s->table = f.payload;
		else if (f.number == F_PREFIX && f.wire == 2)
			s->prefix = f.payload;
		else if (f.number == F_COLUMNS && f.wire == 2)
		{
			if (s->ncolumns == cap)
			{
				cap = cap ? 2 * cap : 16;
				s->columns = realloc(s->columns, cap * sizeof(Span));
				s->is_key = realloc(s->is_key, cap * sizeof(bool));
				if (s->columns == NULL || s->is_key == NULL)
					return scan_free(s), false;
			}
			s->columns[s->ncolumns] = f.payload;
			s->is_key[s->ncolumns++] = record_column_is_key(f.payload);
		}
	}
	if (at != len)
		return scan_free(s), false;
	return true;
}

static size_t
put_varint(uint8_t *out, uint64_t v)
{
	size_t		n = 0;

	do
	{
		out[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

static size_t
varint_len(uint64_t v)
{
	uint8_t		tmp[10];

	return put_varint(tmp, v);
}

uint8_t *
standin_value(const uint8_t *value, size_t len, const Oversize *o, size_t *outlen)
{
	Scan		s;
	size_t		name_len = strlen(o->limit_name);
	size_t		inner;
	size_t		at = 0;
	size_t		n = 0;
	size_t		nth[2] = {0, 0};	/* Values of before, after seen */
	uint8_t    *out;
	RecordField f;

	if (!scan(value, len, &s))
		return NULL;
	/* Every copied or emptied field is at most as long as it was; then the op and Oversized. */
	if ((out = malloc(len + 64 + name_len)) == NULL)
		return scan_free(&s), NULL;
	while (record_next_field(value, len, &at, &f))
	{
		if (f.number == F_OP || f.number == F_CONTENT || f.number == F_EVENT_COUNTS ||
			f.number == F_OVERSIZED)
			continue;
		if ((f.number == F_BEFORE || f.number == F_AFTER) && f.wire == 2)
		{
			size_t		i = nth[f.number == F_AFTER]++;

			if (i >= s.ncolumns || !s.is_key[i])
			{
				n += put_varint(out + n, (uint64_t) f.number << 3 | 2);
				out[n++] = 0;	/* an empty Value: not logged */
				continue;
			}
		}
		memcpy(out + n, f.whole.data, f.whole.len);
		n += f.whole.len;
	}
	n += put_varint(out + n, F_OP << 3);
	n += put_varint(out + n, OP_OVERSIZED);
	inner = 1 + varint_len(s.op) + 1 + varint_len(o->size) + 1 + varint_len(o->limit) +
		1 + varint_len(name_len) + name_len;
	n += put_varint(out + n, F_OVERSIZED << 3 | 2);
	n += put_varint(out + n, inner);
	out[n++] = 1 << 3;
	n += put_varint(out + n, s.op);
	out[n++] = 2 << 3;
	n += put_varint(out + n, o->size);
	out[n++] = 3 << 3;
	n += put_varint(out + n, o->limit);
	out[n++] = 4 << 3 | 2;
	n += put_varint(out + n, name_len);
	memcpy(out + n, o->limit_name, name_len);
	n += name_len;
	scan_free(&s);
	*outlen = n;
	return out;
}

/* Appends to out[*at..outlen), always terminated, cut at the end. */
__attribute__((format(printf, 4, 5)))
static void
put(char *out, size_t outlen, size_t *at, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (*at >= outlen)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *at, outlen - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t) n < outlen - *at ? (size_t) n : outlen - *at - 1;
}

/* Text bytes for a log line: printable ASCII as it is, anything else '?', cut past 40. */
static void
put_text(char *out, size_t outlen, size_t *at, Span t)
{
	for (size_t i = 0; i < t.len && i < 40; i++)
		put(out, outlen, at, "%c", t.data[i] >= 0x20 && t.data[i] < 0x7f ? t.data[i] : '?');
	if (t.len > 40)
		put(out, outlen, at, "...");
}

/* One Value of a key, roughly as PostgreSQL would print it. */
static void
put_value(char *out, size_t outlen, size_t *at, Span v)
{
	size_t		pos = 0;
	RecordField f;
	int64_t		i;
	double		d;

	if (!record_next_field(v.data, v.len, &pos, &f))
		return put(out, outlen, at, "?");
	i = (int64_t) (f.varint >> 1) ^ -(int64_t) (f.varint & 1);	/* zigzag, for sint fields */
	switch (f.number)
	{
		case 1:
			return put(out, outlen, at, "NULL");
		case 3:
			return put(out, outlen, at, f.varint ? "true" : "false");
		case 4:
		case 8:
			return put(out, outlen, at, "%lld", (long long) i);
		case 7:
			return put(out, outlen, at, "%lld us after 1970", (long long) i);
		case 9:
			return put(out, outlen, at, "%llu us after midnight", (unsigned long long) f.varint);
		case 5:
			memcpy(&d, f.payload.data, sizeof(d));
			return put(out, outlen, at, "%g", d);
		case 6:
		case 11:
			return put_text(out, outlen, at, f.payload);
		case 12:
			for (size_t k = 0; k < f.payload.len; k++)
				put(out, outlen, at, "%s%02x", k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "",
					f.payload.data[k]);
			return;
		case 13:
			put(out, outlen, at, "\\x");
			for (size_t k = 0; k < f.payload.len && k < 20; k++)
				put(out, outlen, at, "%02x", f.payload.data[k]);
			return put(out, outlen, at, f.payload.len > 20 ? "..." : "");
		default:
			return put(out, outlen, at, "?");
	}
}

/* The name of a Column. */
static Span
column_name(Span column)
{
	size_t		at = 0;
	RecordField f;

	while (record_next_field(column.data, column.len, &at, &f))
		if (f.number == 1 && f.wire == 2)
			return f.payload;
	return (Span) {(const uint8_t *) "?", 1};
}

void
standin_describe(const uint8_t *value, size_t len, char *out, size_t outlen)
{
	static const char *const ops[] = {"change", "begin", "commit", "insert", "update", "delete",
	"truncate", "logical message", "snapshot row", "relation"};
	Scan		s;
	size_t		at = 0;
	RecordField f;
	Span	   *image;
	size_t		nimage = 0;
	uint32_t	want;
	bool		first = true;

	out[0] = '\0';
	if (!scan(value, len, &s))
	{
		put(out, outlen, &at, "a record of %zu bytes", len);
		return;
	}
	put(out, outlen, &at, "%s", ops[s.op < sizeof(ops) / sizeof(ops[0]) ? s.op : 0]);
	if (s.table.len > 0)
	{
		put(out, outlen, &at, " of ");
		put_text(out, outlen, &at, s.schema);
		put(out, outlen, &at, ".");
		put_text(out, outlen, &at, s.table);
	}
	if (s.prefix.len > 0)
	{
		put(out, outlen, &at, " with prefix ");
		put_text(out, outlen, &at, s.prefix);
	}

	/* The key: the old row's for a delete, else the new row's. */
	image = calloc(s.ncolumns ? s.ncolumns : 1, sizeof(Span));
	want = s.op == OP_DELETE ? F_BEFORE : F_AFTER;
	for (size_t pos = 0; image && record_next_field(value, len, &pos, &f);)
		if (f.number == want && f.wire == 2 && nimage < s.ncolumns)
			image[nimage++] = f.payload;
	for (int part = 0; part < 2 && image; part++)
	{
		first = true;
		for (size_t i = 0; i < nimage; i++)
		{
			if (!s.is_key[i])
				continue;
			put(out, outlen, &at, "%s", first ? (part == 0 ? " (" : ")=(") : ", ");
			if (part == 0)
				put_text(out, outlen, &at, column_name(s.columns[i]));
			else
				put_value(out, outlen, &at, image[i]);
			first = false;
		}
	}
	if (!first)
		put(out, outlen, &at, ")");
	else if (s.ncolumns > 0)
		put(out, outlen, &at, " (a table without a key)");
	free(image);
	if (s.op == 8)
		put(out, outlen, &at, " (snapshot at " LSN_FMT ")", LSN_ARGS(s.lsn));
	else if (s.commit_lsn)
		put(out, outlen, &at, " (commit " LSN_FMT ", change #%llu at " LSN_FMT ")",
			LSN_ARGS(s.commit_lsn), (unsigned long long) s.seq, LSN_ARGS(s.lsn));
	else if (s.lsn)
		put(out, outlen, &at, " (at " LSN_FMT ")", LSN_ARGS(s.lsn));
	scan_free(&s);
}

const char *
standin_bytes(char *out, size_t n)
{
	char		digits[24];
	int			len = snprintf(digits, sizeof(digits), "%zu", n);
	size_t		at = 0;

	for (int i = 0; i < len; i++)
	{
		out[at++] = digits[i];
		if ((len - i - 1) % 3 == 0 && i < len - 1)
			out[at++] = ',';
	}
	out[at] = '\0';
	return out;
}

bool
standin_apply(OversizedMode mode, const Oversize *big, void **value, size_t *len,
			  KafkaHeaders *h, MetricCell *m, char *err, size_t errlen)
{
	char		what[400];
	char		size[32],
				limit[32];
	char		whose[300];
	uint8_t    *standin;
	size_t		standin_len;

	standin_describe(*value, *len, what, sizeof(what));
	standin_bytes(size, big->size);
	standin_bytes(limit, big->limit);
	if (strcmp(big->limit_name, "message.max.bytes") == 0)
		snprintf(whose, sizeof(whose), "message.max.bytes, walstreamer's producer: raise "
				 "kafka.message.max.bytes, and the topic's max.message.bytes on the brokers with it");
	else
		snprintf(whose, sizeof(whose), "max.message.bytes of topic %s: raise it on the brokers "
				 "(kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config "
				 "max.message.bytes=...), and kafka.message.max.bytes here with it", big->topic, big->topic);
	if (h->oversized > 0)
	{
		/* A stand-in holds a RELATION record and the key: only a table of thousands of columns comes near. */
		snprintf(err, errlen, "the stand-in for an oversized %s is itself a message of %s bytes, above "
				 "Kafka's limit of %s (%s)", what, size, limit, whose);
		return false;
	}
	if (mode == OVERSIZED_FAIL)
	{
		snprintf(err, errlen, "%s is a message of %s bytes, above Kafka's limit of %s (%s); "
				 "oversized.mode = fail stops here, the slot holds it: raise the limit and start "
				 "again, or set oversized.mode = dead-letter to let a stand-in through in its place",
				 what, size, limit, whose);
		return false;
	}
	if ((standin = standin_value(*value, *len, big, &standin_len)) == NULL)
	{
		snprintf(err, errlen, "out of memory, or a malformed record, making the stand-in for %s", what);
		return false;
	}
	log_msg(LOG_WARNING, "oversized: %s is a message of %s bytes, above Kafka's limit of %s (%s): "
			"a stand-in goes to %s in its place (walsink records it as a dead letter); "
			"the row must be resynchronised from the source", what, size, limit, big->limit_name,
			big->topic);
	if (m != NULL)
		metrics_add(m, 1);
	h->oversized = big->size;
	free(*value);
	*value = standin;
	*len = standin_len;
	return true;
}
