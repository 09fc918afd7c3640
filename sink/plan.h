/*
 * plan.h — which of a batch's events are applied, and in what order: each
 * event admitted or not (applied already, ignored, a dead letter, bound to
 * its own topic's table, from the partition's source history), the tables
 * prepared for the rows admitted, and the rows grouped per table.  What the
 * target is asked here is about tables and marks, never rows.
 *
 * The Plan is the applier's, its pointers the applier's to set; its counts
 * are the open batch's.
 */
#ifndef PGCDC_SINK_PLAN_H
#define PGCDC_SINK_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deadletters.h"
#include "row.h"
#include "settings.h"
#include "tables.h"
#include "positions.h"
#include "target.h"

/* Why an event was skipped: the label of walsink_skipped_total. */
enum
{
	SKIP_APPLIED,				/* at or behind the stored position */
	SKIP_DEAD_LETTER,			/* in the dead-letter table already */
	SKIP_SUPERSEDED,			/* a later change of its key in the batch decides */
	SKIP_TRUNCATED,				/* older than a truncate already applied */
	SKIP_REASONS
};

typedef struct Plan
{
	const Settings *settings;
	Target	   *target;
	Tables	   *tables;
	DeadLetters *dead;
	/* The open batch's counts. */
	int64_t		n_ignored;
	int64_t		n_skipped[SKIP_REASONS];
	bool		fatal;			/* the batch failed so that starting again cannot help */
} Plan;

/*
 * Whether e (of partition st) is new and may be applied: 1; 0 when it is
 * skipped, ignored or a dead letter; -1 when the target failed or the
 * partition's source changed (err; p->fatal when starting again cannot help).
 */
extern int	plan_admit(Plan *p, Event *e, PartState *st, char *err, size_t errlen);
/* Each touched partition's stored position: its last admitted change that is not a dead letter. */
extern void plan_advance(Event *events, PartState **states, size_t n);

/*
 * Prepares the tables of rows[0..n), in order, dead-letters the rows they
 * cannot take, and keeps the rest in rows[0..*kept).  Stops (*used < n) at
 * a change of a source key of a table with rows kept already: those are
 * applied first, under the key they had.
 */
extern bool plan_prepare(Plan *p, Row *rows, size_t n, size_t *kept, size_t *used, char *err, size_t errlen);
/* Rows of one table in a row: by table, then in the batch's order (qsort). */
extern int	plan_by_table(const void *x, const void *y);

#endif							/* PGCDC_SINK_PLAN_H */
