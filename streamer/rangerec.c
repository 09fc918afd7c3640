/*
 * rangerec.c — a placed chunk's OP_SNAPSHOT_RANGE record (rangerec.h).
 */
#include <string.h>

#include "rangerec.h"
#include "recwrite.h"

uint8_t *
rangerec_build(const Record *rel, const Chunk *c, size_t *len)
{
	Buf			range = {0};
	Buf			out = {0};

	if (c->after != NULL)
		recwrite_message(&range, WIRE_SNAPSHOT_RANGE_AFTER, c->after, c->after_len);
	if (c->last != NULL)
		recwrite_message(&range, WIRE_SNAPSHOT_RANGE_LAST, c->last, c->last_len);
	if (!c->keyless)
	{
		for (size_t i = 0; i < c->nrows; i++)
			recwrite_message(&range, WIRE_SNAPSHOT_RANGE_KEEP, c->rows[i].key, c->rows[i].keylen);
		for (size_t i = 0; i < c->touched.n; i++)
			recwrite_message(&range, WIRE_SNAPSHOT_RANGE_KEEP, c->touched.keys[i], c->touched.lens[i]);
	}
	for (size_t i = 0; i < c->ncollations; i++)
		recwrite_message(&range, WIRE_SNAPSHOT_RANGE_COLLATIONS, c->collations[i], strlen(c->collations[i]));
	if (c->keyless)
		recwrite_varint(&range, WIRE_SNAPSHOT_RANGE_KEYLESS, 1);

	recwrite_varint(&out, WIRE_CHANGE_EVENT_VERSION, 1);
	recwrite_varint(&out, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_SNAPSHOT_RANGE);
	recwrite_varint(&out, WIRE_CHANGE_EVENT_COMMIT_LSN, c->lsn);
	recwrite_varint(&out, WIRE_CHANGE_EVENT_LSN, c->lsn);
	recwrite_bytes(&out, WIRE_CHANGE_EVENT_SCHEMA, rel->schema.data, rel->schema.len);
	recwrite_bytes(&out, WIRE_CHANGE_EVENT_TABLE, rel->table.data, rel->table.len);
	recwrite_varint(&out, WIRE_CHANGE_EVENT_RELID, rel->relid);
	recwrite_varint(&out, WIRE_CHANGE_EVENT_SNAPSHOT, 1);
	recwrite_message(&out, WIRE_CHANGE_EVENT_RANGE, range.data, range.len);
	buf_free(&range);
	*len = out.len;
	return (uint8_t *) out.data;
}
