/*
 * colpolicy.h — which columns of a table reach Kafka, and as what, in
 * either value format: Debezium's connector settings
 *
 *   column.include.list / column.exclude.list   columns left out
 *   column.mask.with.<N>.chars                  a character column's value as N '*'
 *   column.mask.hash[.v2].<algorithm>.with.salt.<salt>
 *                                               a character column's value as the
 *                                               hex digest of salt and value
 *   message.key.columns                         the Kafka key's columns
 *
 * Column lists are POSIX extended regular expressions, comma-separated,
 * each matched case-insensitively against the whole "schema.table.column";
 * message.key.columns is "<table regex>:<column>,<column>;..." with the
 * table regex matched against "schema.table".  A hash is Debezium's: the
 * digest (Java's algorithm names: MD5, SHA-1, SHA-256, SHA-512/256,
 * SHA3-256...) of the salt's bytes followed by the value as Java serializes
 * a String (v2: the value's UTF-8 bytes), in lower-case hex, cut to the
 * column's declared length when it has one (varchar(n), char(n)).  Stars
 * replace every value, NULL and an unchanged TOASTed one included; a hash
 * leaves those as they are.  Both as Debezium 3.6.1 does
 * (tests/debezium/fixtures/columns.jsonl).
 *
 * The policy compiled from the settings (ColPolicy) makes, for each
 * RELATION record, the decisions for that table (ColTable; none when no
 * setting touches it): its RELATION record and every change of it
 * rewritten before they are sent.  The table's key (replica identity) is
 * what the snapshot and the stream watch each other by and what walsink
 * applies by, so no setting may leave it out or mask it: that is refused
 * with the column named.  message.key.columns changes the Kafka key only
 * (partitioning, compaction, Debezium's key struct); pgcdc's records keep
 * the table's own key flags.
 */
#ifndef PGCDC_STREAMER_COLPOLICY_H
#define PGCDC_STREAMER_COLPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "record.h"

/* The pass-through prefix of the mask settings, whose keys name their arguments. */
#define COLPOLICY_MASK_PREFIX "column.mask."

typedef struct ColPolicy ColPolicy;
typedef struct ColTable ColTable;

/*
 * The policy of c's settings; NULL when none is set.  *ok false (with err
 * naming the setting) when one is not valid.
 */
extern ColPolicy *colpolicy_new(const Config *c, bool *ok, char *err, size_t errlen);
extern void colpolicy_free(ColPolicy *p);

/*
 * The decisions for the table of a RELATION record (r scanned from buf):
 * *out NULL when no setting touches it.  False, with err, when a setting
 * cannot hold for it (a key column left out or masked, a key column named
 * that the table lacks).
 */
extern bool colpolicy_table(const ColPolicy *p, const Record *r, const uint8_t *buf, size_t len,
							ColTable **out, char *err, size_t errlen);
extern void coltable_free(ColTable *t);

/*
 * The RELATION record as sent: columns left out.  keyed: with the Kafka
 * key's columns marked as the key instead of the table's (what Debezium's
 * format reads its key from).
 */
extern const Buf *coltable_relation(const ColTable *t, bool keyed);
/* Per column of the RELATION record as sent: whether its values are masked. */
extern const bool *coltable_masked(const ColTable *t);
/* The Kafka key's column positions in an image as sent, ascending; *n 0: none. */
extern const uint32_t *coltable_keys(const ColTable *t, size_t *n);
/* Whether changes need rewriting (a column left out or masked), or only the key differs. */
extern bool coltable_rewrites(const ColTable *t);

/*
 * A change or READ record of the table as sent, into out (emptied first):
 * the left-out columns' values dropped from its images, masked ones
 * replaced.  False, with err, when the record is malformed or an image is
 * not as wide as the table.
 */
extern bool coltable_record(const ColTable *t, const uint8_t *buf, size_t len, Buf *out,
							char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_COLPOLICY_H */
