/*
 * fetchahead.h — how much walsink fetches ahead of its batches, bounded in
 * bytes, and the fetcher kept busy within that bound.
 *
 * librdkafka queues what it fetched, for all assigned partitions together,
 * up to queued.max.messages.kbytes (or queued.min.messages messages).  At
 * that bound, librdkafka 2.0 stops fetching and looks again only when its
 * broker thread next wakes: after up to a second (2.4 made this
 * fetch.queue.backoff.ms).  A small bound alone would leave walsink idle for
 * most of that second.  So walsink watches the queue as it takes messages:
 * once it was near the bound and has been drained to half of that, walsink
 * wakes the fetchers by asking the partitions' leaders for their end offsets
 * (a request on each leader's connection; the answer is not waited for).
 * Pausing instead is no way to bound the queue: librdkafka 2.0 drops what it
 * queued for a paused partition and fetches it again.
 */
#ifndef PGCDC_SINK_FETCHAHEAD_H
#define PGCDC_SINK_FETCHAHEAD_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

typedef struct FetchAhead FetchAhead;

/*
 * The consumer defaults that bound the fetch-ahead, for a table of {key,
 * value}: 4 MB of records or 12,500 of them, fetched at most 4 MB at a time.
 * librdkafka keeps FETCHAHEAD_MESSAGE_BYTES of its own beside each message,
 * so a count bound matters as much as the byte one for small changes.  At
 * 200,000 small changes a second the queue holds 60 ms of applying and is
 * refilled from half-way, many fetch round trips ahead of running dry.
 */
#define FETCHAHEAD_DEFAULTS \
	{"queued.max.messages.kbytes", "4096"}, \
	{"queued.min.messages", "12500"}, \
	{"fetch.max.bytes", "4194304"}

/* What librdkafka holds for each fetched message besides its key and value. */
#define FETCHAHEAD_MESSAGE_BYTES 400

/*
 * Watching rk's consumer queue, with the bounds rk was configured with.  Free
 * it before rd_kafka_destroy (it holds a reference to the queue); the
 * functions below take NULL, and do nothing.
 */
extern FetchAhead *fetchahead_new(rd_kafka_t *rk);
extern void fetchahead_free(FetchAhead *f);

/* The partitions assigned now (a copy is kept), or none. */
extern void fetchahead_assigned(FetchAhead *f, const rd_kafka_topic_partition_list_t *parts);

/* A message of this many bytes (key and value) was taken from the queue. */
extern void fetchahead_took(FetchAhead *f, size_t bytes);

/* Wakes the fetchers now (fetching resumed after a pause). */
extern void fetchahead_wake(FetchAhead *f);

#endif							/* PGCDC_SINK_FETCHAHEAD_H */
