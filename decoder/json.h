/*
 * json.h — a ChangeEvent as one JSON object.
 *
 * Used by format=json and by pgcdc.to_json(bytea), so the debugging view of
 * a record is rendered from the very struct that is (or was) packed.  A field
 * appears when protobuf would serialize it: set oneof members always, other
 * fields when not zero or empty.  LSNs are "X/X" strings, bytes are hex.
 */
#ifndef PGCDC_DECODER_JSON_H
#define PGCDC_DECODER_JSON_H

#include "lib/stringinfo.h"

#include "cdc.pb-c.h"

extern void pgcdc_json_append(StringInfo out, const Pgcdc__ChangeEvent *ev);

#endif							/* PGCDC_DECODER_JSON_H */
