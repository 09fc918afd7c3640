/*
 * keyhold.h — a partition's hold by key changes, as a struct alone.
 *
 * KeyHold is keychange's (keychange.h): only keychange.c and keychange_io.c
 * read or write its fields; everyone else goes through keychange_hold_reset
 * and keychange_stale.  It has a header of its own so that PartState
 * (positions.h) can embed it while keychange.h includes positions.h.
 */
#ifndef PGCDC_SINK_KEYHOLD_H
#define PGCDC_SINK_KEYHOLD_H

#include <stdint.h>

typedef struct KeyHold
{
	int64_t		from;			/* the open batch applies nothing from this offset on; -1: no hold */
	int64_t		held_at;		/* the offset held by earlier batches, and since when */
	int64_t		held_since_ms;
	int64_t		resume;			/* sought back to this offset: messages until it comes are stale; -1 */
} KeyHold;

#endif							/* PGCDC_SINK_KEYHOLD_H */
