/*
 * pgoutput.h — the messages of PostgreSQL's own output plugin, pgoutput
 * (logical replication protocol versions 1 to 4), read from the bytes of
 * one XLogData: what walstreamer turns into the same records as the pgcdc
 * plugin's when source.plugin = pgoutput, on servers that load no plugin of
 * ours (managed PostgreSQL).
 *
 * A pure reader, as replproto.h: no connection, no catalog.  A message
 * points into the buffer it was read from and owns only its arrays, reused
 * from message to message (pgo_free releases them).  Every length and count
 * is checked against the buffer: a malformed or truncated message is refused
 * with the reason, never read past.  Integers are big-endian; timestamps are
 * µs since 2000-01-01 UTC.  Layouts: PostgreSQL's "Logical Replication
 * Message Formats" (protocol-logicalrep-message-formats), and
 * src/backend/replication/logical/proto.c.
 */
#ifndef PGCDC_STREAMER_PGOUTPUT_H
#define PGCDC_STREAMER_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The message types, as their first byte. */
typedef enum PgoKind
{
	PGO_BEGIN = 'B',
	PGO_COMMIT = 'C',
	PGO_ORIGIN = 'O',
	PGO_RELATION = 'R',
	PGO_TYPE = 'Y',
	PGO_INSERT = 'I',
	PGO_UPDATE = 'U',
	PGO_DELETE = 'D',
	PGO_TRUNCATE = 'T',
	PGO_MESSAGE = 'M',
	PGO_STREAM_START = 'S',
	PGO_STREAM_STOP = 'E',
	PGO_STREAM_COMMIT = 'c',
	PGO_STREAM_ABORT = 'A',
	PGO_BEGIN_PREPARE = 'b',
	PGO_PREPARE = 'P',
	PGO_COMMIT_PREPARED = 'K',
	PGO_ROLLBACK_PREPARED = 'r',
	PGO_STREAM_PREPARE = 'p'
} PgoKind;

/* Bytes inside the message. */
typedef struct PgoBytes
{
	const uint8_t *data;
	size_t		len;
} PgoBytes;

/* A RELATION message's column. */
typedef struct PgoColumn
{
	bool		key;			/* part of the replica identity */
	PgoBytes	name;
	uint32_t	type;			/* pg_type oid */
	int32_t		typmod;
} PgoColumn;

/* One value of a tuple: its kind and, for text and binary, its bytes. */
typedef enum PgoValueKind
{
	PGO_NULL = 'n',
	PGO_UNCHANGED = 'u',		/* an unchanged TOASTed value: not sent */
	PGO_TEXT = 't',
	PGO_BINARY = 'b'
} PgoValueKind;

typedef struct PgoValue
{
	PgoValueKind kind;
	PgoBytes	data;
} PgoValue;

typedef struct PgoTuple
{
	PgoValue   *values;
	size_t		n;
	size_t		capacity;
} PgoTuple;

typedef struct PgoMessage
{
	PgoKind		kind;
	uint32_t	xid;			/* BEGIN, streamed changes, stream and prepare messages */
	uint32_t	subxid;			/* STREAM_ABORT */
	uint64_t	lsn;			/* BEGIN: final LSN; COMMIT, STREAM_COMMIT, *PREPARE*: commit or
								 * prepare LSN; MESSAGE: its LSN; ORIGIN: the origin's LSN;
								 * STREAM_ABORT (parallel): abort LSN */
	uint64_t	end_lsn;		/* COMMIT, STREAM_COMMIT, *PREPARE*; ROLLBACK_PREPARED: its end */
	int64_t		time;			/* commit, prepare, rollback or abort time */
	uint8_t		flags;			/* COMMIT and the like: as sent (0); TRUNCATE: 1 cascade, 2 restart identity */
	bool		first_segment;	/* STREAM_START */
	PgoBytes	gid;			/* two-phase messages */
	PgoBytes	origin;			/* ORIGIN */

	uint32_t	relid;			/* RELATION, TYPE (its oid), INSERT, UPDATE, DELETE */
	PgoBytes	nspname;		/* RELATION, TYPE ("" for pg_catalog) */
	PgoBytes	relname;		/* RELATION; TYPE: the type's name */
	char		replident;		/* RELATION: d, n, f or i */
	PgoColumn  *columns;		/* RELATION */
	size_t		ncolumns;
	size_t		columns_capacity;

	char		old_kind;		/* UPDATE, DELETE: 'K' (key), 'O' (whole old row) or 0 (none) */
	PgoTuple	old;
	PgoTuple	new;			/* INSERT, UPDATE */

	uint32_t   *relids;			/* TRUNCATE */
	size_t		nrelids;
	size_t		relids_capacity;

	bool		transactional;	/* MESSAGE */
	PgoBytes	prefix;			/* MESSAGE */
	PgoBytes	content;		/* MESSAGE */
} PgoMessage;

extern void pgo_init(PgoMessage *m);
extern void pgo_free(PgoMessage *m);

/*
 * Reads buf[0..len) into m.  in_stream: between STREAM_START and
 * STREAM_STOP, where changes, relations, types and messages carry their
 * transaction's xid first; parallel: streaming = parallel was asked for
 * (protocol 4), whose STREAM_ABORT carries the abort's LSN and time.  False
 * with the reason in err.
 */
extern bool pgo_parse(const uint8_t *buf, size_t len, bool in_stream, bool parallel, PgoMessage *m,
					  char *err, size_t errlen);

#endif							/* PGCDC_STREAMER_PGOUTPUT_H */
