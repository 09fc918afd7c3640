/*
 * source.h — the replication connection to the source database.
 *
 * One libpq connection with replication=database: the walsender commands
 * (IDENTIFY_SYSTEM, CREATE/DROP_REPLICATION_SLOT, START_REPLICATION) and,
 * before streaming starts, plain SQL over the simple query protocol.  Once
 * streaming, the connection is non-blocking: source_read() never waits,
 * and status updates are queued and flushed as the socket allows.
 *
 * Errors are described in err; source_fatal() says whether retrying can
 * help (a server restart can; a dropped slot cannot).
 */
#ifndef PGCDC_STREAMER_SOURCE_H
#define PGCDC_STREAMER_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef struct Source Source;

typedef struct SlotInfo
{
	bool		exists;
	char		plugin[64];
	char		database[64];
	char		wal_status[16];	/* reserved, extended, unreserved, lost */
	bool		temporary;
	int			active_pid;		/* 0: not in use */
	uint64_t	confirmed_flush;
	bool		failover;		/* synchronised to standbys (PostgreSQL 17 on) */
} SlotInfo;

extern Source *source_connect(const char *conninfo, char *err, size_t errlen);
/*
 * A plain SQL connection to the source (the snapshot's, the signals', the
 * slot's bookkeeping), as application (unless the conninfo names one); NULL
 * with err "<what>: cannot connect to the source: <libpq's message, its
 * password masked>".
 */
extern PGconn *source_connect_sql(const char *conninfo, const char *application, const char *what,
								  char *err, size_t errlen);
extern void source_close(Source *s);
extern int	source_socket(Source *s);

/* Which history the source's WAL is: IDENTIFY_SYSTEM's answer. */
typedef struct SourceId
{
	char		sysid[32];		/* the cluster's system identifier */
	unsigned	timeline;
	char		dbname[128];
} SourceId;

extern bool source_identify(Source *s, SourceId *id, char *err, size_t errlen);

/*
 * Where each timeline before `timeline` ended: "1:0/3000000,2:0/5000000"
 * (parent timeline: its switch point), "" on timeline 1 (TIMELINE_HISTORY).
 * A consumer holding positions of timeline t may go on with this one's
 * when t ended after them: a promotion, not a restore to the past.
 */
extern bool source_timeline_history(Source *s, unsigned timeline, char *out, size_t outlen, char *err,
									size_t errlen);
extern bool source_slot_info(Source *s, const char *slot, SlotInfo *info, char *err, size_t errlen);

/*
 * Why a slot that exists cannot be streamed from by walstreamer in dbname
 * with plugin (another plugin, another database, invalidated, another session's
 * temporary slot): the reason, written into why, or NULL when it can.
 */
extern const char *source_slot_unusable(const SlotInfo *info, const char *slot, const char *plugin,
										const char *dbname, char *why, size_t len);

/*
 * pgcdc.streamer_slot, the marker of a slot walstreamer created: written
 * when the slot is created (with the snapshot's position, if any) and
 * refreshed at every start.  source_slot_created says whether the marker
 * names slot: 1 (when: its creation and last-seen times), 0, or -1 with
 * err when the table cannot be read (no pgcdc extension in dbname).  A
 * marked slot that is missing was dropped: its changes are lost.
 */
extern bool source_mark_slot(Source *s, const char *slot, const char *sysid,
							 const uint64_t *snapshot_lsn, char *err, size_t errlen);
extern int	source_slot_created(Source *s, const char *slot, const char *dbname,
								char *when, size_t whenlen, char *err, size_t errlen);

/* Whether the server has failover slots (PostgreSQL 17 on: synchronised to standbys). */
extern bool source_failover_slots(Source *s);
/*
 * Whether the server is a standby (in recovery); -1 with err when it cannot
 * say.  A standby decodes on PostgreSQL 16 on; walstreamer writes on the
 * primary then (source.primary).
 */
extern int	source_in_recovery(Source *s, char *err, size_t errlen);
/*
 * On the primary of a standby that creates a slot: a running-transactions
 * record now, which the standby's slot waits for (else up to 15 s).
 */
extern void source_log_standby_snapshot(Source *primary);
/* Makes an existing slot a failover slot (ALTER_REPLICATION_SLOT; it must not be in use). */
extern bool source_set_failover(Source *s, const char *slot, char *err, size_t errlen);

/*
 * Creates a logical slot with plugin (pgcdc or pgoutput); with failover, on
 * PostgreSQL 17 on, one synchronised to standbys that sync_replication_slots.  With export, the snapshot's
 * name is written to snapshot (valid until the next command on s).
 */
extern bool source_create_slot(Source *s, const char *slot, const char *plugin, bool temporary, bool export,
							   bool failover, uint64_t *consistent_lsn, char *snapshot, size_t snaplen,
							   char *err, size_t errlen);
extern bool source_drop_slot(Source *s, const char *slot, char *err, size_t errlen);

/*
 * text as an SQL string literal for s (quotes included; malloc'd, the
 * caller frees it), or NULL when libpq refuses it (not valid in the
 * connection's encoding).
 */
extern char *source_quote_literal(Source *s, const char *text);

/* One SQL statement over the simple protocol; the result, or NULL with err. */
extern PGresult *source_query(Source *s, const char *sql, char *err, size_t errlen);

/* START_REPLICATION SLOT slot LOGICAL 0/0 (options); options are pre-quoted. */
extern bool source_start(Source *s, const char *slot, const char *options, char *err, size_t errlen);

/*
 * The next CopyData message, without waiting: its length (*buf valid until
 * the next call), 0 when none has arrived, -1 when the server ended the
 * stream or the connection failed (err says which).
 */
extern int	source_read(Source *s, const char **buf, char *err, size_t errlen);

/* Queues a standby status update; flushes what the socket takes. */
extern bool source_send_status(Source *s, uint64_t write_lsn, uint64_t flush_lsn,
							   bool reply, char *err, size_t errlen);
/* Whether queued output is waiting for the socket to be writable. */
extern bool source_output_pending(Source *s);
extern bool source_flush(Source *s, char *err, size_t errlen);

/* Ends the COPY (client side) and waits, bounded, for the server to end it. */
extern void source_end_copy(Source *s, int timeout_ms);

/* Whether the last error was one retrying cannot fix (SQLSTATE based). */
extern bool source_fatal(Source *s);

#endif							/* PGCDC_STREAMER_SOURCE_H */
