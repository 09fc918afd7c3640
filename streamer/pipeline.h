/*
 * pipeline.h — one run of walstreamer: connect, make sure the slot is
 * there (creating it and snapshotting as snapshot.mode says), then stream
 * until stopped or until something fails.
 *
 * A run owns its connection and its producer; when it ends, both are gone,
 * and whatever Kafka had not acknowledged is streamed again by the next run
 * from the slot's confirmed position.
 */
#ifndef PGCDC_STREAMER_PIPELINE_H
#define PGCDC_STREAMER_PIPELINE_H

#include <stdbool.h>

#include "daemon.h"
#include "metrics.h"
#include "settings.h"
#include "topiclimits.h"

/*
 * OUTCOME_STOPPED: asked to stop, or snapshot.mode=initial_only done;
 * OUTCOME_RETRY: connection lost, delivery failed; OUTCOME_FATAL: retrying
 * cannot help.
 * connected: set once the source accepted a connection (retries make sense).
 * limits: the topics' limits learned so far, kept from one run to the next.
 */
extern Outcome pipeline_run(const Settings *s, Metrics *m, TopicLimits *limits, bool *connected);

#endif							/* PGCDC_STREAMER_PIPELINE_H */
