/*
 * pgcatalog.c — a relation described from the source's catalog (pgcatalog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pgcatalog.h"
#include "recwrite.h"
#include "xalloc.h"

/*
 * One row per column, in the message's order (or the table's, without a
 * message): the relation's schema, name and replica identity (NULL when it
 * is gone), whether its identity has an index, then the column's name,
 * type, format_type() name, NOT NULL, whether it is in the primary key and
 * in the identity index, its base type (a domain's, through domains of
 * domains, as getBaseTypeAndTypmod() resolves it: with the typmod of the
 * last domain), that type's format_type() name when the column's type is a
 * domain, and its enum labels in sort order, each as "<bytes>:<label>" (a
 * label may hold any character; the connection's encoding is UTF-8).
 */
#define DESCRIBE_SQL \
	"WITH rel AS (SELECT c.oid, n.nspname::text, c.relname::text, c.relreplident, " \
	"  (SELECT i.indkey FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary " \
	"    AND i.indimmediate) AS pk, " \
	"  (SELECT i.indkey FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND CASE c.relreplident " \
	"    WHEN 'd' THEN i.indisprimary AND i.indimmediate WHEN 'i' THEN i.indisreplident ELSE false END) AS ident " \
	"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"  WHERE c.oid = $1::oid), " \
	"cols AS (SELECT m.name, m.typ, m.typmod, m.ord FROM unnest($2::text[], $3::oid[], $4::int4[]) " \
	"    WITH ORDINALITY AS m(name, typ, typmod, ord) WHERE $2 IS NOT NULL " \
	"  UNION ALL SELECT a.attname::text, a.atttypid, a.atttypmod, a.attnum FROM pg_catalog.pg_attribute a " \
	"    WHERE $2 IS NULL AND a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped " \
	"    AND a.attgenerated = '') " \
	"SELECT rel.nspname, rel.relname, rel.relreplident, rel.ident IS NOT NULL, " \
	"  cols.name, cols.typ, pg_catalog.format_type(cols.typ, cols.typmod), coalesce(a.attnotnull, false), " \
	"  coalesce(a.attnum = ANY (rel.pk::int2[]), false), coalesce(a.attnum = ANY (rel.ident::int2[]), false), " \
	"  base.oid, CASE WHEN base.oid <> cols.typ THEN pg_catalog.format_type(base.oid, base.typmod) END, " \
	"  (SELECT pg_catalog.string_agg(pg_catalog.octet_length(pg_catalog.convert_to(e.enumlabel::text, 'UTF8')) " \
	"     || ':' || e.enumlabel::text, '' ORDER BY e.enumsortorder) " \
	"   FROM pg_catalog.pg_enum e WHERE e.enumtypid = base.oid) " \
	"FROM cols LEFT JOIN rel ON true " \
	"LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid AND a.attname = cols.name " \
	"  AND NOT a.attisdropped " \
	"LEFT JOIN LATERAL (WITH RECURSIVE b(oid, typmod) AS (SELECT cols.typ, -1 " \
	"    UNION ALL SELECT d.typbasetype, d.typtypmod FROM pg_catalog.pg_type d JOIN b ON d.oid = b.oid " \
	"    WHERE d.typtype = 'd') " \
	"  SELECT b.oid, b.typmod FROM b JOIN pg_catalog.pg_type t ON t.oid = b.oid WHERE t.typtype <> 'd') base " \
	"  ON true " \
	"ORDER BY cols.ord"

enum
{
	COL_SCHEMA, COL_TABLE, COL_REPLIDENT, COL_HAS_IDENT, COL_NAME, COL_TYPE, COL_TYPE_NAME,
	COL_NOT_NULL, COL_IN_PK, COL_IN_IDENT, COL_BASE, COL_BASE_NAME, COL_ENUM_LABELS
};

bool
pgcatalog_prepare(PGconn *conn, char *err, size_t errlen)
{
	PGresult   *res = PQexec(conn, "SET search_path = ''; " PGVALUE_SESSION_SQL);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		snprintf(err, errlen, "catalog connection: %s", PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* A text[] literal of n strings of (data, len). */
static void
array_literal(Buf *b, const PgoBytes *items, size_t n)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			buf_putc(b, ',');
		buf_putc(b, '"');
		for (size_t j = 0; j < items[i].len; j++)
		{
			char		c = (char) items[i].data[j];

			if (c == '"' || c == '\\')
				buf_putc(b, '\\');
			buf_putc(b, c);
		}
		buf_putc(b, '"');
	}
	buf_puts(b, "}");
}

static char *
bytes_dup(PgoBytes b)
{
	char	   *s = xmalloc(b.len + 1);

	memcpy(s, b.data, b.len);
	s[b.len] = '\0';
	return s;
}

/* The proto's ReplicaIdentity of a relreplident, given whether its index exists. */
static Pgcdc__ReplicaIdentity
identity_of(char replident, bool has_index)
{
	switch (replident)
	{
		case 'd':
			return has_index ? PGCDC__REPLICA_IDENTITY__IDENTITY_DEFAULT : PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING;
		case 'i':
			return has_index ? PGCDC__REPLICA_IDENTITY__IDENTITY_INDEX : PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING;
		case 'f':
			return PGCDC__REPLICA_IDENTITY__IDENTITY_FULL;
		default:
			return PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING;
	}
}

static bool
flag(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/*
 * A column's base type (when its type is a domain) and enum labels, as
 * decoder/relcache.c writes them.  False when the labels are not as
 * DESCRIBE_SQL writes them.
 */
static bool
put_type_fields(Buf *col, const PGresult *res, int row)
{
	const char *labels = PQgetvalue(res, row, COL_ENUM_LABELS);
	const char *end = labels + PQgetlength(res, row, COL_ENUM_LABELS);

	if (!PQgetisnull(res, row, COL_BASE_NAME))
	{
		const char *name = PQgetvalue(res, row, COL_BASE_NAME);

		recwrite_varint(col, WIRE_COLUMN_BASE_TYPE_OID, strtoul(PQgetvalue(res, row, COL_BASE), NULL, 10));
		recwrite_bytes(col, WIRE_COLUMN_BASE_TYPE_NAME, name, strlen(name));
	}
	while (labels < end)
	{
		char	   *colon;
		unsigned long len = strtoul(labels, &colon, 10);

		if (colon == labels || *colon != ':' || len > (size_t) (end - colon - 1))
			return false;
		recwrite_message(col, WIRE_COLUMN_ENUM_LABELS, colon + 1, len);
		labels = colon + 1 + len;
	}
	return true;
}

bool
pgcatalog_describe(PGconn *conn, const char *database, uint32_t relid, const PgoMessage *msg,
				   PgcRelation *out, char *err, size_t errlen)
{
	char		relid_text[16];
	Buf			names = {0},
				types = {0},
				typmods = {0};
	const char *params[4];
	PGresult   *res;
	bool		gone;
	bool		msg_has_key = false;
	Pgcdc__ReplicaIdentity identity;
	Buf			rec = {0};
	size_t		n;

	memset(out, 0, sizeof(*out));
	snprintf(relid_text, sizeof(relid_text), "%u", relid);
	params[0] = relid_text;
	params[1] = params[2] = params[3] = NULL;
	if (msg != NULL)
	{
		PgoBytes   *colnames = xcalloc(msg->ncolumns + 1, sizeof(PgoBytes));

		buf_putc(&types, '{');
		buf_putc(&typmods, '{');
		for (size_t i = 0; i < msg->ncolumns; i++)
		{
			colnames[i] = msg->columns[i].name;
			buf_printf(&types, "%s%u", i ? "," : "", msg->columns[i].type);
			buf_printf(&typmods, "%s%d", i ? "," : "", msg->columns[i].typmod);
			msg_has_key |= msg->columns[i].key;
		}
		buf_puts(&types, "}");
		buf_puts(&typmods, "}");
		array_literal(&names, colnames, msg->ncolumns);
		free(colnames);
		params[1] = names.data;
		params[2] = types.data;
		params[3] = typmods.data;
	}
	res = PQexecParams(conn, DESCRIBE_SQL, 4, NULL, params, NULL, NULL, 0);
	buf_free(&names);
	buf_free(&types);
	buf_free(&typmods);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "cannot describe relation %u from the catalog: %s", relid, PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	n = (size_t) PQntuples(res);
	gone = n == 0 || PQgetisnull(res, 0, COL_SCHEMA);
	if (msg == NULL && gone)
	{
		snprintf(err, errlen, "relation %u: no such table (or it has no columns)", relid);
		PQclear(res);
		return false;
	}
	if (msg != NULL && n != msg->ncolumns)
	{
		snprintf(err, errlen, "relation %u: the catalog described %zu of its %zu columns", relid, n,
				 msg->ncolumns);
		PQclear(res);
		return false;
	}

	out->relid = relid;
	out->ncolumns = n;
	out->classes = xcalloc(n + 1, sizeof(PgvClass));
	out->names = xcalloc(n + 1, sizeof(char *));
	out->identity = xcalloc(n + 1, sizeof(bool));
	if (msg != NULL)
	{
		/* The identity the WAL was written with: the message's; its key flags are the identity's columns. */
		out->schema = bytes_dup(msg->nspname);
		out->table = bytes_dup(msg->relname);
		identity = identity_of(msg->replident, msg_has_key);
	}
	else
	{
		out->schema = xstrdup(PQgetvalue(res, 0, COL_SCHEMA));
		out->table = xstrdup(PQgetvalue(res, 0, COL_TABLE));
		identity = identity_of(PQgetvalue(res, 0, COL_REPLIDENT)[0], flag(res, 0, COL_HAS_IDENT));
	}
	out->old_key_only = identity == PGCDC__REPLICA_IDENTITY__IDENTITY_DEFAULT ||
		identity == PGCDC__REPLICA_IDENTITY__IDENTITY_INDEX;

	recwrite_varint(&rec, WIRE_CHANGE_EVENT_VERSION, 1);
	recwrite_varint(&rec, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_RELATION);
	recwrite_bytes(&rec, WIRE_CHANGE_EVENT_DATABASE, database, strlen(database));
	recwrite_bytes(&rec, WIRE_CHANGE_EVENT_SCHEMA, out->schema, strlen(out->schema));
	recwrite_bytes(&rec, WIRE_CHANGE_EVENT_TABLE, out->table, strlen(out->table));
	recwrite_varint(&rec, WIRE_CHANGE_EVENT_RELID, relid);
	recwrite_varint(&rec, WIRE_CHANGE_EVENT_REPLICA_IDENTITY, (uint64_t) identity);
	for (size_t i = 0; i < n; i++)
	{
		Buf			col = {0};
		const char *name = PQgetvalue(res, (int) i, COL_NAME);
		const char *type_name = PQgetvalue(res, (int) i, COL_TYPE_NAME);
		bool		key;

		/* The identity's columns are the key; under FULL or NOTHING, the primary key's. */
		if (msg != NULL)
			out->identity[i] = out->old_key_only && msg->columns[i].key;
		else
			out->identity[i] = out->old_key_only && flag(res, (int) i, COL_IN_IDENT);
		key = out->old_key_only ? out->identity[i] : flag(res, (int) i, COL_IN_PK);
		out->names[i] = xstrdup(name);
		out->classes[i] = pgvalue_class(PQgetisnull(res, (int) i, COL_BASE)
										? (uint32_t) strtoul(PQgetvalue(res, (int) i, COL_TYPE), NULL, 10)
										: (uint32_t) strtoul(PQgetvalue(res, (int) i, COL_BASE), NULL, 10));
		recwrite_bytes(&col, WIRE_COLUMN_NAME, name, strlen(name));
		recwrite_varint(&col, WIRE_COLUMN_TYPE_OID, strtoul(PQgetvalue(res, (int) i, COL_TYPE), NULL, 10));
		recwrite_bytes(&col, WIRE_COLUMN_TYPE_NAME, type_name, strlen(type_name));
		recwrite_varint(&col, WIRE_COLUMN_KEY, key);
		recwrite_varint(&col, WIRE_COLUMN_NOT_NULL, flag(res, (int) i, COL_NOT_NULL));
		if (!put_type_fields(&col, res, (int) i))
		{
			snprintf(err, errlen, "relation %u, column %s: unreadable enum labels from the catalog", relid, name);
			buf_free(&col);
			buf_free(&rec);
			PQclear(res);
			pgcatalog_release(out);
			return false;
		}
		recwrite_message(&rec, WIRE_CHANGE_EVENT_COLUMNS, col.data, col.len);
		buf_free(&col);
	}
	PQclear(res);
	out->record = (uint8_t *) rec.data;
	out->record_len = rec.len;
	return true;
}

void
pgcatalog_release(PgcRelation *r)
{
	for (size_t i = 0; r->names != NULL && i < r->ncolumns; i++)
		free(r->names[i]);
	free(r->names);
	free(r->schema);
	free(r->table);
	free(r->record);
	free(r->classes);
	free(r->identity);
	memset(r, 0, sizeof(*r));
}

bool
pgcatalog_read_record(const PgcRelation *rel, const char *database, int64_t commit_ts, const PGresult *res,
					  int row, int first, Buf *out, char *err, size_t errlen)
{
	recwrite_varint(out, WIRE_CHANGE_EVENT_VERSION, 1);
	recwrite_varint(out, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_READ);
	recwrite_varint(out, WIRE_CHANGE_EVENT_COMMIT_TS, (uint64_t) commit_ts);
	recwrite_bytes(out, WIRE_CHANGE_EVENT_DATABASE, database, strlen(database));
	recwrite_bytes(out, WIRE_CHANGE_EVENT_SCHEMA, rel->schema, strlen(rel->schema));
	recwrite_bytes(out, WIRE_CHANGE_EVENT_TABLE, rel->table, strlen(rel->table));
	recwrite_varint(out, WIRE_CHANGE_EVENT_RELID, rel->relid);
	for (size_t i = 0; i < rel->ncolumns; i++)
	{
		int			col = first + (int) i;
		char		why[256];

		if (!recwrite_value(out, WIRE_CHANGE_EVENT_AFTER, rel->classes[i],
							PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col),
							(size_t) PQgetlength(res, row, col), why, sizeof(why)))
		{
			snprintf(err, errlen, "%s.%s, column %s: %s", rel->schema, rel->table, rel->names[i], why);
			return false;
		}
	}
	recwrite_varint(out, WIRE_CHANGE_EVENT_SNAPSHOT, 1);
	return true;
}
