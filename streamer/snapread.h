/*
 * snapread.h — one table of the snapshot as one connection reads it: its
 * chunks (snapread.c) and its parts and progress rows on the source
 * (snapparts.c).  Private to the snapshot: snapshot.c runs the workers and
 * hands each a part of a table at a time.
 *
 * A table with a key is read in parts: key ranges (after the previous part's
 * last key, up to its own), chosen from a sample when the table is first
 * taken, so that snapshot.parallelism connections share a big table.  Each
 * part is read chunk by chunk in key order; its progress row in
 * pgcdc.snapshot_part keeps the key of its last acknowledged chunk.
 */
#ifndef PGCDC_STREAMER_SNAPREAD_H
#define PGCDC_STREAMER_SNAPREAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "buf.h"
#include "pgcatalog.h"
#include "record.h"
#include "settings.h"
#include "snapwatch.h"

/* A key as its columns' values in text (for SQL) and as its Kafka key (proto Key). */
typedef struct Key
{
	char	  **values;			/* n values; n = 0: no key (the start, or the end) */
	int			n;
	uint8_t    *bytes;
	size_t		len;
} Key;

extern void key_free(Key *k);
extern Key	key_copy(const Key *k);

/* A table's key columns, as its RELATION record says. */
typedef struct KeyCols
{
	char	  **names;			/* quoted identifiers */
	char	  **types;			/* format_type() */
	uint32_t   *positions;		/* in the row image */
	int			n;
	char	  **collations;		/* how the source orders each ("" when not collatable) */
} KeyCols;

/* "(t.k1, t.k2)": the key of the table's rows as t, in SQL. */
extern void key_tuple(Buf *q, const KeyCols *kc);
/* "($1::type1, $2::type2)": a key as parameters, the first numbered `first`. */
extern void key_params(Buf *q, const KeyCols *kc, int first);

/* One connection reading one table. */
typedef struct TableRead
{
	const Settings *settings;
	SnapWatch  *watch;
	atomic_bool *stop;			/* the snapshot is stopping: give up between fetches */
	PGconn	   *conn;			/* the table's rows: source */
	PGconn	   *book;			/* progress rows and watermarks: conn, or source.primary's */
	uint32_t	relid;
	const char *schema;
	const char *name;
	const char *filter;			/* NULL: every row */
	char	   *qname;			/* schema.table, quoted */
	char	   *from;			/* what its queries read and lock: ONLY qname, or a partitioned root's qname */
	KeyCols		cols;			/* as of the last chunk read (or the split) */
	Record		rec;

	/*
	 * source.plugin = pgoutput: no extension on the source.  Rows are read
	 * in text and made into records here (pgcatalog.h), with the table as
	 * the chunk's snapshot describes it.
	 */
	bool		own_rows;
	PgcRelation desc;
	char		database[128];
	int64_t		read_ts;		/* the chunk's transaction start, µs since 1970 */
	Buf			row;			/* a row's record */

	char		err[1024];		/* why the last call returned false */
	bool		fatal;			/* ...and a retry cannot help */
} TableRead;

/* snapread.c */

/*
 * Ready to read the table on conn, its progress and watermarks written on
 * book (conn itself, or source.primary's when conn is a standby's);
 * tableread_free when done.
 */
extern void tableread_init(TableRead *tr, const Settings *s, SnapWatch *w, atomic_bool *stop, PGconn *conn,
						   PGconn *book, uint32_t relid, const char *schema, const char *name,
						   bool partitioned, const char *filter);
extern void tableread_free(TableRead *tr);
/* Sets tr->err; returns false. */
extern bool tableread_fail(TableRead *tr, bool fatal, const char *fmt,...) __attribute__((format(printf, 3, 4)));
/* Runs a statement expected to succeed; false with err. */
extern bool tableread_run(TableRead *tr, PGresult *res, const char *what);
/* tr->cols from the table's current definition (pgcdc.relation_record, or the catalog). */
extern bool tableread_columns(TableRead *tr);

/*
 * A row as a query selects it from the table as t: the select list (its
 * record, pgcdc.read_record(t.*), or its columns in text), how many result
 * columns that is, the result format to ask for, and the record of a
 * result's row (valid until the next call).
 */
extern void tableread_row_select(TableRead *tr, Buf *q);
extern int	tableread_row_width(const TableRead *tr);
extern int	tableread_result_format(const TableRead *tr);
extern bool tableread_row_record(TableRead *tr, const PGresult *res, int row, const uint8_t **rec, size_t *len);

/*
 * Reads the chunk after `from` (no key: from the start), up to `upto`
 * inclusive (no key: to the end), into c: its snapshot, relation, range and
 * rows; *last is its last row's key; *full when it stopped at its size, so
 * that more may follow.  lock: a table without a key read under a SHARE lock
 * (the watermark then written inside the read).  False with err.
 */
extern bool tableread_chunk(TableRead *tr, Chunk *c, const Key *from, const Key *upto, Key *last, bool *full,
							bool lock);
/* The watermark after the chunk's snapshot: where the stream places it. */
extern bool tableread_watermark(TableRead *tr, const Chunk *c, bool in_txn);
/* Waits until no transaction the stream has begun is in progress for a new snapshot (snapwatch.h). */
extern bool tableread_await_pending(TableRead *tr);

/* snapparts.c */

/* A part of a table: the keys after the previous part's `upto`, up to its own. */
typedef struct Part
{
	int			no;
	Key			upto;			/* n = 0: to the table's end */
	Key			last;			/* of its last acknowledged chunk, else the previous part's upto */
	bool		done;
	bool		taken;			/* by a worker of this run (snapshot.c) */
} Part;

/*
 * The table's parts for its current request: those stored, else a new split
 * (at most `most` parts of at least two chunks each, from a sample of its
 * keys; one part for a table without a key or too small), stored.
 */
extern bool parts_plan(TableRead *tr, int most, Part **parts, int *nparts);
extern void parts_free(Part *parts, int nparts);
/* A chunk of the part acknowledged: its last key and its rows. */
extern bool part_save(TableRead *tr, int no, const Key *last, size_t rows);
/* The part read; table: and with it the whole table. */
extern bool part_done(TableRead *tr, int no, bool table);

#endif							/* PGCDC_STREAMER_SNAPREAD_H */
