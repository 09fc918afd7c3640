/*
 * pgorecords.h — pgoutput's messages made into the pgcdc plugin's records
 * (source.plugin = pgoutput): the same ChangeEvents, field for field, as
 * decoder/pgcdc.c writes for the same WAL with include-transaction and
 * skip-empty-xacts, so that nothing after walstreamer's stream can tell
 * which plugin read the WAL.
 *
 * - Positions: a change's lsn is its XLogData's (the walsender writes each
 *   message at its change's LSN); commit_lsn is BEGIN's final LSN; seq
 *   counts every change and transactional message of the transaction that
 *   pgoutput sent, those the lists filter out included, as the plugin counts
 *   the changes it filters.
 * - Relations: each RELATION message is described from the catalog
 *   (pgcatalog.h, through the caller's describe function, since that is
 *   I/O) and becomes a RELATION record.  Tables the lists leave out
 *   (tablefilter.h) make no records.
 * - Values: text, as pgoutput sends them in the session settings the
 *   plugin uses (pgvalue.h); 'u' is unchanged_toast; an old key image
 *   ('K') leaves the columns outside the identity empty.
 * - A transaction without a record makes none (skip-empty-xacts): the
 *   caller learns where it ended, so the slot may move past it.
 *
 * Not yet read: transactions streamed in progress and two-phase messages
 * (refused with the reason).  Records are appended to a Buf, each preceded
 * by its length as a varint: the plugin's batch form (record.h).
 */
#ifndef PGCDC_STREAMER_PGORECORDS_H
#define PGCDC_STREAMER_PGORECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pgcatalog.h"
#include "pgoutput.h"
#include "tablefilter.h"

/* Describes the relation of a RELATION message (pgcatalog_describe's contract). */
typedef bool (*PgoDescribeFn) (void *arg, const PgoMessage *msg, PgcRelation *out, char *err, size_t errlen);

typedef struct PgoRecords PgoRecords;

/* database: the records' database name (UTF-8); filter: the caller's, kept. */
extern PgoRecords *pgorecords_new(const char *database, const TableFilter *filter, PgoDescribeFn describe,
								  void *arg);
extern void pgorecords_free(PgoRecords *pr);

/*
 * One XLogData's pgoutput message, written at wal_start: its records
 * appended to out.  *skipped_end is set to a transaction's end LSN when it
 * committed without a record (else 0).  False with err when the message is
 * malformed, out of place, or cannot be described.
 */
extern bool pgorecords_add(PgoRecords *pr, uint64_t wal_start, const uint8_t *buf, size_t len, Buf *out,
						   uint64_t *skipped_end, char *err, size_t errlen);

/* Whether the last failure was the describe function's (a retry may pass), not the input's. */
extern bool pgorecords_retryable(const PgoRecords *pr);

#endif							/* PGCDC_STREAMER_PGORECORDS_H */
