/*
 * encode.h — turning rows into ChangeEvents and ChangeEvents into bytes.
 *
 * Shared by the output plugin and the snapshot functions so that a row reads
 * the same whether it was streamed or snapshotted.  Everything returned is
 * palloc'd in the current memory context (the caller's scratch context);
 * strings in an event may point into the PgcdcRelation it was built from.
 */
#ifndef PGCDC_DECODER_ENCODE_H
#define PGCDC_DECODER_ENCODE_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "cdc.pb-c.h"
#include "options.h"
#include "relcache.h"

#define PGCDC_RECORD_VERSION 1

extern void pgcdc_event_init(Pgcdc__ChangeEvent *ev, Pgcdc__Op op);
extern void pgcdc_event_set_relation(Pgcdc__ChangeEvent *ev, const PgcdcRelation *rel,
									 bool with_columns);
extern void pgcdc_event_set_image(const PgcdcRelation *rel, TupleDesc desc, HeapTuple tuple,
								  bool key_only, size_t *n_values, Pgcdc__Value ***values);

extern void pgcdc_append_record(StringInfo out, const Pgcdc__ChangeEvent *ev,
								PgcdcFormat format);

extern int	pgcdc_stable_output_begin(void);
extern void pgcdc_stable_output_end(int nestlevel);

#endif							/* PGCDC_DECODER_ENCODE_H */
