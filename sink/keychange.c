/*
 * keychange.c — key changes in memory: their copies paired, partitions held
 * while a copy waits, the unchanged values handed from the old key's copy to
 * the new key's (see keychange.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keychange.h"
#include "log.h"
#include "xalloc.h"

KeyChanges *
keychange_new(Metrics *metrics)
{
	KeyChanges *kc = xcalloc(1, sizeof(KeyChanges));

	kc->m_holds = metrics_cell(metrics, "walsink_key_change_holds_total", METRIC_COUNTER,
							   "Batches that held a partition back: a key change's copy under its new key "
							   "waited for the copy under its old key (another partition) to be applied", NULL);
	kc->m_waited_out = metrics_cell(metrics, "walsink_key_change_waited_out_total", METRIC_COUNTER,
									"Key changes' new-key copies dead-lettered after key.change.wait.ms "
									"without their old key's copy", NULL);
	return kc;
}

void
keychange_put_reset(KeyChanges *kc)
{
	for (size_t i = 0; i < kc->nput; i++)
		free(kc->put[i].image);
	kc->nput = 0;
}

void
keychange_free(KeyChanges *kc)
{
	if (kc == NULL)
		return;
	keychange_put_reset(kc);
	free(kc->put);
	free(kc->gone);
	free(kc->taken);
	free(kc->items);
	free(kc);
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

/* Whether e is a key change's copy (old or new key) whose update left TOASTed columns unchanged. */
static bool
keychange_copy(const Event *e)
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

Move *
keychange_find(KeyChanges *kc, const char *topic, const Position *pos)
{
	Move		key = {topic, *pos};

	return bsearch(&key, kc->items, kc->n, sizeof(Move), by_move);
}

void
keychange_hold_reset(KeyHold *h)
{
	h->from = h->held_at = h->resume = -1;
}

bool
keychange_stale(KeyHold *h, int64_t offset)
{
	if (h->resume >= 0 && offset != h->resume)
		return true;
	h->resume = -1;
	return false;
}

static bool
held(const Event *e, const PartState *st)
{
	return st->hold.from >= 0 && e->msg->offset >= st->hold.from;
}

/* One Move per key change with a copy in the batch (not one already applied: admit skips those). */
void
keychange_pair(KeyChanges *kc, Event *events, PartState **states, size_t n)
{
	size_t		out = 0;

	kc->n = 0;
	for (size_t i = 0; i < n; i++)
	{
		Event	   *e = &events[i];
		PartState  *st = states[i];
		Move	   *mv;

		e->move = NULL;
		e->held = false;
		st->hold.from = -1;
		if ((e->kind != EVENT_DELETE && e->kind != EVENT_UPSERT) || !keychange_copy(e) ||
			(st->has_pos && position_cmp(&e->pos, &st->pos) <= 0))
			continue;
		if (kc->n == kc->cap)
		{
			kc->cap = kc->cap ? 2 * kc->cap : 64;
			kc->items = xrealloc(kc->items, kc->cap, sizeof(Move));
		}
		mv = &kc->items[kc->n++];
		*mv = (Move) {rd_kafka_topic_name(e->msg->rkt), {e->pos.lsn, e->pos.seq, 0}};
		if (e->kind == EVENT_DELETE)
		{
			mv->old = e;
			mv->old_st = st;
		}
		else
		{
			mv->new = e;
			mv->new_st = st;
		}
	}
	if (kc->n == 0)
		return;
	/* The two copies of one change become one Move. */
	qsort(kc->items, kc->n, sizeof(Move), by_move);
	for (size_t i = 0; i < kc->n; i++)
	{
		Move	   *mv = &kc->items[i];

		if (out > 0 && by_move(&kc->items[out - 1], mv) == 0)
		{
			Move	   *into = &kc->items[out - 1];

			if (mv->old)
			{
				into->old = mv->old;
				into->old_st = mv->old_st;
			}
			if (mv->new)
			{
				into->new = mv->new;
				into->new_st = mv->new_st;
			}
			continue;
		}
		kc->items[out++] = *mv;
	}
	kc->n = out;
	for (size_t i = 0; i < kc->n; i++)
	{
		if (kc->items[i].old)
			kc->items[i].old->move = &kc->items[i];
		if (kc->items[i].new)
			kc->items[i].new->move = &kc->items[i];
	}
}

/* Holds each partition from its first new key's copy that must wait; true when a hold moved. */
static bool
hold_waiting(KeyChanges *kc)
{
	bool		moved = false;

	for (bool changed = true; changed;)
	{
		changed = false;
		for (size_t i = 0; i < kc->n; i++)
		{
			Move	   *mv = &kc->items[i];

			if (!mv->new || held(mv->new, mv->new_st) || mv->stored ||
				(mv->old && !held(mv->old, mv->old_st)))
				continue;
			mv->new_st->hold.from = mv->new->msg->offset;
			changed = moved = true;
		}
	}
	return moved;
}

static void
add_keymove(KeyMove **list, size_t *n, size_t *cap, const Move *mv)
{
	if (*n == *cap)
	{
		*cap = *cap ? 2 * *cap : 16;
		*list = xrealloc(*list, *cap, sizeof(KeyMove));
	}
	(*list)[(*n)++] = (KeyMove) {mv->topic, mv->pos, NULL};
}

/* The new key's copy holding its partition since wait_ms ago or longer: a dead letter; true when one was. */
static bool
wait_out(KeyChanges *kc, int wait_ms, int64_t now)
{
	bool		any = false;

	for (size_t i = 0; i < kc->n; i++)
	{
		Move	   *mv = &kc->items[i];
		PartState  *st = mv->new_st;

		if (!mv->new || st->hold.from != mv->new->msg->offset)
			continue;
		if (st->hold.held_at != st->hold.from)
		{
			st->hold.held_at = st->hold.from;
			st->hold.held_since_ms = now;
			continue;
		}
		if (now - st->hold.held_since_ms < wait_ms)
			continue;
		event_bad(mv->new,
				  "key change at " LSN_FMT " #%llu: the copy under the old key was not applied within "
				  "key.change.wait.ms (%d ms), so the TOASTed values the update left unchanged are unknown",
				  LSN_ARGS(mv->pos.lsn), (unsigned long long) mv->pos.seq, wait_ms);
		mv->new->move = NULL;
		mv->new = NULL;
		metrics_add(kc->m_waited_out, 1);
		add_keymove(&kc->gone, &kc->ngone, &kc->gone_cap, mv);
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

/* A stored record's values to mv's new key's copy. */
static void
give_stored(KeyChanges *kc, Move *mv)
{
	const Pgcdc__ChangeEvent *s = mv->stored;
	char	  **names = xmalloc((s->n_columns + 1) * sizeof(char *));

	for (size_t k = 0; k < s->n_columns; k++)
		names[k] = s->columns[k]->name;
	give(mv->new, s->n_columns < s->n_after ? s->n_columns : s->n_after, names, s->after);
	free(names);
	add_keymove(&kc->taken, &kc->ntaken, &kc->taken_cap, mv);
}

void
keychange_hold(KeyChanges *kc, Event *events, PartState **states, size_t n, int wait_ms, int64_t now)
{
	kc->ntaken = 0;
	while (hold_waiting(kc) && wait_out(kc, wait_ms, now))
		for (size_t i = 0; i < n; i++)
			states[i]->hold.from = -1;	/* again, without the copies that waited too long */
	for (size_t i = 0; i < n; i++)
	{
		events[i].held = held(&events[i], states[i]);
		if (states[i]->hold.from < 0)
			states[i]->hold.held_at = -1;	/* not waiting (any more) */
	}
	for (size_t i = 0; i < kc->n; i++)
	{
		Move	   *mv = &kc->items[i];

		if (mv->new && mv->new->held)
		{
			if (mv->new->msg->offset == mv->new_st->hold.from)
			{
				log_msg(LOG_DEBUG, "holding %s [%d] at offset %" PRId64 ": the key change at " LSN_FMT
						" #%llu waits for its copy under the old key", mv->topic, mv->new_st->partition,
						mv->new_st->hold.from, LSN_ARGS(mv->pos.lsn), (unsigned long long) mv->pos.seq);
				metrics_add(kc->m_holds, 1);
			}
			mv->new->move = NULL;
			mv->new = NULL;
		}
		if (mv->old && mv->old->held)
			mv->old = NULL;
		if (mv->new && mv->stored)
			give_stored(kc, mv);
	}
}

static char *
hex_image(const Pgcdc__ChangeEvent *r)
{
	size_t		len = pgcdc__change_event__get_packed_size(r);
	uint8_t    *bytes = xmalloc(len + 1);
	char	   *out = xmalloc(2 * len + 3);

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
keychange_resolved(KeyChanges *kc, Move *mv, Pgcdc__Value **vals, ProtobufCAllocator *alloc)
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
		char	  **names = xmalloc((r->n_columns + 1) * sizeof(char *));

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
	if (kc->nput == kc->put_cap)
	{
		kc->put_cap = kc->put_cap ? 2 * kc->put_cap : 16;
		kc->put = xrealloc(kc->put, kc->put_cap, sizeof(KeyMove));
	}
	kc->put[kc->nput++] = (KeyMove) {mv->topic, mv->pos, hex_image(&img)};
}

void
keychange_unresolved(KeyChanges *kc, ProtobufCAllocator *alloc)
{
	for (size_t i = 0; i < kc->n; i++)
		if (kc->items[i].old && !kc->items[i].resolved)
			keychange_resolved(kc, &kc->items[i], NULL, alloc);
}
