/*
 * test_acktrack.c — the flush position against a brute-force oracle.
 *
 * Random streams of transactions (some empty, some large) are produced while
 * their messages' delivery reports come back in random order.  After every
 * step the tracker's flush LSN must equal the oracle's: the end of the
 * longest prefix of committed transactions whose messages were all
 * acknowledged.  After an injected failure it must never move again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acktrack.h"
#include "unit.h"

#define MAX_TXNS 400


typedef struct Model
{
	int			ntxns;			/* registered so far */
	int			sent[MAX_TXNS];
	int			acked[MAX_TXNS];
	int			committed[MAX_TXNS];
	uint64_t	end_lsn[MAX_TXNS];
	uint64_t	ids[MAX_TXNS];
} Model;

static uint64_t
oracle(const Model *m, uint64_t start)
{
	uint64_t	flush = start;

	for (int i = 0; i < m->ntxns; i++)
	{
		if (!m->committed[i] || m->acked[i] < m->sent[i])
			break;
		flush = m->end_lsn[i];
	}
	return flush;
}

/* xorshift: reproducible from the seed, whatever libc's rand() does */
static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t) (rng_state % n);
}

static void
random_stream(uint64_t seed, bool inject_failure)
{
	static Model m;
	AckTracker *t = acktrack_new(1000);
	int			txns = 1 + (int) (seed % MAX_TXNS);
	int			fail_at = inject_failure ? (int) rnd((uint32_t) txns) : -1;
	uint64_t	lsn = 1000;
	uint64_t	frozen = 0;
	bool		failed = false;
	int		   *pending = malloc(sizeof(int) * MAX_TXNS * 40);	/* txn index per unacked message */
	int			npending = 0;
	int			next_txn = 0;

	rng_state = seed * 2654435761u + 1;
	memset(&m, 0, sizeof(m));
	while (next_txn < txns || npending > 0)
	{
		if (next_txn < txns && (npending == 0 || rnd(3) == 0))
		{
			/* Produce one whole transaction: 0 to 30 messages. */
			int			i = next_txn++;
			int			n = rnd(4) == 0 ? 0 : (int) rnd(31);

			m.ids[i] = acktrack_begin(t);
			m.ntxns = i + 1;
			for (int k = 0; k < n; k++)
			{
				acktrack_sent(t, m.ids[i]);
				m.sent[i]++;
				pending[npending++] = i;
			}
			lsn += 1 + rnd(500);
			m.end_lsn[i] = lsn;
			acktrack_commit(t, m.ids[i], lsn);
			m.committed[i] = 1;
		}
		else
		{
			/* A delivery report for any outstanding message. */
			int			k = (int) rnd((uint32_t) npending);
			int			i = pending[k];

			pending[k] = pending[--npending];
			if (i == fail_at && !failed)
			{
				acktrack_failed(t, m.ids[i]);
				failed = true;
				frozen = acktrack_flush_lsn(t);
				continue;
			}
			acktrack_acked(t, m.ids[i]);
			m.acked[i]++;
		}
		/* One report per scenario: stop at its first wrong step. */
		if (failed &&
			!(CHECK(acktrack_has_failed(t), "seed %llu: failure not reported",
					(unsigned long long) seed) &&
			  CHECK(acktrack_flush_lsn(t) == frozen, "seed %llu: flush moved after a failure",
					(unsigned long long) seed)))
			break;
		if (!failed &&
			!CHECK(acktrack_flush_lsn(t) == oracle(&m, 1000),
				   "seed %llu: flush %llu, oracle %llu", (unsigned long long) seed,
				   (unsigned long long) acktrack_flush_lsn(t),
				   (unsigned long long) oracle(&m, 1000)))
			break;
	}
	if (!failed && npending == 0 && next_txn == txns)
		CHECK(acktrack_pending(t) == 0 && acktrack_flush_lsn(t) == lsn,
			  "seed %llu: not everything confirmed at the end", (unsigned long long) seed);
	free(pending);
	acktrack_free(t);
}

/* Deterministic cases a reader can follow. */
static void
known_cases(void)
{
	AckTracker *t = acktrack_new(100);
	uint64_t	a,
				b,
				c;

	CHECK(acktrack_flush_lsn(t) == 100, "start position");

	/* An empty transaction is confirmable at once: filtered work advances the slot. */
	a = acktrack_begin(t);
	acktrack_commit(t, a, 200);
	CHECK(acktrack_flush_lsn(t) == 200, "empty transaction");

	/* b has two messages, c one; c's report comes first. */
	b = acktrack_begin(t);
	acktrack_sent(t, b);
	acktrack_sent(t, b);
	acktrack_commit(t, b, 300);
	c = acktrack_begin(t);
	acktrack_sent(t, c);
	acktrack_commit(t, c, 400);
	acktrack_acked(t, c);
	CHECK(acktrack_flush_lsn(t) == 200, "a later transaction's ack must not pass an earlier one");
	acktrack_acked(t, b);
	CHECK(acktrack_flush_lsn(t) == 200, "half of b acknowledged");
	acktrack_acked(t, b);
	CHECK(acktrack_flush_lsn(t) == 400, "b then c confirmable");
	CHECK(acktrack_pending(t) == 0, "nothing pending");

	/* A transaction still open is never confirmable, even with all acks in. */
	a = acktrack_begin(t);
	acktrack_sent(t, a);
	acktrack_acked(t, a);
	CHECK(acktrack_flush_lsn(t) == 400, "open transaction");
	acktrack_commit(t, a, 500);
	CHECK(acktrack_flush_lsn(t) == 500, "committed after its acks");

	/* A keepalive's position: only when nothing is open or unacknowledged. */
	a = acktrack_begin(t);
	CHECK(!acktrack_idle(t, 550) && acktrack_flush_lsn(t) == 500, "idle with a transaction open");
	acktrack_sent(t, a);
	acktrack_commit(t, a, 520);
	CHECK(!acktrack_idle(t, 550) && acktrack_flush_lsn(t) == 500, "idle with a message unacked");
	acktrack_acked(t, a);
	CHECK(acktrack_flush_lsn(t) == 520, "acked");
	CHECK(acktrack_idle(t, 550) && acktrack_flush_lsn(t) == 550, "idle moves to the keepalive");
	CHECK(!acktrack_idle(t, 540) && acktrack_flush_lsn(t) == 550, "never backwards");

	/* A failure freezes the position for good. */
	a = acktrack_begin(t);
	acktrack_sent(t, a);
	acktrack_sent(t, a);
	acktrack_commit(t, a, 600);
	acktrack_failed(t, a);
	acktrack_acked(t, a);
	b = acktrack_begin(t);
	acktrack_commit(t, b, 700);
	CHECK(acktrack_has_failed(t) && acktrack_flush_lsn(t) == 550, "failure is sticky");
	CHECK(!acktrack_idle(t, 800) && acktrack_flush_lsn(t) == 550, "no idle move after a failure");
	acktrack_free(t);
}

int
main(void)
{
	known_cases();
	for (uint64_t seed = 1; seed <= 500; seed++)
	{
		random_stream(seed, false);
		random_stream(seed, true);
	}
	return unit_summary("acktrack");
}
