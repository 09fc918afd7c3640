/*
 * pack.h — a ChangeEvent in protobuf wire format, appended to a StringInfo.
 */
#ifndef PGCDC_DECODER_PACK_H
#define PGCDC_DECODER_PACK_H

#include "lib/stringinfo.h"

#include "cdc.pb-c.h"

extern void pgcdc_pack(StringInfo out, const Pgcdc__ChangeEvent *ev);

#endif							/* PGCDC_DECODER_PACK_H */
