/*
 * deadtopic.h — dead letters also produced to a Kafka topic (dead.letter.topic).
 *
 * Each dead letter is sent with the original message's key, value and
 * headers, plus pgcdc.dl.reason, pgcdc.dl.detail, pgcdc.dl.topic,
 * pgcdc.dl.partition and pgcdc.dl.offset.  The applier waits for all of a
 * batch's dead letters to be acknowledged before it commits the batch, so
 * none is lost; a batch retried after a failure sends its dead letters
 * again (at least once, like Kafka Connect's dead-letter queue).
 */
#ifndef PGCDC_SINK_DEADTOPIC_H
#define PGCDC_SINK_DEADTOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "settings.h"

typedef struct DeadTopic DeadTopic;

/* NULL with err when the producer cannot be made (bad kafka.* keys). */
extern DeadTopic *deadtopic_new(const Settings *s, char *err, size_t errlen);
extern void deadtopic_free(DeadTopic *d);

/* Queues e's message with the reason; false with err when Kafka refuses it at once. */
extern bool deadtopic_send(DeadTopic *d, const Event *e, const char *reason, const char *detail,
						   char *err, size_t errlen);
/* Waits until everything sent is acknowledged; false with err on any failure. */
extern bool deadtopic_flush(DeadTopic *d, char *err, size_t errlen);

#endif							/* PGCDC_SINK_DEADTOPIC_H */
