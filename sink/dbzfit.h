/*
 * dbzfit.h — a Debezium message's values fitted to the target's columns.
 *
 * Debezium writes several PostgreSQL types as a number or as base64 text
 * (a date as days, a timestamp as ms or µs by its precision, a decimal as
 * its unscaled bytes, bytea and bit strings as bytes, hstore as a JSON
 * object), and without schemas nothing in the message says which.  The
 * target's column type does: once walsink knows the table (plan.c), each
 * value of such a form becomes the Value that type takes, as Debezium's
 * default modes wrote it (time.precision.mode = adaptive: precision 0 to 3
 * in ms, else µs).  A value that does not read as its column's type is a
 * dead letter, never written as something else (a base64 text into a bytea
 * column as its characters, say).
 */
#ifndef PGCDC_SINK_DBZFIT_H
#define PGCDC_SINK_DBZFIT_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "tables.h"

/*
 * Fits e's values (e->debezium) to ti's column types, in place, once
 * (e->fitted); map is tables_map(ti, e).  False with why for a value that
 * does not fit.
 */
extern bool dbzfit_event(Event *e, const TableInfo *ti, const int *map, char *why, size_t whylen);

/*
 * One value to a column of type type (format_type's text); hex: text for
 * bytea is hex (binary.handling.mode = hex), else base64.  New text goes
 * into alloc.
 */
extern bool dbzfit_value(Pgcdc__Value *v, const char *type, bool hex, ProtobufCAllocator *alloc,
						 char *why, size_t whylen);

#endif							/* PGCDC_SINK_DBZFIT_H */
