/*
 * target.h — the connection to the target database and its transaction:
 * every statement walsink sends goes through here.
 *
 * target_connect sets the session up (encoding, date and number forms,
 * synchronous_commit) and creates walsink's own tables when they are
 * missing: pgcdc.sink_position (positions.h), pgcdc.sink_truncate
 * (truncmarks.h), pgcdc.sink_key_move (keychange.h) and the dead-letter table
 * (deadtable.h).  Their DDL sits here, in one statement under the DDL lock,
 * because every connection makes sure of them before anything else; those
 * modules only read and write their rows.
 *
 * The caller owns the Target (target_free), and the Target its PGconn: this
 * is the only file that touches it (COPY data goes through
 * target_copy_send).  A Target is used by one thread at a time.  Strings it
 * returns (target_quote*) are the caller's; the Settings it was connected
 * with stay the caller's and outlive it.
 */
#ifndef PGCDC_SINK_TARGET_H
#define PGCDC_SINK_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "event.h"
#include "settings.h"

typedef struct Target Target;

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
/* Whether the last error target_error saw was a unique violation (23505). */
extern bool target_unique_violation(const Target *t);

/* The settings t was connected with (its group.id names walsink's rows). */
extern const Settings *target_settings(const Target *t);
/* dead.letter.table, schema and table quoted; t's. */
extern const char *target_dead_letter_table(const Target *t);

/*
 * sql with n text parameters (PQexecParams, text results) after the
 * deferred ones, then, when not NULL, the statement then in the same round
 * trip (target_query_params).  On success *out, when out is not NULL, takes
 * the result (the caller clears it); false with err on failure.
 */
extern bool target_exec_params(Target *t, const char *sql, int n, const char *const *values,
							   const char *then, PGresult **out, char *err, size_t errlen);

/*
 * Appends one element to each of the n text array literals arrays[0..n)
 * (PostgreSQL's form: {a,"b",NULL}); values[i] NULL for NULL.  The caller
 * closes each with "}" and passes them as array parameters: one statement
 * for many rows (unnest) instead of a round trip each.
 */
extern void target_array_add(Buf *arrays, size_t n, const char *const *values);

/* An identifier quoted for SQL (malloc'd); NULL when libpq refuses it. */
extern char *target_quote(Target *t, const char *ident);
/* schema.table, each part quoted (malloc'd); NULL when libpq refuses one. */
extern char *target_quote_qualified(Target *t, const char *schema, const char *table);

/*
 * walsink's role when it is a superuser, else NULL: it needs to own (or
 * write) its target schemas and pgcdc, nothing else (README, least privilege).
 */
extern const char *target_superuser(const Target *t);
/* What walsink says of a superuser role, at start and in --check. */
extern const char target_superuser_warning[];

/* One line: the server's message, its detail and SQLSTATE. */
extern void target_error(Target *t, const PGresult *res, char *err, size_t errlen);

/*
 * The data of a COPY FROM STDIN that target_query started: sent a piece at a
 * time (false when sending failed: the end says why), then ended with its
 * result; abandon, when not NULL, gives the COPY up for that reason.
 */
extern bool target_copy_send(Target *t, const char *data, size_t len);
extern bool target_copy_end(Target *t, bool sent, const char *abandon, char *err, size_t errlen);

#endif							/* PGCDC_SINK_TARGET_H */
