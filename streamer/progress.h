/*
 * progress.h — which tables a slot's snapshot is to read: a row per table in
 * the source's pgcdc.snapshot_progress (snapshot.h reads them and records
 * each table's progress there).
 */
#ifndef PGCDC_STREAMER_PROGRESS_H
#define PGCDC_STREAMER_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

/*
 * Asks for every included table to be read (again) for this slot: their
 * rows, replacing any.  False with err.
 */
extern bool progress_schedule(const Settings *s, char *err, size_t errlen);

/*
 * At a start on an existing slot: the tables table.include.list and
 * table.exclude.list now include and did not at the last start are read
 * (unless snapshot.mode = never), those they no longer include stop being
 * read; the lists are remembered.  False with err.
 */
extern bool progress_reconcile(const Settings *s, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_PROGRESS_H */
