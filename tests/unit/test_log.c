/*
 * test_log.c — level filtering, line format, truncation, reopening after
 * rotation, librdkafka's levels, and reopening while other threads log.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"


static char *
slurp(const char *path)
{
	static char buf[65536];
	FILE	   *f = fopen(path, "r");
	size_t		n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static int
count_lines(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define WRITERS 4
#define LINES_PER_WRITER 20000
#define ROTATIONS 100

static void *
writer(void *arg)
{
	long		id = (long) arg;

	for (int i = 0; i < LINES_PER_WRITER; i++)
		log_msg(LOG_INFO, "writer %ld line %d end", id, i);
	return NULL;
}

/* Every line of one file whole, from a writer: adds them to seen[][]. */
static long
count_whole_lines(const char *path, unsigned char seen[WRITERS][LINES_PER_WRITER], long *bad)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	long		n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		const char *w = strstr(line, "INFO: writer ");
		long		id;
		int			i;
		char		end[8];

		if (w == NULL || sscanf(w, "INFO: writer %ld line %d %3s", &id, &i, end) != 3 ||
			strcmp(end, "end") != 0 || id < 0 || id >= WRITERS || i < 0 || i >= LINES_PER_WRITER ||
			line[strlen(line) - 1] != '\n')
		{
			if (++*bad < 4)
				fprintf(stderr, "bad line in %s: %s\n", path, line);
			continue;
		}
		seen[id][i]++;
		n++;
	}
	fclose(f);
	return n;
}

/*
 * SIGHUP's reopen runs in the main loop while the apply thread, the snapshot
 * workers and librdkafka's threads log: every line lands whole, in the old
 * file or the new, none lost, none twice.
 */
static void
test_reopen_while_logging(const char *dir)
{
	static unsigned char seen[WRITERS][LINES_PER_WRITER];
	pthread_t	threads[WRITERS];
	char		path[256];
	char		rotated[300];
	char		err[256];
	long		total = 0;
	long		bad = 0;
	long		missing = 0;

	snprintf(path, sizeof(path), "%s/threads.log", dir);
	CHECK(log_open("walsink", LOG_INFO, path, err, sizeof(err)), "open: %s", err);
	for (long i = 0; i < WRITERS; i++)
		pthread_create(&threads[i], NULL, writer, (void *) i);
	for (int r = 0; r < ROTATIONS; r++)
	{
		snprintf(rotated, sizeof(rotated), "%s.%d", path, r);
		CHECK(rename(path, rotated) == 0, "rename %d", r);
		CHECK(log_reopen(err, sizeof(err)), "reopen %d: %s", r, err);
		nanosleep(&(struct timespec) {0, 200000}, NULL);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(threads[i], NULL);
	log_close();

	for (int r = 0; r < ROTATIONS; r++)
	{
		snprintf(rotated, sizeof(rotated), "%s.%d", path, r);
		total += count_whole_lines(rotated, seen, &bad);
		unlink(rotated);
	}
	total += count_whole_lines(path, seen, &bad);
	unlink(path);
	for (int w = 0; w < WRITERS; w++)
		for (int i = 0; i < LINES_PER_WRITER; i++)
			missing += seen[w][i] != 1;
	CHECK(bad == 0, "%ld lines cut or mixed", bad);
	CHECK(total == (long) WRITERS * LINES_PER_WRITER && missing == 0,
		  "%ld lines of %d, %ld lost or doubled", total, WRITERS * LINES_PER_WRITER, missing);
}

int
main(void)
{
	char		dir[] = "/tmp/pgcdc-log-XXXXXX";
	char		path[256];
	char		rotated[256];
	char		err[256];
	char		big[8000];
	LogLevel	level;
	regex_t		re;
	char	   *text;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/walstreamer.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/walstreamer.log.1", dir);

	CHECK(log_parse_level("WARNING", &level) && level == LOG_WARNING, "parse level");
	CHECK(!log_parse_level("loud", &level), "bad level");
	CHECK(!log_open("walstreamer", LOG_INFO, "/nonexistent/dir/x.log", err, sizeof(err)) &&
		  strstr(err, "could not open log file \"/nonexistent/dir/x.log\""), "bad path: %s", err);

	CHECK(log_open("walstreamer", LOG_INFO, path, err, sizeof(err)), "open: %s", err);
	log_msg(LOG_DEBUG, "hidden %d", 1);
	log_msg(LOG_INFO, "flushed to " LSN_FMT, LSN_ARGS(0x1A2B3C4D5E6FULL));
	log_rdkafka(NULL, 7, "BROKER", "debug from librdkafka");
	log_rdkafka(NULL, 3, "FAIL", "broker down");
	text = slurp(path);
	CHECK(count_lines(text) == 2, "level filter: %s", text);
	regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} UTC "
			"walstreamer\\[[0-9]+\\] INFO: flushed to 1A2B/3C4D5E6F\n", REG_EXTENDED);
	CHECK(regexec(&re, text, 0, NULL, 0) == 0, "format: %s", text);
	regfree(&re);
	CHECK(strstr(text, "ERROR: kafka FAIL: broker down\n") != NULL, "rdkafka level: %s", text);

	/* A line too long is cut, says so, and still ends the line. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_msg(LOG_ERROR, "%s", big);
	log_msg(LOG_ERROR, "after the long one");
	text = slurp(path);
	CHECK(strstr(text, "x...\n") != NULL && strstr(text, "ERROR: after the long one\n"), "truncation");
	CHECK(count_lines(text) == 4, "lines after truncation: %d", count_lines(text));

	/* logrotate moves the file; SIGHUP's reopen starts a new one. */
	CHECK(rename(path, rotated) == 0, "rename");
	log_msg(LOG_WARNING, "still to the old file");
	CHECK(log_reopen(err, sizeof(err)), "reopen: %s", err);
	log_msg(LOG_WARNING, "to the new file");
	CHECK(strstr(slurp(rotated), "still to the old file") != NULL, "old file");
	text = slurp(path);
	CHECK(count_lines(text) == 1 && strstr(text, "WARNING: to the new file"), "new file: %s", text);
	log_close();
	unlink(path);
	unlink(rotated);

	test_reopen_while_logging(dir);
	rmdir(dir);
	return unit_summary("log");
}
