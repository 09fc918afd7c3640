/*
 * unit.h — the C unit tests' one assertion: CHECK(cond, printf-args) counts,
 * reports a failure with its place and message, and is true when cond held,
 * so a loop can stop at its first failure.  unit_summary() prints
 * "NAME: N checks, M failed" and gives main's exit status.
 */
#ifndef PGCDC_UNIT_UNIT_H
#define PGCDC_UNIT_UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int	unit_checks = 0;
static int	unit_failures = 0;

__attribute__((format(printf, 3, 4)))
static inline bool
unit_fail(const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unit_failures++;
	return false;
}

#define CHECK(cond, ...) \
	(unit_checks++, (cond) ? true : unit_fail(__FILE__, __LINE__, __VA_ARGS__))

static inline int
unit_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, unit_checks, unit_failures);
	return unit_failures == 0 ? 0 : 1;
}

#endif							/* PGCDC_UNIT_UNIT_H */
