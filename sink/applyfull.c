/*
 * applyfull.c — the changes of a table without a key (see applyfull.h).
 *
 * The images go to the table's staging table (a change's old row at
 * FULL_OLD(i), its new row at FULL_NEW(i)), then one statement per change,
 * all in one round trip.  An update or delete that finds no equal row is a
 * dead letter; a statement the target refuses sends each change again on
 * its own, in a savepoint.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applyfull.h"
#include "copytext.h"
#include "stmt.h"
#include "xalloc.h"

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
stage_image(Buf *b, TableInfo *ti, size_t r, char op, const Event *e, Pgcdc__Value **image)
{
	const int  *map = tables_map(ti, e);
	char		num[32];

	buf_append(b, num, (size_t) sprintf(num, "%zu\t%c\t", r, op));
	for (size_t j = 0; j < ti->ncols; j++)
		buf_putc(b, map[j] >= 0 && image[map[j]]->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST ? '1' : '0');
	for (size_t j = 0; j < ti->ncols; j++)
	{
		buf_putc(b, '\t');
		if (map[j] >= 0)
			copytext_value(b, image[map[j]]);
		else
			buf_append(b, "\\N", 2);
	}
	buf_putc(b, '\n');
}

/* Stages rows[from..to)'s images (in text: this path is not the fast one). */
static bool
stage(RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, size_t from, size_t to, char *err, size_t errlen)
{
	sql->len = 0;
	stmt_copy_stage(sql, ti, true, false);
	if (!rowcopy_start(c, stmt_text(sql), err, errlen))
		return false;
	for (size_t i = from; i < to; i++)
	{
		const Event *e = rows[i].e;

		if (e->old != NULL)
			stage_image(&c->data, ti, FULL_OLD(i), 'o', e, e->old);
		if (e->kind == EVENT_UPSERT)
			stage_image(&c->data, ti, FULL_NEW(i), e->old ? 'u' : 'i', e, e->image);
		rowcopy_send(c, COPY_PIECE);
	}
	return rowcopy_end(c, false, err, errlen) == COPY_OK;
}

/* Whether change i inserts with the same columns as change i - 1: one INSERT for both. */
static bool
same_insert(const Row *rows, size_t i, size_t from)
{
	return i > from && rows[i].e->old == NULL && rows[i - 1].e->old == NULL &&
		rows[i].e->layout != NULL && rows[i].e->layout == rows[i - 1].e->layout;
}

/* Changes rows[from..to): staged, then in order; an update or delete that found no row is a dead letter. */
static bool
run_changes(RowCopy *c, Buf *sql, DeadLetters *dead, TableInfo *ti, Row *rows, size_t from, size_t to,
			char *err, size_t errlen)
{
	long	   *counts = xmalloc((to - from + 1) * sizeof(long));
	size_t	   *of = xmalloc((to - from + 1) * sizeof(size_t));	/* each statement's change */
	size_t		n = 0;
	bool		ok = stage(c, sql, ti, rows, from, to, err, errlen);

	sql->len = 0;
	for (size_t i = from; i < to; i++)
	{
		size_t		end = i + 1;

		if (rows[i].e->old == NULL)
		{
			while (end < to && same_insert(rows, end, i))
				end++;
			stmt_full_insert(sql, ti, tables_map(ti, rows[i].e), i, end);
		}
		else
			stmt_full_change(sql, ti, rows[i].e->kind == EVENT_DELETE, i);
		of[n++] = i;
		i = end - 1;
	}
	ok = ok && target_exec_counts(c->target, stmt_text(sql), counts, n, err, errlen);
	for (size_t k = 0; k < n && ok; k++)
	{
		Event	   *e = rows[of[k]].e;
		char		reason[400];

		/*
		 * A Debezium message may be one sent again (at-least-once, see
		 * sink/dbzinput.h): its row changed or gone already, as for a table
		 * with a key, it changes nothing.
		 */
		if (e->old == NULL || counts[k] > 0 || e->order == ORDER_SHARED)
			continue;
		snprintf(reason, sizeof(reason), "%s of %s, a table without a key: no row of the target is "
				 "equal to its old row (REPLICA IDENTITY FULL)", e->kind == EVENT_DELETE ? "delete" : "update",
				 ti->name);
		deadletters_add(dead, e, reason, NULL);
	}
	free(counts);
	free(of);
	return ok;
}

/* A statement refused: its savepoint rolled back, unless the connection is gone (false, err). */
static bool
roll_back(Target *t, const char *why, char *err, size_t errlen)
{
	if (target_broken(t))
	{
		snprintf(err, errlen, "%s", why);
		return false;
	}
	return target_exec(t, "ROLLBACK TO SAVEPOINT pgcdc_rows; RELEASE SAVEPOINT pgcdc_rows", err, errlen);
}

bool
applyfull_rows(RowCopy *c, Buf *sql, DeadLetters *dead, TableInfo *ti, Row *rows, size_t n,
			   int64_t *applied, char *err, size_t errlen)
{
	Target	   *t = c->target;
	char		why[1024];
	size_t		mark = dead->n;

	*applied = 0;
	if (!target_defer(t, "SAVEPOINT pgcdc_rows", err, errlen))
		return false;
	if (run_changes(c, sql, dead, ti, rows, 0, n, why, sizeof(why)))
	{
		*applied = (int64_t) (n - (dead->n - mark));
		ti->batch_applied += *applied;
		return target_defer(t, "RELEASE SAVEPOINT pgcdc_rows", err, errlen);
	}
	/* Refused: each change again on its own, a lone one the target refuses a dead letter. */
	deadletters_forget(dead, mark);
	if (!roll_back(t, why, err, errlen))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		size_t		before = dead->n;

		if (!target_defer(t, "SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		if (run_changes(c, sql, dead, ti, rows, i, i + 1, why, sizeof(why)))
		{
			if (!target_defer(t, "RELEASE SAVEPOINT pgcdc_rows", err, errlen))
				return false;
			*applied += dead->n == before;
			ti->batch_applied += dead->n == before;
			continue;
		}
		deadletters_forget(dead, before);
		if (!roll_back(t, why, err, errlen))
			return false;
		deadletters_add(dead, rows[i].e, "rejected by the target", why);
	}
	return true;
}
