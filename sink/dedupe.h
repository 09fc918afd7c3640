/*
 * dedupe.h — a table's rows of a batch per key: the last change of a key
 * decides its row, taking the values of TOASTed columns it left unchanged
 * from the key's earlier changes in the batch (else they would be lost).
 * Pure: no target, no Kafka.
 */
#ifndef PGCDC_SINK_DEDUPE_H
#define PGCDC_SINK_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>

#include "row.h"

/* Rows by key, then source position (qsort). */
extern int	dedupe_cmp(const void *x, const void *y);

/* Keeps the last row per key of rows sorted so, given what earlier ones set; returns how many are left. */
extern size_t dedupe_rows(Row *rows, size_t n);

/*
 * The value of e's column i (e = rows[r]) as the key's changes before it in
 * the batch left it: the latest one that has it.  NULL when none has it, and
 * *before_batch says whether the target's row from before the batch has it:
 * no change here began the key's row (a delete, a key change's new key).
 */
extern Pgcdc__Value *dedupe_earlier_value(Row *rows, size_t r, const Event *e, size_t i, bool *before_batch);

#endif							/* PGCDC_SINK_DEDUPE_H */
