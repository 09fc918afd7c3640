/*
 * compat.h — every PG_VERSION_NUM difference the decoder depends on.
 */
#ifndef PGCDC_DECODER_COMPAT_H
#define PGCDC_DECODER_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pgcdc needs PostgreSQL 15 or later"
#endif

/* PostgreSQL 15 moved the commit time into a union shared with prepare time. */
#define PGCDC_TXN_COMMIT_TIME(txn) ((txn)->xact_time.commit_time)

#endif							/* PGCDC_DECODER_COMPAT_H */
