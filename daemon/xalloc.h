/*
 * xalloc.h — the daemons' one allocation policy: allocations that cannot
 * fail.
 *
 * Out of memory, a daemon logs it and aborts.  Nothing is lost by that:
 * walstreamer reports to the source only what Kafka acknowledged, walsink
 * stores a position only in the transaction that applied it, so a restart
 * (by the supervisor) resumes where they stood.  Carrying NULL back through
 * every caller would buy nothing but untested paths.  Every malloc, calloc,
 * realloc and strdup of the daemons goes through these; library allocators
 * (libpq's, librdkafka's, protobuf-c's with its own allocator) are checked
 * where they are called.
 */
#ifndef PGCDC_DAEMON_XALLOC_H
#define PGCDC_DAEMON_XALLOC_H

#include <stddef.h>

extern void *xmalloc(size_t size);
/* Zeroed; n * size checked for overflow. */
extern void *xcalloc(size_t n, size_t size);
/* n * size checked for overflow; p may be NULL. */
extern void *xrealloc(void *p, size_t n, size_t size);
extern char *xstrdup(const char *s);
/* The first n bytes of s (fewer at a NUL), NUL-terminated. */
extern char *xstrndup(const char *s, size_t n);
/* A copy of p[0..n) (n may be 0: a valid pointer to nothing). */
extern void *xmemdup(const void *p, size_t n);

#endif							/* PGCDC_DAEMON_XALLOC_H */
