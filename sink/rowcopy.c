/*
 * rowcopy.c — rows as COPY data, binary or text, to the staging table or
 * the table (see rowcopy.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "copybin.h"
#include "copytext.h"
#include "rowcopy.h"
#include "stmt.h"

bool
rowcopy_start(RowCopy *c, const char *sql, char *err, size_t errlen)
{
	PGresult   *res = target_query(c->target, sql);
	bool		ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		target_error(c->target, res, err, errlen);
	PQclear(res);
	c->data.len = 0;
	c->sent = true;
	return ok;
}

void
rowcopy_send(RowCopy *c, size_t piece)
{
	if (c->data.len < piece || c->data.len == 0)
		return;
	c->sent = c->sent && target_copy_send(c->target, c->data.data, c->data.len);
	c->data.len = 0;
}

CopyResult
rowcopy_end(RowCopy *c, bool abandon, char *err, size_t errlen)
{
	bool		ok;

	if (!abandon)
		rowcopy_send(c, 1);
	ok = target_copy_end(c->target, c->sent,
						 abandon ? "walsink: a value binary COPY cannot carry, sent again as text" : NULL,
						 err, errlen);
	if (abandon)
		return COPY_NEEDS_TEXT;
	return ok ? COPY_OK : COPY_FAILED;
}

/* Whether target column j gets a value from this row. */
static bool
present(const Event *e, const int *map, size_t j)
{
	/* e->unchanged spares the value's cache miss in the common case. */
	return map[j] >= 0 && (!e->unchanged || e->image[map[j]]->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST);
}

/* Each row's shape into sh; how many rows go to the stage. */
static size_t
shapes(TableInfo *ti, Row *rows, size_t n, bool direct, Shapes *sh)
{
	size_t		staged = 0;

	sh->nsig = 0;
	for (size_t r = 0; r < n; r++)
	{
		const Event *e = rows[r].e;
		const int  *map = tables_map(ti, e);	/* not NULL: the table is prepared for e */
		bool		del = e->kind == EVENT_DELETE;
		char		op = del ? 'd' : e->rec->op == PGCDC__OP__OP_INSERT ? 'i' :
			e->rec->op == PGCDC__OP__OP_READ ? 'r' : 'u';
		char	   *s = sh->sig + sh->nsig * SIG_LEN(ti);
		int		   *group = sh->group;

		for (size_t j = 0; j < ti->ncols; j++)
			s[j] = present(e, map, j) ? '1' : '0';
		s[ti->ncols] = op;
		s[ti->ncols + 1] = '\0';
		staged += !(direct && op == 'i');
		group[r] = -1;
		if (del)
			continue;
		for (size_t g = 0; g < sh->nsig && group[r] < 0; g++)
			if (strcmp(sh->sig + g * SIG_LEN(ti), s) == 0)
				group[r] = (int) g;
		if (group[r] < 0)
			group[r] = (int) sh->nsig++;
	}
	return staged;
}

/*
 * A staged row's fields for COPY: its index, op, signature s for the rules
 * (NULL for a delete), then each target column's value.  false: a value
 * binary COPY cannot carry.
 */
static bool
stage_row(RowCopy *c, TableInfo *ti, size_t r, const Event *e, const int *map, char op, const char *s, bool bin,
		  Shapes *sh)
{
	Buf		   *b = &c->data;
	bool		del = s == NULL;
	char		num[24];

	if (bin)
	{
		copybin_row(b, (int) ti->ncols + 2 + (ti->nrules > 0));
		copybin_int4(b, (int32_t) r);
		copybin_char(b, op);
	}
	else
		buf_append(b, num, (size_t) sprintf(num, "%zu\t%c", r, op));
	if (ti->nrules > 0)
	{
		/* For the rules: which columns the row has (rules.c). */
		if (bin && del)
			copybin_null(b);
		else if (bin)
			copybin_text(b, s, ti->ncols);
		else if (del)
			buf_append(b, "\t\\N", 3);
		else
		{
			buf_putc(b, '\t');
			buf_append(b, s, ti->ncols);
		}
		sh->partial |= !del && memchr(s, '0', ti->ncols) != NULL;
	}
	for (size_t j = 0; j < ti->ncols; j++)
	{
		bool		has = map[j] >= 0 && (!del || e->rec->columns[map[j]]->key);

		if (bin)
		{
			if (!has)
				copybin_null(b);
			else if (!copybin_value(b, ti->bin[j], e->image[map[j]]))
				return false;
			continue;
		}
		buf_putc(b, '\t');
		if (has)
			copytext_value(b, e->image[map[j]]);
		else
			buf_append(b, "\\N", 2);
	}
	if (!bin)
		buf_putc(b, '\n');
	return true;
}

CopyResult
rowcopy_stage(RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, size_t n, bool direct, bool text, Shapes *sh,
			  char *err, size_t errlen)
{
	bool		bin = ti->binary && !text;

	if (shapes(ti, rows, n, direct, sh) == 0)
		return COPY_OK;
	sql->len = 0;
	stmt_copy_stage(sql, ti, ti->nrules > 0, bin);
	if (!rowcopy_start(c, stmt_text(sql), err, errlen))
		return COPY_FAILED;
	sh->partial = false;
	if (bin)
		copybin_start(&c->data);
	for (size_t r = 0; r < n; r++)
	{
		const Event *e = rows[r].e;
		/* The row's signature: its shape's (a delete has none). */
		const char *s = e->kind == EVENT_DELETE ? NULL : sh->sig + sh->group[r] * SIG_LEN(ti);
		char		op = s ? s[ti->ncols] : 'd';

		if (direct && op == 'i')
			continue;
		if (!stage_row(c, ti, r, e, tables_map(ti, e), op, s, bin, sh))
			return rowcopy_end(c, true, err, errlen);
		rowcopy_send(c, COPY_PIECE);
	}
	if (bin)
		copybin_end(&c->data);
	return rowcopy_end(c, false, err, errlen);
}

/* e's values of the columns signature s writes. */
static bool
direct_row(RowCopy *c, TableInfo *ti, const Event *e, const char *s, int nfields, bool bin)
{
	const int  *map = tables_map(ti, e);
	Buf		   *b = &c->data;
	bool		first = true;

	if (bin)
		copybin_row(b, nfields);
	for (size_t j = 0; j < ti->ncols; j++)
	{
		if (!stmt_writes(ti, s, j))
			continue;
		if (bin)
		{
			if ((int) j == ti->soft)
				copybin_bool(b, false);
			else if (!copybin_value(b, ti->bin[j], e->image[map[j]]))
				return false;
		}
		else
		{
			if (!first)
				buf_putc(b, '\t');
			if ((int) j == ti->soft)
				buf_putc(b, 'f');
			else
				copytext_value(b, e->image[map[j]]);
		}
		first = false;
	}
	if (!bin)
		buf_putc(b, '\n');
	return true;
}

CopyResult
rowcopy_direct(RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, const Shapes *sh, size_t g, bool text,
			   char *err, size_t errlen)
{
	const char *s = sh->sig + g * SIG_LEN(ti);
	bool		bin = ti->binary && !text && (ti->soft < 0 || ti->bin[ti->soft] == COPYBIN_BOOL);
	int			nfields = 0;
	CopyResult	res;

	for (size_t j = 0; j < ti->ncols; j++)
		nfields += stmt_writes(ti, s, j);
	sql->len = 0;
	stmt_copy_table(sql, ti, s, bin);
	if (!rowcopy_start(c, stmt_text(sql), err, errlen))
		return COPY_FAILED;
	if (bin)
		copybin_start(&c->data);
	for (size_t r = 0; r < sh->nrows; r++)
	{
		if (sh->group[r] != (int) g)
			continue;
		if (!direct_row(c, ti, rows[r].e, s, nfields, bin))
			return rowcopy_end(c, true, err, errlen);
		rowcopy_send(c, COPY_PIECE);
	}
	if (bin)
		copybin_end(&c->data);
	res = rowcopy_end(c, false, err, errlen);
	if (res == COPY_FAILED && !target_broken(c->target) && target_unique_violation(c->target))
		res = COPY_KEY_CONFLICT;	/* unique_violation: what the upsert resolves */
	return res;
}

void
rowcopy_free(RowCopy *c)
{
	buf_free(&c->data);
}
