/*
 * tables.h — target tables as walsink sees them: columns, the key it
 * upserts on, the staging table it copies into; created and widened from
 * the events' column descriptions when auto.create / auto.evolve allow.
 *
 * Every name is looked up in the target's catalog and quoted; a type name
 * from a message is used only after the target parsed it as exactly one type
 * (to_regtype) and it passed a strict character check.
 */
#ifndef PGCDC_SINK_TABLES_H
#define PGCDC_SINK_TABLES_H

#include <stdbool.h>
#include <stddef.h>

#include "copybin.h"
#include "event.h"
#include "metrics.h"
#include "target.h"

typedef struct TableInfo
{
	char	   *name;			/* "schema.table", unquoted: the map key */
	char	   *schema;
	char	   *table;
	char	   *qname;			/* quoted */
	bool		loaded;
	size_t		ncols;
	char	  **cols;			/* target column names */
	char	  **qcols;			/* quoted */
	char	  **types;			/* format_type() of each, a domain's base type's (with the domain's typmod) */
	CopyBinType *bin;			/* how each column's values go in a binary COPY */
	bool		binary;			/* every column has a binary form: COPY in binary */
	int		   *keycols;		/* target column indexes of the key, nkeys of them */
	size_t		nkeys;
	char	   *key_text;		/* the source key keycols is for, quoted names ("": none); kept by unload */
	const Layout *key_layout;	/* events of this layout have that key */
	size_t		batch_rows;		/* rows of this table prepared in the open part of the batch */
	int			soft;			/* index of delete.soft.column, -1 */
	char		stage[64];		/* temp staging table, "" until made */
	int			version;		/* bumped by every change of columns */
	int			stage_version;
	const Rule **rules;
	size_t		nrules;
	bool		has_trunc_mark;	/* the table has a truncate mark: trunc_mark */
	Position	trunc_mark;
	bool		trunc_known;	/* has_trunc_mark and trunc_mark loaded (truncmarks_load) */
	/* The column layout of the last event mapped, and where its columns land (tables_map). */
	const Layout *layout;
	int		   *layout_map;
	bool		layout_fits;
	MetricCell *m_applied;		/* walsink_table_applied_total, made at its first row */
	int64_t		batch_applied;	/* rows of this batch, counted once it commits */
} TableInfo;

typedef struct Tables Tables;

extern Tables *tables_new(Target *t, const Settings *s);
extern void tables_free(Tables *ts);
/* Forget what was loaded (after a rolled back transaction or a reconnect). */
extern void tables_reset(Tables *ts, Target *t);

/* The target table of a source table (the map applied); never NULL. */
extern TableInfo *tables_get(Tables *ts, const char *source_schema, const char *source_table);

/*
 * Whether ti's key is the source's key at e (the key columns e flags).  A
 * change of the source's key needs tables_prepare again.
 */
extern bool tables_key_fits(TableInfo *ti, const Event *e);

/* Whether ti is ready for e already (tables_prepare would change nothing). */
extern bool tables_ready(TableInfo *ti, const Event *e);

/*
 * Per column of loaded ti, the index of e's column of that name or -1; NULL
 * when one of e's columns is not in ti.  Kept for e's layout: the events
 * after it with the same one cost a pointer comparison.
 */
extern const int *tables_map(TableInfo *ti, const Event *e);

/*
 * Makes ti ready for e's columns: loaded, created, widened, with a key
 * matching e's key columns.  false with reason: a dead letter for e (err
 * empty), or the target failed (err set).
 */
extern bool tables_prepare(Tables *ts, TableInfo *ti, const Event *e, char *reason, size_t reasonlen,
						   char *err, size_t errlen);

/* Loads ti from the catalog; *exists false when the table is not there. */
extern bool tables_load(Tables *ts, TableInfo *ti, bool *exists, char *err, size_t errlen);
/* Drops what is known of ti: the next prepare reloads it. */
extern void tables_forget(Tables *ts, TableInfo *ti);

/* The staging table for ti's current columns (created on first use). */
extern bool tables_stage(Tables *ts, TableInfo *ti, char *err, size_t errlen);

/* Index of a target column by name, or -1. */
extern int	tables_column(const TableInfo *ti, const char *name);

#endif							/* PGCDC_SINK_TABLES_H */
