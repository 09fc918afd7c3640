/*
 * apply.c — a batch into the target: skip what is applied, dead-letter what
 * cannot be, copy and upsert the rest.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "arena.h"
#include "copybin.h"
#include "copytext.h"
#include "log.h"
#include "moves.h"
#include "tables.h"

/* Why an event was skipped: the label of walsink_skipped_total. */
enum
{
	SKIP_APPLIED,				/* at or behind the stored position */
	SKIP_DEAD_LETTER,			/* in the dead-letter table already */
	SKIP_SUPERSEDED,			/* a later change of its key in the batch decides */
	SKIP_TRUNCATED,				/* older than a truncate already applied */
	SKIP_REASONS
};
static const char *const skip_reasons[SKIP_REASONS] = {"applied", "dead_letter", "superseded", "truncated"};

/* An event refused, and why. */
typedef struct DeadLetter
{
	const Event *e;
	char	   *reason;
	char	   *detail;
} DeadLetter;

struct Applier
{
	const Settings *settings;
	Metrics    *metrics;
	Target	   *target;
	Tables	   *tables;
	DeadTopic  *dead_topic;
	/* This batch's dead letters, written just before COMMIT. */
	DeadLetter *dead;
	size_t		ndead;
	size_t		dead_cap;
	int64_t		n_dead;			/* of them, those new to the table */
	/* This batch's counts, added to the metrics once it is committed. */
	int64_t		n_applied;
	int64_t		n_skipped[SKIP_REASONS];
	int64_t		n_ignored;
	MetricCell *m_applied;
	MetricCell *m_skipped[SKIP_REASONS];
	MetricCell *m_ignored;
	MetricCell *m_dead;
	MetricCell *m_batches;
	bool		conflict;		/* copy_direct met a key already there */
	bool		partial;		/* copy_rows staged a row without some column */
	bool		text_only;		/* this batch's COPYs go in text: binary could not carry a value */
	bool		text_again;		/* a binary COPY was abandoned for a value it cannot carry */
	bool		copy_lost;		/* sending COPY data failed: its result says why */
	TableInfo  *staged;			/* its staging table holds rows a statement of this batch wrote */
	Moves	   *moves;
	Arena	   *scratch;		/* values made for this batch */
	Buf			copy;
	Buf			sql;
};

/* A staged row's signature: per target column '1' when it has a value, then its op, then NUL. */
#define SIG_LEN(ti) ((ti)->ncols + 2)

/* A change to stage, with the target table it goes to. */
typedef struct Row
{
	Event	   *e;
	TableInfo  *ti;
} Row;

/* Notes e as a dead letter of this batch; a savepoint rolled back takes its notes along (dead_forget). */
static void
dead(Applier *a, const Event *e, const char *reason, const char *detail)
{
	if (a->ndead == a->dead_cap)
	{
		a->dead_cap = a->dead_cap ? 2 * a->dead_cap : 16;
		a->dead = realloc(a->dead, a->dead_cap * sizeof(DeadLetter));
	}
	a->dead[a->ndead++] = (DeadLetter) {e, strdup(reason), detail ? strdup(detail) : NULL};
}

static void
dead_forget(Applier *a, size_t keep)
{
	while (a->ndead > keep)
	{
		a->ndead--;
		free(a->dead[a->ndead].reason);
		free(a->dead[a->ndead].detail);
	}
}

Applier *
applier_new(const Settings *s, Metrics *m, DeadTopic *dead)
{
	Applier    *a = calloc(1, sizeof(Applier));

	a->settings = s;
	a->metrics = m;
	a->dead_topic = dead;
	a->m_applied = metrics_cell(m, "walsink_applied_total", METRIC_COUNTER,
								"Row changes applied to the target", NULL);
	for (int r = 0; r < SKIP_REASONS; r++)
	{
		const char *labels[] = {"reason", skip_reasons[r], NULL};

		a->m_skipped[r] = metrics_cell(m, "walsink_skipped_total", METRIC_COUNTER,
									   "Changes not applied, by why: at or behind the stored position "
									   "(resent, redelivered, replayed), already a dead letter, superseded by "
									   "a later change of the same key in the batch, or older than a truncate",
									   labels);
	}
	a->m_ignored = metrics_cell(m, "walsink_ignored_total", METRIC_COUNTER,
								"Records with nothing to apply (BEGIN, COMMIT, messages)", NULL);
	a->m_dead = metrics_cell(m, "walsink_dead_letters_total", METRIC_COUNTER,
							 "Events written to the dead-letter table", NULL);
	a->m_batches = metrics_cell(m, "walsink_batches_total", METRIC_COUNTER,
								"Target transactions committed", NULL);
	a->moves = moves_new(m);
	a->scratch = arena_new();
	return a;
}

void
applier_free(Applier *a)
{
	if (a == NULL)
		return;
	tables_free(a->tables);
	moves_free(a->moves);
	arena_free(a->scratch);
	dead_forget(a, 0);
	free(a->dead);
	buf_free(&a->copy);
	buf_free(&a->sql);
	free(a);
}

void
applier_attach(Applier *a, Target *t)
{
	a->target = t;
	if (a->tables == NULL)
		a->tables = tables_new(t, a->settings);
	else
		tables_reset(a->tables, t);
}

/* The batch's dead letters into the table, and to the topic, acknowledged there. */
static bool
dead_write(Applier *a, char *err, size_t errlen)
{
	for (size_t i = 0; i < a->ndead; i++)
	{
		const DeadLetter *d = &a->dead[i];
		const rd_kafka_message_t *m = d->e->msg;
		bool		written;

		if (!target_dead_letter(a->target, d->e, d->reason, d->detail, &written, err, errlen))
			return false;
		if (!written)
		{
			/* Consumed again: its dead letter was committed before, with its offset. */
			log_msg(LOG_INFO, "%s [%d] @%" PRId64 " skipped: already a dead letter",
					rd_kafka_topic_name(m->rkt), m->partition, m->offset);
			a->n_skipped[SKIP_DEAD_LETTER]++;
			continue;
		}
		log_msg(LOG_WARNING, "dead letter: %s [%d] @%" PRId64 ": %s%s%s", rd_kafka_topic_name(m->rkt),
				m->partition, m->offset, d->reason, d->detail ? ": " : "", d->detail ? d->detail : "");
		a->n_dead++;
		if (a->dead_topic && !deadtopic_send(a->dead_topic, d->e, d->reason, d->detail, err, errlen))
			return false;
	}
	return a->n_dead == 0 || a->dead_topic == NULL || deadtopic_flush(a->dead_topic, err, errlen);
}

/* SQL text builder over a->sql. */
__attribute__((format(printf, 2, 3)))
static void
sql_add(Applier *a, const char *fmt,...)
{
	va_list		ap;
	int			need;

	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(&a->sql, (size_t) need + 1);
	va_start(ap, fmt);
	vsnprintf(a->sql.data + a->sql.len, (size_t) need + 1, fmt, ap);
	va_end(ap);
	a->sql.len += (size_t) need;
}

static const char *
sql_text(Applier *a)
{
	buf_putc(&a->sql, '\0');
	a->sql.len--;
	return a->sql.data;
}

/* Whether target column j gets a value from this row. */
static bool
present(const Event *e, const int *map, size_t j)
{
	/* e->unchanged spares the value's cache miss in the common case. */
	return map[j] >= 0 && (!e->unchanged || e->image[map[j]]->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST);
}

/*
 * Streaming COPY: copy_start runs a->sql, a COPY FROM STDIN; rows are made
 * into a->copy, and copy_send sends them a piece at a time, so the target
 * reads and inserts while the rest is made; copy_end ends it.
 */
#define COPY_PIECE (256 * 1024)

static bool
copy_start(Applier *a, char *err, size_t errlen)
{
	PGresult   *res = target_query(a->target, sql_text(a));
	bool		ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		target_error(a->target, res, err, errlen);
	PQclear(res);
	a->copy.len = 0;
	a->copy_lost = false;
	return ok;
}

static void
copy_send(Applier *a, size_t piece)
{
	if (a->copy.len < piece || a->copy.len == 0)
		return;
	a->copy_lost |= !a->copy_lost && PQputCopyData(a->target->conn, a->copy.data, (int) a->copy.len) != 1;
	a->copy.len = 0;
}

/*
 * The COPY's result.  abandon: a value binary COPY cannot carry, the rows
 * must go again in text (the target fails the COPY; a->text_again).
 */
static bool
copy_end(Applier *a, bool abandon, char *err, size_t errlen)
{
	PGconn	   *c = a->target->conn;
	PGresult   *res;
	bool		ok;

	if (!abandon)
		copy_send(a, 1);
	ok = PQputCopyEnd(c, abandon ? "walsink: a value binary COPY cannot carry, sent again as text" : NULL) == 1 &&
		!a->copy_lost && !abandon;
	res = PQgetResult(c);
	ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		target_error(a->target, res, err, errlen);
	PQclear(res);
	while ((res = PQgetResult(c)) != NULL)
		PQclear(res);
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
 * copied into the table itself, copy_direct); per row, its signature and
 * group (rows written with one statement).  In binary unless a value cannot
 * be (a->text_again), then in text.
 */
static bool
copy_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, bool direct, char *sig, size_t *nsig, int *group,
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
	sql_add(a, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op%s", ti->stage, ti->nrules > 0 ? ", __pgcdc_sig" : "");
	for (size_t j = 0; j < ti->ncols; j++)
		sql_add(a, ", %s", ti->qcols[j]);
	sql_add(a, ") FROM STDIN%s", bin ? " (FORMAT binary)" : "");
	if (!copy_start(a, err, errlen))
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
			return copy_end(a, true, err, errlen);
		copy_send(a, COPY_PIECE);
	}
	if (bin)
		copybin_end(&a->copy);
	return copy_end(a, false, err, errlen);
}

/* Whether a row of signature s writes target column j: it has a value, or it is the soft-delete column. */
static bool
writes(const TableInfo *ti, const char *s, size_t j)
{
	return s[j] == '1' || (int) j == ti->soft;
}

/* The columns a row of signature s writes, quoted, comma-separated. */
static void
written_columns(Applier *a, const TableInfo *ti, const char *s)
{
	bool		first = true;

	for (size_t j = 0; j < ti->ncols; j++)
		if (writes(ti, s, j))
			sql_add(a, "%s%s", first ? "" : ", ", ti->qcols[j]), first = false;
}

/*
 * COPYs group g (rows the source inserted, signature s) straight into the
 * table: no staging table, no conflict check.  The source had no such keys,
 * so the target normally has none either; when one is there after all, false
 * with a->conflict set, and the caller writes the batch again by upsert.
 */
static bool
copy_direct(Applier *a, TableInfo *ti, Row *rows, size_t n, const int *group, int g, const char *s,
			char *err, size_t errlen)
{
	bool		ok;
	bool		bin = ti->binary && !a->text_only && (ti->soft < 0 || ti->bin[ti->soft] == COPYBIN_BOOL);
	int			nfields = 0;

	for (size_t j = 0; j < ti->ncols; j++)
		nfields += writes(ti, s, j);
	a->sql.len = 0;
	sql_add(a, "COPY %s (", ti->qname);
	written_columns(a, ti, s);
	sql_add(a, ") FROM STDIN%s", bin ? " (FORMAT binary)" : "");
	if (!copy_start(a, err, errlen))
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
			if (!writes(ti, s, j))
				continue;
			if (bin)
			{
				if ((int) j == ti->soft)
					copybin_bool(&a->copy, false);
				else if (!copybin_value(&a->copy, ti->bin[j], rows[r].e->image[map[j]]))
					return copy_end(a, true, err, errlen);
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
		copy_send(a, COPY_PIECE);
	}
	if (bin)
		copybin_end(&a->copy);
	ok = copy_end(a, false, err, errlen);
	if (!ok && !target_broken(a->target) && strcmp(a->target->state, "23505") == 0)
		a->conflict = true;		/* unique_violation: what the upsert resolves */
	return ok;
}

static void
key_match(Applier *a, TableInfo *ti)
{
	for (size_t k = 0; k < ti->nkeys; k++)
		sql_add(a, " AND t.%s = s.%s", ti->qcols[ti->keycols[k]], ti->qcols[ti->keycols[k]]);
}

/*
 * Rows that fail a validation rule: dead letters, removed from the stage.
 * A rule judges the row as it will be: a column a row does not have (an
 * unchanged TOASTed value) is the target's.
 */
static bool
validate(Applier *a, TableInfo *ti, Row *rows, char *err, size_t errlen)
{
	for (size_t k = 0; k < ti->nrules; k++)
	{
		PGresult   *res;

		a->sql.len = 0;
		if (!a->partial || ti->nkeys == 0)
			sql_add(a, "WITH bad AS (DELETE FROM pg_temp.%s WHERE __pgcdc_op <> 'd' AND (%s) IS NOT TRUE "
					"RETURNING __pgcdc_row) SELECT __pgcdc_row FROM bad ORDER BY 1", ti->stage, ti->rules[k]->expr);
		else
		{
			sql_add(a, "WITH bad AS (DELETE FROM pg_temp.%s x USING (SELECT __pgcdc_row FROM "
					"(SELECT s.__pgcdc_row, s.__pgcdc_op", ti->stage);
			for (size_t j = 0; j < ti->ncols; j++)
				sql_add(a, ", CASE WHEN substr(s.__pgcdc_sig, %zu, 1) = '1' THEN s.%s ELSE t.%s END AS %s",
						j + 1, ti->qcols[j], ti->qcols[j], ti->qcols[j]);
			sql_add(a, " FROM pg_temp.%s s LEFT JOIN %s t ON true", ti->stage, ti->qname);
			key_match(a, ti);
			sql_add(a, ") v WHERE __pgcdc_op <> 'd' AND (%s) IS NOT TRUE) b WHERE x.__pgcdc_row = b.__pgcdc_row "
					"RETURNING x.__pgcdc_row) SELECT __pgcdc_row FROM bad ORDER BY 1", ti->rules[k]->expr);
		}
		res = target_query(a->target, sql_text(a));
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			target_error(a->target, res, err, errlen);
			PQclear(res);
			return false;
		}
		for (int i = 0; i < PQntuples(res); i++)
		{
			char		reason[300];

			snprintf(reason, sizeof(reason), "validation rule \"%s\" failed", ti->rules[k]->name);
			dead(a, rows[atoi(PQgetvalue(res, i, 0))].e, reason, ti->rules[k]->expr);
		}
		PQclear(res);
	}
	return true;
}

static bool
run(Applier *a, char *err, size_t errlen)
{
	return target_exec(a->target, sql_text(a), err, errlen);
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

/* " AND __pgcdc_row IN (...)": group g's rows, when other groups share its op. */
static void
group_rows(Applier *a, const TableInfo *ti, const char *sig, size_t nsig, const int *group, size_t n, size_t g)
{
	char		op = sig[g * SIG_LEN(ti) + ti->ncols];
	size_t		same_op = 0;
	bool		first = true;

	for (size_t h = 0; h < nsig; h++)
		same_op += sig[h * SIG_LEN(ti) + ti->ncols] == op;
	if (same_op < 2)
		return;
	sql_add(a, " AND __pgcdc_row IN (");
	for (size_t r = 0; r < n; r++)
		if (group[r] == (int) g)
			sql_add(a, "%s%zu", first ? "" : ",", r), first = false;
	sql_add(a, ")");
}

/*
 * Group g of source updates (signature s) by UPDATE ... FROM the stage: the
 * rows are normally there, and an UPDATE costs the target a third less than
 * INSERT ... ON CONFLICT DO UPDATE, which locks each row before updating it.
 * *all says whether every row of the group was there.
 */
static bool
update_group(Applier *a, TableInfo *ti, const char *sig, size_t nsig, const int *group, size_t n, size_t g,
			 bool *all, char *err, size_t errlen)
{
	const char *s = sig + g * SIG_LEN(ti);
	bool		first = true;
	long		wanted = 0;
	long		done;

	a->sql.len = 0;
	sql_add(a, "UPDATE %s AS t SET ", ti->qname);
	for (size_t j = 0; j < ti->ncols; j++)
		if (writes(ti, s, j) && !is_key(ti, j))
			sql_add(a, "%s%s = %s%s", first ? "" : ", ", ti->qcols[j],
					(int) j == ti->soft ? "false" : "s.", (int) j == ti->soft ? "" : ti->qcols[j]),
				first = false;
	sql_add(a, " FROM pg_temp.%s s WHERE __pgcdc_op = 'u'", ti->stage);
	group_rows(a, ti, sig, nsig, group, n, g);
	key_match(a, ti);
	for (size_t r = 0; r < n; r++)
		wanted += group[r] == (int) g;
	if (!target_exec_rows(a->target, sql_text(a), &done, err, errlen))
		return false;
	*all = done == wanted;
	return true;
}

static bool
write_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, bool direct, char *err, size_t errlen)
{
	char	   *sig = malloc(n * SIG_LEN(ti) + 1);
	int		   *group = malloc(n * sizeof(int));
	size_t		nsig = 0;
	bool		ok = true;
	bool		any_delete = false;

	/* A half of a split batch went in before: its rows must not be written again with these. */
	if (a->staged == ti)
	{
		a->sql.len = 0;
		sql_add(a, "DELETE FROM pg_temp.%s", ti->stage);
		ok = run(a, err, errlen);
	}
	ok = ok && copy_rows(a, ti, rows, n, direct, sig, &nsig, group, err, errlen) &&
		validate(a, ti, rows, err, errlen);
	for (size_t r = 0; r < n; r++)
		any_delete |= rows[r].e->kind == EVENT_DELETE;
	if (ok && any_delete)
	{
		a->sql.len = 0;
		if (ti->soft >= 0)
		{
			/* A tombstone: the key marked deleted, even when the row was never applied. */
			sql_add(a, "INSERT INTO %s AS t (", ti->qname);
			for (size_t k = 0; k < ti->nkeys; k++)
				sql_add(a, "%s, ", ti->qcols[ti->keycols[k]]);
			sql_add(a, "%s) SELECT ", ti->qcols[ti->soft]);
			for (size_t k = 0; k < ti->nkeys; k++)
				sql_add(a, "%s, ", ti->qcols[ti->keycols[k]]);
			sql_add(a, "true FROM pg_temp.%s WHERE __pgcdc_op = 'd' ON CONFLICT (", ti->stage);
			for (size_t k = 0; k < ti->nkeys; k++)
				sql_add(a, "%s%s", k ? ", " : "", ti->qcols[ti->keycols[k]]);
			sql_add(a, ") DO UPDATE SET %s = true", ti->qcols[ti->soft]);
		}
		else
		{
			sql_add(a, "DELETE FROM %s t USING pg_temp.%s s WHERE s.__pgcdc_op = 'd'", ti->qname, ti->stage);
			key_match(a, ti);
		}
		ok = run(a, err, errlen);
	}
	for (size_t g = 0; g < nsig && ok; g++)
	{
		const char *s = sig + g * SIG_LEN(ti);
		char		op = s[ti->ncols];
		bool		first = true;
		size_t		updates = 0;
		bool		updated = false;	/* every row there was updated: the rest are new */

		if (direct && op == 'i')
		{
			ok = copy_direct(a, ti, rows, n, group, (int) g, s, err, errlen);
			continue;
		}
		for (size_t j = 0; j < ti->ncols; j++)
			updates += writes(ti, s, j) && !is_key(ti, j);
		if (op == 'u' && ti->nkeys > 0 && updates > 0)
		{
			bool		all;

			if (!(ok = update_group(a, ti, sig, nsig, group, n, g, &all, err, errlen)) || all)
				continue;
			updated = true;
		}

		a->sql.len = 0;
		sql_add(a, "INSERT INTO %s AS t (", ti->qname);
		written_columns(a, ti, s);
		sql_add(a, ") SELECT ");
		for (size_t j = 0; j < ti->ncols; j++)
			if (writes(ti, s, j))
				sql_add(a, "%s%s", first ? "" : ", ", (int) j == ti->soft ? "false" : ti->qcols[j]),
					first = false;
		sql_add(a, " FROM pg_temp.%s WHERE __pgcdc_op = '%c'", ti->stage, op);
		group_rows(a, ti, sig, nsig, group, n, g);
		if (ti->nkeys > 0)
		{
			sql_add(a, " ON CONFLICT (");
			for (size_t k = 0; k < ti->nkeys; k++)
				sql_add(a, "%s%s", k ? ", " : "", ti->qcols[ti->keycols[k]]);
			sql_add(a, ") DO ");
			first = true;
			for (size_t j = 0; j < ti->ncols && !updated; j++)
				if (writes(ti, s, j) && !is_key(ti, j))
					sql_add(a, "%s%s = EXCLUDED.%s", first ? "UPDATE SET " : ", ", ti->qcols[j], ti->qcols[j]),
						first = false;
			if (first)
				sql_add(a, "NOTHING");	/* nothing but the key, or the rows there are updated */
		}
		ok = run(a, err, errlen);
	}
	free(sig);
	free(group);
	return ok;
}

/* rows[0..n) in a savepoint; on rejection, each half again; a lone row is a dead letter. */
static bool
apply_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen)
{
	char		why[1024];
	size_t		mark = a->ndead;

	if (n == 0)
		return true;
	/* Rows the source inserted go straight in, unless rules must see them first or a key was there. */
	for (bool direct = ti->nrules == 0 && ti->nkeys > 0;;)
	{
		if (!target_defer(a->target, "SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		a->conflict = a->text_again = false;
		if (write_rows(a, ti, rows, n, direct, why, sizeof(why)))
		{
			if (!target_defer(a->target, "RELEASE SAVEPOINT pgcdc_rows", err, errlen))
				return false;
			a->staged = ti;
			a->n_applied += (int64_t) (n - (a->ndead - mark));	/* less those a rule refused */
			ti->batch_applied += (int64_t) (n - (a->ndead - mark));
			return true;
		}
		dead_forget(a, mark);
		if (target_broken(a->target))
			return snprintf(err, errlen, "%s", why), false;
		if (!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_rows; RELEASE SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		if (a->text_again && !a->text_only)
			a->text_only = true;	/* the same rows again, in text, and the batch's rest */
		else if (a->conflict && direct)
			direct = false;
		else
			break;
	}
	if (n == 1)
		return dead(a, rows[0].e, "rejected by the target", why), true;
	return apply_rows(a, ti, rows, n / 2, err, errlen) &&
		apply_rows(a, ti, rows + n / 2, n - n / 2, err, errlen);
}

static int
row_cmp(const void *x, const void *y)
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
static size_t
dedupe(Row *rows, size_t n)
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
	sql_add(a, "COPY pg_temp.%s (__pgcdc_row, __pgcdc_op", ti->stage);
	for (size_t c = 0; c < ti->nkeys; c++)
		sql_add(a, ", %s", ti->qcols[ti->keycols[c]]);
	sql_add(a, ") FROM STDIN");
	if (!target_defer(a->target, "SAVEPOINT pgcdc_moves", err, errlen))
		return free(col), false;
	ok = copy_start(a, why, sizeof(why));
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
		copy_send(a, COPY_PIECE);
	}
	ok = ok && copy_end(a, false, why, sizeof(why));
	if (ok)
	{
		a->sql.len = 0;
		sql_add(a, "WITH s AS (DELETE FROM pg_temp.%s WHERE __pgcdc_op = 'm' RETURNING *) "
				"SELECT s.__pgcdc_row", ti->stage);
		for (int c = 1; c <= ncol; c++)
			for (size_t j = 0; j < ti->ncols; j++)
				if (col[j] == c)
					sql_add(a, ", t.%s::text", ti->qcols[j]);
		sql_add(a, " FROM s JOIN %s t ON true", ti->qname);
		key_match(a, ti);
		res = target_query(a->target, sql_text(a));
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
static bool
resolve_moves(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen)
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

/* The table's truncate mark, loaded once per connection. */
static bool
trunc_mark(Applier *a, TableInfo *ti, char *err, size_t errlen)
{
	if (ti->trunc_known)
		return true;
	if (!target_truncate_mark(a->target, ti->name, &ti->trunc_mark, &ti->has_trunc_mark, err, errlen))
		return false;
	ti->trunc_known = true;
	return true;
}

static bool
apply_truncate(Applier *a, Event *e, char *err, size_t errlen)
{
	if (a->settings->truncate_mode == TRUNCATE_IGNORE)
		return a->n_ignored++, true;
	if (a->settings->truncate_mode == TRUNCATE_DEAD_LETTER)
		return dead(a, e, "truncate (truncate.mode is dead-letter)", NULL), true;
	for (size_t i = 0; i < e->rec->n_truncated; i++)
	{
		const Pgcdc__RelationRef *ref = e->rec->truncated[i];
		TableInfo  *ti = tables_get(a->tables, ref->schema, ref->table);
		char		sql[512];
		bool		exists;

		if (!trunc_mark(a, ti, err, errlen))
			return false;
		/* Every partition carries a copy: the first one applies it. */
		if (ti->has_trunc_mark && position_cmp(&e->pos, &ti->trunc_mark) <= 0)
			continue;
		if (!tables_load(a->tables, ti, &exists, err, errlen))
			return false;
		if (exists)
		{
			char		why[1024];
			char		reason[300];

			/* The target may refuse (a foreign key points at the table): a dead letter, no mark. */
			snprintf(sql, sizeof(sql), "SAVEPOINT pgcdc_truncate; TRUNCATE %s", ti->qname);
			if (!target_exec(a->target, sql, why, sizeof(why)))
			{
				if (target_broken(a->target))
					return snprintf(err, errlen, "%s", why), false;
				if (!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_truncate", err, errlen))
					return false;
				snprintf(reason, sizeof(reason), "truncate of %s rejected by the target", ti->name);
				dead(a, e, reason, why);
				continue;
			}
			if (!target_exec(a->target, "RELEASE SAVEPOINT pgcdc_truncate", err, errlen))
				return false;
			log_msg(LOG_INFO, "truncated %s", ti->qname);
		}
		if (!target_set_truncate_mark(a->target, ti->name, &e->pos, err, errlen))
			return false;
		ti->trunc_mark = e->pos;
		ti->has_trunc_mark = true;
	}
	return true;
}

/* Which events of the batch are new: the rest are skipped or ignored. */
static bool
admit(Applier *a, Event *e, PartState *st, char *err, size_t errlen)
{
	if (e->held)
		return false;			/* consumed again from its offset: see moves.h */
	st->offset = e->msg->offset;
	st->touched = true;
	switch (e->kind)
	{
		case EVENT_IGNORE:
			a->n_ignored++;
			return false;
		case EVENT_BAD:
			return false;
		default:
			break;
	}
	if (e->snapshot)
	{
		/* Snapshot rows share one position; only an older snapshot is stale. */
		if (st->has_pos && e->pos.lsn < st->pos.lsn)
			return a->n_skipped[SKIP_APPLIED]++, false;
		return true;
	}
	if (st->has_pos && position_cmp(&e->pos, &st->pos) <= 0)
		return a->n_skipped[SKIP_APPLIED]++, false;
	st->pos = e->pos;
	st->has_pos = true;
	return true;
}

/*
 * Makes ti ready for e, any DDL in a savepoint: 1; 0 when e became a dead
 * letter instead; -1 when the target failed (err).
 */
static int
prepare_table(Applier *a, TableInfo *ti, Event *e, char *err, size_t errlen)
{
	char		reason[512];

	/* A table already prepared costs no round trip. */
	if (tables_ready(ti, e))
		return 1;
	if (!target_exec(a->target, "SAVEPOINT pgcdc_prepare", err, errlen))
		return -1;
	if (tables_prepare(a->tables, ti, e, reason, sizeof(reason), err, errlen))
		return target_exec(a->target, "RELEASE SAVEPOINT pgcdc_prepare", err, errlen) ? 1 : -1;
	if (target_broken(a->target) ||
		!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_prepare; RELEASE SAVEPOINT pgcdc_prepare",
					 err, errlen))
		return -1;
	/* What the savepoint changed is undone: ti is loaded afresh when next needed. */
	tables_forget(a->tables, ti);
	dead(a, e, reason[0] ? reason : "cannot prepare the target table", err[0] ? err : NULL);
	err[0] = '\0';
	return 0;
}

/* Prepares each event's table; dead-letters those it cannot take. */
static bool
prepare(Applier *a, Row *rows, size_t *n, char *err, size_t errlen)
{
	size_t		out = 0;
	bool		forgot = false;
	int			ready;

	for (size_t i = 0; i < *n; i++)
	{
		TableInfo  *ti = rows[i].ti;
		Event	   *e = rows[i].e;

		if (!trunc_mark(a, ti, err, errlen))
			return false;
		if (ti->has_trunc_mark && (e->snapshot ? e->pos.lsn < ti->trunc_mark.lsn :
								   position_cmp(&e->pos, &ti->trunc_mark) < 0))
		{
			a->n_skipped[SKIP_TRUNCATED]++;	/* before a truncate already applied */
			continue;
		}
		if ((ready = prepare_table(a, ti, e, err, errlen)) < 0)
			return false;
		if (ready == 0)
		{
			forgot = true;
			continue;
		}
		if (e->kind == EVENT_DELETE && ti->nkeys == 0)
			dead(a, e, "delete on a target table without a key", NULL);
		else
			rows[out++] = rows[i];
	}
	*n = out;
	if (!forgot)
		return true;
	/* A table forgotten after a failure is prepared again for the rows before it, which it took. */
	out = 0;
	for (size_t i = 0; i < *n; i++)
	{
		if ((ready = prepare_table(a, rows[i].ti, rows[i].e, err, errlen)) < 0)
			return false;
		if (ready == 1)
			rows[out++] = rows[i];
	}
	*n = out;
	return true;
}

static int
by_table(const void *x, const void *y)
{
	const TableInfo *a = ((const Row *) x)->ti;
	const TableInfo *b = ((const Row *) y)->ti;

	return a == b ? 0 : a < b ? -1 : 1;
}

bool
applier_apply(Applier *a, Event *events, PartState **states, size_t n, char *err, size_t errlen)
{
	Row		   *rows = malloc((n + 1) * sizeof(Row));
	size_t		nrows = 0;
	PartState **touched = malloc((n + 1) * sizeof(PartState *));
	size_t		ntouched = 0;
	bool		ok = target_defer(a->target, "BEGIN", err, errlen) &&
		moves_plan(a->moves, a->target, events, states, n, a->settings->key_change_wait_ms,
				   arena_allocator(a->scratch), err, errlen);

	for (size_t i = 0; i < n && ok; i++)
	{
		Event	   *e = &events[i];

		if (!admit(a, e, states[i], err, errlen))
		{
			if (e->kind == EVENT_BAD)
				dead(a, e, e->reason, NULL);
			continue;
		}
		if (e->kind == EVENT_TRUNCATE)
		{
			/* Now: this batch's rows from before it are then skipped by its mark (prepare). */
			ok = apply_truncate(a, e, err, errlen);
			continue;
		}
		rows[nrows++] = (Row) {e, tables_get(a->tables, e->rec->schema, e->rec->table)};
	}
	ok = ok && prepare(a, rows, &nrows, err, errlen);
	qsort(rows, nrows, sizeof(Row), by_table);
	for (size_t i = 0; i < nrows && ok;)
	{
		TableInfo  *ti = rows[i].ti;
		size_t		j = i;
		size_t		m;

		while (j < nrows && rows[j].ti == ti)
			j++;
		m = j - i;
		ok = tables_stage(a->tables, ti, err, errlen);
		if (ok && ti->nkeys > 0)
		{
			qsort(rows + i, j - i, sizeof(Row), row_cmp);
			ok = resolve_moves(a, ti, rows + i, j - i, err, errlen);
			m = dedupe(rows + i, j - i);
		}
		a->n_skipped[SKIP_SUPERSEDED] += (int64_t) (j - i - m);
		ok = ok && apply_rows(a, ti, rows + i, m, err, errlen);
		i = j;
	}
	/* Each partition's position once (states has one entry per event). */
	for (size_t i = 0; i < n; i++)
	{
		if (states[i]->touched)
			touched[ntouched++] = states[i];
		states[i]->touched = false;
	}
	ok = ok && moves_finish(a->moves, a->target, arena_allocator(a->scratch), err, errlen);
	/* Dead letters: on the topic, acknowledged, before their events are committed as done. */
	ok = ok && dead_write(a, err, errlen);
	ok = ok && target_commit(a->target, touched, ntouched, err, errlen);
	if (ok)
	{
		metrics_add(a->m_batches, 1);
		metrics_add(a->m_applied, a->n_applied);
		for (int r = 0; r < SKIP_REASONS; r++)
			metrics_add(a->m_skipped[r], a->n_skipped[r]);
		metrics_add(a->m_ignored, a->n_ignored);
		metrics_add(a->m_dead, a->n_dead);
	}
	for (size_t i = 0; i < nrows; i++)
	{
		TableInfo  *ti = rows[i].ti;
		const char *labels[] = {"table", ti->name, NULL};

		if (ok && ti->batch_applied > 0 && ti->m_applied == NULL)
			ti->m_applied = metrics_cell(a->metrics, "walsink_table_applied_total", METRIC_COUNTER,
										 "Row changes applied, per target table", labels);
		if (ok && ti->batch_applied > 0)
			metrics_add(ti->m_applied, ti->batch_applied);
		ti->batch_applied = 0;
	}
	dead_forget(a, 0);
	arena_reset(a->scratch);
	a->staged = NULL;
	a->text_only = false;
	a->n_applied = a->n_ignored = a->n_dead = 0;
	memset(a->n_skipped, 0, sizeof(a->n_skipped));
	free(rows);
	free(touched);
	return ok;
}
