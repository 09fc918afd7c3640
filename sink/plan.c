/*
 * plan.c — a batch's events admitted, their tables prepared, their rows
 * ordered (see plan.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbzfit.h"
#include "log.h"
#include "plan.h"
#include "topicroute.h"
#include "truncmarks.h"
#include "xalloc.h"

/* A truncate may be applied where it says: reason when not. */
static bool
bound_truncate(Plan *p, const Event *e, char *reason, size_t reasonlen)
{
	const char *topic = rd_kafka_topic_name(e->msg->rkt);
	const char *prefix = p->settings->topic_prefix;
	size_t		here = 0;

	for (size_t i = 0; i < e->rec->n_truncated; i++)
	{
		const Pgcdc__RelationRef *ref = e->rec->truncated[i];
		const TableInfo *ti;
		const char *why;

		if (!topicroute_matches(p->settings->route, topic, prefix, ref->schema, ref->table))
			continue;
		here++;
		ti = tables_get(p->tables, ref->schema, ref->table);
		if ((why = settings_forbidden(p->settings, ti->schema, ti->table)) != NULL)
		{
			snprintf(reason, reasonlen, "truncate of %s: target %s %s", ref->table, ti->name, why);
			return false;
		}
	}
	if (here > 0)
		return true;
	snprintf(reason, reasonlen, "truncate on topic %s names none of its tables (topic.prefix \"%s\"): "
			 "a record applies only to its topic's table", topic, prefix);
	return false;
}

/*
 * Whether e may be applied where it says: a record decides nothing outside
 * its own table.  Its table's topic must be the one it arrived on, and its
 * target never walsink's own tables or the system's.  reason when not.
 */
static bool
bound(Plan *p, const Event *e, char *reason, size_t reasonlen)
{
	const char *topic = rd_kafka_topic_name(e->msg->rkt);
	const char *prefix = p->settings->topic_prefix;
	const char *schema = e->rec->schema;
	const char *table = e->rec->table;
	const TableInfo *ti;
	const char *why;

	if (e->kind == EVENT_TRUNCATE)
		return bound_truncate(p, e, reason, reasonlen);
	if (!topicroute_matches(p->settings->route, topic, prefix, schema, table))
	{
		snprintf(reason, reasonlen, "change of %s.%s on topic %s, not on its table's topic (topic.prefix "
				 "\"%s\"): a record applies only to its topic's table", schema, table, topic, prefix);
		return false;
	}
	ti = tables_get(p->tables, schema, table);
	if ((why = settings_forbidden(p->settings, ti->schema, ti->table)) != NULL)
	{
		snprintf(reason, reasonlen, "target %s %s", ti->name, why);
		return false;
	}
	return true;
}

static bool
same_source(const char *stored, const Event *e)
{
	return strlen(stored) == e->source_len && memcmp(stored, e->source, e->source_len) == 0;
}

/* A pgcdc.source value's timeline, and where the rest (database/slot) starts; false when it is not one. */
static bool
split_source(const char *s, size_t len, uint64_t *sysid, unsigned *timeline, size_t *rest)
{
	char		text[256];
	int			used = 0;

	if (len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (sscanf(text, "%" SCNu64 "/%u/%n", sysid, timeline, &used) != 2 || used == 0)
		return false;
	*rest = (size_t) used;
	return true;
}

/*
 * Whether e's source is the partition's after a promotion: the same system,
 * database and slot on a later timeline, whose history (header
 * pgcdc.source.history, "1:0/3000000,2:0/5000000") says the stored
 * position's timeline ended after it: the stored positions are of WAL the
 * new timeline has too, and compare with its.  A restore to an earlier
 * point is not one.
 */
static bool
promoted(const PartState *st, const Event *e)
{
	uint64_t	old_sys,
				new_sys;
	unsigned	old_tli,
				new_tli;
	size_t		old_rest,
				new_rest;
	char		history[512];
	size_t		stored_len = strlen(st->source);

	if (e->history == NULL || e->history_len >= sizeof(history) ||
		!split_source(st->source, stored_len, &old_sys, &old_tli, &old_rest) ||
		!split_source(e->source, e->source_len, &new_sys, &new_tli, &new_rest) ||
		old_sys != new_sys || new_tli <= old_tli || stored_len - old_rest != e->source_len - new_rest ||
		memcmp(st->source + old_rest, e->source + new_rest, stored_len - old_rest) != 0)
		return false;
	memcpy(history, e->history, e->history_len);
	history[e->history_len] = '\0';
	for (const char *h = history; *h; h += strcspn(h, ","), h += *h == ',')
	{
		unsigned	tli,
					hi,
					lo;

		if (sscanf(h, "%u:%X/%X", &tli, &hi, &lo) == 3 && tli == old_tli)
			return !st->has_pos || st->pos.lsn < (((uint64_t) hi << 32) | lo);
	}
	return false;
}

/*
 * e's source history (header pgcdc.source) against its partition's: the
 * first one known is taken on; the same after a promotion goes on
 * (promoted()); another one is refused (source.change =
 * fail) or taken from e on (resync: the stored position and the table's
 * truncate mark are of the old history, and go); two taking turns are an
 * error either way.  1, or -1 with err (p->fatal when starting again
 * cannot help).
 */
static int
follow_source(Plan *p, const Event *e, PartState *st, char *err, size_t errlen)
{
	const char *hint = "if two walstreamers write under one topic.prefix, give each its own; if the source "
		"was replaced (a failover, a restore, a new cluster), start walsink with source.change = resync, "
		"which applies the new history from its first change on (its snapshot included)";

	if (e->source == NULL || (st->source != NULL && same_source(st->source, e)))
		return 1;
	if (st->source == NULL)
	{
		st->source = xstrndup(e->source, e->source_len);
		return 1;
	}
	if (promoted(st, e))
	{
		log_msg(LOG_INFO, "%s [%d]: source %.*s follows %s: a promotion after the stored position, whose "
				"WAL the new timeline has; it goes on", st->topic, st->partition, (int) e->source_len, e->source,
				st->source);
		free(st->former);
		st->former = st->source;	/* the old primary's again would be two sources taking turns */
		st->source = xstrndup(e->source, e->source_len);
		return 1;
	}
	p->fatal = true;
	if (st->former != NULL && same_source(st->former, e))
	{
		snprintf(err, errlen, "%s [%d]: two sources take turns, %s and %.*s (system identifier/"
				 "timeline/database/slot): give each walstreamer its own topic.prefix", st->topic,
				 st->partition, st->source, (int) e->source_len, e->source);
		return -1;
	}
	if (!p->settings->source_resync)
	{
		snprintf(err, errlen, "%s [%d]: a change from source %.*s after changes from %s, the stored "
				 "position's (system identifier/timeline/database/slot): positions of two histories "
				 "cannot be compared; %s", st->topic, st->partition, (int) e->source_len, e->source,
				 st->source, hint);
		return -1;
	}
	p->fatal = false;
	log_msg(LOG_WARNING, "%s [%d]: source %.*s replaces %s (source.change = resync): its changes apply from "
			"here on, the stored position forgotten", st->topic, st->partition, (int) e->source_len, e->source,
			st->source);
	free(st->former);
	st->former = st->source;
	st->source = xstrndup(e->source, e->source_len);
	st->has_pos = st->has_seen = false;
	if (e->kind == EVENT_UPSERT || e->kind == EVENT_DELETE)
	{
		TableInfo  *ti = tables_get(p->tables, e->rec->schema, e->rec->table);

		if (!truncmarks_set(p->target, ti->name, NULL, err, errlen))
			return -1;
		ti->has_trunc_mark = false;
		ti->trunc_known = true;
	}
	return 1;
}

/*
 * A partition's stored position moves at the end of the batch, to its last
 * change that is not a dead letter (plan_advance); within the batch, a
 * change at or behind one admitted before it is a copy.
 */
int
plan_admit(Plan *p, Event *e, PartState *st, char *err, size_t errlen)
{
	char		reason[700];
	int64_t		read_to = st->offset;	/* where the partition was read to before this message */

	if (e->held)
		return 0;				/* consumed again from its offset: see keychange.h */
	/* A streamed transaction read back lies before its commit record, where the partition stands. */
	if (e->msg->offset > st->offset)
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
			p->n_ignored++;
			return 0;
		case EVENT_BAD:
			deadletters_add(p->dead, e, e->reason, NULL);
			return 0;
		default:
			break;
	}
	if (!bound(p, e, reason, sizeof(reason)))
	{
		deadletters_add(p->dead, e, reason, NULL);
		return 0;
	}
	if (follow_source(p, e, st, err, errlen) < 0)
		return -1;
	/*
	 * One at a position already applied is that change again; where
	 * positions may be shared (Debezium's), only when read again from an
	 * offset already passed.
	 */
	if (st->has_seen && (position_cmp(&e->pos, &st->seen) < 0 ||
						 (position_cmp(&e->pos, &st->seen) == 0 &&
						  (e->order == ORDER_EXACT || e->msg->offset <= read_to))))
	{
		p->n_skipped[SKIP_APPLIED]++;
		return 0;
	}
	st->seen = e->pos;
	st->has_seen = true;
	e->admitted = true;
	return 1;
}

void
plan_advance(Event *events, PartState **states, size_t n)
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
prepare_table(Plan *p, TableInfo *ti, Event *e, char *err, size_t errlen)
{
	char		reason[512];

	/* A table already prepared costs no round trip. */
	if (tables_ready(ti, e))
		return 1;
	if (!target_exec(p->target, "SAVEPOINT pgcdc_prepare", err, errlen))
		return -1;
	if (tables_prepare(p->tables, ti, e, reason, sizeof(reason), err, errlen))
		return target_exec(p->target, "RELEASE SAVEPOINT pgcdc_prepare", err, errlen) ? 1 : -1;
	if (target_broken(p->target) ||
		!target_exec(p->target, "ROLLBACK TO SAVEPOINT pgcdc_prepare; RELEASE SAVEPOINT pgcdc_prepare",
					 err, errlen))
		return -1;
	/* What the savepoint changed is undone: ti is loaded afresh when next needed. */
	tables_forget(p->tables, ti);
	deadletters_add(p->dead, e, reason[0] ? reason : "cannot prepare the target table", err[0] ? err : NULL);
	err[0] = '\0';
	return 0;
}

bool
plan_prepare(Plan *p, Row *rows, size_t n, size_t *kept, size_t *used, char *err, size_t errlen)
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

		if (!truncmarks_load(p->target, ti, err, errlen))
			return false;
		if (ti->has_trunc_mark && position_cmp(&e->pos, &ti->trunc_mark) < 0)
		{
			p->n_skipped[SKIP_TRUNCATED]++;	/* before a truncate already applied */
			continue;
		}
		if (ti->batch_rows > 0 && ti->keycols != NULL && !tables_key_fits(ti, e))
			break;
		if ((ready = prepare_table(p, ti, e, err, errlen)) < 0)
			return false;
		if (ready == 0)
		{
			forgot = true;
			continue;
		}
		if (e->debezium && !e->fitted)
		{
			char		why[256];

			if (!dbzfit_event(e, ti, tables_map(ti, e), why, sizeof(why)))
			{
				deadletters_add(p->dead, e, why, NULL);
				continue;
			}
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
		if ((ready = prepare_table(p, rows[k].ti, rows[k].e, err, errlen)) < 0)
			return false;
		if (ready == 1)
			rows[out++] = rows[k];
	}
	*kept = out;
	return true;
}

int
plan_by_table(const void *x, const void *y)
{
	const Row  *a = x;
	const Row  *b = y;

	if (a->ti != b->ti)
		return a->ti < b->ti ? -1 : 1;
	return a->e == b->e ? 0 : a->e < b->e ? -1 : 1;
}
