/*
 * row.h — a change of the batch on its way to the target: the event and the
 * target table it goes to.  Every part of applying a batch works on arrays
 * of these (plan.h orders them, dedupe.h keeps one per key, rowcopy.h copies
 * them, keychange.h resolves key changes among them).  The events belong to
 * the batch, the tables to Tables.
 *
 * Shapes: the staged rows of one table grouped by shape, per target column
 * whether the row has a value, and its op (rowcopy.h fills them, rules.h and
 * stmt.h read them; stmt_shapes_init and stmt_shapes_free make and free them).
 */
#ifndef PGCDC_SINK_ROW_H
#define PGCDC_SINK_ROW_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "tables.h"

typedef struct Row
{
	Event	   *e;
	TableInfo  *ti;
} Row;

/* A shape's signature: per target column '1' when it has a value, then its op, then NUL. */
#define SIG_LEN(ti) ((ti)->ncols + 2)

/* The shapes of a table's staged rows (rowcopy_stage makes them; the caller frees them, stmt_shapes_free). */
typedef struct Shapes
{
	char	   *sig;			/* nsig signatures of SIG_LEN bytes each */
	size_t		nsig;
	int		   *group;			/* per row: its shape, -1 for a delete */
	size_t		nrows;
	bool		partial;		/* a staged row lacks a column (a TOASTed value left unchanged) */
} Shapes;

#endif							/* PGCDC_SINK_ROW_H */
