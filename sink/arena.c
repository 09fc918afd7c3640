/*
 * arena.c — chunks of memory handed out in order, taken back all at once.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xalloc.h"

#define CHUNK_BYTES (1 << 20)
/* Kept across resets; a bigger batch's extra chunks go back to malloc. */
#define KEEP_BYTES (16 << 20)
#define ALIGN 16

/*
 * protobuf-c takes scratch space from the allocator while it unpacks a
 * record with more than 16 fields (a kilobyte or more, its list of fields
 * seen) and frees it at the end: were that lost, it would be more than half
 * of what a small change's record takes.  Blocks this large that are freed
 * soon after they were handed out are handed out again.
 */
#define REUSE_MIN 512
#define REUSE_SLOTS 8

typedef struct Block
{
	void	   *p;
	size_t		n;
} Block;

typedef struct Chunk
{
	struct Chunk *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
	max_align_t data[];
} Chunk;

struct Arena
{
	Chunk	   *head;			/* the chunk in use; earlier ones follow it */
	Chunk	   *spare;			/* emptied chunks, reused before new ones */
	size_t		used;			/* bytes handed out since the last reset */
	Block		recent[REUSE_SLOTS];	/* the last large blocks handed out (a ring) */
	int			next_recent;
	Block		freed[REUSE_SLOTS]; /* of those, the ones freed, to hand out again */
	int			nfreed;
	ProtobufCAllocator allocator;
};

static Chunk *
chunk_new(size_t size)
{
	Chunk	   *c = xmalloc(sizeof(Chunk) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

static void *
arena_alloc(void *opaque, size_t n)
{
	Arena	   *a = opaque;
	Chunk	   *c = a->head;

	n = (n + ALIGN - 1) & ~(size_t) (ALIGN - 1);
	if (n >= REUSE_MIN)
		for (int i = 0; i < a->nfreed; i++)
			if (a->freed[i].n >= n && a->freed[i].n <= 2 * n)
			{
				Block		b = a->freed[i];

				a->freed[i] = a->freed[--a->nfreed];
				a->recent[a->next_recent++ % REUSE_SLOTS] = b;
				return b.p;
			}
	if (c == NULL || c->size - c->used < n)
	{
		if (n <= CHUNK_BYTES && a->spare != NULL)
		{
			c = a->spare;
			a->spare = c->next;
			c->used = 0;
		}
		else
			c = chunk_new(n > CHUNK_BYTES ? n : CHUNK_BYTES);
		c->next = a->head;
		a->head = c;
	}
	c->used += n;
	a->used += n;
	if (n >= REUSE_MIN)
		a->recent[a->next_recent++ % REUSE_SLOTS] = (Block) {(char *) c->data + c->used - n, n};
	return (char *) c->data + c->used - n;
}

static void
arena_release(void *opaque, void *p)
{
	Arena	   *a = opaque;

	for (int i = 0; i < REUSE_SLOTS && p != NULL; i++)
		if (a->recent[i].p == p)
		{
			if (a->nfreed < REUSE_SLOTS)
				a->freed[a->nfreed++] = a->recent[i];
			a->recent[i].p = NULL;
			return;
		}
}

Arena *
arena_new(void)
{
	Arena	   *a = xcalloc(1, sizeof(Arena));

	a->allocator.alloc = arena_alloc;
	a->allocator.free = arena_release;
	a->allocator.allocator_data = a;
	return a;
}

static void
chain_free(Chunk *c)
{
	while (c)
	{
		Chunk	   *next = c->next;

		free(c);
		c = next;
	}
}

void
arena_reset(Arena *a)
{
	size_t		kept = 0;

	a->used = 0;
	a->nfreed = 0;
	memset(a->recent, 0, sizeof(a->recent));
	for (Chunk *c = a->spare; c; c = c->next)
		kept += c->size;
	while (a->head)
	{
		Chunk	   *c = a->head;

		a->head = c->next;
		if (c->size == CHUNK_BYTES && kept < KEEP_BYTES)
		{
			c->next = a->spare;
			a->spare = c;
			kept += c->size;
		}
		else
			free(c);
	}
}

void
arena_free(Arena *a)
{
	if (a == NULL)
		return;
	chain_free(a->head);
	chain_free(a->spare);
	free(a);
}

size_t
arena_used(const Arena *a)
{
	return a->used;
}

ProtobufCAllocator *
arena_allocator(Arena *a)
{
	return &a->allocator;
}
