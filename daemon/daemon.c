/*
 * daemon.c — a daemon's process from argv to exit status: the command
 * line, the log, signals and the shutdown they start, metrics, and the
 * restart loop (daemon.h says how a stop goes).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "daemon.h"
#include "log.h"
#include "runtime.h"

extern char **environ;

volatile sig_atomic_t daemon_stop_signals = 0;
static volatile sig_atomic_t reopen_asked = 0;

/* Written by the first stop signal's handler, on whichever thread takes it. */
static _Atomic int_least64_t stop_deadline;

/* Set before the handlers are installed, read by them. */
static const char *program;
static int	shutdown_ms;
static int	finish_ms;
static int	fast_ms;
static char timeout_line[512];
static char forced_line[512];

static void
hard_stop(const char *line)
{
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		_exit(1);
	_exit(1);
}

static void
arm_hard_stop(int ms)
{
	struct itimerval t = {.it_value = {ms / 1000, (ms % 1000) * 1000}};

	setitimer(ITIMER_REAL, &t, NULL);
}

/*
 * The first signal sets the deadline and arms the hard stop behind it; a
 * second one brings the hard stop forward to fast_ms from now (never later
 * than it stood), or ends the process at once.
 */
static void
on_stop(int signo)
{
	struct itimerval left;

	if (daemon_stop_signals++ == 0)
	{
		atomic_store(&stop_deadline, runtime_now_ms() + shutdown_ms);
		if (shutdown_ms + finish_ms > 0)
			arm_hard_stop(shutdown_ms + finish_ms);
		return;
	}
	if (fast_ms == 0)
		hard_stop(forced_line);
	getitimer(ITIMER_REAL, &left);
	if ((left.it_value.tv_sec == 0 && left.it_value.tv_usec == 0) ||
		left.it_value.tv_sec * 1000 + left.it_value.tv_usec / 1000 > fast_ms)
		arm_hard_stop(fast_ms);
}

static void
on_alarm(int signo)
{
	hard_stop(daemon_stop_signals > 1 ? forced_line : timeout_line);
}

static void
on_hup(int signo)
{
	reopen_asked = 1;
}

int64_t
daemon_stop_deadline(void)
{
	return atomic_load(&stop_deadline);
}

void
daemon_reopen_log(void)
{
	char		err[1024];

	if (!reopen_asked)
		return;
	reopen_asked = 0;
	if (!log_reopen(err, sizeof(err)))
		fprintf(stderr, "%s: %s\n", program, err);
}

static void
usage(const DaemonSpec *spec, FILE *out)
{
	fprintf(out, "%s %s: %s\n\n", spec->program, spec->version, spec->summary);
	fprintf(out, "usage: %s [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]\n\n"
			"  --config FILE  read \"key = value\" lines (# starts a comment after a space; quoting below)\n"
			"  --KEY=VALUE    set a key (also -c KEY=VALUE); overrides the file and environment\n"
			"  --check        %s\n"
			"  --help         this text; --version  the version\n\n"
			"keys (environment %s_<KEY>, dots as underscores, overrides the file):\n",
			spec->program, spec->check_help, spec->env_prefix);
	config_help(spec->keys, spec->env_prefix, out);
	fputs(spec->more_help, out);
}

/* The signals a running daemon answers, and the lines its hard stop writes. */
static void
install_signals(const DaemonSpec *spec, const Config *c)
{
	shutdown_ms = (int) config_int(c, "shutdown.timeout.ms");
	finish_ms = spec->finish_ms;
	fast_ms = spec->fast_ms;
	snprintf(timeout_line, sizeof(timeout_line), "%s: shutdown.timeout.ms passed; %s\n",
			 spec->program, spec->timeout_note);
	snprintf(forced_line, sizeof(forced_line), "%s: stopping now; %s\n", spec->program, spec->forced_note);
	runtime_on_signal(SIGTERM, on_stop);
	runtime_on_signal(SIGINT, on_stop);
	runtime_on_signal(SIGALRM, on_alarm);
	runtime_on_signal(SIGHUP, on_hup);
	runtime_on_signal(SIGPIPE, SIG_IGN);
}

/*
 * Pipelines until one is stopped, or fails so that a retry cannot help, or
 * fails before it ever connected (a wrong address: the operator should
 * know at once).  The pause doubles up to reconnect.backoff.max.ms, and
 * starts again at 100 ms after a pipeline that ran for a minute: that one
 * failed anew.
 */
static Outcome
run_pipelines(const DaemonSpec *spec, const Config *c, Metrics *m)
{
	int			backoff_max = (int) config_int(c, "reconnect.backoff.max.ms");
	int			backoff = 100;
	bool		connected = false;
	char		name[128];
	Outcome		o;

	snprintf(name, sizeof(name), "%s_restarts_total", spec->program);
	for (;;)
	{
		time_t		started = time(NULL);

		o = spec->run(m, &connected);
		if (o != OUTCOME_RETRY || !connected || daemon_stop_signals > 0)
			break;
		if (time(NULL) - started > 60)
			backoff = 100;
		metrics_add(metrics_cell(m, name, METRIC_COUNTER, "Pipelines restarted after a failure", NULL), 1);
		log_msg(LOG_INFO, "restarting from %s in %d ms", spec->resume_from, backoff);
		runtime_pause_ms(backoff, &daemon_stop_signals);
		backoff = backoff * 2 > backoff_max ? backoff_max : backoff * 2;
		daemon_reopen_log();
	}
	return o;
}

int
daemon_main(int argc, char **argv, const DaemonSpec *spec)
{
	Config	   *c;
	Metrics    *m = NULL;
	LogLevel	level;
	bool		check = false;
	bool		logging = false;
	const char *listen;
	char		err[1024];
	Outcome		o;
	int			rc = 1;

	program = spec->program;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			usage(spec, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0)
		{
			printf("%s %s (librdkafka %s, libpq %d)\n", spec->program, spec->version,
				   rd_kafka_version_str(), PQlibVersion());
			return 0;
		}
	}
	if (spec->huge_pages)
		runtime_huge_pages(argv);
	c = config_new(spec->keys, spec->prefixes);
	if (!config_load_args(c, argc, argv, spec->env_prefix, environ, &check, err, sizeof(err)) ||
		!spec->load(c, err, sizeof(err)))
	{
		fprintf(stderr, "%s: %s\n", spec->program, err);
		goto done;
	}
	log_parse_level(config_string(c, "log.level"), &level);
	if (!log_open(spec->program, level, config_string(c, "log.file"), err, sizeof(err)))
	{
		fprintf(stderr, "%s: %s\n", spec->program, err);
		goto done;
	}
	logging = true;
	if (check)
	{
		rc = spec->check() ? 0 : 1;
		goto done;
	}

	if (spec->tune)
		spec->tune();
	install_signals(spec, c);
	m = metrics_new();
	listen = config_string(c, "metrics.listen");
	if (listen && !metrics_listen(m, listen, err, sizeof(err)))
	{
		log_msg(LOG_ERROR, "%s", err);
		goto done;
	}
	o = run_pipelines(spec, c, m);
	rc = o == OUTCOME_STOPPED || (o == OUTCOME_RETRY && daemon_stop_signals > 0) ? 0 : 1;
done:
	if (m)
		metrics_free(m);
	if (logging)
		log_close();
	spec->release();
	config_free(c);
	return rc;
}
