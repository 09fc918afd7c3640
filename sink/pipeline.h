/*
 * pipeline.h — one run of walsink: a target connection and a Kafka
 * consumer, batches applied until stopped or something fails.
 */
#ifndef PGCDC_SINK_PIPELINE_H
#define PGCDC_SINK_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

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

/*
 * A consumer configured as a run's (walsink's defaults, then the kafka.*
 * keys; its errors and librdkafka's logs through log.h) that never
 * subscribes: --check asks it for Kafka's metadata (check.h).  NULL with
 * err; pipeline_consumer_free destroys it and what it was given.
 */
extern rd_kafka_t *pipeline_consumer_new(const Settings *s, char *err, size_t errlen);
extern void pipeline_consumer_free(rd_kafka_t *rk);

#endif							/* PGCDC_SINK_PIPELINE_H */
