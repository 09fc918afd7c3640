/*
 * apply.c — a batch into the target, in one transaction: the plan admits
 * and orders its events; per table, the rows are staged by COPY, checked by
 * the rules and written by the statements, a rejected statement retried on
 * halves down to the single row, which becomes a dead letter; then the dead
 * letters, the key changes' values for later batches, the positions and
 * COMMIT.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "applyfull.h"
#include "arena.h"
#include "deadletters.h"
#include "dedupe.h"
#include "keychange.h"
#include "log.h"
#include "plan.h"
#include "rowcopy.h"
#include "rules.h"
#include "snaprange.h"
#include "stmt.h"
#include "topicroute.h"
#include "truncmarks.h"
#include "xalloc.h"

struct Applier
{
	const Settings *settings;
	Metrics    *metrics;
	Target	   *target;
	Tables	   *tables;
	DeadTopic  *dead_topic;
	Plan		plan;			/* its counts are the open batch's */
	DeadLetters dead;			/* this batch's, written just before COMMIT */
	KeyChanges *keychanges;
	RowCopy		copy;
	Buf			sql;
	Arena	   *scratch;		/* values made for this batch */
	bool		text_only;		/* this batch's COPYs go in text: binary could not carry a value */
	TableInfo  *staged;			/* its staging table holds rows a statement of this batch wrote */
	int64_t		n_applied;		/* this batch's, added to the metrics once it is committed */
	MetricCell *m_applied;
	MetricCell *m_skipped[SKIP_REASONS];
	MetricCell *m_ignored;
	MetricCell *m_removed;
	MetricCell *m_ranges[RANGE_SKIPPED + 1];
	int64_t		n_removed;		/* this batch's, added to the metrics once it is committed */
	int64_t		n_ranges[RANGE_SKIPPED + 1];
	MetricCell *m_dead;
	MetricCell *m_batches;
};

/* Top down: the batch, its parts, a table's rows, their statements. */
static bool admit_all(Applier *a, Event *events, PartState **states, size_t n, Row *rows, size_t *nrows,
					  char *err, size_t errlen);
static bool apply_truncate(Applier *a, Event *e, char *err, size_t errlen);
static bool apply_range(Applier *a, Event *e, char *err, size_t errlen);
static bool truncate_table(Applier *a, Event *e, const Pgcdc__RelationRef *ref, char *err, size_t errlen);
static bool apply_part(Applier *a, Row *rows, size_t n, char *err, size_t errlen);
static bool apply_keyless(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen);
static bool apply_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen);
static CopyResult write_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, bool direct, Shapes *sh,
							 char *err, size_t errlen);
static CopyResult write_shape(Applier *a, TableInfo *ti, Row *rows, bool direct, const Shapes *sh, size_t g,
							  char *err, size_t errlen);
static bool run(Applier *a, char *err, size_t errlen);
static void count(Applier *a, Row *rows, size_t nrows, bool committed);

static const char *const skip_reasons[SKIP_REASONS] = {"applied", "dead_letter", "superseded", "truncated"};
static const char *const range_outcomes[RANGE_SKIPPED + 1] = {"applied", "already", "no_table", "skipped"};

Applier *
applier_new(const Settings *s, Metrics *m, DeadTopic *dead)
{
	Applier    *a = xcalloc(1, sizeof(Applier));

	a->settings = s;
	a->metrics = m;
	a->dead_topic = dead;
	a->plan.settings = s;
	a->plan.dead = &a->dead;
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
	a->m_removed = metrics_cell(m, "walsink_snapshot_removed_total", METRIC_COUNTER,
								"Target rows a snapshot's chunks showed the source no longer had, deleted", NULL);
	for (int r = 0; r <= RANGE_SKIPPED; r++)
	{
		const char *labels[] = {"outcome", range_outcomes[r], NULL};

		a->m_ranges[r] = metrics_cell(m, "walsink_snapshot_ranges_total", METRIC_COUNTER,
									  "Snapshot chunks' ranges, by what came of them: applied, already applied "
									  "by another copy, no target table, or skipped (logged: no matching "
									  "collation, rejected by the target)", labels);
	}
	a->m_dead = metrics_cell(m, "walsink_dead_letters_total", METRIC_COUNTER,
							 "Events written to the dead-letter table", NULL);
	a->m_batches = metrics_cell(m, "walsink_batches_total", METRIC_COUNTER,
								"Target transactions committed", NULL);
	a->keychanges = keychange_new(m);
	a->scratch = arena_new();
	return a;
}

void
applier_free(Applier *a)
{
	if (a == NULL)
		return;
	tables_free(a->tables);
	keychange_free(a->keychanges);
	arena_free(a->scratch);
	deadletters_free(&a->dead);
	rowcopy_free(&a->copy);
	buf_free(&a->sql);
	free(a);
}

void
applier_attach(Applier *a, Target *t)
{
	a->target = a->plan.target = a->copy.target = t;
	if (a->tables == NULL)
		a->tables = tables_new(t, a->settings);
	else
		tables_reset(a->tables, t);
	a->plan.tables = a->tables;
}

bool
applier_apply(Applier *a, Event *events, PartState **states, size_t n, char *err, size_t errlen)
{
	Row		   *rows = xmalloc((n + 1) * sizeof(Row));
	size_t		nrows = 0;
	PartState **touched = xmalloc((n + 1) * sizeof(PartState *));
	size_t		ntouched = 0;
	bool		ok;

	a->plan.fatal = false;
	ok = target_defer(a->target, "BEGIN", err, errlen) &&
		keychange_plan(a->keychanges, a->target, events, states, n, a->settings->key_change_wait_ms,
					   arena_allocator(a->scratch), err, errlen) &&
		admit_all(a, events, states, n, rows, &nrows, err, errlen);
	/* In parts, cut where a table's source key changed. */
	for (size_t next = 0, done = 0; ok && next < nrows;)
	{
		size_t		kept,
					used;

		ok = plan_prepare(&a->plan, rows + next, nrows - next, &kept, &used, err, errlen);
		memmove(rows + done, rows + next, kept * sizeof(Row));
		ok = ok && apply_part(a, rows + done, kept, err, errlen);
		done += kept;
		next += used;
		if (next == nrows || !ok)
			nrows = done;
	}
	plan_advance(events, states, n);
	/* Each partition's position once (states has one entry per event). */
	for (size_t i = 0; i < n; i++)
	{
		if (states[i]->touched)
			touched[ntouched++] = states[i];
		states[i]->touched = false;
	}
	ok = ok && keychange_finish(a->keychanges, a->target, arena_allocator(a->scratch), err, errlen);
	/* Dead letters: on the topic, acknowledged, before their events are committed as done. */
	ok = ok && deadletters_write(&a->dead, a->target, a->dead_topic, err, errlen);
	ok = ok && positions_commit(a->target, touched, ntouched, err, errlen);
	count(a, rows, nrows, ok);
	deadletters_reset(&a->dead);
	arena_reset(a->scratch);
	a->staged = NULL;
	a->text_only = false;
	free(rows);
	free(touched);
	return ok;
}

bool
applier_fatal(const Applier *a)
{
	return a->plan.fatal;
}

/* The admitted events as rows, truncates applied on the way; *nrows of them. */
static bool
admit_all(Applier *a, Event *events, PartState **states, size_t n, Row *rows, size_t *nrows,
		  char *err, size_t errlen)
{
	*nrows = 0;
	for (size_t i = 0; i < n; i++)
	{
		Event	   *e = &events[i];
		int			admitted = plan_admit(&a->plan, e, states[i], err, errlen);

		if (admitted < 0)
			return false;
		if (admitted == 0)
			continue;
		/* A truncate now: this batch's rows from before it are then skipped by its mark (plan_prepare). */
		if (e->kind == EVENT_TRUNCATE && !apply_truncate(a, e, err, errlen))
			return false;
		/* A range before the batch's rows: none of them is deleted by it (snaprange.h). */
		if (e->kind == EVENT_RANGE && !apply_range(a, e, err, errlen))
			return false;
		if (e->kind != EVENT_TRUNCATE && e->kind != EVENT_RANGE)
			rows[(*nrows)++] = (Row) {e, tables_get(a->tables, e->rec->schema, e->rec->table)};
	}
	return true;
}

static bool
apply_truncate(Applier *a, Event *e, char *err, size_t errlen)
{
	if (a->settings->truncate_mode == TRUNCATE_IGNORE)
	{
		a->plan.n_ignored++;
		return true;
	}
	if (a->settings->truncate_mode == TRUNCATE_DEAD_LETTER)
	{
		deadletters_add(&a->dead, e, "truncate (truncate.mode is dead-letter)", NULL);
		return true;
	}
	for (size_t i = 0; i < e->rec->n_truncated; i++)
	{
		const Pgcdc__RelationRef *ref = e->rec->truncated[i];

		/* Each table's topic carries a copy of the record: this one applies its own tables (bound). */
		if (topicroute_matches(a->settings->route, rd_kafka_topic_name(e->msg->rkt), a->settings->topic_prefix,
							   ref->schema, ref->table) && !truncate_table(a, e, ref, err, errlen))
			return false;
	}
	return true;
}

static bool
apply_range(Applier *a, Event *e, char *err, size_t errlen)
{
	TableInfo  *ti = tables_get(a->tables, e->rec->schema, e->rec->table);
	RangeOutcome outcome;
	long		removed;
	char		why[1024];

	if (!snaprange_apply(a->target, a->tables, ti, e, &outcome, &removed, why, sizeof(why), err, errlen))
		return false;
	a->n_ranges[outcome]++;
	a->n_removed += removed;
	if (outcome == RANGE_SKIPPED)
		log_msg(LOG_WARNING, "snapshot range of %s at " LSN_FMT " not applied, rows the source deleted "
				"before its snapshot may remain: %s", ti->name, LSN_ARGS(e->pos.lsn), why);
	else if (removed > 0)
		log_msg(LOG_INFO, "snapshot of %s: %ld row(s) the source no longer had deleted", ti->name, removed);
	return true;
}

/* One table of a truncate, unless its mark says a copy of the truncate applied it. */
static bool
truncate_table(Applier *a, Event *e, const Pgcdc__RelationRef *ref, char *err, size_t errlen)
{
	TableInfo  *ti = tables_get(a->tables, ref->schema, ref->table);
	char		sql[512];
	char		why[1024];
	char		reason[300];
	bool		exists;

	if (!truncmarks_load(a->target, ti, err, errlen))
		return false;
	/* Every partition carries a copy: the first one applies it. */
	if (ti->has_trunc_mark && position_cmp(&e->pos, &ti->trunc_mark) <= 0)
		return true;
	if (!tables_load(a->tables, ti, &exists, err, errlen))
		return false;
	if (exists)
	{
		/* The target may refuse (a foreign key points at the table): a dead letter, no mark. */
		snprintf(sql, sizeof(sql), "SAVEPOINT pgcdc_truncate; TRUNCATE %s", ti->qname);
		if (!target_exec(a->target, sql, why, sizeof(why)))
		{
			if (target_broken(a->target))
			{
				snprintf(err, errlen, "%s", why);
				return false;
			}
			if (!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_truncate", err, errlen))
				return false;
			snprintf(reason, sizeof(reason), "truncate of %s rejected by the target", ti->name);
			deadletters_add(&a->dead, e, reason, why);
			return true;
		}
		if (!target_exec(a->target, "RELEASE SAVEPOINT pgcdc_truncate", err, errlen))
			return false;
		log_msg(LOG_INFO, "truncated %s", ti->qname);
	}
	if (!truncmarks_set(a->target, ti->name, &e->pos, err, errlen))
		return false;
	ti->trunc_mark = e->pos;
	ti->has_trunc_mark = true;
	return true;
}

/* Prepared rows[0..n): per table, the last change of each key, written. */
static bool
apply_part(Applier *a, Row *rows, size_t n, char *err, size_t errlen)
{
	bool		ok = true;

	qsort(rows, n, sizeof(Row), plan_by_table);
	for (size_t i = 0; i < n && ok;)
	{
		TableInfo  *ti = rows[i].ti;
		size_t		j = i;
		size_t		m;

		while (j < n && rows[j].ti == ti)
			j++;
		m = j - i;
		ok = tables_stage(a->tables, ti, err, errlen);
		if (ok && ti->nkeys > 0)
		{
			qsort(rows + i, j - i, sizeof(Row), dedupe_cmp);
			ok = keychange_resolve(a->keychanges, &a->copy, &a->sql, ti, rows + i, j - i,
								   arena_allocator(a->scratch), err, errlen);
			m = dedupe_rows(rows + i, j - i);
		}
		a->plan.n_skipped[SKIP_SUPERSEDED] += (int64_t) (j - i - m);
		if (ok && ti->nkeys == 0 && applyfull_needed(rows + i, m))
			ok = apply_keyless(a, ti, rows + i, m, err, errlen);
		else
			ok = ok && apply_rows(a, ti, rows + i, m, err, errlen);
		i = j;
	}
	return ok;
}

/* rows[0..n) of ti, a table without a key, some matched on their old row (applyfull.h). */
static bool
apply_keyless(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen)
{
	int64_t		applied;
	bool		ok;

	/* Rows an earlier statement of this batch staged would be taken for these. */
	if (a->staged == ti)
	{
		a->sql.len = 0;
		stmt_clear_stage(&a->sql, ti);
		if (!run(a, err, errlen))
			return false;
		a->staged = NULL;
	}
	ok = applyfull_rows(&a->copy, &a->sql, &a->dead, ti, rows, n, &applied, err, errlen);
	a->n_applied += applied;
	if (ok)
		a->staged = ti;
	return ok;
}

/* rows[0..n) in a savepoint; on rejection, each half again; a lone row is a dead letter. */
static bool
apply_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen)
{
	char		why[1024];
	size_t		mark = a->dead.n;
	CopyResult	res;

	if (n == 0)
		return true;
	/* Rows the source inserted go straight in, unless rules must see them first or a key was there. */
	for (bool direct = ti->nrules == 0 && ti->nkeys > 0;;)
	{
		Shapes		sh;

		if (!target_defer(a->target, "SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		stmt_shapes_init(&sh, ti, n);
		res = write_rows(a, ti, rows, n, direct, &sh, why, sizeof(why));
		stmt_shapes_free(&sh);
		if (res == COPY_OK)
		{
			if (!target_defer(a->target, "RELEASE SAVEPOINT pgcdc_rows", err, errlen))
				return false;
			a->staged = ti;
			a->n_applied += (int64_t) (n - (a->dead.n - mark));	/* less those a rule refused */
			ti->batch_applied += (int64_t) (n - (a->dead.n - mark));
			return true;
		}
		deadletters_forget(&a->dead, mark);
		if (target_broken(a->target))
		{
			snprintf(err, errlen, "%s", why);
			return false;
		}
		if (!target_exec(a->target, "ROLLBACK TO SAVEPOINT pgcdc_rows; RELEASE SAVEPOINT pgcdc_rows", err, errlen))
			return false;
		if (res == COPY_NEEDS_TEXT && !a->text_only)
			a->text_only = true;	/* the same rows again, in text, and the batch's rest */
		else if (res == COPY_KEY_CONFLICT && direct)
			direct = false;
		else
			break;
	}
	if (n == 1)
	{
		deadletters_add(&a->dead, rows[0].e, "rejected by the target", why);
		return true;
	}
	return apply_rows(a, ti, rows, n / 2, err, errlen) &&
		apply_rows(a, ti, rows + n / 2, n - n / 2, err, errlen);
}

/* rows[0..n) of ti: staged, checked by the rules, deleted, written shape by shape. */
static CopyResult
write_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, bool direct, Shapes *sh, char *err, size_t errlen)
{
	CopyResult	res;
	bool		any_delete = false;

	/* A half of a split batch went in before: its rows must not be written again with these. */
	if (a->staged == ti)
	{
		a->sql.len = 0;
		stmt_clear_stage(&a->sql, ti);
		if (!run(a, err, errlen))
			return COPY_FAILED;
	}
	if ((res = rowcopy_stage(&a->copy, &a->sql, ti, rows, n, direct, a->text_only, sh, err, errlen)) != COPY_OK)
		return res;
	if (!rules_check(a->target, &a->sql, ti, rows, sh, &a->dead, err, errlen))
		return COPY_FAILED;
	for (size_t r = 0; r < n; r++)
		any_delete |= rows[r].e->kind == EVENT_DELETE;
	if (any_delete)
	{
		a->sql.len = 0;
		stmt_delete(&a->sql, ti);
		if (!run(a, err, errlen))
			return COPY_FAILED;
	}
	for (size_t g = 0; g < sh->nsig; g++)
		if ((res = write_shape(a, ti, rows, direct, sh, g, err, errlen)) != COPY_OK)
			return res;
	return COPY_OK;
}

/*
 * Shape g of the staged rows: source inserts straight in (direct), source
 * updates by UPDATE ... FROM the stage, the rest (and updates not there) by
 * upsert.
 */
static CopyResult
write_shape(Applier *a, TableInfo *ti, Row *rows, bool direct, const Shapes *sh, size_t g,
			char *err, size_t errlen)
{
	const char *s = sh->sig + g * SIG_LEN(ti);
	char		op = s[ti->ncols];
	bool		updated = false;	/* every row there was updated: the rest are new */

	if (direct && op == 'i')
		return rowcopy_direct(&a->copy, &a->sql, ti, rows, sh, g, a->text_only, err, errlen);
	if (op == 'u' && ti->nkeys > 0 && stmt_updates(ti, s) > 0)
	{
		long		wanted = 0;
		long		done;

		a->sql.len = 0;
		stmt_update(&a->sql, ti, sh, g);
		for (size_t r = 0; r < sh->nrows; r++)
			wanted += sh->group[r] == (int) g;
		if (!target_exec_rows(a->target, stmt_text(&a->sql), &done, err, errlen))
			return COPY_FAILED;
		if (done == wanted)
			return COPY_OK;
		updated = true;
	}
	a->sql.len = 0;
	stmt_upsert(&a->sql, ti, sh, g, updated);
	return run(a, err, errlen) ? COPY_OK : COPY_FAILED;
}

/* The statement in a->sql. */
static bool
run(Applier *a, char *err, size_t errlen)
{
	return target_exec(a->target, stmt_text(&a->sql), err, errlen);
}

/* The batch's counts into the metrics, once it is committed. */
static void
count(Applier *a, Row *rows, size_t nrows, bool committed)
{
	if (committed)
	{
		metrics_add(a->m_batches, 1);
		metrics_add(a->m_applied, a->n_applied);
		a->plan.n_skipped[SKIP_DEAD_LETTER] += a->dead.n_again;
		for (int r = 0; r < SKIP_REASONS; r++)
			metrics_add(a->m_skipped[r], a->plan.n_skipped[r]);
		metrics_add(a->m_ignored, a->plan.n_ignored);
		metrics_add(a->m_dead, a->dead.n_written);
		metrics_add(a->m_removed, a->n_removed);
		for (int r = 0; r <= RANGE_SKIPPED; r++)
			metrics_add(a->m_ranges[r], a->n_ranges[r]);
	}
	for (size_t i = 0; i < nrows; i++)
	{
		TableInfo  *ti = rows[i].ti;
		const char *labels[] = {"table", ti->name, NULL};

		if (committed && ti->batch_applied > 0 && ti->m_applied == NULL)
			ti->m_applied = metrics_cell(a->metrics, "walsink_table_applied_total", METRIC_COUNTER,
										 "Row changes applied, per target table", labels);
		if (committed && ti->batch_applied > 0)
			metrics_add(ti->m_applied, ti->batch_applied);
		ti->batch_applied = 0;
	}
	a->n_applied = a->plan.n_ignored = a->n_removed = 0;
	memset(a->plan.n_skipped, 0, sizeof(a->plan.n_skipped));
	memset(a->n_ranges, 0, sizeof(a->n_ranges));
}
