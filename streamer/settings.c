/*
 * settings.c — walstreamer's key table.  Names follow Debezium's PostgreSQL
 * connector where it has one (slot.name, topic.prefix, snapshot.mode,
 * table.include.list, heartbeat.interval.ms, provide.transaction.metadata).
 */
#include <stdio.h>
#include <string.h>

#include "colpolicy.h"
#include "outbox.h"
#include "topicroute.h"
#include "settings.h"

const ConfigKey settings_keys[] = {
	{"source", CONFIG_CONNINFO, NULL,
		"libpq connection string of the source database; replication=database is added. "
		"Passwords belong in .pgpass (PGPASSFILE); one given here is masked in every log line",
		NULL, 0, 0, false, true},
	{"source.primary", CONFIG_CONNINFO, NULL,
		"when source is a standby (PostgreSQL 16 on decodes there): the primary's connection string, where "
		"walstreamer writes (its tables, snapshot watermarks, heartbeats, the publication); the standby is "
		"read. Unset: everything on source",
		NULL, 0, 0, false, false},
	{"source.plugin", CONFIG_ENUM, "pgcdc",
		"the output plugin that decodes the WAL. pgcdc: this project's (loaded by the server, with the "
		"pgcdc extension); pgoutput: PostgreSQL's own, on servers that load no other (managed PostgreSQL), "
		"read through a publication. The records in Kafka are the same", "pgcdc|pgoutput", 0, 0, false, false},
	{"publication.name", CONFIG_STRING, "pgcdc",
		"source.plugin=pgoutput: the publication to read (it must hold the tables the lists include)",
		NULL, 0, 0, false, false},
	{"publication.autocreate", CONFIG_ENUM, "filtered",
		"source.plugin=pgoutput: filtered: create the publication for the tables the lists include, and "
		"add those it lacks at every start (the role must own them); all_tables: create it FOR ALL TABLES "
		"(superuser); disabled: it must exist", "filtered|all_tables|disabled", 0, 0, false, false},
	{"slot.name", CONFIG_STRING, "pgcdc", "logical replication slot to stream from",
		NULL, 0, 0, false, false},
	{"slot.create", CONFIG_BOOL, "on",
		"create the slot (with source.plugin) on the first start; a slot dropped after that is "
		"an error, never silently recreated", NULL, 0, 0, false, false},
	{"slot.failover", CONFIG_BOOL, "on",
		"PostgreSQL 17 on: make the slot a failover slot, which standbys with sync_replication_slots = on "
		"keep in step, so that after a promotion walstreamer goes on from it on the new primary (name both "
		"servers in source, with target_session_attrs=read-write); older servers: ignored",
		NULL, 0, 0, false, false},
	{"source.streaming", CONFIG_BOOL, "on",
		"transactions larger than the source's logical_decoding_work_mem come while in progress and go to "
		"Kafka as they come (walsink applies one at its commit); off: each comes whole at its commit",
		NULL, 0, 0, false, false},
	{"topic.prefix", CONFIG_STRING, "pgcdc",
		"topics are <prefix>.<schema>.<table>, <prefix>.transaction, <prefix>.message, "
		"<prefix>.heartbeat", NULL, 0, 0, false, false},
	{"publish.via.partition.root", CONFIG_BOOL, "off",
		"a partitioned table's changes and snapshot under its root table (its topic, its columns and key), "
		"as a publication WITH (publish_via_partition_root); off: each partition as a table of its own. "
		"A partition truncated alone is then not streamed, as with pgoutput", NULL, 0, 0, false, false},
	{"table.include.list", CONFIG_STRING, NULL,
		"tables to stream, schema.table or schema.*, comma-separated; unset: all",
		NULL, 0, 0, false, false},
	{"table.exclude.list", CONFIG_STRING, NULL,
		"tables never to stream, schema.table or schema.*, comma-separated",
		NULL, 0, 0, false, false},
	{"topic.routing.regex", CONFIG_STRING, NULL,
		"route the tables whose topics it matches (a POSIX extended regular expression, the whole name, "
		"case-sensitive) to topic.routing.replacement, as Debezium's ByLogicalTableRouter; walsink needs "
		"the same two settings", NULL, 0, 0, false, false},
	{"topic.routing.replacement", CONFIG_STRING, NULL,
		"the routed topic's name; $1..$9 are the regex's groups ($0 the whole name), \\$ a dollar",
		NULL, 0, 0, false, false},
	{"topic.routing.key.enforce.uniqueness", CONFIG_BOOL, "on",
		"value.format = debezium-json: a routed table's keys carry its own topic (in "
		"topic.routing.key.field.name), so that two tables' keys stay apart", NULL, 0, 0, false, false},
	{"topic.routing.key.field.name", CONFIG_STRING, "__dbz__physicalTableIdentifier",
		"the key field naming a routed table's own topic", NULL, 0, 0, false, false},
	{"outbox.table", CONFIG_STRING, NULL,
		"schema.table of an outbox table: its inserts become events on the topics its rows name, as "
		"Debezium's EventRouter (README), each once its transaction committed (source.streaming is then "
		"off); unset: none", NULL, 0, 0, false, false},
	{"outbox.route.by.field", CONFIG_STRING, "aggregatetype",
		"the outbox column whose value names an event's topic", NULL, 0, 0, false, false},
	{"outbox.route.topic.replacement", CONFIG_STRING, "outbox.event.${routedByValue}",
		"an event's topic, ${routedByValue} the route column's value", NULL, 0, 0, false, false},
	{"outbox.table.field.event.id", CONFIG_STRING, "id",
		"the outbox column sent as the event's \"id\" header", NULL, 0, 0, false, false},
	{"outbox.table.field.event.key", CONFIG_STRING, "aggregateid",
		"the outbox column sent as the event's key", NULL, 0, 0, false, false},
	{"outbox.table.field.event.payload", CONFIG_STRING, "payload",
		"the outbox column sent as the event's value", NULL, 0, 0, false, false},
	{"column.include.list", CONFIG_STRING, NULL,
		"columns to send, regular expressions (POSIX extended, case-insensitive) matching the whole "
		"schema.table.column, comma-separated; unset: all.  Masks: column.mask.with.<N>.chars and "
		"column.mask.hash[.v2].<algorithm>.with.salt.<salt>, each a list of such expressions (README)",
		NULL, 0, 0, false, false},
	{"column.exclude.list", CONFIG_STRING, NULL,
		"columns never to send, as column.include.list (not both)", NULL, 0, 0, false, false},
	{"message.key.columns", CONFIG_STRING, NULL,
		"the Kafka key's columns instead of the table's key: <table regex>:<column>,<column>;... "
		"with the regex matching the whole schema.table", NULL, 0, 0, false, false},
	{"message.prefix.include.list", CONFIG_STRING, NULL,
		"pg_logical_emit_message prefixes to stream, comma-separated; unset: all",
		NULL, 0, 0, false, false},
	{"snapshot.mode", CONFIG_ENUM, "initial",
		"initial: read every table when the slot is created; never; initial_only: the same, then exit; "
		"always: read every table again at every start (streaming goes on meanwhile); when_needed: initial, and "
		"when the slot is gone or invalidated, a new slot and every table read again",
		"initial|never|initial_only|always|when_needed", 0, 0, false, false},
	{"snapshot.parallelism", CONFIG_INT, "2", "connections reading tables during a snapshot (they share a big table's parts)",
		NULL, 1, 64, false, false},
	{"snapshot.chunk.rows", CONFIG_INT, "8192",
		"rows of a table read in one short transaction (a chunk), in key order; fewer when they "
		"are wide (4 MB a chunk)", NULL, 1, 1000000, false, false},
	{"signal.data.collection", CONFIG_STRING, NULL,
		"schema.table of the source's signal table (id text, type text, data text): rows inserted there "
		"start, stop, pause or resume snapshots, in order with the changes", NULL, 0, 0, false, false},
	{"snapshot.fetch.size", CONFIG_INT, "5000",
		"rows fetched per round trip during a snapshot, at most; fewer when they are wide (1 MB a fetch)",
		NULL, 1, 1000000, false, false},
	{"heartbeat.action.query", CONFIG_STRING, NULL,
		"a statement run on the source (the primary) after each heartbeat, e.g. an insert into a table "
		"of the stream, so that a slot moves while its own tables are idle; unset: none",
		NULL, 0, 0, false, false},
	{"heartbeat.interval.ms", CONFIG_INT, "10000",
		"emit a heartbeat message this often so an idle or filtered slot advances; 0: never",
		NULL, 0, 86400000, false, false},
	{"status.interval.ms", CONFIG_INT, "10000",
		"standby status updates (received and flushed positions) at least this often",
		NULL, 100, 3600000, false, false},
	{"provide.transaction.metadata", CONFIG_BOOL, "off",
		"write BEGIN and COMMIT records to <prefix>.transaction", NULL, 0, 0, false, false},
	{"shutdown.timeout.ms", CONFIG_INT, "30000",
		"on SIGTERM, wait at most this long for Kafka to acknowledge what was produced",
		NULL, 0, 3600000, false, false},
	{"oversized.mode", CONFIG_ENUM, "dead-letter",
		"a change larger than Kafka takes (kafka.message.max.bytes, or a topic's max.message.bytes "
		"once the brokers refused one). dead-letter: put a small stand-in on its topic, same key "
		"and partition, with its table, key, positions and size (walsink records it in its "
		"dead-letter table), and go on; fail: stop before it, exit with an error naming it and "
		"the limit to raise", "dead-letter|fail", 0, 0, false, false},
	{"value.format", CONFIG_ENUM, "protobuf",
		"the Kafka messages' format. protobuf: pgcdc's records (proto/cdc.proto), what walsink reads "
		"exactly once; debezium-json: Debezium's PostgreSQL connector's keys and values as Kafka "
		"Connect's JsonConverter writes them (the README's formats section says what differs)",
		"protobuf|debezium-json", 0, 0, false, false},
	{"schemas.enable", CONFIG_BOOL, "on",
		"value.format = debezium-json: each key and value carries its Kafka Connect schema "
		"({\"schema\":...,\"payload\":...}), as JsonConverter's schemas.enable; off: the payload alone",
		NULL, 0, 0, false, false},
	{"unavailable.value.placeholder", CONFIG_STRING, "__debezium_unavailable_value",
		"value.format = debezium-json: what stands for a TOASTed value an update left unchanged "
		"(PostgreSQL does not log it), in the column's type (text, the bytes of it for bytea)",
		NULL, 0, 0, false, false},
	{"decimal.handling.mode", CONFIG_ENUM, "precise",
		"value.format = debezium-json: numeric and money as Kafka Connect's Decimal (precise), "
		"their plain text (string) or a double, as Debezium's setting of the same name",
		"precise|string|double", 0, 0, false, false},
	{"time.precision.mode", CONFIG_ENUM, "adaptive",
		"value.format = debezium-json: time and timestamp in ms up to precision 3, else µs (adaptive); "
		"time always µs (adaptive_time_microseconds); Kafka Connect's Date, Time, Timestamp in days "
		"and ms (connect), as Debezium's setting of the same name",
		"adaptive|adaptive_time_microseconds|connect", 0, 0, false, false},
	{"binary.handling.mode", CONFIG_ENUM, "bytes",
		"value.format = debezium-json: bytea as bytes (base64 in JSON), or as a string of base64, "
		"URL-safe base64 or hex, as Debezium's setting of the same name",
		"bytes|base64|base64-url-safe|hex", 0, 0, false, false},
	{"hstore.handling.mode", CONFIG_ENUM, "json",
		"value.format = debezium-json: hstore as a JSON object in a string (json) or as a map",
		"json|map", 0, 0, false, false},
	{"interval.handling.mode", CONFIG_ENUM, "numeric",
		"value.format = debezium-json: interval as µs, a month 30.4375 days (numeric), or ISO 8601 "
		"text, \"P1Y2M3DT4H5M6.789S\" (string)", "numeric|string", 0, 0, false, false},
	{"tombstones.on.delete", CONFIG_BOOL, NULL,
		"after each delete, a message with the deleted row's key and a null value, so that a "
		"compacted topic forgets the key (walsink passes over them); unset: on with "
		"value.format = debezium-json, off with protobuf",
		NULL, 0, 0, false, false},
	{"output", CONFIG_ENUM, "kafka",
		"kafka; or stdout: print records as JSON lines, produce nothing, never advance the slot",
		"kafka|stdout", 0, 0, false, false},
	CONFIG_DAEMON_KEYS,
	{NULL}
};

bool
settings_load(const Config *c, Settings *s, char *err, size_t errlen)
{
	const char *mode = config_string(c, "snapshot.mode");
	size_t		len;
	bool		ok;

	memset(s, 0, sizeof(*s));
	s->config = c;
	s->source = config_string(c, "source");
	s->primary = config_string(c, "source.primary");
	s->writes = s->primary ? s->primary : s->source;
	s->plugin = strcmp(config_string(c, "source.plugin"), "pgoutput") == 0 ? PLUGIN_PGOUTPUT : PLUGIN_PGCDC;
	s->plugin_name = config_string(c, "source.plugin");
	s->publication = config_string(c, "publication.name");
	mode = config_string(c, "publication.autocreate");
	s->publication_autocreate = strcmp(mode, "all_tables") == 0 ? PUBLICATION_ALL_TABLES
		: strcmp(mode, "disabled") == 0 ? PUBLICATION_DISABLED : PUBLICATION_FILTERED;
	mode = config_string(c, "snapshot.mode");
	s->slot_name = config_string(c, "slot.name");
	s->slot_create = config_bool(c, "slot.create");
	s->slot_failover = config_bool(c, "slot.failover");
	s->streaming = config_bool(c, "source.streaming");
	s->via_root = config_bool(c, "publish.via.partition.root");
	s->topic_prefix = config_string(c, "topic.prefix");
	s->include_tables = config_string(c, "table.include.list");
	s->exclude_tables = config_string(c, "table.exclude.list");
	s->message_prefixes = config_string(c, "message.prefix.include.list");
	s->snapshot_mode = strcmp(mode, "never") == 0 ? SNAPSHOT_NEVER
		: strcmp(mode, "initial_only") == 0 ? SNAPSHOT_INITIAL_ONLY
		: strcmp(mode, "always") == 0 ? SNAPSHOT_ALWAYS
		: strcmp(mode, "when_needed") == 0 ? SNAPSHOT_WHEN_NEEDED : SNAPSHOT_INITIAL;
	s->snapshot_parallelism = (int) config_int(c, "snapshot.parallelism");
	s->snapshot_fetch_size = (int) config_int(c, "snapshot.fetch.size");
	s->snapshot_chunk_rows = (int) config_int(c, "snapshot.chunk.rows");
	s->signal_table = config_string(c, "signal.data.collection");
	s->heartbeat_ms = (int) config_int(c, "heartbeat.interval.ms");
	s->heartbeat_query = config_string(c, "heartbeat.action.query");
	if (s->heartbeat_query != NULL && s->heartbeat_ms == 0)
	{
		snprintf(err, errlen, "%s: heartbeat.action.query runs with each heartbeat: it needs "
				 "heartbeat.interval.ms above 0", config_origin(c, "heartbeat.action.query"));
		return false;
	}
	s->status_ms = (int) config_int(c, "status.interval.ms");
	s->transaction_topic = config_bool(c, "provide.transaction.metadata");
	s->oversized_mode = strcmp(config_string(c, "oversized.mode"), "fail") == 0 ? OVERSIZED_FAIL
		: OVERSIZED_DEAD_LETTER;
	s->to_stdout = strcmp(config_string(c, "output"), "stdout") == 0;
	s->debezium = strcmp(config_string(c, "value.format"), "debezium-json") == 0;
	s->schemas = config_bool(c, "schemas.enable");
	s->placeholder = config_string(c, "unavailable.value.placeholder");
	mode = config_string(c, "decimal.handling.mode");
	s->modes.decimal = strcmp(mode, "string") == 0 ? DBZ_DECIMAL_MODE_STRING
		: strcmp(mode, "double") == 0 ? DBZ_DECIMAL_MODE_DOUBLE : DBZ_DECIMAL_PRECISE;
	mode = config_string(c, "time.precision.mode");
	s->modes.time = strcmp(mode, "connect") == 0 ? DBZ_TIME_CONNECT
		: strcmp(mode, "adaptive_time_microseconds") == 0 ? DBZ_TIME_ADAPTIVE_MICROSECONDS : DBZ_TIME_ADAPTIVE;
	mode = config_string(c, "binary.handling.mode");
	s->modes.binary = strcmp(mode, "hex") == 0 ? DBZ_BINARY_HEX : strcmp(mode, "base64") == 0 ? DBZ_BINARY_BASE64
		: strcmp(mode, "base64-url-safe") == 0 ? DBZ_BINARY_BASE64_URL : DBZ_BINARY_BYTES;
	s->modes.hstore_map = strcmp(config_string(c, "hstore.handling.mode"), "map") == 0;
	s->modes.interval_string = strcmp(config_string(c, "interval.handling.mode"), "string") == 0;
	s->tombstones = config_string(c, "tombstones.on.delete") != NULL ? config_bool(c, "tombstones.on.delete")
		: s->debezium;
	s->columns = colpolicy_new(c, &ok, err, errlen);
	if (!ok)
		return false;
	s->outbox = outbox_new(c, &ok, err, errlen);
	if (!ok)
		return false;
	if ((config_string(c, "topic.routing.regex") != NULL) != (config_string(c, "topic.routing.replacement") != NULL))
	{
		snprintf(err, errlen, "%s: topic.routing.regex and topic.routing.replacement are set together",
				 config_origin(c, config_string(c, "topic.routing.regex") ? "topic.routing.regex"
							   : "topic.routing.replacement"));
		return false;
	}
	if (config_string(c, "topic.routing.regex") != NULL &&
		(s->route = topicroute_new(config_string(c, "topic.routing.regex"),
								   config_string(c, "topic.routing.replacement"), err, errlen)) == NULL)
		return false;
	s->route_key_field = config_bool(c, "topic.routing.key.enforce.uniqueness") ?
		config_string(c, "topic.routing.key.field.name") : NULL;

	/*
	 * Debezium's consumers read each message as a committed change: a
	 * transaction streamed in progress (void until its commit record) and
	 * a pgcdc stand-in record have no place in its format.  Left at their
	 * defaults, they follow the format; set, they are refused.
	 */
	if ((s->debezium || s->outbox != NULL) && s->streaming)
	{
		/* An outbox event is a fact for its readers: never one of a transaction that may still roll back. */
		if (strcmp(config_origin(c, "source.streaming"), "default") != 0)
		{
			snprintf(err, errlen, "%s: source.streaming = on writes changes of transactions still in progress, "
					 "which %s cannot mark as such: set it off", config_origin(c, "source.streaming"),
					 s->debezium ? "value.format = debezium-json" : "outbox.table's events");
			return false;
		}
		s->streaming = false;
	}
	if (s->debezium && s->oversized_mode == OVERSIZED_DEAD_LETTER)
	{
		if (strcmp(config_origin(c, "oversized.mode"), "default") != 0)
		{
			snprintf(err, errlen, "%s: oversized.mode = dead-letter puts a pgcdc stand-in record on the topic, "
					 "which Debezium's consumers cannot read: with value.format = debezium-json use fail",
					 config_origin(c, "oversized.mode"));
			return false;
		}
		s->oversized_mode = OVERSIZED_FAIL;
	}
	if (s->debezium && s->to_stdout)
	{
		snprintf(err, errlen, "%s: output=stdout prints the plugin's records, not Kafka messages: "
				 "it has no value.format", config_origin(c, "output"));
		return false;
	}

	if (s->plugin == PLUGIN_PGOUTPUT && s->to_stdout)
	{
		snprintf(err, errlen, "%s: output=stdout prints the pgcdc plugin's JSON: it needs source.plugin=pgcdc",
				 config_origin(c, "output"));
		return false;
	}
	if (strlen(s->publication) == 0 || strlen(s->publication) > 63)
	{
		snprintf(err, errlen, "%s: publication.name must be 1 to 63 bytes",
				 config_origin(c, "publication.name"));
		return false;
	}
	/* Slot names: what the server accepts, checked before connecting. */
	len = strlen(s->slot_name);
	if (len == 0 || len > 50 || strspn(s->slot_name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
	{
		snprintf(err, errlen, "%s: slot.name \"%s\" must be 1 to 50 characters of a-z, 0-9 and _",
				 config_origin(c, "slot.name"), s->slot_name);
		return false;
	}
	if (s->signal_table != NULL && (strchr(s->signal_table, '.') == NULL || s->signal_table[0] == '.' ||
									strchr(s->signal_table, '.')[1] == '\0'))
	{
		snprintf(err, errlen, "%s: signal.data.collection \"%s\" must be schema.table",
				 config_origin(c, "signal.data.collection"), s->signal_table);
		return false;
	}
	len = strlen(s->topic_prefix);
	if (len == 0 || len > 100 ||
		strspn(s->topic_prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
	{
		snprintf(err, errlen, "%s: topic.prefix \"%s\" must be 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'",
				 config_origin(c, "topic.prefix"), s->topic_prefix);
		return false;
	}
	return true;
}
