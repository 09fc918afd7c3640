/*
 * acktrack.h — which source position Kafka has made durable.
 *
 * walstreamer may confirm to the slot only the end of a transaction whose
 * messages, and those of every earlier transaction, Kafka has all
 * acknowledged.  Delivery reports arrive in any order across partitions;
 * this module turns them into that one LSN.
 *
 * Transactions are registered in stream order.  Each gets an id; every
 * message produced for it is counted with acktrack_sent(), and its delivery
 * report is answered with acktrack_acked() or acktrack_failed() on that id.
 * A failure is sticky: the flush position never moves again, and the caller
 * restarts from the slot.
 *
 * The tracker owns its memory; acktrack_free() releases it.
 */
#ifndef PGCDC_STREAMER_ACKTRACK_H
#define PGCDC_STREAMER_ACKTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct AckTracker AckTracker;

/* start_lsn: the slot's confirmed position, reported until something moves it. */
extern AckTracker *acktrack_new(uint64_t start_lsn);
extern void acktrack_free(AckTracker *t);

/* Opens the next transaction; returns its id.  One may be open at a time. */
extern uint64_t acktrack_begin(AckTracker *t);
/* A message of the open transaction went to the producer. */
extern void acktrack_sent(AckTracker *t, uint64_t txn);
/* The open transaction is complete: end_lsn is where it may be confirmed. */
extern void acktrack_commit(AckTracker *t, uint64_t txn, uint64_t end_lsn);

/* Delivery reports, in any order. */
extern void acktrack_acked(AckTracker *t, uint64_t txn);
extern void acktrack_failed(AckTracker *t, uint64_t txn);

/*
 * The stream is complete up to lsn (a keepalive's position): when no
 * transaction is open or unacknowledged, the flush position may move there.
 * Returns whether it did.
 */
extern bool acktrack_idle(AckTracker *t, uint64_t lsn);

/* The position safe to confirm as flushed. */
extern uint64_t acktrack_flush_lsn(const AckTracker *t);
extern bool acktrack_has_failed(const AckTracker *t);
/* Transactions registered but not yet covered by the flush position. */
extern size_t acktrack_pending(const AckTracker *t);

#endif							/* PGCDC_STREAMER_ACKTRACK_H */
