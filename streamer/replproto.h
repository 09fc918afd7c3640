/*
 * replproto.h — the streaming replication protocol's CopyData messages that
 * walstreamer reads and writes, as bytes: XLogData ('w') and primary
 * keepalive ('k') from the server, standby status update ('r') to it.
 *
 * Pure functions on buffers (no connection, no allocation), as
 * pg_recvlogical keeps them beside its loop: source.c moves the bytes,
 * stream.c acts on what they say.  Integers are big-endian on the wire;
 * timestamps are µs since 2000-01-01 00:00 UTC, the server's epoch.
 * Layouts: PostgreSQL's protocol-replication documentation.
 */
#ifndef PGCDC_STREAMER_REPLPROTO_H
#define PGCDC_STREAMER_REPLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 'w', then the start and end of WAL and the send time: the data follows. */
#define REPLPROTO_XLOGDATA_HEADER 25
/* 'k', WAL end, send time, reply requested. */
#define REPLPROTO_KEEPALIVE_LEN 18
/* 'r', written, flushed and applied positions, the client's time, reply requested. */
#define REPLPROTO_STATUS_LEN 34

typedef enum ReplKind
{
	REPL_UNKNOWN,				/* another message, or one cut short */
	REPL_XLOGDATA,
	REPL_KEEPALIVE
} ReplKind;

/* A server message, as replproto_parse() reads it; data points into the buffer. */
typedef struct ReplMessage
{
	ReplKind	kind;
	uint64_t	wal_start;		/* XLogData: the WAL position of data */
	uint64_t	wal_end;		/* the server's WAL end */
	int64_t		send_time;
	bool		reply_requested;	/* keepalive: answer with a status update at once */
	const char *data;			/* XLogData: the output plugin's bytes */
	size_t		len;
} ReplMessage;

/* Reads buf[0..len); REPL_UNKNOWN (m->kind too) when it is neither message or too short for its kind. */
extern ReplKind replproto_parse(const char *buf, size_t len, ReplMessage *m);

/*
 * A standby status update in out: written, flushed and applied positions,
 * the client's clock (replproto_now) and whether the server should answer
 * at once.  Returns REPLPROTO_STATUS_LEN.
 */
extern size_t replproto_status(char out[REPLPROTO_STATUS_LEN], uint64_t write_lsn, uint64_t flush_lsn,
							   uint64_t apply_lsn, int64_t now, bool reply);

/* The clock in the protocol's form: µs since 2000-01-01 00:00 UTC. */
extern int64_t replproto_now(void);

#endif							/* PGCDC_STREAMER_REPLPROTO_H */
