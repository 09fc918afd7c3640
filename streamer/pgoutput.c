/*
 * pgoutput.c — pgoutput's messages read from their bytes, every length and
 * count checked (pgoutput.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"
#include "xalloc.h"

/* The bytes being read; the first problem met stops every read after it. */
typedef struct Reader
{
	const uint8_t *buf;
	size_t		len;
	size_t		at;
	const char *bad;			/* NULL while all is well */
} Reader;

static bool
need(Reader *r, size_t n)
{
	if (r->bad == NULL && r->len - r->at < n)
		r->bad = "cut short";
	return r->bad == NULL;
}

static uint8_t
u8(Reader *r)
{
	return need(r, 1) ? r->buf[r->at++] : 0;
}

static uint16_t
u16(Reader *r)
{
	uint16_t	v = 0;

	if (need(r, 2))
	{
		v = (uint16_t) ((r->buf[r->at] << 8) | r->buf[r->at + 1]);
		r->at += 2;
	}
	return v;
}

static uint32_t
u32(Reader *r)
{
	uint32_t	v = 0;

	if (need(r, 4))
	{
		for (int i = 0; i < 4; i++)
			v = (v << 8) | r->buf[r->at + i];
		r->at += 4;
	}
	return v;
}

static uint64_t
u64(Reader *r)
{
	uint64_t	v = 0;

	if (need(r, 8))
	{
		for (int i = 0; i < 8; i++)
			v = (v << 8) | r->buf[r->at + i];
		r->at += 8;
	}
	return v;
}

/* A NUL-terminated string (its bytes without the NUL). */
static PgoBytes
string(Reader *r)
{
	PgoBytes	s = {NULL, 0};
	const uint8_t *nul;

	if (r->bad != NULL)
		return s;
	nul = memchr(r->buf + r->at, '\0', r->len - r->at);
	if (nul == NULL)
	{
		r->bad = "a string without its end";
		return s;
	}
	s.data = r->buf + r->at;
	s.len = (size_t) (nul - s.data);
	r->at += s.len + 1;
	return s;
}

static PgoBytes
bytes(Reader *r, size_t n)
{
	PgoBytes	b = {NULL, 0};

	if (need(r, n))
	{
		b.data = r->buf + r->at;
		b.len = n;
		r->at += n;
	}
	return b;
}

/* A TupleData: its count of values, then each value's kind and bytes. */
static void
tuple(Reader *r, PgoTuple *t)
{
	uint16_t	n = u16(r);

	t->n = 0;
	/* At least a kind byte per value: a count the buffer cannot hold is refused before any allocation. */
	if (!need(r, n))
		return;
	if (n > t->capacity)
	{
		t->values = xrealloc(t->values, n, sizeof(PgoValue));
		t->capacity = n;
	}
	for (uint16_t i = 0; i < n && r->bad == NULL; i++)
	{
		PgoValue   *v = &t->values[i];
		uint8_t		kind = u8(r);

		v->data = (PgoBytes) {NULL, 0};
		switch (kind)
		{
			case PGO_NULL:
			case PGO_UNCHANGED:
				v->kind = (PgoValueKind) kind;
				break;
			case PGO_TEXT:
			case PGO_BINARY:
				{
					uint32_t	len = u32(r);

					v->kind = (PgoValueKind) kind;
					v->data = bytes(r, len);
				}
				break;
			default:
				if (r->bad == NULL)
					r->bad = "a value of an unknown kind";
		}
		t->n = i + 1u;
	}
}

/* The xid that streamed messages carry first. */
static void
stream_xid(Reader *r, bool in_stream, PgoMessage *m)
{
	m->xid = in_stream ? u32(r) : 0;
}

static void
relation(Reader *r, PgoMessage *m)
{
	uint16_t	n;

	m->relid = u32(r);
	m->nspname = string(r);
	m->relname = string(r);
	m->replident = (char) u8(r);
	n = u16(r);
	m->ncolumns = 0;
	/* At least 10 bytes a column (flags, an empty name's NUL, type, typmod). */
	if (!need(r, (size_t) n * 10))
		return;
	if (n > m->columns_capacity)
	{
		m->columns = xrealloc(m->columns, n, sizeof(PgoColumn));
		m->columns_capacity = n;
	}
	for (uint16_t i = 0; i < n && r->bad == NULL; i++)
	{
		PgoColumn  *c = &m->columns[i];

		c->key = (u8(r) & 1) != 0;
		c->name = string(r);
		c->type = u32(r);
		c->typmod = (int32_t) u32(r);
		m->ncolumns = i + 1u;
	}
}

static void
truncate_relids(Reader *r, PgoMessage *m)
{
	uint32_t	n = u32(r);

	m->flags = u8(r);
	m->nrelids = 0;
	if (!need(r, (size_t) n * 4))
		return;
	if (n > m->relids_capacity)
	{
		m->relids = xrealloc(m->relids, n, sizeof(uint32_t));
		m->relids_capacity = n;
	}
	for (uint32_t i = 0; i < n && r->bad == NULL; i++)
		m->relids[m->nrelids++] = u32(r);
}

/* UPDATE's optional old row, DELETE's required one: 'K' or 'O' and a tuple. */
static void
old_row(Reader *r, PgoMessage *m, bool required)
{
	uint8_t		tag = need(r, 1) ? r->buf[r->at] : 0;

	m->old_kind = 0;
	m->old.n = 0;
	if (tag == 'K' || tag == 'O')
	{
		r->at++;
		m->old_kind = (char) tag;
		tuple(r, &m->old);
	}
	else if (required && r->bad == NULL)
		r->bad = "no old row ('K' or 'O')";
}

static void
new_row(Reader *r, PgoMessage *m)
{
	m->new.n = 0;
	if (u8(r) != 'N' && r->bad == NULL)
		r->bad = "no new row ('N')";
	tuple(r, &m->new);
}

/* The fields of the prepare-like messages after their flags or first LSN. */
static void
prepared(Reader *r, PgoMessage *m)
{
	m->lsn = u64(r);
	m->end_lsn = u64(r);
	m->time = (int64_t) u64(r);
	m->xid = u32(r);
	m->gid = string(r);
}

void
pgo_init(PgoMessage *m)
{
	memset(m, 0, sizeof(*m));
}

void
pgo_free(PgoMessage *m)
{
	free(m->columns);
	free(m->old.values);
	free(m->new.values);
	free(m->relids);
	pgo_init(m);
}

bool
pgo_parse(const uint8_t *buf, size_t len, bool in_stream, bool parallel, PgoMessage *m, char *err, size_t errlen)
{
	Reader		r = {buf, len, 0, NULL};

	m->xid = m->subxid = 0;
	m->lsn = m->end_lsn = 0;
	m->time = 0;
	m->flags = 0;
	m->old_kind = 0;
	m->old.n = m->new.n = m->ncolumns = m->nrelids = 0;
	m->kind = (PgoKind) u8(&r);
	switch (m->kind)
	{
		case PGO_BEGIN:
			m->lsn = u64(&r);
			m->time = (int64_t) u64(&r);
			m->xid = u32(&r);
			break;
		case PGO_COMMIT:
			m->flags = u8(&r);
			m->lsn = u64(&r);
			m->end_lsn = u64(&r);
			m->time = (int64_t) u64(&r);
			break;
		case PGO_ORIGIN:
			m->lsn = u64(&r);
			m->origin = string(&r);
			break;
		case PGO_RELATION:
			stream_xid(&r, in_stream, m);
			relation(&r, m);
			break;
		case PGO_TYPE:
			stream_xid(&r, in_stream, m);
			m->relid = u32(&r);
			m->nspname = string(&r);
			m->relname = string(&r);
			break;
		case PGO_INSERT:
			stream_xid(&r, in_stream, m);
			m->relid = u32(&r);
			new_row(&r, m);
			break;
		case PGO_UPDATE:
			stream_xid(&r, in_stream, m);
			m->relid = u32(&r);
			old_row(&r, m, false);
			new_row(&r, m);
			break;
		case PGO_DELETE:
			stream_xid(&r, in_stream, m);
			m->relid = u32(&r);
			old_row(&r, m, true);
			break;
		case PGO_TRUNCATE:
			stream_xid(&r, in_stream, m);
			truncate_relids(&r, m);
			break;
		case PGO_MESSAGE:
			stream_xid(&r, in_stream, m);
			m->transactional = (u8(&r) & 1) != 0;
			m->lsn = u64(&r);
			m->prefix = string(&r);
			m->content = bytes(&r, u32(&r));
			break;
		case PGO_STREAM_START:
			m->xid = u32(&r);
			m->first_segment = u8(&r) == 1;
			break;
		case PGO_STREAM_STOP:
			break;
		case PGO_STREAM_COMMIT:
			m->xid = u32(&r);
			m->flags = u8(&r);
			m->lsn = u64(&r);
			m->end_lsn = u64(&r);
			m->time = (int64_t) u64(&r);
			break;
		case PGO_STREAM_ABORT:
			m->xid = u32(&r);
			m->subxid = u32(&r);
			if (parallel)
			{
				m->lsn = u64(&r);
				m->time = (int64_t) u64(&r);
			}
			break;
		case PGO_BEGIN_PREPARE:
			prepared(&r, m);
			break;
		case PGO_PREPARE:
		case PGO_COMMIT_PREPARED:
		case PGO_STREAM_PREPARE:
			m->flags = u8(&r);
			prepared(&r, m);
			break;
		case PGO_ROLLBACK_PREPARED:
			m->flags = u8(&r);
			m->end_lsn = u64(&r);	/* the prepared transaction's end */
			m->lsn = u64(&r);	/* the rollback's end */
			(void) u64(&r);		/* the prepare's time */
			m->time = (int64_t) u64(&r);	/* the rollback's */
			m->xid = u32(&r);
			m->gid = string(&r);
			break;
		default:
			if (r.bad == NULL)
			{
				snprintf(err, errlen, "pgoutput: unknown message type 0x%02x", (unsigned) m->kind);
				return false;
			}
	}
	if (r.bad == NULL && r.at != len)
		r.bad = "bytes left after its end";
	if (r.bad != NULL)
	{
		snprintf(err, errlen, "pgoutput: malformed '%c' message (%zu bytes): %s at byte %zu",
				 m->kind >= 0x20 && m->kind < 0x7f ? (char) m->kind : '?', len, r.bad, r.at);
		return false;
	}
	return true;
}
