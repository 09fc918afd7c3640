/*
 * topiclimits.c — a short list behind a mutex: a topic gets an entry only
 * when the brokers refuse one of its messages, so there are few, usually
 * none, and the check before each produce costs one atomic load.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "topiclimits.h"
#include "xalloc.h"

typedef struct Entry
{
	char	   *topic;
	size_t		refused;		/* largest refused message since limit was set */
	size_t		limit;			/* learned; 0: not yet */
} Entry;

struct TopicLimits
{
	pthread_mutex_t lock;
	Entry	   *items;
	size_t		n;
	atomic_size_t known;		/* entries with a limit */
};

TopicLimits *
topiclimits_new(void)
{
	TopicLimits *l = xcalloc(1, sizeof(TopicLimits));

	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void
topiclimits_free(TopicLimits *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].topic);
	free(l->items);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static Entry *
find(TopicLimits *l, const char *topic)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].topic, topic) == 0)
			return &l->items[i];
	return NULL;
}

static void
count_known(TopicLimits *l)
{
	size_t		known = 0;

	for (size_t i = 0; i < l->n; i++)
		known += l->items[i].limit > 0;
	atomic_store(&l->known, known);
}

void
topiclimits_refused(TopicLimits *l, const char *topic, size_t size)
{
	Entry	   *e;

	pthread_mutex_lock(&l->lock);
	if ((e = find(l, topic)) != NULL)
	{
		if (size > e->refused)
			e->refused = size;
	}
	else
	{
		l->items = xrealloc(l->items, l->n + 1, sizeof(Entry));
		l->items[l->n++] = (Entry) {xstrdup(topic), size, 0};
	}
	pthread_mutex_unlock(&l->lock);
}

size_t
topiclimits_get(TopicLimits *l, const char *topic)
{
	Entry	   *e;
	size_t		limit = 0;

	if (l == NULL || atomic_load(&l->known) == 0)
		return 0;
	pthread_mutex_lock(&l->lock);
	if ((e = find(l, topic)) != NULL)
		limit = e->limit;
	pthread_mutex_unlock(&l->lock);
	return limit;
}

bool
topiclimits_entry(TopicLimits *l, size_t i, char **topic, size_t *refused, size_t *limit)
{
	bool		ok;

	pthread_mutex_lock(&l->lock);
	ok = i < l->n;
	if (ok)
	{
		*topic = xstrdup(l->items[i].topic);
		*refused = l->items[i].refused;
		*limit = l->items[i].limit;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

void
topiclimits_set(TopicLimits *l, const char *topic, size_t limit)
{
	Entry	   *e;

	pthread_mutex_lock(&l->lock);
	if ((e = find(l, topic)) != NULL)
	{
		if (limit > 0)
		{
			e->limit = limit;
			e->refused = 0;
		}
		else
		{
			free(e->topic);
			*e = l->items[--l->n];
		}
	}
	count_known(l);
	pthread_mutex_unlock(&l->lock);
}
