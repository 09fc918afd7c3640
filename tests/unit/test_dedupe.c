/*
 * test_dedupe.c — a table's rows of a batch per key (sink/dedupe.c): the
 * last change of a key decides, in key order; a TOASTed value it left
 * unchanged is the one the key's latest earlier change in the batch set,
 * unless a delete or a key change's new key began the row since (then the
 * target's row decides, or nothing does); keys are bytes, not strings.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dedupe.h"
#include "unit.h"

#define UNCHANGED (-1)			/* a column's value: an unchanged TOASTed one */

static Arena *arena;
static const char *names[] = {"id", "a", "b"};
static Layout layout = {3, (char **) names, NULL};

static void *
take(size_t size)
{
	ProtobufCAllocator *al = arena_allocator(arena);
	void	   *p = al->alloc(al->allocator_data, size);

	memset(p, 0, size);
	return p;
}

static Pgcdc__Value *
value(int v)
{
	Pgcdc__Value *x = take(sizeof(Pgcdc__Value));

	pgcdc__value__init(x);
	if (v == UNCHANGED)
	{
		x->kind_case = PGCDC__VALUE__KIND_UNCHANGED_TOAST;
		x->unchanged_toast = true;
	}
	else
	{
		x->kind_case = PGCDC__VALUE__KIND_INT_VALUE;
		x->int_value = v;
	}
	return x;
}

/*
 * A change of key (keylen bytes) at source position lsn: columns id, a, b
 * (vals; a delete's are its key's), under the shared layout unless
 * renamed, which reverses the columns' order (b, a, id) with no layout.
 */
static Event *
change(const char *key, size_t keylen, uint64_t lsn, EventKind kind, const int vals[3], bool reversed)
{
	Event	   *e = take(sizeof(Event));
	Pgcdc__ChangeEvent *rec = take(sizeof(Pgcdc__ChangeEvent));

	pgcdc__change_event__init(rec);
	rec->n_columns = rec->n_after = 3;
	rec->columns = take(3 * sizeof(Pgcdc__Column *));
	rec->after = take(3 * sizeof(Pgcdc__Value *));
	for (size_t i = 0; i < 3; i++)
	{
		size_t		src = reversed ? 2 - i : i;

		rec->columns[i] = take(sizeof(Pgcdc__Column));
		pgcdc__column__init(rec->columns[i]);
		rec->columns[i]->name = (char *) names[src];
		rec->after[i] = value(vals[src]);
	}
	rec->op = kind == EVENT_DELETE ? PGCDC__OP__OP_DELETE : PGCDC__OP__OP_UPDATE;
	e->rec = rec;
	e->image = rec->after;
	e->layout = reversed ? NULL : &layout;
	e->key = take(keylen);
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	e->pos = (Position) {lsn, 0, 0};
	e->kind = kind;
	return e;
}

/* Column name's value of e, or -2 when it is not an int. */
static int64_t
column(const Event *e, const char *name)
{
	for (size_t i = 0; i < e->rec->n_columns; i++)
		if (strcmp(e->rec->columns[i]->name, name) == 0)
			return e->image[i]->kind_case == PGCDC__VALUE__KIND_INT_VALUE ? e->image[i]->int_value :
				e->image[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST ? UNCHANGED : -2;
	return -2;
}

/* rows as a batch gives them, sorted and deduplicated: how many are left. */
static size_t
dedupe(Row *rows, size_t n)
{
	qsort(rows, n, sizeof(Row), dedupe_cmp);
	return dedupe_rows(rows, n);
}

/* The last change per key decides, the survivors in key order. */
static void
test_last_change_decides(void)
{
	Row			rows[] = {
		{change("b", 1, 30, EVENT_UPSERT, (int[]) {2, 21, 22}, false)},
		{change("a", 1, 10, EVENT_UPSERT, (int[]) {1, 11, 12}, false)},
		{change("c", 1, 50, EVENT_DELETE, (int[]) {3, 0, 0}, false)},
		{change("b", 1, 20, EVENT_UPSERT, (int[]) {2, 1, 1}, false)},
		{change("a", 1, 40, EVENT_DELETE, (int[]) {1, 0, 0}, false)},
		{change("c", 1, 15, EVENT_UPSERT, (int[]) {3, 31, 32}, false)},
	};
	Event	   *last_a = rows[4].e,
			   *last_b = rows[0].e,
			   *last_c = rows[2].e;
	size_t		n = dedupe(rows, 6);

	if (CHECK(n == 3, "3 keys, 3 rows left (%zu)", n))
	{
		CHECK(rows[0].e == last_a, "key a: its delete at 40, first");
		CHECK(rows[1].e == last_b, "key b: its change at 30, second");
		CHECK(rows[2].e == last_c, "key c: its delete at 50, third");
	}
	CHECK(column(last_b, "a") == 21 && column(last_b, "b") == 22, "the last change's values kept");
}

/* A key changed once: nothing to drop. */
static void
test_lone_changes_stay(void)
{
	Row			rows[] = {
		{change("y", 1, 2, EVENT_UPSERT, (int[]) {2, 1, UNCHANGED}, false)},
		{change("x", 1, 1, EVENT_UPSERT, (int[]) {1, 1, 1}, false)},
	};
	size_t		n = dedupe(rows, 2);

	CHECK(n == 2 && rows[0].e->key[0] == 'x' && rows[1].e->key[0] == 'y', "both kept, in key order");
	CHECK(column(rows[1].e, "b") == UNCHANGED, "a lone change's unchanged value stays unchanged");
}

/* Unchanged TOASTed values come from the latest earlier change that has them. */
static void
test_unchanged_inherited(void)
{
	Event	   *ins = change("k", 1, 10, EVENT_UPSERT, (int[]) {1, 100, 200}, false);
	Event	   *upd = change("k", 1, 20, EVENT_UPSERT, (int[]) {1, 101, UNCHANGED}, false);
	Event	   *upd2 = change("k", 1, 30, EVENT_UPSERT, (int[]) {1, UNCHANGED, 202}, false);
	Event	   *last = change("k", 1, 40, EVENT_UPSERT, (int[]) {1, UNCHANGED, UNCHANGED}, false);
	Row			rows[] = {{last}, {upd}, {upd2}, {ins}};
	size_t		n = dedupe(rows, 4);

	CHECK(n == 1 && rows[0].e == last, "one row, the last change");
	CHECK(column(last, "a") == 101, "a: the update at 20 set it (%ld)", (long) column(last, "a"));
	CHECK(column(last, "b") == 202, "b: the update at 30 set it (%ld)", (long) column(last, "b"));
	CHECK(column(last, "id") == 1, "the key's own value kept");
}

/* By name when the changes have other column lists. */
static void
test_unchanged_inherited_by_name(void)
{
	Event	   *ins = change("k", 1, 10, EVENT_UPSERT, (int[]) {1, 100, 200}, true);
	Event	   *last = change("k", 1, 20, EVENT_UPSERT, (int[]) {1, 5, UNCHANGED}, false);
	Row			rows[] = {{last}, {ins}};

	dedupe(rows, 2);
	CHECK(column(last, "b") == 200, "b found by its name in a change of another layout (%ld)",
		  (long) column(last, "b"));
	CHECK(column(last, "a") == 5, "a: the last change's own value");
}

/* A delete since, or a key change's new key: the earlier values are not the row's. */
static void
test_unchanged_after_delete_or_new_key(void)
{
	Event	   *ins = change("k", 1, 10, EVENT_UPSERT, (int[]) {1, 100, 200}, false);
	Event	   *del = change("k", 1, 20, EVENT_DELETE, (int[]) {1, 0, 0}, false);
	Event	   *last = change("k", 1, 30, EVENT_UPSERT, (int[]) {1, 7, UNCHANGED}, false);
	Event	   *moved = change("m", 1, 10, EVENT_UPSERT, (int[]) {2, 1, UNCHANGED}, false);
	Event	   *after = change("m", 1, 20, EVENT_UPSERT, (int[]) {2, 2, UNCHANGED}, false);
	Event	   *before = change("m", 1, 5, EVENT_UPSERT, (int[]) {2, 0, 99}, false);
	Row			rows[] = {{last}, {del}, {ins}, {after}, {moved}, {before}};
	struct Move *paired = (struct Move *) &paired;	/* any Move: moved is its new key's copy */
	bool		before_batch;
	size_t		n;

	moved->move = paired;
	n = dedupe(rows, 6);
	CHECK(n == 2, "two keys (%zu)", n);
	CHECK(column(last, "b") == UNCHANGED, "not the value from before the delete (%ld)", (long) column(last, "b"));
	CHECK(column(after, "b") == UNCHANGED, "not the value from before the key change's new key (%ld)",
		  (long) column(after, "b"));

	/* What dedupe_earlier_value says of where the value is. */
	{
		Row			r2[] = {{change("q", 1, 1, EVENT_UPSERT, (int[]) {3, 1, UNCHANGED}, false)},
		{change("q", 1, 2, EVENT_UPSERT, (int[]) {3, 2, UNCHANGED}, false)}};
		Row			r3[] = {{change("q", 1, 1, EVENT_DELETE, (int[]) {3, 0, 0}, false)},
		{change("q", 1, 2, EVENT_UPSERT, (int[]) {3, 2, UNCHANGED}, false)}};

		CHECK(dedupe_earlier_value(r2, 1, r2[1].e, 2, &before_batch) == NULL && before_batch,
			  "no change here set it and none began the row: the target's row has it");
		CHECK(dedupe_earlier_value(r3, 1, r3[1].e, 2, &before_batch) == NULL && !before_batch,
			  "a delete began the row: nobody has it");
		r2[0].e->move = paired;
		CHECK(dedupe_earlier_value(r2, 1, r2[1].e, 2, &before_batch) == NULL && !before_batch,
			  "a key change's new key began the row: nobody has it");
	}
}

/* Keys are compared as bytes: a prefix, or a NUL inside, makes another key. */
static void
test_keys_are_bytes(void)
{
	Row			rows[] = {
		{change("ab", 2, 10, EVENT_UPSERT, (int[]) {1, 1, 1}, false)},
		{change("abc", 3, 20, EVENT_UPSERT, (int[]) {2, 2, 2}, false)},
		{change("x\0a", 3, 30, EVENT_UPSERT, (int[]) {3, 3, 3}, false)},
		{change("x\0b", 3, 40, EVENT_UPSERT, (int[]) {4, 4, 4}, false)},
		{change("ab", 2, 50, EVENT_UPSERT, (int[]) {1, 5, UNCHANGED}, false)},
	};
	Event	   *ab_last = rows[4].e;
	size_t		n = dedupe(rows, 5);

	if (CHECK(n == 4, "ab, abc, x\\0a, x\\0b: four keys (%zu)", n))
	{
		CHECK(rows[0].e == ab_last && rows[1].e->keylen == 3 && rows[1].e->key[2] == 'c',
			  "ab before abc, its prefix");
		CHECK(rows[2].e->key[2] == 'a' && rows[3].e->key[2] == 'b', "x\\0a before x\\0b");
	}
	CHECK(column(ab_last, "b") == 1, "ab's unchanged value from ab's change, not abc's (%ld)",
		  (long) column(ab_last, "b"));
}

/*
 * A snapshot chunk's row sits at its watermark's position (streamer/
 * snapwatch.h): a change committed before it is older, one after newer.
 */
static void
test_chunk_row_by_position(void)
{
	Event	   *before = change("k", 1, 9, EVENT_UPSERT, (int[]) {1, 5, 5}, false);
	Event	   *row = change("k", 1, 10, EVENT_UPSERT, (int[]) {1, 1, 1}, false);
	Event	   *after = change("k", 1, 11, EVENT_UPSERT, (int[]) {1, 2, UNCHANGED}, false);
	Row			rows[] = {{row}, {before}};
	Row			later[] = {{after}, {row}};
	size_t		n;

	row->pos.seq = 1;
	n = dedupe(rows, 2);
	CHECK(n == 1 && rows[0].e == row, "the chunk's row decides over an older change");
	n = dedupe(later, 2);
	CHECK(n == 1 && later[0].e == after, "a newer change decides over the chunk's row");
	CHECK(column(after, "b") == 1, "and takes the row's value where it left one unchanged");
}

int
main(void)
{
	arena = arena_new();
	test_last_change_decides();
	test_lone_changes_stay();
	test_unchanged_inherited();
	test_unchanged_inherited_by_name();
	test_unchanged_after_delete_or_new_key();
	test_keys_are_bytes();
	test_chunk_row_by_position();
	arena_free(arena);
	return unit_summary("test_dedupe");
}
