/*
 * options.h — the output plugin's options, parsed once per decoding session.
 *
 * Everything a PgcdcOptions points to is allocated in the memory context that
 * was current when pgcdc_options_parse() ran; the caller owns it.
 */
#ifndef PGCDC_DECODER_OPTIONS_H
#define PGCDC_DECODER_OPTIONS_H

#include "nodes/pg_list.h"

typedef enum PgcdcFormat
{
	PGCDC_FORMAT_PROTOBUF,
	PGCDC_FORMAT_JSON
} PgcdcFormat;

/* One entry of include-tables / exclude-tables: "schema.table" or "schema.*". */
typedef struct PgcdcTablePattern
{
	char	   *schema;
	char	   *table;			/* NULL matches every table of schema */
} PgcdcTablePattern;

typedef struct PgcdcOptions
{
	PgcdcFormat format;
	bool		include_transaction;	/* BEGIN / COMMIT records */
	bool		skip_empty_xacts;
	bool		messages;		/* logical messages at all */
	List	   *message_prefixes;	/* char *; NIL: every prefix */
	List	   *include_tables; /* PgcdcTablePattern *; NIL: every table */
	List	   *exclude_tables; /* PgcdcTablePattern * */
	bool		inline_schema;	/* columns in every change record */
	bool		origin_none;	/* drop changes that carry a replication origin */
	int			batch_bytes;	/* 0: one record per message; else framed batches */
	bool		streaming;		/* transactions in progress streamed (stream_* callbacks) */
	bool		partition_root; /* a partition's changes as its topmost root's (publish_via_partition_root) */
} PgcdcOptions;

/* The largest batch-bytes accepted. */
#define PGCDC_BATCH_BYTES_MAX (64 * 1024 * 1024)

extern void pgcdc_options_parse(List *defels, PgcdcOptions *opts);
extern bool pgcdc_options_table_included(const PgcdcOptions *opts,
										 const char *schema, const char *table);
extern bool pgcdc_options_message_included(const PgcdcOptions *opts,
										   const char *prefix);

#endif							/* PGCDC_DECODER_OPTIONS_H */
