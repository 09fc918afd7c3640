/*
 * test_log.c — level filtering, line format, truncation, reopening after
 * rotation, and librdkafka's levels.
 */
#define _POSIX_C_SOURCE 200809L

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	rmdir(dir);
	return unit_summary("log");
}
