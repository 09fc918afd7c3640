/*
 * pgowrite.h — pgoutput messages written byte by byte as the server's
 * pq_send* functions write them (big-endian integers, NUL-terminated
 * strings), for the unit tests of walstreamer's pgoutput reader and of its
 * records (test_pgoutput.c, test_pgorecords.c).
 */
#ifndef PGCDC_UNIT_PGOWRITE_H
#define PGCDC_UNIT_PGOWRITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A message being written, as the server's pq_send* would. */
typedef struct Out
{
	uint8_t		buf[1024];
	size_t		len;
} Out;

static inline void
put8(Out *o, unsigned v)
{
	o->buf[o->len++] = (uint8_t) v;
}

static inline void
put16(Out *o, unsigned v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static inline void
put32(Out *o, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		put8(o, (v >> (i * 8)) & 0xff);
}

static inline void
put64(Out *o, uint64_t v)
{
	put32(o, (uint32_t) (v >> 32));
	put32(o, (uint32_t) v);
}

static inline void
putstr(Out *o, const char *s)
{
	memcpy(o->buf + o->len, s, strlen(s) + 1);
	o->len += strlen(s) + 1;
}

static inline void
putbytes(Out *o, const void *b, size_t n)
{
	memcpy(o->buf + o->len, b, n);
	o->len += n;
}

#endif							/* PGCDC_UNIT_PGOWRITE_H */
