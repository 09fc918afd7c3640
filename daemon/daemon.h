/*
 * daemon.h — the skeleton both daemons run in: the command line (--help,
 * --version, --check, the configuration), the log, the signals and the
 * shutdown they start, the metrics endpoint, and the loop that runs
 * pipelines, starting a failed one again after a doubling pause.
 *
 * A daemon's main() fills a DaemonSpec and returns daemon_main().  The
 * skeleton owns the Config, the log and the Metrics, and reads the keys
 * every daemon has by name (log.level, log.file, metrics.listen,
 * shutdown.timeout.ms, reconnect.backoff.max.ms); the daemon owns its
 * settings: spec->load fills them from the Config, spec->release frees
 * them, whether the load succeeded or not.
 *
 * Shutdown, the same in both daemons.  The first SIGTERM or SIGINT starts
 * a graceful stop with a deadline, shutdown.timeout.ms after the signal
 * (daemon_stop_deadline): the pipeline stops taking input, finishes or
 * flushes what it holds as far as the deadline allows, reports what is
 * done, closes and returns OUTCOME_STOPPED; the process exits 0.  A
 * pipeline checks daemon_stop_signals in its loops and bounds its waits by
 * the deadline; a second signal tells it to stop waiting at all.
 * Behind that stands a hard stop, for a pipeline stuck where no loop looks
 * (walsink's apply thread waiting for a lock in the target): finish_ms
 * after the deadline, or fast_ms after a second signal, a timer (SIGALRM)
 * ends the process with exit status 1 and one line on stderr saying what
 * the next start does again.  Nothing is lost either way: walstreamer
 * confirms to the slot only what Kafka acknowledged, walsink stores a
 * position only in the transaction that applied it.  The hard stop is
 * armed only when shutdown.timeout.ms + finish_ms is above 0 (walsink's
 * "0: no limit").
 *
 * XXX A cooperative deadline alone (the pipeline's own loop returning)
 * would be cleaner than a timer and _exit(), but a blocked libpq call in
 * another thread cannot be bounded from outside it; the timer is the one
 * guarantee that a stop ends.
 *
 * SIGHUP asks for the log file to be reopened (logrotate): the pipelines'
 * loops call daemon_reopen_log(), and so does the restart loop.
 */
#ifndef PGCDC_DAEMON_DAEMON_H
#define PGCDC_DAEMON_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"

/* How one pipeline (one run of a daemon's work) ended. */
typedef enum Outcome
{
	OUTCOME_STOPPED,			/* asked to stop and stopped, or its work done
								 * (walstreamer's snapshot.mode=initial_only) */
	OUTCOME_RETRY,				/* a connection lost, Kafka failed: run again after a pause */
	OUTCOME_FATAL				/* retrying cannot help (configuration, changes lost): exit 1 */
} Outcome;

typedef struct DaemonSpec
{
	const char *program;		/* "walsink": messages, the log, metric names */
	const char *version;
	const char *summary;		/* --help's first line, after "program version: " */
	const char *check_help;		/* --help: what --check does */
	const char *more_help;		/* --help after the key table: the pass-through keys */
	const ConfigKey *keys;
	const char *const *prefixes;	/* pass-through key prefixes, NULL-terminated */
	const char *env_prefix;		/* WALSINK */
	const char *resume_from;	/* the restart line: "restarting from <resume_from> in N ms" */
	const char *timeout_note;	/* the hard stop's line after the deadline */
	const char *forced_note;	/* the hard stop's line after a second signal */
	int			finish_ms;		/* the hard stop, after the deadline */
	int			fast_ms;		/* the hard stop, after a second signal; 0: at once */
	bool		huge_pages;		/* runtime_huge_pages() before anything else */

	/* The daemon's settings from c; false with err set. */
	bool		(*load) (const Config *c, char *err, size_t errlen);
	/* --check, with the log open: prints its checks; true when all pass. */
	bool		(*check) (void);
	/* Process-wide tuning once the daemon is to run (not for --check); may be NULL. */
	void		(*tune) (void);
	/* One pipeline; *connected: its source or target was reached once (a retry can help). */
	Outcome		(*run) (Metrics *m, bool *connected);
	/* Frees what load and run kept. */
	void		(*release) (void);
} DaemonSpec;

/* How many stop signals arrived: 0 running, 1 stopping gracefully, 2 or more hurrying. */
extern volatile sig_atomic_t daemon_stop_signals;

/* When the graceful stop is out of time (runtime_now_ms()); once daemon_stop_signals > 0. */
extern int64_t daemon_stop_deadline(void);
/* Reopens the log file if SIGHUP asked for it; a failure goes to stderr. */
extern void daemon_reopen_log(void);

/* The whole process: returns main()'s exit status. */
extern int	daemon_main(int argc, char **argv, const DaemonSpec *spec);

#endif							/* PGCDC_DAEMON_DAEMON_H */
