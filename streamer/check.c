/*
 * check.c — walstreamer --check: the source, the slot, the table lists, Kafka.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kafka.h"
#include "log.h"
#include "source.h"
#include "xalloc.h"

#define ERRLEN 1024

/* The source's connection, while the source's checks run. */
typedef struct Check
{
	const Settings *settings;
	Source	   *src;
	SourceId	id;
	char		err[ERRLEN];
} Check;

/* One finding, on its own line; ok is handed back. */
static bool
report(bool ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "error", what);
	return ok;
}

/* One SHOW on the replication connection; NULL when not shown (err says why). */
static char *
show(Check *c, const char *name)
{
	char		sql[128];
	PGresult   *res;
	char	   *value;

	snprintf(sql, sizeof(sql), "SHOW %s", name);
	if ((res = source_query(c->src, sql, c->err, sizeof(c->err))) == NULL)
		return NULL;
	value = xstrdup(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return value;
}

/* The server settings logical decoding through pgcdc needs. */
static bool
check_server(Check *c)
{
	char		line[2 * ERRLEN];
	char	   *v;
	bool		all = true;

	if ((v = show(c, "wal_level")) != NULL && strcmp(v, "logical") == 0)
		report(true, "wal_level = logical");
	else
	{
		snprintf(line, sizeof(line), "wal_level is \"%s\": set wal_level = logical and restart the server",
				 v ? v : c->err);
		all = report(false, line);
	}
	free(v);
	if ((v = show(c, "output_plugin_libraries")) != NULL)
	{
		bool		listed = strstr(v, "pgcdc") != NULL;

		snprintf(line, sizeof(line), listed ? "output_plugin_libraries allows pgcdc (%s)"
				 : "output_plugin_libraries = '%s' does not list pgcdc: add it in postgresql.conf "
				 "(output_plugin_libraries = '..., pgcdc') and reload", v);
		all &= report(listed, line);
		free(v);
	}
	else if (strstr(c->err, "unrecognized configuration parameter"))
		report(true, "this server has no output_plugin_libraries: every plugin is allowed");
	else
	{
		snprintf(line, sizeof(line), "cannot read output_plugin_libraries: %s", c->err);
		all = report(false, line);
	}
	return all;
}

/* Whether the slot can be streamed from, or will be created, as a start would find it. */
static bool
check_slot(Check *c)
{
	const Settings *s = c->settings;
	char		line[2 * ERRLEN];
	SlotInfo	info;
	char		when[128];
	int			created;

	if (!source_slot_info(c->src, s->slot_name, &info, c->err, sizeof(c->err)))
		return report(false, c->err);
	if ((created = source_slot_created(c->src, s->slot_name, c->id.dbname, when, sizeof(when),
									   c->err, sizeof(c->err))) < 0)
		return report(false, c->err);
	if (info.exists)
	{
		const char *why = source_slot_unusable(&info, s->slot_name, s->plugin_name, c->id.dbname, line, sizeof(line));

		if (why == NULL)
			snprintf(line, sizeof(line), "slot \"%s\" (%s) confirmed up to " LSN_FMT "%s",
					 s->slot_name, s->plugin_name, LSN_ARGS(info.confirmed_flush),
					 info.active_pid ? ", in use by another process right now" : "");
		return report(why == NULL, line);
	}
	if (created && s->snapshot_mode != SNAPSHOT_ALWAYS)
	{
		snprintf(line, sizeof(line), "slot \"%s\" was dropped after walstreamer created it (%s); "
				 "DELETE FROM pgcdc.streamer_slot WHERE slot_name = '%s' to start over",
				 s->slot_name, when, s->slot_name);
		return report(false, line);
	}
	snprintf(line, sizeof(line), s->slot_create ? "slot \"%s\" will be created" :
			 "slot \"%s\" does not exist and slot.create is off", s->slot_name);
	return report(s->slot_create, line);
}

/* table.include.list / table.exclude.list, parsed by the decoder's own function. */
static bool
check_tables(Check *c)
{
	const Settings *s = c->settings;
	char	   *inc = s->include_tables ? source_quote_literal(c->src, s->include_tables) : NULL;
	char	   *exc = s->exclude_tables ? source_quote_literal(c->src, s->exclude_tables) : NULL;
	char		sql[4096];
	char		line[2 * ERRLEN];
	PGresult   *res;

	snprintf(sql, sizeof(sql), "SELECT pgcdc.table_included('pg_catalog.pg_class', %s, %s)",
			 inc ? inc : "NULL", exc ? exc : "NULL");
	free(inc);
	free(exc);
	if ((res = source_query(c->src, sql, c->err, sizeof(c->err))) != NULL)
	{
		PQclear(res);
		return report(true, "table.include.list / table.exclude.list");
	}
	snprintf(line, sizeof(line), "table lists: %s", c->err);
	return report(false, line);
}

/* Nothing is produced: no delivery is ever reported. */
static void
on_delivery(void *arg, uint64_t opaque, const char *failure)
{
}

/* A producer as walstreamer would make it, and its brokers asked for their metadata. */
static bool
check_kafka(const Settings *s)
{
	char		err[ERRLEN];
	char		line[2 * ERRLEN];
	Kafka	   *k = kafka_new(s->config, NULL, on_delivery, NULL, err, sizeof(err));
	bool		ok;

	if (k == NULL)
		return report(false, err);
	ok = kafka_check(k, 10000, err, sizeof(err));
	snprintf(line, sizeof(line), "kafka: %s", err);
	report(ok, ok ? line : err);
	kafka_stop(k, 0);
	kafka_free(k);
	return ok;
}

bool
check_run(const Settings *s)
{
	Check		c = {s, NULL};
	char		line[2 * ERRLEN];
	bool		all = true;

	if ((c.src = source_connect(s->source, c.err, sizeof(c.err))) == NULL)
		return report(false, c.err);
	if (!source_identify(c.src, &c.id, c.err, sizeof(c.err)))
	{
		source_close(c.src);
		return report(false, c.err);
	}
	snprintf(line, sizeof(line), "replication connection to database \"%s\" (system %s)",
			 c.id.dbname, c.id.sysid);
	report(true, line);
	all &= check_server(&c);
	all &= check_slot(&c);
	if (s->include_tables || s->exclude_tables)
		all &= check_tables(&c);
	source_close(c.src);
	if (!s->to_stdout)
		all &= check_kafka(s);
	return all;
}
