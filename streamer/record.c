/*
 * record.c — a bounds-checked scan of a record's top-level protobuf fields.
 *
 * Only the fields walstreamer routes by are read; unknown fields are
 * skipped by wire type, as protobuf requires, so a newer decoder's
 * additions pass through.  Repeated message fields are collected as spans.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "xalloc.h"

bool
record_frame(const uint8_t *buf, size_t len, size_t *at, const uint8_t **rec, size_t *reclen,
			 char *err, size_t errlen)
{
	const uint8_t *p = buf + *at;
	const uint8_t *end = buf + len;
	uint64_t	n;

	if (!wire_get_varint(&p, end, &n) || n > UINT32_MAX)
	{
		snprintf(err, errlen, "bad record length at byte %zu of %zu", *at, len);
		return false;
	}
	if (n > (uint64_t) (end - p))
	{
		snprintf(err, errlen, "record of %llu bytes at byte %zu, only %zu left",
				 (unsigned long long) n, *at, (size_t) (end - p));
		return false;
	}
	*rec = p;
	*reclen = (size_t) n;
	*at = (size_t) (p - buf) + (size_t) n;
	return true;
}

/* One well-formed field, its number neither 0 nor past 32 bits; *p moved past it. */
static bool
read_field(const uint8_t **p, const uint8_t *end, WireField *f)
{
	return wire_get_field(p, end, f) == WIRE_OK && f->number != 0 && f->number <= UINT32_MAX;
}

static Span
payload(const WireField *f)
{
	return (Span) {f->data, (size_t) f->len};
}

static void
spans_push(SpanArray *a, Span s)
{
	if (a->n == a->capacity)
	{
		a->capacity = a->capacity ? a->capacity * 2 : 16;
		a->items = xrealloc(a->items, a->capacity, sizeof(Span));
	}
	a->items[a->n++] = s;
}

void
record_init(Record *r)
{
	memset(r, 0, sizeof(*r));
}

void
record_free(Record *r)
{
	free(r->before.items);
	free(r->after.items);
	free(r->columns.items);
	free(r->truncated.items);
	memset(r, 0, sizeof(*r));
}

static void
record_reset(Record *r)
{
	Record		keep = *r;

	memset(r, 0, sizeof(*r));
	r->before = keep.before;
	r->after = keep.after;
	r->columns = keep.columns;
	r->truncated = keep.truncated;
	r->before.n = r->after.n = r->columns.n = r->truncated.n = 0;
}

/* A field of the expected wire type, or a complaint naming it. */
static bool
expect(int wire, int want, uint32_t field, char *err, size_t errlen)
{
	if (wire == want)
		return true;
	snprintf(err, errlen, "field %u has wire type %d, expected %d", field, wire, want);
	return false;
}

/* A StreamInfo as the decoder writes it: at most one aborted range (first seq, count). */
static bool
scan_stream(Span stream, Record *r, char *err, size_t errlen)
{
	const uint8_t *p = stream.data;
	const uint8_t *end = stream.data + stream.len;

	while (p < end)
	{
		WireField	f;

		if (!read_field(&p, end, &f))
		{
			snprintf(err, errlen, "malformed stream field");
			return false;
		}
		if (f.number != WIRE_STREAM_INFO_ABORTED)
			continue;
		if (f.type == WIRE_TYPE_LEN)
		{
			const uint8_t *q = f.data;
			const uint8_t *qend = f.data + f.len;
			uint64_t	v[3];
			int			n = 0;

			while (q < qend && n < 3 && wire_get_varint(&q, qend, &v[n]))
				n++;
			if (n != 2 || q != qend || v[0] > UINT32_MAX || v[1] == 0 || v[1] > UINT32_MAX - v[0])
			{
				snprintf(err, errlen, "a stream abort's range is not one (first seq, count) pair");
				return false;
			}
			r->aborted[0] = (uint32_t) v[0];
			r->aborted[1] = (uint32_t) v[1];
			r->has_aborted = true;
		}
	}
	return true;
}

bool
record_scan(const uint8_t *buf, size_t len, Record *r, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	const uint8_t *end = buf + len;
	uint32_t	op = 0;
	Span		stream = {NULL, 0};

	record_reset(r);
	while (p < end)
	{
		WireField	f;
		Span		s;
		SpanArray  *list = NULL;
		int			want = WIRE_TYPE_VARINT;

		if (!read_field(&p, end, &f))
		{
			snprintf(err, errlen, "malformed protobuf at byte %zu", (size_t) (p - buf));
			return false;
		}
		s = payload(&f);
		switch (f.number)
		{
			case WIRE_CHANGE_EVENT_OP: op = (uint32_t) f.varint; break;
			case WIRE_CHANGE_EVENT_COMMIT_LSN: r->commit_lsn = f.varint; break;
			case WIRE_CHANGE_EVENT_LSN: r->lsn = f.varint; break;
			case WIRE_CHANGE_EVENT_XID: r->xid = (uint32_t) f.varint; break;
			case WIRE_CHANGE_EVENT_COMMIT_TS: r->commit_ts = (int64_t) f.varint; break;
			case WIRE_CHANGE_EVENT_DATABASE: want = WIRE_TYPE_LEN; r->database = s; break;
			case WIRE_CHANGE_EVENT_RELID: r->relid = (uint32_t) f.varint; break;
			case WIRE_CHANGE_EVENT_TRANSACTIONAL: r->transactional = f.varint != 0; break;
			case WIRE_CHANGE_EVENT_END_LSN: r->end_lsn = f.varint; break;
			case WIRE_CHANGE_EVENT_SEQ: r->seq = (uint32_t) f.varint; break;
			case WIRE_CHANGE_EVENT_STREAMED: r->streamed = f.varint != 0; break;
			case WIRE_CHANGE_EVENT_SUBXID: r->subxid = (uint32_t) f.varint; break;
			case WIRE_CHANGE_EVENT_STREAM: want = WIRE_TYPE_LEN; stream = s; break;
			case WIRE_CHANGE_EVENT_SCHEMA: want = WIRE_TYPE_LEN; r->schema = s; break;
			case WIRE_CHANGE_EVENT_TABLE: want = WIRE_TYPE_LEN; r->table = s; break;
			case WIRE_CHANGE_EVENT_PREFIX: want = WIRE_TYPE_LEN; r->prefix = s; break;
			case WIRE_CHANGE_EVENT_CONTENT: want = WIRE_TYPE_LEN; r->content = s; break;
			case WIRE_CHANGE_EVENT_BEFORE: want = WIRE_TYPE_LEN; list = &r->before; break;
			case WIRE_CHANGE_EVENT_AFTER: want = WIRE_TYPE_LEN; list = &r->after; break;
			case WIRE_CHANGE_EVENT_COLUMNS: want = WIRE_TYPE_LEN; list = &r->columns; break;
			case WIRE_CHANGE_EVENT_TRUNCATED: want = WIRE_TYPE_LEN; list = &r->truncated; break;
			default: want = f.type; break;	/* not ours: skipped */
		}
		if (!expect(f.type, want, (uint32_t) f.number, err, errlen))
			return false;
		if (list != NULL)
			spans_push(list, s);
	}
	/* OP_OVERSIZED and OP_SNAPSHOT_RANGE are walstreamer's own, never the decoder's. */
	if ((op < PGCDC__OP__OP_BEGIN || op > PGCDC__OP__OP_RELATION) &&
		op != PGCDC__OP__OP_STREAM_ABORT && op != PGCDC__OP__OP_STREAM_COMMIT)
	{
		snprintf(err, errlen, "unknown operation %u", op);
		return false;
	}
	r->op = (Pgcdc__Op) op;
	return stream.data == NULL || scan_stream(stream, r, err, errlen);
}

bool
record_column_is_key(Span column)
{
	const uint8_t *p = column.data;
	const uint8_t *end = column.data + column.len;

	while (p < end)
	{
		WireField	f;

		if (!read_field(&p, end, &f))
			return false;
		if (f.number == WIRE_COLUMN_KEY && f.type == WIRE_TYPE_VARINT)
			return f.varint != 0;
	}
	return false;
}

/* The first length-delimited field number of a message, as a span. */
static bool
len_field(Span msg, uint32_t number, Span *out)
{
	const uint8_t *p = msg.data;
	const uint8_t *end = msg.data + msg.len;

	while (p < end)
	{
		WireField	f;

		if (!read_field(&p, end, &f))
			return false;
		if (f.number == number && f.type == WIRE_TYPE_LEN)
		{
			*out = payload(&f);
			return true;
		}
	}
	return false;
}

bool
record_column_name(Span column, Span *name)
{
	return len_field(column, WIRE_COLUMN_NAME, name);
}

bool
record_value_text(Span value, Span *text)
{
	return len_field(value, WIRE_VALUE_TEXT_VALUE, text);
}

bool
record_relation_ref(Span ref, Span *schema, Span *table, uint32_t *relid)
{
	const uint8_t *p = ref.data;
	const uint8_t *end = ref.data + ref.len;

	*schema = *table = (Span) {NULL, 0};
	*relid = 0;
	while (p < end)
	{
		WireField	f;

		if (!read_field(&p, end, &f))
			return false;
		if (f.number == WIRE_RELATION_REF_SCHEMA && f.type == WIRE_TYPE_LEN)
			*schema = payload(&f);
		else if (f.number == WIRE_RELATION_REF_TABLE && f.type == WIRE_TYPE_LEN)
			*table = payload(&f);
		else if (f.number == WIRE_RELATION_REF_RELID && f.type == WIRE_TYPE_VARINT)
			*relid = (uint32_t) f.varint;
	}
	return true;
}

bool
record_next_field(const uint8_t *buf, size_t len, size_t *at, RecordField *f)
{
	const uint8_t *start = buf + *at;
	const uint8_t *p = start;
	WireField	w;

	if (*at >= len)
		return false;
	memset(f, 0, sizeof(*f));
	if (!read_field(&p, buf + len, &w))
		return false;
	f->number = (uint32_t) w.number;
	f->wire = w.type;
	f->varint = w.varint;
	if (w.type != WIRE_TYPE_VARINT)
		f->payload = payload(&w);
	f->whole = (Span) {start, (size_t) (p - start)};
	*at = (size_t) (p - buf);
	return true;
}

size_t
record_key(const SpanArray *image, const uint32_t *keys, size_t nkeys, uint8_t *out, size_t cap)
{
	size_t		at = 0;

	for (size_t i = 0; i < nkeys; i++)
	{
		Span		v;
		size_t		need;

		if (keys[i] >= image->n || image->items[keys[i]].len == 0)
			return 0;
		v = image->items[keys[i]];
		need = wire_len_field_size(WIRE_KEY_VALUES, v.len);
		if (at + need <= cap)
			wire_put_len_field(out + at, WIRE_KEY_VALUES, v.data, v.len);
		at += need;
	}
	return at;
}

size_t
record_without_position(const uint8_t *buf, size_t len, uint8_t *out)
{
	uint8_t    *p = out;
	size_t		at = 0;
	RecordField f;

	while (record_next_field(buf, len, &at, &f))
	{
		if (f.number == WIRE_CHANGE_EVENT_COMMIT_LSN || f.number == WIRE_CHANGE_EVENT_LSN ||
			f.number == WIRE_CHANGE_EVENT_SEQ)
			continue;
		memcpy(p, f.whole.data, f.whole.len);
		p += f.whole.len;
	}
	return (size_t) (p - out);
}

uint8_t *
record_put_position(uint8_t *p, uint64_t at, uint32_t seq)
{
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_COMMIT_LSN, at);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_LSN, at);
	return wire_put_varint_field(p, WIRE_CHANGE_EVENT_SEQ, seq);
}
