/*
 * event.c — decoding and checking a consumed message.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "dbzinput.h"
#include "event.h"
#include "thousands.h"
#include "wire.h"
#include "xalloc.h"

#define RECORD_VERSION 1
/* PostgreSQL's NAMEDATALEN - 1: no source sends a longer name. */
#define NAME_MAX_BYTES 63
/* format_type()'s longest forms are far shorter. */
#define TYPE_NAME_MAX_BYTES 256

/* Beyond this many distinct column lists (a stream of forged ones), events go without. */
#define LAYOUTS_MAX 4096
/* Buckets of the columns cache (a power of two). */
#define COLUMNS_BUCKETS 1024

/*
 * The columns of a record as packed bytes (its field 16 entries), unpacked
 * and checked once.  Every change record walstreamer produces carries its
 * relation's columns, the same bytes each time: with them cut out, unpacking
 * a record costs about half as much, and the names need no checking again.
 */
typedef struct Columns
{
	struct Columns *next;		/* in its bucket */
	uint8_t    *packed;
	size_t		len;
	Pgcdc__ChangeEvent *owner;	/* the packed bytes unpacked: columns only */
	bool		has_key;
	const Layout *layout;
} Columns;

struct Layouts
{
	Layout	  **items;
	size_t		n;
	size_t		last;			/* the one found last: usually the next one too */
	Columns    *buckets[COLUMNS_BUCKETS];
	size_t		ncolumns;
	Columns    *last_columns;
	uint8_t    *rest;			/* a record with its columns cut out */
	size_t		rest_cap;
};

Layouts *
layouts_new(void)
{
	return xcalloc(1, sizeof(Layouts));
}

void
layouts_free(Layouts *ls)
{
	if (ls == NULL)
		return;
	for (size_t i = 0; i < ls->n; i++)
	{
		for (size_t j = 0; j < ls->items[i]->n; j++)
			free(ls->items[i]->names[j]);
		free(ls->items[i]->names);
		free(ls->items[i]->keys);
		free(ls->items[i]);
	}
	for (size_t b = 0; b < COLUMNS_BUCKETS; b++)
		for (Columns *c = ls->buckets[b], *next; c; c = next)
		{
			next = c->next;
			pgcdc__change_event__free_unpacked(c->owner, NULL);
			free(c->packed);
			free(c);
		}
	free(ls->rest);
	free(ls->items);
	free(ls);
}

/*
 * Where the columns (WIRE_CHANGE_EVENT_COLUMNS) are in a packed ChangeEvent: one unbroken run
 * [*from, *to).  False when there are none, several runs, or the bytes are
 * not well-formed at the top level (the full unpack then decides).
 */
static bool
columns_span(const uint8_t *buf, size_t len, size_t *from, size_t *to)
{
	const uint8_t *p = buf;
	const uint8_t *end = buf + len;
	bool		seen = false;
	bool		ended = false;

	while (p < end)
	{
		const uint8_t *field = p;
		WireField	f;

		if (wire_get_field(&p, end, &f) != WIRE_OK)
			return false;
		if (f.number == WIRE_CHANGE_EVENT_COLUMNS)
		{
			if (ended)
				return false;
			if (!seen)
				*from = (size_t) (field - buf);
			seen = true;
			*to = (size_t) (p - buf);
		}
		else
			ended = seen;
	}
	return seen;
}

/* The wire type a field of this protobuf-c type has (repeated scalars may also come packed: 2). */
static int
wire_type_of(ProtobufCType type)
{
	switch (type)
	{
		case PROTOBUF_C_TYPE_SFIXED32:
		case PROTOBUF_C_TYPE_FIXED32:
		case PROTOBUF_C_TYPE_FLOAT:
			return WIRE_TYPE_I32;
		case PROTOBUF_C_TYPE_SFIXED64:
		case PROTOBUF_C_TYPE_FIXED64:
		case PROTOBUF_C_TYPE_DOUBLE:
			return WIRE_TYPE_I64;
		case PROTOBUF_C_TYPE_STRING:
		case PROTOBUF_C_TYPE_BYTES:
		case PROTOBUF_C_TYPE_MESSAGE:
			return WIRE_TYPE_LEN;
		default:
			return WIRE_TYPE_VARINT;
	}
}

/*
 * Why bytes that do not unpack as desc are not one: the first field, by its
 * place in the value, whose tag, wire type or length is wrong.  False when
 * the fields are well-formed (the cause is elsewhere: the reason stays general).
 */
static bool
why_undecodable(const ProtobufCMessageDescriptor *desc, const uint8_t *base, const uint8_t *p,
				const uint8_t *end, char *out, size_t outlen)
{
	while (p < end)
	{
		size_t		at = (size_t) (p - base);
		WireField	w;
		WireRead	r = wire_get_field(&p, end, &w);
		const ProtobufCFieldDescriptor *f;

		if (r == WIRE_NO_TAG || w.number == 0 || w.number > INT32_MAX)
		{
			snprintf(out, outlen, "no field tag at byte %zu", at);
			return true;
		}
		if (r == WIRE_BAD_TYPE)
		{
			snprintf(out, outlen, "wire type %d (none this format uses) at byte %zu", w.type, at);
			return true;
		}
		f = protobuf_c_message_descriptor_get_field(desc, (unsigned) w.number);
		if (f && w.type != wire_type_of(f->type) &&
			!(w.type == WIRE_TYPE_LEN && f->label == PROTOBUF_C_LABEL_REPEATED &&
			  wire_type_of(f->type) != WIRE_TYPE_LEN))
		{
			snprintf(out, outlen, "%s.%s (field %u) has wire type %d at byte %zu, %d expected",
					 desc->short_name, f->name, f->id, w.type, at, wire_type_of(f->type));
			return true;
		}
		if (r == WIRE_CUT_SHORT && w.len == 0)
		{
			snprintf(out, outlen, "field %u at byte %zu is cut short", (unsigned) w.number, at);
			return true;
		}
		if (r == WIRE_CUT_SHORT)
		{
			snprintf(out, outlen, "field %u at byte %zu is cut short: %" PRIu64 " bytes, %zu left",
					 (unsigned) w.number, at, w.len, (size_t) (end - w.data));
			return true;
		}
		/* Well-formed: p is past it. */
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			why_undecodable(f->descriptor, base, w.data, w.data + w.len, out, outlen))
			return true;
	}
	return false;
}

static size_t
columns_hash(const uint8_t *p, size_t len)
{
	uint64_t	h = UINT64_C(1469598103934665603);	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * UINT64_C(1099511628211);
	return (size_t) (h ^ (h >> 32)) & (COLUMNS_BUCKETS - 1);
}

static Columns *
columns_find(Layouts *ls, const uint8_t *packed, size_t len)
{
	Columns    *c = ls->last_columns;

	if (c && c->len == len && memcmp(c->packed, packed, len) == 0)
		return c;
	for (c = ls->buckets[columns_hash(packed, len)]; c; c = c->next)
		if (c->len == len && memcmp(c->packed, packed, len) == 0)
			return ls->last_columns = c;
	return NULL;
}

/* Remembers the packed columns of a record whose columns were found good. */
static void
columns_keep(Layouts *ls, const uint8_t *packed, size_t len, bool has_key, const Layout *layout)
{
	Columns    *c;
	size_t		b;

	if (ls->ncolumns == LAYOUTS_MAX || layout == NULL)
		return;
	c = xmalloc(sizeof(Columns));
	c->packed = xmemdup(packed, len);
	c->len = len;
	c->owner = pgcdc__change_event__unpack(NULL, len, packed);
	if (c->owner == NULL)		/* cannot be: the record they were in unpacked */
	{
		free(c->packed);
		free(c);
		return;
	}
	c->has_key = has_key;
	c->layout = layout;
	b = columns_hash(packed, len);
	c->next = ls->buckets[b];
	ls->buckets[b] = c;
	ls->ncolumns++;
}

/* Where a record's packed columns are, and whether they were seen before. */
typedef struct ColumnsAt
{
	bool		found;			/* one unbroken run: [from, to) */
	size_t		from;
	size_t		to;
	const Columns *cached;		/* the record's columns are these */
} ColumnsAt;

/*
 * Unpacks a message's record; with columns seen before, the rest of the
 * record only, its columns the ones kept (at->cached).
 */
static Pgcdc__ChangeEvent *
record_unpack(Layouts *ls, const rd_kafka_message_t *msg, ProtobufCAllocator *alloc, ColumnsAt *at)
{
	const uint8_t *buf = msg->payload;
	const Columns *c;
	Pgcdc__ChangeEvent *r;

	at->cached = NULL;
	at->found = columns_span(buf, msg->len, &at->from, &at->to);
	if (!at->found || (c = columns_find(ls, buf + at->from, at->to - at->from)) == NULL)
		return pgcdc__change_event__unpack(alloc, msg->len, buf);
	if (ls->rest_cap < msg->len)
	{
		ls->rest_cap = msg->len;
		ls->rest = xrealloc(ls->rest, ls->rest_cap, 1);
	}
	memcpy(ls->rest, buf, at->from);
	memcpy(ls->rest + at->from, buf + at->to, msg->len - at->to);
	r = pgcdc__change_event__unpack(alloc, msg->len - (at->to - at->from), ls->rest);
	if (r)
	{
		r->n_columns = c->owner->n_columns;
		r->columns = c->owner->columns;
		at->cached = c;
	}
	return r;
}

static bool
layout_is(const Layout *l, const Pgcdc__ChangeEvent *r)
{
	if (l->n != r->n_columns)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (l->keys[i] != r->columns[i]->key || strcmp(l->names[i], r->columns[i]->name) != 0)
			return false;
	return true;
}

/* The shared Layout of r's column names and key, or NULL. */
static const Layout *
layout_of(Layouts *ls, const Pgcdc__ChangeEvent *r)
{
	Layout	   *l;

	if (ls->n > 0 && layout_is(ls->items[ls->last], r))
		return ls->items[ls->last];
	for (size_t i = 0; i < ls->n; i++)
		if (layout_is(ls->items[i], r))
			return ls->items[ls->last = i];
	if (ls->n == LAYOUTS_MAX)
		return NULL;
	l = xmalloc(sizeof(Layout));
	l->n = r->n_columns;
	l->names = xcalloc(r->n_columns + 1, sizeof(char *));
	l->keys = xcalloc(r->n_columns + 1, sizeof(bool));
	for (size_t i = 0; i < r->n_columns; i++)
	{
		l->names[i] = xstrdup(r->columns[i]->name);
		l->keys[i] = r->columns[i]->key;
	}
	ls->items = xrealloc(ls->items, ls->n + 1, sizeof(Layout *));
	ls->last = ls->n;
	ls->items[ls->n++] = l;
	return l;
}

void
event_bad(Event *e, const char *fmt,...)
{
	va_list		ap;

	if (e->reason == NULL)
		e->reason = xmalloc(EVENT_REASON_MAX);
	va_start(ap, fmt);
	vsnprintf(e->reason, EVENT_REASON_MAX, fmt, ap);
	va_end(ap);
	e->kind = EVENT_BAD;
}


int
position_cmp(const Position *a, const Position *b)
{
	if (a->lsn != b->lsn)
		return a->lsn < b->lsn ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->sub != b->sub)
		return a->sub < b->sub ? -1 : 1;
	return 0;
}

int
event_key_cmp(const Event *a, const Event *b)
{
	size_t		n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int			c = memcmp(a->key, b->key, n);

	if (c != 0)
		return c;
	if (a->keylen != b->keylen)
		return a->keylen < b->keylen ? -1 : 1;
	return position_cmp(&a->pos, &b->pos);
}

/*
 * Whether a name from a message can be used; if not, e is bad with the
 * reason ("column 3's" before what when column is not 0).  PostgreSQL would
 * cut a longer name to 63 bytes, which may name another object.
 */
static bool
name_ok(Event *e, size_t column, const char *what, const char *s, size_t max)
{
	char		longer[48];
	const char *fault = longer;

	if (s == NULL || s[0] == '\0')
		fault = "is empty";
	else if (!utf8_valid(s))
		fault = "is not valid UTF-8";
	else if (strlen(s) > max)
		snprintf(longer, sizeof(longer), "is longer than %zu bytes", max);
	else
		return true;
	if (column > 0)
		event_bad(e, "column %zu's %s %s", column, what, fault);
	else
		event_bad(e, "%s %s", what, fault);
	return false;
}

/* The pgcdc.key header: "old" or "new" on a key change's two copies. */
static const char *
key_role(const rd_kafka_message_t *msg)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t		n;

	if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		rd_kafka_header_get_last(h, "pgcdc.key", &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return "";
	return n == 3 && memcmp(v, "old", 3) == 0 ? "old" : n == 3 && memcmp(v, "new", 3) == 0 ? "new" : "";
}

/* The pgcdc.source header: which source history the record's positions are of. */
static void
source_of(Event *e)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t		n;

	if (rd_kafka_message_headers(e->msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (rd_kafka_header_get_last(h, "pgcdc.source", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		v != NULL && n > 0 && n < 256)
	{
		e->source = v;
		e->source_len = n;
	}
	if (rd_kafka_header_get_last(h, "pgcdc.source.history", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		v != NULL && n > 0 && n < 512)
	{
		e->history = v;
		e->history_len = n;
	}
}

/*
 * Every column described, every value of image well-formed and one that
 * PostgreSQL has (copytext_check); keys set when needed.
 */
static bool
check_image(Event *e, Pgcdc__Value **image, size_t n, bool keys_only)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	char		why[128];

	if (n != r->n_columns)
	{
		event_bad(e, "row image has %zu values for %zu columns", n, r->n_columns);
		return false;
	}
	for (size_t i = 0; i < n; i++)
	{
		const Pgcdc__Value *v = image[i];

		if (v->kind_case == PGCDC__VALUE__KIND__NOT_SET && (!keys_only || r->columns[i]->key))
		{
			event_bad(e, "column \"%s\" has no value", r->columns[i]->name);
			return false;
		}
		if (!copytext_check(v, why, sizeof(why)))
		{
			event_bad(e, "column \"%s\": %s", r->columns[i]->name, why);
			return false;
		}
		if (v->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST && r->columns[i]->key)
		{
			event_bad(e, "key column \"%s\" unchanged-TOAST", r->columns[i]->name);
			return false;
		}
		e->unchanged |= v->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST;
	}
	return true;
}

/* The key values, each packed and length-prefixed. */
/*
 * The key's values as bytes that compare equal exactly when the keys are
 * equal: per key column its kind, then an integer as 8 big-endian bytes with
 * the sign bit flipped (so keys sort by value and the target's index is
 * filled in order), any other value as its length and packed form.
 */
static void
make_key(Event *e, ProtobufCAllocator *alloc)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	size_t		len = 0;
	uint8_t    *p;

	for (size_t i = 0; i < r->n_columns; i++)
		if (r->columns[i]->key)
			len += 1 + (e->image[i]->kind_case == PGCDC__VALUE__KIND_INT_VALUE ? 8 :
						4 + pgcdc__value__get_packed_size(e->image[i]));
	e->key = p = alloc->alloc(alloc->allocator_data, len ? len : 1);
	e->keylen = len;
	for (size_t i = 0; i < r->n_columns; i++)
	{
		const Pgcdc__Value *v = e->image[i];
		uint64_t	u;
		int			bytes = 8;

		if (!r->columns[i]->key)
			continue;
		*p++ = (uint8_t) v->kind_case;
		if (v->kind_case == PGCDC__VALUE__KIND_INT_VALUE)
			u = (uint64_t) v->int_value ^ (UINT64_C(1) << 63);
		else
		{
			u = pgcdc__value__get_packed_size(v);
			bytes = 4;
		}
		while (bytes-- > 0)
			*p++ = (uint8_t) (u >> (8 * bytes));
		if (v->kind_case != PGCDC__VALUE__KIND_INT_VALUE)
			p += pgcdc__value__pack(v, p);
	}
}

/* The key of a change without key columns: empty, but a pointer all the same. */
static uint8_t no_key[1];

/*
 * An update or delete of a table without a key: with REPLICA IDENTITY FULL
 * its old row is all there, and the target's row equal to it is the one
 * changed (as PostgreSQL's subscriptions do); without, nothing says which.
 */
static void
keyless_change(Event *e)
{
	Pgcdc__ChangeEvent *r = e->rec;
	const char *what = r->op == PGCDC__OP__OP_DELETE ? "delete" : "update";

	if (r->replica_identity != PGCDC__REPLICA_IDENTITY__IDENTITY_FULL || r->n_before == 0)
	{
		event_bad(e, "%s without a key: %s.%s has no primary key or replica identity index, and no "
				  "REPLICA IDENTITY FULL to match its old row by", what, r->schema, r->table);
		return;
	}
	if (!check_image(e, r->before, r->n_before, false))
		return;
	for (size_t i = 0; i < r->n_before; i++)
		if (r->before[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST)
		{
			event_bad(e, "%s of a table without a key: old value of column \"%s\" not logged",
					  what, r->columns[i]->name);
			return;
		}
	e->old = r->before;
	e->key = no_key;
	e->unchanged = false;
	if (r->op == PGCDC__OP__OP_DELETE)
	{
		e->image = r->before;
		e->kind = EVENT_DELETE;
		return;
	}
	if (!check_image(e, r->after, r->n_after, false))
		return;
	e->image = r->after;
	e->kind = EVENT_UPSERT;
}

static void
check_change(Event *e, ProtobufCAllocator *alloc, Layouts *layouts, const ColumnsAt *at)
{
	Pgcdc__ChangeEvent *r = e->rec;
	bool		has_key = false;
	/* Only an update carrying the old key can be one of a key change's two copies. */
	const char *role = r->op == PGCDC__OP__OP_UPDATE && r->n_before > 0 ? key_role(e->msg) : "";
	bool		old_copy = strcmp(role, "old") == 0;

	if (!name_ok(e, 0, "schema name", r->schema, NAME_MAX_BYTES) ||
		!name_ok(e, 0, "table name", r->table, NAME_MAX_BYTES))
		return;
	if (r->n_columns == 0)
	{
		event_bad(e, "no column descriptions (a change must follow its RELATION record)");
		return;
	}
	if (at->cached)
	{
		has_key = at->cached->has_key;
		e->layout = at->cached->layout;
	}
	else
	{
		for (size_t i = 0; i < r->n_columns; i++)
		{
			if (!name_ok(e, i + 1, "name", r->columns[i]->name, NAME_MAX_BYTES) ||
				!name_ok(e, i + 1, "type name", r->columns[i]->type_name, TYPE_NAME_MAX_BYTES))
				return;
			has_key |= r->columns[i]->key;
		}
		e->layout = layout_of(layouts, r);
		if (at->found)
			columns_keep(layouts, (const uint8_t *) e->msg->payload + at->from, at->to - at->from, has_key,
						 e->layout);
	}
	e->pos = (Position) {r->commit_lsn, r->seq, strcmp(role, "new") == 0};
	if (!has_key && (r->op == PGCDC__OP__OP_DELETE || r->op == PGCDC__OP__OP_UPDATE))
	{
		keyless_change(e);
		return;
	}
	if (r->op == PGCDC__OP__OP_DELETE || old_copy)
	{
		if (r->n_before == 0)
		{
			event_bad(e, "%s without the old key's values", old_copy ? "update" : "delete");
			return;
		}
		if (!check_image(e, r->before, r->n_before, true))
			return;
		e->image = r->before;
		e->kind = EVENT_DELETE;
	}
	else
	{
		if (!check_image(e, r->after, r->n_after, false))
			return;
		e->image = r->after;
		e->kind = EVENT_UPSERT;
	}
	if (has_key)
		make_key(e, alloc);
	else
		e->key = no_key;		/* compared with memcmp, which must not get NULL even for 0 bytes */
}

/* A range's key: one value for each key column, each a value PostgreSQL has. */
static bool
range_key_ok(Event *e, const char *what, const Pgcdc__Key *k, size_t nkeys)
{
	char		why[128];

	if (k->n_values != nkeys)
	{
		event_bad(e, "snapshot range: %s has %zu values for %zu key columns", what, k->n_values, nkeys);
		return false;
	}
	for (size_t i = 0; i < k->n_values; i++)
	{
		const Pgcdc__Value *v = k->values[i];

		if (v->kind_case == PGCDC__VALUE__KIND__NOT_SET || v->kind_case == PGCDC__VALUE__KIND_IS_NULL ||
			v->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST)
		{
			event_bad(e, "snapshot range: %s has a key value that is no value", what);
			return false;
		}
		if (!copytext_check(v, why, sizeof(why)))
		{
			event_bad(e, "snapshot range: %s: %s", what, why);
			return false;
		}
	}
	return true;
}

/*
 * walstreamer's range of a snapshot chunk (OP_SNAPSHOT_RANGE), after its
 * table's RELATION record: its keys checked as a change's are.
 */
static void
check_range(Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	const Pgcdc__SnapshotRange *g = r->range;
	size_t		nkeys = 0;

	if (!name_ok(e, 0, "schema name", r->schema, NAME_MAX_BYTES) ||
		!name_ok(e, 0, "table name", r->table, NAME_MAX_BYTES))
		return;
	if (g == NULL)
	{
		event_bad(e, "snapshot range record without its range");
		return;
	}
	if (r->n_columns == 0)
	{
		event_bad(e, "no column descriptions (a snapshot range must follow its RELATION record)");
		return;
	}
	for (size_t i = 0; i < r->n_columns; i++)
	{
		if (!name_ok(e, i + 1, "name", r->columns[i]->name, NAME_MAX_BYTES) ||
			!name_ok(e, i + 1, "type name", r->columns[i]->type_name, TYPE_NAME_MAX_BYTES))
			return;
		nkeys += r->columns[i]->key;
	}
	if (g->keyless ? nkeys != 0 || g->n_keep != 0 || g->after || g->last : nkeys == 0)
	{
		event_bad(e, g->keyless ? "snapshot range of a keyless table with keys" :
				  "snapshot range of a table without key columns");
		return;
	}
	if (g->n_collations != nkeys)
	{
		event_bad(e, "snapshot range: %zu collations for %zu key columns", g->n_collations, nkeys);
		return;
	}
	for (size_t i = 0; i < g->n_collations; i++)
		if (!utf8_valid(g->collations[i]) || strlen(g->collations[i]) > 2 * NAME_MAX_BYTES)
		{
			event_bad(e, "snapshot range: a collation that is not valid UTF-8 or longer than %d bytes",
					  2 * NAME_MAX_BYTES);
			return;
		}
	if ((g->after && !range_key_ok(e, "its first key", g->after, nkeys)) ||
		(g->last && !range_key_ok(e, "its last key", g->last, nkeys)))
		return;
	for (size_t i = 0; i < g->n_keep; i++)
		if (!range_key_ok(e, "a key to keep", g->keep[i], nkeys))
			return;
	e->pos = (Position) {r->commit_lsn, r->seq, 0};
	e->kind = EVENT_RANGE;
	e->key = no_key;
}

/*
 * walstreamer's stand-in for a change larger than Kafka takes
 * (proto/cdc.proto, OP_OVERSIZED): the change is not on Kafka, so it is a
 * dead letter, whatever its position (the stand-in holds no row to apply),
 * with a reason naming the row to resynchronise.  The dead-letter row
 * keeps its topic, key and position.
 */
static void
stand_in(Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	const Pgcdc__Oversized *o = r->oversized;
	bool		old = r->n_before > 0 && o && (o->op == PGCDC__OP__OP_DELETE || strcmp(key_role(e->msg), "old") == 0);
	Pgcdc__Value **image = old ? r->before : r->after;
	size_t		nimage = old ? r->n_before : r->n_after;
	char		size[THOUSANDS_LEN],
				limit[THOUSANDS_LEN];
	Buf			key = {0};

	e->pos = (Position) {r->commit_lsn, r->seq, strcmp(key_role(e->msg), "new") == 0};
	if (o == NULL || o->limit_name == NULL)
	{
		event_bad(e, "oversized stand-in without what it stands for");
		return;
	}
	/* For a record walsink applies nothing of (a transaction's BEGIN or COMMIT, a logical message). */
	if (o->op == PGCDC__OP__OP_BEGIN || o->op == PGCDC__OP__OP_COMMIT || o->op == PGCDC__OP__OP_MESSAGE ||
		o->op == PGCDC__OP__OP_RELATION)
	{
		e->kind = EVENT_IGNORE;
		return;
	}
	/* The key as "(id, k)=(11, x)", values in COPY text form. */
	for (int part = 0; part < 2; part++)
	{
		bool		first = true;
		const char *sep;

		for (size_t i = 0; i < r->n_columns && i < nimage; i++)
		{
			if (!r->columns[i]->key || r->columns[i]->name == NULL)
				continue;
			sep = !first ? ", " : part ? ")=(" : " (";
			buf_append(&key, sep, strlen(sep));
			if (part == 0)
				buf_append(&key, r->columns[i]->name, strlen(r->columns[i]->name));
			else
				copytext_value(&key, image[i]);
			first = false;
		}
		if (first)
		{
			buf_append(&key, " (a table without a key)", strlen(" (a table without a key)"));
			break;
		}
		if (part == 1)
			buf_append(&key, ")", 1);
	}
	buf_putc(&key, '\0');
	event_bad(e, "change of %s bytes above Kafka's limit of %s (%.40s): not applied; resync %.63s.%.63s%s",
		thousands_format(size, o->size), thousands_format(limit, o->limit), o->limit_name,
		r->schema ? r->schema : "?", r->table ? r->table : "?", key.data);
	buf_free(&key);
}

/* The streamed changes before seq that rolled-back subtransactions made, or -1 when seq is one. */
static int64_t
voided_before(const StreamCommit *sc, uint32_t seq)
{
	int64_t		n = 0;

	for (size_t i = 0; i + 1 < sc->naborted; i += 2)
	{
		uint64_t	first = sc->aborted[i],
					end = first + sc->aborted[i + 1];

		if (seq >= first && seq < end)
			return -1;
		if (end <= seq)
			n += (int64_t) sc->aborted[i + 1];
	}
	return n;
}

/*
 * A streamed change of sc's transaction, as the committed transaction's:
 * true; false when it is not one, or a rolled-back subtransaction made it.
 */
static bool
claim_streamed(Event *e, const StreamCommit *sc)
{
	Pgcdc__ChangeEvent *r = e->rec;
	int64_t		voided;

	if (sc == NULL || r->xid != sc->xid || r->stream == NULL || r->stream->run != sc->run ||
		(voided = voided_before(sc, r->seq)) < 0)
		return false;
	r->streamed = false;
	r->commit_lsn = sc->commit_lsn;
	r->commit_ts = sc->commit_ts;
	r->seq -= (uint32_t) voided;
	return true;
}

/*
 * A streamed transaction's commit record, checked: the partition reads the
 * transaction back from first_offset, so that must lie before it, and the
 * rolled-back ranges must be ordered and apart (walstreamer merges them).
 */
static void
check_stream_commit(Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	const Pgcdc__StreamInfo *si = r->stream;
	uint64_t	end = 0;

	if (si == NULL || si->run == 0)
	{
		event_bad(e, "streamed transaction's commit without its run");
		return;
	}
	if (r->commit_lsn == 0 || r->xid == 0)
	{
		event_bad(e, "streamed transaction's commit without its commit LSN or xid");
		return;
	}
	if (si->first_offset < 0 || si->first_offset >= e->msg->offset)
	{
		event_bad(e, "streamed transaction %u's commit at offset %" PRId64 " names its first change at offset %"
				  PRId64 ", not before it", r->xid, e->msg->offset, si->first_offset);
		return;
	}
	if (si->n_aborted % 2 != 0)
	{
		event_bad(e, "streamed transaction %u's commit: rolled-back ranges are not (first, count) pairs", r->xid);
		return;
	}
	for (size_t i = 0; i < si->n_aborted; i += 2)
	{
		if (si->aborted[i + 1] == 0 || (i > 0 && si->aborted[i] < end) ||
			(uint64_t) si->aborted[i] + si->aborted[i + 1] > UINT32_MAX)
		{
			event_bad(e, "streamed transaction %u's commit: rolled-back ranges out of order or overlapping", r->xid);
			return;
		}
		end = (uint64_t) si->aborted[i] + si->aborted[i + 1];
	}
	e->kind = EVENT_IGNORE;
	e->stream_commit = true;
}

void
event_skip(Event *e, rd_kafka_message_t *msg)
{
	memset(e, 0, sizeof(*e));
	e->msg = msg;
	e->kind = EVENT_IGNORE;
}

StreamCommit
event_stream_commit(const Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;

	return (StreamCommit) {r->xid, r->stream->run, r->commit_lsn, r->commit_ts, r->stream->first_offset,
		r->stream->aborted, r->stream->n_aborted};
}

bool
event_streamed_by(const rd_kafka_message_t *msg, const StreamCommit *sc)
{
	const uint8_t *p = msg->payload;
	const uint8_t *end = p ? p + msg->len : NULL;
	bool		streamed = false;
	uint64_t	xid = 0,
				run = 0;
	WireField	f;

	while (p != NULL && p < end && wire_get_field(&p, end, &f) == WIRE_OK)
	{
		if (f.number == WIRE_CHANGE_EVENT_STREAMED && f.type == WIRE_TYPE_VARINT)
			streamed = f.varint != 0;
		else if (f.number == WIRE_CHANGE_EVENT_XID && f.type == WIRE_TYPE_VARINT)
			xid = f.varint;
		else if (f.number == WIRE_CHANGE_EVENT_STREAM && f.type == WIRE_TYPE_LEN)
		{
			const uint8_t *q = f.data;
			const uint8_t *qend = f.data + f.len;
			WireField	g;

			while (q < qend && wire_get_field(&q, qend, &g) == WIRE_OK)
				if (g.number == WIRE_STREAM_INFO_RUN && g.type == WIRE_TYPE_VARINT)
					run = g.varint;
		}
	}
	return streamed && (sc == NULL || (xid == sc->xid && run == sc->run));
}

/*
 * A Debezium-format message (sink/dbzinput.h): its record, then the checks
 * of pgcdc's own; its position is the one dbzinput found, ordered as that
 * says.
 */
static void
decode_debezium(Event *e, ProtobufCAllocator *alloc, Layouts *layouts, const EventInput *in)
{
	ColumnsAt	at = {0};
	DbzPlace	place = {0};
	char		why[EVENT_REASON_MAX];

	e->debezium = true;
	e->hex_bytes = in->hex_bytes;
	e->alloc = alloc;
	e->rec = dbzinput_decode(e->msg, in->placeholder, in->route_key_field, alloc, &place, why, sizeof(why));
	if (e->rec == NULL)
	{
		event_bad(e, "Debezium message: %s", why);
		return;
	}
	source_of(e);
	switch (e->rec->op)
	{
		case PGCDC__OP__OP_MESSAGE:
			e->kind = EVENT_IGNORE;
			return;
		case PGCDC__OP__OP_TRUNCATE:
			if (!name_ok(e, 0, "TRUNCATE: a schema name", e->rec->schema, NAME_MAX_BYTES) ||
				!name_ok(e, 0, "TRUNCATE: a table name", e->rec->table, NAME_MAX_BYTES))
				return;
			e->kind = EVENT_TRUNCATE;
			break;
		default:
			check_change(e, alloc, layouts, &at);
			break;
	}
	e->pos = (Position) {place.lsn, place.seq, place.sub};
	e->order = place.order == DBZ_ORDER_EXACT ? ORDER_EXACT : ORDER_SHARED;
}

void
event_decode(Event *e, rd_kafka_message_t *msg, size_t max_value, ProtobufCAllocator *alloc,
			 Layouts *layouts, const StreamCommit *sc, const EventInput *in)
{
	ColumnsAt	at = {0};

	memset(e, 0, sizeof(*e));
	e->msg = msg;
	/*
	 * A tombstone (a null value, not an empty one): what Debezium writes
	 * after a delete so that compacted topics forget the key.  Nothing to
	 * apply; its offset is committed as any other's.
	 */
	if (msg->payload == NULL)
	{
		e->kind = EVENT_IGNORE;
		return;
	}
	if (msg->len == 0)
	{
		event_bad(e, "empty value");
		return;
	}
	if (msg->len > max_value)
	{
		event_bad(e, "oversized value: %zu bytes, max.value.bytes is %zu", msg->len, max_value);
		return;
	}
	if (in != NULL && (in->format == INPUT_DEBEZIUM ||
					   (in->format == INPUT_AUTO && dbzinput_is_json(msg->payload, msg->len))))
	{
		decode_debezium(e, alloc, layouts, in);
		return;
	}
	e->rec = record_unpack(layouts, msg, alloc, &at);
	if (e->rec == NULL)
	{
		char		why[160];
		const uint8_t *buf = msg->payload;

		if (why_undecodable(&pgcdc__change_event__descriptor, buf, buf, buf + msg->len, why, sizeof(why)))
		{
			event_bad(e, "undecodable value: not a pgcdc ChangeEvent: %s", why);
			return;
		}
		event_bad(e, "undecodable value: not a pgcdc ChangeEvent");
		return;
	}
	if (e->rec->version != RECORD_VERSION)
	{
		event_bad(e, "record version %u, this walsink reads version %d", e->rec->version, RECORD_VERSION);
		return;
	}
	source_of(e);
	if (e->rec->streamed && !claim_streamed(e, sc))
	{
		e->kind = EVENT_IGNORE;	/* in progress: applied when its commit comes (OP_STREAM_COMMIT) */
		return;
	}
	switch (e->rec->op)
	{
		case PGCDC__OP__OP_BEGIN:
		case PGCDC__OP__OP_COMMIT:
		case PGCDC__OP__OP_MESSAGE:
		case PGCDC__OP__OP_RELATION:
			e->kind = EVENT_IGNORE;
			return;
		case PGCDC__OP__OP_INSERT:
		case PGCDC__OP__OP_UPDATE:
		case PGCDC__OP__OP_DELETE:
		case PGCDC__OP__OP_READ:
			check_change(e, alloc, layouts, &at);
			return;
		case PGCDC__OP__OP_TRUNCATE:
			if (e->rec->n_truncated == 0)
			{
				event_bad(e, "TRUNCATE naming no table");
				return;
			}
			for (size_t i = 0; i < e->rec->n_truncated; i++)
			{
				const Pgcdc__RelationRef *ref = e->rec->truncated[i];

				if (!name_ok(e, 0, "TRUNCATE: a schema name", ref->schema, NAME_MAX_BYTES) ||
					!name_ok(e, 0, "TRUNCATE: a table name", ref->table, NAME_MAX_BYTES))
					return;
			}
			e->pos = (Position) {e->rec->commit_lsn, e->rec->seq, 0};
			e->kind = EVENT_TRUNCATE;
			return;
		case PGCDC__OP__OP_OVERSIZED:
			stand_in(e);
			return;
		case PGCDC__OP__OP_SNAPSHOT_RANGE:
			check_range(e);
			return;
		case PGCDC__OP__OP_STREAM_COMMIT:
			check_stream_commit(e);
			return;
		default:
			event_bad(e, "unknown operation %d", (int) e->rec->op);
			return;
	}
}

void
event_free(Event *e)
{
	if (e->msg)
		rd_kafka_message_destroy(e->msg);
	free(e->reason);
	memset(e, 0, sizeof(*e));
}
