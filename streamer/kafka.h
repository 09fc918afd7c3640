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
#ifndef PGCDC_STREAMER_KAFKA_H
#define PGCDC_STREAMER_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "topiclimits.h"

typedef struct Kafka Kafka;

/*
 * failure: NULL when Kafka acknowledged the message (at offset of topic's
 * partition), else why not, for a log line.
 */
typedef void (*KafkaDeliveryFn) (void *arg, uint64_t opaque, const char *topic, int32_t partition,
								 int64_t offset, const char *failure);

/* Header values of one message: the Debezium-style op letter and the commit LSN. */
typedef struct KafkaHeaders
{
	char		op;				/* c u d t r m b e */
	uint64_t	commit_lsn;
	const char *key_role;		/* "old" on the old key's copy of a key change; else NULL */
	size_t		oversized;		/* a stand-in: the size of the change it stands for; else 0 */
	/*
	 * value.format = debezium-json, a key change: Debezium's header naming
	 * the row's other key ("__debezium.newkey" on the old key's delete and
	 * tombstone, "__debezium.oldkey" on the new key's create) and that key's
	 * JSON, NUL-terminated; else NULL.  The value is malloc'd and belongs to
	 * whoever holds the headers until the message is produced (stream.c).
	 */
	const char *other_key_name;
	char	   *other_key;
	/*
	 * value.format = debezium-json: the change's index in its transaction
	 * (header pgcdc.seq), which with pgcdc.commit_lsn places it exactly for
	 * walsink, as a pgcdc record's own fields do.
	 */
	bool		with_seq;
	uint32_t	seq;
} KafkaHeaders;

/* Why a message does not fit: its size and the limit it is above. */
typedef struct Oversize
{
	size_t		size;			/* in bytes, as that limit counts them */
	size_t		limit;
	const char *limit_name;		/* "message.max.bytes" (the producer's) or "max.message.bytes" (the topic's) */
	const char *topic;
} Oversize;

/* What kafka_produce() did with a message. */
typedef enum KafkaResult
{
	KAFKA_QUEUED,				/* the producer has it (and its value) */
	KAFKA_QUEUE_FULL,			/* nothing changed: poll, then try again */
	KAFKA_TOO_LARGE,			/* above the producer's or the topic's limit (see Oversize): nothing changed */
	KAFKA_REFUSED				/* any other error, err says which: the pipeline restarts */
} KafkaResult;

/* Checks the kafka.* keys without starting a producer; false with err. */
extern bool kafka_validate(const Config *c, char *err, size_t errlen);
/*
 * limits: the topics' limits learned from refusals (the caller's, it must
 * outlive the producer; NULL: none are learned), filled by the delivery
 * reports of messages the brokers refused as too large.
 */
extern Kafka *kafka_new(const Config *c, TopicLimits *limits, KafkaDeliveryFn cb, void *arg,
						char *err, size_t errlen);
/*
 * Waits up to flush_ms for outstanding deliveries, then drops the rest; their
 * reports are served before it returns.  Then release every topic handle,
 * and only then kafka_free().
 */
/*
 * Every message from now on carries header pgcdc.source = source: the
 * source's system identifier, timeline, database and slot; and after a
 * promotion (timeline 2 on), pgcdc.source.history = history: where each
 * earlier timeline ended (source_timeline_history).
 */
extern void kafka_set_source(Kafka *k, const char *source, const char *history);
extern void kafka_stop(Kafka *k, int flush_ms);
extern void kafka_free(Kafka *k);

extern int	kafka_fd(Kafka *k);
/* Serves delivery reports and errors; never blocks. */
extern void kafka_poll(Kafka *k);

/* A topic handle, created on first use (released with kafka_topic_release). */
extern rd_kafka_topic_t *kafka_topic(Kafka *k, const char *name);
/* One more reference to a handle held (released with kafka_topic_release): no copy of the topic's settings. */
extern rd_kafka_topic_t *kafka_topic_keep(Kafka *k, rd_kafka_topic_t *rkt);
extern void kafka_topic_release(void *rkt);

/*
 * Queues one message.  value is malloc'd and becomes the producer's when
 * queued; otherwise it stays the caller's.  A message above the producer's
 * message.max.bytes, or above a topic limit learned from a refusal, is
 * KAFKA_TOO_LARGE with *big filled (its topic points into rkt).
 * partition: RD_KAFKA_PARTITION_UA to partition by key.
 */
extern KafkaResult kafka_produce(Kafka *k, rd_kafka_topic_t *rkt, int32_t partition,
								 const void *key, size_t keylen, void *value, size_t len,
								 const KafkaHeaders *h, uint64_t opaque, Oversize *big,
								 char *err, size_t errlen);

/* Messages queued or in flight. */
extern int	kafka_outstanding(Kafka *k);
/*
 * The partition count of a topic (from metadata), or -1 with err.  Asking
 * creates a topic the brokers create on demand (auto.create.topics.enable),
 * as producing to it would: a new topic is asked again until it has its
 * partitions, up to timeout_ms.  A count learned is kept (for any thread)
 * and asked again after PARTITIONS_FRESH_MS, waiting a second at most:
 * without an answer (brokers down), the count known goes on.
 */
extern int	kafka_partitions(Kafka *k, rd_kafka_topic_t *rkt, int timeout_ms, char *err, size_t errlen);
/*
 * The partition a message without a key goes to (the topic's own, always
 * the same): for the messages of a table without a key of its own that
 * message.key.columns gives a Kafka key, which stay together.  -1 with err
 * when the partition count is not known (kafka_partitions).
 */
extern int32_t kafka_keyless_partition(Kafka *k, rd_kafka_topic_t *rkt, char *err, size_t errlen);
/*
 * Asks the brokers for the max.message.bytes of every topic the limits
 * hold (each refused a message as too large), which is then that topic's
 * limit; a topic that takes the message it refused (the refusal was of a
 * batch of several) is forgotten, with a warning.  Without an answer (no
 * DescribeConfigs permission, a timeout) the limit is taken as one byte
 * below the largest message refused, with a warning.  Logs what it learns.
 */
extern void kafka_learn_limits(Kafka *k, int timeout_ms);
/* A fatal producer error (e.g. idempotence violated): true with err. */
extern bool kafka_fatal(Kafka *k, char *err, size_t errlen);
/* Asks the cluster for its metadata: brokers reachable and answering. */
extern bool kafka_check(Kafka *k, int timeout_ms, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_KAFKA_H */
