/*
 * relations.h — what walstreamer knows about each relation of the stream:
 * its latest RELATION record (put in front of every change so that each
 * Kafka value describes itself), its key positions and its topic.
 *
 * Entries are keyed by relid and replaced whenever the decoder sends a new
 * RELATION record.  The table owns everything in it; the topic handle is
 * the caller's (an opaque pointer released through the free callback).
 */
#ifndef PGCDC_STREAMER_RELATIONS_H
#define PGCDC_STREAMER_RELATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colpolicy.h"
#include "topicroute.h"
#include "record.h"

typedef struct Relation
{
	uint32_t	relid;
	uint8_t    *record;			/* the RELATION record's bytes */
	size_t		record_len;
	uint32_t   *keys;			/* key column positions, ascending */
	size_t		nkeys;
	char	   *name;			/* schema.table, for logs and metrics */
	size_t		schema_len;		/* name[schema_len] is the separating dot */
	char	   *topic;			/* <prefix>.<schema>.<table>, sanitised, or where topic.routing sends it */
	char	   *physical;		/* routed: <prefix>.<schema>.<table>; NULL: not routed */
	void	   *handle;			/* the producer's topic handle, owned via free_handle */
	void	   *counters[10];	/* the caller's, per op (metric cells); kept on replace */
	uint64_t	txn_events;		/* the caller's: changes in the open transaction */
	struct DbzTable *dbz;		/* the caller's (value.format = debezium-json), freed on replace */
	ColTable   *cols;		/* the column settings' decisions for it (colpolicy.h); NULL: none */
	const uint8_t *sent;		/* the RELATION record as Kafka gets it: record, or cols' rewrite */
	size_t		sent_len;
	const uint32_t *kafka_keys; /* the Kafka key's positions in an image as sent: keys, or cols' */
	size_t		nkafka_keys;
} Relation;

typedef struct Relations Relations;

/*
 * columns: the column settings (colpolicy.h; NULL: none), and route:
 * topic.routing (topicroute.h; NULL: none), the caller's, kept.
 */
extern Relations *relations_new(const char *topic_prefix, const ColPolicy *columns, const TopicRoute *route,
								void (*free_handle) (void *));
extern void relations_free(Relations *rels);

/*
 * Remembers a RELATION record (r scanned from buf); the entry stays valid
 * until relations_free.  NULL, with err, when the column settings cannot
 * hold for the table (colpolicy_table) or its routed topic is no name.
 */
extern Relation *relations_put(Relations *rels, const Record *r, const uint8_t *buf, size_t len,
							   char *err, size_t errlen);
extern Relation *relations_get(Relations *rels, uint32_t relid);

/*
 * A change's Kafka value: rel's RELATION record as sent followed by the change's
 * bytes, which protobuf reads as one self-describing record.  malloc'd by
 * xalloc.h, the caller's to free.  *total is its length.
 */
extern void *relation_value(const Relation *rel, const uint8_t *change, size_t len, size_t *total);

#endif							/* PGCDC_STREAMER_RELATIONS_H */
