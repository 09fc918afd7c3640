/*
 * applyfull.c — the changes of a table without a key, in source order:
 * inserts copied in, updates and deletes (REPLICA IDENTITY FULL) each
 * applied to one target row equal to its old row, as PostgreSQL's
 * subscriptions do (which of several equal rows changes cannot matter).
 *
 * The images go to the table's staging table (a change's old row at 2i, its
 * new row at 2i + 1), then one statement per change, all in one round trip.
 * An update or delete that finds no equal row is a dead letter; a statement
 * the target refuses sends each change again on its own, in a savepoint.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "copytext.h"

/* Staged row numbers of change i. */
#define OLD_ROW(i) (2 * (i))
#define NEW_ROW(i) (2 * (i) + 1)

bool
applyfull_needed(const Row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].e->old != NULL)
			return true;
	return false;
}

/* One image of e as a staged row: number r, op, which target columns it has (signature), values. */
static void
stage_image(Applier *a, TableInfo *ti, size_t r, char op, const Event *e, Pgcdc__Value **image)
{
	const int  *map = tables_map(ti, e);
	char		num[32];

	buf_append(&a->copy, num, (size_t) sprintf(num, "%zu\t%c\t", r, op));
	for (size_t j = 0; j < ti->ncols; j++)
		buf_putc(&a->copy, map[j] >= 0 && image[map[j]]->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST ?
				 '1' : '0');
	for (size_t j = 0; j < ti->ncols; j++)
	{
		buf_putc(&a->copy, '\t');
		if (map[j] >= 0)
			copytext_value(&a->copy, image[map[j]]);
		else
			buf_append(&a->copy, "\\N", 2);
	}
	buf_putc(&a->copy, '\n');
}

/* Stages rows[from..to)'s images (in text: this path is not the fast one). */
static bool
stage(Applier *a, TableInfo *ti, Row *rows, size_t from, size_t to, char *err, size_t errlen)
{
	a->sql.len = 0;
	apply_sql(a, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op, __pgcdc_sig", ti->stage);
	for (size_t j = 0; j < ti->ncols; j++)
		apply_sql(a, ", %s", ti->qcols[j]);
	apply_sql(a, ") FROM STDIN");
	if (!applycopy_start(a, err, errlen))
		return false;
	for (size_t i = from; i < to; i++)
	{
		const Event *e = rows[i].e;

		if (e->old != NULL)
			stage_image(a, ti, OLD_ROW(i), 'o', e, e->old);
		if (e->kind == EVENT_UPSERT)
			stage_image(a, ti, NEW_ROW(i), e->old ? 'u' : 'i', e, e->image);
		applycopy_send(a, COPY_PIECE);
	}
	return applycopy_end(a, false, err, errlen);
}

/* " AND ctid = (the first row of ti equal to change i's old row)" */
static void
match_old(Applier *a, TableInfo *ti, size_t i)
{
	apply_sql(a, " AND t.ctid = (SELECT x.ctid FROM %s x, pg_temp.%s o WHERE o.__pgcdc_row = %zu",
			  ti->qname, ti->stage, OLD_ROW(i));
	/* As text: every type has a text form, not every type an equality. */
	for (size_t j = 0; j < ti->ncols; j++)
		if ((int) j != ti->soft)
			apply_sql(a, " AND (substr(o.__pgcdc_sig, %zu, 1) = '0' OR x.%s::text IS NOT DISTINCT FROM o.%s::text)",
					  j + 1, ti->qcols[j], ti->qcols[j]);
	if (ti->soft >= 0)
		apply_sql(a, " AND x.%s IS NOT TRUE", ti->qcols[ti->soft]);
	apply_sql(a, " LIMIT 1)");
}

/* Whether change i inserts with the same columns as change i - 1: one INSERT for both. */
static bool
same_insert(const Row *rows, size_t i, size_t from)
{
	return i > from && rows[i].e->old == NULL && rows[i - 1].e->old == NULL &&
		rows[i].e->layout != NULL && rows[i].e->layout == rows[i - 1].e->layout;
}

/* Inserts rows[from..to) (the same columns): the columns they have, the rest the target's defaults. */
static void
insert_statement(Applier *a, TableInfo *ti, const Event *e, size_t from, size_t to)
{
	const int  *map = tables_map(ti, e);
	bool		first = true;

	apply_sql(a, "INSERT INTO %s (", ti->qname);
	for (size_t j = 0; j < ti->ncols; j++)
		if (map[j] >= 0 || (int) j == ti->soft)
			apply_sql(a, "%s%s", first ? "" : ", ", ti->qcols[j]), first = false;
	apply_sql(a, ") SELECT ");
	first = true;
	for (size_t j = 0; j < ti->ncols; j++)
		if (map[j] >= 0 || (int) j == ti->soft)
			apply_sql(a, "%s%s", first ? "" : ", ", (int) j == ti->soft ? "false" : ti->qcols[j]),
				first = false;
	apply_sql(a, " FROM pg_temp.%s WHERE __pgcdc_row BETWEEN %zu AND %zu;", ti->stage, NEW_ROW(from),
			  NEW_ROW(to - 1));
}

/* Change i's update or delete, appended to a->sql. */
static void
change_statement(Applier *a, TableInfo *ti, const Event *e, size_t i)
{
	bool		first = true;

	if (e->kind == EVENT_DELETE && ti->soft < 0)
		apply_sql(a, "DELETE FROM %s t WHERE true", ti->qname);
	else if (e->kind == EVENT_DELETE)
		apply_sql(a, "UPDATE %s t SET %s = true WHERE true", ti->qname, ti->qcols[ti->soft]);
	else
	{
		apply_sql(a, "UPDATE %s t SET ", ti->qname);
		for (size_t j = 0; j < ti->ncols; j++)
			if ((int) j != ti->soft)
				apply_sql(a, "%s%s = CASE WHEN substr(n.__pgcdc_sig, %zu, 1) = '1' THEN n.%s ELSE t.%s END",
						  first ? "" : ", ", ti->qcols[j], j + 1, ti->qcols[j], ti->qcols[j]), first = false;
		if (ti->soft >= 0)
			apply_sql(a, ", %s = false", ti->qcols[ti->soft]);
		apply_sql(a, " FROM pg_temp.%s n WHERE n.__pgcdc_row = %zu", ti->stage, NEW_ROW(i));
	}
	match_old(a, ti, i);
	apply_sql(a, ";");
}

/* Changes rows[from..to): staged, then in order; an update or delete that found no row is a dead letter. */
static bool
run_changes(Applier *a, TableInfo *ti, Row *rows, size_t from, size_t to, char *err, size_t errlen)
{
	long	   *counts = malloc((to - from + 1) * sizeof(long));
	size_t	   *of = malloc((to - from + 1) * sizeof(size_t));	/* each statement's change */
	size_t		n = 0;
	bool		ok = stage(a, ti, rows, from, to, err, errlen);

	a->sql.len = 0;
	for (size_t i = from; i < to; i++)
	{
		size_t		end = i + 1;

		if (rows[i].e->old == NULL)
		{
			while (end < to && same_insert(rows, end, i))
				end++;
			insert_statement(a, ti, rows[i].e, i, end);
		}
		else
			change_statement(a, ti, rows[i].e, i);
		of[n++] = i;
		i = end - 1;
	}
	ok = ok && target_exec_counts(a->target, apply_sql_text(a), counts, n, err, errlen);
	for (size_t k = 0; k < n && ok; k++)
	{
		Event	   *e = rows[of[k]].e;
		char		reason[400];

		if (e->old == NULL || counts[k] > 0)
			continue;
		snprintf(reason, sizeof(reason), "%s of %s, a table without a key: no row of the target is "
				 "equal to its old row (REPLICA IDENTITY FULL)", e->kind == EVENT_DELETE ? "delete" : "update",
				 ti->name);
		apply_dead(a, e, reason, NULL);
	}
	free(counts);
	free(of);
	return ok;
}

bool
applyfull_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen)
{
	char		why[1024];
	size_t		mark = a->ndead;
	size_t		applied;

	/* Rows an earlier statement of this batch staged would be taken for these. */
	if (a->staged == ti)
	{
		a->sql.len = 0;
		apply_sql(a, "DELETE FROM pg_temp.%s", ti->stage);
		if (!target_exec(a->target, apply_sql_text(a), err, errlen))
			return false;
		a->staged = NULL;
	}
	if (!target_defer(a->target, "SAVEPOINT pgcdc_rows", err, errlen))
		return false;
	if (run_changes(a, ti, rows, 0, n, why, sizeof(why)))
	{
		applied = n - (a->ndead - mark);
		a->n_applied += (int64_t) applied;
		ti->batch_applied += (int64_t) applied;
		a->staged = ti;
		return target_defer(a->target, "RELEASE SAVEPOINT pgcdc_rows", err, errlen);
	}
	/* Refused: each change again on its own, a lone one the target refuses a dead letter. */
	apply_dead_forget(a, mark);
	if (target_broken(a->target))
		return snprintf(err, errlen, "%s", why), false;
	if (!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_rows; RELEASE SAVEPOINT pgcdc_rows", err, errlen))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		size_t		before = a->ndead;

		if (!target_defer(a->target, "SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		if (run_changes(a, ti, rows, i, i + 1, why, sizeof(why)))
		{
			if (!target_defer(a->target, "RELEASE SAVEPOINT pgcdc_rows", err, errlen))
				return false;
			a->n_applied += a->ndead == before;
			ti->batch_applied += a->ndead == before;
			continue;
		}
		apply_dead_forget(a, before);
		if (target_broken(a->target))
			return snprintf(err, errlen, "%s", why), false;
		if (!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_rows; RELEASE SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		apply_dead(a, rows[i].e, "rejected by the target", why);
	}
	a->staged = ti;
	return true;
}
