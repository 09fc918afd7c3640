/*
 * main.c — walsink: Kafka topics written by walstreamer → a PostgreSQL target.
 *
 * usage: walsink [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]
 *
 * Runs pipelines until stopped; one that fails (target or Kafka gone) is
 * followed by another after a doubling pause, resuming from the positions
 * stored in the target.  Exit status: 0 when stopped by a signal, 1 when
 * the configuration is wrong, the target is unreachable at start, or
 * Kafka no longer holds changes the target has not applied.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <malloc.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "runtime.h"
#include "settings.h"

extern char **environ;

static int	shutdown_ms;

/*
 * The first SIGTERM or SIGINT asks for the batch in hand to be applied,
 * within shutdown.timeout.ms; the timer or a second signal ends the process
 * at once.  Nothing is lost that way: what was not committed in the target
 * is consumed again at the next start.
 */
static void
on_stop(int signo)
{
	static const char forced[] = "walsink: stopping now; what was not applied will be consumed again\n";

	if (pipeline_stop_signals++ == 0)
	{
		struct itimerval t = {.it_value = {shutdown_ms / 1000, (shutdown_ms % 1000) * 1000}};

		if (shutdown_ms > 0)
			setitimer(ITIMER_REAL, &t, NULL);
		return;
	}
	if (write(STDERR_FILENO, forced, sizeof(forced) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void
on_shutdown_timeout(int signo)
{
	static const char msg[] = "walsink: shutdown.timeout.ms passed; stopping without the batch in hand "
		"(it will be consumed again)\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void
on_hup(int signo)
{
	pipeline_reopen_log = 1;
}

static void
usage(FILE *out)
{
	fprintf(out, "walsink %s: applies pgcdc change events from Kafka to a PostgreSQL database, exactly once.\n\n"
			"usage: walsink [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]\n\n"
			"  --config FILE  read \"key = value\" lines (# starts a comment after a space; quoting below)\n"
			"  --KEY=VALUE    set a key (also -c KEY=VALUE); overrides the file and environment\n"
			"  --check        check the configuration and the target, then exit\n"
			"  --help         this text; --version  the version\n\n"
			"keys (environment " SETTINGS_ENV_PREFIX "_<KEY>, dots as underscores, overrides the file):\n",
			PGCDC_VERSION);
	config_help(settings_keys, SETTINGS_ENV_PREFIX, out);
	fprintf(out, "  rule.<schema>.<table>.<name>\n      a validation rule: a SQL condition over the target "
			"row's columns; rows for which it is not true become dead letters\n"
			"  kafka.<property>\n      any librdkafka consumer property, passed unchanged\n");
}

int
main(int argc, char **argv)
{
	static const char *const prefixes[] = {"kafka.", "rule.", NULL};
	Config	   *c;
	Settings	s = {0};
	Metrics    *m;
	LogLevel	level;
	bool		check = false;
	bool		connected = false;
	int			backoff = 100;
	char		err[1024];
	Outcome		o;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout), 0;
		if (strcmp(argv[i], "--version") == 0)
			return printf("walsink %s (librdkafka %s, libpq %d)\n", PGCDC_VERSION,
						  rd_kafka_version_str(), PQlibVersion()), 0;
	}
	/*
	 * Huge pages for the heap: a few hundred MB/s of fetched messages and
	 * decoded events pass through it, and on small pages the faults taking
	 * fresh memory in cost a sixth of walsink's CPU.
	 */
	runtime_huge_pages(argv);
	c = config_new(settings_keys, prefixes);
	if (!config_load_args(c, argc, argv, SETTINGS_ENV_PREFIX, environ, &check, err, sizeof(err)) ||
		!settings_load(c, &s, err, sizeof(err)))
		return fprintf(stderr, "walsink: %s\n", err), settings_free(&s), config_free(c), 1;
	log_parse_level(config_string(c, "log.level"), &level);
	if (!log_open("walsink", level, config_string(c, "log.file"), err, sizeof(err)))
		return fprintf(stderr, "walsink: %s\n", err), settings_free(&s), config_free(c), 1;
	if (check)
		return o = pipeline_check(&s) ? 0 : 1, log_close(), settings_free(&s), config_free(c), (int) o;

	shutdown_ms = s.shutdown_ms;
	/*
	 * A batch allocates and frees some thousand small objects per event;
	 * returning the freed heap to the kernel after each batch costs more in
	 * page faults than the memory is worth.  One arena: librdkafka's threads
	 * allocate fetched messages that the consumer thread frees, and per-thread
	 * arenas handed whole heaps back to the kernel (walsink CPU -9%).
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_TOP_PAD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	runtime_on_signal(SIGTERM, on_stop);
	runtime_on_signal(SIGINT, on_stop);
	runtime_on_signal(SIGALRM, on_shutdown_timeout);
	runtime_on_signal(SIGHUP, on_hup);
	runtime_on_signal(SIGPIPE, SIG_IGN);
	m = metrics_new();
	if (s.metrics_listen && !metrics_listen(m, s.metrics_listen, err, sizeof(err)))
		return log_msg(LOG_ERROR, "%s", err), metrics_free(m), settings_free(&s), config_free(c), 1;

	for (;;)
	{
		time_t		started = time(NULL);

		o = pipeline_run(&s, m, &connected);
		if (o != OUTCOME_RETRY || !connected || pipeline_stop_signals > 0)
			break;
		if (time(NULL) - started > 60)
			backoff = 100;
		metrics_add(metrics_cell(m, "walsink_restarts_total", METRIC_COUNTER,
								 "Pipelines restarted after a failure", NULL), 1);
		log_msg(LOG_INFO, "restarting from the target's positions in %d ms", backoff);
		runtime_pause_ms(backoff, &pipeline_stop_signals);
		backoff = backoff * 2 > s.backoff_max_ms ? s.backoff_max_ms : backoff * 2;
	}
	metrics_free(m);
	log_close();
	settings_free(&s);
	config_free(c);
	return o == OUTCOME_STOPPED || (o == OUTCOME_RETRY && pipeline_stop_signals > 0) ? 0 : 1;
}
