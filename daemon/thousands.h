/*
 * thousands.h — how the daemons write a count of bytes for people: with
 * thousands separators, "2,097,152", as walstreamer's and walsink's
 * messages about oversized changes both show them.
 *
 * static inline, like proto/wire.h: the unit and fuzz builds that compile
 * one daemon file alone (sink/event.c) need no other file for it.  The
 * caller owns out.
 */
#ifndef PGCDC_DAEMON_THOUSANDS_H
#define PGCDC_DAEMON_THOUSANDS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

/* Room for the largest uint64_t: 20 digits, 6 separators, the NUL. */
#define THOUSANDS_LEN 27

/* n with thousands separators, into out (THOUSANDS_LEN bytes); returns out. */
static inline const char *
thousands_format(char *out, uint64_t n)
{
	char		digits[24];
	int			len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t		at = 0;

	for (int i = 0; i < len; i++)
	{
		out[at++] = digits[i];
		if ((len - i - 1) % 3 == 0 && i < len - 1)
			out[at++] = ',';
	}
	out[at] = '\0';
	return out;
}

#endif							/* PGCDC_DAEMON_THOUSANDS_H */
