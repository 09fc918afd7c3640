/*
 * encode.c — column values to protobuf Values, events to bytes.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "common/int.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/bytea.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/pg_locale.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "encode.h"
#include "json.h"
#include "pack.h"
#include "compat.h"

/* µs and days between the PostgreSQL epoch (2000-01-01) and the Unix epoch. */
#define EPOCH_SHIFT_DAYS (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)
#define EPOCH_SHIFT_USECS ((int64) EPOCH_SHIFT_DAYS * USECS_PER_DAY)

int64
pgcdc_unix_usecs(TimestampTz ts)
{
	/* Commit and snapshot times are far from either end of the range. */
	return ts + EPOCH_SHIFT_USECS;
}

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

static void
set_text(Pgcdc__Value *v, char *s)
{
	v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v->text_value = pgcdc_to_utf8(s, strlen(s));
}

static void
set_infinity(Pgcdc__Value *v, bool negative)
{
	v->kind_case = PGCDC__VALUE__KIND_INFINITY;
	v->infinity = negative ? PGCDC__INFINITY__INFINITY_NEGATIVE
		: PGCDC__INFINITY__INFINITY_POSITIVE;
}

static void
encode_timestamp(const PgcdcColumn *col, Datum d, Pgcdc__Value *v)
{
	Timestamp	ts = DatumGetTimestamp(d);
	int64		usecs;

	if (TIMESTAMP_IS_NOBEGIN(ts) || TIMESTAMP_IS_NOEND(ts))
		set_infinity(v, TIMESTAMP_IS_NOBEGIN(ts));
	else if (pg_add_s64_overflow(ts, EPOCH_SHIFT_USECS, &usecs))
		set_text(v, OutputFunctionCall((FmgrInfo *) &col->outfunc, d));
	else
	{
		v->kind_case = PGCDC__VALUE__KIND_TIMESTAMP_VALUE;
		v->timestamp_value = usecs;
	}
}

static void
encode_date(Datum d, Pgcdc__Value *v)
{
	DateADT		date = DatumGetDateADT(d);

	if (DATE_NOT_FINITE(date))
		set_infinity(v, DATE_IS_NOBEGIN(date));
	else
	{
		v->kind_case = PGCDC__VALUE__KIND_DATE_VALUE;
		v->date_value = date + EPOCH_SHIFT_DAYS;
	}
}

/* The bytes of a text-like varlena, NUL-terminated for protobuf-c's strings. */
static void
encode_text(Datum d, Pgcdc__Value *v)
{
	text	   *t = DatumGetTextPP(d);
	int			len = VARSIZE_ANY_EXHDR(t);
	char	   *s = palloc(len + 1);

	memcpy(s, VARDATA_ANY(t), len);
	s[len] = '\0';
	v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v->text_value = pgcdc_to_utf8(s, len);
}

static void
encode_datum(const PgcdcColumn *col, Datum d, Pgcdc__Value *v)
{
	switch (col->vclass)
	{
		case PGCDC_VC_BOOL:
			v->kind_case = PGCDC__VALUE__KIND_BOOL_VALUE;
			v->bool_value = DatumGetBool(d);
			break;
		case PGCDC_VC_INT2:
			v->kind_case = PGCDC__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetInt16(d);
			break;
		case PGCDC_VC_INT4:
			v->kind_case = PGCDC__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetInt32(d);
			break;
		case PGCDC_VC_INT8:
			v->kind_case = PGCDC__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetInt64(d);
			break;
		case PGCDC_VC_OID:
			v->kind_case = PGCDC__VALUE__KIND_INT_VALUE;
			v->int_value = DatumGetObjectId(d);
			break;
		case PGCDC_VC_FLOAT4:
			v->kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
			v->float_value = DatumGetFloat4(d);
			break;
		case PGCDC_VC_FLOAT8:
			v->kind_case = PGCDC__VALUE__KIND_FLOAT_VALUE;
			v->float_value = DatumGetFloat8(d);
			break;
		case PGCDC_VC_NUMERIC:
			v->kind_case = PGCDC__VALUE__KIND_NUMERIC_VALUE;
			v->numeric_value = DatumGetCString(DirectFunctionCall1(numeric_out, d));
			break;
		case PGCDC_VC_TIMESTAMP:
			encode_timestamp(col, d, v);
			break;
		case PGCDC_VC_DATE:
			encode_date(d, v);
			break;
		case PGCDC_VC_TIME:
			v->kind_case = PGCDC__VALUE__KIND_TIME_VALUE;
			v->time_value = DatumGetTimeADT(d);
			break;
		case PGCDC_VC_TEXT:
			encode_text(d, v);
			break;
		case PGCDC_VC_UUID:
			v->kind_case = PGCDC__VALUE__KIND_UUID_VALUE;
			v->uuid_value.len = UUID_LEN;
			v->uuid_value.data = DatumGetUUIDP(d)->data;
			break;
		case PGCDC_VC_BYTEA:
			{
				bytea	   *b = DatumGetByteaPP(d);

				v->kind_case = PGCDC__VALUE__KIND_BYTES_VALUE;
				v->bytes_value.len = VARSIZE_ANY_EXHDR(b);
				v->bytes_value.data = (uint8_t *) VARDATA_ANY(b);
				break;
			}
		case PGCDC_VC_ENUM:
			{
				const char *label = pgcdc_column_enum_label(col, DatumGetObjectId(d));

				/* A label newer than the entry: ask the type, as a last resort. */
				if (label == NULL)
					set_text(v, OutputFunctionCall((FmgrInfo *) &col->outfunc, d));
				else
				{
					v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
					v->text_value = (char *) label;
				}
				break;
			}
		case PGCDC_VC_OUTPUT:
			set_text(v, OutputFunctionCall((FmgrInfo *) &col->outfunc, d));
			break;
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
			encode_datum(col, datums[att], v);
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
