/*
 * encode.c — rows into ChangeEvents (each value through values.h) and
 * ChangeEvents into bytes.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "miscadmin.h"
#include "utils/bytea.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/pg_locale.h"

#include "encode.h"
#include "json.h"
#include "pack.h"
#include "compat.h"

void
pgcdc_event_init(Pgcdc__ChangeEvent *ev, Pgcdc__Op op)
{
	*ev = (Pgcdc__ChangeEvent) PGCDC__CHANGE_EVENT__INIT;
	ev->version = PGCDC_RECORD_VERSION;
	ev->op = op;
}

void
pgcdc_event_set_relation(Pgcdc__ChangeEvent *ev, const PgcdcRelation *rel, bool with_columns)
{
	ev->schema = rel->schema;
	ev->table = rel->table;
	ev->relid = rel->relid;
	if (with_columns)
	{
		ev->replica_identity = rel->identity;
		ev->n_columns = rel->ncolumns;
		ev->columns = rel->meta;
	}
}

/*
 * One Value per column of rel from tuple.  key_only leaves non-key columns
 * empty, for old images that PostgreSQL logged under REPLICA IDENTITY
 * DEFAULT or USING INDEX.  An out-of-line value that is not in the tuple's
 * WAL record is marked unchanged_toast and never fetched.
 */
void
pgcdc_event_set_image(const PgcdcRelation *rel, TupleDesc desc, HeapTuple tuple,
					  bool key_only, size_t *n_values, Pgcdc__Value ***values)
{
	Datum	   *datums = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	Pgcdc__Value *vals = palloc(sizeof(Pgcdc__Value) * rel->ncolumns);
	Pgcdc__Value **ptrs = palloc(sizeof(Pgcdc__Value *) * rel->ncolumns);

	heap_deform_tuple(tuple, desc, datums, nulls);
	for (int i = 0; i < rel->ncolumns; i++)
	{
		const PgcdcColumn *col = &rel->columns[i];
		Pgcdc__Value *v = &vals[i];
		int			att = col->attnum - 1;

		*v = (Pgcdc__Value) PGCDC__VALUE__INIT;
		ptrs[i] = v;
		if (key_only && !col->key)
			continue;
		if (nulls[att])
		{
			v->kind_case = PGCDC__VALUE__KIND_IS_NULL;
			v->is_null = true;
		}
		else if (col->typlen == -1 &&
				 VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(datums[att])))
		{
			v->kind_case = PGCDC__VALUE__KIND_UNCHANGED_TOAST;
			v->unchanged_toast = true;
		}
		else
			pgcdc_value_encode(&col->codec, datums[att], v);
	}
	*n_values = rel->ncolumns;
	*values = ptrs;
}

/*
 * Append ev to out: packed straight into the buffer, or as one JSON object.
 * out may already hold a header (the walsender's 'w' message); the record
 * goes after it.
 */
void
pgcdc_append_record(StringInfo out, const Pgcdc__ChangeEvent *ev, PgcdcFormat format)
{
	if (format == PGCDC_FORMAT_JSON)
		pgcdc_json_append(out, ev);
	else
		pgcdc_pack(out, ev);
}

/* Whether the session already formats values the way records need them. */
static bool
output_settings_stable(void)
{
	const char *tz = pg_get_timezone_name(session_timezone);

	return DateStyle == USE_ISO_DATES &&
		IntervalStyle == INTSTYLE_POSTGRES &&
		extra_float_digits > 0 &&
		bytea_output == BYTEA_OUTPUT_HEX &&
		(strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0) &&
		strcmp(locale_monetary, "C") == 0;
}

static void
set_guc(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Make type output functions independent of the session's settings, as
 * postgres_fdw does for its queries, until pgcdc_stable_output_end().
 * Returns the GUC nest level to pop, or -1 when nothing needed changing.
 * Must run inside a transaction; aborting it restores the settings too.
 */
int
pgcdc_stable_output_begin(void)
{
	int			nestlevel;

	if (output_settings_stable())
		return -1;
	nestlevel = NewGUCNestLevel();
	set_guc("datestyle", "ISO, YMD");
	set_guc("intervalstyle", "postgres");
	set_guc("timezone", "UTC");
	set_guc("extra_float_digits", "1");
	set_guc("bytea_output", "hex");
	set_guc("lc_monetary", "C");
	return nestlevel;
}

void
pgcdc_stable_output_end(int nestlevel)
{
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}
