/*
 * deadtable.h — dead letters stored in the target's dead-letter table
 * (dead.letter.table), beside the rows of the batch that refused them.
 *
 * A dead letter is written in the batch's transaction, so it commits with
 * the positions that go past it, or not at all.  They may also go to a
 * Kafka topic (deadtopic.h); the table always has them.  The table is
 * created by target_connect (target.h), which keeps its quoted name
 * (Target.dead_letter).
 */
#ifndef PGCDC_SINK_DEADTABLE_H
#define PGCDC_SINK_DEADTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "target.h"

/*
 * Records e as a dead letter (inside the open transaction); *written is false
 * when the table holds it already (the same message consumed again).  Its
 * key and value are kept up to EVENT_DEAD_KEEP bytes, value_bytes the
 * value's size.
 */
extern bool deadtable_write(Target *t, const Event *e, const char *reason, const char *detail,
							bool *written, char *err, size_t errlen);

#endif							/* PGCDC_SINK_DEADTABLE_H */
