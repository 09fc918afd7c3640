/*
 * heartbeat.h — a transactional logical message every interval.
 *
 * On an idle database, or one whose changes are all filtered out, nothing
 * reaches walstreamer to confirm, and the slot would hold WAL forever.  A
 * small transaction that the decoder does stream (prefix pgcdc.heartbeat,
 * to <prefix>.heartbeat) gives the slot something to advance to.  It runs
 * in its own thread on its own connection, so a slow or unreachable source
 * never stalls the event loop; failures are logged and retried.
 */
#ifndef PGCDC_STREAMER_HEARTBEAT_H
#define PGCDC_STREAMER_HEARTBEAT_H

typedef struct Heartbeat Heartbeat;

/* NULL when interval_ms is 0 (heartbeats off) or the thread cannot start. */
extern Heartbeat *heartbeat_start(const char *conninfo, int interval_ms);
extern void heartbeat_stop(Heartbeat *hb);

#endif							/* PGCDC_STREAMER_HEARTBEAT_H */
