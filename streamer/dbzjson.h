/*
 * dbzjson.h — walstreamer's Kafka messages in Debezium's format
 * (value.format = debezium-json): keys and values as Debezium's PostgreSQL
 * connector writes them through Kafka Connect's JsonConverter, with or
 * without the "schema" part (schemas.enable).
 *
 * The shapes are those of tests/debezium/fixtures, recorded from Debezium
 * 3.6.1: the change envelope (before, after, source, transaction, op,
 * ts_ms/us/ns), the key, the truncate and logical message events, the
 * transaction topic's BEGIN and END, the heartbeat.  What pgcdc writes
 * differently, and why, is in the README's formats section.
 *
 * A DbzTable is one relation's columns as Debezium types them, and the
 * schema parts of its messages, built once per RELATION record.
 */
#ifndef PGCDC_STREAMER_DBZJSON_H
#define PGCDC_STREAMER_DBZJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dbztype.h"
#include "record.h"

typedef struct DbzOptions
{
	const char *name;			/* topic.prefix: source.name and the schemas' names */
	bool		schemas;		/* schemas.enable */
	const char *placeholder;	/* unavailable.value.placeholder */
	DbzModes	modes;			/* decimal.handling.mode and the other type modes */
	/* topic.routing.key.field.name when the routing keeps keys unique (topic.routing.key.enforce.uniqueness) */
	const char *route_key_field;
} DbzOptions;

typedef struct DbzTable DbzTable;

/* Where a change stands: its source block and transaction block. */
typedef struct DbzPosition
{
	uint64_t	commit_lsn;		/* its transaction's commit, which names it; 0: none */
	/* source.sequence's first LSN, Debezium's lastCommitLsn: where the last transaction before it ended; 0: null */
	uint64_t	last_commit;
	uint64_t	lsn;
	uint32_t	xid;			/* 0: none */
	int64_t		commit_ts;		/* µs since the epoch */
	Span		database;
	bool		snapshot;
	uint64_t	total_order;	/* 0: no transaction block (provide.transaction.metadata off) */
	uint64_t	collection_order;
} DbzPosition;

/*
 * A relation's table from its RELATION record, whose topic is topic (the
 * schemas' names are the topic's, as Debezium's); masked (NULL: none)
 * says per column whether its values are masked (colpolicy.h), which its
 * schema says as Debezium's does.  physical: the table's own topic when
 * topic.routing sends it to topic (NULL: not routed), which its keys then
 * carry in o->route_key_field, as Debezium's ByLogicalTableRouter adds it.  NULL, with err, when a
 * Column is malformed.
 */
extern DbzTable *dbz_table_new(const DbzOptions *o, const Record *relation, const bool *masked,
							   const char *topic, const char *physical, char *err, size_t errlen);
extern void dbz_table_free(DbzTable *t);
extern bool dbz_table_keyless(const DbzTable *t);
/* The position of t's column named name, or -1. */
extern int	dbz_table_column_index(const DbzTable *t, const char *name);

/*
 * The value of t's column col as a message of its own, as JsonConverter
 * writes one: {"schema":<the column's>,"payload":<value>}, or the value
 * alone without schemas (the outbox's keys and values, outbox.h).
 */
extern bool dbz_column_message(const DbzTable *t, size_t col, Span value, Buf *out, char *err, size_t errlen);

/*
 * The key of an image into out (emptied first); out->len 0: a table
 * without a key.  schema false: the payload alone, whatever schemas.enable
 * says, and without a routed table's own topic (the form of Debezium's
 * __debezium.oldkey/newkey headers).
 */
extern bool dbz_key(const DbzTable *t, const SpanArray *image, bool schema, Buf *out,
					char *err, size_t errlen);

/*
 * A change's value into out (emptied first): op 'c', 'u', 'd' or 'r',
 * before and after the images (NULL: null).  An unchanged TOASTed value in
 * after is taken from before when before has it (REPLICA IDENTITY FULL),
 * else written as the placeholder.
 */
extern bool dbz_change(const DbzTable *t, char op, const SpanArray *before, const SpanArray *after,
					   const DbzPosition *pos, Buf *out, char *err, size_t errlen);

/* A truncate of the table (t NULL: one never described; its schema then has no columns). */
extern void dbz_truncate(const DbzOptions *o, const DbzTable *t, Span schema, Span table,
						 const DbzPosition *pos, Buf *out);

/* A logical message's key and value (<prefix>.message). */
extern void dbz_message(const DbzOptions *o, Span prefix, Span content, const DbzPosition *pos,
						Buf *key, Buf *value);

/* A heartbeat's key and value (__debezium-heartbeat.<prefix>). */
extern void dbz_heartbeat(const DbzOptions *o, int64_t ts_ms, Buf *key, Buf *value);

/* One table's count in a transaction's END. */
typedef struct DbzCount
{
	const char *name;			/* schema.table */
	uint64_t	count;
} DbzCount;

/* A transaction's BEGIN (counts NULL) or END on the transaction topic. */
extern void dbz_transaction(const DbzOptions *o, uint32_t xid, uint64_t commit_lsn, int64_t commit_ts,
							const DbzCount *counts, size_t ncounts, Buf *key, Buf *value);

/* The transaction id Debezium's blocks name a transaction by: "<xid>:<lsn>". */
extern void dbz_transaction_id(uint32_t xid, uint64_t commit_lsn, char *out, size_t outlen);

#endif							/* PGCDC_STREAMER_DBZJSON_H */
