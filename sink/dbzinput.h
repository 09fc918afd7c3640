/*
 * dbzinput.h — a message in Debezium's format (its PostgreSQL connector
 * through Kafka Connect's JsonConverter, with or without schemas, or
 * walstreamer's value.format = debezium-json) read as the contract's
 * ChangeEvent, so that walsink applies it as one of its own (event.c).
 *
 * What the ChangeEvent gets: the op (c, u, r → INSERT, UPDATE, READ;
 * d → DELETE; t → TRUNCATE; m, and the transaction and heartbeat topics'
 * messages → MESSAGE, nothing to apply), schema and table from the source
 * block, the columns in the row's order with the message key's fields as
 * the key, and each value as the pgcdc Value its Connect type says (with
 * schemas: io.debezium.time.MicroTimestamp → a timestamp, Decimal → the
 * exact numeric, ...).  Without schemas a value is read by its JSON type
 * alone: what Debezium writes as a number or base64 for a date, a time, a
 * decimal or bytes arrives as that number or that text, and a target
 * column of another type refuses it (a dead letter saying so).  An
 * unchanged TOASTed value's placeholder (unavailable.value.placeholder) in
 * an update becomes unchanged_toast: the target keeps its value.
 *
 * Where a change stands, for walsink's exactly-once: walstreamer's own
 * headers (pgcdc.commit_lsn and pgcdc.seq) when it wrote the message,
 * exact; else Debezium's source.sequence (the last commit's end) and
 * source.lsn, which rows of one multi-row WAL record (COPY) and a
 * snapshot's reads share: a change at its partition's position is skipped
 * only when read again from an offset already applied; sent again by
 * Debezium (at a new offset), it is applied again (at-least-once:
 * idempotent for a table with a key, a second row for one without).
 */
#ifndef PGCDC_SINK_DBZINPUT_H
#define PGCDC_SINK_DBZINPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cdc.pb-c.h"

/* How far a message's position can be trusted. */
typedef enum DbzOrder
{
	DBZ_ORDER_EXACT,			/* unique in its partition (walstreamer's headers) */
	DBZ_ORDER_SHARED			/* others may share it (Debezium's LSNs): equal, it is skipped only when read again */
} DbzOrder;

typedef struct DbzPlace
{
	uint64_t	lsn;			/* commit LSN (exact), or the last commit's end (shared) */
	uint64_t	seq;			/* index in the transaction (exact), or the change's LSN (shared) */
	uint32_t	sub;			/* 1 for a key change's create under the new key */
	DbzOrder	order;
} DbzPlace;

/* Whether a value is JSON (its first byte not blank is '{'): no ChangeEvent starts so. */
extern bool dbzinput_is_json(const void *value, size_t len);

/*
 * The message (its value not null) as a ChangeEvent allocated with alloc,
 * and its place; NULL with why when it is not a Debezium message walsink
 * can apply (why names what is wrong).  route_key_field: a key field that
 * names a routed table's own topic (Debezium's ByLogicalTableRouter) rather
 * than a column; NULL: none.
 */
extern Pgcdc__ChangeEvent *dbzinput_decode(const rd_kafka_message_t *msg, const char *placeholder,
										   const char *route_key_field, ProtobufCAllocator *alloc,
										   DbzPlace *place, char *why, size_t whylen);

#endif							/* PGCDC_SINK_DBZINPUT_H */
