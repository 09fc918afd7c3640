/*
 * settings.h — walstreamer's configuration keys and their typed values.
 *
 * The key table is the one place a key is defined: the parser, --help and
 * the README's reference all come from it.  Settings points into the
 * Config it was loaded from, which must outlive it.  The keys every daemon
 * has (log.*, metrics.listen, shutdown.timeout.ms, reconnect.backoff.max.ms)
 * are in the table but read by the skeleton (daemon.h), not kept here.
 */
#ifndef PGCDC_STREAMER_SETTINGS_H
#define PGCDC_STREAMER_SETTINGS_H

#include "config.h"
#include "dbztype.h"

typedef enum SnapshotMode
{
	SNAPSHOT_INITIAL,			/* when the slot is created */
	SNAPSHOT_NEVER,
	SNAPSHOT_INITIAL_ONLY,		/* snapshot (streaming meanwhile), then exit */
	SNAPSHOT_ALWAYS,			/* every table read again at every start */
	SNAPSHOT_WHEN_NEEDED		/* initial, and when the slot is gone or invalidated: a new one, every table read again */
} SnapshotMode;

/* What walstreamer does with a change larger than Kafka takes. */
typedef enum OversizedMode
{
	OVERSIZED_DEAD_LETTER,		/* a stand-in in its place (proto/cdc.proto, OP_OVERSIZED), and on */
	OVERSIZED_FAIL				/* stop before it: exit with an error naming it */
} OversizedMode;

/* The output plugin that decodes the WAL (source.plugin). */
typedef enum Plugin
{
	PLUGIN_PGCDC,
	PLUGIN_PGOUTPUT
} Plugin;

/* What walstreamer does about the publication pgoutput reads (publication.autocreate). */
typedef enum PublicationAutocreate
{
	PUBLICATION_FILTERED,		/* create it for the included tables, add those it lacks */
	PUBLICATION_ALL_TABLES,		/* create it FOR ALL TABLES */
	PUBLICATION_DISABLED		/* it must exist and hold the included tables */
} PublicationAutocreate;

typedef struct Settings
{
	const Config *config;
	const char *source;
	const char *primary;		/* source.primary: NULL unless source is a standby */
	const char *writes;			/* where walstreamer writes: primary, else source */
	Plugin		plugin;
	const char *plugin_name;	/* "pgcdc" or "pgoutput" */
	const char *publication;
	PublicationAutocreate publication_autocreate;
	const char *slot_name;
	bool		slot_create;
	bool		slot_failover;	/* PostgreSQL 17 on: a slot synchronised to standbys */
	bool		streaming;		/* source.streaming: transactions in progress streamed */
	bool		via_root;		/* publish.via.partition.root: partitions' changes as their root's */
	const char *topic_prefix;
	const char *include_tables;
	const char *exclude_tables;
	const char *message_prefixes;
	SnapshotMode snapshot_mode;
	int			snapshot_parallelism;
	int			snapshot_fetch_size;
	int			snapshot_chunk_rows;
	const char *signal_table;	/* schema.table of the signal table, or NULL */
	int			heartbeat_ms;
	const char *heartbeat_query;	/* heartbeat.action.query, or NULL */
	int			status_ms;
	bool		transaction_topic;
	OversizedMode oversized_mode;
	bool		to_stdout;
	bool		debezium;		/* value.format = debezium-json (else protobuf) */
	bool		schemas;		/* schemas.enable */
	const char *placeholder;	/* unavailable.value.placeholder */
	DbzModes	modes;			/* decimal.handling.mode and Debezium's other type modes */
	bool		tombstones;		/* tombstones.on.delete, its default by format */
	struct ColPolicy *columns;	/* the column settings (colpolicy.h); NULL: none, every column as read */
	struct TopicRoute *route;	/* topic.routing (topicroute.h); NULL: every table on its own topic */
	struct Outbox *outbox;		/* outbox.table (outbox.h); NULL: none */
	const char *route_key_field;	/* topic.routing.key.field.name, or NULL when uniqueness is off */
} Settings;

extern const ConfigKey settings_keys[];

/* The prefix of environment overrides: WALSTREAMER_SLOT_NAME. */
#define SETTINGS_ENV_PREFIX "WALSTREAMER"

/* The heartbeat's logical message prefix, never a user's. */
#define HEARTBEAT_PREFIX "pgcdc.heartbeat"

extern bool settings_load(const Config *c, Settings *s, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_SETTINGS_H */
