/*
 * test_arena.c — the batch arena: aligned, non-overlapping allocations of
 * any size, and memory handed out again after a reset.
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "unit.h"

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
	al->free(al->allocator_data, p[0]);	/* a no-op: nothing to check but that it returns */
	arena_reset(a);
	first = al->alloc(al->allocator_data, 100);
	arena_reset(a);
	CHECK(al->alloc(al->allocator_data, 100) == first, "memory reused after a reset");
	arena_free(a);
	return unit_summary("arena");
}
