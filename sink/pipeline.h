/*
 * pipeline.h — one run of walsink: a target connection and a Kafka
 * consumer, batches applied until stopped or something fails.
 */
#ifndef PGCDC_SINK_PIPELINE_H
#define PGCDC_SINK_PIPELINE_H

#include <stdbool.h>

#include "daemon.h"
#include "metrics.h"
#include "settings.h"

/*
 * OUTCOME_STOPPED: by a signal, everything consumed applied; OUTCOME_RETRY:
 * the target or Kafka failed; OUTCOME_FATAL: configuration the run cannot
 * use, or changes lost in Kafka.  *connected: the target was reached at
 * least once (a retry can help).
 */
extern Outcome pipeline_run(const Settings *s, Metrics *m, bool *connected);
/* --check: the target, the dead-letter table, Kafka metadata. */
extern bool pipeline_check(const Settings *s);

#endif							/* PGCDC_SINK_PIPELINE_H */
