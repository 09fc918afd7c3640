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
#include "thousands.h"
#include "xalloc.h"

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
		if (f.number == WIRE_CHANGE_EVENT_OP && f.wire == WIRE_TYPE_VARINT)
			s->op = (uint32_t) f.varint;
		else if (f.number == WIRE_CHANGE_EVENT_COMMIT_LSN && f.wire == WIRE_TYPE_VARINT)
			s->commit_lsn = f.varint;
		else if (f.number == WIRE_CHANGE_EVENT_LSN && f.wire == WIRE_TYPE_VARINT)
			s->lsn = f.varint;
		else if (f.number == WIRE_CHANGE_EVENT_SEQ && f.wire == WIRE_TYPE_VARINT)
			s->seq = f.varint;
		else if (f.number == WIRE_CHANGE_EVENT_SCHEMA && f.wire == WIRE_TYPE_LEN)
			s->schema = f.payload;
		else if (f.number == WIRE_CHANGE_EVENT_TABLE && f.wire == WIRE_TYPE_LEN)
			s->table = f.payload;
		else if (f.number == WIRE_CHANGE_EVENT_PREFIX && f.wire == WIRE_TYPE_LEN)
			s->prefix = f.payload;
		else if (f.number == WIRE_CHANGE_EVENT_COLUMNS && f.wire == WIRE_TYPE_LEN)
		{
			if (s->ncolumns == cap)
			{
				cap = cap ? 2 * cap : 16;
				s->columns = xrealloc(s->columns, cap, sizeof(Span));
				s->is_key = xrealloc(s->is_key, cap, sizeof(bool));
			}
			s->columns[s->ncolumns] = f.payload;
			s->is_key[s->ncolumns++] = record_column_is_key(f.payload);
		}
	}
	if (at != len)
	{
		scan_free(s);
		return false;
	}
	return true;
}

/* The Oversized message's body. */
static size_t
oversized_size(uint32_t op, const Oversize *o, size_t name_len)
{
	return wire_varint_field_size(WIRE_OVERSIZED_OP, op) +
		wire_varint_field_size(WIRE_OVERSIZED_SIZE, o->size) +
		wire_varint_field_size(WIRE_OVERSIZED_LIMIT, o->limit) +
		wire_len_field_size(WIRE_OVERSIZED_LIMIT_NAME, name_len);
}

uint8_t *
standin_value(const uint8_t *value, size_t len, const Oversize *o, size_t *outlen)
{
	Scan		s;
	size_t		name_len = strlen(o->limit_name);
	size_t		inner;
	size_t		at = 0;
	size_t		nth[2] = {0, 0};	/* Values of before, after seen */
	uint8_t    *out;
	uint8_t    *p;
	RecordField f;

	if (!scan(value, len, &s))
		return NULL;
	inner = oversized_size(s.op, o, name_len);
	/* Every copied or emptied field is at most as long as it was; then the op and Oversized. */
	out = p = xmalloc(len + wire_varint_field_size(WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_OVERSIZED) +
					  wire_len_field_size(WIRE_CHANGE_EVENT_OVERSIZED, inner));
	while (record_next_field(value, len, &at, &f))
	{
		if (f.number == WIRE_CHANGE_EVENT_OP || f.number == WIRE_CHANGE_EVENT_CONTENT ||
			f.number == WIRE_CHANGE_EVENT_EVENT_COUNTS || f.number == WIRE_CHANGE_EVENT_OVERSIZED)
			continue;
		if ((f.number == WIRE_CHANGE_EVENT_BEFORE || f.number == WIRE_CHANGE_EVENT_AFTER) &&
			f.wire == WIRE_TYPE_LEN)
		{
			size_t		i = nth[f.number == WIRE_CHANGE_EVENT_AFTER]++;

			if (i >= s.ncolumns || !s.is_key[i])
			{
				/* An empty Value: not logged. */
				p = wire_put_len_field(p, f.number, NULL, 0);
				continue;
			}
		}
		memcpy(p, f.whole.data, f.whole.len);
		p += f.whole.len;
	}
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_OVERSIZED);
	p = wire_put_tag(p, WIRE_CHANGE_EVENT_OVERSIZED, WIRE_TYPE_LEN);
	p = wire_put_varint(p, inner);
	p = wire_put_varint_field(p, WIRE_OVERSIZED_OP, s.op);
	p = wire_put_varint_field(p, WIRE_OVERSIZED_SIZE, o->size);
	p = wire_put_varint_field(p, WIRE_OVERSIZED_LIMIT, o->limit);
	p = wire_put_len_field(p, WIRE_OVERSIZED_LIMIT_NAME, o->limit_name, name_len);
	scan_free(&s);
	*outlen = (size_t) (p - out);
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

/* The wire type cdc.proto gives a field of Value. */
static int
value_wire(uint32_t number)
{
	switch (number)
	{
		case WIRE_VALUE_FLOAT_VALUE:
			return WIRE_TYPE_I64;
		case WIRE_VALUE_NUMERIC_VALUE:
		case WIRE_VALUE_TEXT_VALUE:
		case WIRE_VALUE_UUID_VALUE:
		case WIRE_VALUE_BYTES_VALUE:
			return WIRE_TYPE_LEN;
		default:
			return WIRE_TYPE_VARINT;
	}
}

/*
 * One Value of a key, roughly as PostgreSQL would print it.  A field of
 * another wire type than its number's is "?": a forged float_value written
 * as a varint has no 8 bytes to read.
 */
static void
put_value(char *out, size_t outlen, size_t *at, Span v)
{
	size_t		pos = 0;
	RecordField f;
	int64_t		i;
	double		d;

	if (!record_next_field(v.data, v.len, &pos, &f) || f.wire != value_wire(f.number))
	{
		put(out, outlen, at, "?");
		return;
	}
	i = wire_unzigzag64(f.varint);	/* for the sint fields */
	switch (f.number)
	{
		case WIRE_VALUE_IS_NULL:
			put(out, outlen, at, "NULL");
			break;
		case WIRE_VALUE_BOOL_VALUE:
			put(out, outlen, at, f.varint ? "true" : "false");
			break;
		case WIRE_VALUE_INT_VALUE:
		case WIRE_VALUE_DATE_VALUE:
			put(out, outlen, at, "%lld", (long long) i);
			break;
		case WIRE_VALUE_TIMESTAMP_VALUE:
			put(out, outlen, at, "%lld us after 1970", (long long) i);
			break;
		case WIRE_VALUE_TIME_VALUE:
			put(out, outlen, at, "%llu us after midnight", (unsigned long long) f.varint);
			break;
		case WIRE_VALUE_FLOAT_VALUE:
			memcpy(&d, f.payload.data, sizeof(d));
			put(out, outlen, at, "%g", d);
			break;
		case WIRE_VALUE_NUMERIC_VALUE:
		case WIRE_VALUE_TEXT_VALUE:
			put_text(out, outlen, at, f.payload);
			break;
		case WIRE_VALUE_UUID_VALUE:
			for (size_t k = 0; k < f.payload.len; k++)
				put(out, outlen, at, "%s%02x", k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "",
					f.payload.data[k]);
			break;
		case WIRE_VALUE_BYTES_VALUE:
			put(out, outlen, at, "\\x");
			for (size_t k = 0; k < f.payload.len && k < 20; k++)
				put(out, outlen, at, "%02x", f.payload.data[k]);
			put(out, outlen, at, f.payload.len > 20 ? "..." : "");
			break;
		default:
			put(out, outlen, at, "?");
			break;
	}
}

/* The name of a Column. */
static Span
column_name(Span column)
{
	size_t		at = 0;
	RecordField f;

	while (record_next_field(column.data, column.len, &at, &f))
		if (f.number == WIRE_COLUMN_NAME && f.wire == WIRE_TYPE_LEN)
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
	image = xcalloc(s.ncolumns ? s.ncolumns : 1, sizeof(Span));
	want = s.op == PGCDC__OP__OP_DELETE ? WIRE_CHANGE_EVENT_BEFORE : WIRE_CHANGE_EVENT_AFTER;
	for (size_t pos = 0; record_next_field(value, len, &pos, &f);)
		if (f.number == want && f.wire == WIRE_TYPE_LEN && nimage < s.ncolumns)
			image[nimage++] = f.payload;
	for (int part = 0; part < 2; part++)
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
	if (s.op == PGCDC__OP__OP_READ)
		put(out, outlen, &at, " (snapshot at " LSN_FMT ")", LSN_ARGS(s.lsn));
	else if (s.commit_lsn)
		put(out, outlen, &at, " (commit " LSN_FMT ", change #%llu at " LSN_FMT ")",
			LSN_ARGS(s.commit_lsn), (unsigned long long) s.seq, LSN_ARGS(s.lsn));
	else if (s.lsn)
		put(out, outlen, &at, " (at " LSN_FMT ")", LSN_ARGS(s.lsn));
	scan_free(&s);
}

bool
standin_apply(OversizedMode mode, const Oversize *big, void **value, size_t *len,
			  KafkaHeaders *h, MetricCell *m, char *err, size_t errlen)
{
	char		what[400];
	char		size[THOUSANDS_LEN],
				limit[THOUSANDS_LEN];
	char		whose[300];
	uint8_t    *standin;
	size_t		standin_len;

	standin_describe(*value, *len, what, sizeof(what));
	/* Not a record (value.format = debezium-json): what its headers say of it. */
	if (strncmp(what, "a record of ", 12) == 0)
	{
		static const char ops[] = "cudrtm";
		static const char *const words[] = {"an insert", "an update", "a delete", "a snapshot row", "a truncate",
		"a logical message"};
		const char *op = h->op ? strchr(ops, h->op) : NULL;

		snprintf(what, sizeof(what), "%s on topic %s (its commit at " LSN_FMT ")",
				 op ? words[op - ops] : "a message", big->topic, LSN_ARGS(h->commit_lsn));
	}
	thousands_format(size, big->size);
	thousands_format(limit, big->limit);
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
		snprintf(err, errlen, "a malformed record: cannot make the stand-in for %s", what);
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
