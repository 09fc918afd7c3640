/*
 * apply.h — one batch of events into the target, in one transaction.
 *
 * Per table, the last event per key (in source order) decides the row:
 * rows are copied into a staging table, checked against the table's
 * validation rules, then deleted and upserted with one statement per table
 * and column set.  A statement the target rejects is retried on halves of
 * the rows, down to the single row, which becomes a dead letter; the rest
 * commit.  The partitions' positions are stored in the same transaction.
 */
#ifndef PGCDC_SINK_APPLY_H
#define PGCDC_SINK_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "deadtopic.h"
#include "event.h"
#include "metrics.h"
#include "positions.h"
#include "settings.h"
#include "target.h"

typedef struct Applier Applier;

/* dead: where dead letters are also produced, or NULL (owned by the caller). */
extern Applier *applier_new(const Settings *s, Metrics *m, DeadTopic *dead);
extern void applier_free(Applier *a);
/* A new connection: forget what was known about the old one. */
extern void applier_attach(Applier *a, Target *t);

/*
 * Applies events[0..n), states[i] being events[i]'s partition.  false with
 * err when the target failed: nothing is committed and the caller must
 * reconnect and consume again from the stored positions.
 */
extern bool applier_apply(Applier *a, Event *events, PartState **states, size_t n,
						  char *err, size_t errlen);
/* Whether the failure of the last applier_apply is one starting again cannot help (source.change). */
extern bool applier_fatal(const Applier *a);

#endif							/* PGCDC_SINK_APPLY_H */
