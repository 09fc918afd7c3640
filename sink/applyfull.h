/*
 * applyfull.h — the changes of a table without a key, in source order:
 * inserts copied in, updates and deletes (REPLICA IDENTITY FULL) each
 * applied to one target row equal to its old row, as PostgreSQL's
 * subscriptions do (which of several equal rows changes cannot matter).
 * The applier's part for such tables; the rows and buffers are the caller's.
 */
#ifndef PGCDC_SINK_APPLYFULL_H
#define PGCDC_SINK_APPLYFULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "deadletters.h"
#include "row.h"
#include "rowcopy.h"

/* Whether rows (of a table without a key) hold an update or delete to match on the old row. */
extern bool applyfull_needed(const Row *rows, size_t n);
/*
 * rows[0..n) of ti, a table without a key, through its staging table (which
 * must hold nothing of this batch); *applied gets how many were.
 */
extern bool applyfull_rows(RowCopy *c, Buf *sql, DeadLetters *dead, TableInfo *ti, Row *rows, size_t n,
						   int64_t *applied, char *err, size_t errlen);

#endif							/* PGCDC_SINK_APPLYFULL_H */
