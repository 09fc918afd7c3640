/*
 * settings.c — walsink's key table.  Names follow Kafka Connect's JDBC sink
 * where it has one (topics, auto.create, auto.evolve, delete mode).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "settings.h"
#include "topicroute.h"
#include "xalloc.h"

const ConfigKey settings_keys[] = {
	{"target", CONFIG_CONNINFO, NULL,
		"libpq connection string of the target database. Passwords belong in .pgpass "
		"(PGPASSFILE); one given here is masked in every log line", NULL, 0, 0, false, true},
	{"topic.prefix", CONFIG_STRING, "pgcdc",
		"walstreamer's topic.prefix: the default topics. A record is applied only when it arrived on "
		"its own table's topic, <prefix>.<schema>.<table>; any other is a dead letter",
		NULL, 0, 0, false, false},
	{"topic.routing.regex", CONFIG_STRING, NULL,
		"walstreamer's topic.routing.regex: a table whose topic it matches (the whole name) is expected "
		"on topic.routing.replacement's topic instead", NULL, 0, 0, false, false},
	{"topic.routing.replacement", CONFIG_STRING, NULL,
		"walstreamer's topic.routing.replacement ($1..$9: the regex's groups)", NULL, 0, 0, false, false},
	{"topic.routing.key.field.name", CONFIG_STRING, "__dbz__physicalTableIdentifier",
		"with topic.routing: the key field of Debezium's messages that names the table's own topic, "
		"not a column", NULL, 0, 0, false, false},
	{"topics", CONFIG_STRING, NULL,
		"topics to apply: a comma-separated list, or a regular expression starting with ^; "
		"unset: ^<topic.prefix>\\..*", NULL, 0, 0, false, false},
	{"input.format", CONFIG_ENUM, "auto",
		"the messages' format. protobuf: walstreamer's records, exactly once; debezium-json: Debezium's "
		"PostgreSQL connector's (Kafka Connect's JsonConverter, with or without schemas) or walstreamer's "
		"value.format = debezium-json, exactly once with walstreamer's headers, else at least once "
		"(the README's formats section); auto: each message by its first byte",
		"auto|protobuf|debezium-json", 0, 0, false, false},
	{"unavailable.value.placeholder", CONFIG_STRING, "__debezium_unavailable_value",
		"Debezium's stand-in for a TOASTed value an update left unchanged (its connector's setting of the "
		"same name): such a value leaves the target's as it is", NULL, 0, 0, false, false},
	{"binary.handling.mode", CONFIG_ENUM, "bytes",
		"Debezium's connector's setting of the same name: how its messages carry bytea (a text for a "
		"bytea column is then read as base64, or as hex)", "bytes|base64|base64-url-safe|hex", 0, 0, false, false},
	{"group.id", CONFIG_STRING, "walsink",
		"Kafka consumer group; also the key of this sink's positions in the target",
		NULL, 0, 0, false, false},
	{"table.map", CONFIG_STRING, NULL,
		"source to target tables: schema.table=schema.table, comma-separated",
		NULL, 0, 0, false, false},
	{"target.schema", CONFIG_STRING, NULL,
		"put every table not in table.map into this schema; unset: the source's schema",
		NULL, 0, 0, false, false},
	{"batch.max.rows", CONFIG_INT, "10000", "events per target transaction, at most",
		NULL, 1, 1000000, false, false},
	{"batch.max.bytes", CONFIG_INT, "8388608",
		"a batch's messages and their decoded records, at most this many bytes: with two batches in flight "
		"and kafka.queued.max.messages.kbytes fetched ahead, what walsink holds is bounded in bytes "
		"(one message larger than this is a batch of its own)",
		NULL, 65536, 1073741824, false, false},
	{"batch.max.ms", CONFIG_INT, "20",
		"apply a batch this long after its first event arrived (or, while the previous batch is still being applied, as soon as that is done)",
		NULL, 1, 60000, false, false},
	{"auto.create", CONFIG_BOOL, "on",
		"create a missing target table from the event's columns; off: dead-letter its events",
		NULL, 0, 0, false, false},
	{"auto.evolve", CONFIG_BOOL, "on", "add columns that appear in the source (ALTER TABLE ADD COLUMN)",
		NULL, 0, 0, false, false},
	{"delete.mode", CONFIG_ENUM, "hard", "hard: DELETE the row; soft: set delete.soft.column",
		"hard|soft", 0, 0, false, false},
	{"delete.soft.column", CONFIG_STRING, "__deleted",
		"with delete.mode soft: the boolean column set true on delete (false on upsert)",
		NULL, 0, 0, false, false},
	{"truncate.mode", CONFIG_ENUM, "apply",
		"apply: TRUNCATE the target table; ignore; dead-letter: record it, change nothing",
		"apply|ignore|dead-letter", 0, 0, false, false},
	{"source.change", CONFIG_ENUM, "fail",
		"a partition's changes coming from another source history than its stored position's (another "
		"cluster, database or slot, a new timeline after a failover or restore: header pgcdc.source). "
		"fail: stop (exit 1) saying so; resync: take the new history from its first change on (its "
		"snapshot included), forgetting the stored position. Two sources taking turns on one topic stop "
		"walsink either way", "fail|resync", 0, 0, false, false},
	{"dead.letter.table", CONFIG_STRING, "pgcdc.dead_letter",
		"schema.table of dead letters in the target; created when missing",
		NULL, 0, 0, false, false},
	{"dead.letter.topic", CONFIG_STRING, NULL,
		"also produce each dead letter here: the original key, value and headers, plus "
		"pgcdc.dl.* headers (reason, detail, topic, partition, offset); at least once. "
		"Messages consumed from this topic are ignored. unset: table only",
		NULL, 0, 0, false, false},
	{"key.change.wait.ms", CONFIG_INT, "60000",
		"an update that changes a row's key and leaves TOASTed columns unchanged takes their values "
		"from the old key's row: its copy under the new key waits (holding its partition) until the "
		"old key's copy, on another partition, is applied; after this long it is a dead letter",
		NULL, 100, 86400000, false, false},
	{"synchronous.commit", CONFIG_ENUM, "off",
		"synchronous_commit of walsink's target session. off: a commit does not wait for its WAL "
		"to be flushed; a crash of the target can undo the last batches, their positions with them, "
		"and walsink applies them again from Kafka (PostgreSQL's subscriptions do the same)",
		"off|local|remote_write|on|remote_apply", 0, 0, false, false},
	{"max.value.bytes", CONFIG_INT, "16777216",
		"a message value larger than this is a dead letter, not decoded",
		NULL, 64, 1073741824, false, false},
	{"shutdown.timeout.ms", CONFIG_INT, "30000",
		"on SIGTERM or SIGINT, at most this long to apply what was consumed, then exit 1 "
		"(a second signal: at once); 0: no limit", NULL, 0, 3600000, false, false},
	CONFIG_DAEMON_KEYS,
	{NULL}
};

static char *
dup_range(const char *p, size_t n)
{
	char	   *s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Trims spaces around [*p, *end). */
static void
trim(const char **p, const char **end)
{
	while (*p < *end && (**p == ' ' || **p == '\t'))
		(*p)++;
	while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
}

/* "a.b=c.d, e.f=g.h" */
static bool
parse_map(const char *text, Settings *s, char *err, size_t errlen)
{
	const char *p = text;

	while (*p)
	{
		const char *end = strchr(p, ',');
		const char *eq;
		const char *dot;
		const char *item = p;

		end = end ? end : p + strlen(p);
		trim(&item, &end);
		eq = memchr(item, '=', (size_t) (end - item));
		dot = eq ? memchr(eq + 1, '.', (size_t) (end - eq - 1)) : NULL;
		if (eq == NULL || eq == item || dot == NULL || dot == eq + 1 || dot + 1 == end ||
			memchr(item, '.', (size_t) (eq - item)) == NULL)
		{
			snprintf(err, errlen, "table.map: \"%.*s\" is not schema.table=schema.table",
					 (int) (end - item), item);
			return false;
		}
		s->map = xrealloc(s->map, s->nmap + 1, sizeof(TableMapping));
		s->map[s->nmap].source = dup_range(item, (size_t) (eq - item));
		s->map[s->nmap].schema = dup_range(eq + 1, (size_t) (dot - eq - 1));
		s->map[s->nmap].table = dup_range(dot + 1, (size_t) (end - dot - 1));
		s->nmap++;
		p = *end ? end + 1 : end;
		while (*p == ',')
			p++;
	}
	return true;
}

/* rule.<schema>.<table>.<name>: the name is after the last dot. */
static bool
parse_rules(const Config *c, Settings *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < config_passthrough_count(c); i++)
	{
		const char *key = config_passthrough_name(c, i);
		const char *target = key + strlen("rule.");
		const char *last = strrchr(target, '.');

		if (strncmp(key, "rule.", 5) != 0)
			continue;
		if (last == NULL || last == target || last[1] == '\0' ||
			memchr(target, '.', (size_t) (last - target)) == NULL)
		{
			snprintf(err, errlen, "%s: rules are rule.<schema>.<table>.<name> = <SQL condition>", key);
			return false;
		}
		s->rules = xrealloc(s->rules, s->nrules + 1, sizeof(Rule));
		s->rules[s->nrules].target = dup_range(target, (size_t) (last - target));
		s->rules[s->nrules].name = dup_range(last + 1, strlen(last + 1));
		s->rules[s->nrules].expr = config_passthrough_value(c, i);
		s->nrules++;
	}
	return true;
}

bool
settings_load(const Config *c, Settings *s, char *err, size_t errlen)
{
	const char *dl;
	const char *mode;

	memset(s, 0, sizeof(*s));
	s->config = c;
	s->target = config_string(c, "target");
	s->topics = config_string(c, "topics");
	s->topic_prefix = config_string(c, "topic.prefix");
	s->group_id = config_string(c, "group.id");
	s->target_schema = config_string(c, "target.schema");
	s->batch_max_rows = (int) config_int(c, "batch.max.rows");
	s->batch_max_ms = (int) config_int(c, "batch.max.ms");
	s->batch_max_bytes = (size_t) config_int(c, "batch.max.bytes");
	s->key_change_wait_ms = (int) config_int(c, "key.change.wait.ms");
	s->auto_create = config_bool(c, "auto.create");
	s->auto_evolve = config_bool(c, "auto.evolve");
	s->delete_mode = strcmp(config_string(c, "delete.mode"), "soft") == 0 ? DELETE_SOFT : DELETE_HARD;
	s->soft_column = config_string(c, "delete.soft.column");
	s->synchronous_commit = config_string(c, "synchronous.commit");
	s->source_resync = strcmp(config_string(c, "source.change"), "resync") == 0;
	mode = config_string(c, "truncate.mode");
	s->truncate_mode = strcmp(mode, "apply") == 0 ? TRUNCATE_APPLY :
		strcmp(mode, "ignore") == 0 ? TRUNCATE_IGNORE : TRUNCATE_DEAD_LETTER;
	s->dead_letter_table = dl = config_string(c, "dead.letter.table");
	s->dead_letter_topic = config_string(c, "dead.letter.topic");
	s->max_value_bytes = (size_t) config_int(c, "max.value.bytes");
	s->input.format = strcmp(config_string(c, "input.format"), "protobuf") == 0 ? INPUT_PROTOBUF
		: strcmp(config_string(c, "input.format"), "debezium-json") == 0 ? INPUT_DEBEZIUM : INPUT_AUTO;
	s->input.placeholder = config_string(c, "unavailable.value.placeholder");
	s->input.hex_bytes = strcmp(config_string(c, "binary.handling.mode"), "hex") == 0;
	if ((config_string(c, "topic.routing.regex") != NULL) != (config_string(c, "topic.routing.replacement") != NULL))
	{
		snprintf(err, errlen, "topic.routing.regex and topic.routing.replacement are set together");
		return false;
	}
	if (config_string(c, "topic.routing.regex") != NULL &&
		(s->route = topicroute_new(config_string(c, "topic.routing.regex"),
								   config_string(c, "topic.routing.replacement"), err, errlen)) == NULL)
		return false;
	s->input.route_key_field = s->route ? config_string(c, "topic.routing.key.field.name") : NULL;
	if (strchr(dl, '.') == NULL || dl[0] == '.' || strchr(dl, '.')[1] == '\0' ||
		strchr(strchr(dl, '.') + 1, '.') != NULL)
	{
		snprintf(err, errlen, "dead.letter.table: \"%s\" is not schema.table", dl);
		return false;
	}
	if (s->topics == NULL)
	{
		const char *prefix = config_string(c, "topic.prefix");
		char	   *re = xmalloc(2 * strlen(prefix) + 8);
		char	   *o = re;

		/* ^prefix\..* with the prefix's regex characters escaped */
		*o++ = '^';
		for (const char *p = prefix; *p; p++)
		{
			if (strchr(".^$*+?()[]{}|\\", *p))
				*o++ = '\\';
			*o++ = *p;
		}
		strcpy(o, "\\..*");
		s->topics = s->owned_topics = re;
	}
	s->table_map_text = config_string(c, "table.map");
	if (s->table_map_text && !parse_map(s->table_map_text, s, err, errlen))
		return false;
	if (s->target_schema && settings_forbidden(s, s->target_schema, NULL))
	{
		snprintf(err, errlen, "target.schema: \"%s\" %s", s->target_schema,
				 settings_forbidden(s, s->target_schema, NULL));
		return false;
	}
	for (size_t i = 0; i < s->nmap; i++)
		if (settings_forbidden(s, s->map[i].schema, s->map[i].table))
		{
			snprintf(err, errlen, "table.map: %s.%s %s", s->map[i].schema, s->map[i].table,
					 settings_forbidden(s, s->map[i].schema, s->map[i].table));
			return false;
		}
	return parse_rules(c, s, err, errlen);
}

const char *
settings_forbidden(const Settings *s, const char *schema, const char *table)
{
	const char *dl = s->dead_letter_table;
	size_t		dl_schema = strcspn(dl, ".");

	if (strcmp(schema, "pgcdc") == 0)
		return "is walsink's own schema: never a target";
	if (strncmp(schema, "pg_", 3) == 0 || strcmp(schema, "information_schema") == 0)
		return "is a system schema: never a target";
	if (table && strlen(schema) == dl_schema && strncmp(schema, dl, dl_schema) == 0 &&
		strcmp(table, dl + dl_schema + 1) == 0)
		return "is walsink's dead-letter table: never a target";
	return NULL;
}

void
settings_free(Settings *s)
{
	for (size_t i = 0; i < s->nmap; i++)
	{
		free(s->map[i].source);
		free(s->map[i].schema);
		free(s->map[i].table);
	}
	for (size_t i = 0; i < s->nrules; i++)
	{
		free(s->rules[i].target);
		free(s->rules[i].name);
	}
	free(s->map);
	free(s->rules);
	free(s->owned_topics);
}

void
settings_target_of(const Settings *s, const char *schema, const char *table,
				   const char **tschema, const char **ttable)
{
	size_t		sl = strlen(schema);

	for (size_t i = 0; i < s->nmap; i++)
	{
		const char *src = s->map[i].source;

		if (strncmp(src, schema, sl) == 0 && src[sl] == '.' && strcmp(src + sl + 1, table) == 0)
		{
			*tschema = s->map[i].schema;
			*ttable = s->map[i].table;
			return;
		}
	}
	*tschema = s->target_schema ? s->target_schema : schema;
	*ttable = table;
}

/* librdkafka's consumer properties, which a producer would only warn about. */
static bool
consumer_only(const char *name)
{
	static const char *const names[] = {
		"group.", "session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy",
		"max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms",
		"enable.auto.offset.store", "queued.", "fetch.", "enable.partition.eof", "check.crcs",
		"isolation.level", "auto.offset.reset", "consume.callback.max.messages",
		"coordinator.query.interval.ms", "allow.auto.create.topics", "client.rack", NULL
	};

	for (int i = 0; names[i]; i++)
		if (names[i][strlen(names[i]) - 1] == '.' ? strncmp(name, names[i], strlen(names[i])) == 0
			: strcmp(name, names[i]) == 0)
			return true;
	return false;
}

rd_kafka_conf_t *
settings_kafka_conf(const Settings *s, const char *const (*defaults)[2], bool producer, char *why, size_t whylen)
{
	const Config *c = s->config;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	for (int i = 0; defaults[i][0]; i++)
		if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], why, whylen) != RD_KAFKA_CONF_OK)
			goto fail;
	for (size_t i = 0; i < config_passthrough_count(c); i++)
	{
		const char *name = config_passthrough_name(c, i);

		if (strncmp(name, "kafka.", 6) != 0 || (producer && consumer_only(name + 6)))
			continue;
		if (rd_kafka_conf_set(conf, name + 6, config_passthrough_value(c, i), why, whylen) != RD_KAFKA_CONF_OK)
			goto fail;
	}
	return conf;

fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}
