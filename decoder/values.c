/*
 * values.c — PostgreSQL values as protobuf Values: a column type's codec
 * (which kind of Value it becomes) and a datum encoded with it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "values.h"

/* µs and days between the PostgreSQL epoch (2000-01-01) and the Unix epoch. */
#define EPOCH_SHIFT_DAYS (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)
#define EPOCH_SHIFT_USECS ((int64) EPOCH_SHIFT_DAYS * USECS_PER_DAY)

int64
pgcdc_unix_usecs(TimestampTz ts)
{
	/* Commit and snapshot times are far from either end of the range. */
	return ts + EPOCH_SHIFT_USECS;
}

char *
pgcdc_to_utf8(const char *s, int len)
{
	int			enc = GetDatabaseEncoding();

	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
		return (char *) s;
	return pg_server_to_any(s, len, PG_UTF8);
}

static PgcdcValueClass
value_class(Oid basetype)
{
	switch (basetype)
	{
		case BOOLOID:
			return PGCDC_VC_BOOL;
		case INT2OID:
			return PGCDC_VC_INT2;
		case INT4OID:
			return PGCDC_VC_INT4;
		case INT8OID:
			return PGCDC_VC_INT8;
		case OIDOID:
			return PGCDC_VC_OID;
		case FLOAT4OID:
			return PGCDC_VC_FLOAT4;
		case FLOAT8OID:
			return PGCDC_VC_FLOAT8;
		case NUMERICOID:
			return PGCDC_VC_NUMERIC;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return PGCDC_VC_TIMESTAMP;
		case DATEOID:
			return PGCDC_VC_DATE;
		case TIMEOID:
			return PGCDC_VC_TIME;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case JSONOID:
			return PGCDC_VC_TEXT;
		case UUIDOID:
			return PGCDC_VC_UUID;
		case BYTEAOID:
			return PGCDC_VC_BYTEA;
		default:
			return PGCDC_VC_OUTPUT;
	}
}

typedef struct EnumLabel
{
	Oid			oid;
	char	   *label;
} EnumLabel;

static int
enum_label_cmp(const void *a, const void *b)
{
	Oid			x = ((const EnumLabel *) a)->oid;
	Oid			y = ((const EnumLabel *) b)->oid;

	return (x > y) - (x < y);
}

/*
 * Load every label of an enum type once, so that encoding a value is a binary
 * search rather than a syscache lookup per row.  pg_enum invalidations
 * (ALTER TYPE ... ADD VALUE) rebuild the entry.
 */
static void
load_enum_labels(PgcdcValueCodec *codec, Oid enumtype)
{
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(enumtype));
	EnumLabel  *sorted = palloc(sizeof(EnumLabel) * Max(list->n_members, 1));

	for (int i = 0; i < list->n_members; i++)
	{
		Form_pg_enum e = (Form_pg_enum) GETSTRUCT(&list->members[i]->tuple);
		const char *label = NameStr(e->enumlabel);

		sorted[i].oid = e->oid;
		sorted[i].label = pstrdup(pgcdc_to_utf8(label, strlen(label)));
	}
	codec->nlabels = list->n_members;
	ReleaseSysCacheList(list);

	qsort(sorted, codec->nlabels, sizeof(EnumLabel), enum_label_cmp);
	codec->label_oids = palloc(sizeof(Oid) * Max(codec->nlabels, 1));
	codec->labels = palloc(sizeof(char *) * Max(codec->nlabels, 1));
	for (int i = 0; i < codec->nlabels; i++)
	{
		codec->label_oids[i] = sorted[i].oid;
		codec->labels[i] = sorted[i].label;
	}
	pfree(sorted);
}

/* The label of an enum value, or NULL when the table does not have it. */
static const char *
enum_label(const PgcdcValueCodec *codec, Oid label)
{
	int			lo = 0;
	int			hi = codec->nlabels - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (codec->label_oids[mid] == label)
			return codec->labels[mid];
		if (codec->label_oids[mid] < label)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/*
 * How values of type typid are encoded, in CurrentMemoryContext: its class
 * from its base type (a domain travels as its base), an enum's labels
 * loaded, and its output function for the rest and for fallbacks.
 */
void
pgcdc_value_codec_init(PgcdcValueCodec *codec, Oid typid)
{
	Oid			basetype = getBaseType(typid);
	Oid			outfunc;
	bool		isvarlena;

	codec->vclass = value_class(basetype);
	codec->nlabels = 0;
	codec->label_oids = NULL;
	codec->labels = NULL;
	if (codec->vclass == PGCDC_VC_OUTPUT && get_typtype(basetype) == TYPTYPE_ENUM)
	{
		codec->vclass = PGCDC_VC_ENUM;
		load_enum_labels(codec, basetype);
	}
	getTypeOutputInfo(typid, &outfunc, &isvarlena);
	fmgr_info_cxt(outfunc, &codec->outfunc, CurrentMemoryContext);
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
encode_timestamp(const PgcdcValueCodec *codec, Datum d, Pgcdc__Value *v)
{
	Timestamp	ts = DatumGetTimestamp(d);
	int64		usecs;

	if (TIMESTAMP_IS_NOBEGIN(ts) || TIMESTAMP_IS_NOEND(ts))
		set_infinity(v, TIMESTAMP_IS_NOBEGIN(ts));
	else if (pg_add_s64_overflow(ts, EPOCH_SHIFT_USECS, &usecs))
		set_text(v, OutputFunctionCall((FmgrInfo *) &codec->outfunc, d));
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

void
pgcdc_value_encode(const PgcdcValueCodec *codec, Datum d, Pgcdc__Value *v)
{
	switch (codec->vclass)
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
			encode_timestamp(codec, d, v);
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
				const char *label = enum_label(codec, DatumGetObjectId(d));

				/* A label newer than the entry: ask the type, as a last resort. */
				if (label == NULL)
					set_text(v, OutputFunctionCall((FmgrInfo *) &codec->outfunc, d));
				else
				{
					v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
					v->text_value = (char *) label;
				}
				break;
			}
		case PGCDC_VC_OUTPUT:
			set_text(v, OutputFunctionCall((FmgrInfo *) &codec->outfunc, d));
			break;
	}
}
