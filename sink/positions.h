/*
 * positions.h — where each topic-partition stands in the target: the
 * offset and source position walsink applied last, stored in
 * pgcdc.sink_position in the transaction that applied them.
 *
 * walsink keeps, per consumer group and topic-partition, the last offset it
 * applied and the source position of the last change; on start and on
 * rebalance a partition resumes from there, and the Kafka group's offsets
 * are only a view for tools.  Each member claims the partitions assigned to
 * it, so that one that lost a partition can no longer store its position.
 *
 * The pipeline owns the PartStates (one per partition ever assigned, kept
 * for its life); topic, source and former are malloc'd strings of theirs.
 * hold is the key change module's (keyhold.h), set up by keychange_hold_reset;
 * replay streamreplay's, set up by streamreplay_reset.
 * The table itself is created by target_connect (target.h).
 */
#ifndef PGCDC_SINK_POSITIONS_H
#define PGCDC_SINK_POSITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "keyhold.h"
#include "streamreplay.h"
#include "target.h"

/* Where a topic-partition stands in the target. */
typedef struct PartState
{
	char	   *topic;
	int32_t		partition;
	int64_t		offset;			/* last applied or skipped; -1: none */
	Position	pos;			/* stored: the last change applied (or skipped), never a dead letter's */
	bool		has_pos;
	bool		touched;		/* in the open batch */
	Position	seen;			/* in the open batch: the last change admitted */
	bool		has_seen;
	KeyHold		hold;			/* key changes' (keychange.h): theirs alone */
	StreamReplay replay;		/* a streamed transaction read back (streamreplay.h): the consumer thread's */
	char		owner[64];		/* this member's claim of it (positions_claim) */
	char	   *source;			/* the source history of pos (pgcdc.source), stored with it; NULL: unknown */
	char	   *former;			/* the one before, when source.change = resync took a new one; NULL */
} PartState;

/*
 * A partition assigned to this member: claimed in pgcdc.sink_position under
 * a token of its own (p->owner), and where it stands loaded.  A member that
 * lost the partition (dropped from the group while a batch was stuck, say)
 * can then no longer store positions for it: positions_commit fails, fenced.
 */
extern bool positions_claim(Target *t, PartState *p, char *err, size_t errlen);
/*
 * Stores the positions of parts[0..n), each partition once, and commits the
 * open transaction; fails (err "fenced: ...") when another member claimed
 * one of them since.
 */
extern bool positions_commit(Target *t, PartState *const *parts, size_t n, char *err, size_t errlen);

#endif							/* PGCDC_SINK_POSITIONS_H */
