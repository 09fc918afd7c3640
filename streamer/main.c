/*
 * main.c — walstreamer: logical replication slot → Kafka.
 *
 * usage: walstreamer [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]
 *
 * Runs pipelines until stopped (daemon.h: the skeleton, the shutdown): each
 * connects, prepares the slot and streams; one that fails for a reason a
 * retry can fix (connection lost, delivery failed) is followed by another
 * after a doubling pause.  Exit status: 0 when stopped by a signal (or
 * initial_only done), 1 when the configuration is wrong, the source is
 * unreachable at start, the slot cannot be streamed from (dropped,
 * invalidated, another plugin), or a change is larger than Kafka takes and
 * oversized.mode is fail.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "daemon.h"
#include "kafka.h"
#include "colpolicy.h"
#include "outbox.h"
#include "topicroute.h"
#include "pipeline.h"
#include "settings.h"
#include "topiclimits.h"

static Settings settings;
static TopicLimits *limits;		/* the topics' limits, learned by one pipeline for the next */

static bool
load(const Config *c, char *err, size_t errlen)
{
	return settings_load(c, &settings, err, errlen) && kafka_validate(c, err, errlen);
}

static bool
check(void)
{
	return check_run(&settings);
}

static Outcome
run(Metrics *m, bool *connected)
{
	if (limits == NULL)
		limits = topiclimits_new();
	return pipeline_run(&settings, m, limits, connected);
}

static void
release(void)
{
	topiclimits_free(limits);
	colpolicy_free(settings.columns);
	settings.columns = NULL;
	topicroute_free(settings.route);
	settings.route = NULL;
	outbox_free(settings.outbox);
	settings.outbox = NULL;
}

int
main(int argc, char **argv)
{
	static const char *const prefixes[] = {"kafka.", COLPOLICY_MASK_PREFIX, NULL};
	static const DaemonSpec spec = {
		.program = "walstreamer",
		.version = PGCDC_VERSION,
		.summary = "streams a PostgreSQL logical replication slot (plugin pgcdc) to Kafka.",
		.check_help = "check the configuration, the source and Kafka, then exit",
		.more_help = "  kafka.<property>\n      any librdkafka producer property, passed unchanged "
		"(enable.idempotence, acks=all and the partitioning cannot be changed)\n",
		.keys = settings_keys,
		.prefixes = prefixes,
		.env_prefix = SETTINGS_ENV_PREFIX,
		.resume_from = "the slot",
		/* The slot is confirmed only as far as Kafka acknowledged. */
		.timeout_note = "stopping without confirming what Kafka acknowledged last (it will be streamed again)",
		.forced_note = "what was not confirmed to the slot will be streamed again",
		/*
		 * After the deadline, or a second signal, the last steps bound
		 * themselves (the end of COPY 5 s, the producer 1 s): the hard stop
		 * is for a hang only.
		 */
		.finish_ms = 10000,
		.fast_ms = 10000,
		.huge_pages = false,
		.load = load,
		.check = check,
		.tune = NULL,
		.run = run,
		.release = release,
	};

	return daemon_main(argc, argv, &spec);
}
