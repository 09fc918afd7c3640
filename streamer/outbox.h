/*
 * outbox.h — the outbox pattern, as Debezium's EventRouter: the rows an
 * application inserts into its outbox table become events on topics named
 * by one of their columns, instead of that table's changes.
 *
 *   outbox.table                       schema.table (unset: no outbox)
 *   outbox.route.by.field              aggregatetype: names the topic
 *   outbox.route.topic.replacement     outbox.event.${routedByValue}
 *   outbox.table.field.event.id        id: the event's "id" header
 *   outbox.table.field.event.key       aggregateid: the message key
 *   outbox.table.field.event.payload   payload: the message value
 *
 * An insert, or a row the snapshot reads, is one event: its key and value
 * are the key and payload columns as Kafka Connect's JsonConverter writes
 * them (with or without their schemas, schemas.enable), in either
 * value.format; a NULL key or payload is JSON's null, not a null key or a
 * tombstone (JsonConverter's form of an optional field's null).  Deletes
 * make nothing (the pattern deletes each event right after inserting it);
 * an update makes nothing but a warning, as Debezium's default.  A routed
 * value outside [A-Za-z0-9._-] has those bytes made '_' in the topic name,
 * as a table's name (topicname.h).  What Debezium 3.6.1 writes for the
 * same rows is tests/debezium/fixtures/outbox.jsonl.
 */
#ifndef PGCDC_STREAMER_OUTBOX_H
#define PGCDC_STREAMER_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "dbzjson.h"
#include "record.h"

typedef struct Outbox Outbox;

/* The settings' outbox; NULL when outbox.table is unset, *ok false (with err) when a setting is not valid. */
extern Outbox *outbox_new(const Config *c, bool *ok, char *err, size_t errlen);
extern void outbox_free(Outbox *o);

/* Whether schema.table is the outbox table. */
extern bool outbox_is_table(const Outbox *o, const char *schema, size_t schema_len, const char *table,
							size_t table_len);

/* One event: where it goes and what it says. */
typedef struct OutboxEvent
{
	char	   *topic;			/* malloc'd */
	Buf			key;			/* empty: a null key */
	Buf			value;
	char	   *id;				/* the "id" header's text, malloc'd */
} OutboxEvent;

/*
 * The event of a row (after, the image of an insert or a read) of the
 * outbox table t (its columns as Debezium types them, schemas.enable from
 * o's options).  False, with err naming the column, when the table lacks a
 * column the settings name or a value cannot be read as its type's.
 */
extern bool outbox_event(const Outbox *o, const DbzTable *t, const SpanArray *after, OutboxEvent *ev,
						 char *err, size_t errlen);
extern void outbox_event_clear(OutboxEvent *ev);

#endif							/* PGCDC_STREAMER_OUTBOX_H */
