/*
 * row.h — a change of the batch on its way to the target: the event and the
 * target table it goes to.  Every part of applying a batch works on arrays
 * of these (plan.h orders them, dedupe.h keeps one per key, rowcopy.h copies
 * them, keychange.h resolves key changes among them).  The events belong to
 * the batch, the tables to Tables.
 */
#ifndef PGCDC_SINK_ROW_H
#define PGCDC_SINK_ROW_H

#include "event.h"
#include "tables.h"

typedef struct Row
{
	Event	   *e;
	TableInfo  *ti;
} Row;

#endif							/* PGCDC_SINK_ROW_H */
