/*
 * tablefilter.h — table.include.list / table.exclude.list and
 * message.prefix.include.list applied by walstreamer itself, with the
 * pgcdc plugin's rules (decoder/options.c): for source.plugin = pgoutput,
 * whose publication may hold more than the lists name.
 *
 * Tables are listed as schema.table or schema.*, comma-separated; an
 * identifier in double quotes is taken as written ("" for a quote), a bare
 * one folded to lower case, as PostgreSQL's parser does.  Pure: no catalog.
 */
#ifndef PGCDC_STREAMER_TABLEFILTER_H
#define PGCDC_STREAMER_TABLEFILTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct TableFilter TableFilter;

/*
 * The filter of the lists (each may be NULL: include all, exclude none;
 * messages NULL: every prefix); NULL with err naming the list that is not
 * one.
 */
extern TableFilter *tablefilter_new(const char *include, const char *exclude, const char *messages,
									char *err, size_t errlen);
extern void tablefilter_free(TableFilter *f);

/* Whether schema.table is streamed (names as in the catalog, UTF-8). */
extern bool tablefilter_table(const TableFilter *f, const char *schema, size_t schema_len,
							  const char *table, size_t table_len);
/* Whether a logical message with this prefix is streamed. */
extern bool tablefilter_message(const TableFilter *f, const char *prefix, size_t len);

#endif							/* PGCDC_STREAMER_TABLEFILTER_H */
