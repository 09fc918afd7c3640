/*
 * moves.c — a key change's unchanged TOASTed values, from its old key's
 * copy to its new key's copy (see moves.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "moves.h"
#include "runtime.h"

struct Moves
{
	Move	   *items;			/* sorted by topic, then position */
	size_t		n;
	size_t		cap;
	KeyMove    *put;			/* values for new key's copies of later batches */
	size_t		nput;
	size_t		put_cap;
	KeyMove    *gone;			/* key changes whose new key's copies waited out (image NULL) */
	size_t		ngone;
	size_t		gone_cap;
	MetricCell *m_holds;
	MetricCell *m_waited_out;
};

Moves *
moves_new(Metrics *metrics)
{
	Moves	   *m = calloc(1, sizeof(Moves));

	m->m_holds = metrics_cell(metrics, "walsink_key_change_holds_total", METRIC_COUNTER,
							  "Batches that held a partition back: a key change's copy under its new key "
							  "waited for the copy under its old key (another partition) to be applied", NULL);
	m->m_waited_out = metrics_cell(metrics, "walsink_key_change_waited_out_total", METRIC_COUNTER,
								   "Key changes' new-key copies dead-lettered after key.change.wait.ms "
								   "without their old key's copy", NULL);
	return m;
}

static void
put_reset(Moves *m)
{
	for (size_t i = 0; i < m->nput; i++)
		free((char *) m->put[i].image);
	m->nput = 0;
}

void
moves_free(Moves *m)
{
	if (m == NULL)
		return;
	put_reset(m);
	free(m->put);
	free(m->gone);
	free(m->items);
	free(m);
}

static bool
unchanged_toast(const Pgcdc__ChangeEvent *r)
{
	if (r->n_after != r->n_columns)
		return false;
	for (size_t i = 0; i < r->n_after; i++)
		if (r->after[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST)
			return true;
	return false;
}

bool
moves_copy(const Event *e)
{
	/* The old key's copy is an update applied as a delete; the new key's has sub 1. */
	bool		copy = (e->kind == EVENT_DELETE && e->rec->op == PGCDC__OP__OP_UPDATE) ||
		(e->kind == EVENT_UPSERT && e->pos.sub == 1);

	return copy && unchanged_toast(e->rec);
}

/* By topic, then position (a Move's has sub 0). */
static int
by_move(const void *x, const void *y)
{
	const Move *a = x;
	const Move *b = y;
	int			c = strcmp(a->topic, b->topic);

	return c != 0 ? c : position_cmp(&a->pos, &b->pos);
}

static Move *
find(Moves *m, const char *topic, const Position *pos)
{
	Move		key = {topic, *pos};

	return bsearch(&key, m->items, m->n, sizeof(Move), by_move);
}

static bool
held(const Event *e, const PartState *st)
{
	return st->hold >= 0 && e->msg->offset >= st->hold;
}

/* One Move per key change with a copy in the batch (not one already applied: admit skips those). */
static void
pair(Moves *m, Event *events, PartState **states, size_t n)
{
	size_t		out = 0;

	m->n = 0;
	for (size_t i = 0; i < n; i++)
	{
		Event	   *e = &events[i];
		PartState  *st = states[i];
		Move	   *mv;

		e->move = NULL;
		e->held = false;
		st->hold = -1;
		if ((e->kind != EVENT_DELETE && e->kind != EVENT_UPSERT) || !moves_copy(e) ||
			(st->has_pos && position_cmp(&e->pos, &st->pos) <= 0))
			continue;
		if (m->n == m->cap)
		{
			m->cap = m->cap ? 2 * m->cap : 64;
			m->items = realloc(m->items, m->cap * sizeof(Move));
		}
		mv = &m->items[m->n++];
		*mv = (Move) {rd_kafka_topic_name(e->msg->rkt), {e->pos.lsn, e->pos.seq, 0}};
		if (e->kind == EVENT_DELETE)
			mv->old = e, mv->old_st = st;
		else
			mv->new = e, mv->new_st = st;
	}
	if (m->n == 0)
		return;
	/* The two copies of one change become one Move. */
	qsort(m->items, m->n, sizeof(Move), by_move);
	for (size_t i = 0; i < m->n; i++)
	{
		Move	   *mv = &m->items[i];

		if (out > 0 && by_move(&m->items[out - 1], mv) == 0)
		{
			Move	   *into = &m->items[out - 1];

			if (mv->old)
				into->old = mv->old, into->old_st = mv->old_st;
			if (mv->new)
				into->new = mv->new, into->new_st = mv->new_st;
			continue;
		}
		m->items[out++] = *mv;
	}
	m->n = out;
	for (size_t i = 0; i < m->n; i++)
	{
		if (m->items[i].old)
			m->items[i].old->move = &m->items[i];
		if (m->items[i].new)
			m->items[i].new->move = &m->items[i];
	}
}

/* What the old key's copies applied in earlier batches left for the new key's copies here. */
static bool
find_stored(Moves *m, Target *t, ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	KeyMove    *want = malloc((m->n + 1) * sizeof(KeyMove));
	size_t		nwant = 0;
	PGresult   *res;

	for (size_t i = 0; i < m->n; i++)
		if (m->items[i].new && !m->items[i].old)
			want[nwant++] = (KeyMove) {m->items[i].topic, m->items[i].pos, NULL};
	if (nwant == 0 || !target_moves_find(t, nwant, want, &res, err, errlen))
	{
		free(want);
		return nwant == 0;
	}
	for (int r = 0; r < PQntuples(res); r++)
	{
		Position	pos = {strtoull(PQgetvalue(res, r, 1), NULL, 10),
		(uint32_t) strtoul(PQgetvalue(res, r, 2), NULL, 10), 0};
		Move	   *mv = find(m, PQgetvalue(res, r, 0), &pos);
		size_t		len;
		unsigned char *bytes = PQunescapeBytea((const unsigned char *) PQgetvalue(res, r, 3), &len);

		if (mv && bytes)
			mv->stored = pgcdc__change_event__unpack(alloc, len, bytes);
		PQfreemem(bytes);
	}
	PQclear(res);
	free(want);
	return true;
}

/* Holds each partition from its first new key's copy that must wait; true when a hold moved. */
static bool
hold_waiting(Moves *m)
{
	bool		moved = false;

	for (bool changed = true; changed;)
	{
		changed = false;
		for (size_t i = 0; i < m->n; i++)
		{
			Move	   *mv = &m->items[i];
			int64_t		off;

			if (!mv->new || held(mv->new, mv->new_st) || mv->stored ||
				(mv->old && !held(mv->old, mv->old_st)))
				continue;
			off = mv->new->msg->offset;
			mv->new_st->hold = off;
			changed = moved = true;
		}
	}
	return moved;
}

/* The new key's copy holding its partition since wait_ms ago or longer: a dead letter; true when one was. */
static bool
wait_out(Moves *m, int wait_ms, int64_t now)
{
	bool		any = false;

	for (size_t i = 0; i < m->n; i++)
	{
		Move	   *mv = &m->items[i];
		PartState  *st = mv->new_st;

		if (!mv->new || st->hold != mv->new->msg->offset)
			continue;
		if (st->held_at != st->hold)
		{
			st->held_at = st->hold;
			st->held_since_ms = now;
			continue;
		}
		if (now - st->held_since_ms < wait_ms)
			continue;
		event_bad(mv->new,
				  "key change at " LSN_FMT " #%u: the copy under the old key was not applied within "
				  "key.change.wait.ms (%d ms), so the TOASTed values the update left unchanged are unknown",
				  LSN_ARGS(mv->pos.lsn), mv->pos.seq, wait_ms);
		mv->new->move = NULL;
		mv->new = NULL;
		metrics_add(m->m_waited_out, 1);
		if (m->ngone == m->gone_cap)
		{
			m->gone_cap = m->gone_cap ? 2 * m->gone_cap : 16;
			m->gone = realloc(m->gone, m->gone_cap * sizeof(KeyMove));
		}
		m->gone[m->ngone++] = (KeyMove) {mv->topic, mv->pos, NULL};
		any = true;
	}
	return any;
}

/* e's unchanged columns from names and values (vals[i] for names[i]; NULL: unknown). */
static void
give(Event *e, size_t n, char *const *names, Pgcdc__Value *const *vals)
{
	const Pgcdc__ChangeEvent *r = e->rec;

	for (size_t i = 0; i < r->n_columns; i++)
	{
		if (e->image[i]->kind_case != PGCDC__VALUE__KIND_UNCHANGED_TOAST)
			continue;
		for (size_t k = 0; k < n; k++)
			if (vals[k] != NULL && strcmp(names[k], r->columns[i]->name) == 0)
			{
				e->image[i] = vals[k];
				break;
			}
	}
}

bool
moves_plan(Moves *m, Target *t, Event *events, PartState **states, size_t n, int wait_ms,
		   ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	int64_t		now = runtime_now_ms();
	KeyMove    *taken;
	size_t		ntaken = 0;
	bool		ok;

	put_reset(m);
	m->ngone = 0;
	pair(m, events, states, n);
	if (m->n == 0 || !find_stored(m, t, alloc, err, errlen))
		return m->n == 0;
	while (hold_waiting(m) && wait_out(m, wait_ms, now))
		for (size_t i = 0; i < n; i++)
			states[i]->hold = -1;	/* again, without the copies that waited too long */
	for (size_t i = 0; i < n; i++)
	{
		events[i].held = held(&events[i], states[i]);
		if (states[i]->hold < 0)
			states[i]->held_at = -1;	/* not waiting (any more) */
	}
	taken = malloc(m->n * sizeof(KeyMove));
	for (size_t i = 0; i < m->n; i++)
	{
		Move	   *mv = &m->items[i];
		const Pgcdc__ChangeEvent *s = mv->stored;

		if (mv->new && mv->new->held)
		{
			if (mv->new->msg->offset == mv->new_st->hold)
			{
				log_msg(LOG_DEBUG, "holding %s [%d] at offset %" PRId64 ": the key change at " LSN_FMT
						" #%u waits for its copy under the old key", mv->topic, mv->new_st->partition,
						mv->new_st->hold, LSN_ARGS(mv->pos.lsn), mv->pos.seq);
				metrics_add(m->m_holds, 1);
			}
			mv->new = NULL;
		}
		if (mv->old && mv->old->held)
			mv->old = NULL;
		if (mv->new && s)
		{
			char	  **names = malloc((s->n_columns + 1) * sizeof(char *));

			for (size_t k = 0; k < s->n_columns; k++)
				names[k] = s->columns[k]->name;
			give(mv->new, s->n_columns < s->n_after ? s->n_columns : s->n_after, names, s->after);
			free(names);
			taken[ntaken++] = (KeyMove) {mv->topic, mv->pos, NULL};
		}
	}
	ok = target_moves_forget(t, ntaken, taken, err, errlen) &&
		target_moves_gone(t, m->ngone, m->gone, err, errlen);
	free(taken);
	return ok;
}

static char *
hex_image(const Pgcdc__ChangeEvent *r)
{
	size_t		len = pgcdc__change_event__get_packed_size(r);
	uint8_t    *bytes = malloc(len + 1);
	char	   *out = malloc(2 * len + 3);

	pgcdc__change_event__pack(r, bytes);
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 + 2 * i, "%02x", bytes[i]);
	out[2 + 2 * len] = '\0';
	free(bytes);
	return out;
}

void
moves_resolved(Moves *m, Move *mv, Pgcdc__Value **vals, ProtobufCAllocator *alloc)
{
	const Pgcdc__ChangeEvent *r = mv->old->rec;
	Pgcdc__ChangeEvent img = PGCDC__CHANGE_EVENT__INIT;
	Pgcdc__Column *cols;
	size_t		k = 0;

	mv->resolved = true;
	if (vals == NULL && mv->new)
		return;
	if (mv->new)
	{
		char	  **names = malloc((r->n_columns + 1) * sizeof(char *));

		for (size_t i = 0; i < r->n_columns; i++)
			names[i] = r->columns[i]->name;
		give(mv->new, r->n_columns, names, vals);
		free(names);
		return;
	}
	/* For a later batch: the names and values known, as a record. */
	cols = alloc->alloc(alloc->allocator_data, (r->n_columns + 1) * sizeof(Pgcdc__Column));
	img.columns = alloc->alloc(alloc->allocator_data, (r->n_columns + 1) * sizeof(Pgcdc__Column *));
	img.after = alloc->alloc(alloc->allocator_data, (r->n_columns + 1) * sizeof(Pgcdc__Value *));
	for (size_t i = 0; i < r->n_columns && vals; i++)
	{
		if (vals[i] == NULL)
			continue;
		pgcdc__column__init(&cols[k]);
		cols[k].name = r->columns[i]->name;
		img.columns[k] = &cols[k];
		img.after[k++] = vals[i];
	}
	img.n_columns = img.n_after = k;
	if (m->nput == m->put_cap)
	{
		m->put_cap = m->put_cap ? 2 * m->put_cap : 16;
		m->put = realloc(m->put, m->put_cap * sizeof(KeyMove));
	}
	m->put[m->nput++] = (KeyMove) {mv->topic, mv->pos, hex_image(&img)};
}

bool
moves_finish(Moves *m, Target *t, ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	bool		ok;

	for (size_t i = 0; i < m->n; i++)
		if (m->items[i].old && !m->items[i].resolved)
			moves_resolved(m, &m->items[i], NULL, alloc);
	ok = target_moves_put(t, m->nput, m->put, err, errlen);

	put_reset(m);
	return ok;
}
