/*
 * outbox.c — an outbox table's rows as events (outbox.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "topicname.h"
#include "wire.h"
#include "xalloc.h"

#define ROUTED_VALUE "${routedByValue}"

struct Outbox
{
	char	   *schema;
	char	   *table;
	const char *route_field;
	const char *replacement;
	const char *id_field;
	const char *key_field;
	const char *payload_field;
};

Outbox *
outbox_new(const Config *c, bool *ok, char *err, size_t errlen)
{
	const char *table = config_string(c, "outbox.table");
	const char *dot;
	Outbox	   *o;

	*ok = true;
	if (table == NULL)
		return NULL;
	dot = strchr(table, '.');
	if (dot == NULL || dot == table || dot[1] == '\0' || strchr(dot + 1, '.') != NULL)
	{
		snprintf(err, errlen, "%s: outbox.table \"%s\" must be schema.table", config_origin(c, "outbox.table"),
				 table);
		*ok = false;
		return NULL;
	}
	o = xcalloc(1, sizeof(Outbox));
	o->schema = xstrndup(table, (size_t) (dot - table));
	o->table = xstrdup(dot + 1);
	o->route_field = config_string(c, "outbox.route.by.field");
	o->replacement = config_string(c, "outbox.route.topic.replacement");
	o->id_field = config_string(c, "outbox.table.field.event.id");
	o->key_field = config_string(c, "outbox.table.field.event.key");
	o->payload_field = config_string(c, "outbox.table.field.event.payload");
	return o;
}

void
outbox_free(Outbox *o)
{
	if (o == NULL)
		return;
	free(o->schema);
	free(o->table);
	free(o);
}

bool
outbox_is_table(const Outbox *o, const char *schema, size_t schema_len, const char *table, size_t table_len)
{
	return o != NULL && strlen(o->schema) == schema_len && memcmp(o->schema, schema, schema_len) == 0 &&
		strlen(o->table) == table_len && memcmp(o->table, table, table_len) == 0;
}

/*
 * A value as text, for a topic name and a header: a text value as it is,
 * a uuid in its usual form, an integer in decimal.  False for NULL, an
 * unlogged value, or another kind.
 */
static bool
value_text(Span v, Buf *out)
{
	const uint8_t *p = v.data;
	WireField	f;

	if (v.len == 0 || wire_get_field(&p, v.data + v.len, &f) != WIRE_OK)
		return false;
	switch (f.number)
	{
		case WIRE_VALUE_TEXT_VALUE:
			buf_append(out, f.data, (size_t) f.len);
			return true;
		case WIRE_VALUE_UUID_VALUE:
			if (f.len != 16)
				return false;
			dbz_uuid_text(f.data, out);
			return true;
		case WIRE_VALUE_INT_VALUE:
			buf_printf(out, "%" PRId64, wire_unzigzag64(f.varint));
			return true;
		default:
			return false;
	}
}

/* The column the setting names, with its value in after; -1 with err when the table lacks it. */
static int
column(const DbzTable *t, const SpanArray *after, const char *setting, const char *name, Span *value,
	   char *err, size_t errlen)
{
	int			i = dbz_table_column_index(t, name);

	if (i < 0 || (size_t) i >= after->n)
	{
		snprintf(err, errlen, "%s: the outbox table has no column \"%s\"", setting, name);
		return -1;
	}
	*value = after->items[i];
	return i;
}

bool
outbox_event(const Outbox *o, const DbzTable *t, const SpanArray *after, OutboxEvent *ev, char *err,
			 size_t errlen)
{
	Span		route,
				id,
				key,
				payload;
	int			key_col,
				payload_col;
	Buf			routed = {0};
	Buf			text = {0};
	const char *at = strstr(o->replacement, ROUTED_VALUE);

	memset(ev, 0, sizeof(*ev));
	if (column(t, after, "outbox.route.by.field", o->route_field, &route, err, errlen) < 0 ||
		column(t, after, "outbox.table.field.event.id", o->id_field, &id, err, errlen) < 0 ||
		(key_col = column(t, after, "outbox.table.field.event.key", o->key_field, &key, err, errlen)) < 0 ||
		(payload_col = column(t, after, "outbox.table.field.event.payload", o->payload_field, &payload, err,
							  errlen)) < 0)
		return false;
	if (!value_text(route, &routed))
	{
		snprintf(err, errlen, "outbox.route.by.field: column \"%s\" of an event is NULL, or not text",
				 o->route_field);
		return false;
	}
	/* The replacement with the routed value in its place, as a topic name (topicname.h's rule). */
	buf_putc(&routed, '\0');
	if (at != NULL)
		buf_printf(&text, "%.*s%s%s", (int) (at - o->replacement), o->replacement, routed.data,
				   at + strlen(ROUTED_VALUE));
	else
		buf_puts(&text, o->replacement);
	if (text.len == 0)
	{
		snprintf(err, errlen, "outbox.route.topic.replacement: an event of an empty \"%s\" makes no topic name",
				 o->route_field);
		buf_free(&routed);
		buf_free(&text);
		return false;
	}
	ev->topic = topicname_sanitised(text.data, text.len);
	buf_free(&routed);
	text.len = 0;
	if (value_text(id, &text))
	{
		buf_putc(&text, '\0');
		ev->id = xstrdup(text.data);
	}
	buf_free(&text);
	/* A NULL key or payload is JSON's null, as JsonConverter writes an optional field's (no tombstone). */
	if (!dbz_column_message(t, (size_t) key_col, key, &ev->key, err, errlen) ||
		!dbz_column_message(t, (size_t) payload_col, payload, &ev->value, err, errlen))
	{
		outbox_event_clear(ev);
		return false;
	}
	return true;
}

void
outbox_event_clear(OutboxEvent *ev)
{
	free(ev->topic);
	free(ev->id);
	buf_free(&ev->key);
	buf_free(&ev->value);
	memset(ev, 0, sizeof(*ev));
}
