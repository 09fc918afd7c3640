/*
 * json.c — rendering a ChangeEvent as JSON.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "json.h"
#include "compat.h"

/* A JSON object under construction: a comma goes before every key but the first. */
typedef struct JsonObj
{
	StringInfo	out;
	bool		first;
} JsonObj;

static void
obj_open(JsonObj *o, StringInfo out)
{
	o->out = out;
	o->first = true;
	appendStringInfoChar(out, '{');
}

static void
obj_close(JsonObj *o)
{
	appendStringInfoChar(o->out, '}');
}

static void
key(JsonObj *o, const char *name)
{
	if (!o->first)
		appendStringInfoChar(o->out, ',');
	o->first = false;
	escape_json(o->out, name);
	appendStringInfoChar(o->out, ':');
}

static void
put_str(JsonObj *o, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	key(o, name);
	escape_json(o->out, value);
}

static void
put_int(JsonObj *o, const char *name, int64 value)
{
	if (value == 0)
		return;
	key(o, name);
	appendStringInfo(o->out, INT64_FORMAT, value);
}

static void
put_uint(JsonObj *o, const char *name, uint64 value)
{
	if (value == 0)
		return;
	key(o, name);
	appendStringInfo(o->out, UINT64_FORMAT, value);
}

static void
put_bool(JsonObj *o, const char *name, bool value)
{
	if (!value)
		return;
	key(o, name);
	appendStringInfoString(o->out, "true");
}

static void
put_lsn(JsonObj *o, const char *name, uint64 lsn)
{
	if (lsn == 0)
		return;
	key(o, name);
	appendStringInfo(o->out, "\"%X/%X\"", (uint32) (lsn >> 32), (uint32) lsn);
}

static void
append_hex(StringInfo out, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	appendStringInfoChar(out, '"');
	for (size_t i = 0; i < len; i++)
	{
		appendStringInfoChar(out, digits[data[i] >> 4]);
		appendStringInfoChar(out, digits[data[i] & 0xf]);
	}
	appendStringInfoChar(out, '"');
}

static void
append_uuid(StringInfo out, const ProtobufCBinaryData *uuid)
{
	static const char digits[] = "0123456789abcdef";

	appendStringInfoChar(out, '"');
	for (size_t i = 0; i < uuid->len; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			appendStringInfoChar(out, '-');
		appendStringInfoChar(out, digits[uuid->data[i] >> 4]);
		appendStringInfoChar(out, digits[uuid->data[i] & 0xf]);
	}
	appendStringInfoChar(out, '"');
}

/* Shortest exact form; JSON has no NaN or infinities, so those are strings. */
static void
append_double(StringInfo out, double d)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d))
		appendStringInfoString(out, "\"NaN\"");
	else if (isinf(d))
		appendStringInfoString(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
	{
		double_to_shortest_decimal_buf(d, buf);
		appendStringInfoString(out, buf);
	}
}

/* A Value's kind as its JSON key: the field's name without "is_" and "_value" ("int_value": "int"). */
static void
kind_key(JsonObj *o, const char *field)
{
	size_t		len;

	if (strncmp(field, "is_", 3) == 0)
		field += 3;
	len = strlen(field);
	if (len > 6 && strcmp(field + len - 6, "_value") == 0)
		len -= 6;
	/* A field name needs no escaping: written as it is, without a copy per value. */
	if (!o->first)
		appendStringInfoChar(o->out, ',');
	o->first = false;
	appendStringInfoChar(o->out, '"');
	appendBinaryStringInfo(o->out, field, len);
	appendStringInfoString(o->out, "\":");
}

/* An enum value by its name without the enum's prefix, lower case ("INFINITY_POSITIVE": "positive"). */
static void
append_enum_value(StringInfo out, const ProtobufCEnumDescriptor *e, int value)
{
	const ProtobufCEnumValue *ev = value != 0 ? protobuf_c_enum_descriptor_get_value(e, value) : NULL;
	const char *name;
	size_t		prefix;

	if (ev == NULL)
	{
		appendStringInfo(out, "%d", value);
		return;
	}
	name = ev->name;
	prefix = strlen(e->short_name);
	if (pg_strncasecmp(name, e->short_name, prefix) == 0 && name[prefix] == '_')
		name += prefix + 1;
	appendStringInfoChar(out, '"');
	for (; *name; name++)
		appendStringInfoChar(out, pg_tolower((unsigned char) *name));
	appendStringInfoChar(out, '"');
}

/*
 * A Value as {"<kind>": <value>}, written from its field's protobuf type so
 * that a new kind of Value needs nothing here; uuid is the one kind with a
 * form of its own.
 */
static void
append_value(StringInfo out, const Pgcdc__Value *v)
{
	const ProtobufCFieldDescriptor *f;
	const char *at;
	JsonObj		o;

	obj_open(&o, out);
	if (v->kind_case == PGCDC__VALUE__KIND__NOT_SET)
	{
		obj_close(&o);
		return;
	}
	f = protobuf_c_message_descriptor_get_field(&pgcdc__value__descriptor, (unsigned) v->kind_case);
	if (f == NULL)
		elog(ERROR, "unexpected value kind %d", (int) v->kind_case);
	kind_key(&o, f->name);
	at = (const char *) v + f->offset;
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_BOOL:
			appendStringInfoString(out, *(const protobuf_c_boolean *) at ? "true" : "false");
			break;
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			appendStringInfo(out, "%d", (int) *(const int32_t *) at);
			break;
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			appendStringInfo(out, INT64_FORMAT, (int64) *(const int64_t *) at);
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			append_double(out, *(const double *) at);
			break;
		case PROTOBUF_C_TYPE_ENUM:
			append_enum_value(out, f->descriptor, *(const int *) at);
			break;
		case PROTOBUF_C_TYPE_STRING:
			escape_json(out, *(char *const *) at);
			break;
		case PROTOBUF_C_TYPE_BYTES:
			if (v->kind_case == PGCDC__VALUE__KIND_UUID_VALUE)
				append_uuid(out, &v->uuid_value);
			else
				append_hex(out, ((const ProtobufCBinaryData *) at)->data, ((const ProtobufCBinaryData *) at)->len);
			break;
		default:
			elog(ERROR, "value kind %d has protobuf type %d, which JSON does not render", (int) v->kind_case,
				 (int) f->type);
	}
	obj_close(&o);
}

static void
put_values(JsonObj *o, const char *name, size_t n, Pgcdc__Value **values)
{
	if (n == 0)
		return;
	key(o, name);
	appendStringInfoChar(o->out, '[');
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(o->out, ',');
		append_value(o->out, values[i]);
	}
	appendStringInfoChar(o->out, ']');
}

/* A repeated string: left out when it has no element, as an empty string is. */
static void
put_strs(JsonObj *o, const char *name, size_t n, char **values)
{
	if (n == 0)
		return;
	key(o, name);
	appendStringInfoChar(o->out, '[');
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(o->out, ',');
		escape_json(o->out, values[i]);
	}
	appendStringInfoChar(o->out, ']');
}

static void
put_columns(JsonObj *o, size_t n, Pgcdc__Column **columns)
{
	if (n == 0)
		return;
	key(o, "columns");
	appendStringInfoChar(o->out, '[');
	for (size_t i = 0; i < n; i++)
	{
		JsonObj		c;

		if (i > 0)
			appendStringInfoChar(o->out, ',');
		obj_open(&c, o->out);
		put_str(&c, "name", columns[i]->name);
		put_uint(&c, "type_oid", columns[i]->type_oid);
		put_str(&c, "type_name", columns[i]->type_name);
		put_bool(&c, "key", columns[i]->key);
		put_bool(&c, "not_null", columns[i]->not_null);
		put_uint(&c, "base_type_oid", columns[i]->base_type_oid);
		put_str(&c, "base_type_name", columns[i]->base_type_name);
		put_strs(&c, "enum_labels", columns[i]->n_enum_labels, columns[i]->enum_labels);
		obj_close(&c);
	}
	appendStringInfoChar(o->out, ']');
}

static void
put_truncated(JsonObj *o, size_t n, Pgcdc__RelationRef **rels)
{
	if (n == 0)
		return;
	key(o, "truncated");
	appendStringInfoChar(o->out, '[');
	for (size_t i = 0; i < n; i++)
	{
		JsonObj		r;

		if (i > 0)
			appendStringInfoChar(o->out, ',');
		obj_open(&r, o->out);
		put_str(&r, "schema", rels[i]->schema);
		put_str(&r, "table", rels[i]->table);
		put_uint(&r, "relid", rels[i]->relid);
		obj_close(&r);
	}
	appendStringInfoChar(o->out, ']');
}

static const char *
op_name(Pgcdc__Op op)
{
	switch (op)
	{
		case PGCDC__OP__OP_BEGIN:
			return "begin";
		case PGCDC__OP__OP_COMMIT:
			return "commit";
		case PGCDC__OP__OP_INSERT:
			return "insert";
		case PGCDC__OP__OP_UPDATE:
			return "update";
		case PGCDC__OP__OP_DELETE:
			return "delete";
		case PGCDC__OP__OP_TRUNCATE:
			return "truncate";
		case PGCDC__OP__OP_MESSAGE:
			return "message";
		case PGCDC__OP__OP_READ:
			return "read";
		case PGCDC__OP__OP_RELATION:
			return "relation";
		case PGCDC__OP__OP_STREAM_ABORT:
			return "stream_abort";
		case PGCDC__OP__OP_STREAM_COMMIT:
			return "stream_commit";
		default:
			return NULL;
	}
}

static const char *
identity_name(Pgcdc__ReplicaIdentity identity)
{
	switch (identity)
	{
		case PGCDC__REPLICA_IDENTITY__IDENTITY_DEFAULT:
			return "default";
		case PGCDC__REPLICA_IDENTITY__IDENTITY_INDEX:
			return "index";
		case PGCDC__REPLICA_IDENTITY__IDENTITY_FULL:
			return "full";
		case PGCDC__REPLICA_IDENTITY__IDENTITY_NOTHING:
			return "nothing";
		default:
			return NULL;
	}
}

/*
 * An enum field: its name, or like protobuf's JSON mapping the bare number
 * for a value this version does not know; zero is not written.
 */
static void
put_enum(JsonObj *o, const char *field, int value, const char *name)
{
	if (value == 0)
		return;
	key(o, field);
	if (name != NULL)
		escape_json(o->out, name);
	else
		appendStringInfo(o->out, "%d", value);
}

/* Fields in the order of cdc.proto. */
static void
append_record(StringInfo out, const Pgcdc__ChangeEvent *ev)
{
	JsonObj		o;

	obj_open(&o, out);
	put_uint(&o, "version", ev->version);
	put_enum(&o, "op", ev->op, op_name(ev->op));
	put_lsn(&o, "commit_lsn", ev->commit_lsn);
	put_lsn(&o, "lsn", ev->lsn);
	put_uint(&o, "seq", ev->seq);
	put_uint(&o, "xid", ev->xid);
	put_int(&o, "commit_ts", ev->commit_ts);
	put_str(&o, "database", ev->database);
	put_str(&o, "schema", ev->schema);
	put_str(&o, "table", ev->table);
	put_uint(&o, "relid", ev->relid);
	put_values(&o, "before", ev->n_before, ev->before);
	put_values(&o, "after", ev->n_after, ev->after);
	put_bool(&o, "snapshot", ev->snapshot);
	put_enum(&o, "replica_identity", ev->replica_identity, identity_name(ev->replica_identity));
	put_columns(&o, ev->n_columns, ev->columns);
	put_truncated(&o, ev->n_truncated, ev->truncated);
	put_bool(&o, "cascade", ev->cascade);
	put_bool(&o, "restart_identity", ev->restart_identity);
	put_str(&o, "prefix", ev->prefix);
	if (ev->content.len > 0)
	{
		key(&o, "content");
		append_hex(out, ev->content.data, ev->content.len);
	}
	put_bool(&o, "transactional", ev->transactional);
	put_lsn(&o, "end_lsn", ev->end_lsn);
	put_bool(&o, "streamed", ev->streamed);
	put_uint(&o, "subxid", ev->subxid);
	if (ev->stream != NULL && ev->stream->n_aborted > 0)
	{
		key(&o, "stream");
		appendStringInfoString(out, "{\"aborted\":[");
		for (size_t i = 0; i < ev->stream->n_aborted; i++)
			appendStringInfo(out, "%s%u", i ? "," : "", ev->stream->aborted[i]);
		appendStringInfoString(out, "]}");
	}
	obj_close(&o);
}

/*
 * Records hold UTF-8; JSON is text in the database's encoding, which holds
 * every character a record can contain since each came from the database.
 */
void
pgcdc_json_append(StringInfo out, const Pgcdc__ChangeEvent *ev)
{
	int			enc = GetDatabaseEncoding();
	StringInfoData utf8;
	char	   *converted;

	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
	{
		append_record(out, ev);
		return;
	}
	initStringInfo(&utf8);
	append_record(&utf8, ev);
	converted = pg_any_to_server(utf8.data, utf8.len, PG_UTF8);
	appendStringInfoString(out, converted);
	if (converted != utf8.data)
		pfree(converted);
	pfree(utf8.data);
}
