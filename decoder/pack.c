/*
 * pack.c — ChangeEvent to protobuf wire format in one pass.
 *
 * protobuf-c's generic packer walks field descriptors and sizes each nested
 * message again at every enclosing level; on the decoding hot path that was
 * over a quarter of the backend's time.  This packer knows cdc.proto's field
 * numbers (proto/wire.h, with the varint and tag writers) and takes a
 * Value's field from its descriptor, so a new kind of Value needs nothing
 * here: it sizes the record once (remembering each Value's field and size),
 * reserves the space once and writes without bounds checks.  libprotobuf-c's decoder
 * reads everything it writes back in the regression and round-trip suites.
 *
 * proto3 rules: scalars equal to zero and empty strings are not written,
 * every element of a repeated field is (a message, or a string even when
 * empty), and a set oneof member is written whatever its value.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "pack.h"
#include "compat.h"
#include "wire.h"

/*
 * A Value's one set field as it goes on the wire, and the size of the
 * Value's body: its wire type with either the varint (zigzag applied) or
 * the 8 little-endian bytes in bits, or the bytes of a string or bytes.
 */
typedef struct ValueSize
{
	uint32		body;
	uint32		field;
	int			wire;
	uint64		bits;
	const void *data;
	uint32		len;
} ValueSize;

/* proto3: a scalar equal to zero and an empty string are not written. */
static inline size_t
varint_field_size(int field, uint64 v)
{
	return v == 0 ? 0 : wire_varint_field_size(field, v);
}

static inline size_t
string_field_size(int field, const char *s)
{
	size_t		len = s ? strlen(s) : 0;

	return len == 0 ? 0 : wire_len_field_size(field, len);
}

static inline uint8 *
put_varint_field(uint8 *p, int field, uint64 v)
{
	return v == 0 ? p : wire_put_varint_field(p, field, v);
}

static inline uint8 *
put_string_field(uint8 *p, int field, const char *s)
{
	size_t		len = s ? strlen(s) : 0;

	return len == 0 ? p : wire_put_len_field(p, field, s, len);
}

/*
 * A Value's field, read through the generated descriptor (every kind_case
 * is its field number, checked in wire.h) by its protobuf type: a new kind
 * of Value in cdc.proto needs nothing here.  Returns the body's size.
 */
static uint32
value_size(const Pgcdc__Value *v, ValueSize *size)
{
	const ProtobufCFieldDescriptor *f;
	const char *at;

	*size = (ValueSize) {0};
	if (v->kind_case == PGCDC__VALUE__KIND__NOT_SET)
		return 0;
	f = protobuf_c_message_descriptor_get_field(&pgcdc__value__descriptor, (unsigned) v->kind_case);
	if (f == NULL)
		elog(ERROR, "unexpected value kind %d", (int) v->kind_case);
	at = (const char *) v + f->offset;
	size->field = f->id;
	size->wire = WIRE_TYPE_VARINT;
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_BOOL:
			size->bits = *(const protobuf_c_boolean *) at ? 1 : 0;
			break;
		case PROTOBUF_C_TYPE_SINT32:
			size->bits = wire_zigzag32(*(const int32_t *) at);
			break;
		case PROTOBUF_C_TYPE_SINT64:
			size->bits = wire_zigzag64(*(const int64_t *) at);
			break;
		case PROTOBUF_C_TYPE_INT32:
			size->bits = (uint64) (int64) *(const int32_t *) at;
			break;
		case PROTOBUF_C_TYPE_UINT32:
			size->bits = *(const uint32_t *) at;
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_UINT64:
			size->bits = *(const uint64_t *) at;
			break;
		case PROTOBUF_C_TYPE_ENUM:
			size->bits = wire_enum(*(const int *) at);
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
		case PROTOBUF_C_TYPE_FIXED64:
		case PROTOBUF_C_TYPE_SFIXED64:
			size->wire = WIRE_TYPE_I64;
			memcpy(&size->bits, at, sizeof(size->bits));
			return size->body = wire_tag_size(size->field) + 8;
		case PROTOBUF_C_TYPE_STRING:
			size->wire = WIRE_TYPE_LEN;
			size->data = *(char *const *) at;
			size->len = size->data ? strlen(size->data) : 0;
			return size->body = wire_len_field_size(size->field, size->len);
		case PROTOBUF_C_TYPE_BYTES:
			size->wire = WIRE_TYPE_LEN;
			size->data = ((const ProtobufCBinaryData *) at)->data;
			size->len = ((const ProtobufCBinaryData *) at)->len;
			return size->body = wire_len_field_size(size->field, size->len);
		default:
			elog(ERROR, "value kind %d has protobuf type %d, which the packer does not write",
				 (int) v->kind_case, (int) f->type);
	}
	return size->body = wire_varint_field_size(size->field, size->bits);
}

static uint8 *
put_value(uint8 *p, int field, const ValueSize *size)
{
	p = wire_put_tag(p, field, WIRE_TYPE_LEN);
	p = wire_put_varint(p, size->body);
	if (size->body == 0)
		return p;
	switch (size->wire)
	{
		case WIRE_TYPE_VARINT:
			return wire_put_varint_field(p, size->field, size->bits);
		case WIRE_TYPE_I64:
			/* Little-endian IEEE 754, as protobuf's fixed64. */
			p = wire_put_tag(p, size->field, WIRE_TYPE_I64);
			for (int i = 0; i < 8; i++)
				*p++ = (uint8) (size->bits >> (8 * i));
			return p;
		default:
			return wire_put_len_field(p, size->field, size->data, size->len);
	}
}

static size_t
values_size(int field, size_t n, Pgcdc__Value **values, ValueSize *sizes)
{
	size_t		total = 0;

	for (size_t i = 0; i < n; i++)
	{
		total += wire_len_field_size(field, value_size(values[i], &sizes[i]));
	}
	return total;
}

static uint8 *
put_values(uint8 *p, int field, size_t n, const ValueSize *sizes)
{
	for (size_t i = 0; i < n; i++)
		p = put_value(p, field, &sizes[i]);
	return p;
}

static size_t
column_body_size(const Pgcdc__Column *c)
{
	size_t		size = string_field_size(WIRE_COLUMN_NAME, c->name) +
		varint_field_size(WIRE_COLUMN_TYPE_OID, c->type_oid) +
		string_field_size(WIRE_COLUMN_TYPE_NAME, c->type_name) +
		varint_field_size(WIRE_COLUMN_KEY, c->key) +
		varint_field_size(WIRE_COLUMN_NOT_NULL, c->not_null) +
		varint_field_size(WIRE_COLUMN_BASE_TYPE_OID, c->base_type_oid) +
		string_field_size(WIRE_COLUMN_BASE_TYPE_NAME, c->base_type_name);

	for (size_t i = 0; i < c->n_enum_labels; i++)
		size += wire_len_field_size(WIRE_COLUMN_ENUM_LABELS, strlen(c->enum_labels[i]));
	return size;
}

static uint8 *
put_column(uint8 *p, int field, const Pgcdc__Column *c)
{
	p = wire_put_tag(p, field, WIRE_TYPE_LEN);
	p = wire_put_varint(p, column_body_size(c));
	p = put_string_field(p, WIRE_COLUMN_NAME, c->name);
	p = put_varint_field(p, WIRE_COLUMN_TYPE_OID, c->type_oid);
	p = put_string_field(p, WIRE_COLUMN_TYPE_NAME, c->type_name);
	p = put_varint_field(p, WIRE_COLUMN_KEY, c->key);
	p = put_varint_field(p, WIRE_COLUMN_NOT_NULL, c->not_null);
	p = put_varint_field(p, WIRE_COLUMN_BASE_TYPE_OID, c->base_type_oid);
	p = put_string_field(p, WIRE_COLUMN_BASE_TYPE_NAME, c->base_type_name);
	for (size_t i = 0; i < c->n_enum_labels; i++)
		p = wire_put_len_field(p, WIRE_COLUMN_ENUM_LABELS, c->enum_labels[i], strlen(c->enum_labels[i]));
	return p;
}

static size_t
relation_ref_body_size(const Pgcdc__RelationRef *r)
{
	return string_field_size(WIRE_RELATION_REF_SCHEMA, r->schema) +
		string_field_size(WIRE_RELATION_REF_TABLE, r->table) +
		varint_field_size(WIRE_RELATION_REF_RELID, r->relid);
}

static uint8 *
put_relation_ref(uint8 *p, int field, const Pgcdc__RelationRef *r)
{
	p = wire_put_tag(p, field, WIRE_TYPE_LEN);
	p = wire_put_varint(p, relation_ref_body_size(r));
	p = put_string_field(p, WIRE_RELATION_REF_SCHEMA, r->schema);
	p = put_string_field(p, WIRE_RELATION_REF_TABLE, r->table);
	return put_varint_field(p, WIRE_RELATION_REF_RELID, r->relid);
}

/* StreamInfo's aborted pairs, packed. */
static size_t
aborted_size(const Pgcdc__StreamInfo *si)
{
	size_t		n = 0;

	for (size_t i = 0; i < si->n_aborted; i++)
		n += wire_varint_size(si->aborted[i]);
	return n;
}

static size_t
stream_info_body_size(const Pgcdc__StreamInfo *si)
{
	size_t		size = 0;

	if (si->n_aborted > 0)
		size += wire_len_field_size(WIRE_STREAM_INFO_ABORTED, aborted_size(si));
	size += varint_field_size(WIRE_STREAM_INFO_RUN, si->run);
	size += varint_field_size(WIRE_STREAM_INFO_FIRST_OFFSET, (uint64) si->first_offset);
	return size;
}

static uint8 *
put_stream_info(uint8 *p, int field, const Pgcdc__StreamInfo *si)
{
	p = wire_put_tag(p, field, WIRE_TYPE_LEN);
	p = wire_put_varint(p, stream_info_body_size(si));
	if (si->n_aborted > 0)
	{
		p = wire_put_tag(p, WIRE_STREAM_INFO_ABORTED, WIRE_TYPE_LEN);
		p = wire_put_varint(p, aborted_size(si));
		for (size_t i = 0; i < si->n_aborted; i++)
			p = wire_put_varint(p, si->aborted[i]);
	}
	p = put_varint_field(p, WIRE_STREAM_INFO_RUN, si->run);
	return put_varint_field(p, WIRE_STREAM_INFO_FIRST_OFFSET, (uint64) si->first_offset);
}

/* The size of ev on the wire; fills the Value sizes put_record() reuses. */
static size_t
record_size(const Pgcdc__ChangeEvent *ev, ValueSize *before, ValueSize *after)
{
	size_t		size = 0;

	size += varint_field_size(WIRE_CHANGE_EVENT_VERSION, ev->version);
	size += varint_field_size(WIRE_CHANGE_EVENT_OP, wire_enum(ev->op));
	size += varint_field_size(WIRE_CHANGE_EVENT_COMMIT_LSN, ev->commit_lsn);
	size += varint_field_size(WIRE_CHANGE_EVENT_LSN, ev->lsn);
	size += varint_field_size(WIRE_CHANGE_EVENT_SEQ, ev->seq);
	size += varint_field_size(WIRE_CHANGE_EVENT_XID, ev->xid);
	size += varint_field_size(WIRE_CHANGE_EVENT_COMMIT_TS, (uint64) ev->commit_ts);
	size += string_field_size(WIRE_CHANGE_EVENT_DATABASE, ev->database);
	size += string_field_size(WIRE_CHANGE_EVENT_SCHEMA, ev->schema);
	size += string_field_size(WIRE_CHANGE_EVENT_TABLE, ev->table);
	size += varint_field_size(WIRE_CHANGE_EVENT_RELID, ev->relid);
	size += values_size(WIRE_CHANGE_EVENT_BEFORE, ev->n_before, ev->before, before);
	size += values_size(WIRE_CHANGE_EVENT_AFTER, ev->n_after, ev->after, after);
	size += varint_field_size(WIRE_CHANGE_EVENT_SNAPSHOT, ev->snapshot);
	size += varint_field_size(WIRE_CHANGE_EVENT_REPLICA_IDENTITY, wire_enum(ev->replica_identity));
	for (size_t i = 0; i < ev->n_columns; i++)
		size += wire_len_field_size(WIRE_CHANGE_EVENT_COLUMNS, column_body_size(ev->columns[i]));
	for (size_t i = 0; i < ev->n_truncated; i++)
		size += wire_len_field_size(WIRE_CHANGE_EVENT_TRUNCATED, relation_ref_body_size(ev->truncated[i]));
	size += varint_field_size(WIRE_CHANGE_EVENT_CASCADE, ev->cascade);
	size += varint_field_size(WIRE_CHANGE_EVENT_RESTART_IDENTITY, ev->restart_identity);
	size += string_field_size(WIRE_CHANGE_EVENT_PREFIX, ev->prefix);
	if (ev->content.len > 0)
		size += wire_len_field_size(WIRE_CHANGE_EVENT_CONTENT, ev->content.len);
	size += varint_field_size(WIRE_CHANGE_EVENT_TRANSACTIONAL, ev->transactional);
	size += varint_field_size(WIRE_CHANGE_EVENT_END_LSN, ev->end_lsn);
	size += varint_field_size(WIRE_CHANGE_EVENT_STREAMED, ev->streamed);
	size += varint_field_size(WIRE_CHANGE_EVENT_SUBXID, ev->subxid);
	if (ev->stream != NULL)
		size += wire_len_field_size(WIRE_CHANGE_EVENT_STREAM, stream_info_body_size(ev->stream));
	return size;
}

static uint8 *
put_record(uint8 *p, const Pgcdc__ChangeEvent *ev, const ValueSize *before, const ValueSize *after)
{
	p = put_varint_field(p, WIRE_CHANGE_EVENT_VERSION, ev->version);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_OP, wire_enum(ev->op));
	p = put_varint_field(p, WIRE_CHANGE_EVENT_COMMIT_LSN, ev->commit_lsn);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_LSN, ev->lsn);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_SEQ, ev->seq);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_XID, ev->xid);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_COMMIT_TS, (uint64) ev->commit_ts);
	p = put_string_field(p, WIRE_CHANGE_EVENT_DATABASE, ev->database);
	p = put_string_field(p, WIRE_CHANGE_EVENT_SCHEMA, ev->schema);
	p = put_string_field(p, WIRE_CHANGE_EVENT_TABLE, ev->table);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_RELID, ev->relid);
	p = put_values(p, WIRE_CHANGE_EVENT_BEFORE, ev->n_before, before);
	p = put_values(p, WIRE_CHANGE_EVENT_AFTER, ev->n_after, after);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_SNAPSHOT, ev->snapshot);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_REPLICA_IDENTITY, wire_enum(ev->replica_identity));
	for (size_t i = 0; i < ev->n_columns; i++)
		p = put_column(p, WIRE_CHANGE_EVENT_COLUMNS, ev->columns[i]);
	for (size_t i = 0; i < ev->n_truncated; i++)
		p = put_relation_ref(p, WIRE_CHANGE_EVENT_TRUNCATED, ev->truncated[i]);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_CASCADE, ev->cascade);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_RESTART_IDENTITY, ev->restart_identity);
	p = put_string_field(p, WIRE_CHANGE_EVENT_PREFIX, ev->prefix);
	if (ev->content.len > 0)
		p = wire_put_len_field(p, WIRE_CHANGE_EVENT_CONTENT, ev->content.data, ev->content.len);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_TRANSACTIONAL, ev->transactional);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_END_LSN, ev->end_lsn);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_STREAMED, ev->streamed);
	p = put_varint_field(p, WIRE_CHANGE_EVENT_SUBXID, ev->subxid);
	if (ev->stream != NULL)
		p = put_stream_info(p, WIRE_CHANGE_EVENT_STREAM, ev->stream);
	return p;
}

void
pgcdc_pack(StringInfo out, const Pgcdc__ChangeEvent *ev)
{
	ValueSize  *before = ev->n_before ? palloc(sizeof(ValueSize) * ev->n_before) : NULL;
	ValueSize  *after = ev->n_after ? palloc(sizeof(ValueSize) * ev->n_after) : NULL;
	size_t		size = record_size(ev, before, after);
	uint8	   *start;
	uint8	   *end;

	if (size >= MaxAllocSize - (size_t) out->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("change record of %zu bytes is too large", size)));
	enlargeStringInfo(out, (int) size);
	start = (uint8 *) out->data + out->len;
	end = put_record(start, ev, before, after);
	if ((size_t) (end - start) != size)
		elog(ERROR, "pgcdc packed %zu bytes into a record sized %zu",
			 (size_t) (end - start), size);
	out->len += (int) size;
	out->data[out->len] = '\0';
}
