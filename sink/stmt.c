/*
 * stmt.c — the SQL of applying a batch, built into the caller's buffer
 * (see stmt.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>

#include "stmt.h"
#include "xalloc.h"

void
stmt_shapes_init(Shapes *sh, const TableInfo *ti, size_t nrows)
{
	sh->sig = xmalloc(nrows * SIG_LEN(ti) + 1);
	sh->group = xmalloc((nrows + 1) * sizeof(int));
	sh->nsig = 0;
	sh->nrows = nrows;
	sh->partial = false;
}

void
stmt_shapes_free(Shapes *sh)
{
	free(sh->sig);
	free(sh->group);
	sh->sig = NULL;
	sh->group = NULL;
}

const char *
stmt_text(Buf *sql)
{
	buf_putc(sql, '\0');
	sql->len--;
	return sql->data;
}

bool
stmt_writes(const TableInfo *ti, const char *s, size_t j)
{
	return s[j] == '1' || (int) j == ti->soft;
}

/* The columns a row of signature s writes, quoted, comma-separated. */
static void
stmt_columns(Buf *sql, const TableInfo *ti, const char *s)
{
	bool		first = true;

	for (size_t j = 0; j < ti->ncols; j++)
		if (stmt_writes(ti, s, j))
		{
			buf_printf(sql, "%s%s", first ? "" : ", ", ti->qcols[j]);
			first = false;
		}
}

/* " AND t.k = s.k" for each key column: the table t against the stage s. */
static void
stmt_key_match(Buf *sql, const TableInfo *ti)
{
	for (size_t k = 0; k < ti->nkeys; k++)
		buf_printf(sql, " AND t.%s = s.%s", ti->qcols[ti->keycols[k]], ti->qcols[ti->keycols[k]]);
}

/* Whether target column j is one of the key's. */
static bool
is_key(const TableInfo *ti, size_t j)
{
	for (size_t k = 0; k < ti->nkeys; k++)
		if (ti->keycols[k] == (int) j)
			return true;
	return false;
}

size_t
stmt_updates(const TableInfo *ti, const char *s)
{
	size_t		updates = 0;

	for (size_t j = 0; j < ti->ncols; j++)
		updates += stmt_writes(ti, s, j) && !is_key(ti, j);
	return updates;
}

void
stmt_clear_stage(Buf *sql, const TableInfo *ti)
{
	buf_printf(sql, "DELETE FROM pg_temp.%s", ti->stage);
}

void
stmt_copy_stage(Buf *sql, const TableInfo *ti, bool sig, bool binary)
{
	buf_printf(sql, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op%s", ti->stage, sig ? ", __pgcdc_sig" : "");
	for (size_t j = 0; j < ti->ncols; j++)
		buf_printf(sql, ", %s", ti->qcols[j]);
	buf_printf(sql, ") FROM STDIN%s", binary ? " (FORMAT binary)" : "");
}

void
stmt_copy_keys(Buf *sql, const TableInfo *ti)
{
	buf_printf(sql, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op", ti->stage);
	for (size_t c = 0; c < ti->nkeys; c++)
		buf_printf(sql, ", %s", ti->qcols[ti->keycols[c]]);
	buf_printf(sql, ") FROM STDIN");
}

void
stmt_copy_table(Buf *sql, const TableInfo *ti, const char *s, bool binary)
{
	buf_printf(sql, "COPY %s (", ti->qname);
	stmt_columns(sql, ti, s);
	buf_printf(sql, ") FROM STDIN%s", binary ? " (FORMAT binary)" : "");
}

void
stmt_delete(Buf *sql, const TableInfo *ti)
{
	if (ti->soft < 0)
	{
		buf_printf(sql, "DELETE FROM %s t USING pg_temp.%s s WHERE s.__pgcdc_op = 'd'", ti->qname, ti->stage);
		stmt_key_match(sql, ti);
		return;
	}
	/* A tombstone: the key marked deleted, even when the row was never applied. */
	buf_printf(sql, "INSERT INTO %s AS t (", ti->qname);
	for (size_t k = 0; k < ti->nkeys; k++)
		buf_printf(sql, "%s, ", ti->qcols[ti->keycols[k]]);
	buf_printf(sql, "%s) SELECT ", ti->qcols[ti->soft]);
	for (size_t k = 0; k < ti->nkeys; k++)
		buf_printf(sql, "%s, ", ti->qcols[ti->keycols[k]]);
	buf_printf(sql, "true FROM pg_temp.%s WHERE __pgcdc_op = 'd' ON CONFLICT (", ti->stage);
	for (size_t k = 0; k < ti->nkeys; k++)
		buf_printf(sql, "%s%s", k ? ", " : "", ti->qcols[ti->keycols[k]]);
	buf_printf(sql, ") DO UPDATE SET %s = true", ti->qcols[ti->soft]);
}

/* " AND __pgcdc_row IN (...)": shape g's rows, when other shapes share its op. */
static void
group_rows(Buf *sql, const TableInfo *ti, const Shapes *sh, size_t g)
{
	char		op = sh->sig[g * SIG_LEN(ti) + ti->ncols];
	size_t		same_op = 0;
	bool		first = true;

	for (size_t h = 0; h < sh->nsig; h++)
		same_op += sh->sig[h * SIG_LEN(ti) + ti->ncols] == op;
	if (same_op < 2)
		return;
	buf_printf(sql, " AND __pgcdc_row IN (");
	for (size_t r = 0; r < sh->nrows; r++)
		if (sh->group[r] == (int) g)
		{
			buf_printf(sql, "%s%zu", first ? "" : ",", r);
			first = false;
		}
	buf_printf(sql, ")");
}

/*
 * UPDATE ... FROM the stage: the rows are normally there, and an UPDATE
 * costs the target a third less than INSERT ... ON CONFLICT DO UPDATE,
 * which locks each row before updating it.
 */
void
stmt_update(Buf *sql, const TableInfo *ti, const Shapes *sh, size_t g)
{
	const char *s = sh->sig + g * SIG_LEN(ti);
	bool		first = true;

	buf_printf(sql, "UPDATE %s AS t SET ", ti->qname);
	for (size_t j = 0; j < ti->ncols; j++)
		if (stmt_writes(ti, s, j) && !is_key(ti, j))
		{
			buf_printf(sql, "%s%s = %s%s", first ? "" : ", ", ti->qcols[j],
					 (int) j == ti->soft ? "false" : "s.", (int) j == ti->soft ? "" : ti->qcols[j]);
			first = false;
		}
	buf_printf(sql, " FROM pg_temp.%s s WHERE __pgcdc_op = 'u'", ti->stage);
	group_rows(sql, ti, sh, g);
	stmt_key_match(sql, ti);
}

void
stmt_upsert(Buf *sql, const TableInfo *ti, const Shapes *sh, size_t g, bool updated)
{
	const char *s = sh->sig + g * SIG_LEN(ti);
	char		op = s[ti->ncols];
	bool		first = true;

	buf_printf(sql, "INSERT INTO %s AS t (", ti->qname);
	stmt_columns(sql, ti, s);
	buf_printf(sql, ") SELECT ");
	for (size_t j = 0; j < ti->ncols; j++)
		if (stmt_writes(ti, s, j))
		{
			buf_printf(sql, "%s%s", first ? "" : ", ", (int) j == ti->soft ? "false" : ti->qcols[j]);
			first = false;
		}
	buf_printf(sql, " FROM pg_temp.%s WHERE __pgcdc_op = '%c'", ti->stage, op);
	group_rows(sql, ti, sh, g);
	if (ti->nkeys == 0)
		return;
	buf_printf(sql, " ON CONFLICT (");
	for (size_t k = 0; k < ti->nkeys; k++)
		buf_printf(sql, "%s%s", k ? ", " : "", ti->qcols[ti->keycols[k]]);
	buf_printf(sql, ") DO ");
	first = true;
	for (size_t j = 0; j < ti->ncols && !updated; j++)
		if (stmt_writes(ti, s, j) && !is_key(ti, j))
		{
			buf_printf(sql, "%s%s = EXCLUDED.%s", first ? "UPDATE SET " : ", ", ti->qcols[j], ti->qcols[j]);
			first = false;
		}
	if (first)
		buf_printf(sql, "NOTHING");	/* nothing but the key, or the rows there are updated */
}

/* A rule judges the row as it will be: a column a row does not have is the target's. */
void
stmt_rule(Buf *sql, const TableInfo *ti, size_t k, bool partial)
{
	if (!partial || ti->nkeys == 0)
	{
		buf_printf(sql, "WITH bad AS (DELETE FROM pg_temp.%s WHERE __pgcdc_op <> 'd' AND (%s) IS NOT TRUE "
				 "RETURNING __pgcdc_row) SELECT __pgcdc_row FROM bad ORDER BY 1", ti->stage, ti->rules[k]->expr);
		return;
	}
	buf_printf(sql, "WITH bad AS (DELETE FROM pg_temp.%s x USING (SELECT __pgcdc_row FROM "
			 "(SELECT s.__pgcdc_row, s.__pgcdc_op", ti->stage);
	for (size_t j = 0; j < ti->ncols; j++)
		buf_printf(sql, ", CASE WHEN substr(s.__pgcdc_sig, %zu, 1) = '1' THEN s.%s ELSE t.%s END AS %s",
				 j + 1, ti->qcols[j], ti->qcols[j], ti->qcols[j]);
	buf_printf(sql, " FROM pg_temp.%s s LEFT JOIN %s t ON true", ti->stage, ti->qname);
	stmt_key_match(sql, ti);
	buf_printf(sql, ") v WHERE __pgcdc_op <> 'd' AND (%s) IS NOT TRUE) b WHERE x.__pgcdc_row = b.__pgcdc_row "
			 "RETURNING x.__pgcdc_row) SELECT __pgcdc_row FROM bad ORDER BY 1", ti->rules[k]->expr);
}

void
stmt_old_rows(Buf *sql, const TableInfo *ti, const int *col, int ncol)
{
	buf_printf(sql, "WITH s AS (DELETE FROM pg_temp.%s WHERE __pgcdc_op = 'm' RETURNING *) "
			 "SELECT s.__pgcdc_row", ti->stage);
	for (int c = 1; c <= ncol; c++)
		for (size_t j = 0; j < ti->ncols; j++)
			if (col[j] == c)
				buf_printf(sql, ", t.%s::text", ti->qcols[j]);
	buf_printf(sql, " FROM s JOIN %s t ON true", ti->qname);
	stmt_key_match(sql, ti);
}

/* The columns they have, the rest the target's defaults. */
void
stmt_full_insert(Buf *sql, const TableInfo *ti, const int *map, size_t from, size_t to)
{
	bool		first = true;

	buf_printf(sql, "INSERT INTO %s (", ti->qname);
	for (size_t j = 0; j < ti->ncols; j++)
		if (map[j] >= 0 || (int) j == ti->soft)
		{
			buf_printf(sql, "%s%s", first ? "" : ", ", ti->qcols[j]);
			first = false;
		}
	buf_printf(sql, ") SELECT ");
	first = true;
	for (size_t j = 0; j < ti->ncols; j++)
		if (map[j] >= 0 || (int) j == ti->soft)
		{
			buf_printf(sql, "%s%s", first ? "" : ", ", (int) j == ti->soft ? "false" : ti->qcols[j]);
			first = false;
		}
	buf_printf(sql, " FROM pg_temp.%s WHERE __pgcdc_row BETWEEN %zu AND %zu;", ti->stage, FULL_NEW(from),
			 FULL_NEW(to - 1));
}

/* " AND ctid = (the first row of ti equal to change i's old row)" */
static void
match_old(Buf *sql, const TableInfo *ti, size_t i)
{
	buf_printf(sql, " AND t.ctid = (SELECT x.ctid FROM %s x, pg_temp.%s o WHERE o.__pgcdc_row = %zu",
			 ti->qname, ti->stage, FULL_OLD(i));
	/* As text: every type has a text form, not every type an equality. */
	for (size_t j = 0; j < ti->ncols; j++)
		if ((int) j != ti->soft)
			buf_printf(sql, " AND (substr(o.__pgcdc_sig, %zu, 1) = '0' OR x.%s::text IS NOT DISTINCT FROM o.%s::text)",
					 j + 1, ti->qcols[j], ti->qcols[j]);
	if (ti->soft >= 0)
		buf_printf(sql, " AND x.%s IS NOT TRUE", ti->qcols[ti->soft]);
	buf_printf(sql, " LIMIT 1)");
}

void
stmt_full_change(Buf *sql, const TableInfo *ti, bool del, size_t i)
{
	bool		first = true;

	if (del && ti->soft < 0)
		buf_printf(sql, "DELETE FROM %s t WHERE true", ti->qname);
	else if (del)
		buf_printf(sql, "UPDATE %s t SET %s = true WHERE true", ti->qname, ti->qcols[ti->soft]);
	else
	{
		buf_printf(sql, "UPDATE %s t SET ", ti->qname);
		for (size_t j = 0; j < ti->ncols; j++)
			if ((int) j != ti->soft)
			{
				buf_printf(sql, "%s%s = CASE WHEN substr(n.__pgcdc_sig, %zu, 1) = '1' THEN n.%s ELSE t.%s END",
						 first ? "" : ", ", ti->qcols[j], j + 1, ti->qcols[j], ti->qcols[j]);
				first = false;
			}
		if (ti->soft >= 0)
			buf_printf(sql, ", %s = false", ti->qcols[ti->soft]);
		buf_printf(sql, " FROM pg_temp.%s n WHERE n.__pgcdc_row = %zu", ti->stage, FULL_NEW(i));
	}
	match_old(sql, ti, i);
	buf_printf(sql, ";");
}
