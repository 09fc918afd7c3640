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

#include "applier.h"
#include "arena.h"
#include "copytext.h"
#include "deadtable.h"
#include "log.h"
#include "moves.h"
#include "positions.h"
#include "tables.h"
#include "topicname.h"
#include "truncmarks.h"

static const char *const skip_reasons[SKIP_REASONS] = {"applied", "dead_letter", "superseded", "truncated"};

/* Notes e as a dead letter of this batch; a savepoint rolled back takes its notes along (apply_dead_forget). */
void
apply_dead(Applier *a, Event *e, const char *reason, const char *detail)
{
	e->dead = true;
	if (a->ndead == a->dead_cap)
	{
		a->dead_cap = a->dead_cap ? 2 * a->dead_cap : 16;
		a->dead = realloc(a->dead, a->dead_cap * sizeof(DeadLetter));
	}
	a->dead[a->ndead++] = (DeadLetter) {e, strdup(reason), detail ? strdup(detail) : NULL};
}

void
apply_dead_forget(Applier *a, size_t keep)
{
	while (a->ndead > keep)
	{
		a->ndead--;
		a->dead[a->ndead].e->dead = false;
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
	apply_dead_forget(a, 0);
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
void
apply_sql(Applier *a, const char *fmt,...)
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

const char *
apply_sql_text(Applier *a)
{
	buf_putc(&a->sql, '\0');
	a->sql.len--;
	return a->sql.data;
}

void
apply_key_match(Applier *a, TableInfo *ti)
{
	for (size_t k = 0; k < ti->nkeys; k++)
		apply_sql(a, " AND t.%s = s.%s", ti->qcols[ti->keycols[k]], ti->qcols[ti->keycols[k]]);
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
			apply_sql(a, "WITH bad AS (DELETE FROM pg_temp.%s WHERE __pgcdc_op <> 'd' AND (%s) IS NOT TRUE "
					"RETURNING __pgcdc_row) SELECT __pgcdc_row FROM bad ORDER BY 1", ti->stage, ti->rules[k]->expr);
		else
		{
			apply_sql(a, "WITH bad AS (DELETE FROM pg_temp.%s x USING (SELECT __pgcdc_row FROM "
					"(SELECT s.__pgcdc_row, s.__pgcdc_op", ti->stage);
			for (size_t j = 0; j < ti->ncols; j++)
				apply_sql(a, ", CASE WHEN substr(s.__pgcdc_sig, %zu, 1) = '1' THEN s.%s ELSE t.%s END AS %s",
						j + 1, ti->qcols[j], ti->qcols[j], ti->qcols[j]);
			apply_sql(a, " FROM pg_temp.%s s LEFT JOIN %s t ON true", ti->stage, ti->qname);
			apply_key_match(a, ti);
			apply_sql(a, ") v WHERE __pgcdc_op <> 'd' AND (%s) IS NOT TRUE) b WHERE x.__pgcdc_row = b.__pgcdc_row "
					"RETURNING x.__pgcdc_row) SELECT __pgcdc_row FROM bad ORDER BY 1", ti->rules[k]->expr);
		}
		res = target_query(a->target, apply_sql_text(a));
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
			apply_dead(a, rows[atoi(PQgetvalue(res, i, 0))].e, reason, ti->rules[k]->expr);
		}
		PQclear(res);
	}
	return true;
}

static bool
run(Applier *a, char *err, size_t errlen)
{
	return target_exec(a->target, apply_sql_text(a), err, errlen);
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
	apply_sql(a, " AND __pgcdc_row IN (");
	for (size_t r = 0; r < n; r++)
		if (group[r] == (int) g)
			apply_sql(a, "%s%zu", first ? "" : ",", r), first = false;
	apply_sql(a, ")");
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
	apply_sql(a, "UPDATE %s AS t SET ", ti->qname);
	for (size_t j = 0; j < ti->ncols; j++)
		if (applycopy_writes(ti, s, j) && !is_key(ti, j))
			apply_sql(a, "%s%s = %s%s", first ? "" : ", ", ti->qcols[j],
					(int) j == ti->soft ? "false" : "s.", (int) j == ti->soft ? "" : ti->qcols[j]),
				first = false;
	apply_sql(a, " FROM pg_temp.%s s WHERE __pgcdc_op = 'u'", ti->stage);
	group_rows(a, ti, sig, nsig, group, n, g);
	apply_key_match(a, ti);
	for (size_t r = 0; r < n; r++)
		wanted += group[r] == (int) g;
	if (!target_exec_rows(a->target, apply_sql_text(a), &done, err, errlen))
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
		apply_sql(a, "DELETE FROM pg_temp.%s", ti->stage);
		ok = run(a, err, errlen);
	}
	ok = ok && applycopy_rows(a, ti, rows, n, direct, sig, &nsig, group, err, errlen) &&
		validate(a, ti, rows, err, errlen);
	for (size_t r = 0; r < n; r++)
		any_delete |= rows[r].e->kind == EVENT_DELETE;
	if (ok && any_delete)
	{
		a->sql.len = 0;
		if (ti->soft >= 0)
		{
			/* A tombstone: the key marked deleted, even when the row was never applied. */
			apply_sql(a, "INSERT INTO %s AS t (", ti->qname);
			for (size_t k = 0; k < ti->nkeys; k++)
				apply_sql(a, "%s, ", ti->qcols[ti->keycols[k]]);
			apply_sql(a, "%s) SELECT ", ti->qcols[ti->soft]);
			for (size_t k = 0; k < ti->nkeys; k++)
				apply_sql(a, "%s, ", ti->qcols[ti->keycols[k]]);
			apply_sql(a, "true FROM pg_temp.%s WHERE __pgcdc_op = 'd' ON CONFLICT (", ti->stage);
			for (size_t k = 0; k < ti->nkeys; k++)
				apply_sql(a, "%s%s", k ? ", " : "", ti->qcols[ti->keycols[k]]);
			apply_sql(a, ") DO UPDATE SET %s = true", ti->qcols[ti->soft]);
		}
		else
		{
			apply_sql(a, "DELETE FROM %s t USING pg_temp.%s s WHERE s.__pgcdc_op = 'd'", ti->qname, ti->stage);
			apply_key_match(a, ti);
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
			ok = applycopy_direct(a, ti, rows, n, group, (int) g, s, err, errlen);
			continue;
		}
		for (size_t j = 0; j < ti->ncols; j++)
			updates += applycopy_writes(ti, s, j) && !is_key(ti, j);
		if (op == 'u' && ti->nkeys > 0 && updates > 0)
		{
			bool		all;

			if (!(ok = update_group(a, ti, sig, nsig, group, n, g, &all, err, errlen)) || all)
				continue;
			updated = true;
		}

		a->sql.len = 0;
		apply_sql(a, "INSERT INTO %s AS t (", ti->qname);
		applycopy_columns(a, ti, s);
		apply_sql(a, ") SELECT ");
		for (size_t j = 0; j < ti->ncols; j++)
			if (applycopy_writes(ti, s, j))
				apply_sql(a, "%s%s", first ? "" : ", ", (int) j == ti->soft ? "false" : ti->qcols[j]),
					first = false;
		apply_sql(a, " FROM pg_temp.%s WHERE __pgcdc_op = '%c'", ti->stage, op);
		group_rows(a, ti, sig, nsig, group, n, g);
		if (ti->nkeys > 0)
		{
			apply_sql(a, " ON CONFLICT (");
			for (size_t k = 0; k < ti->nkeys; k++)
				apply_sql(a, "%s%s", k ? ", " : "", ti->qcols[ti->keycols[k]]);
			apply_sql(a, ") DO ");
			first = true;
			for (size_t j = 0; j < ti->ncols && !updated; j++)
				if (applycopy_writes(ti, s, j) && !is_key(ti, j))
					apply_sql(a, "%s%s = EXCLUDED.%s", first ? "UPDATE SET " : ", ", ti->qcols[j], ti->qcols[j]),
						first = false;
			if (first)
				apply_sql(a, "NOTHING");	/* nothing but the key, or the rows there are updated */
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
		apply_dead_forget(a, mark);
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
		return apply_dead(a, rows[0].e, "rejected by the target", why), true;
	return apply_rows(a, ti, rows, n / 2, err, errlen) &&
		apply_rows(a, ti, rows + n / 2, n - n / 2, err, errlen);
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
		return apply_dead(a, e, "truncate (truncate.mode is dead-letter)", NULL), true;
	for (size_t i = 0; i < e->rec->n_truncated; i++)
	{
		const Pgcdc__RelationRef *ref = e->rec->truncated[i];
		TableInfo  *ti;
		char		sql[512];
		bool		exists;

		/* Each table's topic carries a copy of the record: this one applies its own tables (bound). */
		if (!topicname_matches(rd_kafka_topic_name(e->msg->rkt), a->settings->topic_prefix, ref->schema, ref->table))
			continue;
		ti = tables_get(a->tables, ref->schema, ref->table);
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
				apply_dead(a, e, reason, why);
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

/*
 * Whether e may be applied where it says: a record decides nothing outside
 * its own table.  Its table's topic must be the one it arrived on, and its
 * target never walsink's own tables or the system's.  reason when not.
 */
static bool
bound(Applier *a, const Event *e, char *reason, size_t reasonlen)
{
	const char *topic = rd_kafka_topic_name(e->msg->rkt);
	const char *prefix = a->settings->topic_prefix;
	const char *schema = e->rec->schema;
	const char *table = e->rec->table;
	const TableInfo *ti;
	const char *why;

	if (e->kind == EVENT_TRUNCATE)
	{
		size_t		here = 0;

		for (size_t i = 0; i < e->rec->n_truncated; i++)
		{
			const Pgcdc__RelationRef *ref = e->rec->truncated[i];

			if (!topicname_matches(topic, prefix, ref->schema, ref->table))
				continue;
			here++;
			ti = tables_get(a->tables, ref->schema, ref->table);
			if ((why = settings_forbidden(a->settings, ti->schema, ti->table)) != NULL)
				return snprintf(reason, reasonlen, "truncate of %s: target %s %s", ref->table, ti->name, why), false;
		}
		if (here == 0)
			return snprintf(reason, reasonlen, "truncate on topic %s names none of its tables (topic.prefix "
							"\"%s\"): a record applies only to its topic's table", topic, prefix), false;
		return true;
	}
	if (!topicname_matches(topic, prefix, schema, table))
		return snprintf(reason, reasonlen, "change of %s.%s on topic %s, not on its table's topic (topic.prefix "
						"\"%s\"): a record applies only to its topic's table", schema, table, topic, prefix), false;
	ti = tables_get(a->tables, schema, table);
	if ((why = settings_forbidden(a->settings, ti->schema, ti->table)) != NULL)
		return snprintf(reason, reasonlen, "target %s %s", ti->name, why), false;
	return true;
}

static bool
same_source(const char *stored, const Event *e)
{
	return strlen(stored) == e->source_len && memcmp(stored, e->source, e->source_len) == 0;
}

/*
 * e's source history (header pgcdc.source) against its partition's: the
 * first one known is taken on; another one is refused (source.change =
 * fail) or taken from e on (resync: the stored position and the table's
 * truncate mark are of the old history, and go); two taking turns are an
 * error either way.  1, or -1 with err (a->fatal when starting again
 * cannot help).
 */
static int
follow_source(Applier *a, const Event *e, PartState *st, char *err, size_t errlen)
{
	const char *hint = "if two walstreamers write under one topic.prefix, give each its own; if the source "
		"was replaced (a failover, a restore, a new cluster), start walsink with source.change = resync, "
		"which applies the new history from its first change on (its snapshot included)";

	if (e->source == NULL || (st->source != NULL && same_source(st->source, e)))
		return 1;
	if (st->source == NULL)
	{
		st->source = strndup(e->source, e->source_len);
		return 1;
	}
	a->fatal = true;
	if (st->former != NULL && same_source(st->former, e))
		return snprintf(err, errlen, "%s [%d]: two sources take turns, %s and %.*s (system identifier/"
						"timeline/database/slot): give each walstreamer its own topic.prefix", st->topic,
						st->partition, st->source, (int) e->source_len, e->source), -1;
	if (!a->settings->source_resync)
		return snprintf(err, errlen, "%s [%d]: a change from source %.*s after changes from %s, the stored "
						"position's (system identifier/timeline/database/slot): positions of two histories "
						"cannot be compared; %s", st->topic, st->partition, (int) e->source_len, e->source,
						st->source, hint), -1;
	a->fatal = false;
	log_msg(LOG_WARNING, "%s [%d]: source %.*s replaces %s (source.change = resync): its changes apply from "
			"here on, the stored position forgotten", st->topic, st->partition, (int) e->source_len, e->source,
			st->source);
	free(st->former);
	st->former = st->source;
	st->source = strndup(e->source, e->source_len);
	st->has_pos = st->has_seen = false;
	if (e->kind == EVENT_UPSERT || e->kind == EVENT_DELETE)
	{
		TableInfo  *ti = tables_get(a->tables, e->rec->schema, e->rec->table);

		if (!target_set_truncate_mark(a->target, ti->name, NULL, err, errlen))
			return -1;
		ti->has_trunc_mark = false;
		ti->trunc_known = true;
	}
	return 1;
}

/*
 * Which events of the batch are new: the rest are skipped, ignored or dead
 * letters.  A partition's stored position moves at the end of the batch, to
 * its last change that is not a dead letter (applier_apply); within the
 * batch, a change at or behind one admitted before it is a copy.
 */
static int
admit(Applier *a, Event *e, PartState *st, char *err, size_t errlen)
{
	char		reason[700];

	if (e->held)
		return false;			/* consumed again from its offset: see moves.h */
	st->offset = e->msg->offset;
	if (!st->touched)
	{
		st->touched = true;
		st->seen = st->pos;
		st->has_seen = st->has_pos;
	}
	switch (e->kind)
	{
		case EVENT_IGNORE:
			a->n_ignored++;
			return false;
		case EVENT_BAD:
			apply_dead(a, e, e->reason, NULL);
			return false;
		default:
			break;
	}
	if (!bound(a, e, reason, sizeof(reason)))
		return apply_dead(a, e, reason, NULL), false;
	if (follow_source(a, e, st, err, errlen) < 0)
		return -1;
	if (e->snapshot)
	{
		/* Snapshot rows share one position; only an older snapshot is stale. */
		if (st->has_seen && e->pos.lsn < st->seen.lsn)
			return a->n_skipped[SKIP_APPLIED]++, false;
		return true;
	}
	if (st->has_seen && position_cmp(&e->pos, &st->seen) <= 0)
		return a->n_skipped[SKIP_APPLIED]++, false;
	st->seen = e->pos;
	st->has_seen = true;
	e->admitted = true;
	return true;
}

/* Each touched partition's stored position: its last admitted change that is not a dead letter. */
static void
advance(Event *events, PartState **states, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		PartState  *st = states[i];
		const Event *e = &events[i];

		if (e->admitted && !e->dead && (!st->has_pos || position_cmp(&e->pos, &st->pos) > 0) &&
			(e->source == NULL || st->source == NULL || same_source(st->source, e)))
		{
			st->pos = e->pos;
			st->has_pos = true;
		}
	}
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
	apply_dead(a, e, reason[0] ? reason : "cannot prepare the target table", err[0] ? err : NULL);
	err[0] = '\0';
	return 0;
}

/*
 * Prepares the tables of rows[0..n), in order, dead-letters the rows they
 * cannot take, and keeps the rest in rows[0..*kept).  Stops (*used < n) at
 * a change of a source key of a table with rows kept already: those are
 * applied first, under the key they had.
 */
static bool
prepare(Applier *a, Row *rows, size_t n, size_t *kept, size_t *used, char *err, size_t errlen)
{
	size_t		out = 0;
	size_t		i;
	bool		forgot = false;
	int			ready;

	*kept = *used = 0;
	for (i = 0; i < n; i++)
		rows[i].ti->batch_rows = 0;
	for (i = 0; i < n; i++)
	{
		TableInfo  *ti = rows[i].ti;
		Event	   *e = rows[i].e;

		if (!trunc_mark(a, ti, err, errlen))
			return false;
		/* A snapshot row is older than a truncate committed at its consistent point. */
		if (ti->has_trunc_mark && (e->snapshot ? e->pos.lsn <= ti->trunc_mark.lsn :
								   position_cmp(&e->pos, &ti->trunc_mark) < 0))
		{
			a->n_skipped[SKIP_TRUNCATED]++;	/* before a truncate already applied */
			continue;
		}
		if (ti->batch_rows > 0 && ti->keycols != NULL && !tables_key_fits(ti, e))
			break;
		if ((ready = prepare_table(a, ti, e, err, errlen)) < 0)
			return false;
		if (ready == 0)
		{
			forgot = true;
			continue;
		}
		rows[out++] = rows[i];
		ti->batch_rows++;
	}
	*used = i;
	*kept = out;
	if (!forgot)
		return true;
	/* A table forgotten after a failure is prepared again for the rows before it, which it took. */
	out = 0;
	for (size_t k = 0; k < *kept; k++)
	{
		if ((ready = prepare_table(a, rows[k].ti, rows[k].e, err, errlen)) < 0)
			return false;
		if (ready == 1)
			rows[out++] = rows[k];
	}
	*kept = out;
	return true;
}

/* Rows of one table in a row: by table, then in the batch's order (the events' addresses). */
static int
by_table(const void *x, const void *y)
{
	const Row  *a = x;
	const Row  *b = y;

	if (a->ti != b->ti)
		return a->ti < b->ti ? -1 : 1;
	return a->e == b->e ? 0 : a->e < b->e ? -1 : 1;
}

/* Prepared rows[0..n): per table, the last change of each key, written. */
static bool
apply_part(Applier *a, Row *rows, size_t n, char *err, size_t errlen)
{
	bool		ok = true;

	qsort(rows, n, sizeof(Row), by_table);
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
			qsort(rows + i, j - i, sizeof(Row), applykeys_cmp);
			ok = applykeys_resolve_moves(a, ti, rows + i, j - i, err, errlen);
			m = applykeys_dedupe(rows + i, j - i);
		}
		a->n_skipped[SKIP_SUPERSEDED] += (int64_t) (j - i - m);
		if (ok && ti->nkeys == 0 && applyfull_needed(rows + i, m))
			ok = applyfull_rows(a, ti, rows + i, m, err, errlen);
		else
			ok = ok && apply_rows(a, ti, rows + i, m, err, errlen);
		i = j;
	}
	return ok;
}


bool
applier_apply(Applier *a, Event *events, PartState **states, size_t n, char *err, size_t errlen)
{
	Row		   *rows = malloc((n + 1) * sizeof(Row));
	size_t		nrows = 0;
	PartState **touched = malloc((n + 1) * sizeof(PartState *));
	size_t		ntouched = 0;
	bool		ok = (a->fatal = false, target_defer(a->target, "BEGIN", err, errlen)) &&
		moves_plan(a->moves, a->target, events, states, n, a->settings->key_change_wait_ms,
				   arena_allocator(a->scratch), err, errlen);

	for (size_t i = 0; i < n && ok; i++)
	{
		Event	   *e = &events[i];

		int			admitted = admit(a, e, states[i], err, errlen);

		if (admitted <= 0)
		{
			ok = admitted == 0;
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
	/* In parts, cut where a table's source key changed. */
	for (size_t next = 0, done = 0; ok && next < nrows;)
	{
		size_t		kept,
					used;

		ok = prepare(a, rows + next, nrows - next, &kept, &used, err, errlen);
		memmove(rows + done, rows + next, kept * sizeof(Row));
		ok = ok && apply_part(a, rows + done, kept, err, errlen);
		done += kept;
		next += used;
		if (next == nrows || !ok)
			nrows = done;
	}
	advance(events, states, n);
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
	apply_dead_forget(a, 0);
	arena_reset(a->scratch);
	a->staged = NULL;
	a->text_only = false;
	a->n_applied = a->n_ignored = a->n_dead = 0;
	memset(a->n_skipped, 0, sizeof(a->n_skipped));
	free(rows);
	free(touched);
	return ok;
}

bool
applier_fatal(const Applier *a)
{
	return a->fatal;
}
