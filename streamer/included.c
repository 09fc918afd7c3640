/*
 * included.c — the tables the lists include, listed from the catalog (included.h).
 */
#include <stdio.h>
#include <string.h>

#include "bookkeeping.h"
#include "included.h"
#include "tablefilter.h"

/* The candidates: what the pgcdc plugin could stream and a snapshot can read; %s: which relations. */
#define CANDIDATES_SQL \
	"SELECT c.oid, n.nspname, c.relname, pg_catalog.format('%%s.%%s', n.nspname, c.relname) " \
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE %s AND c.relpersistence = 'p' " \
	"AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' " \
	"AND NOT " BOOKKEEPING_RELATION_SQL " " \
	"ORDER BY c.oid"
#define LEAVES "c.relkind = 'r'"
#define ROOTS "c.relkind IN ('r', 'p') AND NOT c.relispartition"

bool
included_tables(PGconn *conn, const char *include, const char *exclude, const char *signal_table, bool roots,
				Buf *oids, char *err, size_t errlen)
{
	TableFilter *f = tablefilter_new(include, exclude, NULL, err, errlen);
	PGresult   *res;
	int			n = 0;
	char		sql[sizeof(CANDIDATES_SQL) + sizeof(ROOTS)];

	if (f == NULL)
		return false;
	snprintf(sql, sizeof(sql), CANDIDATES_SQL, roots ? ROOTS : LEAVES);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot list the source's tables: %s", PQerrorMessage(conn));
		PQclear(res);
		tablefilter_free(f);
		return false;
	}
	buf_putc(oids, '{');
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *schema = PQgetvalue(res, i, 1);
		const char *table = PQgetvalue(res, i, 2);

		if (signal_table != NULL && strcmp(PQgetvalue(res, i, 3), signal_table) == 0)
			continue;
		if (tablefilter_table(f, schema, strlen(schema), table, strlen(table)))
			buf_printf(oids, "%s%s", n++ ? "," : "", PQgetvalue(res, i, 0));
	}
	buf_puts(oids, "}");
	PQclear(res);
	tablefilter_free(f);
	return true;
}
