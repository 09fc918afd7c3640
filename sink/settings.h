/*
 * settings.h — walsink's configuration keys and their typed values.
 *
 * Settings points into the Config it was loaded from, which must outlive it;
 * the mapping and rule arrays are its own (settings_free).  The keys every
 * daemon has (log.*, metrics.listen, shutdown.timeout.ms,
 * reconnect.backoff.max.ms) are in the table but read by the skeleton
 * (daemon.h), not kept here.
 */
#ifndef PGCDC_SINK_SETTINGS_H
#define PGCDC_SINK_SETTINGS_H

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "event.h"

typedef enum DeleteMode
{
	DELETE_HARD,
	DELETE_SOFT					/* set delete.soft.column to true instead */
} DeleteMode;

typedef enum TruncateMode
{
	TRUNCATE_APPLY,
	TRUNCATE_IGNORE,
	TRUNCATE_DEAD_LETTER
} TruncateMode;

/* One table.map entry: source "schema.table" → target schema and table. */
typedef struct TableMapping
{
	char	   *source;
	char	   *schema;
	char	   *table;
} TableMapping;

/* One rule.<schema>.<table>.<name> = <SQL boolean expression>. */
typedef struct Rule
{
	char	   *target;			/* "schema.table" as written */
	char	   *name;
	const char *expr;
} Rule;

typedef struct Settings
{
	const Config *config;
	const char *target;
	const char *topics;			/* comma list or ^regex */
	const char *topic_prefix;
	struct TopicRoute *route;	/* topic.routing (topicroute.h); NULL: each table on its own topic */
	const char *group_id;
	const char *target_schema;	/* one schema for all, or NULL */
	TableMapping *map;
	size_t		nmap;
	Rule	   *rules;
	size_t		nrules;
	int			batch_max_rows;
	int			batch_max_ms;
	size_t		batch_max_bytes;
	int			key_change_wait_ms;
	bool		auto_create;
	bool		auto_evolve;
	DeleteMode	delete_mode;
	const char *soft_column;
	TruncateMode truncate_mode;
	bool		source_resync;	/* source.change = resync */
	const char *synchronous_commit;	/* one of synchronous.commit's values */
	const char *dead_letter_table;	/* "schema.table" */
	const char *dead_letter_topic;	/* or NULL */
	size_t		max_value_bytes;
	EventInput	input;			/* input.format, unavailable.value.placeholder */
	const char *table_map_text;
	char	   *owned_topics;	/* the default topics regex */
} Settings;

extern const ConfigKey settings_keys[];

#define SETTINGS_ENV_PREFIX "WALSINK"

extern bool settings_load(const Config *c, Settings *s, char *err, size_t errlen);
extern void settings_free(Settings *s);

/* The target of a source table: table.map, else target.schema, else the same names. */
extern void settings_target_of(const Settings *s, const char *schema, const char *table,
							   const char **tschema, const char **ttable);

/*
 * Why schema.table (table NULL: anything in schema) may never be a target,
 * whatever a record or the configuration says: walsink's own schema, the
 * system's, the dead-letter table.  NULL when it may be.
 */
extern const char *settings_forbidden(const Settings *s, const char *schema, const char *table);

/*
 * A librdkafka configuration: defaults (name-value pairs up to a NULL name),
 * then the kafka.* keys, less the consumer's own for a producer.  NULL with
 * why when librdkafka refuses a key.
 */
extern rd_kafka_conf_t *settings_kafka_conf(const Settings *s, const char *const (*defaults)[2], bool producer,
											char *why, size_t whylen);

#endif							/* PGCDC_SINK_SETTINGS_H */
