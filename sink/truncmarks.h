/*
 * truncmarks.h — the truncate marks: per target table, the source position
 * of the last TRUNCATE walsink applied to it, in pgcdc.sink_truncate.
 *
 * Every partition of a table's topic carries a copy of a TRUNCATE: the
 * first copy applied leaves the mark, and the copies at or behind it are not
 * applied again; nor is a change older than it, which the TRUNCATE wiped:
 * partitions are consumed side by side, and one behind the others still
 * brings changes from before it.
 * A mark is stored in the transaction that applied its TRUNCATE; the table
 * is created by target_connect (target.h).  Tables are named "schema.table",
 * unquoted.
 */
#ifndef PGCDC_SINK_TRUNCMARKS_H
#define PGCDC_SINK_TRUNCMARKS_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "tables.h"
#include "target.h"

/*
 * ti's truncate mark into ti (has_trunc_mark, trunc_mark), read once per
 * connection (trunc_known): false with err when reading it failed.
 */
extern bool truncmarks_load(Target *t, TableInfo *ti, char *err, size_t errlen);
/* pos NULL: the mark is forgotten (a new source history, source.change = resync). */
extern bool truncmarks_set(Target *t, const char *table, const Position *pos,
						   char *err, size_t errlen);

#endif							/* PGCDC_SINK_TRUNCMARKS_H */
