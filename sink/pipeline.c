/*
 * pipeline.c — consume, batch, apply; positions come from the target.
 *
 * Partitions are assigned from what the target stores (offset + 1), never
 * from the group's committed offsets: those are committed after each batch
 * for tools that watch consumer lag, nothing more.
 *
 * Two threads: this one consumes and decodes the next batch while the apply
 * thread applies the previous one, so walsink's work and the target's
 * overlap.  One batch is applied at a time, in order; the apply thread alone
 * uses the target connection while it works, and the consumer thread waits
 * for it to be idle before touching the target (partition assignment) or a
 * batch's partition states (the Kafka commit).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "apply.h"
#include "arena.h"
#include "event.h"
#include "fetchahead.h"
#include "keychange.h"
#include "log.h"
#include "pipeline.h"
#include "positions.h"
#include "rulecheck.h"
#include "runtime.h"
#include "target.h"
#include "xalloc.h"

#define ERRLEN 1024

/* Consumed events, their partitions, and the arena holding their records. */
typedef struct Batch
{
	Event	   *events;
	PartState **states;
	size_t		n;
	size_t		cap;
	size_t		bytes;			/* of its messages' keys and values */
	Arena	   *arena;
	int64_t		first_ms;		/* when its first event arrived */
	int64_t		handed_ms;		/* when it went to the apply thread */
} Batch;

typedef struct Pipeline
{
	const Settings *settings;
	Metrics    *metrics;
	MetricCell *m_busy;			/* the apply thread's time applying */
	Target	   *target;
	Applier    *applier;
	DeadTopic  *dead_topic;
	rd_kafka_t *rk;
	FetchAhead *fetch;
	PartState **parts;
	size_t		nparts;
	Batch		batches[2];
	Batch	   *filling;		/* the one take() adds to */
	Layouts    *layouts;		/* events' column lists, shared with the apply thread read-only */
	bool		paused;			/* fetching stopped: the batch being filled is full and the thread busy */
	bool		failed;
	bool		fatal;			/* and starting again cannot help */
	char		err[ERRLEN];

	/* The apply thread; fields below lock are shared with it. */
	pthread_t	thread;
	bool		thread_started;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	Batch	   *pending;		/* handed over, not yet applied */
	Batch	   *applied;		/* applied (or failed), not yet collected */
	bool		apply_failed;
	bool		apply_fatal;	/* and starting again cannot help */
	bool		quit;
	char		apply_err[ERRLEN];
} Pipeline;

static PartState *
part_state(Pipeline *p, const char *topic, int32_t partition)
{
	PartState  *st;

	for (size_t i = 0; i < p->nparts; i++)
		if (p->parts[i]->partition == partition && strcmp(p->parts[i]->topic, topic) == 0)
			return p->parts[i];
	st = xcalloc(1, sizeof(PartState));
	st->topic = xstrdup(topic);
	st->partition = partition;
	st->offset = -1;
	keychange_hold_reset(&st->hold);
	streamreplay_reset(&st->replay);
	p->parts = xrealloc(p->parts, p->nparts + 1, sizeof(PartState *));
	p->parts[p->nparts++] = st;
	return st;
}

/* Drops b's events of st (consumed before a seek back). */
static void
drop_partition(Batch *b, const PartState *st)
{
	size_t		out = 0;

	for (size_t i = 0; i < b->n; i++)
	{
		if (b->states[i] == st)
		{
			event_free(&b->events[i]);
			continue;
		}
		if (out != i)
		{
			b->events[out] = b->events[i];
			b->states[out] = b->states[i];
		}
		out++;
	}
	b->n = out;
}

/*
 * keychange_seek's: what the batch being filled has of a held partition
 * goes, and a streamed transaction it was reading back is met again at its
 * commit record (streamreplay.h).
 */
static void
drop_filling(void *opaque, const PartState *st)
{
	drop_partition(((Pipeline *) opaque)->filling, st);
	streamreplay_reset(&((PartState *) st)->replay);
}

static void
drop_batch(Batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		event_free(&b->events[i]);
	b->n = 0;
	b->bytes = 0;
	arena_reset(b->arena);
}

static void *
apply_thread(void *opaque)
{
	Pipeline   *p = opaque;
	char		err[ERRLEN];

	pthread_mutex_lock(&p->lock);
	for (;;)
	{
		Batch	   *b;
		bool		ok;
		int64_t		started;

		while (p->pending == NULL && !p->quit)
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->pending == NULL)
			break;
		b = p->pending;
		pthread_mutex_unlock(&p->lock);
		started = runtime_now_ms();
		ok = applier_apply(p->applier, b->events, b->states, b->n, err, sizeof(err));
		metrics_add(p->m_busy, runtime_now_ms() - started);
		pthread_mutex_lock(&p->lock);
		if (!ok)
		{
			p->apply_failed = true;
			p->apply_fatal = applier_fatal(p->applier);
			memcpy(p->apply_err, err, sizeof(err));
		}
		p->applied = b;
		p->pending = NULL;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/*
 * Waits (when wait; else only looks) until the apply thread is idle, then
 * collects the batch it finished: the Kafka commit, or the failure.  false
 * while it is still busy.
 */
static bool
collect(Pipeline *p, bool wait)
{
	Batch	   *b;
	rd_kafka_topic_partition_list_t *done;

	pthread_mutex_lock(&p->lock);
	while (wait && p->pending != NULL)
		pthread_cond_wait(&p->changed, &p->lock);
	if (p->pending != NULL)
	{
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	b = p->applied;
	p->applied = NULL;
	if (p->apply_failed && !p->failed)
	{
		p->failed = true;
		p->fatal |= p->apply_fatal;
		memcpy(p->err, p->apply_err, sizeof(p->err));
	}
	pthread_mutex_unlock(&p->lock);
	if (b == NULL)
		return true;
	if (!p->failed && p->rk != NULL)
	{
		/* The partitions b held are consumed again from the offset held (keychange.h). */
		if (!keychange_seek(p->rk, b->states, b->n, drop_filling, p, p->err, sizeof(p->err)))
			p->failed = true;
		done = rd_kafka_topic_partition_list_new(8);
		for (size_t i = 0; i < b->n; i++)
		{
			PartState  *st = b->states[i];

			if (st->offset >= 0 && rd_kafka_topic_partition_list_find(done, st->topic, st->partition) == NULL)
				rd_kafka_topic_partition_list_add(done, st->topic, st->partition)->offset = st->offset + 1;
		}
		rd_kafka_commit(p->rk, done, 1);	/* informational: positions live in the target */
		rd_kafka_topic_partition_list_destroy(done);
		log_msg(LOG_DEBUG, "batch of %zu events: consumed in %" PRId64 " ms, applied %" PRId64 " ms later",
				b->n, b->handed_ms - b->first_ms, runtime_now_ms() - b->handed_ms);
	}
	drop_batch(b);
	return true;
}

/* Hands the batch being filled to the apply thread (after the previous one is done). */
static bool
flush(Pipeline *p)
{
	Batch	   *b = p->filling;

	collect(p, true);
	/*
	 * Nothing to hand over, but what dropped events used (a rolled-back
	 * subtransaction's changes read back, say: take) is given back, or the
	 * batch would stay full with nothing in it.
	 */
	if (b->n == 0 && b->bytes > 0)
		drop_batch(b);
	if (b->n == 0 || p->failed)
		return !p->failed;
	b->handed_ms = runtime_now_ms();
	pthread_mutex_lock(&p->lock);
	p->pending = b;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	p->filling = b == &p->batches[0] ? &p->batches[1] : &p->batches[0];
	return true;
}

/* Everything consumed applied (or failed): the target and the states are free to use. */
static bool
flush_all(Pipeline *p)
{
	flush(p);
	collect(p, true);
	return !p->failed;
}

/*
 * Partitions with nothing stored start at the earliest offset Kafka holds,
 * asked for here, one request per leader.  Left to librdkafka as
 * OFFSET_BEGINNING, each is looked up on its own once fetching starts, and a
 * lookup that fails (the leader not known yet, say) is tried again only after
 * a fixed 500 ms (librdkafka 2.0): changes stalled after an assignment of new
 * partitions.  A partition the query does not answer for stays at
 * OFFSET_BEGINNING.
 */
static void
resolve_beginnings(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);
	rd_kafka_resp_err_t err;

	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING)
			/* As a ListOffsets timestamp, OFFSET_BEGINNING (-2) asks for the earliest. */
			rd_kafka_topic_partition_list_add(q, parts->elems[i].topic,
											  parts->elems[i].partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
	if (q->cnt > 0 && (err = rd_kafka_offsets_for_times(rk, q, 5000)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_msg(LOG_DEBUG, "kafka: earliest offsets of new partitions not known (%s); librdkafka looks them up",
				rd_kafka_err2str(err));
	else
		for (int i = 0; i < q->cnt; i++)
		{
			rd_kafka_topic_partition_t *got = &q->elems[i];

			if (got->err == RD_KAFKA_RESP_ERR_NO_ERROR && got->offset >= 0)
				rd_kafka_topic_partition_list_find(parts, got->topic, got->partition)->offset = got->offset;
		}
	rd_kafka_topic_partition_list_destroy(q);
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	Pipeline   *p = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		flush_all(p);			/* the apply thread off the target connection */
		for (int i = 0; i < parts->cnt && !p->failed; i++)
		{
			PartState  *st = part_state(p, parts->elems[i].topic, parts->elems[i].partition);

			if (!positions_claim(p->target, st, p->err, sizeof(p->err)))
				p->failed = true;
			keychange_hold_reset(&st->hold);
			streamreplay_reset(&st->replay);
			parts->elems[i].offset = st->offset >= 0 ? st->offset + 1 : RD_KAFKA_OFFSET_BEGINNING;
		}
		if (!p->failed)
			resolve_beginnings(rk, parts);
		for (int i = 0; i < parts->cnt && !p->failed; i++)
			if (parts->elems[i].offset >= 0)
				log_msg(LOG_INFO, "assigned %s [%d] from offset %" PRId64, parts->elems[i].topic,
						parts->elems[i].partition, parts->elems[i].offset);
			else
				log_msg(LOG_INFO, "assigned %s [%d] from its earliest offset", parts->elems[i].topic,
						parts->elems[i].partition);
		rd_kafka_assign(rk, p->failed ? NULL : parts);
		fetchahead_assigned(p->fetch, p->failed ? NULL : parts);
		/* The batches are empty: fetch the new assignment (a pause may outlive an assignment). */
		if (p->paused && !p->failed)
			rd_kafka_resume_partitions(rk, parts);
		p->paused = false;
	}
	else
	{
		/* What was consumed from them is applied before they go. */
		flush_all(p);
		rd_kafka_assign(rk, NULL);
		fetchahead_assigned(p->fetch, NULL);
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
		char	   *copy = xstrdup(topics);

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
	Pipeline   *p = opaque;

	/* librdkafka retries these for ever: say which setting is wrong. */
	if (err == RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT)
		log_msg(LOG_WARNING, "kafka: %s: kafka.session.timeout.ms must lie within the brokers' "
				"group.min.session.timeout.ms (6 s unless changed) and group.max.session.timeout.ms", reason);
	else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE)
	{
		const char *bootstrap = config_passthrough_find(p->settings->config, "kafka.bootstrap.servers");

		log_msg(LOG_WARNING, "kafka: no broker of kafka.bootstrap.servers (%s) answers (%s)",
				bootstrap ? bootstrap : "unset", reason);
	}
	else
		log_msg(LOG_WARNING, "kafka: %s", reason);
}

/* Consumer configuration: defaults, then the user's kafka.* keys. */
static rd_kafka_t *
consumer_new(Pipeline *p, char *err, size_t errlen)
{
	const char *const defaults[][2] = {
		{"client.id", "walsink"},
		{"group.id", p->settings->group_id},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		/* A stored offset no longer in the log: changes lost, never skipped silently. */
		{"auto.offset.reset", "error"},
		{"enable.partition.eof", "false"},
		{"topic.metadata.refresh.interval.ms", "5000"},	/* new tables' topics, soon */
		FETCHAHEAD_DEFAULTS,
		{NULL, NULL}
	};
	char		why[512];
	rd_kafka_conf_t *conf = settings_kafka_conf(p->settings, defaults, false, why, sizeof(why));
	rd_kafka_t *rk;

	if (conf)
	{
		rd_kafka_conf_set_opaque(conf, p);
		rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
		rd_kafka_conf_set_error_cb(conf, on_error);
		rd_kafka_conf_set_log_cb(conf, log_rdkafka);
	}
	if (conf == NULL || (rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why))) == NULL)
	{
		snprintf(err, errlen, "kafka: %s", why);
		if (conf)
			rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Its Pipeline holds the settings alone: it never subscribes, so no rebalance uses the rest. */
rd_kafka_t *
pipeline_consumer_new(const Settings *s, char *err, size_t errlen)
{
	Pipeline   *p = xcalloc(1, sizeof(Pipeline));
	rd_kafka_t *rk;

	p->settings = s;
	if ((rk = consumer_new(p, err, errlen)) == NULL)
		free(p);
	return rk;
}

void
pipeline_consumer_free(rd_kafka_t *rk)
{
	Pipeline   *p = rd_kafka_opaque(rk);

	rd_kafka_destroy(rk);
	free(p);
}

/* Whether b holds any event of st. */
static bool
batch_has(const Batch *b, const PartState *st)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->states[i] == st)
			return true;
	return false;
}

/*
 * A streamed transaction's commit record on st: the partition is read again
 * from the transaction's first change there (streamreplay.h).  What the
 * batch being filled holds of st goes to the apply thread first, so that a
 * batch never holds both a partition's changes before the commit and the
 * transaction's, read back from lower offsets (key change holds go by offset).
 */
static void
read_back(Pipeline *p, PartState *st, Event *commit)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;
	int64_t		from;

	if (batch_has(p->filling, st) && !flush(p))
	{
		event_free(commit);
		return;
	}
	from = streamreplay_start(&st->replay, commit);
	log_msg(LOG_DEBUG, "%s [%d]: streamed transaction %u committed at offset %" PRId64
			": reading it back from offset %" PRId64, st->topic, st->partition, st->replay.commit.xid,
			st->replay.until, from);
	event_free(commit);
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, st->topic, st->partition)->offset = from;
	if ((error = rd_kafka_seek_partitions(p->rk, list, 10000)) != NULL)
	{
		snprintf(p->err, sizeof(p->err), "cannot read %s [%d] back from offset %" PRId64 ": %s",
				 st->topic, st->partition, from, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		p->failed = true;
	}
	else if (list->elems[0].err)
	{
		snprintf(p->err, sizeof(p->err), "cannot read %s [%d] back from offset %" PRId64 ": %s",
				 st->topic, st->partition, from, rd_kafka_err2str(list->elems[0].err));
		p->failed = true;
	}
	rd_kafka_topic_partition_list_destroy(list);
}

static void
take(Pipeline *p, rd_kafka_message_t *msg)
{
	Batch	   *b;
	PartState  *st;
	Event	   *e;

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
	b = p->filling;
	st = part_state(p, rd_kafka_topic_name(msg->rkt), msg->partition);
	if (keychange_stale(&st->hold, msg->offset) || streamreplay_stale(&st->replay, msg->offset))
	{
		rd_kafka_message_destroy(msg);	/* fetched before the partition was sought back */
		return;
	}
	/* Reading a transaction back: every other message before its commit was handled already. */
	if (st->replay.active && msg->offset < st->replay.until &&
		!event_streamed_by(msg, streamreplay_commit(&st->replay)))
	{
		fetchahead_took(p->fetch, msg->len + msg->key_len);	/* a long read back keeps the fetcher busy */
		rd_kafka_message_destroy(msg);
		return;
	}
	if (b->n == b->cap)
	{
		/* Fetched before fetching was paused: the batch takes it past its bounds. */
		b->cap *= 2;
		b->events = xrealloc(b->events, b->cap + 1, sizeof(Event));
		b->states = xrealloc(b->states, b->cap + 1, sizeof(PartState *));
	}
	if (b->n == 0)
		b->first_ms = runtime_now_ms();
	fetchahead_took(p->fetch, msg->len + msg->key_len);
	/* What the batch holds: the message (and librdkafka's), its Event, its decoded record in the arena. */
	b->bytes += msg->len + msg->key_len + FETCHAHEAD_MESSAGE_BYTES + sizeof(Event) - arena_used(b->arena);
	b->states[b->n] = st;
	e = &b->events[b->n];
	/* A streamed change before its commit record: passed over unread (read back at the commit). */
	if (!st->replay.active && event_streamed_by(msg, NULL))
		event_skip(e, msg);
	else
		event_decode(e, msg, p->settings->max_value_bytes, arena_allocator(b->arena), p->layouts,
					 streamreplay_commit(&st->replay), &p->settings->input);
	b->bytes += arena_used(b->arena);
	if (st->replay.active && msg->offset >= st->replay.until)
	{
		/* The commit record again: the transaction is read back, the partition goes on. */
		streamreplay_reset(&st->replay);
		e->kind = EVENT_IGNORE;
		e->stream_commit = false;
	}
	else if (st->replay.active && e->kind == EVENT_IGNORE)
	{
		event_free(e);			/* a change of a rolled-back subtransaction */
		return;
	}
	else if (e->stream_commit)
	{
		read_back(p, st, e);
		return;
	}
	/* Our own dead letters, when the topics pattern takes them in: never again. */
	if (p->settings->dead_letter_topic && strcmp(rd_kafka_topic_name(msg->rkt), p->settings->dead_letter_topic) == 0)
		b->events[b->n].kind = EVENT_IGNORE;
	b->n++;
}

/*
 * A batch applied for longer than this stops fetching (pause) and the
 * consumer thread polls on: the group sees a live member however long the
 * target takes.  Not sooner: a pause drops what librdkafka fetched ahead of
 * those partitions, to be fetched again.
 */
#define PAUSE_AFTER_MS 1000

/*
 * Fetching stopped (pause) or started again (resume), all assigned
 * partitions.  Only a paused partition is resumed: in librdkafka 2.0 every
 * pause or resume op drops the messages its partition has queued (a resume
 * of one not paused as well, and those are not fetched again).  A resume
 * does not wake librdkafka's fetcher: fetchahead_wake does.
 */
static void
fetching(Pipeline *p, bool on)
{
	rd_kafka_topic_partition_list_t *parts;

	if (p->paused != on || rd_kafka_assignment(p->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (on)
	{
		rd_kafka_resume_partitions(p->rk, parts);
		fetchahead_wake(p->fetch);
	}
	else
		rd_kafka_pause_partitions(p->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	p->paused = !on;
}

/* How long the apply thread has been applying its batch, 0 when idle. */
static int64_t
busy_ms(Pipeline *p)
{
	int64_t		ms = 0;

	pthread_mutex_lock(&p->lock);
	if (p->pending != NULL)
		ms = runtime_now_ms() - p->pending->handed_ms;
	pthread_mutex_unlock(&p->lock);
	return ms;
}

/* Waits up to ms for the apply thread to finish its batch. */
static void
wait_applied(Pipeline *p, int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long) ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&p->lock);
	if (p->pending != NULL)
		pthread_cond_timedwait(&p->changed, &p->lock, &until);
	pthread_mutex_unlock(&p->lock);
}

static Outcome
loop(Pipeline *p)
{
	const Settings *s = p->settings;
	bool		full;

	while (!p->failed)
	{
		Batch	   *b = p->filling;
		bool		idle = collect(p, false);	/* a finished batch's Kafka commit, or its failure */
		int64_t		age = b->n ? runtime_now_ms() - b->first_ms : 0;
		rd_kafka_message_t *msg;

		if (p->failed)
			break;
		if (daemon_stop_signals > 0)
			return flush_all(p) ? OUTCOME_STOPPED : OUTCOME_RETRY;
		daemon_reopen_log();

		/*
		 * A batch goes when full (batch.max.rows, batch.max.bytes), or when
		 * batch.max.ms old, once the apply thread is free to take it.  While
		 * the thread is still busy with the previous one, a due batch keeps
		 * filling (it could not start sooner anyway) and a full one stops
		 * fetching (pause); either way this thread keeps polling, looking
		 * every millisecond whether the apply thread is done: the group
		 * sees a live member however long a batch takes to apply.
		 */
		full = b->n >= (size_t) s->batch_max_rows || b->bytes >= s->batch_max_bytes;
		if ((full || (b->n > 0 && age >= s->batch_max_ms)) && idle)
		{
			if (!flush(p))
				break;
			fetching(p, true);
			continue;
		}
		if (full && !p->paused && busy_ms(p) < PAUSE_AFTER_MS)
		{
			wait_applied(p, 10);	/* not polling: what librdkafka fetched stays queued */
			continue;
		}
		if (full)
			fetching(p, false);
		msg = rd_kafka_consumer_poll(p->rk, (int) (b->n == 0 ? 100 : full || age >= s->batch_max_ms ? 1 :
												   s->batch_max_ms - age));
		if (msg)
			take(p, msg);
	}
	log_msg(LOG_ERROR, "%s", p->err);
	return p->fatal ? OUTCOME_FATAL : OUTCOME_RETRY;
}

Outcome
pipeline_run(const Settings *s, Metrics *m, bool *connected)
{
	Pipeline	p = {.settings = s, .metrics = m};
	Outcome		o = OUTCOME_RETRY;
	sigset_t	all;
	sigset_t	old;
	bool		started;

	if ((p.target = target_connect(s, p.err, sizeof(p.err))) == NULL)
	{
		log_msg(LOG_ERROR, "%s", p.err);
		return OUTCOME_RETRY;
	}
	*connected = true;
	if (target_superuser(p.target))
		log_msg(LOG_INFO, "target: %s", target_superuser_warning);
	if (!rulecheck_run(p.target, p.err, sizeof(p.err)))
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
	p.m_busy = metrics_cell(m, "walsink_apply_busy_milliseconds_total", METRIC_COUNTER,
							"Time the apply thread spent applying batches, the target's work included: "
							"near the time elapsed, the target and the apply thread set the pace", NULL);
	p.applier = applier_new(s, m, p.dead_topic);
	applier_attach(p.applier, p.target);
	for (int i = 0; i < 2; i++)
	{
		p.batches[i].cap = (size_t) s->batch_max_rows;
		p.batches[i].events = xcalloc(p.batches[i].cap + 1, sizeof(Event));
		p.batches[i].states = xcalloc(p.batches[i].cap + 1, sizeof(PartState *));
		p.batches[i].arena = arena_new();
	}
	p.filling = &p.batches[0];
	p.layouts = layouts_new();
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.changed, NULL);
	/* Signals are this thread's: it polls with short timeouts and checks the flags. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	started = pthread_create(&p.thread, NULL, apply_thread, &p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started)
	{
		log_msg(LOG_ERROR, "cannot start the apply thread");
		o = OUTCOME_FATAL;
	}
	else
	{
		p.thread_started = true;
		if ((p.rk = consumer_new(&p, p.err, sizeof(p.err))) != NULL)
			p.fetch = fetchahead_new(p.rk);
		if (p.rk == NULL)
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
	}
	if (p.rk)
		rd_kafka_consumer_close(p.rk);	/* revokes: what is consumed is applied first */
	if (p.thread_started)
	{
		collect(&p, true);
		pthread_mutex_lock(&p.lock);
		p.quit = true;
		pthread_cond_broadcast(&p.changed);
		pthread_mutex_unlock(&p.lock);
		pthread_join(p.thread, NULL);
	}
	/* librdkafka's destroy waits for every message to be released. */
	for (int i = 0; i < 2; i++)
		drop_batch(&p.batches[i]);
	fetchahead_free(p.fetch);
	p.fetch = NULL;				/* a last revoke may come in rd_kafka_destroy */
	if (p.rk)
		rd_kafka_destroy(p.rk);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.changed);
	applier_free(p.applier);
	layouts_free(p.layouts);
	deadtopic_free(p.dead_topic);
	target_free(p.target);
	for (size_t i = 0; i < p.nparts; i++)
	{
		free(p.parts[i]->topic);
		free(p.parts[i]->source);
		free(p.parts[i]->former);
		free(p.parts[i]);
	}
	free(p.parts);
	for (int i = 0; i < 2; i++)
	{
		free(p.batches[i].events);
		free(p.batches[i].states);
		arena_free(p.batches[i].arena);
	}
	return o;
}
