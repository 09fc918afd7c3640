/*
 * check.h — walstreamer --check: the source (its replication connection,
 * wal_level, output_plugin_libraries), the slot, the table lists, Kafka.
 *
 * Each finding is one line on stdout, "ok: ..." or "error: ...", the same
 * at every run: scripts and the tests read them.  Nothing is created or
 * changed, on the source or in Kafka.
 */
#ifndef PGCDC_STREAMER_CHECK_H
#define PGCDC_STREAMER_CHECK_H

#include <stdbool.h>

#include "settings.h"

/*
 * Connects to the source (stopping there when it cannot), says whether the
 * slot can be streamed from or created and whether the table lists parse,
 * then, unless output = stdout, asks Kafka's brokers.  true when all pass.
 */
extern bool check_run(const Settings *s);

#endif							/* PGCDC_STREAMER_CHECK_H */
