/*
 * main.c — walsink: Kafka topics written by walstreamer → a PostgreSQL target.
 *
 * usage: walsink [--config FILE] [--KEY=VALUE ...] [--check] [--help] [--version]
 *
 * Runs pipelines until stopped (daemon.h: the skeleton, the shutdown); one
 * that fails (target or Kafka gone) is followed by another after a doubling
 * pause, resuming from the positions stored in the target.  Exit status: 0
 * when stopped by a signal, 1 when the configuration is wrong, the target
 * is unreachable at start, Kafka no longer holds changes the target has
 * not applied, or shutdown.timeout.ms passed with a batch still in hand.
 */
#define _POSIX_C_SOURCE 200809L

#include <malloc.h>

#include "check.h"
#include "daemon.h"
#include "pipeline.h"
#include "settings.h"

static Settings settings;

static bool
load(const Config *c, char *err, size_t errlen)
{
	return settings_load(c, &settings, err, errlen);
}

static bool
check(void)
{
	return check_run(&settings);
}

/*
 * A batch allocates and frees some thousand small objects per event;
 * returning the freed heap to the kernel after each batch costs more in
 * page faults than the memory is worth.  One arena: librdkafka's threads
 * allocate fetched messages that the consumer thread frees, and per-thread
 * arenas handed whole heaps back to the kernel (walsink CPU -9%).
 */
static void
tune(void)
{
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_TOP_PAD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
}

static Outcome
run(Metrics *m, bool *connected)
{
	return pipeline_run(&settings, m, connected);
}

static void
release(void)
{
	settings_free(&settings);
}

int
main(int argc, char **argv)
{
	static const char *const prefixes[] = {"kafka.", "rule.", NULL};
	static const DaemonSpec spec = {
		.program = "walsink",
		.version = PGCDC_VERSION,
		.summary = "applies pgcdc change events from Kafka to a PostgreSQL database, exactly once.",
		.check_help = "check the configuration and the target, then exit",
		.more_help = "  rule.<schema>.<table>.<name>\n      a validation rule: a SQL condition over the target "
		"row's columns; rows for which it is not true become dead letters\n"
		"  kafka.<property>\n      any librdkafka consumer property, passed unchanged\n",
		.keys = settings_keys,
		.prefixes = prefixes,
		.env_prefix = SETTINGS_ENV_PREFIX,
		.resume_from = "the target's positions",
		/* What is not committed in the target is consumed again at the next start. */
		.timeout_note = "stopping without the batch in hand (it will be consumed again)",
		.forced_note = "what was not applied will be consumed again",
		.finish_ms = 0,			/* applying the batch in hand is the whole stop */
		.fast_ms = 0,
		/*
		 * Huge pages for the heap: a few hundred MB/s of fetched messages
		 * and decoded events pass through it, and on small pages the faults
		 * taking fresh memory in cost a sixth of walsink's CPU.
		 */
		.huge_pages = true,
		.load = load,
		.check = check,
		.tune = tune,
		.run = run,
		.release = release,
	};

	return daemon_main(argc, argv, &spec);
}
