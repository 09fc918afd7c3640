/*
 * stmt.h — the statements of applying a batch, as SQL text: the COPYs into
 * the staging table or the table, the upsert (INSERT ... ON CONFLICT), the
 * update (UPDATE ... FROM the stage), the delete or soft delete's tombstone,
 * the validation rules' queries, the key changes' old rows, and the keyless
 * tables' statements.  Each stmt_ function appends to a Buf the caller owns
 * and reuses; none talks to the target.
 *
 * Rows staged together are grouped by shape (Shapes, row.h): per target
 * column whether the row has a value, and its op.  One statement writes one
 * shape.
 */
#ifndef PGCDC_SINK_STMT_H
#define PGCDC_SINK_STMT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "row.h"
#include "tables.h"

/* sh empty, room for nrows rows of ti; stmt_shapes_free frees what it holds. */
extern void stmt_shapes_init(Shapes *sh, const TableInfo *ti, size_t nrows);
extern void stmt_shapes_free(Shapes *sh);

/* sql ended with a NUL (not counted), as text to send. */
extern const char *stmt_text(Buf *sql);

/* Whether a row of signature s writes target column j: it has a value, or it is the soft-delete column. */
extern bool stmt_writes(const TableInfo *ti, const char *s, size_t j);

/* Empties ti's staging table. */
extern void stmt_clear_stage(Buf *sql, const TableInfo *ti);
/* COPY into the stage: row number, op, with sig the signature, then every column. */
extern void stmt_copy_stage(Buf *sql, const TableInfo *ti, bool sig, bool binary);
/* COPY into the stage of the key columns only (row number, op). */
extern void stmt_copy_keys(Buf *sql, const TableInfo *ti);
/* COPY straight into the table, the columns of signature s. */
extern void stmt_copy_table(Buf *sql, const TableInfo *ti, const char *s, bool binary);

/* The staged deletes: a tombstone per key (delete.soft.column), else DELETE. */
extern void stmt_delete(Buf *sql, const TableInfo *ti);
/* Shape g of source updates by UPDATE ... FROM the stage. */
extern void stmt_update(Buf *sql, const TableInfo *ti, const Shapes *sh, size_t g);
/* Shape g by INSERT ... ON CONFLICT; updated: its rows there were updated already (DO NOTHING). */
extern void stmt_upsert(Buf *sql, const TableInfo *ti, const Shapes *sh, size_t g, bool updated);
/* Number of the columns shape s updates besides the key. */
extern size_t stmt_updates(const TableInfo *ti, const char *s);

/*
 * Rule k's query: deletes the staged rows that fail it, returning their
 * numbers.  partial: some rows lack a column, which is then the target's.
 */
extern void stmt_rule(Buf *sql, const TableInfo *ti, size_t k, bool partial);

/*
 * The target's rows of keys staged by stmt_copy_keys (op 'm', taken out of
 * the stage): the row number, then each column j with col[j] > 0 as text,
 * in the order of col's numbers 1..ncol.
 */
extern void stmt_old_rows(Buf *sql, const TableInfo *ti, const int *col, int ncol);

/* Keyless tables (applyfull.c): staged old row of change i at FULL_OLD(i), new row at FULL_NEW(i). */
#define FULL_OLD(i) (2 * (i))
#define FULL_NEW(i) (2 * (i) + 1)
/* Inserts the staged new rows of changes from..to, of the columns of map (tables_map's). */
extern void stmt_full_insert(Buf *sql, const TableInfo *ti, const int *map, size_t from, size_t to);
/* Change i's update or delete (del) of one row equal to its staged old row. */
extern void stmt_full_change(Buf *sql, const TableInfo *ti, bool del, size_t i);

#endif							/* PGCDC_SINK_STMT_H */
