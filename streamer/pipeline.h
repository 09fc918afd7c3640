/*
 * pipeline.h — one run of walstreamer: connect, make sure the slot is
 * there (creating it and snapshotting as snapshot.mode says), then stream
 * until stopped or until something fails.
 *
 * A run owns its connection and its producer; when it ends, both are gone,
 * and whatever Kafka had not acknowledged is streamed again by the next run
 * from the slot's confirmed position.
 */
#ifndef PGCDC_PIPELINE_H
#define PGCDC_PIPELINE_H

#include <signal.h>
#include <stdbool.h>

#include "limits.h"
#include "metrics.h"
#include "settings.h"

typedef enum Outcome
{
	OUTCOME_STOPPED,			/* asked to stop, or snapshot.mode=initial_only done */
	OUTCOME_RETRY,				/* connection lost, delivery failed: run again after a pause */
	OUTCOME_FATAL				/* retrying cannot help: exit non-zero */
} Outcome;

/* Set by the signal handlers: how many stop signals arrived, and SIGHUP. */
extern volatile sig_atomic_t pipeline_stop_signals;
extern volatile sig_atomic_t pipeline_reopen_log;

/*
 * connected: set once the source accepted a connection (retries make sense).
 * limits: the topics' limits learned so far, kept from one run to the next.
 */
extern Outcome pipeline_run(const Settings *s, Metrics *m, Limits *limits, bool *connected);

/* --check: every check on stdout, "ok: ..." or "error: ..."; true when all pass. */
extern bool pipeline_check(const Settings *s);

#endif							/* PGCDC_PIPELINE_H */
