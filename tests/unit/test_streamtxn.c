/*
 * test_streamtxn.c — walstreamer's bookkeeping of transactions streamed in
 * progress (streamer/streamtxn.h): partitions and first offsets from
 * delivery reports in any order, rolled-back ranges merged (a parent's
 * holding its children's, touching ones joined) against a brute-force
 * oracle, keys kept only while complete, transactions forgotten whole.
 */
#include <stdlib.h>
#include <string.h>

#include "streamtxn.h"
#include "unit.h"

static void
partitions_from_reports(void)
{
	StreamTxns *s = streamtxns_new(42, 1 << 20);
	size_t		n;
	const StreamPart *parts;

	CHECK(streamtxns_run(s) == 42, "the run");
	streamtxns_block(s, 7, 100);
	for (int i = 0; i < 5; i++)
		streamtxns_sent(s, 100);
	streamtxns_block(s, 9, 200);
	streamtxns_sent(s, 200);
	streamtxns_block(s, 11, 100);
	streamtxns_sent(s, 100);
	CHECK(streamtxns_outstanding(s, 100) == 6, "6 sent, none reported");
	/* Reports out of order, across partitions; one from a block of another transaction. */
	streamtxns_delivered(s, 11, "t.a", 1, 90);
	streamtxns_delivered(s, 7, "t.a", 1, 40);
	streamtxns_delivered(s, 7, "t.a", 0, 12);
	streamtxns_delivered(s, 9, "t.a", 0, 5);
	streamtxns_delivered(s, 7, "t.b", 0, 3);
	streamtxns_delivered(s, 7, "t.a", 0, 10);
	streamtxns_delivered(s, 7, "t.a", 1, -1);	/* failed: counted, no offset */
	streamtxns_delivered(s, 123, "t.a", 0, 1);	/* not a block */
	CHECK(streamtxns_outstanding(s, 100) == 0, "all reported: %llu left",
		  (unsigned long long) streamtxns_outstanding(s, 100));
	CHECK(streamtxns_outstanding(s, 200) == 0, "the other transaction's report");
	parts = streamtxns_parts(s, 100, &n);
	CHECK(n == 3, "three partitions, got %zu", n);
	for (size_t i = 0; i < n; i++)
	{
		int64_t		want = strcmp(parts[i].topic, "t.b") == 0 ? 3 : parts[i].partition == 0 ? 10 : 40;

		CHECK(parts[i].first_offset == want, "%s [%d]: first offset %lld, want %lld", parts[i].topic,
			  parts[i].partition, (long long) parts[i].first_offset, (long long) want);
	}
	/* Forgotten whole: its blocks too (a late report changes nothing). */
	streamtxns_end(s, 100);
	streamtxns_delivered(s, 7, "t.c", 0, 1);
	parts = streamtxns_parts(s, 100, &n);
	CHECK(n == 0 && parts == NULL, "forgotten");
	parts = streamtxns_parts(s, 200, &n);
	CHECK(n == 1 && parts[0].first_offset == 5, "the other one kept");
	streamtxns_free(s);
}

/* Random ranges of a parent and children: merged pairs must cover exactly the oracle's seqs, in order, apart. */
static void
ranges_against_oracle(void)
{
	srand(7);
	for (int round = 0; round < 500; round++)
	{
		StreamTxns *s = streamtxns_new(1, 1 << 20);
		bool		oracle[400] = {0};
		int			nranges = 1 + rand() % 8;
		size_t		n;
		const uint32_t *a;
		uint64_t	prev_end = 0;
		bool		ok = true;

		for (int r = 0; r < nranges; r++)
		{
			uint32_t	first = (uint32_t) (rand() % 300);
			uint32_t	count = 1 + (uint32_t) (rand() % 60);

			streamtxns_abort_range(s, 5, 100 + (uint32_t) r, first, count);
			for (uint32_t q = first; q < first + count; q++)
				oracle[q] = true;
		}
		a = streamtxns_aborted(s, 5, &n);
		for (size_t i = 0; i < n && ok; i += 2)
		{
			ok &= CHECK(a[i + 1] > 0 && (i == 0 || a[i] > prev_end),
						"round %d: pair %zu (%u, %u) not after the one before, apart", round, i / 2, a[i], a[i + 1]);
			prev_end = (uint64_t) a[i] + a[i + 1];
		}
		for (uint32_t q = 0; q < 400 && ok; q++)
			ok &= CHECK(streamtxns_void(s, 5, q) == oracle[q], "round %d: seq %u void %d, oracle %d",
						round, q, streamtxns_void(s, 5, q), oracle[q]);
		streamtxns_free(s);
	}
}

static void
keys_kept_while_complete(void)
{
	StreamTxns *s = streamtxns_new(1, 200);
	size_t		n,
				nrelids;
	const uint8_t *bytes;
	bool		complete;
	const uint32_t *relids;
	const StreamKey *k;

	/* Watched from the start: kept, with their seq. */
	streamtxns_key(s, 1, 10, 0, (const uint8_t *) "ab", 2, false, true);
	streamtxns_key(s, 1, 11, 1, NULL, 0, true, true);
	streamtxns_key(s, 1, 10, 2, (const uint8_t *) "cde", 3, false, true);
	k = streamtxns_keys(s, 1, &n, &bytes, &complete, &relids, &nrelids);
	CHECK(complete && n == 3 && nrelids == 2, "three keys of two tables: %zu, %zu", n, nrelids);
	CHECK(n == 3 && k[2].seq == 2 && k[2].len == 3 && memcmp(bytes + k[2].off, "cde", 3) == 0, "the third key");
	CHECK(n == 3 && k[1].truncate && k[1].relid == 11, "the truncate");
	/* A key that came while no snapshot was read: the keys are not all known any more. */
	streamtxns_key(s, 2, 10, 0, (const uint8_t *) "x", 1, false, false);
	streamtxns_key(s, 2, 12, 1, (const uint8_t *) "y", 1, false, true);
	k = streamtxns_keys(s, 2, &n, &bytes, &complete, &relids, &nrelids);
	CHECK(!complete && n == 0 && nrelids == 2, "incomplete: tables only (%zu keys, %zu tables)", n, nrelids);
	/* Past the bound: the same. */
	for (uint32_t i = 0; i < 20; i++)
		streamtxns_key(s, 3, 13, i, (const uint8_t *) "0123456789", 10, false, true);
	k = streamtxns_keys(s, 3, &n, &bytes, &complete, &relids, &nrelids);
	CHECK(!complete && n == 0 && nrelids == 1 && relids[0] == 13, "past the bound: tables only");
	(void) k;
	streamtxns_free(s);
}

int
main(void)
{
	partitions_from_reports();
	ranges_against_oracle();
	keys_kept_while_complete();
	return unit_summary("streamtxn");
}
