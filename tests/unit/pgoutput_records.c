/*
 * pgoutput_records.c — pgoutput messages made into pgcdc records by
 * walstreamer's own code (streamer/pgorecords.c, relations described by
 * streamer/pgcatalog.c from a live server), for tests/pgoutput's
 * conformance test against the pgcdc plugin.
 *
 * Usage: pgoutput-records CONNINFO [INCLUDE-TABLES]
 * Reads "LSN|\x<hex>" lines (psql -At of pg_logical_slot_peek_binary_changes'
 * lsn and data), prints one record per line in hex, and "skip <LSN>" for a
 * transaction that made none.  Exit status 1 on the first refusal (the
 * reason on stderr).
 *
 * Usage: pgoutput-records CONNINFO --read RELID ORDER-BY
 * Reads the table's rows in text, as the snapshot does without the
 * extension (streamer/snapread.c), in the order given ("t.id"), and prints
 * each one's READ record (pgcatalog_read_record) in hex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookkeeping.h"
#include "pgcatalog.h"
#include "pgorecords.h"
#include "record.h"

typedef struct Catalog
{
	PGconn	   *conn;
	const char *database;
} Catalog;

static bool
describe(void *arg, const PgoMessage *msg, PgcRelation *out, char *err, size_t errlen)
{
	Catalog    *c = arg;

	return pgcatalog_describe(c->conn, c->database, msg->relid, msg, out, err, errlen);
}

/* The --read mode: the table's rows as READ records. */
static int
read_table(Catalog *cat, const char *relid, const char *order)
{
	PgcRelation rel;
	Buf			q = {0};
	Buf			rec = {0};
	PGresult   *res;
	char		err[1024];

	if (!pgcatalog_describe(cat->conn, cat->database, (uint32_t) strtoul(relid, NULL, 10), NULL, &rel, err,
							sizeof(err)))
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	res = PQexecParams(cat->conn, "SELECT $1::oid::regclass::text", 1, NULL, &relid, NULL, NULL, 0);
	buf_puts(&q, "SELECT ");
	for (size_t i = 0; i < rel.ncolumns; i++)
	{
		char	   *quoted = PQescapeIdentifier(cat->conn, rel.names[i], strlen(rel.names[i]));

		buf_printf(&q, "%st.%s", i ? ", " : "", quoted);
		PQfreemem(quoted);
	}
	buf_printf(&q, " FROM ONLY %s t ORDER BY %s", PQgetvalue(res, 0, 0), order);
	PQclear(res);
	res = PQexec(cat->conn, q.data);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "%s\n", PQerrorMessage(cat->conn));
		return 1;
	}
	for (int r = 0; r < PQntuples(res); r++)
	{
		rec.len = 0;
		if (!pgcatalog_read_record(&rel, cat->database, 0, res, r, 0, &rec, err, sizeof(err)))
		{
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		for (size_t i = 0; i < rec.len; i++)
			printf("%02x", (uint8_t) rec.data[i]);
		printf("\n");
	}
	PQclear(res);
	buf_free(&q);
	buf_free(&rec);
	pgcatalog_release(&rel);
	return 0;
}

int
main(int argc, char **argv)
{
	static char line[1 << 22];
	static uint8_t buf[1 << 21];
	Catalog		cat;
	TableFilter *filter;
	PgoRecords *pr;
	Buf			out = {0};
	char		err[1024];

	if (argc < 2)
	{
		fprintf(stderr, "usage: pgoutput-records CONNINFO [INCLUDE-TABLES]\n");
		return 2;
	}
	cat.conn = PQconnectdb(argv[1]);
	if (PQstatus(cat.conn) != CONNECTION_OK || !pgcatalog_prepare(cat.conn, err, sizeof(err)))
	{
		fprintf(stderr, "%s\n", PQerrorMessage(cat.conn));
		return 1;
	}
	cat.database = PQdb(cat.conn);
	if (argc == 5 && strcmp(argv[2], "--read") == 0)
		return read_table(&cat, argv[3], argv[4]);
	if ((filter = tablefilter_new(argc > 2 ? argv[2] : NULL, BOOKKEEPING_TABLES, NULL, err, sizeof(err))) == NULL)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	pr = pgorecords_new(cat.database, filter, describe, &cat);
	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		char	   *bar = strchr(line, '|');
		unsigned	hi,
					lo;
		uint64_t	skipped;
		size_t		n = 0,
					at = 0;

		if (bar == NULL || sscanf(line, "%X/%X", &hi, &lo) != 2 || bar[1] != '\\' || bar[2] != 'x')
			continue;
		for (char *p = bar + 3; p[0] && p[1] && p[0] != '\n' && n < sizeof(buf); p += 2)
		{
			unsigned	byte;

			if (sscanf(p, "%2x", &byte) != 1)
				break;
			buf[n++] = (uint8_t) byte;
		}
		out.len = 0;
		if (!pgorecords_add(pr, ((uint64_t) hi << 32) | lo, buf, n, &out, &skipped, err, sizeof(err)))
		{
			fprintf(stderr, "%X/%X: %s\n", hi, lo, err);
			return 1;
		}
		while (at < out.len)
		{
			const uint8_t *rec;
			size_t		reclen;

			if (!record_frame((const uint8_t *) out.data, out.len, &at, &rec, &reclen, err, sizeof(err)))
			{
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			for (size_t i = 0; i < reclen; i++)
				printf("%02x", rec[i]);
			printf("\n");
		}
		if (skipped)
			printf("skip %X/%X\n", (unsigned) (skipped >> 32), (unsigned) skipped);
	}
	pgorecords_free(pr);
	tablefilter_free(filter);
	buf_free(&out);
	PQfinish(cat.conn);
	return 0;
}
