/*
 * kafka.h — walstreamer's librdkafka producer.
 *
 * Idempotent, acks=all; a keyed message goes to the partition of its key's
 * murmur2 hash (the Java client's key → partition mapping), a message
 * without a key to one partition a topic, so per-key order survives retries
 * and a resend lands where its first copy did.  The kafka.*
 * keys of the configuration are passed to librdkafka unchanged, except that
 * the settings the delivery guarantee rests on cannot be weakened.
 *
 * Delivery reports are served on the caller's thread by kafka_poll(); the
 * callback gets back the opaque value given to kafka_produce().  The
 * producer signals its readiness on kafka_fd(), for poll().
 */
#ifndef PGCDC_KAFKA_H
#define PGCDC_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

typedef struct Kafka Kafka;

/* failure: NULL when Kafka acknowledged the message, else why not, for a log line. */
typedef void (*KafkaDeliveryFn) (void *arg, uint64_t opaque, const char *failure);

/* Header values of one message: the Debezium-style op letter and the commit LSN. */
typedef struct KafkaHeaders
{
	char		op;				/* c u d t r m b e */
	uint64_t	commit_lsn;
	const char *key_role;		/* "old" on the old key's copy of a key change; else NULL */
} KafkaHeaders;

/* Checks the kafka.* keys without starting a producer; false with err. */
extern bool kafka_validate(const Config *c, char *err, size_t errlen);
extern Kafka *kafka_new(const Config *c, KafkaDeliveryFn cb, void *arg, char *err, size_t errlen);
/*
 * Waits up to flush_ms for outstanding deliveries, then drops the rest; their
 * reports are served before it returns.  Then release every topic handle,
 * and only then kafka_free().
 */
extern void kafka_stop(Kafka *k, int flush_ms);
extern void kafka_free(Kafka *k);

extern int	kafka_fd(Kafka *k);
/* Serves delivery reports and errors; never blocks. */
extern void kafka_poll(Kafka *k);

/* A topic handle, created on first use (released with kafka_topic_release). */
extern rd_kafka_topic_t *kafka_topic(Kafka *k, const char *name);
extern void kafka_topic_release(void *rkt);

/*
 * Queues one message.  value is malloc'd and becomes the producer's on
 * success.  Returns 1 when queued, 0 when the queue is full (nothing
 * changed: poll, then try again), -1 on any other error (err set).
 * partition: RD_KAFKA_PARTITION_UA to partition by key.
 */
extern int	kafka_produce(Kafka *k, rd_kafka_topic_t *rkt, int32_t partition,
						  const void *key, size_t keylen, void *value, size_t len,
						  const KafkaHeaders *h, uint64_t opaque, char *err, size_t errlen);

/* Messages queued or in flight. */
extern int	kafka_outstanding(Kafka *k);
/* The partition count of a topic (from metadata), or -1 with err. */
extern int	kafka_partitions(Kafka *k, rd_kafka_topic_t *rkt, int timeout_ms, char *err, size_t errlen);
/* A fatal producer error (e.g. idempotence violated): true with err. */
extern bool kafka_fatal(Kafka *k, char *err, size_t errlen);
/* Asks the cluster for its metadata: brokers reachable and answering. */
extern bool kafka_check(Kafka *k, int timeout_ms, char *err, size_t errlen);

#endif							/* PGCDC_KAFKA_H */
