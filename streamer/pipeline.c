/*
 * pipeline.c — slot preparation, the snapshot phase and the event loop.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heartbeat.h"
#include "kafka.h"
#include "log.h"
#include "pgoinput.h"
#include "pipeline.h"
#include "progress.h"
#include "runtime.h"
#include "snapshot.h"
#include "signals.h"
#include "snapwatch.h"
#include "source.h"
#include "stream.h"
#include "xalloc.h"

#define ERRLEN 1024

/* Keys streamed changes touched while a table is read, at most, per table (snapwatch.h). */
#define SNAPWATCH_MEM (16 * 1024 * 1024)

typedef struct Pipeline
{
	const Settings *settings;
	Metrics    *metrics;
	TopicLimits *limits;		/* kept across pipelines */
	Source	   *src;
	Source	   *primary;		/* source.primary, where walstreamer writes when src is a standby; else NULL */
	bool		standby;		/* src is in recovery */
	Kafka	   *kafka;
	Stream	   *stream;
	PgoInput   *pgoutput;		/* source.plugin = pgoutput; else NULL */
	Snapshot   *snapshot;
	SnapWatch  *watch;
	Signals		signals;
	bool		snapshot_only;	/* snapshot.mode = initial_only: stop once it is complete */
	Heartbeat  *heartbeat;
	SourceId	id;
	bool		fatal;			/* a retry cannot help (oversized.mode = fail) */
	char		err[ERRLEN];
} Pipeline;

static void
on_delivery(void *arg, uint64_t opaque, const char *topic, int32_t partition, int64_t offset,
			const char *failure)
{
	Pipeline   *p = arg;

	if (p->stream != NULL)
		stream_delivered(p->stream, opaque, topic, partition, offset, failure);
}

/* The log line for a pipeline that ends, and the outcome. */
static Outcome
end(Pipeline *p, Outcome o)
{
	if (o != OUTCOME_STOPPED)
		log_msg(LOG_ERROR, "%s", p->err);
	return o;
}

static Outcome
failure(Pipeline *p, bool fatal)
{
	return end(p, fatal || p->fatal ? OUTCOME_FATAL : OUTCOME_RETRY);
}

/* Where walstreamer's own tables are: the source, or its primary. */
static Source *
book(Pipeline *p)
{
	return p->primary ? p->primary : p->src;
}

/* The marker of a slot walstreamer created (source.h): at creation, and at every start. */
static bool
mark_slot(Pipeline *p, const uint64_t *snapshot_lsn)
{
	return source_mark_slot(book(p), p->settings->slot_name, p->id.sysid, snapshot_lsn,
							p->err, sizeof(p->err));
}

static const char *
quote_option(char *buf, size_t len, const char *name, const char *value)
{
	size_t		at = (size_t) snprintf(buf, len, ", \"%s\" '", name);

	for (const char *v = value; *v && at + 3 < len; v++)
	{
		if (*v == '\'')
			buf[at++] = '\'';
		buf[at++] = *v;
	}
	snprintf(buf + at, len - at, "'");
	return buf;
}

/* The decoder's options for START_REPLICATION. */
static char *
plugin_options(const Settings *s)
{
	size_t		len = 512 + (s->include_tables ? 2 * strlen(s->include_tables) : 0) +
		(s->signal_table ? 2 * strlen(s->signal_table) : 0) +
		(s->exclude_tables ? 2 * strlen(s->exclude_tables) : 0) +
		(s->message_prefixes ? 2 * strlen(s->message_prefixes) : 0);
	char	   *opts = xmalloc(len);
	char	   *part = xmalloc(len);

	if (s->to_stdout)
		snprintf(opts, len, "\"format\" 'json'");
	else
		snprintf(opts, len, "\"format\" 'protobuf', \"batch-bytes\" '%d'", STREAM_BATCH_BYTES);
	strcat(opts, ", \"include-transaction\" 'on', \"skip-empty-xacts\" 'on'");
	/* Printed records are for people: whole transactions. */
	if (s->streaming && !s->to_stdout)
		strcat(opts, ", \"streaming\" 'on'");
	if (s->via_root)
		strcat(opts, ", \"partition-root\" 'on'");
	if (s->include_tables)
	{
		char	   *list = xmalloc(strlen(s->include_tables) + (s->signal_table ? strlen(s->signal_table) : 0) + 2);

		/* The signal table is read from the stream, whatever the list. */
		sprintf(list, "%s%s%s", s->include_tables, s->signal_table ? "," : "",
				s->signal_table ? s->signal_table : "");
		strcat(opts, quote_option(part, len, "include-tables", list));
		free(list);
	}
	if (s->exclude_tables)
		strcat(opts, quote_option(part, len, "exclude-tables", s->exclude_tables));
	if (s->message_prefixes)
	{
		char	   *list = xmalloc(strlen(s->message_prefixes) + sizeof(HEARTBEAT_PREFIX) +
									  sizeof(SNAPWATCH_PREFIX) + 3);

		sprintf(list, "%s,%s,%s", s->message_prefixes, HEARTBEAT_PREFIX, SNAPWATCH_PREFIX);
		strcat(opts, quote_option(part, len, "message-prefixes", list));
		free(list);
	}
	free(part);
	return opts;
}

/*
 * Makes sure the slot exists and is ours, asking for the tables to be read
 * as snapshot.mode says (snapshot.h: they are read while streaming).  The
 * tables are asked for before the slot is created, so that a crash between
 * the two asks again.  initial_only streams on a temporary slot until the
 * snapshot is complete.
 */
static bool
prepare_slot(Pipeline *p, Outcome *outcome)
{
	const Settings *s = p->settings;
	SlotInfo	info;
	char		why[ERRLEN];
	char		when[128];
	int			created;
	uint64_t	lsn;

	*outcome = OUTCOME_RETRY;
	if (!source_slot_info(p->src, s->slot_name, &info, p->err, sizeof(p->err)))
		return false;
	/* when_needed: an invalidated slot is dropped, and a new one reads every table again. */
	if (info.exists && s->snapshot_mode == SNAPSHOT_WHEN_NEEDED && strcmp(info.wal_status, "lost") == 0 &&
		strcmp(info.plugin, s->plugin_name) == 0 && strcmp(info.database, p->id.dbname) == 0)
	{
		log_msg(LOG_WARNING, "replication slot \"%s\" was invalidated (max_slot_wal_keep_size): changes after "
				LSN_FMT " are lost; snapshot.mode=when_needed: a new slot, and every table read again",
				s->slot_name, LSN_ARGS(info.confirmed_flush));
		if (!source_drop_slot(p->src, s->slot_name, p->err, sizeof(p->err)))
			return false;
		info.exists = false;
	}
	if (info.exists && source_slot_unusable(&info, s->slot_name, s->plugin_name, p->id.dbname, why, sizeof(why)))
	{
		snprintf(p->err, sizeof(p->err), "%s", why);
		*outcome = OUTCOME_FATAL;
		return false;
	}
	if (info.exists && info.active_pid != 0)
	{
		snprintf(p->err, sizeof(p->err), "replication slot \"%s\" is in use by PID %d",
				 s->slot_name, info.active_pid);
		return false;
	}
	if (s->snapshot_mode == SNAPSHOT_INITIAL_ONLY)
	{
		if (info.exists)
		{
			snprintf(p->err, sizeof(p->err), "snapshot.mode=initial_only reads on a temporary slot, "
					 "but replication slot \"%s\" exists: name another slot.name", s->slot_name);
			*outcome = OUTCOME_FATAL;
			return false;
		}
		p->snapshot_only = true;
		return progress_schedule(s, p->err, sizeof(p->err)) &&
			source_create_slot(p->src, s->slot_name, s->plugin_name, true, false, false, &lsn, NULL, 0, p->err,
							   sizeof(p->err));
	}
	if ((created = source_slot_created(book(p), s->slot_name, p->id.dbname, when, sizeof(when),
									   p->err, sizeof(p->err))) < 0)
	{
		*outcome = OUTCOME_FATAL;
		return false;
	}
	if (!info.exists && created && s->snapshot_mode == SNAPSHOT_WHEN_NEEDED)
		log_msg(LOG_WARNING, "replication slot \"%s\" was dropped (walstreamer created it %s): "
				"snapshot.mode=when_needed: a new slot, and every table read again", s->slot_name, when);
	else if (!info.exists && created && s->snapshot_mode != SNAPSHOT_ALWAYS)
	{
		snprintf(p->err, sizeof(p->err), "replication slot \"%s\" was dropped (walstreamer created it "
				 "%s): changes since its last confirmed position are lost, so it is not "
				 "recreated silently. To start over with a new snapshot: "
				 "DELETE FROM pgcdc.streamer_slot WHERE slot_name = '%s'", s->slot_name, when,
				 s->slot_name);
		*outcome = OUTCOME_FATAL;
		return false;
	}
	if (!info.exists && !s->slot_create)
	{
		snprintf(p->err, sizeof(p->err), "replication slot \"%s\" does not exist, and slot.create is off",
				 s->slot_name);
		*outcome = OUTCOME_FATAL;
		return false;
	}
	if ((s->snapshot_mode == SNAPSHOT_ALWAYS || (!info.exists && (s->snapshot_mode == SNAPSHOT_INITIAL ||
																	s->snapshot_mode == SNAPSHOT_WHEN_NEEDED))) &&
		!progress_schedule(s, p->err, sizeof(p->err)))
		return false;
	if (info.exists && s->slot_failover && !info.failover && source_failover_slots(p->src) && !p->standby)
	{
		if (!source_set_failover(p->src, s->slot_name, p->err, sizeof(p->err)))
			return false;
		log_msg(LOG_INFO, "replication slot \"%s\" is now a failover slot (slot.failover)", s->slot_name);
	}
	if (info.exists)
		return mark_slot(p, NULL) && progress_reconcile(s, p->err, sizeof(p->err));
	/* A standby's slot cannot be a failover slot; it waits for the primary's running transactions. */
	if (p->standby)
		source_log_standby_snapshot(p->primary);
	if (!source_create_slot(p->src, s->slot_name, s->plugin_name, false, false, s->slot_failover && !p->standby,
							&lsn, NULL, 0, p->err, sizeof(p->err)))
		return false;
	log_msg(LOG_INFO, "created replication slot \"%s\" at " LSN_FMT "%s", s->slot_name, LSN_ARGS(lsn),
			s->snapshot_mode == SNAPSHOT_NEVER ? " (no snapshot)" : "");
	return mark_slot(p, &lsn) && progress_reconcile(s, p->err, sizeof(p->err));
}

/*
 * The snapshot's part of the loop: what Kafka acknowledged, failures,
 * completion.  False with p->err; *stop when initial_only is done.
 */
static bool
tend_snapshot(Pipeline *p, bool *stop, int64_t *last_log)
{
	Signal		sig;

	*stop = false;
	/* A signal: the workers stop (what Kafka acknowledged is kept), then start on what is left to read. */
	while (signals_take(&p->signals, &sig))
	{
		bool		ok;

		snapshot_free(p->snapshot);
		p->snapshot = NULL;
		ok = signal_execute(p->settings, &sig, p->err, sizeof(p->err));
		signal_free(&sig);
		if (!ok || ((p->snapshot = snapshot_start(p->settings, p->watch, p->kafka, p->metrics, p->err,
												  sizeof(p->err))) == NULL && p->err[0]))
			return false;
	}
	if (p->snapshot == NULL)
	{
		*stop = p->snapshot_only;
		return true;
	}
	snapshot_flushed(p->snapshot, stream_flush_lsn(p->stream));
	if (snapshot_failed(p->snapshot, p->err, sizeof(p->err)))
	{
		p->fatal = snapshot_fatal(p->snapshot);
		return false;
	}
	if (snapshot_complete(p->snapshot))
	{
		log_msg(LOG_INFO, "snapshot complete: %llu rows, all acknowledged",
				(unsigned long long) snapshot_rows(p->snapshot));
		snapshot_free(p->snapshot);
		p->snapshot = NULL;
		*stop = p->snapshot_only;
	}
	else if (runtime_now_ms() - *last_log > 10000)
	{
		log_msg(LOG_INFO, "snapshot: %llu rows so far", (unsigned long long) snapshot_rows(p->snapshot));
		*last_log = runtime_now_ms();
	}
	return true;
}

static bool
send_status(Pipeline *p, bool reply)
{
	return source_send_status(p->src, stream_received_lsn(p->stream), stream_flush_lsn(p->stream),
							  reply, p->err, sizeof(p->err));
}

/*
 * First stop signal: stop reading, let Kafka acknowledge until the stop's
 * deadline (daemon.h), confirm, end COPY.
 */
static Outcome
shut_down(Pipeline *p)
{
	int64_t		deadline = daemon_stop_deadline();
	int64_t		left = deadline - runtime_now_ms();

	log_msg(LOG_INFO, "stopping: waiting up to %d ms for Kafka", (int) (left > 0 ? left : 0));
	while (p->kafka != NULL && daemon_stop_signals < 2 && runtime_now_ms() < deadline &&
		   (stream_blocked(p->stream) || kafka_outstanding(p->kafka) > 0))
	{
		struct pollfd pfd = {kafka_fd(p->kafka), POLLIN, 0};

		poll(&pfd, 1, 100);
		kafka_poll(p->kafka);
		if (!stream_drain(p->stream, p->err, sizeof(p->err)))
			break;
	}
	send_status(p, false);
	source_end_copy(p->src, daemon_stop_signals < 2 ? 5000 : 0);
	log_msg(LOG_INFO, "stopped; confirmed " LSN_FMT, LSN_ARGS(stream_flush_lsn(p->stream)));
	return OUTCOME_STOPPED;
}

/* Reads what the socket has, at most a bounded batch so Kafka is served too. */
static int
read_batch(Pipeline *p)
{
	for (int i = 0; i < 20000 && !stream_blocked(p->stream); i++)
	{
		const char *buf;
		int			n = source_read(p->src, &buf, p->err, sizeof(p->err));

		if (n == 0)
			return 0;
		if (n < 0)
			return source_fatal(p->src) ? -2 : -1;
		if (!stream_message(p->stream, buf, (size_t) n, p->err, sizeof(p->err)))
		{
			/* A fatal producer error fails every produce after it: that error is the one to name. */
			if (p->kafka && kafka_fatal(p->kafka, p->err, sizeof(p->err)))
				return -1;
			return stream_retryable(p->stream) ? -1 : -2;
		}
		if ((i & 1023) == 1023 && p->kafka)
			kafka_poll(p->kafka);
	}
	return 0;
}

/* The event loop: the source socket, the producer's wake-up pipe, the status timer. */
static Outcome
stream_loop(Pipeline *p)
{
	int64_t		next_status = runtime_now_ms() + p->settings->status_ms;
	uint64_t	sent_flush = stream_flush_lsn(p->stream);
	int64_t		last_status = 0;
	int64_t		last_log = runtime_now_ms();

	for (;;)
	{
		struct pollfd fds[2] = {
			{source_socket(p->src), (short) ((stream_blocked(p->stream) ? 0 : POLLIN) |
											 (source_output_pending(p->src) ? POLLOUT : 0)), 0},
			{p->kafka ? kafka_fd(p->kafka) : -1, POLLIN, 0}
		};
		int64_t		wait = next_status - runtime_now_ms();
		int			rc;
		bool		done;

		if (stream_blocked(p->stream) && wait > 10)
			wait = 10;
		/* The flush position moved: report it soon even if nothing else happens. */
		if (stream_flush_lsn(p->stream) != sent_flush && wait > last_status + 100 - runtime_now_ms())
			wait = last_status + 100 - runtime_now_ms();
		if (poll(fds, 2, (int) (wait < 0 ? 0 : wait > 1000 ? 1000 : wait)) < 0 && errno != EINTR)
		{
			snprintf(p->err, sizeof(p->err), "poll: %s", strerror(errno));
			return failure(p, true);
		}
		if (p->kafka)
			kafka_poll(p->kafka);
		if (daemon_stop_signals > 0)
			return shut_down(p);
		daemon_reopen_log();
		if (stream_failed(p->stream, p->err, sizeof(p->err)) ||
			(p->kafka && kafka_fatal(p->kafka, p->err, sizeof(p->err))))
			return failure(p, false);
		if (stream_blocked(p->stream) && !stream_drain(p->stream, p->err, sizeof(p->err)))
			return failure(p, !(p->kafka && kafka_fatal(p->kafka, p->err, sizeof(p->err))) &&
						   !stream_retryable(p->stream));
		if ((rc = read_batch(p)) < 0)
			return failure(p, rc == -2);
		if (!tend_snapshot(p, &done, &last_log))
			return failure(p, false);
		if (done)
		{
			log_msg(LOG_INFO, "snapshot.mode=initial_only: snapshot done, stopping");
			return shut_down(p);
		}
		/* Status every interval, when asked, and soon after the flush position moves. */
		if (stream_take_reply_request(p->stream) || runtime_now_ms() >= next_status ||
			(stream_flush_lsn(p->stream) != sent_flush && runtime_now_ms() - last_status >= 100))
		{
			if (!send_status(p, false))
				return failure(p, false);
			sent_flush = stream_flush_lsn(p->stream);
			last_status = runtime_now_ms();
			next_status = last_status + p->settings->status_ms;
		}
		if (!source_flush(p->src, p->err, sizeof(p->err)))
			return failure(p, false);
	}
}

static Outcome
run(Pipeline *p, bool *connected)
{
	const Settings *s = p->settings;
	Outcome		o;
	char	   *options;
	bool		ok;
	SlotInfo	info;
	uint64_t	start_lsn;
	int			rc;

	if ((p->src = source_connect(s->source, p->err, sizeof(p->err))) == NULL)
		return failure(p, false);
	*connected = true;
	if (!source_identify(p->src, &p->id, p->err, sizeof(p->err)))
		return failure(p, source_fatal(p->src));
	if ((rc = source_in_recovery(p->src, p->err, sizeof(p->err))) < 0)
		return failure(p, false);
	p->standby = rc == 1;
	if (p->standby && s->primary == NULL)
	{
		snprintf(p->err, sizeof(p->err), "the source is a standby (in recovery): walstreamer decodes there "
				 "(PostgreSQL 16 on) but writes its tables, watermarks and heartbeats on the primary: set "
				 "source.primary to the primary's connection string");
		return failure(p, true);
	}
	if (s->primary != NULL && (p->primary = source_connect(s->primary, p->err, sizeof(p->err))) == NULL)
		return failure(p, false);
	if (!s->to_stdout &&
		(p->kafka = kafka_new(s->config, p->limits, on_delivery, p, p->err, sizeof(p->err))) == NULL)
		return failure(p, true);
	/* A topic refused a message as too large in an earlier pipeline: ask what it takes. */
	if (p->kafka)
		kafka_learn_limits(p->kafka, 10000);
	if (p->kafka)
	{
		char		source[256];
		char		history[512];

		/* Every message says which history its positions are of (walsink compares). */
		snprintf(source, sizeof(source), "%s/%u/%s/%s", p->id.sysid, p->id.timeline, p->id.dbname,
				 s->slot_name);
		if (!source_timeline_history(p->src, p->id.timeline, history, sizeof(history), p->err, sizeof(p->err)))
			return failure(p, false);
		kafka_set_source(p->kafka, source, history);
	}
	if (s->to_stdout)
	{
		/* Debugging: read an existing slot, never confirm anything. */
		if (!source_slot_info(p->src, s->slot_name, &info, p->err, sizeof(p->err)))
			return failure(p, source_fatal(p->src));
		if (!info.exists ||
			source_slot_unusable(&info, s->slot_name, s->plugin_name, p->id.dbname, p->err, sizeof(p->err)))
		{
			if (!info.exists)
				snprintf(p->err, sizeof(p->err), "replication slot \"%s\" does not exist", s->slot_name);
			return failure(p, true);
		}
	}
	else
	{
		bool		fatal;

		/* pgoutput reads the publication as of each change: it must exist before the slot does. */
		if (s->plugin == PLUGIN_PGOUTPUT &&
			(p->pgoutput = pgoinput_open(s, p->src, p->id.dbname, &fatal, p->err, sizeof(p->err))) == NULL)
			return failure(p, fatal);
		if (!prepare_slot(p, &o))
			return failure(p, o == OUTCOME_FATAL || source_fatal(p->src));
	}
	if (daemon_stop_signals > 0)
		return OUTCOME_STOPPED;

	/* The tracker starts at the slot's confirmed position. */
	if (!source_slot_info(p->src, s->slot_name, &info, p->err, sizeof(p->err)))
		return failure(p, source_fatal(p->src));
	start_lsn = info.confirmed_flush;
	options = p->pgoutput ? pgoinput_options(s) : plugin_options(s);
	ok = source_start(p->src, s->slot_name, options, p->err, sizeof(p->err));
	free(options);
	if (!ok)
		return failure(p, source_fatal(p->src));
	if (!s->to_stdout)
		p->watch = snapwatch_new(SNAPWATCH_MEM);
	p->signals.settings = s;
	p->stream = stream_new(s, p->kafka, s->to_stdout ? stdout : NULL, p->metrics, start_lsn, p->watch,
						   s->to_stdout ? NULL : &p->signals, p->pgoutput ? pgoinput_records(p->pgoutput) : NULL);
	log_msg(LOG_INFO, "streaming from slot \"%s\" in database \"%s\"", s->slot_name, p->id.dbname);
	if (p->watch && (p->snapshot = snapshot_start(s, p->watch, p->kafka, p->metrics, p->err, sizeof(p->err))) == NULL &&
		p->err[0])
		return failure(p, false);
	metrics_set_health(p->metrics, true, NULL);
	if (!s->to_stdout)
		p->heartbeat = heartbeat_start(s->writes, s->heartbeat_ms, s->heartbeat_query);
	return stream_loop(p);
}

Outcome
pipeline_run(const Settings *s, Metrics *m, TopicLimits *limits, bool *connected)
{
	Pipeline	p = {s, m, limits};
	Outcome		o = run(&p, connected);

	heartbeat_stop(p.heartbeat);
	snapshot_free(p.snapshot);
	p.snapshot = NULL;
	/* Reports still reach the stream; its topic handles go before the producer. */
	kafka_stop(p.kafka, o != OUTCOME_STOPPED || daemon_stop_signals > 1 ? 0 : 1000);
	stream_free(p.stream);
	p.stream = NULL;
	pgoinput_close(p.pgoutput);
	snapwatch_free(p.watch);
	signals_clear(&p.signals);
	kafka_free(p.kafka);
	source_close(p.src);
	source_close(p.primary);
	if (o != OUTCOME_STOPPED)
		metrics_set_health(m, false, p.err);
	return o;
}
