/*
 * dbzjson.c — Debezium-format keys and values (dbzjson.h).
 *
 * With schemas, each message is {"schema": ..., "payload": ...}; a table's
 * key and value schemas depend only on its columns, so they are written
 * once per RELATION record and copied in front of each payload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbzjson.h"
#include "dbztype.h"
#include "jsonout.h"
#include "xalloc.h"

#ifndef PGCDC_VERSION
#define PGCDC_VERSION "dev"
#endif

struct DbzTable
{
	const DbzOptions *o;
	DbzColumn  *cols;
	size_t		ncols;
	uint32_t   *keys;			/* key columns' positions */
	size_t		nkeys;
	char	   *schema;			/* the relation's schema and table names */
	char	   *table;
	char	   *physical;		/* the table's own topic, in its messages' keys (routed); NULL: none */
	Buf			key_schema;		/* {"schema":{...},"payload": — empty without schemas */
	Buf			value_schema;	/* the same for the change envelope */
};

static const char source_schema[] =
	"{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
	"{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
	"\"parameters\":{\"allowed\":\"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental\"},"
	"\"default\":\"false\",\"field\":\"snapshot\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
	"{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"},"
	"{\"type\":\"string\",\"optional\":true,\"field\":\"origin\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"origin_lsn\"}],"
	"\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",\"version\":1,\"field\":\"source\"}";

static const char block_schema[] =
	"{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"
	"\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}";

static const char times_schema[] =
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"}";

/* The row struct's schema, as the before or after field. */
static void
row_schema(const DbzTable *t, const char *topic, const char *field, Buf *out)
{
	bool		first = true;

	buf_puts(out, "{\"type\":\"struct\",\"fields\":[");
	for (size_t i = 0; i < t->ncols; i++)
	{
		if (t->cols[i].type.kind == DBZ_OMIT)
			continue;
		if (!first)
			buf_putc(out, ',');
		first = false;
		dbz_column_schema(&t->cols[i], out);
	}
	buf_puts(out, "],\"optional\":true,\"name\":");
	buf_printf(out, "\"%s.Value\",\"field\":\"%s\"}", topic, field);
}

/* {"schema":<the envelope of topic's changes>,"payload": */
static void
envelope_schema(const DbzTable *t, const char *topic, Buf *out)
{
	buf_puts(out, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
	row_schema(t, topic, "before", out);
	buf_putc(out, ',');
	row_schema(t, topic, "after", out);
	buf_putc(out, ',');
	buf_puts(out, source_schema);
	buf_putc(out, ',');
	buf_puts(out, block_schema);
	buf_puts(out, ",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},");
	buf_puts(out, times_schema);
	buf_printf(out, "],\"optional\":false,\"name\":\"%s.Envelope\",\"version\":2},\"payload\":", topic);
}

DbzTable *
dbz_table_new(const DbzOptions *o, const Record *relation, const bool *masked, const char *topic,
			  const char *physical, char *err, size_t errlen)
{
	DbzTable   *t = xcalloc(1, sizeof(DbzTable));

	t->o = o;
	t->cols = xcalloc(relation->columns.n ? relation->columns.n : 1, sizeof(DbzColumn));
	t->keys = xcalloc(relation->columns.n ? relation->columns.n : 1, sizeof(uint32_t));
	t->schema = xstrndup((const char *) relation->schema.data, relation->schema.len);
	t->table = xstrndup((const char *) relation->table.data, relation->table.len);
	t->physical = physical != NULL && o->route_key_field != NULL ? xstrdup(physical) : NULL;
	for (size_t i = 0; i < relation->columns.n; i++)
	{
		if (!dbz_column_read(relation->columns.items[i], &o->modes, &t->cols[i]))
		{
			snprintf(err, errlen, "a malformed column %zu in the RELATION record of %s.%s", i + 1,
					 t->schema, t->table);
			dbz_table_free(t);
			return NULL;
		}
		t->ncols++;
		t->cols[i].masked = masked != NULL && masked[i];
		if (t->cols[i].key)
			t->keys[t->nkeys++] = (uint32_t) i;
	}
	if (o->schemas)
	{
		/* Topic names are made of [A-Za-z0-9._-] (topicname.h): nothing to escape in them. */
		envelope_schema(t, topic, &t->value_schema);
		buf_puts(&t->key_schema, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
		for (size_t k = 0; k < t->nkeys; k++)
		{
			if (k > 0)
				buf_putc(&t->key_schema, ',');
			/* As the column is: a key's are NOT NULL, message.key.columns' may not be. */
			dbz_column_schema(&t->cols[t->keys[k]], &t->key_schema);
		}
		if (t->physical != NULL && t->nkeys > 0)
		{
			buf_puts(&t->key_schema, ",{\"type\":\"string\",\"optional\":false,\"field\":");
			json_cstr(&t->key_schema, o->route_key_field);
			buf_putc(&t->key_schema, '}');
		}
		buf_printf(&t->key_schema, "],\"optional\":false,\"name\":\"%s.Key\"},\"payload\":", topic);
	}
	return t;
}

void
dbz_table_free(DbzTable *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		dbz_column_clear(&t->cols[i]);
	free(t->cols);
	free(t->keys);
	free(t->schema);
	free(t->table);
	free(t->physical);
	buf_free(&t->key_schema);
	buf_free(&t->value_schema);
	free(t);
}

bool
dbz_table_keyless(const DbzTable *t)
{
	return t->nkeys == 0;
}

int
dbz_table_column_index(const DbzTable *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int) i;
	return -1;
}

static bool
put_value(const DbzTable *t, size_t col, Span v, Buf *out, char *err, size_t errlen)
{
	char		why[200];

	/* A NOT NULL column an old image does not carry: its type's empty value, as Debezium's. */
	if (v.len == 0 && !t->cols[col].optional)
	{
		dbz_unlogged(&t->cols[col].type, out);
		return true;
	}
	if (dbz_value(&t->cols[col].type, v, t->o->placeholder, out, why, sizeof(why)))
		return true;
	snprintf(err, errlen, "column %s of %s.%s: %s", t->cols[col].name, t->schema, t->table, why);
	return false;
}

bool
dbz_column_message(const DbzTable *t, size_t col, Span value, Buf *out, char *err, size_t errlen)
{
	out->len = 0;
	if (t->o->schemas)
	{
		buf_puts(out, "{\"schema\":");
		dbz_value_schema(&t->cols[col], out);
		buf_puts(out, ",\"payload\":");
	}
	if (!put_value(t, col, value, out, err, errlen))
		return false;
	if (t->o->schemas)
		buf_putc(out, '}');
	return true;
}

bool
dbz_key(const DbzTable *t, const SpanArray *image, bool schema, Buf *out, char *err, size_t errlen)
{
	/* A message's key (not a header's) names a routed table's own topic. */
	bool		physical = schema && t->physical != NULL;

	schema = schema && t->o->schemas;
	out->len = 0;
	if (t->nkeys == 0)
		return true;
	if (schema)
		buf_append(out, t->key_schema.data, t->key_schema.len);
	buf_putc(out, '{');
	for (size_t k = 0; k < t->nkeys; k++)
	{
		uint32_t	col = t->keys[k];

		if (k > 0)
			buf_putc(out, ',');
		json_cstr(out, t->cols[col].name);
		buf_putc(out, ':');
		if (col >= image->n)
		{
			snprintf(err, errlen, "an image of %s.%s without its key column %s", t->schema, t->table,
					 t->cols[col].name);
			return false;
		}
		if (!put_value(t, col, image->items[col], out, err, errlen))
			return false;
	}
	if (physical)
	{
		buf_putc(out, ',');
		json_cstr(out, t->o->route_key_field);
		buf_putc(out, ':');
		json_cstr(out, t->physical);
	}
	buf_putc(out, '}');
	if (schema)
		buf_putc(out, '}');
	return true;
}

static bool
put_row(const DbzTable *t, const SpanArray *image, const SpanArray *fill, Buf *out, char *err, size_t errlen)
{
	if (image == NULL)
	{
		buf_puts(out, "null");
		return true;
	}
	buf_putc(out, '{');
	for (size_t i = 0, written = 0; i < t->ncols; i++)
	{
		Span		v = i < image->n ? image->items[i] : (Span) {NULL, 0};

		if (t->cols[i].type.kind == DBZ_OMIT)
			continue;
		if (fill != NULL && i < fill->n && dbz_value_unchanged(v) && fill->items[i].len > 0 &&
			!dbz_value_unchanged(fill->items[i]))
			v = fill->items[i];
		if (written++ > 0)
			buf_putc(out, ',');
		json_cstr(out, t->cols[i].name);
		buf_putc(out, ':');
		if (!put_value(t, i, v, out, err, errlen))
			return false;
	}
	buf_putc(out, '}');
	return true;
}

/* The wall clock: the envelope's ts_ms, ts_us, ts_ns. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
dbz_transaction_id(uint32_t xid, uint64_t commit_lsn, char *out, size_t outlen)
{
	snprintf(out, outlen, "%u:%llu", xid, (unsigned long long) commit_lsn);
}

/* ,"source":{...},"transaction":{...}|null */
static void
put_source(const DbzOptions *o, const char *schema, const char *table, const DbzPosition *pos, Buf *out)
{
	int64_t		ts_us = pos->commit_ts;

	buf_puts(out, "\"source\":{\"version\":\"" PGCDC_VERSION "\",\"connector\":\"postgresql\",\"name\":");
	json_cstr(out, o->name);
	buf_puts(out, ",\"ts_ms\":");
	json_i64(out, ts_us / 1000);
	buf_puts(out, pos->snapshot ? ",\"snapshot\":\"true\",\"db\":" : ",\"snapshot\":\"false\",\"db\":");
	json_str(out, (const char *) pos->database.data, pos->database.len);
	/* sequence: ["<the last transaction's end>", "<this change>"], as strings in a string. */
	if (pos->last_commit != 0)
		buf_printf(out, ",\"sequence\":\"[\\\"%llu\\\",\\\"%llu\\\"]\"", (unsigned long long) pos->last_commit,
				   (unsigned long long) pos->lsn);
	else
		buf_printf(out, ",\"sequence\":\"[null,\\\"%llu\\\"]\"", (unsigned long long) pos->lsn);
	buf_puts(out, ",\"ts_us\":");
	json_i64(out, ts_us);
	buf_puts(out, ",\"ts_ns\":");
	json_i64(out, ts_us * 1000);
	buf_puts(out, ",\"schema\":");
	json_cstr(out, schema);
	buf_puts(out, ",\"table\":");
	json_cstr(out, table);
	buf_puts(out, ",\"txId\":");
	if (pos->xid != 0)
		json_u64(out, pos->xid);
	else
		buf_puts(out, "null");
	buf_puts(out, ",\"lsn\":");
	json_u64(out, pos->lsn);
	buf_puts(out, ",\"xmin\":null,\"origin\":null,\"origin_lsn\":null},\"transaction\":");
	if (pos->total_order > 0)
	{
		char		id[40];

		dbz_transaction_id(pos->xid, pos->commit_lsn, id, sizeof(id));
		buf_puts(out, "{\"id\":");
		json_cstr(out, id);
		buf_printf(out, ",\"total_order\":%llu,\"data_collection_order\":%llu}",
				   (unsigned long long) pos->total_order, (unsigned long long) pos->collection_order);
	}
	else
		buf_puts(out, "null");
}

/* ,"op":"x","ts_ms":...,"ts_us":...,"ts_ns":...} */
static void
put_op_times(char op, Buf *out)
{
	int64_t		ns = now_ns();

	buf_printf(out, ",\"op\":\"%c\",\"ts_ms\":", op);
	json_i64(out, ns / 1000000);
	buf_puts(out, ",\"ts_us\":");
	json_i64(out, ns / 1000);
	buf_puts(out, ",\"ts_ns\":");
	json_i64(out, ns);
	buf_putc(out, '}');
}

bool
dbz_change(const DbzTable *t, char op, const SpanArray *before, const SpanArray *after,
		   const DbzPosition *pos, Buf *out, char *err, size_t errlen)
{
	out->len = 0;
	buf_append(out, t->value_schema.data, t->value_schema.len);
	buf_puts(out, "{\"before\":");
	if (!put_row(t, before, NULL, out, err, errlen))
		return false;
	buf_puts(out, ",\"after\":");
	if (!put_row(t, after, before, out, err, errlen))
		return false;
	buf_putc(out, ',');
	put_source(t->o, t->schema, t->table, pos, out);
	put_op_times(op, out);
	if (t->o->schemas)
		buf_putc(out, '}');
	return true;
}

void
dbz_truncate(const DbzOptions *o, const DbzTable *t, Span schema, Span table, const DbzPosition *pos, Buf *out)
{
	char	   *s = xstrndup((const char *) schema.data, schema.len);
	char	   *n = xstrndup((const char *) table.data, table.len);

	out->len = 0;
	if (t != NULL)
		buf_append(out, t->value_schema.data, t->value_schema.len);
	else if (o->schemas)
	{
		DbzTable	empty = {.o = o};
		Buf			topic = {0};

		buf_printf(&topic, "%s.%s.%s", o->name, s, n);
		envelope_schema(&empty, topic.data, out);
		buf_free(&topic);
	}
	buf_puts(out, "{\"before\":null,\"after\":null,");
	put_source(o, s, n, pos, out);
	put_op_times('t', out);
	if (o->schemas)
		buf_putc(out, '}');
	free(s);
	free(n);
}

void
dbz_message(const DbzOptions *o, Span prefix, Span content, const DbzPosition *pos, Buf *key, Buf *value)
{
	int64_t		ns = now_ns();

	key->len = value->len = 0;
	if (o->schemas)
		buf_puts(key, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":true,"
				 "\"field\":\"prefix\"}],\"optional\":false,\"name\":\"io.debezium.connector.postgresql.MessageKey\","
				 "\"version\":1},\"payload\":");
	buf_puts(key, "{\"prefix\":");
	json_str(key, (const char *) prefix.data, prefix.len);
	buf_putc(key, '}');
	if (o->schemas)
	{
		buf_putc(key, '}');
		buf_puts(value, "{\"schema\":{\"type\":\"struct\",\"fields\":["
				 "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
				 "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},");
		buf_puts(value, source_schema);
		buf_putc(value, ',');
		buf_puts(value, block_schema);
		/* The content is bytes, or a string as binary.handling.mode says. */
		buf_printf(value, ",{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":true,\"field\":\"prefix\"},"
				   "{\"type\":\"%s\",\"optional\":true,\"field\":\"content\"}],\"optional\":false,",
				   o->modes.binary == DBZ_BINARY_BYTES ? "bytes" : "string");
		buf_puts(value, "\"name\":\"io.debezium.connector.postgresql.Message\",\"version\":1,\"field\":\"message\"}],"
				 "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.MessageValue\",\"version\":1},"
				 "\"payload\":");
	}
	buf_puts(value, "{\"op\":\"m\",\"ts_ms\":");
	json_i64(value, ns / 1000000);
	buf_putc(value, ',');
	put_source(o, "", "", pos, value);
	buf_puts(value, ",\"message\":{\"prefix\":");
	json_str(value, (const char *) prefix.data, prefix.len);
	buf_puts(value, ",\"content\":");
	if (o->modes.binary == DBZ_BINARY_HEX)
		json_hex(value, content.data, content.len);
	else if (o->modes.binary == DBZ_BINARY_BASE64_URL)
		json_base64_url(value, content.data, content.len);
	else
		json_base64(value, content.data, content.len);
	buf_puts(value, "}}");
	if (o->schemas)
		buf_putc(value, '}');
}

void
dbz_heartbeat(const DbzOptions *o, int64_t ts_ms, Buf *key, Buf *value)
{
	key->len = value->len = 0;
	if (o->schemas)
	{
		buf_puts(key, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,"
				 "\"field\":\"serverName\"}],\"optional\":false,\"name\":\"io.debezium.connector.common.ServerNameKey\","
				 "\"version\":1},\"payload\":");
		buf_puts(value, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,"
				 "\"field\":\"ts_ms\"}],\"optional\":false,\"name\":\"io.debezium.connector.common.Heartbeat\","
				 "\"version\":1},\"payload\":");
	}
	buf_puts(key, "{\"serverName\":");
	json_cstr(key, o->name);
	buf_putc(key, '}');
	buf_puts(value, "{\"ts_ms\":");
	json_i64(value, ts_ms);
	buf_putc(value, '}');
	if (o->schemas)
	{
		buf_putc(key, '}');
		buf_putc(value, '}');
	}
}

void
dbz_transaction(const DbzOptions *o, uint32_t xid, uint64_t commit_lsn, int64_t commit_ts,
				const DbzCount *counts, size_t ncounts, Buf *key, Buf *value)
{
	char		id[40];
	uint64_t	total = 0;

	dbz_transaction_id(xid, commit_lsn, id, sizeof(id));
	key->len = value->len = 0;
	if (o->schemas)
	{
		buf_puts(key, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,"
				 "\"field\":\"id\"}],\"optional\":false,\"name\":\"io.debezium.connector.common.TransactionMetadataKey\","
				 "\"version\":1},\"payload\":");
		buf_puts(value, "{\"schema\":{\"type\":\"struct\",\"fields\":["
				 "{\"type\":\"string\",\"optional\":false,\"field\":\"status\"},"
				 "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
				 "{\"type\":\"int64\",\"optional\":true,\"field\":\"event_count\"},"
				 "{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":["
				 "{\"type\":\"string\",\"optional\":false,\"field\":\"data_collection\"},"
				 "{\"type\":\"int64\",\"optional\":false,\"field\":\"event_count\"}],\"optional\":true,"
				 "\"name\":\"event.collection\",\"version\":1},\"optional\":true,\"field\":\"data_collections\"},"
				 "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"}],\"optional\":false,"
				 "\"name\":\"io.debezium.connector.common.TransactionMetadataValue\",\"version\":1},\"payload\":");
	}
	buf_puts(key, "{\"id\":");
	json_cstr(key, id);
	buf_putc(key, '}');
	buf_puts(value, counts == NULL ? "{\"status\":\"BEGIN\",\"id\":" : "{\"status\":\"END\",\"id\":");
	json_cstr(value, id);
	if (counts == NULL)
		buf_puts(value, ",\"event_count\":null,\"data_collections\":null");
	else
	{
		for (size_t i = 0; i < ncounts; i++)
			total += counts[i].count;
		buf_printf(value, ",\"event_count\":%llu,\"data_collections\":[", (unsigned long long) total);
		for (size_t i = 0; i < ncounts; i++)
		{
			buf_puts(value, i > 0 ? ",{\"data_collection\":" : "{\"data_collection\":");
			json_cstr(value, counts[i].name);
			buf_printf(value, ",\"event_count\":%llu}", (unsigned long long) counts[i].count);
		}
		buf_putc(value, ']');
	}
	buf_puts(value, ",\"ts_ms\":");
	json_i64(value, commit_ts / 1000);
	buf_putc(value, '}');
	if (o->schemas)
	{
		buf_putc(key, '}');
		buf_putc(value, '}');
	}
}
