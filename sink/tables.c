/*
 * tables.c — the target catalog, auto.create and auto.evolve.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "tables.h"
#include "xalloc.h"

struct Tables
{
	Target	   *target;
	const Settings *settings;
	TableInfo **items;
	size_t		n;
	int			stage_seq;
};

Tables *
tables_new(Target *t, const Settings *s)
{
	Tables	   *ts = xcalloc(1, sizeof(Tables));

	ts->target = t;
	ts->settings = s;
	return ts;
}

static void
forget_layout(TableInfo *ti)
{
	free(ti->layout_map);
	ti->layout_map = NULL;
	ti->layout = NULL;
	ti->key_layout = NULL;
}

static void
unload(TableInfo *ti)
{
	forget_layout(ti);
	for (size_t i = 0; i < ti->ncols; i++)
	{
		free(ti->cols[i]);
		free(ti->qcols[i]);
		free(ti->types[i]);
	}
	free(ti->cols);
	free(ti->qcols);
	free(ti->types);
	free(ti->keycols);
	free(ti->bin);
	ti->cols = ti->qcols = ti->types = NULL;
	ti->keycols = NULL;
	ti->bin = NULL;
	ti->binary = false;
	ti->ncols = ti->nkeys = 0;
	ti->loaded = false;
	ti->trunc_known = false;
}

void
tables_reset(Tables *ts, Target *t)
{
	ts->target = t;
	for (size_t i = 0; i < ts->n; i++)
	{
		unload(ts->items[i]);
		free(ts->items[i]->qname);
		ts->items[i]->qname = NULL;
		ts->items[i]->stage[0] = '\0';
	}
}

void
tables_free(Tables *ts)
{
	if (ts == NULL)
		return;
	for (size_t i = 0; i < ts->n; i++)
	{
		TableInfo  *ti = ts->items[i];

		unload(ti);
		free(ti->name);
		free(ti->schema);
		free(ti->table);
		free(ti->qname);
		free(ti->rules);
		free(ti->key_text);
		free(ti);
	}
	free(ts->items);
	free(ts);
}

TableInfo *
tables_get(Tables *ts, const char *source_schema, const char *source_table)
{
	const char *schema,
			   *table;
	TableInfo  *ti;

	settings_target_of(ts->settings, source_schema, source_table, &schema, &table);
	for (size_t i = 0; i < ts->n; i++)
	{
		ti = ts->items[i];
		if (strcmp(ti->schema, schema) == 0 && strcmp(ti->table, table) == 0)
			return ti;
	}
	ti = xcalloc(1, sizeof(TableInfo));
	ti->schema = xstrdup(schema);
	ti->table = xstrdup(table);
	ti->name = xmalloc(strlen(schema) + strlen(table) + 2);
	sprintf(ti->name, "%s.%s", schema, table);
	ti->soft = -1;
	for (size_t i = 0; i < ts->settings->nrules; i++)
	{
		if (strcmp(ts->settings->rules[i].target, ti->name) == 0)
		{
			ti->rules = xrealloc(ti->rules, ti->nrules + 1, sizeof(Rule *));
			ti->rules[ti->nrules++] = &ts->settings->rules[i];
		}
	}
	ts->items = xrealloc(ts->items, ts->n + 1, sizeof(TableInfo *));
	ts->items[ts->n++] = ti;
	return ti;
}

void
tables_forget(Tables *ts, TableInfo *ti)
{
	unload(ti);
	ti->version++;
}

int
tables_column(const TableInfo *ti, const char *name)
{
	for (size_t i = 0; i < ti->ncols; i++)
		if (strcmp(ti->cols[i], name) == 0)
			return (int) i;
	return -1;
}

bool
tables_load(Tables *ts, TableInfo *ti, bool *exists, char *err, size_t errlen)
{
	const char *values[2] = {ti->schema, ti->table};
	PGresult   *res = target_query_params(ts->target,
										  "SELECT a.attname, a.atttypid, CASE WHEN t.typtype = 'd' "
										  "THEN format_type(t.typbasetype, t.typtypmod) ELSE format_type(a.atttypid, a.atttypmod) END "
										  "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
										  "JOIN pg_type t ON t.oid = a.atttypid "
										  "JOIN pg_namespace n ON n.oid = c.relnamespace "
										  "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') "
										  "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
										  2, values, NULL, NULL, NULL);

	unload(ti);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		target_error(ts->target, res, err, errlen);
		PQclear(res);
		return false;
	}
	*exists = PQntuples(res) > 0;
	ti->ncols = (size_t) PQntuples(res);
	ti->cols = xcalloc(ti->ncols + 1, sizeof(char *));
	ti->qcols = xcalloc(ti->ncols + 1, sizeof(char *));
	ti->types = xcalloc(ti->ncols + 1, sizeof(char *));
	ti->bin = xcalloc(ti->ncols + 1, sizeof(CopyBinType));
	ti->binary = true;
	for (size_t i = 0; i < ti->ncols; i++)
	{
		ti->cols[i] = xstrdup(PQgetvalue(res, (int) i, 0));
		ti->qcols[i] = target_quote(ts->target, ti->cols[i]);
		ti->types[i] = xstrdup(PQgetvalue(res, (int) i, 2));
		ti->bin[i] = copybin_type((uint32_t) strtoul(PQgetvalue(res, (int) i, 1), NULL, 10));
		ti->binary &= ti->bin[i] != COPYBIN_NONE;
	}
	PQclear(res);
	if (ti->qname == NULL)
		ti->qname = target_quote_qualified(ts->target, ti->schema, ti->table);
	ti->soft = ts->settings->delete_mode == DELETE_SOFT ? tables_column(ti, ts->settings->soft_column) : -1;
	ti->loaded = *exists;
	ti->version++;
	return true;
}

/*
 * A type name as format_type() writes it: letters, digits, _, spaces, dots,
 * quotes, parentheses, commas, brackets.  Then the target must parse it as
 * one existing type.
 */
static bool
type_ok(Tables *ts, const char *name, char *err, size_t errlen, bool *ok)
{
	const char *values[1] = {name};
	PGresult   *res;

	*ok = name[0] != '\0' && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
									"0123456789_ .\"(),[]") == strlen(name);
	if (!*ok)
		return true;
	/* A name that does not parse is an error, not NULL: keep the transaction usable. */
	if (!target_exec(ts->target, "SAVEPOINT pgcdc_type", err, errlen))
		return false;
	res = target_query_params(ts->target, "SELECT to_regtype($1) IS NOT NULL", 1, values, NULL, NULL, NULL);
	*ok = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return target_exec(ts->target, *ok ? "RELEASE SAVEPOINT pgcdc_type" :
					   "ROLLBACK TO SAVEPOINT pgcdc_type; RELEASE SAVEPOINT pgcdc_type", err, errlen);
}

/* Whether the target knows col's type: false with reason (a dead letter) or err (the target failed). */
static bool
column_type_ok(Tables *ts, const Pgcdc__Column *col, char *reason, size_t reasonlen, char *err, size_t errlen)
{
	bool		known;

	if (!type_ok(ts, col->type_name, err, errlen, &known))
		return false;
	if (!known)
		snprintf(reason, reasonlen, "column \"%s\": type \"%s\" does not exist in the target",
				 col->name, col->type_name);
	return known;
}

/* The soft-delete column's definition: every row not deleted until a delete says so. */
#define SOFT_COLUMN_TYPE "boolean NOT NULL DEFAULT false"

static bool
add_column(Tables *ts, TableInfo *ti, const char *name, const char *type_sql, char *err, size_t errlen)
{
	char	   *q = target_quote(ts->target, name);
	char		sql[1024];
	bool		ok;

	snprintf(sql, sizeof(sql), TARGET_DDL_LOCK "ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s",
			 ti->qname, q, type_sql);
	free(q);
	ok = target_exec(ts->target, sql, err, errlen);
	if (ok)
		log_msg(LOG_INFO, "added column \"%s\" %s to %s", name, type_sql, ti->qname);
	return ok;
}

static bool
create(Tables *ts, TableInfo *ti, const Pgcdc__ChangeEvent *r, char *reason, size_t reasonlen,
	   char *err, size_t errlen)
{
	Buf			sql = {0};
	bool		any_key = false;
	bool		ok = false;

	if (!target_ensure_schema(ts->target, ti->schema, err, errlen))
		return false;
	buf_puts(&sql, TARGET_DDL_LOCK "CREATE TABLE IF NOT EXISTS ");
	buf_puts(&sql, ti->qname);
	buf_puts(&sql, " (");
	for (size_t i = 0; i < r->n_columns; i++)
	{
		char	   *q;

		if (!column_type_ok(ts, r->columns[i], reason, reasonlen, err, errlen))
			goto done;
		q = target_quote(ts->target, r->columns[i]->name);
		if (i > 0)
			buf_puts(&sql, ", ");
		buf_puts(&sql, q);
		buf_puts(&sql, " ");
		buf_puts(&sql, r->columns[i]->type_name);
		/* Soft deletes keep tombstones: key values alone, the rest NULL. */
		if (r->columns[i]->not_null && (r->columns[i]->key || ts->settings->delete_mode != DELETE_SOFT))
			buf_puts(&sql, " NOT NULL");
		any_key |= r->columns[i]->key;
		free(q);
	}
	if (ts->settings->delete_mode == DELETE_SOFT)
	{
		char	   *q = target_quote(ts->target, ts->settings->soft_column);

		buf_puts(&sql, ", ");
		buf_puts(&sql, q);
		buf_puts(&sql, " " SOFT_COLUMN_TYPE);
		free(q);
	}
	if (any_key)
	{
		buf_puts(&sql, ", PRIMARY KEY (");
		for (size_t i = 0, k = 0; i < r->n_columns; i++)
		{
			char	   *q;

			if (!r->columns[i]->key)
				continue;
			q = target_quote(ts->target, r->columns[i]->name);
			if (k++ > 0)
				buf_puts(&sql, ", ");
			buf_puts(&sql, q);
			free(q);
		}
		buf_puts(&sql, ")");
	}
	buf_puts(&sql, ")");
	ok = target_exec(ts->target, sql.data, err, errlen);
	if (ok)
		log_msg(LOG_INFO, "created table %s", ti->qname);
	else
		log_msg(LOG_DEBUG, "%s", sql.data);
done:
	buf_free(&sql);
	return ok;
}

/* ADD COLUMN for every column of r the target lacks. */
static bool
widen(Tables *ts, TableInfo *ti, const Pgcdc__ChangeEvent *r, bool *changed, char *reason,
	  size_t reasonlen, char *err, size_t errlen)
{
	*changed = false;
	for (size_t i = 0; i < r->n_columns; i++)
	{
		if (tables_column(ti, r->columns[i]->name) >= 0)
			continue;
		if (!ts->settings->auto_evolve)
		{
			snprintf(reason, reasonlen, "column \"%s\" is not in %s (auto.evolve is off)",
					 r->columns[i]->name, ti->name);
			return false;
		}
		if (!column_type_ok(ts, r->columns[i], reason, reasonlen, err, errlen) ||
			!add_column(ts, ti, r->columns[i]->name, r->columns[i]->type_name, err, errlen))
			return false;
		*changed = true;
	}
	if (ts->settings->delete_mode == DELETE_SOFT && tables_column(ti, ts->settings->soft_column) < 0)
	{
		if (!ts->settings->auto_evolve)
		{
			snprintf(reason, reasonlen, "%s has no delete.soft.column \"%s\" (auto.evolve is off)",
					 ti->name, ts->settings->soft_column);
			return false;
		}
		if (!add_column(ts, ti, ts->settings->soft_column, SOFT_COLUMN_TYPE, err, errlen))
			return false;
		*changed = true;
	}
	return true;
}

/* r's key columns, quoted and comma-separated ("" without a key): the text of a key for SQL and reasons. */
static char *
key_text(Tables *ts, const Pgcdc__ChangeEvent *r)
{
	Buf			out = {0};

	buf_puts(&out, "");			/* "" without a key, never NULL */
	for (size_t i = 0; i < r->n_columns; i++)
	{
		char	   *q;

		if (!r->columns[i]->key)
			continue;
		q = target_quote(ts->target, r->columns[i]->name);
		if (out.len > 0)
			buf_puts(&out, ", ");
		buf_puts(&out, q);
		free(q);
	}
	return out.data;
}

/* Whether ti has a primary key or unique index on exactly r's key columns (want of them). */
static bool
key_index(Tables *ts, TableInfo *ti, const Pgcdc__ChangeEvent *r, size_t want, bool *found,
		  char *err, size_t errlen)
{
	const char *values[1] = {ti->qname};
	PGresult   *res;

	*found = false;
	res = target_query_params(ts->target,
							  "SELECT array_to_string(array_agg(a.attname ORDER BY a.attname), chr(1)) "
							  "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
							  "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass "
							  "AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
							  "GROUP BY i.indexrelid", 1, values, NULL, NULL, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		target_error(ts->target, res, err, errlen);
		PQclear(res);
		return false;
	}
	for (int row = 0; row < PQntuples(res) && !*found; row++)
	{
		const char *names = PQgetvalue(res, row, 0);
		size_t		n = 1;

		for (const char *p = names; *p; p++)
			n += *p == '\1';
		if (n != want)
			continue;
		*found = true;
		for (size_t i = 0; i < r->n_columns && *found; i++)
		{
			const char *p = names;
			size_t		len = strlen(r->columns[i]->name);
			bool		in = false;

			if (!r->columns[i]->key)
				continue;
			while (*p && !in)
			{
				const char *e = strchr(p, '\1');
				size_t		l = e ? (size_t) (e - p) : strlen(p);

				in = l == len && memcmp(p, r->columns[i]->name, len) == 0;
				p += l + (e != NULL);
			}
			*found = in;
		}
	}
	PQclear(res);
	return true;
}

/*
 * auto.evolve: gives ti the source's key (cols, quoted): its primary key
 * when it has none, else a unique index.
 */
static bool
add_key(Tables *ts, TableInfo *ti, const char *cols, char *err, size_t errlen)
{
	Buf			sql = {0};
	bool		ok;

	buf_puts(&sql, TARGET_DDL_LOCK "DO $pgcdc$BEGIN IF EXISTS (SELECT FROM pg_index WHERE indrelid = '");
	buf_puts(&sql, ti->qname);
	buf_puts(&sql, "'::regclass AND indisprimary) THEN CREATE UNIQUE INDEX ON ");
	buf_puts(&sql, ti->qname);
	buf_puts(&sql, " (");
	buf_puts(&sql, cols);
	buf_puts(&sql, "); ELSE ALTER TABLE ");
	buf_puts(&sql, ti->qname);
	buf_puts(&sql, " ADD PRIMARY KEY (");
	buf_puts(&sql, cols);
	buf_puts(&sql, "); END IF; END$pgcdc$");
	ok = strstr(ti->qname, "$pgcdc$") == NULL && strstr(cols, "$pgcdc$") == NULL &&
		strchr(ti->qname, '\'') == NULL;
	if (!ok)
		snprintf(err, errlen, "a name of %s cannot be written in a key's DDL", ti->name);
	ok = ok && target_exec(ts->target, sql.data, err, errlen);
	if (ok)
		log_msg(LOG_INFO, "%s: the source's key (%s) added (auto.evolve)", ti->name, cols);
	buf_free(&sql);
	return ok;
}

/*
 * The target's key: a primary key or unique index on exactly r's key
 * columns, which are the source's at r (its key may change while streaming:
 * a primary key dropped or added, another replica identity index).  Without
 * one, auto.evolve adds it; else r is a dead letter saying what changed.
 */
static bool
find_key(Tables *ts, TableInfo *ti, const Pgcdc__ChangeEvent *r, char *reason, size_t reasonlen,
		 char *err, size_t errlen)
{
	size_t		want = 0;
	bool		found = false;
	char	   *cols = key_text(ts, r);
	char		was[300];

	snprintf(was, sizeof(was), ti->key_text == NULL ? "" : ti->key_text[0] ? " (was %s)" : " (was none)",
			 ti->key_text);
	free(ti->keycols);
	ti->keycols = NULL;
	ti->nkeys = 0;
	for (size_t i = 0; i < r->n_columns; i++)
		want += r->columns[i]->key;
	/* Without a key: inserts, and with REPLICA IDENTITY FULL, changes matched on the old row. */
	if (want > 0 && !key_index(ts, ti, r, want, &found, err, errlen))
		goto fail;
	if (want > 0 && !found && ts->settings->auto_evolve)
	{
		snprintf(reason, reasonlen, "the source's key of %s is (%s)%s: adding it to the target failed",
				 ti->name, cols, was);
		if (!add_key(ts, ti, cols, err, errlen) || !key_index(ts, ti, r, want, &found, err, errlen))
			goto fail;
		reason[0] = '\0';
	}
	if (want > 0 && !found)
	{
		snprintf(reason, reasonlen, "the source's key of %s is (%s)%s: the target has no primary key or "
				 "unique index on it%s", ti->name, cols, was, ts->settings->auto_evolve ? "" : " (auto.evolve is off)");
		goto fail;
	}
	ti->keycols = xcalloc(r->n_columns + 1, sizeof(int));
	for (size_t i = 0; i < r->n_columns; i++)
		if (r->columns[i]->key)
			ti->keycols[ti->nkeys++] = tables_column(ti, r->columns[i]->name);
	if (ti->key_text && strcmp(ti->key_text, cols) != 0)
		log_msg(LOG_INFO, "%s: the source's key is now (%s)%s", ti->name, cols, was);
	free(ti->key_text);
	ti->key_text = cols;
	ti->key_layout = NULL;
	return true;
fail:
	free(cols);
	return false;
}

bool
tables_key_fits(TableInfo *ti, const Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	size_t		n = 0;

	if (ti->keycols == NULL)
		return false;
	if (e->layout != NULL && e->layout == ti->key_layout)
		return true;
	for (size_t i = 0; i < r->n_columns; i++)
	{
		int			j;
		bool		in = false;

		if (!r->columns[i]->key)
			continue;
		j = tables_column(ti, r->columns[i]->name);
		for (size_t k = 0; k < ti->nkeys && !in; k++)
			in = ti->keycols[k] == j;
		if (!in)
			return false;
		n++;
	}
	if (n != ti->nkeys)
		return false;
	ti->key_layout = e->layout;
	return true;
}

const int *
tables_map(TableInfo *ti, const Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;

	if (ti->layout_map == NULL || e->layout == NULL || e->layout != ti->layout)
	{
		forget_layout(ti);
		ti->layout = e->layout;
		ti->layout_map = xmalloc((ti->ncols + 1) * sizeof(int));
		ti->layout_fits = true;
		for (size_t j = 0; j < ti->ncols; j++)
			ti->layout_map[j] = -1;
		for (size_t i = 0; i < r->n_columns; i++)
		{
			int			j = tables_column(ti, r->columns[i]->name);

			if (j < 0)
				ti->layout_fits = false;
			else
				ti->layout_map[j] = (int) i;
		}
	}
	return ti->layout_fits ? ti->layout_map : NULL;
}

bool
tables_ready(TableInfo *ti, const Event *e)
{
	return ti->loaded && tables_map(ti, e) != NULL && tables_key_fits(ti, e);
}

bool
tables_prepare(Tables *ts, TableInfo *ti, const Event *e, char *reason, size_t reasonlen,
			   char *err, size_t errlen)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	bool		exists = ti->loaded;
	bool		changed = false;

	reason[0] = err[0] = '\0';
	if (tables_ready(ti, e))
		return true;
	if (!ti->loaded && !tables_load(ts, ti, &exists, err, errlen))
		return false;
	if (!exists)
	{
		if (!ts->settings->auto_create)
		{
			snprintf(reason, reasonlen, "table %s does not exist in the target (auto.create is off)", ti->name);
			return false;
		}
		if (!create(ts, ti, r, reason, reasonlen, err, errlen) || !tables_load(ts, ti, &exists, err, errlen))
			return false;
	}
	if (!widen(ts, ti, r, &changed, reason, reasonlen, err, errlen))
		return false;
	if (changed && !tables_load(ts, ti, &exists, err, errlen))
		return false;
	return find_key(ts, ti, r, reason, reasonlen, err, errlen);
}

bool
tables_stage(Tables *ts, TableInfo *ti, char *err, size_t errlen)
{
	Buf			sql = {0};
	bool		ok;

	if (ti->stage[0] != '\0' && ti->stage_version == ti->version)
		return true;
	if (ti->stage[0] == '\0')
		snprintf(ti->stage, sizeof(ti->stage), "pgcdc_stage_%d", ++ts->stage_seq);
	buf_puts(&sql, "DROP TABLE IF EXISTS pg_temp.");
	buf_puts(&sql, ti->stage);
	buf_puts(&sql, "; CREATE TEMP TABLE ");
	buf_puts(&sql, ti->stage);
	buf_puts(&sql, " ON COMMIT DELETE ROWS AS SELECT NULL::int AS __pgcdc_row, "
			 "NULL::\"char\" AS __pgcdc_op, NULL::text AS __pgcdc_sig");
	for (size_t i = 0; i < ti->ncols; i++)
	{
		buf_puts(&sql, ", ");
		buf_puts(&sql, ti->qcols[i]);
	}
	buf_puts(&sql, " FROM ");
	buf_puts(&sql, ti->qname);
	buf_puts(&sql, " WITH NO DATA");
	ok = target_exec(ts->target, sql.data, err, errlen);
	buf_free(&sql);
	if (ok)
		ti->stage_version = ti->version;
	return ok;
}
