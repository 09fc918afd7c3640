/*
 * recwrite.h — protobuf fields appended to a Buf: for the records
 * walstreamer builds itself (a chunk's range, rangerec.c; RELATION and READ
 * records without the plugin, pgcatalog.c; pgoutput's messages made into
 * records, pgorecords.c).  As protobuf-c packs proto3: a zero number and an
 * empty string are left out; an embedded message (a Value, a Column) is
 * written even when empty.
 */
#ifndef PGCDC_STREAMER_RECWRITE_H
#define PGCDC_STREAMER_RECWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

static inline void
recwrite_varint(Buf *b, uint32_t number, uint64_t v)
{
	if (v == 0)
		return;
	buf_reserve(b, 2 * WIRE_VARINT_MAX);
	b->len = (size_t) (wire_put_varint_field((uint8_t *) b->data + b->len, number, v) - (uint8_t *) b->data);
}

/* A length-delimited field, even when empty. */
static inline void
recwrite_message(Buf *b, uint32_t number, const void *data, size_t len)
{
	buf_reserve(b, wire_len_field_size(number, len));
	b->len = (size_t) (wire_put_len_field((uint8_t *) b->data + b->len, number, data, len) - (uint8_t *) b->data);
}

/* A string or bytes field, left out when empty. */
static inline void
recwrite_bytes(Buf *b, uint32_t number, const void *data, size_t len)
{
	if (len > 0)
		recwrite_message(b, number, data, len);
}

#endif							/* PGCDC_STREAMER_RECWRITE_H */
