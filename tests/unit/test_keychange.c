/*
 * test_keychange.c — key changes' copies paired and partitions held
 * (sink/keychange.c), without a target: the copies under the old and the
 * new key meet by topic and source position; a new key's copy whose old
 * key's copy is not in the batch holds its partition from its offset on; a
 * copy waits only for the copy at its own position, and for it only while
 * that one is held itself; after key.change.wait.ms the waiting copy is a
 * dead letter with a tombstone, and its partition moves on; after the seek
 * back, what was fetched before it is stale.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "keychange.h"
#include "unit.h"

#define WAIT_MS 500

static Arena *arena;
static Metrics *metrics;
static const char *names[] = {"id", "big"};

/* The stub's topic handle is its name. */
const char *
rd_kafka_topic_name(const rd_kafka_topic_t *rkt)
{
	return (const char *) rkt;
}

static void *
take(size_t size)
{
	ProtobufCAllocator *al = arena_allocator(arena);
	void	   *p = al->alloc(al->allocator_data, size);

	memset(p, 0, size);
	return p;
}

static Pgcdc__Value *
value(int64_t v, bool unchanged)
{
	Pgcdc__Value *x = take(sizeof(Pgcdc__Value));

	pgcdc__value__init(x);
	x->kind_case = unchanged ? PGCDC__VALUE__KIND_UNCHANGED_TOAST : PGCDC__VALUE__KIND_INT_VALUE;
	if (unchanged)
		x->unchanged_toast = true;
	else
		x->int_value = v;
	return x;
}

typedef enum Copy
{
	OLD_KEY,					/* an update's copy under its old key (a delete) */
	NEW_KEY,					/* its copy under the new key (sub 1) */
	PLAIN						/* an update of no key change, its TOASTed column set */
} Copy;

/* events[i]: of the update at lsn, on topic [partition st] at offset; column big left unchanged (not PLAIN). */
static void
make(Event *e, Copy what, const char *topic, PartState *st, int64_t offset, uint64_t lsn)
{
	Pgcdc__ChangeEvent *rec = take(sizeof(Pgcdc__ChangeEvent));
	rd_kafka_message_t *msg = take(sizeof(rd_kafka_message_t));

	memset(e, 0, sizeof(Event));
	pgcdc__change_event__init(rec);
	rec->op = PGCDC__OP__OP_UPDATE;
	rec->n_columns = rec->n_after = 2;
	rec->columns = take(2 * sizeof(Pgcdc__Column *));
	rec->after = take(2 * sizeof(Pgcdc__Value *));
	for (size_t i = 0; i < 2; i++)
	{
		rec->columns[i] = take(sizeof(Pgcdc__Column));
		pgcdc__column__init(rec->columns[i]);
		rec->columns[i]->name = (char *) names[i];
	}
	rec->after[0] = value((int64_t) lsn, false);
	rec->after[1] = value(0, what != PLAIN);
	msg->rkt = (rd_kafka_topic_t *) topic;
	msg->partition = st->partition;
	msg->offset = offset;
	e->rec = rec;
	e->image = rec->after;
	e->msg = msg;
	e->kind = what == OLD_KEY ? EVENT_DELETE : EVENT_UPSERT;
	e->pos = (Position) {lsn, 0, what == NEW_KEY};
}

static void
part(PartState *st, int32_t partition)
{
	memset(st, 0, sizeof(PartState));
	st->topic = "t";
	st->partition = partition;
	st->offset = -1;
	keychange_hold_reset(&st->hold);
}

/* The batch events[0..n) of the partitions in states, planned at now. */
static void
plan(KeyChanges *kc, Event *events, PartState **states, size_t n, int64_t now)
{
	keychange_pair(kc, events, states, n);
	keychange_hold(kc, events, states, n, WAIT_MS, now);
}

/* The two copies of an update meet by topic and position, and only so. */
static void
test_pairing(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p0,
				p1;
	PartState  *states[] = {&p0, &p1, &p1, &p0, &p1, &p0};
	Event		ev[6];

	part(&p0, 0);
	part(&p1, 1);
	make(&ev[0], OLD_KEY, "t", &p0, 5, 100);
	make(&ev[1], NEW_KEY, "t", &p1, 7, 100);
	make(&ev[2], NEW_KEY, "t", &p1, 8, 200);
	make(&ev[3], OLD_KEY, "u", &p0, 6, 200);	/* another topic's update at 200 */
	make(&ev[4], PLAIN, "t", &p1, 9, 300);
	make(&ev[5], OLD_KEY, "t", &p0, 4, 50);
	p0.has_pos = true;			/* 50 is applied already: not a copy to pair */
	p0.pos = (Position) {60, 0, 0};
	keychange_pair(kc, ev, states, 6);
	CHECK(kc->n == 3, "three key changes: t@100, t@200, u@200 (%zu)", kc->n);
	if (CHECK(ev[0].move != NULL && ev[0].move == ev[1].move, "t@100's copies share one Move"))
		CHECK(ev[0].move->old == &ev[0] && ev[0].move->new == &ev[1] && ev[0].move->old_st == &p0 &&
			  ev[0].move->new_st == &p1, "its old key's copy and new key's copy, with their partitions");
	if (CHECK(ev[2].move != NULL && ev[3].move != NULL, "t@200 and u@200 paired"))
		CHECK(ev[2].move != ev[3].move && ev[2].move->old == NULL && ev[3].move->new == NULL,
			  "t@200's new key's copy and u@200's old key's copy do not meet: other topics");
	CHECK(ev[4].move == NULL, "an update that changed no key is no copy");
	CHECK(ev[5].move == NULL, "a copy at or behind the stored position is no copy");
	CHECK(keychange_find(kc, "t", &(Position) {100, 0, 0}) == ev[0].move, "t@100 found by its position");
	keychange_free(kc);
}

/* Both copies in the batch: nothing waits, and the values go across. */
static void
test_both_copies_in_the_batch(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p0,
				p1;
	PartState  *states[] = {&p0, &p1};
	Event		ev[2];
	Pgcdc__Value *vals[2];

	part(&p0, 0);
	part(&p1, 1);
	make(&ev[0], OLD_KEY, "t", &p0, 5, 100);
	make(&ev[1], NEW_KEY, "t", &p1, 3, 100);
	plan(kc, ev, states, 2, 1000);
	CHECK(p0.hold.from == -1 && p1.hold.from == -1 && !ev[0].held && !ev[1].held, "no partition held");
	vals[0] = NULL;
	vals[1] = value(42, false);
	keychange_resolved(kc, ev[0].move, vals, arena_allocator(arena));
	CHECK(ev[1].image[1]->kind_case == PGCDC__VALUE__KIND_INT_VALUE && ev[1].image[1]->int_value == 42,
		  "the new key's copy takes the value its old key's copy found");
	CHECK(kc->nput == 0, "nothing left for a later batch");
	keychange_free(kc);
}

/* A new key's copy without its old key's copy holds its partition from its offset on. */
static void
test_hold_from_its_offset(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p0,
				p1;
	PartState  *states[] = {&p1, &p1, &p1, &p0};
	Event		ev[4];
	int64_t		holds = metrics_get(kc->m_holds);

	part(&p0, 0);
	part(&p1, 1);
	make(&ev[0], PLAIN, "t", &p1, 7, 150);
	make(&ev[1], NEW_KEY, "t", &p1, 8, 200);
	make(&ev[2], PLAIN, "t", &p1, 9, 250);
	make(&ev[3], PLAIN, "t", &p0, 5, 260);
	plan(kc, ev, states, 4, 1000);
	CHECK(p1.hold.from == 8, "partition 1 held at offset 8 (%ld)", (long) p1.hold.from);
	CHECK(!ev[0].held && ev[1].held && ev[2].held, "offset 7 applies; 8 and 9 wait");
	CHECK(p0.hold.from == -1 && !ev[3].held, "partition 0 is not held");
	CHECK(ev[1].move == NULL && kc->items[0].new == NULL, "the held copy is not this batch's");
	CHECK(p1.hold.held_at == 8 && p1.hold.held_since_ms == 1000, "held since now");
	CHECK(metrics_get(kc->m_holds) == holds + 1, "one hold counted");
	keychange_free(kc);
}

/* A copy waits for the copy at its own position, and only while that one is held. */
static void
test_waits_only_for_its_own_copy(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p0,
				p1;
	PartState  *states[] = {&p0, &p1};
	PartState  *states3[] = {&p0, &p0, &p1};
	Event		ev[3];

	/* An old key's copy at another position is not its own. */
	part(&p0, 0);
	part(&p1, 1);
	make(&ev[0], OLD_KEY, "t", &p0, 5, 101);
	make(&ev[1], NEW_KEY, "t", &p1, 3, 100);
	plan(kc, ev, states, 2, 1000);
	CHECK(p1.hold.from == 3 && ev[1].held, "the copy at 100 waits: the one at 101 is not its own");
	CHECK(p0.hold.from == -1 && !ev[0].held, "the old key's copy at 101 applies");

	/* Its own old key's copy held behind another wait: it waits too. */
	part(&p0, 0);
	part(&p1, 1);
	make(&ev[0], NEW_KEY, "t", &p0, 3, 50);
	make(&ev[1], OLD_KEY, "t", &p0, 4, 100);
	make(&ev[2], NEW_KEY, "t", &p1, 9, 100);
	plan(kc, ev, states3, 3, 1000);
	CHECK(p0.hold.from == 3 && ev[0].held && ev[1].held, "partition 0 held at 3: the copy at 50 waits");
	CHECK(p1.hold.from == 9 && ev[2].held, "so the copy at 100 waits for its old key's copy, held (%ld)",
		  (long) p1.hold.from);

	/* Its old key's copy before that wait: it applies, and so does the new one. */
	part(&p0, 0);
	part(&p1, 1);
	make(&ev[0], OLD_KEY, "t", &p0, 3, 100);
	make(&ev[1], NEW_KEY, "t", &p0, 4, 50);
	make(&ev[2], NEW_KEY, "t", &p1, 9, 100);
	plan(kc, ev, states3, 3, 1000);
	CHECK(p0.hold.from == 4 && !ev[0].held && ev[1].held, "partition 0 held at 4, after the old key's copy");
	CHECK(p1.hold.from == -1 && !ev[2].held && ev[2].move != NULL && ev[2].move->old == &ev[0],
		  "the copy at 100 meets its old key's copy: no wait (%ld)", (long) p1.hold.from);
	keychange_free(kc);
}

/* Values an earlier batch stored: no wait, the values taken, their row to forget. */
static void
test_stored_values_end_the_wait(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p1;
	PartState  *states[] = {&p1};
	Event		ev[1];
	Pgcdc__ChangeEvent *stored = take(sizeof(Pgcdc__ChangeEvent));

	part(&p1, 1);
	make(&ev[0], NEW_KEY, "t", &p1, 8, 200);
	pgcdc__change_event__init(stored);
	stored->n_columns = stored->n_after = 1;
	stored->columns = take(sizeof(Pgcdc__Column *));
	stored->columns[0] = take(sizeof(Pgcdc__Column));
	pgcdc__column__init(stored->columns[0]);
	stored->columns[0]->name = "big";
	stored->after = take(sizeof(Pgcdc__Value *));
	stored->after[0] = value(77, false);
	keychange_pair(kc, ev, states, 1);
	ev[0].move->stored = stored;
	keychange_hold(kc, ev, states, 1, WAIT_MS, 1000);
	CHECK(p1.hold.from == -1 && !ev[0].held, "not held: the old key's copy was applied before");
	CHECK(ev[0].image[1]->kind_case == PGCDC__VALUE__KIND_INT_VALUE && ev[0].image[1]->int_value == 77,
		  "the stored value taken");
	CHECK(kc->ntaken == 1 && kc->taken[0].pos.lsn == 200, "its row in pgcdc.sink_key_move to forget");
	keychange_free(kc);
}

/* After key.change.wait.ms held, the copy is a dead letter, and the partition moves on. */
static void
test_wait_times_out(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p1;
	PartState  *states[] = {&p1, &p1, &p1};
	Event		ev[3];
	int64_t		waited_out = metrics_get(kc->m_waited_out);

	part(&p1, 1);
	make(&ev[0], NEW_KEY, "t", &p1, 8, 200);
	make(&ev[1], PLAIN, "t", &p1, 9, 250);
	make(&ev[2], NEW_KEY, "t", &p1, 10, 300);
	plan(kc, ev, states, 3, 1000);
	CHECK(p1.hold.from == 8 && p1.hold.held_since_ms == 1000, "held at 8 from 1000");
	/* The partition consumed again from 8, batch after batch. */
	plan(kc, ev, states, 3, 1000 + WAIT_MS - 1);
	CHECK(p1.hold.from == 8 && ev[0].kind == EVENT_UPSERT && kc->ngone == 0, "still waiting just before the time");
	CHECK(p1.hold.held_since_ms == 1000, "waiting since the first hold, not since this batch");
	kc->ngone = 0;
	plan(kc, ev, states, 3, 1000 + WAIT_MS);
	CHECK(ev[0].kind == EVENT_BAD && ev[0].reason != NULL && strstr(ev[0].reason, "key.change.wait.ms") != NULL,
		  "the copy at 8 waited out: a dead letter (%s)", ev[0].reason ? ev[0].reason : "");
	CHECK(!ev[0].held && !ev[1].held && ev[0].move == NULL, "it and the change after it apply");
	CHECK(kc->ngone == 1 && kc->gone[0].pos.lsn == 200 && strcmp(kc->gone[0].topic, "t") == 0,
		  "a tombstone for the key change at 200");
	CHECK(metrics_get(kc->m_waited_out) == waited_out + 1, "counted as waited out");
	CHECK(p1.hold.from == 10 && ev[2].held && p1.hold.held_at == 10 && p1.hold.held_since_ms == 1000 + WAIT_MS,
		  "the next copy without its old key's copy holds the partition from now (%ld)", (long) p1.hold.from);
	free(ev[0].reason);
	keychange_free(kc);
}

/* After a seek back to a held offset, what was fetched before it is stale until that offset comes. */
static void
test_stale_after_seek(void)
{
	PartState	p0;

	part(&p0, 0);
	CHECK(!keychange_stale(&p0.hold, 9), "nothing is stale without a seek back");
	p0.hold.resume = 8;			/* as keychange_seek leaves it */
	CHECK(keychange_stale(&p0.hold, 9) && keychange_stale(&p0.hold, 10), "fetched before the seek: stale");
	CHECK(!keychange_stale(&p0.hold, 8), "the offset sought is not");
	CHECK(p0.hold.resume == -1 && !keychange_stale(&p0.hold, 9), "and ends the filter");
}

/* An old key's copy whose new key's copy is not here: its values kept for a later batch. */
static void
test_values_for_a_later_batch(void)
{
	KeyChanges *kc = keychange_new(metrics);
	PartState	p0;
	PartState  *states[] = {&p0, &p0};
	Event		ev[2];
	Pgcdc__Value *vals[2] = {NULL, NULL};

	part(&p0, 0);
	make(&ev[0], OLD_KEY, "t", &p0, 5, 100);
	make(&ev[1], OLD_KEY, "t", &p0, 6, 200);
	plan(kc, ev, states, 2, 1000);
	vals[1] = value(5, false);
	keychange_resolved(kc, ev[0].move, vals, arena_allocator(arena));
	CHECK(kc->nput == 1 && kc->put[0].pos.lsn == 100 && strncmp(kc->put[0].image, "\\x", 2) == 0,
		  "the values of the change at 100 as a record, to store");
	keychange_unresolved(kc, arena_allocator(arena));
	CHECK(kc->nput == 2 && kc->put[1].pos.lsn == 200, "the one not resolved (not applied) leaves nothing known");
	keychange_put_reset(kc);
	keychange_free(kc);
}

int
main(void)
{
	arena = arena_new();
	metrics = metrics_new();
	test_pairing();
	test_both_copies_in_the_batch();
	test_hold_from_its_offset();
	test_waits_only_for_its_own_copy();
	test_stored_values_end_the_wait();
	test_wait_times_out();
	test_values_for_a_later_batch();
	test_stale_after_seek();
	metrics_free(metrics);
	arena_free(arena);
	return unit_summary("test_keychange");
}
