/*
 * streamreplay.h — a partition reading a streamed transaction back at its commit.
 *
 * walstreamer produces a large transaction's changes while it is in
 * progress (proto/cdc.proto, `streamed`); they are applied only once its
 * commit record (OP_STREAM_COMMIT) comes, on each partition that holds some
 * of them, naming the offset of the first.  The consumer thread then reads
 * that partition again from there: every message up to the commit record
 * that is a streamed change of the transaction and its run is decoded as a
 * change of the committed transaction (event_decode with the StreamCommit),
 * any other one was handled when it first came and is skipped; at the
 * commit record the partition goes on as before.  So the transaction's
 * changes apply after every change before its commit, in batches like any
 * other (memory bounded as theirs), and a restart, a rebalance or a seek
 * back of key changes (keychange.h) mid-way simply meets the commit record
 * again, positions skipping what was applied.  Nothing is kept per
 * transaction in progress: changes no commit names (an abort, a run that
 * died) are never read back.
 *
 * Only the consumer thread touches a StreamReplay (PartState.replay).
 */
#ifndef PGCDC_SINK_STREAMREPLAY_H
#define PGCDC_SINK_STREAMREPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef struct StreamReplay
{
	bool		active;
	int64_t		resume;			/* sought back to this offset: messages until it comes are stale; -1 */
	int64_t		until;			/* the commit record's offset */
	StreamCommit commit;		/* its aborted pairs are copies of the replay's own */
	uint32_t   *aborted;
} StreamReplay;

extern void streamreplay_reset(StreamReplay *r);
/* Reads back from the commit record e (offset until): its first change's offset, to seek to. */
extern int64_t streamreplay_start(StreamReplay *r, const Event *e);
/* A message fetched before the seek back took effect: to drop. */
extern bool streamreplay_stale(StreamReplay *r, int64_t offset);
/* The commit to decode messages with (NULL: not reading back). */
extern const StreamCommit *streamreplay_commit(const StreamReplay *r);

#endif							/* PGCDC_SINK_STREAMREPLAY_H */
