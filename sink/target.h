/*
 * target.h — the target database: connection, walsink's own tables
 * (positions, truncates, dead letters) and the statements around a batch.
 *
 * walsink keeps, per consumer group and topic-partition, the last offset it
 * applied and the source position of the last change; both are written in
 * the transaction that applied them.
 */
#ifndef PGCDC_TARGET_H
#define PGCDC_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "event.h"
#include "settings.h"

#define TARGET_DEFERRED 8

typedef struct Target
{
	PGconn	   *conn;
	const Settings *settings;
	char	   *dead_letter;	/* quoted schema.table */
	char		state[6];		/* SQLSTATE of the last error target_error saw, "" when none */
	/* Statements waiting to go with the next one (target_defer). */
	const char *deferred[TARGET_DEFERRED];
	int			ndeferred;
} Target;

/* Where a topic-partition stands in the target. */
typedef struct PartState
{
	char	   *topic;
	int32_t		partition;
	int64_t		offset;			/* last applied or skipped; -1: none */
	Position	pos;			/* stored: the last change applied (or skipped), never a dead letter's */
	bool		has_pos;
	bool		touched;		/* in the open batch */
	Position	seen;			/* in the open batch: the last change admitted */
	bool		has_seen;
	/* Key changes: see keychange.h. */
	int64_t		hold;			/* the open batch applies nothing from this offset on; -1: no hold */
	int64_t		held_at;		/* the offset held by earlier batches, and since when */
	int64_t		held_since_ms;
	int64_t		resume;			/* sought back to this offset: messages until it comes are stale; -1 */
	char		owner[64];		/* this member's claim of it (target_claim) */
	char	   *source;			/* the source history of pos (pgcdc.source), stored with it; NULL: unknown */
	char	   *former;			/* the one before, when source.change = resync took a new one; NULL */
} PartState;

extern Target *target_connect(const Settings *s, char *err, size_t errlen);
extern void target_free(Target *t);

/*
 * Every statement goes through these, after the deferred ones: a round trip
 * costs the apply thread and the target's backend a wake-up each, and a
 * batch of inserts took seven of them where three do.
 *
 * target_defer: sql (a string constant that cannot fail in a sound
 * transaction: BEGIN, SAVEPOINT, RELEASE SAVEPOINT) is sent ahead of the
 * next statement, in its round trip.  False (err) only when too many wait
 * and sending them failed.
 */
extern bool target_defer(Target *t, const char *sql, char *err, size_t errlen);
/* PQexec (several statements without parameters, or a COPY) after the deferred ones. */
extern PGresult *target_query(Target *t, const char *sql);
/*
 * PQexecParams (text results) after the deferred ones, then, when given,
 * the statement then in the same round trip (it runs only when sql
 * succeeded).  The first failure's result, else sql's.
 */
extern PGresult *target_query_params(Target *t, const char *sql, int n, const char *const *values,
									 const int *lengths, const int *formats, const char *then);

/*
 * The first statement of every DDL walsink sends (its own tables,
 * auto.create, auto.evolve): one lock of the target database for every
 * walsink, held to the end of the transaction.  CREATE ... IF NOT EXISTS
 * and ADD COLUMN IF NOT EXISTS fail (a unique violation in the catalogs)
 * when a twin runs at the same moment, and the members of a group start,
 * and meet a new table or column, together.
 */
#define TARGET_DDL_LOCK "SELECT pg_advisory_xact_lock(7378526240519545666);"

/*
 * Creates schema unless it exists: CREATE SCHEMA, even IF NOT EXISTS, needs
 * the CREATE privilege on the database, which a least-privilege walsink,
 * owning its schemas, does not have.
 */
extern bool target_ensure_schema(Target *t, const char *schema, char *err, size_t errlen);

/* False with err: the connection is lost or the server refused something unexpected. */
extern bool target_exec(Target *t, const char *sql, char *err, size_t errlen);
/* target_exec, with the number of rows the statement affected in *rows. */
extern bool target_exec_rows(Target *t, const char *sql, long *rows, char *err, size_t errlen);
/*
 * sql, n statements, in one round trip (after the deferred ones): the rows
 * each affected in counts[0..n).  False (err) when one failed: the ones
 * after it did not run.
 */
extern bool target_exec_counts(Target *t, const char *sql, long *counts, size_t n, char *err, size_t errlen);
/* Whether the last error means the connection (not the data) failed. */
extern bool target_broken(const Target *t);

/*
 * A partition assigned to this member: claimed in pgcdc.sink_position under
 * a token of its own (p->owner), and where it stands loaded.  A member that
 * lost the partition (dropped from the group while a batch was stuck, say)
 * can then no longer store positions for it: target_commit fails, fenced.
 */
extern bool target_claim(Target *t, PartState *p, char *err, size_t errlen);
/*
 * Stores the positions of parts[0..n), each partition once, and commits the
 * open transaction; fails (err "fenced: ...") when another member claimed
 * one of them since.
 */
extern bool target_commit(Target *t, PartState *const *parts, size_t n, char *err, size_t errlen);

/* The truncate position of a target table ("schema.table"), or false when none. */
extern bool target_truncate_mark(Target *t, const char *table, Position *pos, bool *found,
								 char *err, size_t errlen);
/* pos NULL: the mark is forgotten (a new source history, source.change = resync). */
extern bool target_set_truncate_mark(Target *t, const char *table, const Position *pos,
									 char *err, size_t errlen);

/*
 * Records e as a dead letter (inside the open transaction); *written is false
 * when the table holds it already (the same message consumed again).  Its
 * key and value are kept up to EVENT_DEAD_KEEP bytes, value_bytes the
 * value's size.
 */
extern bool target_dead_letter(Target *t, const Event *e, const char *reason, const char *detail,
							   bool *written, char *err, size_t errlen);

/* An identifier quoted for SQL (malloc'd). */
extern char *target_quote(Target *t, const char *ident);

/* "schema.table" → quoted, with the two parts split at the first dot. */
/*
 * Each validation rule whose table exists evaluated once on no rows: a typo
 * is a configuration error at start, not every row a dead letter.
 */
extern bool target_check_rules(Target *t, char *err, size_t errlen);
extern char *target_quote_qualified(Target *t, const char *schema, const char *table);

/*
 * walsink's role when it is a superuser, else NULL: it needs to own (or
 * write) its target schemas and pgcdc, nothing else (README, least privilege).
 */
extern const char *target_superuser(const Target *t);

/* One line: the server's message, its detail and SQLSTATE. */
extern void target_error(Target *t, const PGresult *res, char *err, size_t errlen);

/*
 * The data of a COPY FROM STDIN that target_query started: sent a piece at a
 * time (false when sending failed: the end says why), then ended with its
 * result; abandon, when not NULL, gives the COPY up for that reason.
 */
extern bool target_copy_send(Target *t, const char *data, size_t len);
extern bool target_copy_end(Target *t, bool sent, const char *abandon, char *err, size_t errlen);

#endif							/* PGCDC_TARGET_H */
