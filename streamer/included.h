/*
 * included.h — the source's tables a snapshot reads for table.include.list
 * and table.exclude.list: its persistent plain tables (partitions
 * included; not catalogs, not walstreamer's bookkeeping, not the signal
 * table) that the lists pass (tablefilter.h, the pgcdc plugin's rules), as
 * an oid[] literal for the bookkeeping's SQL.  With roots
 * (publish.via.partition.root), a partitioned table's root instead of its
 * partitions, as its changes are streamed.  Applied by walstreamer, so
 * that it needs no function of the extension.
 */
#ifndef PGCDC_STREAMER_INCLUDED_H
#define PGCDC_STREAMER_INCLUDED_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"

/* "{oid,oid,...}" into oids (appended); false with err (a list that is not one, a failed query). */
extern bool included_tables(PGconn *conn, const char *include, const char *exclude, const char *signal_table,
							bool roots, Buf *oids, char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_INCLUDED_H */
