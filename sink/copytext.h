/*
 * copytext.h — a record's Values as COPY text-format fields.
 *
 * Each Value is written in the form PostgreSQL's input function for its
 * kind reads back exactly (timestamps in ISO with +00, dates with BC, bytea
 * as \x hex, uuid in its usual form), escaped for COPY's text format.
 */
#ifndef PGCDC_COPYTEXT_H
#define PGCDC_COPYTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc.pb-c.h"

/* A growable byte buffer; zero-initialised is empty. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

extern void buf_reserve(Buf *b, size_t more);
extern void buf_append(Buf *b, const void *p, size_t n);
extern void buf_putc(Buf *b, char c);
extern void buf_free(Buf *b);

/*
 * Appends s and a terminating NUL (not counted in len), each byte that does
 * not begin a well-formed UTF-8 sequence replaced by U+FFFD: message text
 * (names, reasons) the target's text columns must accept.
 */
extern void buf_put_utf8(Buf *b, const char *s);
/* Whether s is well-formed UTF-8 throughout. */
extern bool utf8_valid(const char *s);

/* Appends v as one field; NULL, unset and unchanged-TOAST values as \N. */
extern void copytext_value(Buf *b, const Pgcdc__Value *v);
/* Appends raw text escaped for COPY. */
extern void copytext_escaped(Buf *b, const char *s, size_t n);

/* ISO forms, for tests: µs since the epoch → "1999-01-08 04:05:06.789+00"; days → "1999-01-08". */
extern size_t copytext_timestamp(char *out, int64_t usecs);
extern size_t copytext_date(char *out, int32_t days);

#endif							/* PGCDC_COPYTEXT_H */
