/*
 * streamtxn.h — transactions streamed while in progress, until they end.
 *
 * With streaming on, the source sends a large transaction's changes in
 * blocks before its commit (proto/cdc.proto, `streamed`).  walstreamer
 * produces them as they come, each to its key's partition, and keeps here,
 * per transaction (its top-level xid):
 *   - the partitions its changes went to, with the offset of the first one
 *     on each, learned from the delivery reports: at its commit, one
 *     OP_STREAM_COMMIT goes to each, telling a consumer where to read the
 *     transaction back from;
 *   - the seq ranges of its rolled-back subtransactions (OP_STREAM_ABORT),
 *     which the commit record lists, merged;
 *   - the tables it changed, and while a snapshot is read the keys, with
 *     their seq, for snapwatch at its commit (a transaction counts for a
 *     chunk once committed).  Keys missed (no snapshot was read when some
 *     came) or past a memory bound leave only the tables: their chunks in
 *     flight at the commit are read again.
 * A stream block's messages are counted under an acktrack id of their own
 * (streamtxns_block), whose delivery reports say which transaction they
 * were of.  A transaction that aborts, or is left open when the pipeline
 * ends, is simply forgotten: a consumer never reads changes no commit names.
 *
 * Pure bookkeeping, no I/O: stream.c produces.
 */
#ifndef PGCDC_STREAMER_STREAMTXN_H
#define PGCDC_STREAMER_STREAMTXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct StreamTxns StreamTxns;

/* One partition a streamed transaction's changes went to. */
typedef struct StreamPart
{
	char	   *topic;
	int32_t		partition;
	int64_t		first_offset;	/* of the transaction's first change there */
} StreamPart;

/* A table's changes in a streamed transaction, for its COMMIT on the transaction topic. */
typedef struct StreamCount
{
	char	   *name;			/* "schema.table" */
	size_t		schema_len;		/* name[schema_len] is the dot */
	uint64_t	n;
} StreamCount;

/* A key a streamed transaction changed, for snapwatch at its commit. */
typedef struct StreamKey
{
	uint32_t	relid;
	uint32_t	seq;
	bool		truncate;		/* a truncate of relid, no key */
	size_t		off;			/* into the key bytes */
	size_t		len;
} StreamKey;

/*
 * run: this pipeline's, written in every streamed record and commit so a
 * consumer tells a transaction's changes from those an earlier run streamed
 * of it.  mem: the most bytes of keys kept per transaction.
 */
extern StreamTxns *streamtxns_new(uint64_t run, size_t mem);
extern void streamtxns_free(StreamTxns *s);
extern uint64_t streamtxns_run(const StreamTxns *s);

/* The messages produced under acktrack id block are changes of xid. */
extern void streamtxns_block(StreamTxns *s, uint64_t block, uint32_t xid);
/* A message of xid went to the producer. */
extern void streamtxns_sent(StreamTxns *s, uint32_t xid);
/* The delivery report of a message produced under block: offset < 0 when it failed. */
extern void streamtxns_delivered(StreamTxns *s, uint64_t block, const char *topic, int32_t partition,
								 int64_t offset);
/*
 * xid changed key of relid (keylen 0 and truncate: all of relid) with its
 * seq; watching: a snapshot is being read (snapwatch_watching), the key is kept.
 */
extern void streamtxns_key(StreamTxns *s, uint32_t xid, uint32_t relid, uint32_t seq, const uint8_t *key,
						   size_t keylen, bool truncate, bool watching);
/* A change of table name ("schema.table", the dot at schema_len) by subxid of xid, counted. */
extern void streamtxns_count(StreamTxns *s, uint32_t xid, uint32_t subxid, const char *name, size_t schema_len);
/* xid's changes per table, but those of its rolled-back subtransactions; valid until the next call. */
extern const StreamCount *streamtxns_counts(StreamTxns *s, uint32_t xid, size_t *n);
/*
 * Subtransaction subxid of xid rolled back: its streamed changes, seq first
 * to first + count - 1, are void.
 */
extern void streamtxns_abort_range(StreamTxns *s, uint32_t xid, uint32_t subxid, uint32_t first, uint32_t count);
/* xid rolled back, or committed and done with: forgotten. */
extern void streamtxns_end(StreamTxns *s, uint32_t xid);

/* Messages of xid sent and not yet reported. */
extern uint64_t streamtxns_outstanding(const StreamTxns *s, uint32_t xid);
/* The partitions xid's changes went to (none: NULL, *n 0). */
extern const StreamPart *streamtxns_parts(const StreamTxns *s, uint32_t xid, size_t *n);
/*
 * xid's rolled-back ranges, merged and in order, as (first, count) pairs:
 * *n numbers (twice the pairs).  Valid until the next call for xid.
 */
extern const uint32_t *streamtxns_aborted(StreamTxns *s, uint32_t xid, size_t *n);
/* Whether seq of xid is in a rolled-back range. */
extern bool streamtxns_void(StreamTxns *s, uint32_t xid, uint32_t seq);
/*
 * xid's kept keys (*bytes: their bytes), and whether they are all it
 * changed (*complete); *relids lists every table it changed.
 */
extern const StreamKey *streamtxns_keys(const StreamTxns *s, uint32_t xid, size_t *n, const uint8_t **bytes,
										bool *complete, const uint32_t **relids, size_t *nrelids);

#endif							/* PGCDC_STREAMER_STREAMTXN_H */
