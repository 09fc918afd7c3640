/*
 * topiclimits.h — the largest message each topic takes, as walstreamer
 * learned it.
 *
 * The producer knows its own limit (message.max.bytes) and refuses a
 * larger message when it is produced.  A topic's limit (max.message.bytes,
 * on the brokers) shows only when the brokers refuse a message: that
 * delivery report comes after later messages were sent, the producer's
 * gap-less guarantee makes it fatal, and the pipeline restarts from the
 * slot.  This table outlives pipelines (one per process): it remembers the
 * refusal, the next pipeline asks the brokers for the topic's limit
 * (kafka_learn_limits) and checks each message of the topic against it
 * before producing, so the change is met as oversized before it is sent
 * again and nothing is refused twice.
 *
 * Thread-safe: snapshot workers produce while the main thread serves
 * delivery reports.  The table owns its copies of the topic names.
 */
#ifndef PGCDC_STREAMER_TOPICLIMITS_H
#define PGCDC_STREAMER_TOPICLIMITS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct TopicLimits TopicLimits;

extern TopicLimits *topiclimits_new(void);
extern void topiclimits_free(TopicLimits *l);

/*
 * The brokers refused a message of size bytes (as they count it) to topic
 * as too large.  Every message of the refused batch is reported so: the
 * largest is the one that did not fit, unless the batch as a whole did not.
 */
extern void topiclimits_refused(TopicLimits *l, const char *topic, size_t size);
/* The limit learned for topic; 0 when none is known. */
extern size_t topiclimits_get(TopicLimits *l, const char *topic);

/*
 * Entry i, for kafka_learn_limits: the topic's name (a copy, malloc'd), the
 * largest message refused since its limit was last set (0: none), and that
 * limit (0: none yet).
 */
extern bool topiclimits_entry(TopicLimits *l, size_t i, char **topic, size_t *refused, size_t *limit);
/* Sets the limit learned for topic and clears its refusals; 0 forgets the topic. */
extern void topiclimits_set(TopicLimits *l, const char *topic, size_t limit);

#endif							/* PGCDC_STREAMER_TOPICLIMITS_H */
