/*
 * xalloc.c — allocations that cannot fail (see xalloc.h for why).
 */
#define _POSIX_C_SOURCE 200809L

#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Written straight to stderr, without the log module: formatting a log line
 * may need the memory that is missing.
 */
static void
out_of_memory(size_t size)
{
	fprintf(stderr, "FATAL: out of memory (%zu bytes wanted)\n", size);
	abort();
}

void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	   *p;

	if (size != 0 && n > SIZE_MAX / size)
		out_of_memory(SIZE_MAX);
	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		out_of_memory(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n, size_t size)
{
	void	   *q;

	if (size != 0 && n > SIZE_MAX / size)
		out_of_memory(SIZE_MAX);
	if ((q = realloc(p, n != 0 && size != 0 ? n * size : 1)) == NULL)
		out_of_memory(n * size);
	return q;
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t n)
{
	size_t		len = strnlen(s, n);
	char	   *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *
xmemdup(const void *p, size_t n)
{
	void	   *q = xmalloc(n);

	if (n > 0)
		memcpy(q, p, n);
	return q;
}
