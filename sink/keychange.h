/*
 * keychange.h — key changes that leave TOASTed columns unchanged.
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
 * consumed again from there (PartState.hold, a KeyHold), until the old
 * key's copy has been applied, or for key.change.wait.ms, after which the
 * new key's copy is a dead letter and leaves a tombstone in
 * pgcdc.sink_key_move, which its old key's copy, should it come, removes
 * instead of storing values nobody will take.  A copy only waits for a
 * copy at the same source position, whose partition holds nothing but
 * earlier positions before it: holds never wait on each other in a circle.
 *
 * keychange.c pairs the copies and holds partitions, in memory only;
 * keychange_io.c does what needs the target (pgcdc.sink_key_move, the old
 * keys' rows) or Kafka (consuming held partitions again).  The KeyHold in
 * each PartState is this module's: only these two files touch its fields
 * (keyhold.h, a header of its own so that positions.h need not include
 * this one); the pipeline calls keychange_hold_reset and keychange_stale.
 * The KeyChanges and its Moves are the applier's; an Event's move points
 * into them for the batch: on a copy applied in this batch, and on a new
 * key's copy only while it is its Move's new (a held or waited-out one
 * loses it).
 */
#ifndef PGCDC_SINK_KEYCHANGE_H
#define PGCDC_SINK_KEYCHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "event.h"
#include "metrics.h"
#include "row.h"
#include "rowcopy.h"
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
	bool		resolved;		/* keychange_resolved was called */
} Move;

/* A key change as a row of pgcdc.sink_key_move. */
typedef struct KeyMove
{
	const char *topic;
	Position	pos;
	char	   *image;			/* bytea in text form (\x...), or NULL when only finding */
} KeyMove;

typedef struct KeyChanges
{
	Move	   *items;			/* sorted by topic, then position */
	size_t		n;
	size_t		cap;
	KeyMove    *put;			/* values for new key's copies of later batches (images owned) */
	size_t		nput;
	size_t		put_cap;
	KeyMove    *gone;			/* key changes whose new key's copies waited out (image NULL) */
	size_t		ngone;
	size_t		gone_cap;
	KeyMove    *taken;			/* stored values given to new key's copies here (image NULL) */
	size_t		ntaken;
	size_t		taken_cap;
	MetricCell *m_holds;
	MetricCell *m_waited_out;
} KeyChanges;

extern KeyChanges *keychange_new(Metrics *m);
extern void keychange_free(KeyChanges *kc);

/*
 * Before a batch is admitted: pairs the key changes' copies of events[0..n)
 * (e->move), holds the partitions whose new key's copies must wait
 * (e->held, states' hold), turns those that waited too long into dead
 * letters (with their tombstones), and gives the new key's copies whose old
 * key's copies were applied earlier their values (taken from the target).
 * alloc: for values, kept until the batch is done.
 */
extern bool keychange_plan(KeyChanges *kc, Target *t, Event *events, PartState **states, size_t n, int wait_ms,
						   ProtobufCAllocator *alloc, char *err, size_t errlen);

/* keychange_plan's steps in memory (keychange.c): the pairing, then the holds at now (ms). */
extern void keychange_pair(KeyChanges *kc, Event *events, PartState **states, size_t n);
extern void keychange_hold(KeyChanges *kc, Event *events, PartState **states, size_t n, int wait_ms, int64_t now);
/* The Move of a key change paired in this batch, or NULL. */
extern Move *keychange_find(KeyChanges *kc, const char *topic, const Position *pos);

/*
 * The old key's copies among a table's rows (sorted by key, then position)
 * find the values their update left unchanged, and hand them on
 * (keychange_resolved); c and sql are the caller's, alloc the batch's.
 */
extern bool keychange_resolve(KeyChanges *kc, RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, size_t n,
							  ProtobufCAllocator *alloc, char *err, size_t errlen);

/*
 * The values of mv's unchanged columns as its old key's copy found them
 * (per column of its record; NULL: unknown; vals NULL: all unknown): to its
 * new key's copy, now or through the target.
 */
extern void keychange_resolved(KeyChanges *kc, Move *mv, Pgcdc__Value **vals, ProtobufCAllocator *alloc);

/*
 * Stores the values resolved for new key's copies in later batches, in the
 * open transaction; an old key's copy not applied after all (a dead letter,
 * before a truncate) leaves its new key's copy nothing, so it need not wait.
 */
extern bool keychange_finish(KeyChanges *kc, Target *t, ProtobufCAllocator *alloc, char *err, size_t errlen);
/* keychange_finish's step in memory: the old key's copies not resolved leave nothing. */
extern void keychange_unresolved(KeyChanges *kc, ProtobufCAllocator *alloc);
/* Forgets the values put, once stored. */
extern void keychange_put_reset(KeyChanges *kc);

/* A partition's hold state when it is first known or (re)assigned: no hold, nothing stale. */
extern void keychange_hold_reset(KeyHold *h);

/*
 * Whether a message at offset of a partition sought back (keychange_seek)
 * is stale, fetched before the seek: true until the offset sought comes,
 * which ends the filter.
 */
extern bool keychange_stale(KeyHold *h, int64_t offset);

/*
 * After a batch is applied: the partitions it held (states[0..n), one per
 * event) are consumed again from the offset held, each once; drop(arg, st)
 * drops what the caller consumed of st since (the batch being filled).
 */
extern bool keychange_seek(rd_kafka_t *rk, PartState **states, size_t n,
						   void (*drop) (void *arg, const PartState *st), void *arg, char *err, size_t errlen);

#endif							/* PGCDC_SINK_KEYCHANGE_H */
