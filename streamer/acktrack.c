/*
 * acktrack.c — the flush position from out-of-order delivery reports.
 *
 * A ring of the transactions not yet confirmable, oldest first, indexed by
 * id modulo its capacity (a power of two, doubled when full).  An
 * acknowledgement decrements its transaction's count; whenever the oldest
 * transaction is committed and has nothing outstanding it leaves the ring
 * and its end LSN becomes the flush position.  Every operation is O(1)
 * amortised.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "acktrack.h"
#include "xalloc.h"

typedef struct Txn
{
	uint64_t	end_lsn;
	uint64_t	outstanding;	/* messages sent, not yet acknowledged */
	bool		committed;
} Txn;

struct AckTracker
{
	Txn		   *ring;
	size_t		capacity;		/* power of two */
	uint64_t	head;			/* id of the oldest transaction in the ring */
	uint64_t	next;			/* id the next acktrack_begin() returns */
	bool		open;			/* next - 1 is open */
	bool		failed;
	uint64_t	flush_lsn;
};

/* Misuse is a bug in walstreamer, never a runtime condition: stop loudly. */
static void
misuse(const char *what)
{
	fprintf(stderr, "acktrack: %s\n", what);
	abort();
}

static Txn *
slot(const AckTracker *t, uint64_t txn)
{
	if (txn < t->head || txn >= t->next)
		misuse("unknown transaction id");
	return &t->ring[txn & (t->capacity - 1)];
}

AckTracker *
acktrack_new(uint64_t start_lsn)
{
	AckTracker *t = xcalloc(1, sizeof(AckTracker));

	t->capacity = 64;
	t->ring = xcalloc(t->capacity, sizeof(Txn));
	t->flush_lsn = start_lsn;
	return t;
}

void
acktrack_free(AckTracker *t)
{
	if (t == NULL)
		return;
	free(t->ring);
	free(t);
}

static void
grow(AckTracker *t)
{
	size_t		capacity = t->capacity * 2;
	Txn		   *ring = xcalloc(capacity, sizeof(Txn));

	for (uint64_t id = t->head; id < t->next; id++)
		ring[id & (capacity - 1)] = t->ring[id & (t->capacity - 1)];
	free(t->ring);
	t->ring = ring;
	t->capacity = capacity;
}

/* Retire every leading transaction that is complete and fully acknowledged. */
static void
advance(AckTracker *t)
{
	if (t->failed)
		return;
	while (t->head < t->next)
	{
		Txn		   *x = &t->ring[t->head & (t->capacity - 1)];

		if (!x->committed || x->outstanding > 0)
			break;
		if (x->end_lsn > t->flush_lsn)
			t->flush_lsn = x->end_lsn;
		t->head++;
	}
}

uint64_t
acktrack_begin(AckTracker *t)
{
	Txn		   *x;

	if (t->open)
		misuse("a transaction is already open");
	if (t->next - t->head == t->capacity)
		grow(t);
	x = &t->ring[t->next & (t->capacity - 1)];
	x->end_lsn = 0;
	x->outstanding = 0;
	x->committed = false;
	t->open = true;
	return t->next++;
}

void
acktrack_sent(AckTracker *t, uint64_t txn)
{
	if (!t->open || txn != t->next - 1)
		misuse("message for a transaction that is not open");
	slot(t, txn)->outstanding++;
}

void
acktrack_commit(AckTracker *t, uint64_t txn, uint64_t end_lsn)
{
	if (!t->open || txn != t->next - 1)
		misuse("commit of a transaction that is not open");
	slot(t, txn)->committed = true;
	slot(t, txn)->end_lsn = end_lsn;
	t->open = false;
	advance(t);
}

void
acktrack_acked(AckTracker *t, uint64_t txn)
{
	Txn		   *x = slot(t, txn);

	if (x->outstanding == 0)
		misuse("more acknowledgements than messages");
	x->outstanding--;
	advance(t);
}

void
acktrack_failed(AckTracker *t, uint64_t txn)
{
	(void) slot(t, txn);
	t->failed = true;
}

bool
acktrack_idle(AckTracker *t, uint64_t lsn)
{
	if (t->failed || t->open || t->head != t->next || lsn <= t->flush_lsn)
		return false;
	t->flush_lsn = lsn;
	return true;
}

uint64_t
acktrack_flush_lsn(const AckTracker *t)
{
	return t->flush_lsn;
}

bool
acktrack_has_failed(const AckTracker *t)
{
	return t->failed;
}

size_t
acktrack_pending(const AckTracker *t)
{
	return (size_t) (t->next - t->head);
}
