/*
 * publication.h — the publication pgoutput reads (source.plugin =
 * pgoutput): that it exists and holds every table the lists include,
 * creating it or adding the tables it lacks as publication.autocreate says.
 *
 * The tables a list includes are the source's ordinary and partitioned
 * tables (not partitions, not the catalogs, not walstreamer's bookkeeping)
 * that tablefilter.h passes, and the signal table.
 */
#ifndef PGCDC_STREAMER_PUBLICATION_H
#define PGCDC_STREAMER_PUBLICATION_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "settings.h"
#include "tablefilter.h"

/*
 * Makes the publication ready (check_only: only says what is missing).
 * False with err naming what is missing and what to do; *fatal when a
 * retry cannot help (it is missing, a table is not in it, the role may not
 * create or alter it).  On success, done says what was done or found.
 */
extern bool publication_prepare(PGconn *conn, const Settings *s, const TableFilter *f, bool check_only,
								char *done, size_t donelen, bool *fatal, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_PUBLICATION_H */
