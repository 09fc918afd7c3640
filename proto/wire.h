/*
 * wire.h — pgcdc's protobuf wire format in one place: varints, tags, the
 * field numbers of proto/cdc.proto, and a bounds-checked field reader.
 *
 * The decoder packs ChangeEvents by hand (decoder/pack.c), walstreamer reads
 * and extends them without unpacking (streamer/record.c, stream.c,
 * standin.c), walsink looks at their bytes before and after protobuf-c
 * unpacks them (sink/event.c).  They all speak through this header.
 *
 * Everything is static inline, allocates nothing and needs nothing from the
 * C library but <string.h> and <stdint.h>, so the decoder (server code,
 * built against the server's headers) includes it as well as the daemons
 * and the tests.  Writers write at p, into space the caller sized with the
 * matching *_size function, and return the byte past what they wrote.
 * Readers read [*p, end), never past end, and move *p only on success.
 *
 * Field numbers: Value's are the oneof cases protobuf-c generates (their
 * values are the field numbers), so the compiler takes them from cdc.proto
 * and a new kind of Value needs nothing here; protobuf-c generates no
 * constants for the other messages' fields, so tests/unit/test_wire.c checks
 * each constant below against the generated descriptors, and that every
 * field has one: a field added to cdc.proto (not to Value) gets its
 * constant here and a line in that test.
 */
#ifndef PGCDC_PROTO_WIRE_H
#define PGCDC_PROTO_WIRE_H

#include <limits.h>				/* the generated header's enums use INT_MAX */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cdc.pb-c.h"

/* Wire types (the low three bits of a tag). */
enum
{
	WIRE_TYPE_VARINT = 0,
	WIRE_TYPE_I64 = 1,
	WIRE_TYPE_LEN = 2,			/* length-delimited: strings, bytes, messages */
	WIRE_TYPE_I32 = 5
};

/* message ChangeEvent */
enum
{
	WIRE_CHANGE_EVENT_VERSION = 1,
	WIRE_CHANGE_EVENT_OP = 2,
	WIRE_CHANGE_EVENT_COMMIT_LSN = 3,
	WIRE_CHANGE_EVENT_LSN = 4,
	WIRE_CHANGE_EVENT_SEQ = 5,
	WIRE_CHANGE_EVENT_XID = 6,
	WIRE_CHANGE_EVENT_COMMIT_TS = 7,
	WIRE_CHANGE_EVENT_DATABASE = 8,
	WIRE_CHANGE_EVENT_SCHEMA = 9,
	WIRE_CHANGE_EVENT_TABLE = 10,
	WIRE_CHANGE_EVENT_RELID = 11,
	WIRE_CHANGE_EVENT_BEFORE = 12,
	WIRE_CHANGE_EVENT_AFTER = 13,
	WIRE_CHANGE_EVENT_SNAPSHOT = 14,
	WIRE_CHANGE_EVENT_REPLICA_IDENTITY = 15,
	WIRE_CHANGE_EVENT_COLUMNS = 16,
	WIRE_CHANGE_EVENT_TRUNCATED = 17,
	WIRE_CHANGE_EVENT_CASCADE = 18,
	WIRE_CHANGE_EVENT_RESTART_IDENTITY = 19,
	WIRE_CHANGE_EVENT_PREFIX = 20,
	WIRE_CHANGE_EVENT_CONTENT = 21,
	WIRE_CHANGE_EVENT_TRANSACTIONAL = 22,
	WIRE_CHANGE_EVENT_END_LSN = 23,
	WIRE_CHANGE_EVENT_EVENT_COUNTS = 24,
	WIRE_CHANGE_EVENT_OVERSIZED = 25,
	WIRE_CHANGE_EVENT_RANGE = 26,
	WIRE_CHANGE_EVENT_STREAMED = 27,
	WIRE_CHANGE_EVENT_SUBXID = 28,
	WIRE_CHANGE_EVENT_STREAM = 29
};

/* message Column */
enum
{
	WIRE_COLUMN_NAME = 1,
	WIRE_COLUMN_TYPE_OID = 2,
	WIRE_COLUMN_TYPE_NAME = 3,
	WIRE_COLUMN_KEY = 4,
	WIRE_COLUMN_NOT_NULL = 5,
	WIRE_COLUMN_BASE_TYPE_OID = 6,
	WIRE_COLUMN_BASE_TYPE_NAME = 7,
	WIRE_COLUMN_ENUM_LABELS = 8
};

/*
 * message Value: one oneof, so a Value is a single field, and its oneof case
 * is its field number: the generated cases are the numbers, and a new kind
 * of Value needs no line here (unit-wire checks that every field of Value
 * is in the oneof).
 */
enum
{
	WIRE_VALUE_IS_NULL = PGCDC__VALUE__KIND_IS_NULL,
	WIRE_VALUE_UNCHANGED_TOAST = PGCDC__VALUE__KIND_UNCHANGED_TOAST,
	WIRE_VALUE_BOOL_VALUE = PGCDC__VALUE__KIND_BOOL_VALUE,
	WIRE_VALUE_INT_VALUE = PGCDC__VALUE__KIND_INT_VALUE,
	WIRE_VALUE_FLOAT_VALUE = PGCDC__VALUE__KIND_FLOAT_VALUE,
	WIRE_VALUE_NUMERIC_VALUE = PGCDC__VALUE__KIND_NUMERIC_VALUE,
	WIRE_VALUE_TIMESTAMP_VALUE = PGCDC__VALUE__KIND_TIMESTAMP_VALUE,
	WIRE_VALUE_DATE_VALUE = PGCDC__VALUE__KIND_DATE_VALUE,
	WIRE_VALUE_TIME_VALUE = PGCDC__VALUE__KIND_TIME_VALUE,
	WIRE_VALUE_INFINITY = PGCDC__VALUE__KIND_INFINITY,
	WIRE_VALUE_TEXT_VALUE = PGCDC__VALUE__KIND_TEXT_VALUE,
	WIRE_VALUE_UUID_VALUE = PGCDC__VALUE__KIND_UUID_VALUE,
	WIRE_VALUE_BYTES_VALUE = PGCDC__VALUE__KIND_BYTES_VALUE
};

/* message RelationRef */
enum
{
	WIRE_RELATION_REF_SCHEMA = 1,
	WIRE_RELATION_REF_TABLE = 2,
	WIRE_RELATION_REF_RELID = 3
};

/* message TableCount */
enum
{
	WIRE_TABLE_COUNT_SCHEMA = 1,
	WIRE_TABLE_COUNT_TABLE = 2,
	WIRE_TABLE_COUNT_COUNT = 3
};

/* message Oversized */
enum
{
	WIRE_OVERSIZED_OP = 1,
	WIRE_OVERSIZED_SIZE = 2,
	WIRE_OVERSIZED_LIMIT = 3,
	WIRE_OVERSIZED_LIMIT_NAME = 4
};

/* message Key: walstreamer's Kafka key (streamer/record.h) */
enum
{
	WIRE_KEY_VALUES = 1
};

/* message SnapshotRange */
enum
{
	WIRE_SNAPSHOT_RANGE_AFTER = 1,
	WIRE_SNAPSHOT_RANGE_LAST = 2,
	WIRE_SNAPSHOT_RANGE_KEEP = 3,
	WIRE_SNAPSHOT_RANGE_COLLATIONS = 4,
	WIRE_SNAPSHOT_RANGE_KEYLESS = 5
};

/* message StreamInfo */
enum
{
	WIRE_STREAM_INFO_ABORTED = 1,
	WIRE_STREAM_INFO_RUN = 2,
	WIRE_STREAM_INFO_FIRST_OFFSET = 3
};


/* The longest varint: 64 bits, 7 a byte. */
#define WIRE_VARINT_MAX 10

/* Writing */

static inline size_t
wire_varint_size(uint64_t v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *
wire_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80)
	{
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

static inline uint64_t
wire_tag(uint32_t number, int type)
{
	return ((uint64_t) number << 3) | (uint64_t) type;
}

static inline size_t
wire_tag_size(uint32_t number)
{
	return wire_varint_size(wire_tag(number, 0));
}

static inline uint8_t *
wire_put_tag(uint8_t *p, uint32_t number, int type)
{
	return wire_put_varint(p, wire_tag(number, type));
}

/* A varint field, written whatever v is (proto3 leaves out zeros: the caller's choice). */
static inline size_t
wire_varint_field_size(uint32_t number, uint64_t v)
{
	return wire_tag_size(number) + wire_varint_size(v);
}

static inline uint8_t *
wire_put_varint_field(uint8_t *p, uint32_t number, uint64_t v)
{
	p = wire_put_tag(p, number, WIRE_TYPE_VARINT);
	return wire_put_varint(p, v);
}

/* A length-delimited field: tag, length, then len bytes (data may be NULL when len is 0). */
static inline size_t
wire_len_field_size(uint32_t number, size_t len)
{
	return wire_tag_size(number) + wire_varint_size(len) + len;
}

static inline uint8_t *
wire_put_len_field(uint8_t *p, uint32_t number, const void *data, size_t len)
{
	p = wire_put_tag(p, number, WIRE_TYPE_LEN);
	p = wire_put_varint(p, len);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

/* sint64 and sint32 on the wire. */
static inline uint64_t
wire_zigzag64(int64_t v)
{
	return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static inline uint32_t
wire_zigzag32(int32_t v)
{
	return ((uint32_t) v << 1) ^ (uint32_t) (v >> 31);
}

static inline int64_t
wire_unzigzag64(uint64_t v)
{
	return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

/* Enums are int32 on the wire, a negative value sign-extended to 64 bits. */
static inline uint64_t
wire_enum(int v)
{
	return (uint64_t) (int64_t) v;
}

/* Reading */

/*
 * The varint at *p: false when it runs past end or past 64 bits (ten
 * bytes); *p then is somewhere in it.
 */
static inline bool
wire_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t	result = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7)
	{
		uint8_t		b = *(*p)++;

		result |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = result;
			return true;
		}
	}
	return false;
}

/* How a field reads. */
typedef enum WireRead
{
	WIRE_OK,
	WIRE_NO_TAG,				/* no tag varint */
	WIRE_BAD_TYPE,				/* a wire type protobuf does not use (groups, 6, 7) */
	WIRE_CUT_SHORT				/* the value, or its length, runs past the end */
} WireRead;

/* One field as wire_get_field() reads it. */
typedef struct WireField
{
	uint64_t	number;			/* unchecked: 0 or a huge one is the caller's to refuse */
	int			type;			/* WIRE_TYPE_* */
	uint64_t	varint;			/* WIRE_TYPE_VARINT: the value */
	const uint8_t *data;		/* the payload: a LEN field's bytes, a fixed field's 4 or 8 */
	uint64_t	len;			/* its length (WIRE_CUT_SHORT: as the field said, 0 if unread) */
} WireField;

/*
 * The field at *p (< end): fills f and, when WIRE_OK, moves *p past it.
 * Otherwise *p is left where it was; a field cut short still has its
 * number, type, and data where its payload starts.
 */
static inline WireRead
wire_get_field(const uint8_t **p, const uint8_t *end, WireField *f)
{
	const uint8_t *q = *p;
	uint64_t	tag;

	f->number = 0;
	f->type = 0;
	f->varint = 0;
	f->data = NULL;
	f->len = 0;
	if (!wire_get_varint(&q, end, &tag))
		return WIRE_NO_TAG;
	f->number = tag >> 3;
	f->type = (int) (tag & 7);
	switch (f->type)
	{
		case WIRE_TYPE_VARINT:
			if (!wire_get_varint(&q, end, &f->varint))
				return WIRE_CUT_SHORT;
			break;
		case WIRE_TYPE_I64:
			f->len = 8;
			break;
		case WIRE_TYPE_I32:
			f->len = 4;
			break;
		case WIRE_TYPE_LEN:
			if (!wire_get_varint(&q, end, &f->len))
			{
				f->len = 0;
				return WIRE_CUT_SHORT;
			}
			break;
		default:
			return WIRE_BAD_TYPE;
	}
	f->data = q;
	if ((uint64_t) (end - q) < f->len)
		return WIRE_CUT_SHORT;
	*p = q + f->len;
	return WIRE_OK;
}

#endif							/* PGCDC_PROTO_WIRE_H */
