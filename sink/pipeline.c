/*
 * pipeline.c — consume, batch, apply; positions come from the target.
 *
 * Partitions are assigned from what the target stores (offset + 1), never
 * from the group's committed offsets: those are committed after each batch
 * for tools that watch consumer lag, nothing more.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "apply.h"
#include "arena.h"
#include "event.h"
#include "log.h"
#include "pipeline.h"
#include "runtime.h"
#include "target.h"

#define ERRLEN 1024

volatile sig_atomic_t pipeline_stop_signals = 0;
volatile sig_atomic_t pipeline_reopen_log = 0;

typedef struct Pipeline
{
	const Settings *settings;
	Metrics    *metrics;
	Target	   *target;
	Applier    *applier;
	DeadTopic  *dead_topic;
	rd_kafka_t *rk;
	PartState **parts;
	size_t		nparts;
	Event	   *events;
	Arena	   *arena;			/* the batch's decoded records */
	PartState **states;
	size_t		nevents;
	int64_t		first_ms;
	bool		failed;
	bool		fatal;			/* and starting again cannot help */
	char		err[ERRLEN];
} Pipeline;

static PartState *
part_state(Pipeline *p, const char *topic, int32_t partition)
{
	PartState  *st;

	for (size_t i = 0; i < p->nparts; i++)
		if (p->parts[i]->partition == partition && strcmp(p->parts[i]->topic, topic) == 0)
			return p->parts[i];
	st = calloc(1, sizeof(PartState));
	st->topic = strdup(topic);
	st->partition = partition;
	st->offset = -1;
	p->parts = realloc(p->parts, (p->nparts + 1) * sizeof(PartState *));
	p->parts[p->nparts++] = st;
	return st;
}

static void
drop_batch(Pipeline *p)
{
	for (size_t i = 0; i < p->nevents; i++)
		event_free(&p->events[i]);
	p->nevents = 0;
	arena_reset(p->arena);
}

/* Applies the batch; on failure the run must start over (nothing was committed). */
static bool
flush(Pipeline *p)
{
	rd_kafka_topic_partition_list_t *done;

	int64_t		start = runtime_now_ms();

	if (p->nevents == 0 || p->failed)
		return !p->failed;
	if (!applier_apply(p->applier, p->events, p->states, p->nevents, p->err, sizeof(p->err)))
	{
		p->failed = true;
		drop_batch(p);
		return false;
	}
	done = rd_kafka_topic_partition_list_new(8);
	for (size_t i = 0; i < p->nevents; i++)
	{
		PartState  *st = p->states[i];

		if (rd_kafka_topic_partition_list_find(done, st->topic, st->partition) == NULL)
			rd_kafka_topic_partition_list_add(done, st->topic, st->partition)->offset = st->offset + 1;
	}
	rd_kafka_commit(p->rk, done, 1);	/* informational: positions live in the target */
	rd_kafka_topic_partition_list_destroy(done);
	log_msg(LOG_DEBUG, "batch of %zu events: consumed in %" PRId64 " ms, applied in %" PRId64 " ms",
			p->nevents, start - p->first_ms, runtime_now_ms() - start);
	drop_batch(p);
	return true;
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	Pipeline   *p = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		for (int i = 0; i < parts->cnt && !p->failed; i++)
		{
			PartState  *st = part_state(p, parts->elems[i].topic, parts->elems[i].partition);

			if (!target_load_state(p->target, st, p->err, sizeof(p->err)))
				p->failed = true;
			parts->elems[i].offset = st->offset >= 0 ? st->offset + 1 : RD_KAFKA_OFFSET_BEGINNING;
			log_msg(LOG_INFO, "assigned %s [%d] from offset %" PRId64, st->topic, st->partition,
					st->offset + 1);
		}
		rd_kafka_assign(rk, p->failed ? NULL : parts);
	}
	else
	{
		/* What was consumed from them is applied before they go. */
		flush(p);
		rd_kafka_assign(rk, NULL);
	}
}

static bool
subscribe(Pipeline *p)
{
	const char *topics = p->settings->topics;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
	rd_kafka_resp_err_t rc;

	if (topics[0] == '^')
		rd_kafka_topic_partition_list_add(list, topics, RD_KAFKA_PARTITION_UA);
	else
	{
		char	   *copy = strdup(topics);

		for (char *t = strtok(copy, ", "); t; t = strtok(NULL, ", "))
			rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA);
		free(copy);
	}
	rc = rd_kafka_subscribe(p->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(p->err, sizeof(p->err), "cannot subscribe to %s: %s", topics, rd_kafka_err2str(rc));
	return rc == RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	log_msg(LOG_WARNING, "kafka: %s", reason);
}

/* Consumer configuration: defaults, then the user's kafka.* keys. */
static rd_kafka_t *
consumer_new(Pipeline *p, char *err, size_t errlen)
{
	static const char *const defaults[][2] = {
		{"client.id", "walsink"},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		/* A stored offset no longer in the log: changes lost, never skipped silently. */
		{"auto.offset.reset", "error"},
		{"enable.partition.eof", "false"},
		{"topic.metadata.refresh.interval.ms", "5000"},	/* new tables' topics, soon */
		{NULL, NULL}
	};
	const Config *c = p->settings->config;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		why[512];
	rd_kafka_t *rk;

	for (int i = 0; defaults[i][0]; i++)
		rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], why, sizeof(why));
	if (rd_kafka_conf_set(conf, "group.id", p->settings->group_id, why, sizeof(why)) != RD_KAFKA_CONF_OK)
		goto fail;
	for (size_t i = 0; i < config_passthrough_count(c); i++)
	{
		const char *name = config_passthrough_name(c, i);

		if (strncmp(name, "kafka.", 6) == 0 &&
			rd_kafka_conf_set(conf, name + 6, config_passthrough_value(c, i), why, sizeof(why)) != RD_KAFKA_CONF_OK)
			goto fail;
	}
	rd_kafka_conf_set_opaque(conf, p);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, log_rdkafka);
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why))) == NULL)
		goto fail;
	rd_kafka_poll_set_consumer(rk);
	return rk;

fail:
	snprintf(err, errlen, "kafka: %s", why);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static void
take(Pipeline *p, rd_kafka_message_t *msg)
{
	if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
	{
		snprintf(p->err, sizeof(p->err), "%s [%d]: the next change to apply is gone from Kafka "
				 "(retention removed it before it was applied; the target misses changes): %s",
				 msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?", msg->partition, rd_kafka_message_errstr(msg));
		p->failed = p->fatal = true;
	}
	else if (msg->err && msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		log_msg(LOG_WARNING, "kafka: %s", rd_kafka_message_errstr(msg));
	if (msg->err)
	{
		rd_kafka_message_destroy(msg);
		return;
	}
	if (p->nevents == 0)
		p->first_ms = runtime_now_ms();
	p->states[p->nevents] = part_state(p, rd_kafka_topic_name(msg->rkt), msg->partition);
	event_decode(&p->events[p->nevents], msg, p->settings->max_value_bytes, arena_allocator(p->arena));
	/* Our own dead letters, when the topics pattern takes them in: never again. */
	if (p->settings->dead_letter_topic && strcmp(rd_kafka_topic_name(msg->rkt), p->settings->dead_letter_topic) == 0)
		p->events[p->nevents].kind = EVENT_IGNORE;
	p->nevents++;
}

static Outcome
loop(Pipeline *p)
{
	const Settings *s = p->settings;

	while (!p->failed)
	{
		int64_t		wait = p->nevents ? p->first_ms + s->batch_max_ms - runtime_now_ms() : 100;
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(p->rk, (int) (wait < 0 ? 0 : wait));

		if (msg)
			take(p, msg);
		if (pipeline_stop_signals > 0)
			return flush(p) ? OUTCOME_STOPPED : OUTCOME_RETRY;
		if (pipeline_reopen_log && !(pipeline_reopen_log = 0) && !log_reopen(p->err, sizeof(p->err)))
			fprintf(stderr, "walsink: %s\n", p->err);
		if ((p->nevents >= (size_t) s->batch_max_rows ||
			 (p->nevents > 0 && runtime_now_ms() - p->first_ms >= s->batch_max_ms)) && !flush(p))
			break;
	}
	log_msg(LOG_ERROR, "%s", p->err);
	return p->fatal ? OUTCOME_FATAL : OUTCOME_RETRY;
}

Outcome
pipeline_run(const Settings *s, Metrics *m, bool *connected)
{
	Pipeline	p = {.settings = s, .metrics = m};
	Outcome		o = OUTCOME_RETRY;

	if ((p.target = target_connect(s, p.err, sizeof(p.err))) == NULL)
	{
		log_msg(LOG_ERROR, "%s", p.err);
		return OUTCOME_RETRY;
	}
	*connected = true;
	if (!target_check_rules(p.target, p.err, sizeof(p.err)))
	{
		log_msg(LOG_ERROR, "%s", p.err);
		target_free(p.target);
		return OUTCOME_FATAL;
	}
	if (s->dead_letter_topic && (p.dead_topic = deadtopic_new(s, p.err, sizeof(p.err))) == NULL)
	{
		log_msg(LOG_ERROR, "%s", p.err);
		target_free(p.target);
		return OUTCOME_FATAL;
	}
	p.applier = applier_new(s, m, p.dead_topic);
	applier_attach(p.applier, p.target);
	p.events = calloc((size_t) s->batch_max_rows + 1, sizeof(Event));
	p.arena = arena_new();
	p.states = calloc((size_t) s->batch_max_rows + 1, sizeof(PartState *));
	if ((p.rk = consumer_new(&p, p.err, sizeof(p.err))) == NULL)
	{
		log_msg(LOG_ERROR, "%s", p.err);
		o = OUTCOME_FATAL;
	}
	else if (!subscribe(&p))
		log_msg(LOG_ERROR, "%s", p.err);
	else
	{
		metrics_set_health(m, true, NULL);
		log_msg(LOG_INFO, "applying %s to the target as group \"%s\"", s->topics, s->group_id);
		o = loop(&p);
		if (o != OUTCOME_STOPPED)
			metrics_set_health(m, false, p.err);
	}
	drop_batch(&p);
	if (p.rk)
	{
		rd_kafka_consumer_close(p.rk);
		rd_kafka_destroy(p.rk);
	}
	applier_free(p.applier);
	deadtopic_free(p.dead_topic);
	target_free(p.target);
	for (size_t i = 0; i < p.nparts; i++)
	{
		free(p.parts[i]->topic);
		free(p.parts[i]);
	}
	free(p.parts);
	free(p.events);
	arena_free(p.arena);
	free(p.states);
	return o;
}

/* Whether topic is one of those walsink applies (a list, or a ^regex). */
static bool
topic_wanted(const Settings *s, const regex_t *re, const char *topic)
{
	size_t		n = strlen(topic);

	if (s->topics[0] == '^')
		return regexec(re, topic, 0, NULL, 0) == 0;
	for (const char *p = s->topics; (p = strstr(p, topic)) != NULL; p++)
		if ((p == s->topics || p[-1] == ',' || p[-1] == ' ') && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
	return false;
}

/* --check's Kafka half: brokers reachable, and which topics would be applied. */
static bool
check_kafka(const Settings *s)
{
	Pipeline	p = {.settings = s};
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t rc;
	regex_t		re;
	int			wanted = 0;

	if ((p.rk = consumer_new(&p, p.err, sizeof(p.err))) == NULL)
		return printf("%s\n", p.err), false;
	rc = rd_kafka_metadata(p.rk, 1, NULL, &md, 10000);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		printf("kafka: no metadata from the brokers: %s\n", rd_kafka_err2str(rc));
		rd_kafka_destroy(p.rk);
		return false;
	}
	if (s->topics[0] == '^' && regcomp(&re, s->topics, REG_EXTENDED | REG_NOSUB) != 0)
	{
		printf("topics: \"%s\" is not a regular expression\n", s->topics);
		rd_kafka_metadata_destroy(md);
		rd_kafka_destroy(p.rk);
		return false;
	}
	printf("kafka: %d brokers; topics applied now:", md->broker_cnt);
	for (int i = 0; i < md->topic_cnt; i++)
		if (topic_wanted(s, &re, md->topics[i].topic))
			printf("%s %s (%d partitions)", wanted++ ? "," : "", md->topics[i].topic, md->topics[i].partition_cnt);
	printf("%s\n", wanted ? "" : " none yet (they are taken up as they appear)");
	if (s->topics[0] == '^')
		regfree(&re);
	rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(p.rk);
	return true;
}

bool
pipeline_check(const Settings *s)
{
	char		err[ERRLEN];
	Target	   *t = target_connect(s, err, sizeof(err));
	bool		target_ok = t != NULL;

	if (t == NULL)
		printf("target: %s\n", err);
	else
		printf("target: connected; positions in pgcdc.sink_position, dead letters in %s\n", t->dead_letter);
	if (t != NULL && !target_check_rules(t, err, sizeof(err)))
	{
		printf("%s\n", err);
		target_ok = false;
	}
	target_free(t);
	return check_kafka(s) && target_ok;
}
