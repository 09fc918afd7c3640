/*
 * relcache.h — what the decoder knows about a relation: its columns, their
 * protobuf descriptions and each column's value codec (values.h).
 *
 * A PgcdcRelation owns one memory context holding everything it points to.
 * The decoding session keeps them in a hash keyed by relid whose entries
 * relcache/syscache invalidations only mark invalid; the next lookup rebuilds
 * them under the historic snapshot in force at that change, and the end of
 * each decoded transaction frees those still marked (a dropped table's entry
 * is never looked up again).  The SQL
 * functions build one with pgcdc_relation_build() for the span of a query.
 */
#ifndef PGCDC_DECODER_RELCACHE_H
#define PGCDC_DECODER_RELCACHE_H

#include "fmgr.h"
#include "access/tupconvert.h"
#include "utils/rel.h"

#include "cdc.pb-c.h"
#include "options.h"
#include "values.h"

typedef struct PgcdcColumn
{
	AttrNumber	attnum;
	int16		typlen;
	bool		key;
	PgcdcValueCodec codec;		/* how its values become Values */
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
	/* Option partition-root, a partition: its topmost root, whose changes its own become. */
	Oid			root;			/* InvalidOid: the relation's changes are its own */
	TupleConversionMap *to_root;	/* its tuples in the root's columns; NULL: the same columns */
	MemoryContext cxt;			/* owns all of the above but the entry */
} PgcdcRelation;

extern void pgcdc_relation_build(PgcdcRelation *entry, Relation rel,
								 MemoryContext parent);
extern bool pgcdc_relation_is_internal(Oid relid);
extern void pgcdc_relation_release(PgcdcRelation *entry);

extern void pgcdc_relcache_create(MemoryContext parent);
extern PgcdcRelation *pgcdc_relcache_get(Relation rel, const PgcdcOptions *opts);
extern void pgcdc_relcache_destroy(void);
/*
 * Every entry rebuilt at its next use, and described again: a streamed
 * transaction's blocks see the catalog as that transaction does, the others
 * as they do, so an entry built in one cannot serve the other.
 */
extern void pgcdc_relcache_invalidate_all(void);

#endif							/* PGCDC_DECODER_RELCACHE_H */
