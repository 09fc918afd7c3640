/*
 * deadletters.h — the dead letters of one batch: events refused, noted as
 * the batch goes (a savepoint rolled back forgets those noted under it), and
 * written just before the batch commits, into the target's dead-letter
 * table and to the dead-letter topic.  The events stay the batch's.
 */
#ifndef PGCDC_SINK_DEADLETTERS_H
#define PGCDC_SINK_DEADLETTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deadtopic.h"
#include "event.h"
#include "target.h"

/* An event refused, and why. */
typedef struct DeadLetter
{
	Event	   *e;
	char	   *reason;
	char	   *detail;
} DeadLetter;

typedef struct DeadLetters
{
	DeadLetter *items;
	size_t		n;
	size_t		cap;
	/* Counted by deadletters_write: new to the table, in it already (consumed again). */
	int64_t		n_written;
	int64_t		n_again;
} DeadLetters;

/* Notes e as a dead letter (e->dead); detail may be NULL. */
extern void deadletters_add(DeadLetters *d, Event *e, const char *reason, const char *detail);
/* Forgets the notes after the first keep (their savepoint was rolled back). */
extern void deadletters_forget(DeadLetters *d, size_t keep);
/* All of them, table and topic (dt, may be NULL), acknowledged on the topic, in the open transaction. */
extern bool deadletters_write(DeadLetters *d, Target *t, DeadTopic *dt, char *err, size_t errlen);
/* Forgets the notes and the counts, for the next batch. */
extern void deadletters_reset(DeadLetters *d);
extern void deadletters_free(DeadLetters *d);

#endif							/* PGCDC_SINK_DEADLETTERS_H */
