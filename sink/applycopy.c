/*
 * applycopy.c — a batch's rows as COPY data: into the table's staging table
 * (binary when every value has a binary form, else text), or, for rows the
 * source inserted, straight into the table; sent in pieces as they are made.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "applier.h"
#include "copybin.h"
#include "copytext.h"

/* Whether target column j gets a value from this row. */
static bool
present(const Event *e, const int *map, size_t j)
{
	/* e->unchanged spares the value's cache miss in the common case. */
	return map[j] >= 0 && (!e->unchanged || e->image[map[j]]->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST);
}

/*
 * Streaming COPY: applycopy_start runs a->sql, a COPY FROM STDIN; rows are made
 * into a->copy, and applycopy_send sends them a piece at a time, so the target
 * reads and inserts while the rest is made; applycopy_end ends it.
 */
bool
applycopy_start(Applier *a, char *err, size_t errlen)
{
	PGresult   *res = target_query(a->target, apply_sql_text(a));
	bool		ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		target_error(a->target, res, err, errlen);
	PQclear(res);
	a->copy.len = 0;
	a->copy_lost = false;
	return ok;
}

void
applycopy_send(Applier *a, size_t piece)
{
	if (a->copy.len < piece || a->copy.len == 0)
		return;
	a->copy_lost |= !a->copy_lost && !target_copy_send(a->target, a->copy.data, a->copy.len);
	a->copy.len = 0;
}

/*
 * The COPY's result.  abandon: a value binary COPY cannot carry, the rows
 * must go again in text (the target fails the COPY; a->text_again).
 */
bool
applycopy_end(Applier *a, bool abandon, char *err, size_t errlen)
{
	bool		ok;

	if (!abandon)
		applycopy_send(a, 1);
	ok = target_copy_end(a->target, !a->copy_lost,
						 abandon ? "walsink: a value binary COPY cannot carry, sent again as text" : NULL,
						 err, errlen);
	a->text_again |= abandon;
	return ok;
}

/*
 * A staged row's fields for COPY: its index, op, signature s for the rules
 * (NULL for a delete), then each target column's value.
 */
static bool
stage_row(Applier *a, TableInfo *ti, size_t r, const Event *e, const int *map, char op, const char *s, bool bin)
{
	bool		del = s == NULL;
	char		num[24];

	if (bin)
	{
		copybin_row(&a->copy, (int) ti->ncols + 2 + (ti->nrules > 0));
		copybin_int4(&a->copy, (int32_t) r);
		copybin_char(&a->copy, op);
	}
	else
		buf_append(&a->copy, num, (size_t) sprintf(num, "%zu\t%c", r, op));
	if (ti->nrules > 0)
	{
		/* For the rules: which columns the row has (validate). */
		if (bin)
			del ? copybin_null(&a->copy) : copybin_text(&a->copy, s, ti->ncols);
		else if (del)
			buf_append(&a->copy, "\t\\N", 3);
		else
		{
			buf_putc(&a->copy, '\t');
			buf_append(&a->copy, s, ti->ncols);
		}
		a->partial |= !del && memchr(s, '0', ti->ncols) != NULL;
	}
	for (size_t j = 0; j < ti->ncols; j++)
	{
		bool		has = map[j] >= 0 && (!del || e->rec->columns[map[j]]->key);

		if (bin)
		{
			if (!has)
				copybin_null(&a->copy);
			else if (!copybin_value(&a->copy, ti->bin[j], e->image[map[j]]))
				return false;
			continue;
		}
		buf_putc(&a->copy, '\t');
		if (has)
			copytext_value(&a->copy, e->image[map[j]]);
		else
			buf_append(&a->copy, "\\N", 2);
	}
	if (!bin)
		buf_putc(&a->copy, '\n');
	return true;
}

/*
 * Stages rows[0..n), less those the source inserted when direct (they are
 * copied into the table itself, applycopy_direct); per row, its signature and
 * group (rows written with one statement).  In binary unless a value cannot
 * be (a->text_again), then in text.
 */
bool
applycopy_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, bool direct, char *sig, size_t *nsig, int *group,
		  char *err, size_t errlen)
{
	size_t		staged = 0;
	bool		bin = ti->binary && !a->text_only;

	*nsig = 0;
	for (size_t r = 0; r < n; r++)
	{
		const Event *e = rows[r].e;
		const int  *map = tables_map(ti, e);	/* not NULL: the table is prepared for e */
		bool		del = e->kind == EVENT_DELETE;
		char		op = del ? 'd' : e->rec->op == PGCDC__OP__OP_INSERT ? 'i' : e->rec->op == PGCDC__OP__OP_READ ? 'r' : 'u';
		char	   *s = sig + *nsig * SIG_LEN(ti);

		for (size_t j = 0; j < ti->ncols; j++)
			s[j] = present(e, map, j) ? '1' : '0';
		s[ti->ncols] = op;
		s[ti->ncols + 1] = '\0';
		staged += !(direct && op == 'i');
		group[r] = -1;
		if (del)
			continue;
		for (size_t g = 0; g < *nsig && group[r] < 0; g++)
			if (strcmp(sig + g * SIG_LEN(ti), s) == 0)
				group[r] = (int) g;
		if (group[r] < 0)
			group[r] = (int) (*nsig)++;
	}
	if (staged == 0)
		return true;
	a->sql.len = 0;
	apply_sql(a, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op%s", ti->stage, ti->nrules > 0 ? ", __pgcdc_sig" : "");
	for (size_t j = 0; j < ti->ncols; j++)
		apply_sql(a, ", %s", ti->qcols[j]);
	apply_sql(a, ") FROM STDIN%s", bin ? " (FORMAT binary)" : "");
	if (!applycopy_start(a, err, errlen))
		return false;
	a->partial = false;
	if (bin)
		copybin_start(&a->copy);
	for (size_t r = 0; r < n; r++)
	{
		const Event *e = rows[r].e;
		/* The row's signature: its group's (a delete has none). */
		const char *s = e->kind == EVENT_DELETE ? NULL : sig + group[r] * SIG_LEN(ti);
		char		op = s ? s[ti->ncols] : 'd';

		if (direct && op == 'i')
			continue;
		if (!stage_row(a, ti, r, e, tables_map(ti, e), op, s, bin))
			return applycopy_end(a, true, err, errlen);
		applycopy_send(a, COPY_PIECE);
	}
	if (bin)
		copybin_end(&a->copy);
	return applycopy_end(a, false, err, errlen);
}

/* Whether a row of signature s writes target column j: it has a value, or it is the soft-delete column. */
bool
applycopy_writes(const TableInfo *ti, const char *s, size_t j)
{
	return s[j] == '1' || (int) j == ti->soft;
}

/* The columns a row of signature s writes, quoted, comma-separated. */
void
applycopy_columns(Applier *a, const TableInfo *ti, const char *s)
{
	bool		first = true;

	for (size_t j = 0; j < ti->ncols; j++)
		if (applycopy_writes(ti, s, j))
			apply_sql(a, "%s%s", first ? "" : ", ", ti->qcols[j]), first = false;
}

/*
 * COPYs group g (rows the source inserted, signature s) straight into the
 * table: no staging table, no conflict check.  The source had no such keys,
 * so the target normally has none either; when one is there after all, false
 * with a->conflict set, and the caller writes the batch again by upsert.
 */
bool
applycopy_direct(Applier *a, TableInfo *ti, Row *rows, size_t n, const int *group, int g, const char *s,
			char *err, size_t errlen)
{
	bool		ok;
	bool		bin = ti->binary && !a->text_only && (ti->soft < 0 || ti->bin[ti->soft] == COPYBIN_BOOL);
	int			nfields = 0;

	for (size_t j = 0; j < ti->ncols; j++)
		nfields += applycopy_writes(ti, s, j);
	a->sql.len = 0;
	apply_sql(a, "COPY %s (", ti->qname);
	applycopy_columns(a, ti, s);
	apply_sql(a, ") FROM STDIN%s", bin ? " (FORMAT binary)" : "");
	if (!applycopy_start(a, err, errlen))
		return false;
	if (bin)
		copybin_start(&a->copy);
	for (size_t r = 0; r < n; r++)
	{
		const int  *map;
		bool		first = true;

		if (group[r] != g)
			continue;
		map = tables_map(ti, rows[r].e);
		if (bin)
			copybin_row(&a->copy, nfields);
		for (size_t j = 0; j < ti->ncols; j++)
		{
			if (!applycopy_writes(ti, s, j))
				continue;
			if (bin)
			{
				if ((int) j == ti->soft)
					copybin_bool(&a->copy, false);
				else if (!copybin_value(&a->copy, ti->bin[j], rows[r].e->image[map[j]]))
					return applycopy_end(a, true, err, errlen);
			}
			else
			{
				if (!first)
					buf_putc(&a->copy, '\t');
				if ((int) j == ti->soft)
					buf_putc(&a->copy, 'f');
				else
					copytext_value(&a->copy, rows[r].e->image[map[j]]);
			}
			first = false;
		}
		if (!bin)
			buf_putc(&a->copy, '\n');
		applycopy_send(a, COPY_PIECE);
	}
	if (bin)
		copybin_end(&a->copy);
	ok = applycopy_end(a, false, err, errlen);
	if (!ok && !target_broken(a->target) && strcmp(a->target->state, "23505") == 0)
		a->conflict = true;		/* unique_violation: what the upsert resolves */
	return ok;
}
