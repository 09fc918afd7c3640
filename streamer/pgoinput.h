/*
 * pgoinput.h — walstreamer's input when source.plugin = pgoutput: what
 * reading PostgreSQL's own plugin takes besides the slot.
 *
 * - a plain SQL connection to the source for the catalog (pgcatalog.h);
 * - the table and message lists applied by walstreamer (tablefilter.h),
 *   with walstreamer's own bookkeeping tables left out and the signal
 *   table, heartbeats and snapshot watermarks let in, as the pgcdc plugin's
 *   options do;
 * - the publication (publication.h);
 * - the replication session's settings, so that values come out in the
 *   text pgvalue.h reads, and START_REPLICATION's options;
 * - the assembler of records (pgorecords.h), handed to the stream.
 */
#ifndef PGCDC_STREAMER_PGOINPUT_H
#define PGCDC_STREAMER_PGOINPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "pgorecords.h"
#include "settings.h"
#include "source.h"

typedef struct PgoInput PgoInput;

/*
 * Gets everything ready on src (before START_REPLICATION): NULL with err,
 * *fatal when a retry cannot help (a bad list, no publication and
 * publication.autocreate=disabled, a table it lacks).
 */
extern PgoInput *pgoinput_open(const Settings *s, Source *src, const char *database, bool *fatal,
							   char *err, size_t errlen);
extern void pgoinput_close(PgoInput *in);

/* START_REPLICATION's options (malloc'd, the caller frees them). */
extern char *pgoinput_options(const Settings *s);
extern PgoRecords *pgoinput_records(PgoInput *in);

/* The lists as walstreamer applies them to pgoutput's tables and messages; NULL with err. */
extern TableFilter *pgoinput_filter(const Settings *s, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_PGOINPUT_H */
