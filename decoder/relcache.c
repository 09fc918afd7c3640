/*
 * relcache.c — per-relation column metadata, type I/O and invalidation.
 *
 * Building an entry does every catalog lookup a change of that relation will
 * ever need (names, format_type, domains' base types, enum labels, key
 * columns, output functions), so encoding a row touches no catalog.
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "relcache.h"
#include "compat.h"

static HTAB *relcache = NULL;
static MemoryContext relcache_cxt = NULL;
/* The entry of the previous lookup: consecutive changes mostly share a table. */
static PgcdcRelation *last_entry = NULL;
static bool callbacks_registered = false;
/* An invalidation marked an entry since the last relcache_prune(). */
static bool prune_pending = false;

/*
 * The columns that identify a row: the replica identity index's (primary key
 * under DEFAULT), else the primary key's.  Opened without a lock, as the
 * reorder buffer opens relations.
 */
static Bitmapset *
key_columns(Relation rel, Oid *identity_index)
{
	Oid			indexoid = RelationGetReplicaIndex(rel);
	Bitmapset  *result = NULL;
	Relation	index;

	*identity_index = indexoid;
	if (!OidIsValid(indexoid))
		indexoid = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(indexoid))
		return NULL;

	index = RelationIdGetRelation(indexoid);
	if (!RelationIsValid(index))
		elog(ERROR, "could not open index with OID %u", indexoid);
	for (int i = 0; i < index->rd_index->indnkeyatts; i++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[i];

		if (attnum > 0)
			result = bms_add_member(result, attnum);
	}
	RelationClose(index);
	return result;
}

static Pgcdc__ReplicaIdentity
replica_identity(Relation rel, Oid identity_index)
{
	switch (rel->rd_rel->relreplident)
	{
		case REPLICA_IDENTITY_DEFAULT:
			return OidIsValid(identity_index) ? PGCDC__REPLICA_IDENTITY__IDENTITY_DEFAULT
				: PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING;
		case REPLICA_IDENTITY_INDEX:
			return OidIsValid(identity_index) ? PGCDC__REPLICA_IDENTITY__IDENTITY_INDEX
				: PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING;
		case REPLICA_IDENTITY_FULL:
			return PGCDC__REPLICA_IDENTITY__IDENTITY_FULL;
		default:
			return PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING;
	}
}

/*
 * Built-in types print unqualified ("text"); the others schema-qualified
 * ("public.mood"), so the name does not depend on the session's search_path.
 */
static bool
type_is_builtin(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	bool		result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	result = ((Form_pg_type) GETSTRUCT(tup))->typnamespace == PG_CATALOG_NAMESPACE;
	ReleaseSysCache(tup);
	return result;
}

/* format_type() of a type and typmod, in UTF-8. */
static char *
type_name_of(Oid typid, int32 typmod)
{
	char	   *name = format_type_extended(typid, typmod,
											FORMAT_TYPE_TYPEMOD_GIVEN |
											(type_is_builtin(typid) ? 0 : FORMAT_TYPE_FORCE_QUALIFY));

	return pgcdc_to_utf8(name, strlen(name));
}

static int
enum_sort_order_cmp(const void *a, const void *b)
{
	float4		x = (*(Form_pg_enum const *) a)->enumsortorder;
	float4		y = (*(Form_pg_enum const *) b)->enumsortorder;

	return (x > y) - (x < y);
}

/*
 * An enum's labels in their sort order: values.c keeps them by OID, which
 * is not that order once ALTER TYPE ... ADD VALUE BEFORE placed one.
 */
static void
enum_labels(Pgcdc__Column *meta, Oid enumtype)
{
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(enumtype));
	Form_pg_enum *labels = palloc(sizeof(Form_pg_enum) * Max(list->n_members, 1));

	for (int i = 0; i < list->n_members; i++)
		labels[i] = (Form_pg_enum) GETSTRUCT(&list->members[i]->tuple);
	qsort(labels, list->n_members, sizeof(Form_pg_enum), enum_sort_order_cmp);
	meta->n_enum_labels = list->n_members;
	meta->enum_labels = palloc(sizeof(char *) * Max(list->n_members, 1));
	for (int i = 0; i < list->n_members; i++)
	{
		const char *label = NameStr(labels[i]->enumlabel);

		/* A copy: the label lives in the list's tuples, released below. */
		meta->enum_labels[i] = pstrdup(pgcdc_to_utf8(label, strlen(label)));
	}
	pfree(labels);
	ReleaseSysCacheList(list);
}

static void
build_column(PgcdcColumn *col, Pgcdc__Column *meta, Form_pg_attribute att,
			 bool is_key)
{
	Oid			basetype;
	int32		basetypmod = -1;

	col->attnum = att->attnum;
	col->typlen = att->attlen;
	col->key = is_key;
	pgcdc_value_codec_init(&col->codec, att->atttypid);

	pgcdc__column__init(meta);
	meta->name = pgcdc_to_utf8(NameStr(att->attname), strlen(NameStr(att->attname)));
	meta->type_oid = att->atttypid;
	meta->type_name = type_name_of(att->atttypid, att->atttypmod);
	meta->key = is_key;
	meta->not_null = att->attnotnull;

	/* What a consumer without the catalog needs to map a domain or an enum. */
	basetype = getBaseTypeAndTypmod(att->atttypid, &basetypmod);
	if (basetype != att->atttypid)
	{
		meta->base_type_oid = basetype;
		meta->base_type_name = type_name_of(basetype, basetypmod);
	}
	if (type_is_enum(basetype))
		enum_labels(meta, basetype);
}

/*
 * Fill entry from rel, in a new memory context under parent.  The caller has
 * set entry->relid.
 */
void
pgcdc_relation_build(PgcdcRelation *entry, Relation rel, MemoryContext parent)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;
	Bitmapset  *keys;
	Oid			identity_index;
	char	   *nspname;
	int			n = 0;

	entry->cxt = AllocSetContextCreate(parent, "pgcdc relation", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entry->cxt);

	keys = key_columns(rel, &identity_index);
	entry->identity = replica_identity(rel, identity_index);
	entry->old_key_only = (entry->identity == PGCDC__REPLICA_IDENTITY__IDENTITY_DEFAULT ||
						   entry->identity == PGCDC__REPLICA_IDENTITY__IDENTITY_INDEX);
	nspname = get_namespace_name(RelationGetNamespace(rel));
	if (nspname == NULL)
		elog(ERROR, "cache lookup failed for namespace %u", RelationGetNamespace(rel));
	entry->schema = pgcdc_to_utf8(nspname, strlen(nspname));
	entry->table = pgcdc_to_utf8(RelationGetRelationName(rel),
								 strlen(RelationGetRelationName(rel)));

	entry->columns = palloc0(sizeof(PgcdcColumn) * desc->natts);
	entry->meta = palloc(sizeof(Pgcdc__Column *) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->attgenerated)
			continue;
		entry->meta[n] = palloc(sizeof(Pgcdc__Column));
		build_column(&entry->columns[n], entry->meta[n], att,
					 bms_is_member(att->attnum, keys));
		n++;
	}
	entry->ncolumns = n;
	MemoryContextSwitchTo(old);
}

/*
 * The extension's own tables (walstreamer's bookkeeping) are never part of
 * the stream or a snapshot.
 */
bool
pgcdc_relation_is_internal(Oid relid)
{
	Oid			ext = get_extension_oid("pgcdc", true);

	return OidIsValid(ext) && getExtensionOfObject(RelationRelationId, relid) == ext;
}

void
pgcdc_relation_release(PgcdcRelation *entry)
{
	if (entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	entry->cxt = NULL;
}

/*
 * Invalidation callbacks only mark entries: one can arrive in the middle of
 * a callback that holds entries (any catalog access accepts invalidations).
 * Rebuilding waits for the next use, freeing for relcache_prune().
 */
static void
invalidate_relation(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	PgcdcRelation *entry;

	if (relcache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(relcache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
		{
			entry->valid = false;
			prune_pending = true;
		}
		return;
	}
	hash_seq_init(&status, relcache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		entry->valid = false;
		prune_pending = true;
	}
}

/* A renamed schema or type, or a new enum label, changes what entries say. */
static void
invalidate_all(Datum arg, int cacheid, uint32 hashvalue)
{
	invalidate_relation(arg, InvalidOid);
}

/* The hash dies with its context, also when an error ends decoding early. */
static void
relcache_forget(void *arg)
{
	relcache = NULL;
	relcache_cxt = NULL;
	last_entry = NULL;
	prune_pending = false;
}

/*
 * Frees every entry an invalidation marked: a dropped table's is never
 * looked up again, so without this a long-lived walsender keeps one per
 * table ever dropped.  Any other marked entry would be rebuilt at its next
 * use anyway, so removing it changes nothing but when the old one is freed.
 *
 * The reorder buffer decodes each transaction inside a transaction (or,
 * from the SQL interface, a subtransaction) of its own, which it aborts once
 * the commit callback returned: then no callback holds an entry (truncate
 * holds several), so that is when this runs.  A table dropped by one
 * transaction is invalidated just after it, and freed when the next one ends.
 * (pgoutput, to PostgreSQL 18, only marks its entries, and keeps dropped
 * tables' for the session.)
 */
static void
relcache_prune(void)
{
	HASH_SEQ_STATUS status;
	PgcdcRelation *entry;

	if (relcache == NULL || !prune_pending)
		return;
	prune_pending = false;
	last_entry = NULL;
	hash_seq_init(&status, relcache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->valid)
			continue;
		pgcdc_relation_release(entry);
		/*
		 * Removing the entry just returned is allowed during a scan, and
		 * cannot fail; no elog(ERROR) here, in the middle of an abort.
		 */
		(void) hash_search(relcache, &entry->relid, HASH_REMOVE, NULL);
	}
}

static void
prune_at_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT)
		relcache_prune();
}

static void
prune_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB)
		relcache_prune();
}

void
pgcdc_relcache_create(MemoryContext parent)
{
	HASHCTL		ctl;
	MemoryContextCallback *forget = MemoryContextAlloc(parent, sizeof(MemoryContextCallback));

	forget->func = relcache_forget;
	forget->arg = NULL;
	MemoryContextRegisterResetCallback(parent, forget);
	last_entry = NULL;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PgcdcRelation);
	relcache_cxt = parent;
	ctl.hcxt = parent;
	relcache = hash_create("pgcdc relations", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* Callbacks cannot be unregistered: once per backend, guarded by relcache. */
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_relation, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, invalidate_all, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, invalidate_all, (Datum) 0);
		CacheRegisterSyscacheCallback(ENUMOID, invalidate_all, (Datum) 0);
		RegisterXactCallback(prune_at_xact_end, NULL);
		RegisterSubXactCallback(prune_at_subxact_end, NULL);
		callbacks_registered = true;
	}
}

/*
 * The entry for rel, rebuilt if it was invalidated.  A rebuilt entry has
 * schema_sent cleared so that the caller describes the relation again.
 */
PgcdcRelation *
pgcdc_relcache_get(Relation rel, const PgcdcOptions *opts)
{
	Oid			relid = RelationGetRelid(rel);
	PgcdcRelation *entry;
	bool		found;

	Assert(relcache != NULL);
	/* dynahash never moves entries; pruning, which removes some, forgets it. */
	if (last_entry != NULL && last_entry->relid == relid && last_entry->valid)
		return last_entry;
	entry = hash_search(relcache, &relid, HASH_ENTER, &found);
	last_entry = entry;
	if (found && entry->valid)
		return entry;
	if (found)
		pgcdc_relation_release(entry);
	else
		entry->cxt = NULL;

	/* Valid before building: an invalidation during the build must stick. */
	entry->valid = true;
	entry->schema_sent = false;
	pgcdc_relation_build(entry, rel, relcache_cxt);
	entry->included = !pgcdc_relation_is_internal(relid) &&
		pgcdc_options_table_included(opts, entry->schema, entry->table);
	entry->root = InvalidOid;
	entry->to_root = NULL;
	if (opts->partition_root && rel->rd_rel->relispartition)
	{
		Relation	root;
		MemoryContext old;

		entry->root = llast_oid(get_partition_ancestors(relid));
		root = RelationIdGetRelation(entry->root);
		if (!RelationIsValid(root))
			elog(ERROR, "could not open relation %u, the root of partition %u", entry->root, relid);
		/* Copies of both descriptors: the map outlives this change's relcache entries. */
		old = MemoryContextSwitchTo(entry->cxt);
		entry->to_root = convert_tuples_by_name(CreateTupleDescCopy(RelationGetDescr(rel)),
												CreateTupleDescCopy(RelationGetDescr(root)));
		MemoryContextSwitchTo(old);
		RelationClose(root);
	}
	return entry;
}

void
pgcdc_relcache_invalidate_all(void)
{
	invalidate_all((Datum) 0, 0, 0);
}

void
pgcdc_relcache_destroy(void)
{
	/* The hash and the entries' contexts go with the parent context. */
	relcache_forget(NULL);
}
