/*
 * dbztype.h — a column's type as Debezium's PostgreSQL connector maps it:
 * its Kafka Connect schema, and each of its values (a pgcdc Value) in the
 * JSON that Kafka Connect's JsonConverter writes for that schema.
 *
 * The mapping is Debezium's defaults (decimal.handling.mode = precise,
 * time.precision.mode = adaptive, binary.handling.mode = bytes,
 * hstore.handling.mode = json, interval.handling.mode = numeric), taken
 * from the messages of tests/debezium/fixtures.  A domain maps as its base
 * type, an enum carries its labels (Column.enum_labels); a type Debezium
 * does not know travels as its text.
 */
#ifndef PGCDC_STREAMER_DBZTYPE_H
#define PGCDC_STREAMER_DBZTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "record.h"

typedef enum DbzKind
{
	DBZ_STRING,					/* text and everything that travels as its text */
	DBZ_BOOLEAN,
	DBZ_INT16,
	DBZ_INT32,
	DBZ_INT64,
	DBZ_FLOAT32,
	DBZ_FLOAT64,
	DBZ_VARIABLE_DECIMAL,		/* numeric without a scale: {scale, value} */
	DBZ_DECIMAL,				/* numeric(p,s), money: the unscaled value's bytes */
	DBZ_BYTES,
	DBZ_UUID,
	DBZ_JSON,					/* json, jsonb */
	DBZ_XML,
	DBZ_ENUM,
	DBZ_DATE,					/* days since 1970-01-01 */
	DBZ_TIME_MS,				/* time(0..3): ms since midnight, int32 */
	DBZ_TIME_US,				/* time: µs since midnight */
	DBZ_ZONED_TIME,				/* timetz: "HH:MM:SS[.f]Z" in UTC */
	DBZ_TIMESTAMP_MS,			/* timestamp(0..3): ms since the epoch */
	DBZ_TIMESTAMP_US,			/* timestamp: µs since the epoch */
	DBZ_ZONED_TIMESTAMP,		/* timestamptz: ISO 8601 in UTC */
	DBZ_DURATION,				/* interval: µs, a month being 365.25 / 12 days */
	DBZ_HSTORE,					/* a JSON object as a string */
	DBZ_BITS,					/* bit(n > 1), varbit: bytes, least significant first */
	DBZ_POINT,					/* {x, y, wkb, srid} */
	DBZ_ARRAY,					/* elements of kind `elem` */
	DBZ_OMIT,					/* a type Debezium has no schema for (money[], interval[]...): the column is left out */
	/* The other modes' forms (DbzModes) */
	DBZ_DECIMAL_STRING,			/* decimal.handling.mode = string: the plain decimal text */
	DBZ_DECIMAL_DOUBLE,			/* decimal.handling.mode = double */
	DBZ_CONNECT_DATE,			/* time.precision.mode = connect: Kafka Connect's Date, days */
	DBZ_CONNECT_TIME,			/* its Time, ms since midnight */
	DBZ_CONNECT_TIMESTAMP,		/* its Timestamp, ms since the epoch */
	DBZ_BINARY_TEXT,			/* binary.handling.mode = base64, base64-url-safe or hex: a string */
	DBZ_HSTORE_MAP,				/* hstore.handling.mode = map: a JSON object */
	DBZ_INTERVAL_STRING			/* interval.handling.mode = string: ISO 8601, "P1Y2M3DT4H5M6.789S" */
} DbzKind;

/* Debezium's type modes, its connector's settings of the same names (defaults first). */
typedef enum DbzDecimalMode
{
	DBZ_DECIMAL_PRECISE, DBZ_DECIMAL_MODE_STRING, DBZ_DECIMAL_MODE_DOUBLE
} DbzDecimalMode;
typedef enum DbzTimeMode
{
	DBZ_TIME_ADAPTIVE, DBZ_TIME_ADAPTIVE_MICROSECONDS, DBZ_TIME_CONNECT
} DbzTimeMode;
typedef enum DbzBinaryMode
{
	DBZ_BINARY_BYTES, DBZ_BINARY_BASE64, DBZ_BINARY_BASE64_URL, DBZ_BINARY_HEX
} DbzBinaryMode;

typedef struct DbzModes
{
	DbzDecimalMode decimal;		/* decimal.handling.mode */
	DbzTimeMode time;			/* time.precision.mode */
	DbzBinaryMode binary;		/* binary.handling.mode */
	bool		hstore_map;		/* hstore.handling.mode = map (else json) */
	bool		interval_string;	/* interval.handling.mode = string (else numeric) */
} DbzModes;

typedef struct DbzType
{
	DbzKind		kind;
	DbzKind		elem;			/* DBZ_ARRAY */
	int			precision;		/* DBZ_DECIMAL: 0 when the type has none (money) */
	int			scale;			/* DBZ_DECIMAL */
	long		length;			/* DBZ_BITS: the bit string's declared length */
	DbzBinaryMode binary;		/* DBZ_BINARY_TEXT */
	char	   *allowed;		/* DBZ_ENUM: its labels, comma-separated (malloc'd) */
} DbzType;

/* A RELATION record's Column as Debezium types it. */
typedef struct DbzColumn
{
	char	   *name;			/* malloc'd */
	bool		key;
	bool		optional;		/* not NOT NULL */
	bool		masked;			/* its values masked (colpolicy.h): a character column's */
	DbzType		type;
} DbzColumn;

/*
 * Reads a Column's bytes into c, typed as the modes say (NULL: Debezium's
 * defaults); false when they are not a well-formed Column.
 */
extern bool dbz_column_read(Span column, const DbzModes *modes, DbzColumn *c);
extern void dbz_column_clear(DbzColumn *c);

/*
 * The field's schema: {"type":...,"optional":...,[name, version, parameters,] "field":"<name>"};
 * a masked column's parameters say "masked", as Debezium's.
 */
extern void dbz_column_schema(const DbzColumn *c, Buf *out);
/* The same schema as a value's own, without the field's name: {"type":...,"optional":...[,...]}. */
extern void dbz_value_schema(const DbzColumn *c, Buf *out);

/*
 * A value of the column as JSON.  An unchanged TOASTed value becomes the
 * placeholder, in the column's type as Debezium writes it.  False, with
 * err, when the value is not one the column's type can hold (a text that
 * does not read as the type's output): the caller stops rather than write
 * a wrong value.
 */
extern bool dbz_value(const DbzType *t, Span value, const char *placeholder, Buf *out,
					  char *err, size_t errlen);

/*
 * What Debezium writes for a NOT NULL column whose value an old image does
 * not carry (REPLICA IDENTITY DEFAULT, a non-key column): its Connect
 * type's empty value, as its schema may not be null ("" for a plain
 * string, 0, 0.0, false; tests/debezium/fixtures, the outbox table's
 * delete), and null for the types whose fallback the recording does not
 * show (logical strings such as a zoned timestamp, bytes, structs, arrays,
 * maps).
 */
extern void dbz_unlogged(const DbzType *t, Buf *out);

/* A uuid's 16 bytes in their usual text form (8-4-4-4-12 lower-case hex), appended to out. */
extern void dbz_uuid_text(const uint8_t *b, Buf *out);

/* Whether a Value's bytes say: unchanged TOASTed value. */
extern bool dbz_value_unchanged(Span value);

#endif							/* PGCDC_STREAMER_DBZTYPE_H */
