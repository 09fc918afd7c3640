/*
 * signals.h — the signal table (signal.data.collection): rows inserted there
 * start, stop, pause or resume snapshots, read from the stream so that they
 * are ordered with the changes.
 *
 * Its shape is Debezium's: id text, type text, data text (JSON).  Types:
 * execute-snapshot ({"data-collections": ["schema.table", ...],
 * "additional-conditions": [{"data-collection": "schema.table", "filter":
 * "SQL condition"}]}: those tables read again, from their first chunk),
 * stop-snapshot (the named tables', or with no data-collections every
 * table's reading ends), pause-snapshot and resume-snapshot.  A signal is
 * executed once: its position is kept in pgcdc.streamer_slot with what it
 * did, in one transaction, and a signal at or behind it (streamed again
 * after a restart) is skipped.  One that cannot be executed (unreadable
 * JSON, a table that is not captured) is logged and skipped: a signal never
 * stops the stream.
 */
#ifndef PGCDC_STREAMER_SIGNALS_H
#define PGCDC_STREAMER_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "relations.h"
#include "settings.h"

typedef struct Signal
{
	char	   *id;
	char	   *type;
	char	   *data;			/* NULL when the row has none */
	uint64_t	lsn;			/* its transaction's commit */
} Signal;

/* The signals the stream has seen and the pipeline not yet executed, in order. */
typedef struct Signals
{
	const Settings *settings;
	Signal	   *items;
	size_t		n;
	size_t		cap;
} Signals;

/* Whether rel is the signal table. */
extern bool signal_table_is(const Settings *s, const Relation *rel);
/* A change of the signal table (r, after its RELATION record rel): an INSERT's signal is queued. */
extern void signals_add(Signals *q, const Relation *rel, const Record *r, uint64_t lsn);
/* The oldest queued signal into out (the caller's to signal_free); false when none. */
extern bool signals_take(Signals *q, Signal *out);
extern void signals_clear(Signals *q);
extern void signal_free(Signal *sig);

/*
 * Executes sig against the source's pgcdc tables (its own connection).
 * False with err only when the source failed; a signal that cannot be
 * executed is logged and marked done.
 */
extern bool signal_execute(const Settings *s, const Signal *sig, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_SIGNALS_H */
