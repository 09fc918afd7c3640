/*
 * heartbeat.h — a transactional logical message every interval.
 *
 * On an idle database, or one whose changes are all filtered out, nothing
 * reaches walstreamer to confirm, and the slot would hold WAL forever.  A
 * small transaction that the decoder does stream (prefix pgcdc.heartbeat,
 * to <prefix>.heartbeat) gives the slot something to advance to.  It runs
 * in its own thread on its own connection, so a slow or unreachable source
 * never stalls the event loop; failures are logged and retried.
 *
 * heartbeat.action.query, as Debezium's: a statement of the user's run
 * after each heartbeat on the same connection (autocommit), typically an
 * insert into a table of the publication, so that a slot on a database
 * whose own tables are idle moves with the database's WAL.  Its failures
 * are logged with the server's message and retried at the next interval.
 */
#ifndef PGCDC_STREAMER_HEARTBEAT_H
#define PGCDC_STREAMER_HEARTBEAT_H

typedef struct Heartbeat Heartbeat;

/* NULL when interval_ms is 0 (heartbeats off) or the thread cannot start; action_query NULL: none. */
extern Heartbeat *heartbeat_start(const char *conninfo, int interval_ms, const char *action_query);
extern void heartbeat_stop(Heartbeat *hb);

#endif							/* PGCDC_STREAMER_HEARTBEAT_H */
