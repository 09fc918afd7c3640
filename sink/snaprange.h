/*
 * snaprange.h — a snapshot chunk's range (proto/cdc.proto, SnapshotRange):
 * the target's rows in it that the source no longer had are deleted, once.
 *
 * walstreamer writes the range record on every partition of the table's
 * topic at the chunk's position, before the chunk's rows.  The first copy
 * walsink applies (in batch order, before the batch's rows) deletes the
 * target's rows whose keys fall in the range and are not in its keep list;
 * its mark in pgcdc.sink_snapshot_range (per table, the last range applied)
 * makes every other copy a no-op.  When the first copy is applied no
 * partition is past the chunk's position (each reaches its own copy first),
 * so no row written after the chunk can be deleted, and the partitions
 * still behind it replay changes that end where the source was at the
 * chunk: keys the range deleted stay deleted, the keep list's come back
 * with the stream or the chunk.
 *
 * The range compares keys as the source ordered them: a key column with a
 * collation needs one in the target with the same provider and locale
 * (the database's default counts); without one the range is skipped and
 * counted (its deleted rows remain), never guessed.  A table without a key
 * is read whole: its range deletes every row and sets the table's truncate
 * mark (truncmarks.h) at the chunk's position, so that older changes of it
 * in the batch are not applied after it.
 */
#ifndef PGCDC_SINK_SNAPRANGE_H
#define PGCDC_SINK_SNAPRANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "tables.h"
#include "target.h"

typedef enum RangeOutcome
{
	RANGE_APPLIED,				/* the target's rows outside the source's were deleted */
	RANGE_ALREADY,				/* another copy of it (or a later range) was applied */
	RANGE_NO_TABLE,				/* the target has no such table: nothing to delete */
	RANGE_SKIPPED				/* cannot be applied as the source ordered it: why says */
} RangeOutcome;

/*
 * Applies e (EVENT_RANGE) to ti inside the batch's transaction: *removed
 * rows deleted.  False with err when the target failed; a statement it
 * rejected is RANGE_SKIPPED with why.
 */
extern bool snaprange_apply(Target *t, Tables *ts, TableInfo *ti, const Event *e, RangeOutcome *outcome,
							long *removed, char *why, size_t whylen, char *err, size_t errlen);

#endif							/* PGCDC_SINK_SNAPRANGE_H */
