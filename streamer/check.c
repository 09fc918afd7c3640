/*
 * check.c — walstreamer --check: the source, the slot, the table lists, Kafka.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "included.h"
#include "kafka.h"
#include "log.h"
#include "pgoinput.h"
#include "publication.h"
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

/* The server settings logical decoding through source.plugin needs. */
/*
 * A standby decodes (PostgreSQL 16 on) if the primary keeps the catalog rows
 * it needs (hot_standby_feedback, with a physical slot), and walstreamer
 * writes on the primary (source.primary).
 */
static bool
check_standby(Check *c)
{
	char		line[2 * ERRLEN];
	char	   *v;
	int			standby = source_in_recovery(c->src, c->err, sizeof(c->err));
	Source	   *primary;
	bool		ok = true;

	if (standby < 0)
		return report(false, c->err);
	if (!standby)
		return true;
	if (c->settings->primary == NULL)
		return report(false, "the source is a standby: set source.primary to the primary's connection string "
					  "(walstreamer writes its tables, watermarks and heartbeats there)");
	if ((primary = source_connect(c->settings->primary, c->err, sizeof(c->err))) == NULL)
	{
		snprintf(line, sizeof(line), "source.primary: %s", c->err);
		return report(false, line);
	}
	snprintf(line, sizeof(line), "the source is a standby; walstreamer writes on source.primary (%s)",
			 source_in_recovery(primary, c->err, sizeof(c->err)) == 0 ? "a primary" : "NOT a primary");
	ok = report(strstr(line, "NOT") == NULL, line);
	source_close(primary);
	if ((v = show(c, "hot_standby_feedback")) != NULL && strcmp(v, "on") == 0)
		report(true, "hot_standby_feedback = on");
	else
	{
		snprintf(line, sizeof(line), "hot_standby_feedback is \"%s\": without it (and a physical slot on the "
				 "primary, primary_slot_name) the primary may remove catalog rows the standby's slot needs, "
				 "which then stops with \"conflict with recovery\"", v ? v : c->err);
		ok &= report(false, line);
	}
	free(v);
	return ok;
}

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
		const char *plugin = c->settings->plugin_name;
		bool		listed = strstr(v, plugin) != NULL;

		if (listed)
			snprintf(line, sizeof(line), "output_plugin_libraries allows %s (%s)", plugin, v);
		else
			snprintf(line, sizeof(line), "output_plugin_libraries = '%s' does not list %s: add it in "
					 "postgresql.conf (output_plugin_libraries = '..., %s') and reload", v, plugin, plugin);
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
	all &= check_standby(c);
	return all;
}

/*
 * source.plugin = pgoutput: 1 when walstreamer's tables exist, 0 when it
 * may create them, -1 (reported) when neither.
 */
static int
check_bookkeeping(Check *c)
{
	PGresult   *res;
	bool		may;

	if (source_slot_created(c->src, c->settings->slot_name, c->id.dbname, NULL, 0, c->err, sizeof(c->err)) >= 0)
		return 1;
	res = source_query(c->src, "SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') "
					   "OR coalesce(pg_catalog.has_schema_privilege((SELECT oid FROM pg_catalog.pg_namespace "
					   "WHERE nspname = 'pgcdc'), 'CREATE'), false)", c->err, sizeof(c->err));
	if (res == NULL)
		return report(false, c->err) ? 0 : -1;
	may = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (may)
		return report(true, "walstreamer's tables (schema pgcdc) will be created at the first start") ? 0 : -1;
	report(false, "walstreamer's tables (schema pgcdc) are missing and this role may not create them: "
		   "an administrator runs CREATE SCHEMA pgcdc AUTHORIZATION <walstreamer's role>");
	return -1;
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
	int			tables;

	if (!source_slot_info(c->src, s->slot_name, &info, c->err, sizeof(c->err)))
		return report(false, c->err);
	if ((tables = s->plugin == PLUGIN_PGOUTPUT ? check_bookkeeping(c) : 1) < 0)
		return false;
	created = 0;
	if (tables && (created = source_slot_created(c->src, s->slot_name, c->id.dbname, when, sizeof(when),
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

/* table.include.list / table.exclude.list: lists walstreamer reads (with the plugin's rules), and what they include. */
static bool
check_tables(Check *c)
{
	const Settings *s = c->settings;
	char		line[2 * ERRLEN];
	PGconn	   *conn = source_connect_sql(s->source, "walstreamer check", "check", c->err, sizeof(c->err));
	Buf			oids = {0};
	size_t		n = 0;
	bool		ok;

	if (conn == NULL)
		return report(false, c->err);
	ok = included_tables(conn, s->include_tables, s->exclude_tables, s->signal_table, s->via_root,
						 &oids, c->err, sizeof(c->err));
	PQfinish(conn);
	if (!ok)
	{
		snprintf(line, sizeof(line), "table lists: %s", c->err);
		return report(false, line);
	}
	for (size_t i = 0; i < oids.len; i++)
		n += oids.data[i] == ',';
	snprintf(line, sizeof(line), "table.include.list / table.exclude.list: %zu table(s) to stream",
			 oids.len > 2 ? n + 1 : 0);
	buf_free(&oids);
	return report(true, line);
}

/* The publication pgoutput reads: there, holding the included tables, or to be made so. */
static bool
check_publication(Check *c)
{
	const Settings *s = c->settings;
	char		line[2 * ERRLEN];
	char		done[ERRLEN];
	PGconn	   *conn = source_connect_sql(s->writes, "walstreamer check", "check", c->err, sizeof(c->err));
	TableFilter *f;
	bool		fatal;
	bool		ok;

	if (conn == NULL)
		return report(false, c->err);
	if ((f = pgoinput_filter(s, c->err, sizeof(c->err))) == NULL)
	{
		PQfinish(conn);
		return report(false, c->err);
	}
	ok = publication_prepare(conn, s, f, true, done, sizeof(done), &fatal, c->err, sizeof(c->err));
	tablefilter_free(f);
	PQfinish(conn);
	snprintf(line, sizeof(line), "%s", ok ? done : c->err);
	return report(ok, line);
}

/* Nothing is produced: no delivery is ever reported. */
static void
on_delivery(void *arg, uint64_t opaque, const char *topic, int32_t partition, int64_t offset,
			const char *failure)
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
	all &= check_tables(&c);
	if (s->plugin == PLUGIN_PGOUTPUT)
		all &= check_publication(&c);
	source_close(c.src);
	if (!s->to_stdout)
		all &= check_kafka(s);
	return all;
}
