/*
 * fuzz_event.c — libFuzzer target: a Kafka message value through walsink's
 * decoding (sink/event.c event_decode) and, when it is a change to apply,
 * every value of its image through both COPY renderers (render.c).
 *
 * Each input is decoded three times with one set of layouts: twice without
 * headers, the second time with its columns cached by the first, which must
 * not change the outcome; then as a key change's old copy (a "pgcdc.key:
 * old" header).  The first two decodes allocate each record piece by piece
 * with malloc, so that ASan sees a read one byte past any of them; the third
 * uses walsink's arena.  An event to apply must hold only values
 * copytext_check accepts, with its image and key in place; a dead letter
 * must have a reason.  Seeds: corpus/event, real records (make_corpus.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "copytext.h"
#include "event.h"
#include "kafkastub.h"
#include "render.h"

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every allocation of one input's decoding, freed together after it. */
typedef struct Block
{
	struct Block *prev;
	struct Block *next;
	max_align_t data[];
} Block;

static Block blocks = {&blocks, &blocks};

static void *
block_alloc(void *opaque, size_t n)
{
	Block	   *b = malloc(sizeof(Block) + n);

	(void) opaque;
	if (b == NULL)
		abort();
	b->next = blocks.next;
	b->prev = &blocks;
	blocks.next->prev = b;
	blocks.next = b;
	return b->data;
}

static void
block_free(void *opaque, void *p)
{
	Block	   *b;

	(void) opaque;
	if (p == NULL)
		return;
	b = (Block *) ((char *) p - offsetof(Block, data));
	b->prev->next = b->next;
	b->next->prev = b->prev;
	free(b);
}

static void
blocks_free(void)
{
	while (blocks.next != &blocks)
		block_free(NULL, blocks.next->data);
}

static ProtobufCAllocator tracked = {block_alloc, block_free, NULL};

typedef struct Outcome
{
	EventKind	kind;
	char		reason[EVENT_REASON_MAX];
} Outcome;

/* What an event to apply must be; then its values through the renderers. */
static void
check_event(const Event *e)
{
	const Pgcdc__ChangeEvent *r = e->rec;
	char		why[128];

	RENDER_ASSERT(e->reason == NULL || memchr(e->reason, '\0', EVENT_REASON_MAX) != NULL, "a reason without its end");
	if (e->kind == EVENT_BAD)
		RENDER_ASSERT(e->reason != NULL && e->reason[0] != '\0', "a dead letter without a reason");
	if (e->kind != EVENT_UPSERT && e->kind != EVENT_DELETE)
		return;
	RENDER_ASSERT(r != NULL && e->image != NULL && r->n_columns > 0, "a change without its image");
	RENDER_ASSERT(e->image == (e->kind == EVENT_UPSERT ? r->after : r->before), "an image of the wrong side");
	for (size_t i = 0; i < r->n_columns; i++)
	{
		const Pgcdc__Value *v = e->image[i];

		RENDER_ASSERT(copytext_check(v, why, sizeof(why)), "an event to apply with a value PostgreSQL has not");
		render_value(v);
	}
	RENDER_ASSERT(event_key_cmp(e, e) == 0, "an event unequal to itself");
}

/* Both formats: a value starting with '{' goes through Debezium's reader (sink/dbzinput.c). */
static const EventInput input = {INPUT_AUTO, "__debezium_unavailable_value"};

static Outcome
decode(const uint8_t *data, size_t size, const char *role, ProtobufCAllocator *alloc, Layouts *layouts)
{
	Event		e;
	Outcome		o;

	event_decode(&e, kafkastub_message(data, size, role), 1 << 20, alloc, layouts, NULL, &input);
	check_event(&e);
	o.kind = e.kind;
	snprintf(o.reason, sizeof(o.reason), "%s", e.reason ? e.reason : "");
	event_free(&e);
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Arena *arena;		/* kept, as walsink keeps its batches' (a new one costs a 1 MB chunk) */
	Layouts    *layouts = layouts_new();
	Outcome		first = decode(data, size, NULL, &tracked, layouts);
	Outcome		again = decode(data, size, NULL, &tracked, layouts);

	if (first.kind != again.kind || strcmp(first.reason, again.reason) != 0)
	{
		fprintf(stderr, "first: %d %s\nagain: %d %s\n", first.kind, first.reason, again.kind, again.reason);
		render_fail("decoding again, with the columns cached, changed the outcome");
	}
	blocks_free();
	if (arena == NULL)
		arena = arena_new();
	decode(data, size, "old", arena_allocator(arena), layouts);
	arena_reset(arena);
	layouts_free(layouts);
	return 0;
}
