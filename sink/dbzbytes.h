/*
 * dbzbytes.h — what Debezium's messages encode as text or bytes, decoded:
 * base64 (either alphabet), hex, and a decimal's unscaled value (Java's
 * BigInteger.toByteArray()) with its scale as decimal text.  What they
 * return is allocated with the batch's allocator.  sink/dbzinput.c and
 * sink/dbzfit.c share them.
 */
#ifndef PGCDC_SINK_DBZBYTES_H
#define PGCDC_SINK_DBZBYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* n bytes of base64 (standard or URL-safe, padded or not); false when s[0..n) is none. */
extern bool dbzbytes_base64(ProtobufCAllocator *a, const char *s, size_t n, uint8_t **out, size_t *outlen);
/* n bytes of hex, two digits a byte; false when s[0..n) is none. */
extern bool dbzbytes_hex(ProtobufCAllocator *a, const char *s, size_t n, uint8_t **out, size_t *outlen);
/* Big-endian two's complement bytes and a scale as decimal text: "-12.34". */
extern char *dbzbytes_decimal(ProtobufCAllocator *a, const uint8_t *b, size_t n, long scale);

#endif							/* PGCDC_SINK_DBZBYTES_H */
