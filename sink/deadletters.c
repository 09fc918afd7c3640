/*
 * deadletters.c — a batch's dead letters, noted, forgotten with their
 * savepoint, then written (see deadletters.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdlib.h>

#include "deadletters.h"
#include "deadtable.h"
#include "log.h"
#include "xalloc.h"

void
deadletters_add(DeadLetters *d, Event *e, const char *reason, const char *detail)
{
	e->dead = true;
	if (d->n == d->cap)
	{
		d->cap = d->cap ? 2 * d->cap : 16;
		d->items = xrealloc(d->items, d->cap, sizeof(DeadLetter));
	}
	d->items[d->n++] = (DeadLetter) {e, xstrdup(reason), detail ? xstrdup(detail) : NULL};
}

void
deadletters_forget(DeadLetters *d, size_t keep)
{
	while (d->n > keep)
	{
		d->n--;
		d->items[d->n].e->dead = false;
		free(d->items[d->n].reason);
		free(d->items[d->n].detail);
	}
}

bool
deadletters_write(DeadLetters *d, Target *t, DeadTopic *dt, char *err, size_t errlen)
{
	for (size_t i = 0; i < d->n; i++)
	{
		const DeadLetter *l = &d->items[i];
		const rd_kafka_message_t *m = l->e->msg;
		bool		written;

		if (!deadtable_write(t, l->e, l->reason, l->detail, &written, err, errlen))
			return false;
		if (!written)
		{
			/* Consumed again: its dead letter was committed before, with its offset. */
			log_msg(LOG_INFO, "%s [%d] @%" PRId64 " skipped: already a dead letter",
					rd_kafka_topic_name(m->rkt), m->partition, m->offset);
			d->n_again++;
			continue;
		}
		log_msg(LOG_WARNING, "dead letter: %s [%d] @%" PRId64 ": %s%s%s", rd_kafka_topic_name(m->rkt),
				m->partition, m->offset, l->reason, l->detail ? ": " : "", l->detail ? l->detail : "");
		d->n_written++;
		if (dt && !deadtopic_send(dt, l->e, l->reason, l->detail, err, errlen))
			return false;
	}
	return d->n_written == 0 || dt == NULL || deadtopic_flush(dt, err, errlen);
}

void
deadletters_reset(DeadLetters *d)
{
	deadletters_forget(d, 0);
	d->n_written = d->n_again = 0;
}

void
deadletters_free(DeadLetters *d)
{
	deadletters_forget(d, 0);
	free(d->items);
	d->items = NULL;
	d->cap = 0;
}
