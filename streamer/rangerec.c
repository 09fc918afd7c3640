/*
 * rangerec.c — a placed chunk's OP_SNAPSHOT_RANGE record (rangerec.h).
 */
#include <string.h>

#include "buf.h"
#include "rangerec.h"
#include "wire.h"

static void
put_varint(Buf *b, uint32_t number, uint64_t v)
{
	buf_reserve(b, 2 * WIRE_VARINT_MAX);
	b->len = (size_t) (wire_put_varint_field((uint8_t *) b->data + b->len, number, v) - (uint8_t *) b->data);
}

static void
put_bytes(Buf *b, uint32_t number, const void *data, size_t len)
{
	buf_reserve(b, wire_len_field_size(number, len));
	b->len = (size_t) (wire_put_len_field((uint8_t *) b->data + b->len, number, data, len) - (uint8_t *) b->data);
}

uint8_t *
rangerec_build(const Record *rel, const Chunk *c, size_t *len)
{
	Buf			range = {0};
	Buf			out = {0};

	if (c->after != NULL)
		put_bytes(&range, WIRE_SNAPSHOT_RANGE_AFTER, c->after, c->after_len);
	if (c->last != NULL)
		put_bytes(&range, WIRE_SNAPSHOT_RANGE_LAST, c->last, c->last_len);
	if (!c->keyless)
	{
		for (size_t i = 0; i < c->nrows; i++)
			put_bytes(&range, WIRE_SNAPSHOT_RANGE_KEEP, c->rows[i].key, c->rows[i].keylen);
		for (size_t i = 0; i < c->touched.n; i++)
			put_bytes(&range, WIRE_SNAPSHOT_RANGE_KEEP, c->touched.keys[i], c->touched.lens[i]);
	}
	for (size_t i = 0; i < c->ncollations; i++)
		put_bytes(&range, WIRE_SNAPSHOT_RANGE_COLLATIONS, c->collations[i], strlen(c->collations[i]));
	if (c->keyless)
		put_varint(&range, WIRE_SNAPSHOT_RANGE_KEYLESS, 1);

	put_varint(&out, WIRE_CHANGE_EVENT_VERSION, 1);
	put_varint(&out, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_SNAPSHOT_RANGE);
	put_varint(&out, WIRE_CHANGE_EVENT_COMMIT_LSN, c->lsn);
	put_varint(&out, WIRE_CHANGE_EVENT_LSN, c->lsn);
	put_bytes(&out, WIRE_CHANGE_EVENT_SCHEMA, rel->schema.data, rel->schema.len);
	put_bytes(&out, WIRE_CHANGE_EVENT_TABLE, rel->table.data, rel->table.len);
	put_varint(&out, WIRE_CHANGE_EVENT_RELID, rel->relid);
	put_varint(&out, WIRE_CHANGE_EVENT_SNAPSHOT, 1);
	put_bytes(&out, WIRE_CHANGE_EVENT_RANGE, range.data, range.len);
	buf_free(&range);
	*len = out.len;
	return (uint8_t *) out.data;
}
