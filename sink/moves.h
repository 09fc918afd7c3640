/*
 * moves.h — key changes that leave TOASTed columns unchanged.
 *
 * An update that changes a row's key arrives as two copies, usually on two
 * partitions: under the old key (applied as that key's delete) and under the
 * new key.  The values of TOASTed columns the update left unchanged are in
 * neither: only the old key's row has them.  So the old key's copy, applied
 * in its partition's order, takes them (from the old key's earlier changes in
 * the batch, else from the target's row) and hands them to the new key's
 * copy: directly when both are applied in one batch, else through the
 * target's pgcdc.sink_key_move.
 *
 * A new key's copy whose old key's copy is not applied yet is held: its
 * partition applies nothing from that offset on in this batch and is
 * consumed again from there (PartState.hold), until the old key's copy has
 * been applied, or for key.change.wait.ms, after which the new key's copy
 * is a dead letter and leaves a tombstone in pgcdc.sink_key_move, which
 * its old key's copy, should it come, removes instead of storing values
 * nobody will take.  A copy only waits for a copy at the same source
 * position, whose partition holds nothing but earlier positions before it:
 * holds never wait on each other in a circle.
 */
#ifndef PGCDC_SINK_MOVES_H
#define PGCDC_SINK_MOVES_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "metrics.h"
#include "positions.h"
#include "target.h"

typedef struct Move
{
	const char *topic;
	Position	pos;			/* the update's (sub 0) */
	Event	   *old;			/* its old key's copy, applied in this batch; else NULL */
	Event	   *new;			/* its new key's copy, applied in this batch; else NULL */
	PartState  *old_st;
	PartState  *new_st;
	const Pgcdc__ChangeEvent *stored;	/* the values the old key's copy left, applied earlier */
	bool		resolved;		/* moves_resolved was called */
} Move;

typedef struct Moves Moves;

extern Moves *moves_new(Metrics *m);
extern void moves_free(Moves *m);

/* Whether e is a key change's copy (old or new key) whose update left TOASTed columns unchanged. */
extern bool moves_copy(const Event *e);

/*
 * Before a batch is admitted: pairs the key changes' copies of events[0..n)
 * (e->move), holds the partitions whose new key's copies must wait
 * (e->held, states' hold), turns those that waited too long into dead
 * letters (with their tombstones), and gives the new key's copies whose old
 * key's copies were applied earlier their values (taken from the target).
 * alloc: for values, kept until the batch is done.
 */
extern bool moves_plan(Moves *m, Target *t, Event *events, PartState **states, size_t n, int wait_ms,
					   ProtobufCAllocator *alloc, char *err, size_t errlen);

/*
 * The values of mv's unchanged columns as its old key's copy found them
 * (per column of its record; NULL: unknown; vals NULL: all unknown): to its
 * new key's copy, now or through the target.
 */
extern void moves_resolved(Moves *m, Move *mv, Pgcdc__Value **vals, ProtobufCAllocator *alloc);

/*
 * Stores the values resolved for new key's copies in later batches, in the
 * open transaction; an old key's copy not applied after all (a dead letter,
 * before a truncate) leaves its new key's copy nothing, so it need not wait.
 */
extern bool moves_finish(Moves *m, Target *t, ProtobufCAllocator *alloc, char *err, size_t errlen);

#endif							/* PGCDC_SINK_MOVES_H */
