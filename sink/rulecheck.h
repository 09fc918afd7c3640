/*
 * rulecheck.h — the configured validation rules (rule.<schema>.<table>.<name>)
 * tried on their tables once, at start and by --check.
 *
 * The batch applies them (apply); this only makes a rule the target cannot
 * evaluate (a typo, a missing column) a configuration error at start,
 * instead of every row of its table a dead letter.
 */
#ifndef PGCDC_SINK_RULECHECK_H
#define PGCDC_SINK_RULECHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "target.h"

/*
 * Each rule of t's settings whose table exists evaluated once on no rows;
 * false with err naming the first that does not work.  A rule's table that
 * does not exist yet (auto.create) is checked by nothing here.
 */
extern bool rulecheck_run(Target *t, char *err, size_t errlen);

#endif							/* PGCDC_SINK_RULECHECK_H */
