/*
 * compat.h — every PG_VERSION_NUM difference the decoder depends on.
 */
#ifndef PGCDC_DECODER_COMPAT_H
#define PGCDC_DECODER_COMPAT_H

/*
 * Tested on PostgreSQL 15 only (README, "Versions"): servers of other
 * versions are read through pgoutput (source.plugin = pgoutput), tested on
 * 14 to 18.  PG_MODULE_MAGIC keeps a build from loading into another major
 * version than its headers'.
 */
#if PG_VERSION_NUM < 150000
#error "the pgcdc plugin needs PostgreSQL 15 or later; on 14, use walstreamer's source.plugin = pgoutput"
#elif PG_VERSION_NUM >= 160000
#pragma message("the pgcdc plugin is tested on PostgreSQL 15 only; this build is for a later version")
#endif

/* PostgreSQL 15 moved the commit time into a union shared with prepare time. */
#define PGCDC_TXN_COMMIT_TIME(txn) ((txn)->xact_time.commit_time)

#endif							/* PGCDC_DECODER_COMPAT_H */
