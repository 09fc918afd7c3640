/*
 * buf.c — a growable byte buffer.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void
buf_reserve(Buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	b->cap = b->cap ? b->cap : 256;
	while (b->cap < b->len + more)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap, 1);
}

void
buf_append(Buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;					/* p may be NULL then (an empty bytea), which memcpy must not get */
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_putc(Buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
}

void
buf_puts(Buf *b, const char *s)
{
	size_t		n = strlen(s);

	buf_reserve(b, n + 1);
	memcpy(b->data + b->len, s, n + 1);
	b->len += n;
}

void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
