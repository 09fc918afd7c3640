/*
 * fetchahead.c — the fetch-ahead bounded in bytes, its fetcher kept busy.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>

#include "fetchahead.h"
#include "log.h"
#include "runtime.h"

/* Wakes this often at most: a wake is a request to each leader. */
#define WAKE_EVERY_MS 10

struct FetchAhead
{
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;	/* the consumer's, where fetched messages wait */
	size_t		peak;			/* the most messages queued since the last wake */
	int64_t		woke_ms;
};

FetchAhead *
fetchahead_new(rd_kafka_t *rk)
{
	FetchAhead *f = calloc(1, sizeof(FetchAhead));
	char		kb[32] = "?",
				msgs[32] = "?";
	size_t		kblen = sizeof(kb),
				msgslen = sizeof(msgs);

	if (f == NULL)
		abort();
	f->rk = rk;
	f->queue = rd_kafka_queue_get_consumer(rk);
	rd_kafka_conf_get(rd_kafka_conf(rk), "queued.max.messages.kbytes", kb, &kblen);
	rd_kafka_conf_get(rd_kafka_conf(rk), "queued.min.messages", msgs, &msgslen);
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
	free(f);
}

void
fetchahead_wake(FetchAhead *f)
{
	rd_kafka_topic_partition_list_t *parts;

	f->peak = 0;
	f->woke_ms = runtime_now_ms();
	if (rd_kafka_assignment(f->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (parts->cnt > 0)
	{
		/* Their end offsets (timestamp -1), asked of each leader; not waited for. */
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_END;
		rd_kafka_offsets_for_times(f->rk, parts, 0);
	}
	rd_kafka_topic_partition_list_destroy(parts);
}

/*
 * Whether librdkafka stopped at its bound is not visible, nor are the bytes
 * it holds; the count is.  A queue drained to half of its peak since the
 * last wake is one that nothing refilled meanwhile: the fetcher may be
 * asleep, and a wake costs little.
 */
void
fetchahead_took(FetchAhead *f)
{
	size_t		queued;

	if (f->queue == NULL)
		return;
	queued = rd_kafka_queue_length(f->queue);
	if (queued > f->peak)
		f->peak = queued;
	else if (f->peak >= 2 && queued <= f->peak / 2 && runtime_now_ms() - f->woke_ms >= WAKE_EVERY_MS)
		fetchahead_wake(f);
}
