/*
 * record.h — what walstreamer needs to know about a pgcdc record, read
 * straight from its protobuf bytes without unpacking it.
 *
 * A Record is walstreamer's view of one packed ChangeEvent (proto/cdc.proto):
 * not the message unpacked, but the few fields the streamer routes by, with
 * spans pointing into the bytes it was scanned from, which are what goes to
 * Kafka.  Hence its own name: the contract's ChangeEvent is the whole
 * message, a Record only locates parts of one.  (walsink's Event, sink/event.h,
 * is a consumed Kafka message with its ChangeEvent unpacked.)
 *
 * The streamer routes records, it does not transform them: it needs the
 * operation, positions, relation, the spans of the row images' values (to
 * build keys) and, from RELATION records, which columns are keys.  The
 * scanner checks the wire format as it goes (proto/wire.h) and rejects
 * anything that is not a well-formed record, so a decoder bug cannot make
 * it read out of bounds.
 *
 * A Record points into the buffer it was scanned from and owns only its
 * arrays of spans; record_free() releases them.  One Record is reused for
 * every message.
 */
#ifndef PGCDC_STREAMER_RECORD_H
#define PGCDC_STREAMER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct Span
{
	const uint8_t *data;
	size_t		len;
} Span;

typedef struct SpanArray
{
	Span	   *items;
	size_t		n;
	size_t		capacity;
} SpanArray;

typedef struct Record
{
	Pgcdc__Op	op;				/* BEGIN to RELATION, STREAM_ABORT, STREAM_COMMIT: record_scan() refuses any other */
	uint64_t	commit_lsn;
	uint64_t	lsn;
	uint64_t	end_lsn;
	uint32_t	xid;
	uint32_t	seq;
	int64_t		commit_ts;		/* µs since the epoch */
	Span		database;
	bool		streamed;		/* a change of a transaction in progress */
	uint32_t	subxid;			/* streamed changes, STREAM_ABORT */
	uint32_t	aborted[2];		/* STREAM_ABORT of a subtransaction: its streamed changes' first seq and count */
	bool		has_aborted;
	uint32_t	relid;
	Span		schema;
	Span		table;
	Span		prefix;			/* MESSAGE */
	Span		content;		/* MESSAGE */
	bool		transactional;	/* MESSAGE */
	SpanArray	before;			/* each Value's bytes, without tag and length */
	SpanArray	after;
	SpanArray	columns;		/* each Column's bytes */
	SpanArray	truncated;		/* each RelationRef's bytes */
} Record;

extern void record_init(Record *r);
extern void record_free(Record *r);

/* Fills r from buf; false (with err) when buf is not a well-formed record. */
extern bool record_scan(const uint8_t *buf, size_t len, Record *r, char *err, size_t errlen);

/*
 * The next record of a batch (the decoder's batch-bytes form: each record
 * preceded by its length as a varint) starting at *at: sets *rec and *reclen
 * and moves *at past it.  False (with err) when the frame is cut short or its
 * length is not a varint.
 */
extern bool record_frame(const uint8_t *buf, size_t len, size_t *at,
						 const uint8_t **rec, size_t *reclen, char *err, size_t errlen);

/* Whether a Column's bytes say it is a key column. */
extern bool record_column_is_key(Span column);
/* A Column's name. */
extern bool record_column_name(Span column, Span *name);
/* A Value's text (text_value); false for any other kind (NULL included). */
extern bool record_value_text(Span value, Span *text);
/* A RelationRef's fields. */
extern bool record_relation_ref(Span ref, Span *schema, Span *table, uint32_t *relid);

/*
 * The Kafka key of an image: message Key { repeated Value values = 1; } with
 * the values at the key positions, each exactly as encoded in the record, so
 * equal keys are equal bytes.  Writes at most cap bytes to out and returns
 * the length needed; 0 when there are no key positions or the image lacks
 * one of them.
 */
extern size_t record_key(const SpanArray *image, const uint32_t *keys, size_t nkeys,
						 uint8_t *out, size_t cap);

/*
 * A READ record read by the snapshot, made ready to be placed in the stream
 * later (streamer/snapwatch.h): into out (at least len bytes), the record's
 * fields but its positions (commit_lsn, lsn, seq); returns the length
 * written.  record_put_position then appends the position it is placed at,
 * at most RECORD_POSITION_MAX bytes: the last value of a field is the one a
 * reader takes, and none is left before it.
 */
extern size_t record_without_position(const uint8_t *buf, size_t len, uint8_t *out);
#define RECORD_POSITION_MAX (3 * (1 + WIRE_VARINT_MAX))
/* Appends commit_lsn and lsn (both at) and seq at p; returns the end. */
extern uint8_t *record_put_position(uint8_t *p, uint64_t at, uint32_t seq);

/* One top-level field of a protobuf message, as record_next_field() reads it. */
typedef struct RecordField
{
	uint32_t	number;
	int			wire;			/* 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit */
	uint64_t	varint;			/* wire 0 */
	Span		payload;		/* wire 2: the bytes; 1 and 5: the fixed bytes */
	Span		whole;			/* tag included: the field as it was written */
} RecordField;

/*
 * The field at *at in buf[0..len): fills f and moves *at past it.  False at
 * the end (*at == len) and when the bytes there are not a well-formed field
 * (then *at is left where it was).
 */
extern bool record_next_field(const uint8_t *buf, size_t len, size_t *at, RecordField *f);

#endif							/* PGCDC_STREAMER_RECORD_H */
