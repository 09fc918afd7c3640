/*
 * applykeys.c — a table's rows of a batch per key: the last change decides
 * the row, taking the values of TOASTed columns it left unchanged from the
 * key's earlier changes; a key change's copy under its old key finds them
 * there or in the target's row.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "copytext.h"
#include "log.h"

int
applykeys_cmp(const void *x, const void *y)
{
	return event_key_cmp(((const Row *) x)->e, ((const Row *) y)->e);
}

/* e's value of like's column i (by name), or NULL when e has no such column. */
static Pgcdc__Value *
column_value(const Event *e, const Event *like, size_t i)
{
	if (e->layout != NULL && e->layout == like->layout)
		return e->image[i];
	for (size_t k = 0; k < e->rec->n_columns; k++)
		if (strcmp(e->rec->columns[k]->name, like->rec->columns[i]->name) == 0)
			return e->image[k];
	return NULL;
}

static bool
same_key(const Event *a, const Event *b)
{
	return a->keylen == b->keylen && memcmp(a->key, b->key, a->keylen) == 0;
}

/*
 * The value of e's column i (e = rows[r]) as the key's changes before it in
 * the batch left it: the latest one that has it.  NULL when none has it, and
 * *before_batch says whether the target's row from before the batch has it:
 * no change here began the key's row (a delete, a key change's new key).
 */
static Pgcdc__Value *
earlier_value(Row *rows, size_t r, const Event *e, size_t i, bool *before_batch)
{
	*before_batch = false;
	for (size_t q = r; q-- > 0 && same_key(rows[q].e, e);)
	{
		const Event *p = rows[q].e;
		Pgcdc__Value *v;

		if (p->kind == EVENT_DELETE)
			return NULL;
		if ((v = column_value(p, e, i)) != NULL && v->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST)
			return v;
		if (p->move != NULL && p->move->new == p)
			return NULL;
	}
	*before_batch = true;
	return NULL;
}

/*
 * The last change of a key, rows[last], may be an update that left TOASTed
 * columns unchanged while the key's earlier changes in this batch, which are
 * not written, set them (an insert, an update of that column): it takes
 * their values, else they would be lost.
 */
static void
inherit_unchanged(Row *rows, size_t last)
{
	Event	   *e = rows[last].e;
	bool		before_batch;

	if (e->kind == EVENT_DELETE)
		return;
	for (size_t i = 0; i < e->rec->n_columns; i++)
	{
		Pgcdc__Value *v;

		if (e->image[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST &&
			(v = earlier_value(rows, last, e, i, &before_batch)) != NULL)
			e->image[i] = v;
	}
}

/* Keeps the last row per key (rows sorted by key, then source position). */
size_t
applykeys_dedupe(Row *rows, size_t n)
{
	size_t		out = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (i + 1 < n && same_key(rows[i].e, rows[i + 1].e))
			continue;
		if (i > 0 && same_key(rows[i - 1].e, rows[i].e))
			inherit_unchanged(rows, i);
		rows[out++] = rows[i];
	}
	return out;
}

/* A key change's copy under its old key, among a table's rows: the values it finds (see moves.h). */
typedef struct OldCopy
{
	size_t		r;				/* rows[r] */
	Event	   *e;
	Pgcdc__Value **vals;		/* per column of its record: the value, NULL unknown */
	bool	   *from_target;	/* per column: the value is the target's row's */
	bool		any_from_target;
} OldCopy;

static int
by_position(const void *x, const void *y)
{
	return position_cmp(&((const OldCopy *) x)->e->pos, &((const OldCopy *) y)->e->pos);
}

static void *
scratch(Applier *a, size_t size)
{
	ProtobufCAllocator *al = arena_allocator(a->scratch);
	void	   *p = al->alloc(al->allocator_data, size ? size : 1);

	memset(p, 0, size);
	return p;
}

/* A value as the target printed it (NULL: SQL NULL), in the batch's scratch memory. */
static Pgcdc__Value *
text_value(Applier *a, const char *text)
{
	Pgcdc__Value *v = scratch(a, sizeof(Pgcdc__Value));

	pgcdc__value__init(v);
	if (text == NULL)
	{
		v->kind_case = PGCDC__VALUE__KIND_IS_NULL;
		v->is_null = true;
		return v;
	}
	v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v->text_value = scratch(a, strlen(text) + 1);
	strcpy(v->text_value, text);
	return v;
}

/* The target column e's column i lands in (map: tables_map's), or -1. */
static int
target_column(const TableInfo *ti, const int *map, size_t i)
{
	for (size_t j = 0; j < ti->ncols; j++)
		if (map[j] == (int) i)
			return (int) j;
	return -1;
}

/*
 * The target's rows of the old keys, as they are before the batch, for the
 * columns the old key's copies take from there: the keys copied into the
 * staging table and joined, in a savepoint.  When the target refuses a key,
 * the values stay unknown (the copy's delete meets the same refusal, and is
 * a dead letter).
 */
static bool
target_values(Applier *a, TableInfo *ti, OldCopy *olds, size_t nold, char *err, size_t errlen)
{
	int		   *col = calloc(ti->ncols + 1, sizeof(int));	/* target column → result column, or 0 */
	int			ncol = 0;
	char		why[1024];
	PGresult   *res = NULL;
	bool		ok;

	a->sql.len = 0;
	apply_sql(a, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op", ti->stage);
	for (size_t c = 0; c < ti->nkeys; c++)
		apply_sql(a, ", %s", ti->qcols[ti->keycols[c]]);
	apply_sql(a, ") FROM STDIN");
	if (!target_defer(a->target, "SAVEPOINT pgcdc_moves", err, errlen))
		return free(col), false;
	ok = applycopy_start(a, why, sizeof(why));
	for (size_t k = 0; k < nold && ok; k++)
	{
		const Event *e = olds[k].e;
		const int  *map = tables_map(ti, e);
		char		num[24];
		int			j;

		if (!olds[k].any_from_target)
			continue;
		for (size_t i = 0; i < e->rec->n_columns; i++)
			if (olds[k].from_target[i] && (j = target_column(ti, map, i)) >= 0 && col[j] == 0)
				col[j] = ++ncol;
		buf_append(&a->copy, num, (size_t) sprintf(num, "%zu\tm", k));
		for (size_t c = 0; c < ti->nkeys; c++)
		{
			buf_putc(&a->copy, '\t');
			copytext_value(&a->copy, e->image[map[ti->keycols[c]]]);
		}
		buf_putc(&a->copy, '\n');
		applycopy_send(a, COPY_PIECE);
	}
	ok = ok && applycopy_end(a, false, why, sizeof(why));
	if (ok)
	{
		a->sql.len = 0;
		apply_sql(a, "WITH s AS (DELETE FROM pg_temp.%s WHERE __pgcdc_op = 'm' RETURNING *) "
				"SELECT s.__pgcdc_row", ti->stage);
		for (int c = 1; c <= ncol; c++)
			for (size_t j = 0; j < ti->ncols; j++)
				if (col[j] == c)
					apply_sql(a, ", t.%s::text", ti->qcols[j]);
		apply_sql(a, " FROM s JOIN %s t ON true", ti->qname);
		apply_key_match(a, ti);
		res = target_query(a->target, apply_sql_text(a));
		if (!(ok = PQresultStatus(res) == PGRES_TUPLES_OK))
			target_error(a->target, res, why, sizeof(why));
	}
	for (int row = 0; ok && row < PQntuples(res); row++)
	{
		OldCopy    *o = &olds[atoi(PQgetvalue(res, row, 0))];
		const int  *map = tables_map(ti, o->e);
		int			j;

		for (size_t i = 0; i < o->e->rec->n_columns; i++)
			if (o->from_target[i] && (j = target_column(ti, map, i)) >= 0)
				o->vals[i] = text_value(a, PQgetisnull(res, row, col[j]) ? NULL : PQgetvalue(res, row, col[j]));
	}
	PQclear(res);
	free(col);
	if (ok)
		return target_exec(a->target, "RELEASE SAVEPOINT pgcdc_moves", err, errlen);
	if (target_broken(a->target))
		return snprintf(err, errlen, "%s", why), false;
	log_msg(LOG_WARNING, "%s: cannot read the old keys' rows of key changes: %s", ti->name, why);
	return target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_moves; RELEASE SAVEPOINT pgcdc_moves",
					   err, errlen);
}

/*
 * Each old key's copy among the table's rows (sorted by key, then position)
 * finds the values of the columns its update left unchanged: from the old
 * key's latest earlier change here that has them, else from the target's
 * row.  In source order, so that a key changed twice in the batch passes on
 * what the first change found.
 */
bool
applykeys_resolve_moves(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen)
{
	OldCopy    *olds;
	size_t		nold = 0;
	bool		any_from_target = false;
	bool		ok = true;

	for (size_t r = 0; r < n; r++)
		nold += rows[r].e->move != NULL && rows[r].e->move->old == rows[r].e;
	if (nold == 0)
		return true;
	olds = calloc(nold, sizeof(OldCopy));
	nold = 0;
	for (size_t r = 0; r < n; r++)
	{
		Event	   *e = rows[r].e;
		OldCopy    *o = &olds[nold];

		if (e->move == NULL || e->move->old != e)
			continue;
		nold++;
		*o = (OldCopy) {r, e, scratch(a, e->rec->n_columns * sizeof(Pgcdc__Value *)),
		scratch(a, e->rec->n_columns * sizeof(bool))};
		for (size_t i = 0; i < e->rec->n_columns; i++)
			if (e->rec->after[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST)
			{
				earlier_value(rows, r, e, i, &o->from_target[i]);
				o->any_from_target |= o->from_target[i];
			}
		any_from_target |= o->any_from_target;
	}
	if (any_from_target)
		ok = target_values(a, ti, olds, nold, err, errlen);
	qsort(olds, nold, sizeof(OldCopy), by_position);
	for (size_t k = 0; k < nold && ok; k++)
	{
		OldCopy    *o = &olds[k];
		bool		before_batch;

		for (size_t i = 0; i < o->e->rec->n_columns; i++)
			if (o->e->rec->after[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST && !o->from_target[i])
				o->vals[i] = earlier_value(rows, o->r, o->e, i, &before_batch);
		moves_resolved(a->moves, o->e->move, o->vals, arena_allocator(a->scratch));
	}
	free(olds);
	return ok;
}
