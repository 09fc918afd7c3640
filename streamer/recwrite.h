/*
 * recwrite.h — protobuf fields appended to a Buf: for the records
 * walstreamer builds itself (a chunk's range, rangerec.c; RELATION and READ
 * records without the plugin, pgcatalog.c; pgoutput's messages made into
 * records, pgorecords.c).  As protobuf-c packs proto3: a zero number and an
 * empty string are left out; an embedded message (a Value, a Column) is
 * written even when empty.  A column's value in text becomes its Value
 * field here too (recwrite_value), the one place both record builders share.
 */
#ifndef PGCDC_STREAMER_RECWRITE_H
#define PGCDC_STREAMER_RECWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "pgvalue.h"
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

/*
 * A Value field from a value's text (pgvalue.h; text NULL: SQL NULL): its
 * body is written where the longest tag and length would end, then moved
 * behind the real ones.  False with err when the text is not one of its
 * class's.
 */
static inline bool
recwrite_value(Buf *b, uint32_t number, PgvClass c, const char *text, size_t len, char *err, size_t errlen)
{
	uint8_t		head[2 * WIRE_VARINT_MAX];
	uint8_t    *body;
	size_t		n;
	size_t		hlen;

	buf_reserve(b, sizeof(head) + PGVALUE_BODY_MAX(len));
	body = (uint8_t *) b->data + b->len + sizeof(head);
	if (text == NULL)
		n = pgvalue_null(body);
	else if ((n = pgvalue_body(c, text, len, body, err, errlen)) == 0)
		return false;
	hlen = (size_t) (wire_put_varint(wire_put_tag(head, number, WIRE_TYPE_LEN), n) - head);
	memmove(b->data + b->len + hlen, body, n);
	memcpy(b->data + b->len, head, hlen);
	b->len += hlen + n;
	return true;
}

#endif							/* PGCDC_STREAMER_RECWRITE_H */
