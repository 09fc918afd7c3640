/*
 * event.h — one consumed Kafka message, decoded and checked.
 *
 * An Event is walsink's unit of work: a Kafka message whose value is the
 * contract's ChangeEvent (proto/cdc.proto), unpacked as rec, together with
 * what walsink decides of it — its kind (apply, delete, truncate, ignore or
 * dead letter) and dead-letter reason, its key bytes, its position in the
 * source, and its place in the batch (held, admitted, dead).  Hence its own
 * name: the ChangeEvent is the record, the Event the message carrying it
 * through walsink.  (walstreamer's Record, streamer/record.h, is a packed
 * ChangeEvent scanned for routing.)
 *
 * An Event owns its librdkafka message and the unpacked record.  Decoding
 * never fails as such: a message that cannot be applied becomes EVENT_BAD
 * with the reason, for the dead-letter table.
 */
#ifndef PGCDC_SINK_EVENT_H
#define PGCDC_SINK_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cdc.pb-c.h"

typedef enum EventKind
{
	EVENT_IGNORE,				/* BEGIN, COMMIT, RELATION, logical message: nothing to apply */
	EVENT_UPSERT,				/* insert, update, snapshot read */
	EVENT_DELETE,				/* delete; an update's copy under its old key */
	EVENT_TRUNCATE,
	EVENT_RANGE,				/* a snapshot chunk's range (proto SnapshotRange): sink/snaprange.h */
	EVENT_BAD					/* dead letter: see reason (also walstreamer's oversized stand-in,
								 * never skipped by its position: it applies nothing) */
} EventKind;

/*
 * Where a change is in the source: commit LSN, index in its transaction, 1
 * for a key change's new-key copy.  (A Debezium message's: the last
 * commit's end and its own LSN, sink/dbzinput.h.)
 */
typedef struct Position
{
	uint64_t	lsn;
	uint64_t	seq;
	uint32_t	sub;
} Position;

/* How far an event's position orders it in its partition (sink/dbzinput.h). */
typedef enum EventOrder
{
	ORDER_EXACT,				/* pgcdc's: unique, an equal one is the same change again */
	ORDER_SHARED				/* Debezium's LSNs: others may share it, an equal one at a new offset is applied */
} EventOrder;

/* The formats a message's value may be in (input.format). */
typedef enum InputFormat
{
	INPUT_AUTO,					/* by its first byte: '{' Debezium's JSON, else pgcdc's protobuf */
	INPUT_PROTOBUF,
	INPUT_DEBEZIUM
} InputFormat;

typedef struct EventInput
{
	InputFormat format;
	const char *placeholder;	/* Debezium's unchanged-TOAST placeholder (unavailable.value.placeholder) */
	bool		hex_bytes;		/* its binary.handling.mode = hex: text for a bytea column is hex, not base64 */
	const char *route_key_field;	/* topic.routing.key.field.name when routing; NULL: none */
} EventInput;

/*
 * A list of column names and key flags as events carry them, shared by every
 * event with the same list: the apply thread then compares pointers, not
 * names.  Kept until layouts_free, never changed.
 */
typedef struct Layout
{
	size_t		n;
	char	  **names;
	bool	   *keys;			/* per column: part of the source's key */
} Layout;

/* The layouts seen, for the consumer thread (not thread-safe; the Layouts it hands out are). */
typedef struct Layouts Layouts;

extern Layouts *layouts_new(void);
extern void layouts_free(Layouts *ls);

typedef struct Event
{
	/* What the apply thread reads of every row, in its first cache line or so. */
	Pgcdc__ChangeEvent *rec;	/* NULL when undecodable; in the batch's arena */
	Pgcdc__Value **image;		/* UPSERT: after; DELETE: before (key values) */
	Pgcdc__Value **old;			/* a keyless table's update or delete: the whole old row (FULL) */
	const Layout *layout;		/* rec's column names; NULL when too many layouts were seen */
	uint8_t    *key;			/* the key values as bytes, in the arena: equal keys, equal bytes (a change: never NULL) */
	size_t		keylen;
	Position	pos;
	EventOrder	order;
	EventKind	kind;
	bool		unchanged;		/* some value of image was an unchanged TOASTed one when decoded */
	bool		held;			/* not applied in this batch: its partition is held (keychange.h) */
	bool		admitted;		/* a change new to its partition (apply.c admit) */
	bool		dead;			/* a dead letter of its batch */
	bool		stream_commit;	/* EVENT_IGNORE: a streamed transaction's commit record, well formed */
	/*
	 * Read from Debezium's format (sink/dbzinput.h): its values fitted to
	 * the target's column types once the table is known (sink/dbzfit.h),
	 * in alloc, the allocator its record is in.
	 */
	bool		debezium;
	bool		fitted;
	bool		hex_bytes;		/* EventInput's */
	ProtobufCAllocator *alloc;
	struct Move *move;			/* a key change's copy: see keychange.h */
	rd_kafka_message_t *msg;
	/* Header pgcdc.source (system identifier/timeline/database/slot), in msg; NULL when absent. */
	const char *source;
	size_t		source_len;
	/* Header pgcdc.source.history (after a promotion: where each earlier timeline ended), in msg; NULL when absent. */
	const char *history;
	size_t		history_len;
	char	   *reason;			/* EVENT_BAD: why (malloc'd, at most EVENT_REASON_MAX bytes with its NUL); else NULL */
} Event;

/*
 * A streamed transaction's commit (proto/cdc.proto, OP_STREAM_COMMIT), as a
 * partition reads the transaction back (sink/streamreplay.h).
 */
typedef struct StreamCommit
{
	uint32_t	xid;
	uint64_t	run;
	uint64_t	commit_lsn;
	int64_t		commit_ts;
	int64_t		first_offset;	/* of its first change on the partition */
	const uint32_t *aborted;	/* (first seq, count) pairs, in order, apart */
	size_t		naborted;		/* numbers: twice the pairs */
} StreamCommit;

/*
 * Takes ownership of msg; a value over max_value bytes is not decoded.  The
 * record and its key are allocated with alloc (an arena's: event_free leaves
 * them to the arena).  A streamed change (proto `streamed`) is EVENT_IGNORE
 * unless sc is the commit of its transaction and run: then it is decoded as
 * the change it is in the committed transaction (sc's commit_lsn and
 * commit_ts, its seq less the rolled-back ones before it), or is
 * EVENT_IGNORE when a rolled-back subtransaction made it.  A tombstone
 * (null value) is EVENT_IGNORE, an empty value a dead letter.  in (NULL:
 * pgcdc's format only) says which formats are read: Debezium's messages
 * are read by sink/dbzinput.c into the same record.
 */
extern void event_decode(Event *e, rd_kafka_message_t *msg, size_t max_value, ProtobufCAllocator *alloc,
						 Layouts *layouts, const StreamCommit *sc, const EventInput *in);
/*
 * A message walsink passes over unread (a streamed change before its
 * commit: event_streamed_by): EVENT_IGNORE, without its record, so that its
 * partition's offset moves past it as past any other.  Takes ownership of msg.
 */
extern void event_skip(Event *e, rd_kafka_message_t *msg);
/*
 * A decoded commit record's (e->stream_commit), for the partition to read
 * the transaction back; its aborted pairs point into e's record.
 */
extern StreamCommit event_stream_commit(const Event *e);
/*
 * Whether msg is a streamed change of sc's transaction and run (sc NULL:
 * of any), read from its bytes without decoding: a partition skips
 * streamed changes cheaply until their commit, and then every other
 * message while it reads the transaction back.
 */
extern bool event_streamed_by(const rd_kafka_message_t *msg, const StreamCommit *sc);
extern void event_free(Event *e);

/* e becomes a dead letter (EVENT_BAD), for this reason (cut to fit EVENT_REASON_MAX). */
#define EVENT_REASON_MAX 200
extern void event_bad(Event *e, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/*
 * A dead letter keeps this much of its message's key and value, in the
 * table and on the dead-letter topic (whose messages Kafka takes up to
 * 1 MB by default), with the value's size: a forged 16 MB message costs
 * neither more.
 */
#define EVENT_DEAD_KEEP (512 * 1024)
#define EVENT_DEAD_LEN(n) ((n) > EVENT_DEAD_KEEP ? EVENT_DEAD_KEEP : (n))

extern int	position_cmp(const Position *a, const Position *b);

/* Order of changes of one table: by key bytes, then source position. */
extern int	event_key_cmp(const Event *a, const Event *b);

#endif							/* PGCDC_SINK_EVENT_H */
