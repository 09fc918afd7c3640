/*
 * values.h — PostgreSQL values as protobuf Values: which kind of Value a
 * column's type becomes (its codec, chosen once per relation) and a datum
 * encoded with it.
 *
 * The decoder's one type mapping: a PostgreSQL type that travels as an
 * existing kind is a case of value_class() here; a new kind of Value is
 * added here, in proto/cdc.proto, and in walsink's two COPY renderers
 * (sink/copytext.c, sink/copybin.c) — see ARCHITECTURE.md.
 */
#ifndef PGCDC_DECODER_VALUES_H
#define PGCDC_DECODER_VALUES_H

#include "fmgr.h"
#include "datatype/timestamp.h"

#include "cdc.pb-c.h"

/* How a column's values travel (Value.kind); chosen from the base type. */
typedef enum PgcdcValueClass
{
	PGCDC_VC_BOOL,
	PGCDC_VC_INT2,
	PGCDC_VC_INT4,
	PGCDC_VC_INT8,
	PGCDC_VC_OID,
	PGCDC_VC_FLOAT4,
	PGCDC_VC_FLOAT8,
	PGCDC_VC_NUMERIC,
	PGCDC_VC_TIMESTAMP,			/* timestamp and timestamptz */
	PGCDC_VC_DATE,
	PGCDC_VC_TIME,
	PGCDC_VC_TEXT,				/* varlena whose bytes are its text form */
	PGCDC_VC_UUID,
	PGCDC_VC_BYTEA,
	PGCDC_VC_ENUM,				/* label from the column's label table */
	PGCDC_VC_OUTPUT				/* the type's output function */
} PgcdcValueClass;

/* How one column's values are encoded; everything it points to lives with it. */
typedef struct PgcdcValueCodec
{
	PgcdcValueClass vclass;
	FmgrInfo	outfunc;		/* for PGCDC_VC_OUTPUT and fallbacks */
	/* PGCDC_VC_ENUM: the type's labels, sorted by OID (UTF-8). */
	int			nlabels;
	Oid		   *label_oids;
	char	  **labels;
} PgcdcValueCodec;

extern void pgcdc_value_codec_init(PgcdcValueCodec *codec, Oid typid);
/* d (not NULL, not an unfetched TOAST pointer) as v; strings may point into d. */
extern void pgcdc_value_encode(const PgcdcValueCodec *codec, Datum d, Pgcdc__Value *v);

/* A PostgreSQL timestamp as µs since the Unix epoch. */
extern int64 pgcdc_unix_usecs(TimestampTz ts);
/* Convert a server-encoded string to UTF-8 (no copy when already UTF-8). */
extern char *pgcdc_to_utf8(const char *s, int len);

#endif							/* PGCDC_DECODER_VALUES_H */
