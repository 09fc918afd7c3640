/*
 * copytext.h — a record's Values as COPY text-format fields.
 *
 * Each Value is written in the form PostgreSQL's input function for its
 * kind reads back exactly (timestamps in ISO with +00, dates with BC, bytea
 * as \x hex, uuid in its usual form), escaped for COPY's text format.
 */
#ifndef PGCDC_SINK_COPYTEXT_H
#define PGCDC_SINK_COPYTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cdc.pb-c.h"

/*
 * Appends s and a terminating NUL (not counted in len), each byte that does
 * not begin a well-formed UTF-8 sequence replaced by U+FFFD: message text
 * (names, reasons) the target's text columns must accept.
 */
extern void buf_put_utf8(Buf *b, const char *s);
/* Whether s is well-formed UTF-8 throughout. */
extern bool utf8_valid(const char *s);

/*
 * Whether v is a value PostgreSQL has for its kind: a time from 00:00:00 to
 * 24:00:00, a date or timestamp in PostgreSQL's range, an infinity of known
 * sign, a numeric in numeric_out's form within numeric's limits, a uuid of
 * 16 bytes.  The decoder writes no other; a forged one is refused, with why
 * (for a dead letter), never altered to fit.
 */
extern bool copytext_check(const Pgcdc__Value *v, char *why, size_t whylen);

/*
 * Appends v as one field; NULL, unset and unchanged-TOAST values as \N.  A
 * value copytext_check refuses is written too, within bounds and without
 * breaking the COPY's framing, but as no value in particular.
 */
extern void copytext_value(Buf *b, const Pgcdc__Value *v);
/*
 * Appends v as its type's input function reads it (not escaped for COPY):
 * a statement's parameter.  False, appending nothing, for NULL, unset and
 * unchanged-TOAST values.
 */
extern bool copytext_plain(Buf *b, const Pgcdc__Value *v);
/* Appends raw text escaped for COPY. */
extern void copytext_escaped(Buf *b, const char *s, size_t n);

/* ISO forms, for tests: µs since the epoch → "1999-01-08 04:05:06.789+00"; days → "1999-01-08". */
extern size_t copytext_timestamp(char *out, int64_t usecs);
extern size_t copytext_date(char *out, int32_t days);

#endif							/* PGCDC_SINK_COPYTEXT_H */
