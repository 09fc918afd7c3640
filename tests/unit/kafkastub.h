/*
 * kafkastub.h — consumed Kafka messages without librdkafka, for the tests
 * and fuzz targets of walsink's decoding (sink/event.c).
 *
 * kafkastub.c defines the three librdkafka functions event.c calls on a
 * message (its headers, one header's value, destroy): link it instead of
 * librdkafka.  A message owns a copy of its payload, allocated to the byte
 * so that a sanitizer sees any read past its end; rd_kafka_message_destroy
 * (event_free) frees both.
 */
#ifndef PGCDC_UNIT_KAFKASTUB_H
#define PGCDC_UNIT_KAFKASTUB_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* A message of len bytes; key_role: the pgcdc.key header's value, or NULL for none. */
extern rd_kafka_message_t *kafkastub_message(const void *payload, size_t len, const char *key_role);

#endif							/* PGCDC_UNIT_KAFKASTUB_H */
