/*
 * test_arena.c — the batch arena: aligned, non-overlapping allocations of
 * any size, what it handed out counted, large blocks freed soon handed out
 * again (protobuf-c's scratch space), and memory reused after a reset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cdc.pb-c.h"
#include "unit.h"

/* Arena bytes one unpack of a record with 40 values takes. */
static size_t
unpack_cost(Arena *a, const uint8_t *buf, size_t len)
{
	size_t		before = arena_used(a);

	CHECK(pgcdc__change_event__unpack(arena_allocator(a), len, buf) != NULL, "record unpacked");
	return arena_used(a) - before;
}

static void
scratch_reused(void)
{
	Arena	   *a = arena_new();
	Pgcdc__ChangeEvent ev = PGCDC__CHANGE_EVENT__INIT;
	Pgcdc__Value v[40];
	Pgcdc__Value *vp[40];
	uint8_t    *buf;
	size_t		len,
				first,
				second;

	for (int i = 0; i < 40; i++)
	{
		pgcdc__value__init(&v[i]);
		v[i].kind_case = PGCDC__VALUE__KIND_INT_VALUE;
		v[i].int_value = i;
		vp[i] = &v[i];
	}
	ev.version = 1;
	ev.op = PGCDC__OP__OP_INSERT;
	ev.n_after = 40;
	ev.after = vp;
	len = pgcdc__change_event__get_packed_size(&ev);
	buf = malloc(len);
	pgcdc__change_event__pack(&ev, buf);
	first = unpack_cost(a, buf, len);
	second = unpack_cost(a, buf, len);
	/* The first unpack's scratch list of 40 fields seen (over a kilobyte) serves the second. */
	CHECK(first >= second + 1024, "protobuf-c's scratch space handed out again: %zu bytes, then %zu",
		  first, second);
	CHECK(unpack_cost(a, buf, len) == second, "and again: %zu bytes", second);
	free(buf);
	arena_free(a);
}

int
main(void)
{
	Arena	   *a = arena_new();
	ProtobufCAllocator *al = arena_allocator(a);
	unsigned char *p[1000];
	size_t		n[1000];
	unsigned char *big;
	void	   *first;

	for (int i = 0; i < 1000; i++)
	{
		n[i] = (size_t) (i * 37 % 5000) + 1;
		p[i] = al->alloc(al->allocator_data, n[i]);
		memset(p[i], i & 0xFF, n[i]);
		CHECK(((uintptr_t) p[i] & 15) == 0, "allocation %d not 16-byte aligned", i);
	}
	big = al->alloc(al->allocator_data, 3 << 20);	/* larger than a chunk */
	memset(big, 0xAB, 3 << 20);
	for (int i = 0; i < 1000; i++)
	{
		size_t		j = 0;

		while (j < n[i] && p[i][j] == (i & 0xFF))
			j++;
		if (!CHECK(j == n[i], "allocation %d overwritten at byte %zu", i, j))
			break;
	}
	CHECK(big[0] == 0xAB && big[(3 << 20) - 1] == 0xAB, "the large allocation intact");
	{
		size_t		used = arena_used(a);
		unsigned char *q = al->alloc(al->allocator_data, 1000);
		unsigned char *r;

		CHECK(arena_used(a) == used + 1008, "1,000 bytes counted as 1,008 (aligned): %zu", arena_used(a) - used);
		al->free(al->allocator_data, p[0]);	/* small: not handed out again */
		al->free(al->allocator_data, q);
		r = al->alloc(al->allocator_data, 900);
		CHECK(r == q && arena_used(a) == used + 1008, "a large block freed is handed out again");
		CHECK(al->alloc(al->allocator_data, 900) != q, "but only once");
		al->free(al->allocator_data, r);
		CHECK(al->alloc(al->allocator_data, 200) != r, "never for a much smaller one");
	}
	arena_reset(a);
	CHECK(arena_used(a) == 0, "nothing counted after a reset");
	first = al->alloc(al->allocator_data, 100);
	arena_reset(a);
	CHECK(al->alloc(al->allocator_data, 100) == first, "memory reused after a reset");
	arena_free(a);
	scratch_reused();
	return unit_summary("arena");
}
