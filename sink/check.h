/*
 * check.h — walsink --check: the target, the rules, Kafka's metadata.
 *
 * Each finding is one line on stdout, the same at every run: scripts and
 * the tests read them.
 */
#ifndef PGCDC_SINK_CHECK_H
#define PGCDC_SINK_CHECK_H

#include <stdbool.h>

#include "settings.h"

/*
 * Connects to the target (positions, dead letters, a superuser warning,
 * each rule tried), then asks Kafka for its metadata (brokers, the topics
 * applied now).  false when either half fails.
 */
extern bool check_run(const Settings *s);

#endif							/* PGCDC_SINK_CHECK_H */
