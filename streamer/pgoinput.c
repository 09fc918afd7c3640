/*
 * pgoinput.c — the pgoutput input's connection, lists, publication and session (pgoinput.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookkeeping.h"
#include "buf.h"
#include "heartbeat.h"
#include "log.h"
#include "pgcatalog.h"
#include "pgoinput.h"
#include "publication.h"
#include "snapwatch.h"
#include "xalloc.h"

struct PgoInput
{
	PGconn	   *catalog;
	TableFilter *filter;
	PgoRecords *records;
	char	   *database;
};

TableFilter *
pgoinput_filter(const Settings *s, char *err, size_t errlen)
{
	Buf			include = {0},
				exclude = {0},
				prefixes = {0};
	TableFilter *f;

	if (s->include_tables != NULL)
		buf_printf(&include, "%s%s%s", s->include_tables, s->signal_table ? ", " : "",
				   s->signal_table ? s->signal_table : "");
	buf_printf(&exclude, "%s%s" BOOKKEEPING_TABLES, s->exclude_tables ? s->exclude_tables : "",
			   s->exclude_tables ? ", " : "");
	if (s->message_prefixes != NULL)
		buf_printf(&prefixes, "%s, " HEARTBEAT_PREFIX ", " SNAPWATCH_PREFIX, s->message_prefixes);
	f = tablefilter_new(include.data, exclude.data, prefixes.data, err, errlen);
	buf_free(&include);
	buf_free(&exclude);
	buf_free(&prefixes);
	return f;
}

static bool
describe(void *arg, const PgoMessage *msg, PgcRelation *out, char *err, size_t errlen)
{
	PgoInput   *in = arg;

	return pgcatalog_describe(in->catalog, in->database, msg->relid, msg, out, err, errlen);
}

PgoInput *
pgoinput_open(const Settings *s, Source *src, const char *database, bool *fatal, char *err, size_t errlen)
{
	PgoInput   *in = xcalloc(1, sizeof(PgoInput));
	char		done[1024];
	PGresult   *res;

	*fatal = false;
	in->database = xstrdup(database);
	if ((in->filter = pgoinput_filter(s, err, errlen)) == NULL)
	{
		*fatal = true;
		pgoinput_close(in);
		return NULL;
	}
	if ((in->catalog = source_connect_sql(s->writes, "walstreamer", "catalog", err, errlen)) == NULL ||
		!pgcatalog_prepare(in->catalog, err, errlen) ||
		!bookkeeping_ensure(in->catalog, fatal, err, errlen) ||
		!publication_prepare(in->catalog, s, in->filter, false, done, sizeof(done), fatal, err, errlen))
	{
		pgoinput_close(in);
		return NULL;
	}
	log_msg(LOG_INFO, "%s", done);
	if ((res = source_query(src, PGVALUE_SESSION_SQL, err, errlen)) == NULL)
	{
		pgoinput_close(in);
		return NULL;
	}
	PQclear(res);
	in->records = pgorecords_new(database, in->filter, describe, in);
	return in;
}

void
pgoinput_close(PgoInput *in)
{
	if (in == NULL)
		return;
	pgorecords_free(in->records);
	tablefilter_free(in->filter);
	if (in->catalog != NULL)
		PQfinish(in->catalog);
	free(in->database);
	free(in);
}

char *
pgoinput_options(const Settings *s)
{
	Buf			b = {0};

	/* The publication's name is a quoted identifier list; a quote in it is doubled, in a doubled literal. */
	/* Protocol 2 (PostgreSQL 14 on, as every server read) streams transactions in progress. */
	buf_puts(&b, s->streaming ? "proto_version '2', streaming 'on', " : "proto_version '1', ");
	buf_puts(&b, "publication_names '\"");
	for (const char *p = s->publication; *p; p++)
	{
		if (*p == '"')
			buf_putc(&b, '"');
		if (*p == '\'')
			buf_putc(&b, '\'');
		buf_putc(&b, *p);
	}
	buf_puts(&b, "\"', messages 'true'");
	return b.data;
}

PgoRecords *
pgoinput_records(PgoInput *in)
{
	return in->records;
}
