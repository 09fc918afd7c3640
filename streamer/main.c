/*
 * main.c — walstreamer: logical replication slot → Kafka.
 *
 * usage: walstreamer [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]
 *
 * Runs pipelines until stopped: each connects, prepares the slot and
 * streams; one that fails for a reason a retry can fix (connection lost,
 * delivery failed) is followed by another after a doubling pause.  Exit
 * status: 0 when stopped by a signal (or initial_only done), 1 when the
 * configuration is wrong, the source is unreachable at start, the slot
 * cannot be streamed from (dropped, invalidated, another plugin), or a
 * change is larger than Kafka takes and oversized.mode is fail.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "runtime.h"
#include "settings.h"

extern char **environ;

static void
on_stop(int signo)
{
	pipeline_stop_signals++;
}

static void
on_hup(int signo)
{
	pipeline_reopen_log = 1;
}

static void
usage(FILE *out)
{
	fprintf(out, "walstreamer %s: streams a PostgreSQL logical replication slot (plugin pgcdc) to Kafka.\n\n"
			"usage: walstreamer [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]\n\n"
			"  --config FILE  read \"key = value\" lines (# starts a comment after a space; quoting below)\n"
			"  --KEY=VALUE    set a key (also -c KEY=VALUE); overrides the file and environment\n"
			"  --check        check the configuration, the source and Kafka, then exit\n"
			"  --help         this text; --version  the version\n\n"
			"keys (environment " SETTINGS_ENV_PREFIX "_<KEY>, dots as underscores, overrides the file):\n",
			PGCDC_VERSION);
	config_help(settings_keys, SETTINGS_ENV_PREFIX, out);
	fprintf(out, "  kafka.<property>\n      any librdkafka producer property, passed unchanged "
			"(enable.idempotence, acks=all and the partitioning cannot be changed)\n");
}

int
main(int argc, char **argv)
{
	static const char *const prefixes[] = {"kafka.", NULL};
	Config	   *c;
	Settings	s;
	Metrics    *m;
	Limits	   *limits;
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
			return printf("walstreamer %s (librdkafka %s, libpq %d)\n", PGCDC_VERSION,
						  rd_kafka_version_str(), PQlibVersion()), 0;
	}
	c = config_new(settings_keys, prefixes);
	if (!config_load_args(c, argc, argv, SETTINGS_ENV_PREFIX, environ, &check, err, sizeof(err)) || !settings_load(c, &s, err, sizeof(err)) ||
		!kafka_validate(c, err, sizeof(err)))
		return fprintf(stderr, "walstreamer: %s\n", err), config_free(c), 1;
	log_parse_level(config_string(c, "log.level"), &level);
	if (!log_open("walstreamer", level, config_string(c, "log.file"), err, sizeof(err)))
		return fprintf(stderr, "walstreamer: %s\n", err), config_free(c), 1;
	if (check)
		return o = pipeline_check(&s) ? 0 : 1, log_close(), config_free(c), (int) o;

	runtime_on_signal(SIGTERM, on_stop);
	runtime_on_signal(SIGINT, on_stop);
	runtime_on_signal(SIGHUP, on_hup);
	runtime_on_signal(SIGPIPE, SIG_IGN);
	m = metrics_new();
	if (s.metrics_listen && !metrics_listen(m, s.metrics_listen, err, sizeof(err)))
		return log_msg(LOG_ERROR, "%s", err), metrics_free(m), config_free(c), 1;
	if ((limits = limits_new()) == NULL)
		return log_msg(LOG_ERROR, "out of memory"), metrics_free(m), config_free(c), 1;

	/* The main loop: run pipelines until stopped or a retry cannot help. */
	for (;;)
	{
		time_t		started = time(NULL);

		o = pipeline_run(&s, m, limits, &connected);
		if (o != OUTCOME_RETRY || !connected || pipeline_stop_signals > 0)
			break;
		if (time(NULL) - started > 60)
			backoff = 100;		/* it ran for a while: this is a new failure */
		metrics_add(metrics_cell(m, "walstreamer_restarts_total", METRIC_COUNTER,
								 "Pipelines restarted after a failure", NULL), 1);
		log_msg(LOG_INFO, "restarting from the slot in %d ms", backoff);
		runtime_pause_ms(backoff, &pipeline_stop_signals);
		backoff = backoff * 2 > s.backoff_max_ms ? s.backoff_max_ms : backoff * 2;
		if (pipeline_reopen_log && !(pipeline_reopen_log = 0) && !log_reopen(err, sizeof(err)))
			fprintf(stderr, "walstreamer: %s\n", err);
	}
	metrics_free(m);
	limits_free(limits);
	log_close();
	config_free(c);
	return o == OUTCOME_STOPPED || (o == OUTCOME_RETRY && pipeline_stop_signals > 0) ? 0 : 1;
}
