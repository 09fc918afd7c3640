/*
 * render.h — the sink fuzz targets' common end: a Value through every
 * renderer walsink has (sink/copytext.c, and sink/copybin.c for each column
 * type), and what must hold of what they write checked against oracles
 * written here independently.  A violation aborts with a message, which
 * libFuzzer reports as a crash, with the input that caused it.
 */
#ifndef PGCDC_FUZZ_RENDER_H
#define PGCDC_FUZZ_RENDER_H

#include "cdc.pb-c.h"

extern void render_value(const Pgcdc__Value *v);

/* Aborts, saying what did not hold. */
extern void render_fail(const char *what) __attribute__((noreturn));

#define RENDER_ASSERT(cond, what) ((cond) ? (void) 0 : render_fail(what))

#endif							/* PGCDC_FUZZ_RENDER_H */
