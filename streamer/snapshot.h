/*
 * snapshot.h — the initial snapshot: every included table's rows as READ
 * records, consistent with the slot.
 *
 * The slot's exported snapshot is imported by snapshot.parallelism
 * connections, each in its own thread, taking tables from one queue
 * (largest first) and reading them through a cursor in chunks of
 * snapshot.fetch.size rows.  Each row becomes a message exactly like a
 * streamed change: the table's RELATION record followed by the row's READ
 * record, keyed by its key columns.  Delivery reports come back through
 * snapshot_delivered() on the main thread, which polls the producer while
 * the workers run.
 */
#ifndef PGCDC_STREAMER_SNAPSHOT_H
#define PGCDC_STREAMER_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka.h"
#include "metrics.h"
#include "settings.h"

/* Delivery reports of snapshot messages carry this bit in their opaque value. */
#define SNAPSHOT_OPAQUE (UINT64_C(1) << 63)

typedef struct Snapshot Snapshot;

/*
 * Lists the tables and starts the workers; returns once every worker has
 * imported the snapshot (so the exporting connection may move on), or NULL
 * with err.
 */
extern Snapshot *snapshot_start(const Settings *s, Kafka *k, Metrics *m, const char *snapshot_name,
								uint64_t lsn, char *err, size_t errlen);
/* Every worker finished, and every message produced was acknowledged. */
extern bool snapshot_complete(Snapshot *snap);
/* A worker or a delivery failed: true with err. */
extern bool snapshot_failed(Snapshot *snap, char *err, size_t errlen);
/* That failure is one a retry cannot help (a row above Kafka's limit, oversized.mode = fail). */
extern bool snapshot_fatal(Snapshot *snap);
extern void snapshot_delivered(Snapshot *snap, const char *failure);
/* Asks the workers to stop, waits for them, releases everything. */
extern void snapshot_free(Snapshot *snap);
/* Rows read so far. */
extern uint64_t snapshot_rows(Snapshot *snap);

#endif							/* PGCDC_STREAMER_SNAPSHOT_H */
