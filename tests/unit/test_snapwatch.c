/*
 * test_snapwatch.c — where a snapshot chunk meets the stream: visibility of
 * xids by a snapshot (modulo 2^32), rows dropped for a newer change by a
 * transaction the chunk could not see and kept for one it could, a
 * truncate, a keyless chunk read again, the recent transactions a new
 * snapshot must wait for, what is remembered for chunks still in flight,
 * and the record's memory bound.
 */
#include <stdlib.h>
#include <string.h>

#include "snapwatch.h"
#include "unit.h"
#include "xalloc.h"

static XidSnapshot
snap(const char *text)
{
	XidSnapshot s;

	if (!CHECK(xidsnap_parse(text, &s), "parse %s", text))
		memset(&s, 0, sizeof(s));
	return s;
}

static void
visibility(void)
{
	XidSnapshot s = snap("100:105:101,103");
	XidSnapshot wrapped = snap("4294967290:4294967300:4294967295");	/* xmax past 2^32: 4 in 32 bits */
	XidSnapshot bad;

	CHECK(xidsnap_visible(&s, 99) && xidsnap_visible(&s, 100) && xidsnap_visible(&s, 102) &&
		  xidsnap_visible(&s, 104), "committed before the snapshot: visible");
	CHECK(!xidsnap_visible(&s, 101) && !xidsnap_visible(&s, 103), "in progress: invisible");
	CHECK(!xidsnap_visible(&s, 105) && !xidsnap_visible(&s, 200), "at or after xmax: invisible");
	CHECK(xidsnap_visible(&wrapped, 4294967291u) && !xidsnap_visible(&wrapped, 4294967295u) &&
		  xidsnap_visible(&wrapped, 2) && !xidsnap_visible(&wrapped, 4) && !xidsnap_visible(&wrapped, 10),
		  "xids compared modulo 2^32 across the wrap");
	CHECK(snap("7:7:").nxip == 0, "no xip");
	CHECK(!xidsnap_parse("7:x:", &bad) && !xidsnap_parse("", &bad) && !xidsnap_parse("1:2:3,", &bad) &&
		  !xidsnap_parse("1:2:a", &bad), "malformed snapshots refused");
	xidsnap_free(&s);
	xidsnap_free(&wrapped);
}

static void
row(Chunk *c, const char *key)
{
	uint8_t    *rec = chunk_alloc(c, 3);
	uint8_t    *k = key ? chunk_alloc(c, strlen(key)) : NULL;

	memcpy(rec, "rec", 3);
	if (key)
		memcpy(k, key, strlen(key));
	chunk_add_row(c, rec, 3, k, key ? strlen(key) : 0);
}

static Chunk *
chunk(SnapWatch *w, uint32_t relid, const char *snaptext, bool keyless)
{
	Chunk	   *c = snapwatch_reserve(w, relid, keyless);
	XidSnapshot s = snap(snaptext);

	snapwatch_snapshot(w, c, &s);
	return c;
}

static void
dedupe(void)
{
	SnapWatch  *w = snapwatch_new(1 << 20);
	Chunk	   *c,
			   *taken;

	snapwatch_table_start(w, 7);
	CHECK(snapwatch_watching(w), "watching");
	c = chunk(w, 7, "100:105:101,103", false);
	row(c, "a");
	row(c, "b");
	row(c, "c");
	row(c, "d");
	snapwatch_submit(w, c);
	snapwatch_change(w, 7, 101, (const uint8_t *) "b", 1);	/* in progress for the chunk: newer */
	snapwatch_change(w, 7, 102, (const uint8_t *) "c", 1);	/* visible: the chunk has it */
	snapwatch_change(w, 7, 106, (const uint8_t *) "d", 1);	/* after the snapshot: newer */
	snapwatch_change(w, 8, 101, (const uint8_t *) "a", 1);	/* another table */
	snapwatch_change(w, 7, 101, (const uint8_t *) "zz", 2);	/* not in the chunk */
	CHECK(snapwatch_take(w, c->id + 1000, 5000) == NULL, "an unknown watermark is ignored");
	taken = snapwatch_take(w, c->id, 5000);
	CHECK(taken == c && c->lsn == 5000, "the chunk is taken at its watermark");
	CHECK(!c->rows[0].dropped && c->rows[1].dropped && !c->rows[2].dropped && c->rows[3].dropped &&
		  c->ndropped == 2, "rows changed by transactions the chunk did not see are dropped (%zu)", c->ndropped);
	snapwatch_placed(w, c);
	CHECK(snapwatch_state(w, c) == CHUNK_PLACED, "placed");
	CHECK(snapwatch_take(w, c->id, 5000) == NULL, "a watermark seen twice places nothing twice");
	snapwatch_release(w, c);

	/* A truncate the chunk did not see: every row goes. */
	c = chunk(w, 7, "110:110:", false);
	row(c, "a");
	row(c, "b");
	snapwatch_submit(w, c);
	snapwatch_truncate(w, 7, 111);
	CHECK(snapwatch_take(w, c->id, 6000) == c && c->ndropped == 2, "truncate drops the chunk's rows");
	snapwatch_placed(w, c);
	snapwatch_release(w, c);
	snapwatch_table_stop(w, 7);
	CHECK(!snapwatch_watching(w), "no longer watching");
	snapwatch_free(w);
}

static void
keyless(void)
{
	SnapWatch  *w = snapwatch_new(1 << 20);
	Chunk	   *c;

	snapwatch_table_start(w, 9);
	c = chunk(w, 9, "200:200:", true);
	row(c, NULL);
	snapwatch_submit(w, c);
	snapwatch_change(w, 9, 150, NULL, 0);	/* visible: fine */
	snapwatch_change(w, 9, 201, NULL, 0);	/* not seen by the chunk: no key to tell which row */
	CHECK(snapwatch_take(w, c->id, 7000) == NULL && snapwatch_state(w, c) == CHUNK_SPOILED,
		  "a keyless chunk the table changed under is read again");
	snapwatch_release(w, c);

	c = chunk(w, 9, "300:300:", true);
	row(c, NULL);
	snapwatch_submit(w, c);
	snapwatch_change(w, 9, 250, NULL, 0);
	CHECK(snapwatch_take(w, c->id, 8000) == c && c->ndropped == 0, "unchanged: placed whole");
	snapwatch_placed(w, c);
	snapwatch_release(w, c);
	snapwatch_free(w);
}

static void
pending(void)
{
	SnapWatch  *w = snapwatch_new(1 << 20);
	XidSnapshot s = snap("500:510:501,505,507");

	snapwatch_begin(w, 505);
	snapwatch_begin(w, 600);
	CHECK(snapwatch_pending(w, &s) == 1, "a transaction the stream began but the snapshot sees in progress");
	for (uint32_t x = 1000; x < 1000 + 70000; x++)
		snapwatch_begin(w, x);
	CHECK(snapwatch_pending(w, &s) == 0, "the ring forgets the oldest");
	xidsnap_free(&s);
	snapwatch_free(w);
}

static void
memory(void)
{
	SnapWatch  *w = snapwatch_new(4096);
	Chunk	   *first,
			   *second;
	char		key[32];

	snapwatch_table_start(w, 7);
	first = chunk(w, 7, "100:100:", false);
	row(first, "k1");
	snapwatch_submit(w, first);
	second = chunk(w, 7, "90:90:", false);	/* an older snapshot, still in flight */
	row(second, "k2");
	snapwatch_submit(w, second);
	snapwatch_change(w, 7, 95, (const uint8_t *) "k2", 2);	/* visible to first, not to second */
	CHECK(snapwatch_take(w, first->id, 100) == first && first->ndropped == 0, "first keeps its row");
	snapwatch_placed(w, first);
	CHECK(snapwatch_take(w, second->id, 200) == second && second->ndropped == 1,
		  "what the older chunk in flight needs is remembered past the newer one's placing");
	snapwatch_placed(w, second);
	snapwatch_release(w, first);
	snapwatch_release(w, second);

	/* A chunk reserved before the placed one took its snapshot may take an older one. */
	second = snapwatch_reserve(w, 7, false);
	first = chunk(w, 7, "100:100:", false);
	row(first, "k1");
	snapwatch_submit(w, first);
	snapwatch_change(w, 7, 99, (const uint8_t *) "k3", 2);
	CHECK(snapwatch_take(w, first->id, 300) == first, "first taken");
	snapwatch_placed(w, first);
	{
		XidSnapshot s = snap("98:98:");

		snapwatch_snapshot(w, second, &s);
	}
	row(second, "k3");
	snapwatch_submit(w, second);
	CHECK(snapwatch_take(w, second->id, 400) == second && second->ndropped == 1,
		  "a change is remembered for a chunk reserved before its snapshot was taken");
	snapwatch_placed(w, second);
	snapwatch_release(w, first);
	snapwatch_release(w, second);

	/* Past its memory, the table's chunks in flight are read again. */
	first = chunk(w, 7, "100:100:", false);
	row(first, "k1");
	snapwatch_submit(w, first);
	for (int i = 0; i < 400; i++)
	{
		snprintf(key, sizeof(key), "key-%d", i);
		snapwatch_change(w, 7, 101, (const uint8_t *) key, strlen(key));
	}
	CHECK(snapwatch_state(w, first) == CHUNK_SPOILED && snapwatch_take(w, first->id, 500) == NULL,
		  "overflow spoils the chunk in flight");
	snapwatch_release(w, first);
	snapwatch_free(w);
}

int
main(void)
{
	visibility();
	dedupe();
	keyless();
	pending();
	memory();
	return unit_summary("snapwatch");
}
