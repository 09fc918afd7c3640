/*
 * publication.c — the publication pgoutput reads, checked and made (publication.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookkeeping.h"
#include "buf.h"
#include "publication.h"
#include "xalloc.h"

/*
 * The candidate tables, whether the publication holds each (a partitioned
 * table: when it holds any of its tree), and whether each has a replica
 * identity (FULL, or an index the identity names).  Names are matched, not
 * cast to regclass: the planner may try a cast on every relation, pg_toast's
 * too, which a role without the right to it may not even name.
 */
#define TABLES_SQL \
	"SELECT n.nspname, c.relname, pg_catalog.format('%I.%I', n.nspname, c.relname), " \
	"  EXISTS (SELECT FROM pg_catalog.pg_publication_tables pt " \
	"    JOIN pg_catalog.pg_namespace pn ON pn.nspname = pt.schemaname " \
	"    JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = pt.tablename " \
	"    WHERE pt.pubname = $1 AND (pc.oid = c.oid " \
	"      OR pc.oid IN (SELECT relid FROM pg_catalog.pg_partition_tree(c.oid)))), " \
	"  c.relreplident = 'f' OR EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid " \
	"    AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END) " \
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname <> 'information_schema' " \
	"  AND n.nspname !~ '^pg_' " \
	"  AND NOT " BOOKKEEPING_RELATION_SQL " " \
	"ORDER BY 1, 2"

static bool
run(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		for (char *p = err; *p; p++)
		{
			if (*p == '\n')
				*p = *(p + 1) ? ' ' : '\0';
		}
	}
	PQclear(res);
	return ok;
}

/*
 * Whether the publication exists (*all: FOR ALL TABLES; *via_root: WITH
 * publish_via_partition_root); -1 on a failed query.
 */
static int
exists(PGconn *conn, const char *name, bool *all, bool *via_root, char *err, size_t errlen)
{
	const char *params[1] = {name};
	PGresult   *res = PQexecParams(conn, "SELECT puballtables, pubviaroot FROM pg_catalog.pg_publication "
								   "WHERE pubname = $1", 1, NULL, params, NULL, NULL, 0);
	int			found;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot read pg_publication: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	found = PQntuples(res);
	*all = found && PQgetvalue(res, 0, 0)[0] == 't';
	*via_root = found && PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	return found;
}

/* Whether schema.table is the signal table (which is read whatever the lists say). */
static bool
is_signal_table(const Settings *s, const char *schema, const char *table)
{
	size_t		n = strlen(schema);

	return s->signal_table != NULL && strncmp(s->signal_table, schema, n) == 0 && s->signal_table[n] == '.' &&
		strcmp(s->signal_table + n + 1, table) == 0;
}

bool
publication_prepare(PGconn *conn, const Settings *s, const TableFilter *f, bool check_only, char *done,
					size_t donelen, bool *fatal, char *err, size_t errlen)
{
	char	   *quoted = PQescapeIdentifier(conn, s->publication, strlen(s->publication));
	const char *params[1] = {s->publication};
	bool		all = false;
	bool		via_root = false;
	const char *with = s->via_root ? " WITH (publish_via_partition_root = true)" : "";
	int			found;
	PGresult   *res = NULL;
	Buf			missing = {0};
	Buf			no_identity = {0};
	Buf			sql = {0};
	size_t		nmissing = 0,
				nincluded = 0;
	bool		ok = false;

	*fatal = false;
	done[0] = '\0';
	if (quoted == NULL)
	{
		snprintf(err, errlen, "publication.name: %s", PQerrorMessage(conn));
		*fatal = true;
		return false;
	}
	if ((found = exists(conn, s->publication, &all, &via_root, err, errlen)) < 0)
		goto out;
	/* How it publishes partitions: as publish.via.partition.root says, set on one walstreamer made. */
	if (found && via_root != s->via_root)
	{
		buf_printf(&sql, "ALTER PUBLICATION %s SET (publish_via_partition_root = %s)", quoted,
				   s->via_root ? "true" : "false");
		if (s->publication_autocreate == PUBLICATION_DISABLED)
		{
			snprintf(err, errlen, "publication \"%s\" has publish_via_partition_root %s, but "
					 "publish.via.partition.root is %s (publication.autocreate=disabled): %s",
					 s->publication, via_root ? "on" : "off", s->via_root ? "on" : "off", sql.data);
			*fatal = true;
			goto out;
		}
		if (!check_only && !run(conn, sql.data, err, errlen))
		{
			char		why[512];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "cannot set publish_via_partition_root of publication \"%s\" (the role must "
					 "own it, or an administrator runs: %s): %s", s->publication, sql.data, why);
			*fatal = true;
			goto out;
		}
		sql.len = 0;
	}
	if (!found && s->publication_autocreate == PUBLICATION_ALL_TABLES)
	{
		if (check_only)
		{
			snprintf(done, donelen, "publication \"%s\" will be created FOR ALL TABLES", s->publication);
			ok = true;
			goto out;
		}
		buf_printf(&sql, "CREATE PUBLICATION %s FOR ALL TABLES%s", quoted, with);
		if (!run(conn, sql.data, err, errlen))
		{
			char		why[512];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "cannot create publication \"%s\" FOR ALL TABLES (publication.autocreate="
					 "all_tables needs a superuser; filtered needs only the tables' owner): %s",
					 s->publication, why);
			*fatal = true;
			goto out;
		}
		snprintf(done, donelen, "created publication \"%s\" FOR ALL TABLES", s->publication);
		ok = true;
		goto out;
	}
	if (found && all)
	{
		snprintf(done, donelen, "publication \"%s\" is FOR ALL TABLES", s->publication);
		ok = true;
		goto out;
	}
	if (!found && s->publication_autocreate == PUBLICATION_DISABLED)
	{
		snprintf(err, errlen, "publication \"%s\" does not exist (publication.autocreate=disabled): create it, "
				 "e.g. CREATE PUBLICATION %s FOR ALL TABLES, or FOR TABLE with the tables to stream",
				 s->publication, quoted);
		*fatal = true;
		goto out;
	}

	res = PQexecParams(conn, TABLES_SQL, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot list the source's tables: %s", PQerrorMessage(conn));
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *schema = PQgetvalue(res, i, 0);
		const char *table = PQgetvalue(res, i, 1);

		if (!tablefilter_table(f, schema, strlen(schema), table, strlen(table)) &&
			!is_signal_table(s, schema, table))
			continue;
		nincluded++;
		if (PQgetvalue(res, i, 3)[0] == 't')
			continue;
		buf_printf(&missing, "%s%s", nmissing++ ? ", " : "", PQgetvalue(res, i, 2));
		if (PQgetvalue(res, i, 4)[0] != 't')
			buf_printf(&no_identity, "%s%s", no_identity.len ? ", " : "", PQgetvalue(res, i, 2));
	}
	if (nmissing == 0 && found)
	{
		snprintf(done, donelen, "publication \"%s\" holds the %zu tables the lists include", s->publication,
				 nincluded);
		ok = true;
		goto out;
	}
	/* Published, such a table's UPDATE and DELETE fail: the application's writes, not ours. */
	if (no_identity.len > 0 && s->publication_autocreate == PUBLICATION_FILTERED)
	{
		snprintf(err, errlen, "publication \"%s\" would get tables without a replica identity, whose UPDATE "
				 "and DELETE PostgreSQL then refuses: %.400s. Give each one (a primary key, or ALTER TABLE ... "
				 "REPLICA IDENTITY FULL), or leave it out (table.exclude.list)", s->publication, no_identity.data);
		*fatal = true;
		goto out;
	}
	if (s->publication_autocreate == PUBLICATION_DISABLED || check_only)
	{
		if (check_only && s->publication_autocreate == PUBLICATION_FILTERED)
		{
			snprintf(done, donelen, found ? "publication \"%s\" will get %zu tables it lacks: %.300s"
					 : "publication \"%s\" will be created for %zu tables: %.300s", s->publication, nmissing,
					 nmissing ? missing.data : "(none yet)");
			ok = true;
			goto out;
		}
		snprintf(err, errlen, "publication \"%s\" lacks %zu of the tables the lists include: %.500s "
				 "(ALTER PUBLICATION %s ADD TABLE ..., or publication.autocreate=filtered)",
				 s->publication, nmissing, missing.data, quoted);
		*fatal = true;
		goto out;
	}
	if (!found)
		buf_printf(&sql, "CREATE PUBLICATION %s%s%s%s", quoted, nmissing ? " FOR TABLE " : "",
				   nmissing ? missing.data : "", with);
	else
		buf_printf(&sql, "ALTER PUBLICATION %s ADD TABLE %s", quoted, missing.data);
	if (!run(conn, sql.data, err, errlen))
	{
		char		why[512];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "cannot %s publication \"%s\" for %zu tables (the role must own them, or "
				 "an administrator runs: %.300s): %s", found ? "alter" : "create", s->publication, nmissing,
				 sql.data, why);
		*fatal = true;
		goto out;
	}
	snprintf(done, donelen, "%s publication \"%s\" with %zu tables", found ? "added to" : "created",
			 s->publication, nmissing);
	ok = true;
out:
	PQclear(res);
	PQfreemem(quoted);
	buf_free(&missing);
	buf_free(&no_identity);
	buf_free(&sql);
	return ok;
}
