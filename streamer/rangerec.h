/*
 * rangerec.h — the OP_SNAPSHOT_RANGE record of a placed snapshot chunk
 * (proto/cdc.proto, SnapshotRange): what a consumer needs to forget the
 * rows the source no longer has in the chunk's range.
 */
#ifndef PGCDC_STREAMER_RANGEREC_H
#define PGCDC_STREAMER_RANGEREC_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "snapwatch.h"

/*
 * The record (malloc'd, *len bytes) for chunk c, placed at c->lsn: its
 * table as rel (the chunk's RELATION record, scanned) names it, seq 0, and
 * the range with every key of c's rows and of c->touched to keep.
 */
extern uint8_t *rangerec_build(const Record *rel, const Chunk *c, size_t *len);

#endif							/* PGCDC_STREAMER_RANGEREC_H */
