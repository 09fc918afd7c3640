/*
 * kafka.c — the producer: configuration, produce with headers, delivery
 * reports through a pipe that wakes the event loop.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "runtime.h"
#include "thousands.h"
#include "wire.h"
#include "xalloc.h"

struct Kafka
{
	char		source[256];	/* header pgcdc.source: "" until set */
	char		history[512];	/* header pgcdc.source.history: "" on timeline 1 */
	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;
	int			wake[2];		/* librdkafka writes to [1] when its queue fills */
	KafkaDeliveryFn cb;
	void	   *arg;
	char		bootstrap[512];	/* for the messages that must name it */
	TopicLimits *limits;		/* the caller's; may be NULL */
	size_t		max_message_bytes;	/* the producer's message.max.bytes */

	/* Partition counts as last learned (kafka_partitions), for any thread. */
	pthread_mutex_t counts_lock;
	struct PartitionCount
	{
		char	   *topic;
		int			n;
		int64_t		at_ms;		/* when learned, or last asked again in vain */
	}		   *counts;
	size_t		ncounts;
};

/* A topic's partition count is asked again after this long... */
#define PARTITIONS_FRESH_MS 30000
/* ...for this long at most: without an answer, the count known goes on. */
#define PARTITIONS_RECHECK_MS 1000

/* Defaults first; the user's kafka.* keys may change all but the guarantee's. */
static const char *const defaults[][2] = {
	{"client.id", "walstreamer"},
	{"enable.idempotence", "true"},
	{"enable.gapless.guarantee", "true"},
	{"acks", "all"},
	{"sticky.partitioning.linger.ms", "0"},	/* else keyless messages bypass partition_of */
	{"linger.ms", "5"},
	{"batch.num.messages", "10000"},
	{"queue.buffering.max.kbytes", "4096"},	/* bounds memory; no faster above */
	{"queue.buffering.max.messages", "100000"},
	{"message.timeout.ms", "300000"},
	{NULL, NULL}
};

/* Settings that would let an acknowledged message be lost or reordered. */
/*
 * Gapless: without it, a batch that fails for good may be followed by later
 * batches of the same partition that succeed, and the resend after the
 * restart would come after them.  With it, that failure is fatal at once.
 */
static const char *const guarded[][2] = {
	{"enable.idempotence", "true"},
	{"enable.gapless.guarantee", "true"},
	{"acks", "all"},
	{"sticky.partitioning.linger.ms", "0"},
	{NULL, NULL}
};

/*
 * librdkafka's log, as the daemons log it, less its notice at every start
 * that enable.gapless.guarantee is experimental: walstreamer sets it on
 * purpose (guarded above), and an operator can do nothing about it.
 */
static void
log_producer(const rd_kafka_t *rk, int level, const char *facility, const char *message)
{
	if (strcmp(facility, "CONFWARN") == 0 && strstr(message, "enable.gapless.guarantee is experimental"))
		level = 7;				/* debug */
	log_rdkafka(rk, level, facility, message);
}

/* The refusals an operator must fix, and what to change. */
#define HINT_TOPIC "the topic does not exist and the brokers do not create it " \
	"(auto.create.topics.enable=false): create it"
#define HINT_SIZE "more than the topic takes: raise its max.message.bytes (and kafka.message.max.bytes " \
	"here, the consumers' fetch.message.max.bytes); until then oversized.mode decides"
static const struct
{
	rd_kafka_resp_err_t err;
	const char *hint;
}			hints[] = {
	{RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, HINT_TOPIC},
	{RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, HINT_TOPIC},
	{RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, HINT_SIZE},	/* also librdkafka's own check */
	{RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE, HINT_SIZE},
	{RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "grant this client WRITE on the topic"},
};

static const char *
hint_for(rd_kafka_resp_err_t err)
{
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (hints[i].err == err)
			return hints[i].hint;
	return NULL;
}

/* A message Kafka refused, in words: the topic, its size, the reason and what to do. */
static void
describe_failure(char *out, size_t outlen, const char *topic, rd_kafka_resp_err_t err, size_t len)
{
	const char *hint = hint_for(err);

	snprintf(out, outlen, "delivery to %s of a message of %zu bytes failed: %s%s%s", topic, len,
			 rd_kafka_err2str(err), hint ? ": " : "", hint ? hint : "");
}

/*
 * librdkafka's reckoning of a message against its own message.max.bytes
 * (rd_kafka_msg_max_wire_size): key, value, headers and the most a v2
 * record's framing can take.
 */
#define RECORD_MAX_OVERHEAD 36

/* A v2 record writes its lengths and counts as protobuf's sint64 does: zigzag varints. */
static size_t
varint_len(int64_t v)
{
	return wire_varint_size(wire_zigzag64(v));
}

/* Headers as a v2 record writes them: the count, then each name and value with their lengths. */
static size_t
headers_bytes(const rd_kafka_headers_t *hdrs, bool framed)
{
	size_t		n = framed ? varint_len(hdrs ? (int64_t) rd_kafka_header_cnt(hdrs) : 0) : 0;
	const char *name;
	const void *value;
	size_t		size;

	for (size_t i = 0; hdrs && rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == 0; i++)
		n += strlen(name) + size + (framed ? varint_len((int64_t) strlen(name)) + varint_len((int64_t) size) : 4);
	return n;
}

/*
 * A message alone in its record batch, in bytes, as a broker measures it
 * against the topic's max.message.bytes: the batch's 61 bytes of framing
 * and one record (uncompressed: with kafka.compression.type set the brokers
 * see less, so this errs on the large side).
 */
static size_t
batch_bytes(size_t keylen, size_t len, const rd_kafka_headers_t *hdrs)
{
	size_t		body = 1 + 1 + 1 +	/* attributes, timestamp and offset deltas (0) */
		(keylen ? varint_len((int64_t) keylen) + keylen : 1) +
		varint_len((int64_t) len) + len + headers_bytes(hdrs, true);

	return 61 + varint_len((int64_t) body) + body;
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	Kafka	   *k = opaque;
	char		failure[600];
	rd_kafka_headers_t *hdrs = NULL;

	if (msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && k->limits != NULL && msg->rkt != NULL)
	{
		/* The brokers' refusal: the next pipeline learns the topic's limit (topiclimits.h). */
		(void) rd_kafka_message_headers(msg, &hdrs);
		topiclimits_refused(k->limits, rd_kafka_topic_name(msg->rkt), batch_bytes(msg->key_len, msg->len, hdrs));
	}
	if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		describe_failure(failure, sizeof(failure), msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?",
						 msg->err, msg->len);
	k->cb(k->arg, (uint64_t) (uintptr_t) msg->_private, msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?",
		  msg->partition, msg->offset, msg->err == RD_KAFKA_RESP_ERR_NO_ERROR ? NULL : failure);
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	Kafka	   *k = opaque;

	/* Fatal errors are reported by the pipeline (kafka_fatal); the rest librdkafka retries. */
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE)
		log_msg(LOG_WARNING, "kafka: no broker of kafka.bootstrap.servers (%s) answers (%s); "
				"changes wait for one, the slot stays where it is", k->bootstrap, reason);
	else if (err != RD_KAFKA_RESP_ERR__FATAL)
		log_msg(LOG_WARNING, "kafka: %s", reason);
}

static bool
set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *origin,
	char *err, size_t errlen)
{
	char		why[512];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
		return true;
	snprintf(err, errlen, "%s: kafka.%s: %s", origin, name, why);
	return false;
}

static bool
guard(const char *name, const char *value, const char *origin, char *err, size_t errlen)
{
	if (strcmp(name, "partitioner") == 0)
	{
		snprintf(err, errlen, "%s: kafka.partitioner cannot be set: walstreamer places each change "
				 "itself (by the murmur2 hash of its key, as Kafka's Java client; a table without a "
				 "key on one partition), so that a change sent again lands where its first copy did",
				 origin);
		return false;
	}
	for (int i = 0; guarded[i][0]; i++)
	{
		if (strcmp(name, guarded[i][0]) == 0 && strcmp(value, guarded[i][1]) != 0 &&
			!(strcmp(value, "-1") == 0 && strcmp(name, "acks") == 0))
		{
			snprintf(err, errlen, "%s: kafka.%s must stay \"%s\": walstreamer confirms to the slot "
					 "only what Kafka holds durably and in order", origin, name, guarded[i][1]);
			return false;
		}
	}
	return true;
}

/*
 * Where a message goes.  A key: its murmur2 hash, as Kafka's Java client and
 * librdkafka's murmur2 partitioners do, so per-key order holds.  No key (a
 * table without a primary key or replica identity index, an unnamed logical
 * message): the partition that the topic's own hash picks, always the same.
 * A random choice would send a resent change (after a restart) to another
 * partition than its first copy, where walsink's position of that partition
 * could not recognise it, and order between a keyless row's changes would
 * be lost.  rkt_opaque is the topic name's hash (kafka_topic).
 */
static int32_t
partition_of(const rd_kafka_topic_t *rkt, const void *key, size_t keylen, int32_t partition_cnt,
			 void *rkt_opaque, void *msg_opaque)
{
	if (keylen == 0)
		return (int32_t) ((uintptr_t) rkt_opaque % (uint32_t) partition_cnt);
	return rd_kafka_msg_partitioner_murmur2(rkt, key, keylen, partition_cnt, rkt_opaque, msg_opaque);
}

/* FNV-1a, 32 bits: a stable hash of a topic name. */
static uint32_t
name_hash(const char *name)
{
	uint32_t	h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* The producer configuration: defaults, then the user's kafka.* keys. */
static rd_kafka_conf_t *
build_conf(const Config *c, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_conf_t *tconf;

	for (int i = 0; defaults[i][0]; i++)
	{
		if (!set(conf, defaults[i][0], defaults[i][1], "default", err, errlen))
			goto fail;
	}
	for (size_t i = 0; i < config_passthrough_count(c); i++)
	{
		const char *name = config_passthrough_name(c, i) + strlen("kafka.");
		const char *value = config_passthrough_value(c, i);

		if (strncmp(config_passthrough_name(c, i), "kafka.", strlen("kafka.")) != 0)
			continue;			/* column.mask.*: colpolicy.h */

		if (!guard(name, value, "configuration", err, errlen) ||
			!set(conf, name, value, "configuration", err, errlen))
			goto fail;
	}
	/* Topic-level defaults above (message.timeout.ms) made the default topic conf. */
	tconf = rd_kafka_conf_get_default_topic_conf(conf);
	if (tconf == NULL)
	{
		snprintf(err, errlen, "kafka: no default topic configuration");
		goto fail;
	}
	rd_kafka_topic_conf_set_partitioner_cb(tconf, partition_of);
	return conf;

fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

bool
kafka_validate(const Config *c, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = build_conf(c, err, errlen);

	if (conf == NULL)
		return false;
	rd_kafka_conf_destroy(conf);
	return true;
}

Kafka *
kafka_new(const Config *c, TopicLimits *limits, KafkaDeliveryFn cb, void *arg, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf;
	Kafka	   *k = xcalloc(1, sizeof(Kafka));
	char		why[512];
	size_t		size;

	pthread_mutex_init(&k->counts_lock, NULL);

	k->wake[0] = k->wake[1] = -1;
	k->cb = cb;
	k->arg = arg;
	k->limits = limits;
	if ((conf = build_conf(c, err, errlen)) == NULL)
		goto fail;
	size = sizeof(k->bootstrap);
	if (rd_kafka_conf_get(conf, "bootstrap.servers", k->bootstrap, &size) != RD_KAFKA_CONF_OK)
		snprintf(k->bootstrap, sizeof(k->bootstrap), "unset");
	size = sizeof(why);
	if (rd_kafka_conf_get(conf, "message.max.bytes", why, &size) == RD_KAFKA_CONF_OK)
		k->max_message_bytes = (size_t) strtoull(why, NULL, 10);
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, log_producer);
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) == NULL)
	{
		snprintf(err, errlen, "kafka: %s", why);
		goto fail;
	}
	conf = NULL;				/* rd_kafka_new() owns it now */
	if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC) != 0)
	{
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	k->mainq = rd_kafka_queue_get_main(k->rk);
	rd_kafka_queue_io_event_enable(k->mainq, k->wake[1], "1", 1);
	return k;

fail:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	kafka_free(k);
	return NULL;
}

void
kafka_stop(Kafka *k, int flush_ms)
{
	if (k == NULL || k->rk == NULL)
		return;
	if (flush_ms > 0)
		rd_kafka_flush(k->rk, flush_ms);
	if (rd_kafka_outq_len(k->rk) > 0)
	{
		/* What was not delivered is resent from the slot by the next pipeline. */
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(k->rk, 0);
	}
}

void
kafka_free(Kafka *k)
{
	if (k == NULL)
		return;
	if (k->rk != NULL)
	{
		if (k->mainq != NULL)
		{
			rd_kafka_queue_io_event_enable(k->mainq, -1, NULL, 0);
			rd_kafka_queue_destroy(k->mainq);
		}
		rd_kafka_destroy(k->rk);
	}
	if (k->wake[0] >= 0)
		close(k->wake[0]);
	if (k->wake[1] >= 0)
		close(k->wake[1]);
	for (size_t i = 0; i < k->ncounts; i++)
		free(k->counts[i].topic);
	free(k->counts);
	pthread_mutex_destroy(&k->counts_lock);
	free(k);
}

int
kafka_fd(Kafka *k)
{
	return k->wake[0];
}

void
kafka_poll(Kafka *k)
{
	char		buf[256];

	while (read(k->wake[0], buf, sizeof(buf)) > 0)
		;
	rd_kafka_poll(k->rk, 0);
}

rd_kafka_topic_t *
kafka_topic(Kafka *k, const char *name)
{
	rd_kafka_topic_conf_t *tconf = rd_kafka_default_topic_conf_dup(k->rk);

	if (tconf == NULL)
		return NULL;
	rd_kafka_topic_conf_set_opaque(tconf, (void *) (uintptr_t) name_hash(name));
	/* Takes tconf, also when it returns an existing handle (same name, same hash). */
	return rd_kafka_topic_new(k->rk, name, tconf);
}

rd_kafka_topic_t *
kafka_topic_keep(Kafka *k, rd_kafka_topic_t *rkt)
{
	/* An existing topic without a configuration: librdkafka only counts the reference. */
	return rd_kafka_topic_new(k->rk, rd_kafka_topic_name(rkt), NULL);
}

void
kafka_topic_release(void *rkt)
{
	rd_kafka_topic_destroy(rkt);
}

void
kafka_set_source(Kafka *k, const char *source, const char *history)
{
	snprintf(k->source, sizeof(k->source), "%s", source);
	snprintf(k->history, sizeof(k->history), "%s", history);
}

/*
 * rd_kafka_producev's twin (librdkafka keeps them in step), with the
 * message as an array: RD_KAFKA_V_* type-check their arguments in GNU
 * statement expressions, which ISO C has not.  On failure value and hdrs
 * are still the caller's.
 */
static rd_kafka_resp_err_t
produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, const void *key, size_t keylen,
		void *value, size_t len, rd_kafka_headers_t *hdrs, uint64_t opaque)
{
	rd_kafka_vu_t vu[] = {
		{.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = rkt},
		{.vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = partition},
		{.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_FREE},
		{.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *) key, keylen}},
		{.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {value, len}},
		{.vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs},
		{.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = (void *) (uintptr_t) opaque},
	};
	rd_kafka_error_t *error;
	rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR_NO_ERROR;

	if ((error = rd_kafka_produceva(rk, vu, sizeof(vu) / sizeof(vu[0]))) != NULL)
	{
		rc = rd_kafka_error_code(error);
		rd_kafka_error_destroy(error);
	}
	return rc;
}

KafkaResult
kafka_produce(Kafka *k, rd_kafka_topic_t *rkt, int32_t partition,
			  const void *key, size_t keylen, void *value, size_t len,
			  const KafkaHeaders *h, uint64_t opaque, Oversize *big, char *err, size_t errlen)
{
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
	char		lsn[32];
	char		text[24];
	rd_kafka_resp_err_t rc;
	size_t		limit,
				size;

	snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(h->commit_lsn));
	rd_kafka_header_add(hdrs, "pgcdc.op", -1, &h->op, 1);
	rd_kafka_header_add(hdrs, "pgcdc.commit_lsn", -1, lsn, -1);
	if (h->key_role != NULL)
		rd_kafka_header_add(hdrs, "pgcdc.key", -1, h->key_role, -1);
	if (k->source[0] != '\0')
		rd_kafka_header_add(hdrs, "pgcdc.source", -1, k->source, -1);
	if (k->history[0] != '\0')
		rd_kafka_header_add(hdrs, "pgcdc.source.history", -1, k->history, -1);
	if (h->with_seq)
	{
		snprintf(text, sizeof(text), "%u", h->seq);
		rd_kafka_header_add(hdrs, "pgcdc.seq", -1, text, -1);
	}
	if (h->other_key != NULL)
		rd_kafka_header_add(hdrs, h->other_key_name, -1, h->other_key, -1);
	if (h->oversized > 0)
	{
		snprintf(text, sizeof(text), "%zu", h->oversized);
		rd_kafka_header_add(hdrs, "pgcdc.oversized", -1, text, -1);
	}
	/* A topic that refused a message: what it takes is known, check before sending. */
	if ((limit = topiclimits_get(k->limits, rd_kafka_topic_name(rkt))) > 0 &&
		(size = batch_bytes(keylen, len, hdrs)) > limit)
	{
		*big = (Oversize) {size, limit, "max.message.bytes", rd_kafka_topic_name(rkt)};
		rd_kafka_headers_destroy(hdrs);
		return KAFKA_TOO_LARGE;
	}
	rc = produce(k->rk, rkt, partition, key, keylen, value, len, hdrs, opaque);
	if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
		return KAFKA_QUEUED;
	if (rc == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
	{
		*big = (Oversize) {RECORD_MAX_OVERHEAD + keylen + len + headers_bytes(hdrs, false),
		k->max_message_bytes, "message.max.bytes", rd_kafka_topic_name(rkt)};
		rd_kafka_headers_destroy(hdrs);
		return KAFKA_TOO_LARGE;
	}
	rd_kafka_headers_destroy(hdrs);
	if (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return KAFKA_QUEUE_FULL;
	describe_failure(err, errlen, rd_kafka_topic_name(rkt), rc, len);
	return KAFKA_REFUSED;
}

int
kafka_outstanding(Kafka *k)
{
	return rd_kafka_outq_len(k->rk);
}

/* Whether metadata's error for a topic means it is being created (or may be, on demand). */
static bool
topic_coming(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
		err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

/* The partition count from the brokers, or -1 with err. */
static int
ask_partitions(Kafka *k, rd_kafka_topic_t *rkt, int timeout_ms, char *err, size_t errlen)
{
	const char *topic = rd_kafka_topic_name(rkt);
	int64_t		deadline = runtime_now_ms() + timeout_ms;

	for (;;)
	{
		const struct rd_kafka_metadata *md;
		int64_t		left = deadline - runtime_now_ms();
		rd_kafka_resp_err_t rc = rd_kafka_metadata(k->rk, 0, rkt, &md, (int) (left > 100 ? left : 100));
		int			n = -1;
		const char *hint;

		if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			snprintf(err, errlen, "metadata of %s: %s", topic, rd_kafka_err2str(rc));
			return -1;
		}
		rc = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
		if (rc == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0)
			n = md->topics[0].partition_cnt;
		rd_kafka_metadata_destroy(md);
		if (n > 0)
			return n;
		/* A topic created on demand answers so at first: ask again, as a produce would. */
		if ((rc == RD_KAFKA_RESP_ERR_NO_ERROR || topic_coming(rc)) && runtime_now_ms() + 200 < deadline)
		{
			struct timespec ts = {0, 200 * 1000000};

			nanosleep(&ts, NULL);
			continue;
		}
		hint = topic_coming(rc) ? HINT_TOPIC : NULL;
		snprintf(err, errlen, "metadata of %s: %s%s%s", topic, rd_kafka_err2str(rc),
				 hint ? ": " : "", hint ? hint : "");
		return -1;
	}
}

/* The topic's entry in k->counts (added when absent); under counts_lock. */
static struct PartitionCount *
count_of(Kafka *k, const char *topic)
{
	for (size_t i = 0; i < k->ncounts; i++)
		if (strcmp(k->counts[i].topic, topic) == 0)
			return &k->counts[i];
	k->counts = xrealloc(k->counts, k->ncounts + 1, sizeof(*k->counts));
	k->counts[k->ncounts] = (struct PartitionCount) {xstrdup(topic), 0, 0};
	return &k->counts[k->ncounts++];
}

int
kafka_partitions(Kafka *k, rd_kafka_topic_t *rkt, int timeout_ms, char *err, size_t errlen)
{
	const char *topic = rd_kafka_topic_name(rkt);
	int64_t		now = runtime_now_ms();
	int			known;
	int64_t		at;
	int			n;

	pthread_mutex_lock(&k->counts_lock);
	known = count_of(k, topic)->n;
	at = count_of(k, topic)->at_ms;
	pthread_mutex_unlock(&k->counts_lock);
	if (known > 0 && now - at < PARTITIONS_FRESH_MS)
		return known;
	if (known > 0 && timeout_ms > PARTITIONS_RECHECK_MS)
		timeout_ms = PARTITIONS_RECHECK_MS;
	n = ask_partitions(k, rkt, timeout_ms, err, errlen);
	pthread_mutex_lock(&k->counts_lock);
	if (n > 0)
		count_of(k, topic)->n = n;
	count_of(k, topic)->at_ms = runtime_now_ms();
	pthread_mutex_unlock(&k->counts_lock);
	/* No answer (the brokers down): the count known goes on, asked again later. */
	return n > 0 ? n : known > 0 ? known : -1;
}

int32_t
kafka_keyless_partition(Kafka *k, rd_kafka_topic_t *rkt, char *err, size_t errlen)
{
	int			n = kafka_partitions(k, rkt, 10000, err, errlen);

	return n < 0 ? -1 : (int32_t) ((uintptr_t) rd_kafka_topic_opaque(rkt) % (uint32_t) n);
}

/* The max.message.bytes of a topic, from the brokers (DescribeConfigs); 0 with err. */
static size_t
topic_max_bytes(Kafka *k, const char *topic, int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
	rd_kafka_event_t *ev;
	size_t		limit = 0;

	snprintf(err, errlen, "no max.message.bytes in the answer");
	(void) rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, NULL, 0);
	rd_kafka_DescribeConfigs(k->rk, &res, 1, opts, q);
	if ((ev = rd_kafka_queue_poll(q, timeout_ms + 1000)) == NULL)
		snprintf(err, errlen, "no answer within %d ms", timeout_ms);
	else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(err, errlen, "%s", rd_kafka_event_error_string(ev));
	else
	{
		const rd_kafka_DescribeConfigs_result_t *r = rd_kafka_event_DescribeConfigs_result(ev);
		size_t		nres = 0;
		const rd_kafka_ConfigResource_t **rs = r ? rd_kafka_DescribeConfigs_result_resources(r, &nres) : NULL;
		size_t		nconf = 0;
		const rd_kafka_ConfigEntry_t **entries;

		if (nres == 1 && rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
			snprintf(err, errlen, "%s", rd_kafka_ConfigResource_error_string(rs[0]) ?
					 rd_kafka_ConfigResource_error_string(rs[0]) :
					 rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[0])));
		else if (nres == 1)
		{
			entries = rd_kafka_ConfigResource_configs(rs[0], &nconf);
			for (size_t i = 0; i < nconf; i++)
				if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "max.message.bytes") == 0 &&
					rd_kafka_ConfigEntry_value(entries[i]) != NULL)
					limit = (size_t) strtoull(rd_kafka_ConfigEntry_value(entries[i]), NULL, 10);
		}
	}
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_ConfigResource_destroy(res);
	return limit;
}

void
kafka_learn_limits(Kafka *k, int timeout_ms)
{
	char	   *topic;
	size_t		refused,
				limit;

	for (size_t i = 0; k->limits != NULL && topiclimits_entry(k->limits, i, &topic, &refused, &limit);)
	{
		char		why[512];
		char		a[THOUSANDS_LEN],
					b[THOUSANDS_LEN];
		size_t		max = topic_max_bytes(k, topic, timeout_ms, why, sizeof(why));

		if (refused > 0 && max > 0 && refused <= max)
			log_msg(LOG_WARNING, "kafka: topic %s refused a message of %s bytes as too large although it "
					"takes up to %s (its max.message.bytes): a batch of several was too large, keep "
					"kafka.batch.size at most its max.message.bytes", topic, thousands_format(a, refused),
					thousands_format(b, max));
		if (max > 0 && (refused > max || limit > 0))
		{
			if (max != limit)
				log_msg(LOG_INFO, "kafka: topic %s takes messages of at most %s bytes (its max.message.bytes); "
						"larger changes are oversized (oversized.mode)", topic, thousands_format(a, max));
			topiclimits_set(k->limits, topic, max);
		}
		else if (max > 0)
		{
			topiclimits_set(k->limits, topic, 0);
			free(topic);
			continue;			/* entry i is another topic now */
		}
		else if (refused > 0)
		{
			/* Unknown: the message refused is above the limit, whatever it is. */
			log_msg(LOG_WARNING, "kafka: the max.message.bytes of topic %s cannot be read (%s; grant "
					"DescribeConfigs on it): messages of %s bytes and more are taken as oversized", topic,
					why, thousands_format(a, limit && limit < refused ? limit + 1 : refused));
			topiclimits_set(k->limits, topic, limit && limit < refused ? limit : refused - 1);
		}
		free(topic);
		i++;
	}
}

bool
kafka_fatal(Kafka *k, char *err, size_t errlen)
{
	char		why[512];

	if (rd_kafka_fatal_error(k->rk, why, sizeof(why)) == RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	/* A gap-less guarantee's fatal error names its cause only in its text. */
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strstr(why, rd_kafka_err2str(hints[i].err)) != NULL)
		{
			snprintf(err, errlen, "kafka: fatal error: %s: %s", why, hints[i].hint);
			return true;
		}
	snprintf(err, errlen, "kafka: fatal error: %s", why);
	return true;
}

bool
kafka_check(Kafka *k, int timeout_ms, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t rc = rd_kafka_metadata(k->rk, 0, NULL, &md, timeout_ms);

	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		snprintf(err, errlen, "kafka: no broker of kafka.bootstrap.servers (%s) answered within %d ms: %s",
				 k->bootstrap, timeout_ms, rd_kafka_err2str(rc));
		return false;
	}
	snprintf(err, errlen, "%d broker(s), %d topic(s)", md->broker_cnt, md->topic_cnt);
	rd_kafka_metadata_destroy(md);
	return true;
}
