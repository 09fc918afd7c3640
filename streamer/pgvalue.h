/*
 * pgvalue.h — a column's value, as pgoutput sends it in text, made into the
 * same Value (proto/cdc.proto) as the pgcdc plugin makes from the datum
 * (decoder/values.c): the canonical encodings, so that a row, and a key's
 * partition, come out the same whichever plugin read them.
 *
 * The text is the type's output function's, in the replication session's
 * settings, which walstreamer sets to the plugin's: DateStyle ISO, TimeZone
 * UTC, IntervalStyle postgres, extra_float_digits 1, bytea_output hex,
 * lc_monetary C.  Pure functions on bytes.
 */
#ifndef PGCDC_STREAMER_PGVALUE_H
#define PGCDC_STREAMER_PGVALUE_H

/* Those settings, for a session whose values are read in text (the replication session, the snapshot's). */
#define PGVALUE_SESSION_SQL \
	"SET DateStyle = 'ISO, YMD'; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; " \
	"SET extra_float_digits = 1; SET bytea_output = hex; SET lc_monetary = 'C'; " \
	"SET client_encoding = 'UTF8'"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a type's values are encoded (decoder/values.c's classes, by base type). */
typedef enum PgvClass
{
	PGV_BOOL,
	PGV_INT,					/* int2, int4, int8, oid */
	PGV_FLOAT4,
	PGV_FLOAT8,
	PGV_NUMERIC,
	PGV_TIMESTAMP,				/* timestamp, timestamptz */
	PGV_DATE,
	PGV_TIME,
	PGV_TEXT,					/* text, varchar, char(n), json; enum labels */
	PGV_UUID,
	PGV_BYTEA,
	PGV_OUTPUT					/* any other type: its text output as is */
} PgvClass;

/* The class of a built-in type (a domain's base type, resolved by the caller; an enum is PGV_TEXT). */
extern PgvClass pgvalue_class(uint32_t type_oid);

/* The most bytes pgvalue_body writes for a text of len bytes. */
#define PGVALUE_BODY_MAX(len) ((len) + 16)

/*
 * The body of the Value (its one field, tag included) for text[0..len), at
 * out; returns its size, or 0 with err when the text is not one the class's
 * output function makes.
 */
extern size_t pgvalue_body(PgvClass c, const char *text, size_t len, uint8_t *out, char *err, size_t errlen);
/* The body of a NULL, and of an unchanged TOASTed value. */
extern size_t pgvalue_null(uint8_t *out);
extern size_t pgvalue_unchanged(uint8_t *out);

#endif							/* PGCDC_STREAMER_PGVALUE_H */
