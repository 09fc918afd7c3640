/*
 * snapshot.h — tables read in chunks by key while the stream goes on:
 * incremental, resumable, with no long transaction on the source.
 *
 * What is to be read is a row per table in the source's
 * pgcdc.snapshot_progress (written by progress.h at the slot's first start,
 * with snapshot.mode = always or a changed include list, and by signals.h);
 * snapshot_start reads what is not done yet with snapshot.parallelism
 * connections, largest tables first.  A table is read in parts (key ranges
 * chosen from a sample of its keys when it is first taken, kept in
 * pgcdc.snapshot_part), so that the connections share a big table.  Each
 * chunk of a part (snapshot.chunk.rows rows in key order, at most
 * SNAPSHOT_CHUNK_BYTES) is read in its own short REPEATABLE READ transaction
 * and handed to the stream through snapwatch.h, which places it at its
 * watermark.  Once Kafka has acknowledged a chunk (the stream's flush
 * position passed its watermark) its last key is written to its part's row:
 * a restart, even after kill -9, goes on from the next chunk of each part.
 *
 * A table without a key (no primary key or replica identity index) is read
 * in one chunk, at most SNAPSHOT_KEYLESS_BYTES: its rows cannot be told
 * apart from the stream's changes, so a chunk during which the table changed
 * is read again, and after SNAPSHOT_KEYLESS_TRIES such reads, under a SHARE
 * lock (writers of that table wait for the read, as for CREATE INDEX).
 */
#ifndef PGCDC_STREAMER_SNAPSHOT_H
#define PGCDC_STREAMER_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka.h"
#include "metrics.h"
#include "settings.h"
#include "snapwatch.h"

#define SNAPSHOT_CHUNK_BYTES (4 * 1024 * 1024)
#define SNAPSHOT_KEYLESS_BYTES (32 * 1024 * 1024)
/* A chunk's keys at most: its range record lists them all, on every partition. */
#define SNAPSHOT_KEEP_BYTES (256 * 1024)
/* A table without a key changed under this many reads is read under a SHARE lock. */
#define SNAPSHOT_KEYLESS_TRIES 3

typedef struct Snapshot Snapshot;

/*
 * Starts the workers on the tables not read yet; NULL with err empty when
 * there are none, NULL with err on failure.  k (NULL: none) is asked for
 * each table's partition count before its chunks are read, so that the
 * stream knows it when it places them, also while the brokers are down.
 */
extern Snapshot *snapshot_start(const Settings *s, SnapWatch *w, Kafka *k, Metrics *m, char *err, size_t errlen);
/* The stream's flush position: chunks whose watermark it passed are acknowledged. */
extern void snapshot_flushed(Snapshot *snap, uint64_t lsn);
/* Every table read and acknowledged. */
extern bool snapshot_complete(Snapshot *snap);
/* A worker failed: true with err. */
extern bool snapshot_failed(Snapshot *snap, char *err, size_t errlen);
/* That failure is one a retry cannot help (a keyless table too large to read in one piece). */
extern bool snapshot_fatal(Snapshot *snap);
/* Asks the workers to stop, waits for them, releases everything. */
extern void snapshot_free(Snapshot *snap);
/* Rows read so far. */
extern uint64_t snapshot_rows(Snapshot *snap);

#endif							/* PGCDC_STREAMER_SNAPSHOT_H */
