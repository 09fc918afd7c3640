/*
 * arena.c — chunks of memory handed out in order, taken back all at once.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>

#include "arena.h"

#define CHUNK_BYTES (1 << 20)
/* Kept across resets; a bigger batch's extra chunks go back to malloc. */
#define KEEP_BYTES (64 << 20)
#define ALIGN 16

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
	ProtobufCAllocator allocator;
};

static Chunk *
chunk_new(size_t size)
{
	Chunk	   *c = malloc(sizeof(Chunk) + size);

	if (c == NULL)
		abort();
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
	return (char *) c->data + c->used - n;
}

static void
arena_release(void *opaque, void *p)
{
	(void) opaque;
	(void) p;
}

Arena *
arena_new(void)
{
	Arena	   *a = calloc(1, sizeof(Arena));

	if (a == NULL)
		abort();
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

ProtobufCAllocator *
arena_allocator(Arena *a)
{
	return &a->allocator;
}
