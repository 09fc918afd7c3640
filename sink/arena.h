/*
 * arena.h — a bump allocator for one batch's decoded records.
 *
 * protobuf-c allocates every field of an unpacked record separately; a
 * batch of thousands of records freed one field at a time spent more time
 * in malloc and free (and page faults, as the heap shrank and grew again)
 * than in decoding.  Records are unpacked into the arena instead and all
 * released at once when the batch is done; the memory is kept for the next.
 */
#ifndef PGCDC_SINK_ARENA_H
#define PGCDC_SINK_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct Arena Arena;

extern Arena *arena_new(void);
extern void arena_free(Arena *a);
/* Everything allocated so far is released; the memory is kept (up to a bound). */
extern void arena_reset(Arena *a);
/* A protobuf-c allocator drawing from a (its free does nothing). */
extern ProtobufCAllocator *arena_allocator(Arena *a);
/* Bytes handed out since the last reset (what a batch's records take). */
extern size_t arena_used(const Arena *a);

#endif							/* PGCDC_SINK_ARENA_H */
