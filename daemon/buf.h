/*
 * buf.h — a growable byte buffer, the daemons' one: SQL text, COPY data,
 * keys, masked conninfo strings.
 *
 * A zero-initialised Buf is empty; its data belongs to it until buf_free.
 * Growth cannot fail (xalloc.h).
 */
#ifndef PGCDC_DAEMON_BUF_H
#define PGCDC_DAEMON_BUF_H

#include <stddef.h>

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

/* Room for more bytes after len. */
extern void buf_reserve(Buf *b, size_t more);
/* p may be NULL when n is 0. */
extern void buf_append(Buf *b, const void *p, size_t n);
extern void buf_putc(Buf *b, char c);
/* Appends s and keeps data NUL-terminated (the NUL not counted in len). */
extern void buf_puts(Buf *b, const char *s);
/* Appends printf's output, NUL-terminated as buf_puts. */
extern void buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void buf_free(Buf *b);

#endif							/* PGCDC_DAEMON_BUF_H */
