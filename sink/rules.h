/*
 * rules.h — a table's validation rules (rule.<schema>.<table>.<name> = expression)
 * over its staged rows: the rows that fail one become dead letters and
 * leave the stage before any statement writes it.
 */
#ifndef PGCDC_SINK_RULES_H
#define PGCDC_SINK_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "deadletters.h"
#include "row.h"
#include "target.h"

/*
 * Runs ti's rules on the rows staged from rows (sh: their shapes, as
 * rowcopy_stage made them); sql is the caller's scratch buffer.
 */
extern bool rules_check(Target *t, Buf *sql, TableInfo *ti, Row *rows, const Shapes *sh, DeadLetters *dead,
						char *err, size_t errlen);

#endif							/* PGCDC_SINK_RULES_H */
