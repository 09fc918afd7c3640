/*
 * relcache.h — what the decoder knows about a relation: its columns, their
 * protobuf descriptions and how to encode each column's values.
 *
 * A PgcdcRelation owns one memory context holding everything it points to.
 * The decoding session keeps them in a hash keyed by relid whose entries
 * relcache/syscache invalidations only mark invalid; the next lookup rebuilds
 * them under the historic snapshot in force at that change, and the end of
 * each decoded transaction frees those still marked (a dropped table's entry
 * is never looked up again).  The SQL
 * functions build one with pgcdc_relation_build() for the span of a query.
 */
#ifndef PGCDC_RELCACHE_H
#define PGCDC_RELCACHE_H

#include "fmgr.h"
#include "utils/rel.h"

#include "cdc.pb-c.h"
#include "options.h"

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

typedef struct PgcdcColumn
{
	AttrNumber	attnum;
	int16		typlen;
	bool		key;
	PgcdcValueClass vclass;
	FmgrInfo	outfunc;		/* for PGCDC_VC_OUTPUT and fallbacks */
	/* PGCDC_VC_ENUM: the type's labels, sorted by OID (UTF-8). */
	int			nlabels;
	Oid		   *label_oids;
	char	  **labels;
} PgcdcColumn;

typedef struct PgcdcRelation
{
	Oid			relid;			/* hash key, must be first */
	bool		valid;			/* cleared by invalidation callbacks */
	bool		schema_sent;	/* RELATION record written this session */
	bool		included;		/* passes the table filters */
	char	   *schema;			/* UTF-8 */
	char	   *table;			/* UTF-8 */
	Pgcdc__ReplicaIdentity identity;
	bool		old_key_only;	/* old images hold only key columns */
	int			ncolumns;		/* live, non-generated columns */
	PgcdcColumn *columns;
	Pgcdc__Column **meta;		/* protobuf description of each column */
	MemoryContext cxt;			/* owns all of the above but the entry */
} PgcdcRelation;

extern void pgcdc_relation_build(PgcdcRelation *entry, Relation rel,
								 MemoryContext parent);
extern bool pgcdc_relation_is_internal(Oid relid);
extern void pgcdc_relation_release(PgcdcRelation *entry);

extern const char *pgcdc_column_enum_label(const PgcdcColumn *col, Oid label);

extern void pgcdc_relcache_create(MemoryContext parent);
extern PgcdcRelation *pgcdc_relcache_get(Relation rel, const PgcdcOptions *opts);
extern void pgcdc_relcache_destroy(void);

/* Convert a server-encoded string to UTF-8 (no copy when already UTF-8). */
extern char *pgcdc_to_utf8(const char *s, int len);

#endif							/* PGCDC_RELCACHE_H */
