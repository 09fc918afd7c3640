/*
 * applier.h — what the three parts of applying a batch share: apply.c (the
 * batch: admit, prepare, write, dead letters, commit), applycopy.c (rows as
 * COPY data, into the staging table or straight into the table) and
 * applykeys.c (per key: the last change decides; unchanged TOASTed values
 * and key changes' old rows).  Only they include it; apply.h is the rest of
 * walsink's view.
 */
#ifndef PGCDC_APPLIER_H
#define PGCDC_APPLIER_H

#include <stdint.h>

#include "apply.h"
#include "arena.h"
#include "copytext.h"
#include "moves.h"
#include "tables.h"

/* Why an event was skipped: the label of walsink_skipped_total. */
enum
{
	SKIP_APPLIED,				/* at or behind the stored position */
	SKIP_DEAD_LETTER,			/* in the dead-letter table already */
	SKIP_SUPERSEDED,			/* a later change of its key in the batch decides */
	SKIP_TRUNCATED,				/* older than a truncate already applied */
	SKIP_REASONS
};

/* An event refused, and why. */
typedef struct DeadLetter
{
	Event	   *e;
	char	   *reason;
	char	   *detail;
} DeadLetter;

struct Applier
{
	const Settings *settings;
	Metrics    *metrics;
	Target	   *target;
	Tables	   *tables;
	DeadTopic  *dead_topic;
	/* This batch's dead letters, written just before COMMIT. */
	DeadLetter *dead;
	size_t		ndead;
	size_t		dead_cap;
	int64_t		n_dead;			/* of them, those new to the table */
	/* This batch's counts, added to the metrics once it is committed. */
	int64_t		n_applied;
	int64_t		n_skipped[SKIP_REASONS];
	int64_t		n_ignored;
	MetricCell *m_applied;
	MetricCell *m_skipped[SKIP_REASONS];
	MetricCell *m_ignored;
	MetricCell *m_dead;
	MetricCell *m_batches;
	bool		fatal;			/* this batch failed so that starting again cannot help */
	bool		conflict;		/* applycopy_direct met a key already there */
	bool		partial;		/* applycopy_rows staged a row without some column */
	bool		text_only;		/* this batch's COPYs go in text: binary could not carry a value */
	bool		text_again;		/* a binary COPY was abandoned for a value it cannot carry */
	bool		copy_lost;		/* sending COPY data failed: its result says why */
	TableInfo  *staged;			/* its staging table holds rows a statement of this batch wrote */
	Moves	   *moves;
	Arena	   *scratch;		/* values made for this batch */
	Buf			copy;
	Buf			sql;
};

/* A staged row's signature: per target column '1' when it has a value, then its op, then NUL. */
#define SIG_LEN(ti) ((ti)->ncols + 2)

/* A change to stage, with the target table it goes to. */
typedef struct Row
{
	Event	   *e;
	TableInfo  *ti;
} Row;

/* COPY data goes to the target in pieces of this size while the rest is made. */
#define COPY_PIECE (256 * 1024)

/* apply.c */
/* Notes e as a dead letter of this batch; a savepoint rolled back takes its notes along. */
extern void apply_dead(Applier *a, Event *e, const char *reason, const char *detail);
/* Forgets the dead letters noted after the first keep (their savepoint was rolled back). */
extern void apply_dead_forget(Applier *a, size_t keep);
/* SQL text built in a->sql: apply_sql appends, apply_sql_text ends it. */
extern void apply_sql(Applier *a, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern const char *apply_sql_text(Applier *a);
/* " AND t.k = s.k" for each key column: the table t against the stage s. */
extern void apply_key_match(Applier *a, TableInfo *ti);

/* applycopy.c */
/* A COPY FROM STDIN (the statement in a->sql) started; data made into a->copy. */
extern bool applycopy_start(Applier *a, char *err, size_t errlen);
/* Sends a->copy once it holds piece bytes (1: whatever it holds). */
extern void applycopy_send(Applier *a, size_t piece);
/* Ends the COPY with its result; abandon: a value binary COPY cannot carry (a->text_again). */
extern bool applycopy_end(Applier *a, bool abandon, char *err, size_t errlen);
/* Stages rows[0..n) (those the source inserted too, unless direct); each row's signature and group. */
extern bool applycopy_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, bool direct, char *sig,
						   size_t *nsig, int *group, char *err, size_t errlen);
/* Group g (source inserts, signature s) straight into the table; a->conflict when a key was there. */
extern bool applycopy_direct(Applier *a, TableInfo *ti, Row *rows, size_t n, const int *group, int g,
							 const char *s, char *err, size_t errlen);
/* Whether a row of signature s writes target column j. */
extern bool applycopy_writes(const TableInfo *ti, const char *s, size_t j);
/* The columns a row of signature s writes, quoted, comma-separated, into a->sql. */
extern void applycopy_columns(Applier *a, const TableInfo *ti, const char *s);

/* applykeys.c */
/* Rows by key, then source position (qsort). */
extern int	applykeys_cmp(const void *x, const void *y);
/* The last row per key of rows sorted so, given what earlier ones set; returns how many are left. */
extern size_t applykeys_dedupe(Row *rows, size_t n);
/* Key changes' copies under the old key find the values their update left unchanged (moves.h). */
extern bool applykeys_resolve_moves(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen);

/* applyfull.c */
/* Whether rows (of a table without a key) hold an update or delete to match on the old row. */
extern bool applyfull_needed(const Row *rows, size_t n);
/* rows[0..n) of a table without a key, in source order (REPLICA IDENTITY FULL). */
extern bool applyfull_rows(Applier *a, TableInfo *ti, Row *rows, size_t n, char *err, size_t errlen);

#endif							/* PGCDC_APPLIER_H */
