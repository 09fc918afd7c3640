/*
 * relations.c — an open-addressing hash of relations by relid.
 *
 * A stream touches few relations; the table only grows, and a relid seen
 * again replaces its entry in place so that pointers handed out stay valid
 * until relations_free().
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colpolicy.h"
#include "dbzjson.h"
#include "relations.h"
#include "topicname.h"
#include "xalloc.h"

struct Relations
{
	Relation  **slots;			/* NULL: empty */
	size_t		capacity;		/* power of two */
	size_t		count;
	char	   *prefix;
	const ColPolicy *columns;
	const TopicRoute *route;
	void		(*free_handle) (void *);
};

Relations *
relations_new(const char *topic_prefix, const ColPolicy *columns, const TopicRoute *route,
			  void (*free_handle) (void *))
{
	Relations  *rels = xcalloc(1, sizeof(Relations));

	rels->capacity = 64;
	rels->slots = xcalloc(rels->capacity, sizeof(Relation *));
	rels->prefix = xstrdup(topic_prefix);
	rels->columns = columns;
	rels->route = route;
	rels->free_handle = free_handle;
	return rels;
}

static void
relation_clear(Relations *rels, Relation *rel)
{
	free(rel->record);
	free(rel->keys);
	free(rel->name);
	free(rel->topic);
	free(rel->physical);
	dbz_table_free(rel->dbz);
	coltable_free(rel->cols);
	if (rel->handle != NULL && rels->free_handle != NULL)
		rels->free_handle(rel->handle);
}

void
relations_free(Relations *rels)
{
	if (rels == NULL)
		return;
	for (size_t i = 0; rels->slots && i < rels->capacity; i++)
	{
		if (rels->slots[i] != NULL)
		{
			relation_clear(rels, rels->slots[i]);
			free(rels->slots[i]);
		}
	}
	free(rels->slots);
	free(rels->prefix);
	free(rels);
}

static size_t
hash(uint32_t relid, size_t capacity)
{
	return (size_t) ((relid * 2654435761u) & (capacity - 1));
}

static Relation **
find(const Relations *rels, uint32_t relid)
{
	size_t		i = hash(relid, rels->capacity);

	while (rels->slots[i] != NULL && rels->slots[i]->relid != relid)
		i = (i + 1) & (rels->capacity - 1);
	return &rels->slots[i];
}

Relation *
relations_get(Relations *rels, uint32_t relid)
{
	return *find(rels, relid);
}

static void
grow(Relations *rels)
{
	Relations	bigger = *rels;

	bigger.capacity = rels->capacity * 2;
	bigger.slots = xcalloc(bigger.capacity, sizeof(Relation *));
	for (size_t i = 0; i < rels->capacity; i++)
	{
		if (rels->slots[i] != NULL)
			*find(&bigger, rels->slots[i]->relid) = rels->slots[i];
	}
	free(rels->slots);
	rels->slots = bigger.slots;
	rels->capacity = bigger.capacity;
}

void *
relation_value(const Relation *rel, const uint8_t *change, size_t len, size_t *total)
{
	uint8_t    *value = xmalloc(rel->sent_len + len);

	memcpy(value, rel->sent, rel->sent_len);
	memcpy(value + rel->sent_len, change, len);
	*total = rel->sent_len + len;
	return value;
}

Relation *
relations_put(Relations *rels, const Record *r, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	Relation  **slot;
	Relation   *rel;
	Relation	fresh = {0};

	if (rels->columns != NULL && !colpolicy_table(rels->columns, r, buf, len, &fresh.cols, err, errlen))
		return NULL;
	fresh.topic = topicroute_of(rels->route, rels->prefix, (const char *) r->schema.data, r->schema.len,
								(const char *) r->table.data, r->table.len, err, errlen);
	if (fresh.topic == NULL)
	{
		coltable_free(fresh.cols);
		return NULL;
	}
	if (rels->route != NULL)
	{
		/* Routed when its own name differs: Debezium's keys then name the own one. */
		fresh.physical = topicname_of(rels->prefix, (const char *) r->schema.data, r->schema.len,
									  (const char *) r->table.data, r->table.len);
		if (strcmp(fresh.physical, fresh.topic) == 0)
		{
			free(fresh.physical);
			fresh.physical = NULL;
		}
	}
	if ((rels->count + 1) * 2 > rels->capacity)
		grow(rels);
	fresh.relid = r->relid;
	fresh.record = xmalloc(len ? len : 1);
	fresh.keys = xcalloc(r->columns.n ? r->columns.n : 1, sizeof(uint32_t));
	fresh.name = xmalloc(r->schema.len + r->table.len + 2);
	memcpy(fresh.record, buf, len);
	fresh.schema_len = r->schema.len;
	fresh.record_len = len;
	for (size_t i = 0; i < r->columns.n; i++)
	{
		if (record_column_is_key(r->columns.items[i]))
			fresh.keys[fresh.nkeys++] = (uint32_t) i;
	}
	fresh.sent = fresh.record;
	fresh.sent_len = len;
	fresh.kafka_keys = fresh.keys;
	fresh.nkafka_keys = fresh.nkeys;
	if (fresh.cols != NULL)
	{
		const Buf  *sent = coltable_relation(fresh.cols, false);

		fresh.sent = (const uint8_t *) sent->data;
		fresh.sent_len = sent->len;
		fresh.kafka_keys = coltable_keys(fresh.cols, &fresh.nkafka_keys);
	}
	snprintf(fresh.name, r->schema.len + r->table.len + 2, "%.*s.%.*s",
			 (int) r->schema.len, (const char *) r->schema.data,
			 (int) r->table.len, (const char *) r->table.data);

	slot = find(rels, r->relid);
	if ((rel = *slot) == NULL)
	{
		rel = xcalloc(1, sizeof(Relation));
		*slot = rel;
		rels->count++;
	}
	else if (rel->topic != NULL && strcmp(rel->topic, fresh.topic) == 0)
	{
		/* Same topic: keep its handle. */
		fresh.handle = rel->handle;
		rel->handle = NULL;
	}
	memcpy(fresh.counters, rel->counters, sizeof(fresh.counters));
	fresh.txn_events = rel->txn_events;
	relation_clear(rels, rel);
	*rel = fresh;
	return rel;
}
