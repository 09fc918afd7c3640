/*
 * fetchahead.c — the fetch-ahead bounded in bytes, its fetcher kept busy.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>

#include "fetchahead.h"
#include "log.h"
#include "runtime.h"
#include "xalloc.h"

/* Wakes this often at most: a wake is a request to each leader. */
#define WAKE_EVERY_MS 10

struct FetchAhead
{
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;	/* the consumer's, where fetched messages wait */
	rd_kafka_topic_partition_list_t *parts; /* assigned; their offsets: RD_KAFKA_OFFSET_END */
	double		max_bytes;		/* librdkafka's bounds */
	double		max_msgs;
	double		avg;			/* bytes a message, lately */
	size_t		peak;			/* the most messages queued since the last wake */
	int64_t		woke_ms;
};

FetchAhead *
fetchahead_new(rd_kafka_t *rk)
{
	FetchAhead *f = xcalloc(1, sizeof(FetchAhead));
	char		kb[32] = "?",
				msgs[32] = "?";
	size_t		kblen = sizeof(kb),
				msgslen = sizeof(msgs);

	f->rk = rk;
	f->queue = rd_kafka_queue_get_consumer(rk);
	rd_kafka_conf_get(rd_kafka_conf(rk), "queued.max.messages.kbytes", kb, &kblen);
	rd_kafka_conf_get(rd_kafka_conf(rk), "queued.min.messages", msgs, &msgslen);
	f->max_bytes = strtod(kb, NULL) * 1024;
	f->max_msgs = strtod(msgs, NULL);
	log_msg(LOG_INFO, "fetching ahead up to %s kB or %s messages (kafka.queued.max.messages.kbytes, "
			"kafka.queued.min.messages)", kb, msgs);
	return f;
}

void
fetchahead_free(FetchAhead *f)
{
	if (f == NULL)
		return;
	if (f->queue)
		rd_kafka_queue_destroy(f->queue);
	fetchahead_assigned(f, NULL);
	free(f);
}

void
fetchahead_assigned(FetchAhead *f, const rd_kafka_topic_partition_list_t *parts)
{
	if (f == NULL)
		return;
	if (f->parts)
		rd_kafka_topic_partition_list_destroy(f->parts);
	f->parts = NULL;
	if (parts == NULL || parts->cnt == 0)
		return;
	f->parts = rd_kafka_topic_partition_list_copy(parts);
	/* A wake asks for their end offsets (timestamp -1). */
	for (int i = 0; i < f->parts->cnt; i++)
		f->parts->elems[i].offset = RD_KAFKA_OFFSET_END;
}

void
fetchahead_wake(FetchAhead *f)
{
	if (f == NULL)
		return;
	f->peak = 0;
	f->woke_ms = runtime_now_ms();
	if (f->parts == NULL)
		return;
	/* Asked of each leader, not waited for: the answers overwrite the copy's offsets, set again. */
	rd_kafka_offsets_for_times(f->rk, f->parts, 0);
	for (int i = 0; i < f->parts->cnt; i++)
		f->parts->elems[i].offset = RD_KAFKA_OFFSET_END;
}

/*
 * Whether librdkafka stopped at its bound is not visible, nor are the bytes
 * it holds; the count is.  A queue that was near the bound (by count, or by
 * count times the size of recent messages) and has been drained to half of
 * that peak is one nothing refilled meanwhile: the fetcher may be asleep.
 * A queue that never came near it (walsink keeping up with a trickle) is
 * left alone: a wake is a request to every leader, and the dev broker
 * answers a stream of them with stalls of seconds (bench/RESULTS.md).
 */
void
fetchahead_took(FetchAhead *f, size_t bytes)
{
	size_t		queued;

	if (f == NULL)
		return;
	f->avg = f->avg > 0 ? f->avg + ((double) bytes - f->avg) / 8 : (double) bytes;
	queued = rd_kafka_queue_length(f->queue);
	if (queued > f->peak)
		f->peak = queued;
	else if (queued <= f->peak / 2 &&
			 ((double) f->peak >= f->max_msgs / 2 || (double) f->peak * f->avg >= f->max_bytes / 2) &&
			 runtime_now_ms() - f->woke_ms >= WAKE_EVERY_MS)
		fetchahead_wake(f);
}
