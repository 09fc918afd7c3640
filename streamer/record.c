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

enum
{
	WIRE_VARINT = 0,
	WIRE_I64 = 1,
	WIRE_LEN = 2,
	WIRE_I32 = 5
};

typedef struct Reader
{
	const uint8_t *p;
	const uint8_t *end;
} Reader;

static bool
read_varint(Reader *rd, uint64_t *v)
{
	uint64_t	result = 0;

	for (int shift = 0; shift < 64 && rd->p < rd->end; shift += 7)
	{
		uint8_t		b = *rd->p++;

		result |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = result;
			return true;
		}
	}
	return false;
}

bool
record_frame(const uint8_t *buf, size_t len, size_t *at, const uint8_t **rec, size_t *reclen,
			 char *err, size_t errlen)
{
	Reader		rd = {buf + *at, buf + len};
	uint64_t	n;

	if (!read_varint(&rd, &n) || n > UINT32_MAX)
	{
		snprintf(err, errlen, "bad record length at byte %zu of %zu", *at, len);
		return false;
	}
	if (n > (uint64_t) (rd.end - rd.p))
	{
		snprintf(err, errlen, "record of %llu bytes at byte %zu, only %zu left",
				 (unsigned long long) n, *at, (size_t) (rd.end - rd.p));
		return false;
	}
	*rec = rd.p;
	*reclen = (size_t) n;
	*at = (size_t) (rd.p - buf) + (size_t) n;
	return true;
}

/* Reads one field: its number, wire type, and value (varint or span). */
static bool
read_field(Reader *rd, uint32_t *field, int *wire, uint64_t *v, Span *span)
{
	uint64_t	tag;

	if (!read_varint(rd, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return false;
	*field = (uint32_t) (tag >> 3);
	*wire = (int) (tag & 7);
	switch (*wire)
	{
		case WIRE_VARINT:
			return read_varint(rd, v);
		case WIRE_I64:
		case WIRE_I32:
			{
				size_t		n = *wire == WIRE_I64 ? 8 : 4;

				if ((size_t) (rd->end - rd->p) < n)
					return false;
				rd->p += n;
				return true;
			}
		case WIRE_LEN:
			if (!read_varint(rd, v) || *v > (uint64_t) (rd->end - rd->p))
				return false;
			span->data = rd->p;
			span->len = (size_t) *v;
			rd->p += *v;
			return true;
		default:
			return false;
	}
}

static bool
spans_push(SpanArray *a, Span s)
{
	if (a->n == a->capacity)
	{
		size_t		capacity = a->capacity ? a->capacity * 2 : 16;
		Span	   *items = realloc(a->items, capacity * sizeof(Span));

		if (items == NULL)
			return false;
		a->items = items;
		a->capacity = capacity;
	}
	a->items[a->n++] = s;
	return true;
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

bool
record_scan(const uint8_t *buf, size_t len, Record *r, char *err, size_t errlen)
{
	Reader		rd = {buf, buf + len};

	record_reset(r);
	while (rd.p < rd.end)
	{
		uint32_t	field;
		int			wire;
		uint64_t	v = 0;
		Span		s = {NULL, 0};
		SpanArray  *list = NULL;
		int			want = WIRE_VARINT;

		if (!read_field(&rd, &field, &wire, &v, &s))
		{
			snprintf(err, errlen, "malformed protobuf at byte %zu", (size_t) (rd.p - buf));
			return false;
		}
		switch (field)
		{
			case 2: r->op = (uint32_t) v; break;
			case 3: r->commit_lsn = v; break;
			case 4: r->lsn = v; break;
			case 6: r->xid = (uint32_t) v; break;
			case 11: r->relid = (uint32_t) v; break;
			case 22: r->transactional = v != 0; break;
			case 23: r->end_lsn = v; break;
			case 9: want = WIRE_LEN; r->schema = s; break;
			case 10: want = WIRE_LEN; r->table = s; break;
			case 20: want = WIRE_LEN; r->prefix = s; break;
			case 12: want = WIRE_LEN; list = &r->before; break;
			case 13: want = WIRE_LEN; list = &r->after; break;
			case 16: want = WIRE_LEN; list = &r->columns; break;
			case 17: want = WIRE_LEN; list = &r->truncated; break;
			default: want = wire; break;	/* not ours: skipped */
		}
		if (!expect(wire, want, field, err, errlen))
			return false;
		if (list != NULL && !spans_push(list, s))
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	if (r->op < RECORD_BEGIN || r->op > RECORD_RELATION)
	{
		snprintf(err, errlen, "unknown operation %u", r->op);
		return false;
	}
	return true;
}

bool
record_column_is_key(Span column)
{
	Reader		rd = {column.data, column.data + column.len};

	while (rd.p < rd.end)
	{
		uint32_t	field;
		int			wire;
		uint64_t	v = 0;
		Span		s;

		if (!read_field(&rd, &field, &wire, &v, &s))
			return false;
		if (field == 4 && wire == WIRE_VARINT)
			return v != 0;
	}
	return false;
}

bool
record_relation_ref(Span ref, Span *schema, Span *table, uint32_t *relid)
{
	Reader		rd = {ref.data, ref.data + ref.len};

	*schema = *table = (Span) {NULL, 0};
	*relid = 0;
	while (rd.p < rd.end)
	{
		uint32_t	field;
		int			wire;
		uint64_t	v = 0;
		Span		s = {NULL, 0};

		if (!read_field(&rd, &field, &wire, &v, &s))
			return false;
		if (field == 1 && wire == WIRE_LEN)
			*schema = s;
		else if (field == 2 && wire == WIRE_LEN)
			*table = s;
		else if (field == 3 && wire == WIRE_VARINT)
			*relid = (uint32_t) v;
	}
	return true;
}

bool
record_next_field(const uint8_t *buf, size_t len, size_t *at, RecordField *f)
{
	Reader		rd = {buf + *at, buf + len};
	const uint8_t *start = rd.p;
	int			wire;

	if (*at >= len)
		return false;
	memset(f, 0, sizeof(*f));
	if (!read_field(&rd, &f->number, &wire, &f->varint, &f->payload))
		return false;
	f->wire = wire;
	if (wire == WIRE_I64 || wire == WIRE_I32)
	{
		f->payload.len = wire == WIRE_I64 ? 8 : 4;
		f->payload.data = rd.p - f->payload.len;
	}
	f->whole = (Span) {start, (size_t) (rd.p - start)};
	*at = (size_t) (rd.p - buf);
	return true;
}

static size_t
put_varint(uint8_t *out, size_t at, size_t cap, uint64_t v)
{
	do
	{
		uint8_t		b = (uint8_t) (v & 0x7f);

		v >>= 7;
		if (v)
			b |= 0x80;
		if (at < cap)
			out[at] = b;
		at++;
	} while (v);
	return at;
}

size_t
record_key(const SpanArray *image, const uint32_t *keys, size_t nkeys, uint8_t *out, size_t cap)
{
	size_t		at = 0;

	for (size_t i = 0; i < nkeys; i++)
	{
		Span		v;

		if (keys[i] >= image->n || image->items[keys[i]].len == 0)
			return 0;
		v = image->items[keys[i]];
		at = put_varint(out, at, cap, (1 << 3) | WIRE_LEN);
		at = put_varint(out, at, cap, v.len);
		if (at + v.len <= cap)
			memcpy(out + at, v.data, v.len);
		at += v.len;
	}
	return at;
}
