/*
 * stream.h — from the slot's CopyData messages to Kafka messages.
 *
 * Each XLogData message carries pgcdc records, one per message in JSON
 * (stdout), else a batch of them each preceded by its length as a varint (the
 * decoder's batch-bytes option, STREAM_BATCH_BYTES); or, with
 * source.plugin = pgoutput, one pgoutput message, which pgorecords.h makes
 * into such a batch.  RELATION records are
 * remembered; every change becomes one Kafka message (two for a key change,
 * one per partition for a truncate) whose value is the relation's record
 * followed by the change's bytes, so it describes itself.  Transactions are
 * registered with the acknowledgement tracker, which decides the flush
 * position reported to the server.
 *
 * When the producer's queue is full the messages wait in the stream's
 * outbox (at most one batch of them); the caller must not hand in another CopyData message until
 * stream_drain() empties it.  That is the back-pressure: the socket is not
 * read, the walsender blocks, nothing is dropped.
 */
#ifndef PGCDC_STREAMER_STREAM_H
#define PGCDC_STREAMER_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "kafka.h"
#include "metrics.h"
#include "pgorecords.h"
#include "settings.h"
#include "signals.h"
#include "snapwatch.h"

/* The most bytes of keys kept per streamed transaction for the snapshot (streamtxn.h). */
#define STREAM_KEYS_MEM (16 * 1024 * 1024)

/* The decoder sends a batch once it holds this many bytes, or at COMMIT. */
#define STREAM_BATCH_BYTES (256 * 1024)

typedef struct Stream Stream;

/*
 * out: print records (JSON) there instead of producing; k is then NULL.
 * pgo: the CopyData messages are pgoutput's, made into records by it (the
 * caller's); NULL: they are the pgcdc plugin's.
 */
extern Stream *stream_new(const Settings *s, Kafka *k, FILE *out, Metrics *m, uint64_t start_lsn,
						  SnapWatch *watch, Signals *signals, PgoRecords *pgo);
extern void stream_free(Stream *st);

/*
 * Handles one CopyData message; false with err when the stream cannot go
 * on: then stream_retryable() says whether the cause was Kafka's (a
 * refusal, a fatal producer error, a topic without metadata), which a
 * restart from the slot may get past, or one a restart cannot help (a
 * malformed record, a change above Kafka's limit with oversized.mode = fail).
 */
extern bool stream_message(Stream *st, const char *buf, size_t len, char *err, size_t errlen);
/* Retries the outbox; false with err on a produce error (see stream_retryable). */
extern bool stream_drain(Stream *st, char *err, size_t errlen);
extern bool stream_retryable(const Stream *st);
extern bool stream_blocked(const Stream *st);

/* The delivery report of a message this stream produced. */
/* failure: NULL when acknowledged, else why not (see KafkaDeliveryFn). */
extern void stream_delivered(Stream *st, uint64_t txn, const char *topic, int32_t partition, int64_t offset,
							 const char *failure);

/* Whether the server asked for a status update since the last call. */
extern bool stream_take_reply_request(Stream *st);
extern uint64_t stream_received_lsn(const Stream *st);
extern uint64_t stream_flush_lsn(const Stream *st);
/* A delivery failed: the pipeline must restart from the slot.  err says why. */
extern bool stream_failed(const Stream *st, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_STREAM_H */
