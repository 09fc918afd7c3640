/*
 * jsonout.h — JSON text appended to a Buf, as Kafka Connect's JsonConverter
 * (Jackson) writes it: strings escaped as Jackson escapes them, bytes as
 * standard base64 with padding, floating-point numbers in their shortest
 * form that reads back to the same value, non-finite ones as the strings
 * "NaN", "Infinity" and "-Infinity".
 */
#ifndef PGCDC_STREAMER_JSONOUT_H
#define PGCDC_STREAMER_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A JSON string of n bytes of UTF-8 (quotes included). */
extern void json_str(Buf *b, const char *s, size_t n);
/* The same for a NUL-terminated string. */
extern void json_cstr(Buf *b, const char *s);
/* A JSON string of the base64 of n bytes. */
extern void json_base64(Buf *b, const uint8_t *p, size_t n);
/* The same in the URL-safe alphabet (- and _ for + and /), padded, as Java's Base64.getUrlEncoder(). */
extern void json_base64_url(Buf *b, const uint8_t *p, size_t n);
/* A JSON string of n bytes in lower-case hex. */
extern void json_hex(Buf *b, const uint8_t *p, size_t n);
extern void json_i64(Buf *b, int64_t v);
extern void json_u64(Buf *b, uint64_t v);
/* A double; single: the value is a float4's, written in float4's shortest form. */
extern void json_double(Buf *b, double v, bool single);

#endif							/* PGCDC_STREAMER_JSONOUT_H */
