/*
 * snaprange.c — a snapshot chunk's range applied once: the target's rows
 * the source no longer had deleted (snaprange.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "log.h"
#include "snaprange.h"
#include "truncmarks.h"
#include "xalloc.h"

/* The key columns of the range, in the target: quoted name, type, COLLATE clause. */
typedef struct KeyCol
{
	char	   *qname;
	char	   *type;
	char	   *collate;		/* "" or " COLLATE schema.name" */
} KeyCol;

/*
 * The target's collation ordering text as the source's "<provider>:<locale>"
 * does, as a COLLATE clause (into out): the database's default when it is
 * the same, else one of pg_collation.  False when none: why says.
 */
static bool
find_collation(Target *t, const char *source, Buf *out, char *why, size_t whylen, char *err, size_t errlen,
			   bool *failed)
{
	const char *colon = strchr(source, ':');
	char		provider[2] = {0};
	const char *values[2] = {provider, NULL};
	PGresult   *res;
	bool		found;

	*failed = false;
	if (source[0] == '\0')
		return true;			/* not collatable */
	if (colon == NULL || colon - source != 1)
	{
		snprintf(why, whylen, "unknown collation \"%s\"", source);
		return false;
	}
	provider[0] = source[0];
	values[1] = colon + 1;
	/* PostgreSQL 17's builtin C.UTF-8 orders by code point: as "C" does UTF-8's bytes. */
	if (strcmp(values[1], "C") == 0 || strcmp(values[1], "POSIX") == 0 ||
		(provider[0] == 'b' && strcmp(values[1], "C.UTF-8") == 0))
	{
		buf_puts(out, " COLLATE pg_catalog.\"C\"");
		return true;
	}
	/* Locale names compared as glibc does: "en_US.UTF-8" is "en_US.utf8". */
	if (!target_exec_params(t,
							"WITH want AS (SELECT pg_catalog.lower(pg_catalog.replace($2, '-', '')) AS l) "
							"SELECT 'default' FROM pg_catalog.pg_database d, want "
							"WHERE d.datname = pg_catalog.current_database() AND d.datlocprovider = $1 "
							"AND pg_catalog.lower(pg_catalog.replace(CASE d.datlocprovider WHEN 'i' "
							"  THEN d.daticulocale ELSE d.datcollate END, '-', '')) = want.l "
							"UNION ALL "
							"SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname) "
							"FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace, want "
							"WHERE c.collprovider = $1 AND c.collencoding IN (-1, pg_catalog.pg_char_to_encoding("
							"  pg_catalog.getdatabaseencoding())) "
							"AND pg_catalog.lower(pg_catalog.replace(CASE c.collprovider WHEN 'i' "
							"  THEN c.colliculocale ELSE c.collcollate END, '-', '')) = want.l LIMIT 1",
							2, values, NULL, &res, err, errlen))
	{
		*failed = true;
		return false;
	}
	found = PQntuples(res) == 1;
	if (found && strcmp(PQgetvalue(res, 0, 0), "default") != 0)
	{
		buf_puts(out, " COLLATE ");
		buf_puts(out, PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	if (!found)
		snprintf(why, whylen, "the target has no collation ordering as the source's %s does", source);
	return found;
}

/* The target's type of column qname's table ti ("format_type"), or NULL with err. */
static char *
column_type(Target *t, const TableInfo *ti, const char *column, char *err, size_t errlen)
{
	const char *values[2] = {ti->qname, column};
	PGresult   *res;
	char	   *type = NULL;

	if (!target_exec_params(t, "SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
							"WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
							2, values, NULL, &res, err, errlen))
		return NULL;
	if (PQntuples(res) == 1)
		type = xstrdup(PQgetvalue(res, 0, 0));
	else
		snprintf(err, errlen, "column %s of %s vanished", column, ti->name);
	PQclear(res);
	return type;
}

/* (k1, k2, ...) with each column's COLLATE, or without. */
static void
key_row(Buf *sql, const KeyCol *cols, size_t n, bool collate)
{
	buf_putc(sql, '(');
	for (size_t i = 0; i < n; i++)
		buf_printf(sql, "%st.%s%s", i ? ", " : "", cols[i].qname, collate ? cols[i].collate : "");
	buf_putc(sql, ')');
}

/* ($a::type, ...) for a key's values, as parameters from *next on. */
static void
key_params(Buf *sql, const KeyCol *cols, size_t n, const Pgcdc__Key *k, const char **params, Buf *texts,
		   int *next)
{
	buf_putc(sql, '(');
	for (size_t i = 0; i < n; i++)
	{
		copytext_plain(&texts[*next], k->values[i]);
		buf_putc(&texts[*next], '\0');
		params[*next] = NULL;	/* set once every text is built: the Bufs may move */
		buf_printf(sql, "%s$%d::%s", i ? ", " : "", *next + 1, cols[i].type);
		(*next)++;
	}
	buf_putc(sql, ')');
}

/* The claim: true when this range is the table's newest, and so to be applied here. */
static bool
claim(Target *t, const TableInfo *ti, const Event *e, bool *mine, char *err, size_t errlen)
{
	char		lsn[32];
	const char *values[3] = {target_settings(t)->group_id, ti->name, lsn};
	PGresult   *res;

	snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(e->pos.lsn));
	if (!target_exec_params(t, "INSERT INTO pgcdc.sink_snapshot_range AS r VALUES ($1, $2, $3) "
							"ON CONFLICT (group_id, target_table) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn "
							"WHERE r.commit_lsn < EXCLUDED.commit_lsn RETURNING 1",
							3, values, NULL, &res, err, errlen))
		return false;
	*mine = PQntuples(res) == 1;
	PQclear(res);
	return true;
}

/* Runs the range's DELETE in a savepoint: a rejection is RANGE_SKIPPED with why. */
static bool
delete_in_savepoint(Target *t, const char *sql, int n, const char *const *params, RangeOutcome *outcome,
					long *removed, char *why, size_t whylen, char *err, size_t errlen)
{
	PGresult   *res;

	if (!target_exec(t, "SAVEPOINT pgcdc_range", err, errlen))
		return false;
	if (!target_exec_params(t, sql, n, params, NULL, &res, why, whylen))
	{
		if (target_broken(t))
		{
			snprintf(err, errlen, "%s", why);
			return false;
		}
		*outcome = RANGE_SKIPPED;
		return target_exec(t, "ROLLBACK TO SAVEPOINT pgcdc_range", err, errlen);
	}
	*removed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	*outcome = RANGE_APPLIED;
	return target_exec(t, "RELEASE SAVEPOINT pgcdc_range", err, errlen);
}

/*
 * A keyless table's range: every row, and the truncate mark at its position
 * (also when the table is not there yet: the batch's older rows would
 * create it).
 */
static bool
apply_keyless(Target *t, TableInfo *ti, const Event *e, bool exists, RangeOutcome *outcome, long *removed,
			  char *why, size_t whylen, char *err, size_t errlen)
{
	char	   *sql;
	bool		ok;

	if (!truncmarks_load(t, ti, err, errlen))
		return false;
	if (ti->has_trunc_mark && position_cmp(&e->pos, &ti->trunc_mark) <= 0)
	{
		*outcome = RANGE_ALREADY;
		return true;
	}
	if (exists)
	{
		sql = xmalloc(strlen(ti->qname) + 32);
		sprintf(sql, "DELETE FROM %s", ti->qname);
		ok = delete_in_savepoint(t, sql, 0, NULL, outcome, removed, why, whylen, err, errlen);
		free(sql);
		if (!ok || *outcome != RANGE_APPLIED)
			return ok;
	}
	if (!truncmarks_set(t, ti->name, &e->pos, err, errlen))
		return false;
	ti->trunc_mark = e->pos;
	ti->has_trunc_mark = true;
	return true;
}

bool
snaprange_apply(Target *t, Tables *ts, TableInfo *ti, const Event *e, RangeOutcome *outcome,
				long *removed, char *why, size_t whylen, char *err, size_t errlen)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	const Pgcdc__SnapshotRange *g = r->range;
	KeyCol	   *cols;
	size_t		n = 0;
	int			nparams = 0;
	int			maxparams;
	Buf			sql = {0};
	Buf		   *texts;
	Buf		   *arrays;
	const char **params;
	bool		exists,
				mine,
				ok = false,
				failed;

	*removed = 0;
	why[0] = '\0';
	*outcome = RANGE_NO_TABLE;
	if (!tables_load(ts, ti, &exists, err, errlen))
		return false;
	if (g->keyless)
		return apply_keyless(t, ti, e, exists, outcome, removed, why, whylen, err, errlen);
	/*
	 * Claimed even when the table is not there yet: this batch's rows, of
	 * this range and after it, create it, and a later copy must not delete
	 * them.
	 */
	if (!claim(t, ti, e, &mine, err, errlen))
		return false;
	if (!mine)
	{
		*outcome = RANGE_ALREADY;
		return true;
	}
	if (!exists)
		return true;
	cols = xcalloc(g->n_collations, sizeof(KeyCol));
	maxparams = (int) (3 * g->n_collations);
	texts = xcalloc((size_t) maxparams, sizeof(Buf));
	params = xcalloc((size_t) maxparams, sizeof(char *));
	arrays = texts + 2 * g->n_collations;
	*outcome = RANGE_SKIPPED;
	for (size_t i = 0; i < r->n_columns; i++)
	{
		Buf			collate = {0};

		if (!r->columns[i]->key)
			continue;
		if (tables_column(ti, r->columns[i]->name) < 0)
		{
			snprintf(why, whylen, "the target has no key column %s", r->columns[i]->name);
			goto done;
		}
		cols[n].qname = target_quote(t, r->columns[i]->name);
		if ((cols[n].type = column_type(t, ti, r->columns[i]->name, err, errlen)) == NULL)
			goto failed;
		if (!find_collation(t, g->collations[n], &collate, why, whylen, err, errlen, &failed))
		{
			buf_free(&collate);
			n++;
			if (failed)
				goto failed;
			goto done;
		}
		buf_puts(&collate, "");
		cols[n++].collate = collate.data;
	}

	buf_printf(&sql, "DELETE FROM %s t WHERE true", ti->qname);
	if (g->after)
	{
		buf_puts(&sql, " AND ");
		key_row(&sql, cols, n, true);
		buf_puts(&sql, " > ");
		key_params(&sql, cols, n, g->after, params, texts, &nparams);
	}
	if (g->last)
	{
		buf_puts(&sql, " AND ");
		key_row(&sql, cols, n, true);
		buf_puts(&sql, " <= ");
		key_params(&sql, cols, n, g->last, params, texts, &nparams);
	}
	/* The keys to keep, one array per key column. */
	for (size_t k = 0; k < g->n_keep; k++)
	{
		Buf			value = {0};

		for (size_t i = 0; i < n; i++)
		{
			const char *v;

			value.len = 0;
			copytext_plain(&value, g->keep[k]->values[i]);
			buf_putc(&value, '\0');
			v = value.data;
			target_array_add(&arrays[i], 1, &v);
		}
		buf_free(&value);
	}
	buf_puts(&sql, " AND ");
	key_row(&sql, cols, n, false);
	buf_puts(&sql, " NOT IN (SELECT * FROM unnest(");
	for (size_t i = 0; i < n; i++)
	{
		if (arrays[i].len == 0)
			buf_putc(&arrays[i], '{');
		buf_putc(&arrays[i], '}');
		buf_putc(&arrays[i], '\0');
		buf_printf(&sql, "%s$%d::%s[]", i ? ", " : "", nparams + (int) i + 1, cols[i].type);
	}
	buf_puts(&sql, "))");
	for (int i = 0; i < nparams; i++)
		params[i] = texts[i].data;
	for (size_t i = 0; i < n; i++)
		params[nparams + (int) i] = arrays[i].data;
	ok = delete_in_savepoint(t, sql.data, nparams + (int) n, params, outcome, removed, why, whylen,
							 err, errlen);
	goto cleanup;

done:
	ok = true;
	goto cleanup;
failed:
	ok = false;
cleanup:
	for (size_t i = 0; i < g->n_collations; i++)
	{
		free(cols[i].qname);
		free(cols[i].type);
		free(cols[i].collate);
	}
	for (int i = 0; i < maxparams; i++)
		buf_free(&texts[i]);
	free(cols);
	free(texts);
	free(params);
	buf_free(&sql);
	return ok;
}
