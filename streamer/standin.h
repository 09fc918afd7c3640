/*
 * standin.h — what goes to Kafka in place of a change larger than Kafka
 * takes (oversized.mode = dead-letter), and the words that name such a
 * change in a log line.
 *
 * Both read the message value walstreamer would have produced: a pgcdc
 * record, for a change preceded by its relation's RELATION record (their
 * fields merge).  They need nothing else, so a message can be replaced
 * wherever the producer refuses it: when it is produced, from the outbox,
 * or by a snapshot worker.  The stand-in keeps the message's topic, key,
 * partition and place in its transaction: acknowledged in its place, it
 * lets the slot move past the change, and a consumer finds it where the
 * change would have been.
 */
#ifndef PGCDC_STREAMER_STANDIN_H
#define PGCDC_STREAMER_STANDIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"
#include "metrics.h"
#include "settings.h"

/*
 * The stand-in record (proto/cdc.proto, OP_OVERSIZED): the record's own
 * fields with op OP_OVERSIZED, its row images cut to the key columns'
 * values, a message's content left out, and an Oversized message saying
 * what it stands for.  malloc'd, *outlen long; NULL when value is not a
 * well-formed record.
 */
extern uint8_t *standin_value(const uint8_t *value, size_t len, const Oversize *o, size_t *outlen);

/*
 * The change in words, for a log line: "insert of public.t (id)=(11)
 * (commit 0/16B3F28, change #3 at 0/16B3E00)".  Values of the key are cut
 * short past a few dozen characters.
 */
extern void standin_describe(const uint8_t *value, size_t len, char *out, size_t outlen);

/*
 * What oversized.mode says for a message kafka_produce() found too large.
 * dead-letter: logs a warning naming the change, counts it in m, and makes
 * *value (freed), *len and *h the stand-in's, to be produced instead: true.
 * fail: false, with err naming the change, its size, the limit and how to
 * raise it.
 */
extern bool standin_apply(OversizedMode mode, const Oversize *big, void **value, size_t *len,
						  KafkaHeaders *h, MetricCell *m, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_STANDIN_H */
