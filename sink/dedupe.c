/*
 * dedupe.c — the last change per key, with what the key's earlier changes
 * set (see dedupe.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include "dedupe.h"

int
dedupe_cmp(const void *x, const void *y)
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

Pgcdc__Value *
dedupe_earlier_value(Row *rows, size_t r, const Event *e, size_t i, bool *before_batch)
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
		/* Not a delete: a key change's copy in the batch is its new key's (keychange.h). */
		if (p->move != NULL)
			return NULL;
	}
	*before_batch = true;
	return NULL;
}

/*
 * The last change of a key, rows[last], may be an update that left TOASTed
 * columns unchanged while the key's earlier changes in this batch, which are
 * not written, set them (an insert, an update of that column): it takes
 * their values.
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
			(v = dedupe_earlier_value(rows, last, e, i, &before_batch)) != NULL)
			e->image[i] = v;
	}
}

size_t
dedupe_rows(Row *rows, size_t n)
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
