/*
 * rowcopy.h — a batch's rows as COPY data: into the table's staging table
 * (binary when every value has a binary form, else text), or, for rows the
 * source inserted, straight into the table; sent in pieces as they are made,
 * so the target reads and inserts while the rest is made.
 *
 * The caller owns the RowCopy (its buffer is reused batch after batch); its
 * target is the caller's too.
 */
#ifndef PGCDC_SINK_ROWCOPY_H
#define PGCDC_SINK_ROWCOPY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "row.h"
#include "target.h"

/* COPY data goes to the target in pieces of this size while the rest is made. */
#define COPY_PIECE (256 * 1024)

/* How a COPY of rows ended. */
typedef enum CopyResult
{
	COPY_OK,
	COPY_KEY_CONFLICT,			/* into the table: a key was there already; the upsert resolves it */
	COPY_NEEDS_TEXT,			/* a value binary COPY cannot carry: the same rows again in text */
	COPY_FAILED					/* err says why */
} CopyResult;

typedef struct RowCopy
{
	Target	   *target;
	Buf			data;			/* made, not sent yet */
	bool		sent;			/* every piece of this COPY went so far */
} RowCopy;

/* A COPY FROM STDIN (sql) started: data then made into c->data. */
extern bool rowcopy_start(RowCopy *c, const char *sql, char *err, size_t errlen);
/* Sends c->data once it holds piece bytes (1: whatever it holds). */
extern void rowcopy_send(RowCopy *c, size_t piece);
/* The COPY's end; abandon: give it up, for a value binary COPY cannot carry (COPY_NEEDS_TEXT). */
extern CopyResult rowcopy_end(RowCopy *c, bool abandon, char *err, size_t errlen);

/*
 * Stages rows[0..n), less those the source inserted when direct (rowcopy_direct
 * takes them); sh (stmt_shapes_init'd for n rows) gets each row's shape.  In
 * binary unless text; sql is the caller's scratch buffer.
 */
extern CopyResult rowcopy_stage(RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, size_t n, bool direct,
								bool text, Shapes *sh, char *err, size_t errlen);
/*
 * Shape g of rowcopy_stage's (rows the source inserted) straight into the
 * table: no staging table, no conflict check.  The source had no such keys,
 * so the target normally has none either (else COPY_KEY_CONFLICT).
 */
extern CopyResult rowcopy_direct(RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, const Shapes *sh, size_t g,
								 bool text, char *err, size_t errlen);

extern void rowcopy_free(RowCopy *c);

#endif							/* PGCDC_SINK_ROWCOPY_H */
