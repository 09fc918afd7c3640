/*
 * sqlfuncs.c — the extension's SQL functions.
 *
 * pgcdc.read_record(row) encodes one table row as an OP_READ record with the
 * encoder the output plugin uses, under the caller's snapshot: a snapshot
 * is `SELECT pgcdc.read_record(t.*, lsn) FROM tab t` in a transaction that
 * imported the slot's exported snapshot.  pgcdc.relation_record() gives the
 * matching OP_RELATION record and pgcdc.to_json() renders any record.
 *
 * The functions that open a table check first, before any lock, that the
 * caller may SELECT it: they run with the caller's rights (EXECUTE is
 * granted to PUBLIC), and without the check any role with USAGE on the
 * schema could lock any table, or read a row through its row type.
 * to_json() reads no table; table_included() only reads names, as pg_class
 * does for everyone, and takes no lock.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/acl.h"

#include "nodes/makefuncs.h"

#include "encode.h"
#include "options.h"
#include "json.h"
#include "relcache.h"
#include "compat.h"

PG_FUNCTION_INFO_V1(pgcdc_to_json);
PG_FUNCTION_INFO_V1(pgcdc_read_record);
PG_FUNCTION_INFO_V1(pgcdc_relation_record);
PG_FUNCTION_INFO_V1(pgcdc_table_included);

static void *
palloc_alloc(void *data, size_t size)
{
	return palloc(size);
}

static void
palloc_free(void *data, void *ptr)
{
	pfree(ptr);
}

static ProtobufCAllocator palloc_allocator = {palloc_alloc, palloc_free, NULL};

static bytea *
record_to_bytea(const Pgcdc__ChangeEvent *ev)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	pgcdc_append_record(&buf, ev, PGCDC_FORMAT_PROTOBUF);
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

Datum
pgcdc_to_json(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	Pgcdc__ChangeEvent *ev;
	StringInfoData buf;

	ev = pgcdc__change_event__unpack(&palloc_allocator, VARSIZE_ANY_EXHDR(raw),
									 (const uint8_t *) VARDATA_ANY(raw));
	if (ev == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid pgcdc record"),
				 errdetail("The %d bytes do not decode as a ChangeEvent.",
						   (int) VARSIZE_ANY_EXHDR(raw))));
	if (ev->version != PGCDC_RECORD_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("pgcdc record version %u is not supported", ev->version),
				 errdetail("This pgcdc reads record version %d.", PGCDC_RECORD_VERSION)));
	initStringInfo(&buf);
	pgcdc_json_append(&buf, ev);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/* Errors unless the current user may SELECT relid; takes no lock. */
static void
check_select(Oid relid, const char *function)
{
	char	   *name;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return;
	name = get_rel_name(relid);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for table \"%s\"", name ? name : "?"),
			 errdetail("%s reads a table only for a role with SELECT on it.", function)));
}

/* What read_record keeps in fn_extra for the span of a query. */
typedef struct ReadRecordCache
{
	Oid			rowtype;
	TupleDesc	desc;
	PgcdcRelation rel;
	char	   *database;
} ReadRecordCache;

static ReadRecordCache *
read_record_cache(FunctionCallInfo fcinfo, Oid rowtype)
{
	ReadRecordCache *cache = fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Relation	rel;
	Oid			relid;
	char	   *dbname;

	if (cache != NULL && cache->rowtype == rowtype)
		return cache;

	relid = typeidTypeRelid(rowtype);
	if (!OidIsValid(relid) || get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pgcdc.read_record() needs a row of a table, not of type %s",
						format_type_be(rowtype)),
				 errhint("Pass the table's alias: SELECT pgcdc.read_record(t) FROM tab t.")));
	check_select(relid, "pgcdc.read_record()");

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache == NULL)
		cache = palloc0(sizeof(ReadRecordCache));
	else
		pgcdc_relation_release(&cache->rel);
	rel = relation_open(relid, AccessShareLock);
	cache->rowtype = rowtype;
	cache->desc = CreateTupleDescCopy(RelationGetDescr(rel));
	cache->rel.relid = relid;
	pgcdc_relation_build(&cache->rel, rel, fcinfo->flinfo->fn_mcxt);
	relation_close(rel, AccessShareLock);
	dbname = get_database_name(MyDatabaseId);
	cache->database = pgcdc_to_utf8(dbname, strlen(dbname));
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * read_record(row record, consistent_lsn pg_lsn, inline_schema boolean)
 * returns bytea: one OP_READ record.
 */
Datum
pgcdc_read_record(PG_FUNCTION_ARGS)
{
	HeapTupleHeader td = PG_GETARG_HEAPTUPLEHEADER(0);
	XLogRecPtr	lsn = PG_GETARG_LSN(1);
	bool		inline_schema = PG_GETARG_BOOL(2);
	ReadRecordCache *cache = read_record_cache(fcinfo, HeapTupleHeaderGetTypeId(td));
	HeapTupleData tuple;
	Pgcdc__ChangeEvent ev;
	int			nestlevel;
	bytea	   *result;

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = cache->rel.relid;
	tuple.t_data = td;

	pgcdc_event_init(&ev, PGCDC__OP__OP_READ);
	ev.database = cache->database;
	ev.commit_lsn = lsn;
	ev.lsn = lsn;
	ev.commit_ts = pgcdc_unix_usecs(GetCurrentTransactionStartTimestamp());
	ev.snapshot = true;
	pgcdc_event_set_relation(&ev, &cache->rel, inline_schema);

	/*
	 * XXX In a session whose settings differ from the stable ones this costs
	 * six GUC changes per row; a snapshot session should set DateStyle ISO,
	 * IntervalStyle postgres, TimeZone UTC, extra_float_digits 1,
	 * bytea_output hex and lc_monetary C once, and then nothing is changed.
	 */
	nestlevel = pgcdc_stable_output_begin();
	pgcdc_event_set_image(&cache->rel, cache->desc, &tuple, false, &ev.n_after, &ev.after);
	pgcdc_stable_output_end(nestlevel);

	result = record_to_bytea(&ev);
	PG_RETURN_BYTEA_P(result);
}

/* relation_record(rel regclass) returns bytea: the OP_RELATION record of rel. */
Datum
pgcdc_relation_record(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	PgcdcRelation entry = {0};
	Pgcdc__ChangeEvent ev;
	char	   *dbname = get_database_name(MyDatabaseId);
	bytea	   *result;

	check_select(relid, "pgcdc.relation_record()");
	rel = relation_open(relid, AccessShareLock);

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel))));
	entry.relid = relid;
	pgcdc_relation_build(&entry, rel, CurrentMemoryContext);
	pgcdc_event_init(&ev, PGCDC__OP__OP_RELATION);
	ev.database = pgcdc_to_utf8(dbname, strlen(dbname));
	pgcdc_event_set_relation(&ev, &entry, true);
	result = record_to_bytea(&ev);
	pgcdc_relation_release(&entry);
	relation_close(rel, AccessShareLock);
	PG_RETURN_BYTEA_P(result);
}

/*
 * table_included(rel regclass, include text, exclude text) returns boolean:
 * whether the output plugin, given these include-tables / exclude-tables
 * options, streams rel.  walstreamer asks it which tables to snapshot, so
 * the snapshot and the stream cannot disagree.
 */
Datum
pgcdc_table_included(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	List	   *defels = NIL;
	PgcdcOptions opts;
	char	   *nspname;
	char	   *relname;

	if (!PG_ARGISNULL(1))
		defels = lappend(defels, makeDefElem("include-tables",
											 (Node *) makeString(text_to_cstring(PG_GETARG_TEXT_PP(1))), -1));
	if (!PG_ARGISNULL(2))
		defels = lappend(defels, makeDefElem("exclude-tables",
											 (Node *) makeString(text_to_cstring(PG_GETARG_TEXT_PP(2))), -1));
	pgcdc_options_parse(defels, &opts);
	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	if (nspname == NULL || relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	PG_RETURN_BOOL(!pgcdc_relation_is_internal(relid) &&
				   pgcdc_options_table_included(&opts, pgcdc_to_utf8(nspname, strlen(nspname)),
												pgcdc_to_utf8(relname, strlen(relname))));
}
