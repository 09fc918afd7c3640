/*
 * log.c — formatting and writing log lines.
 *
 * "2026-11-23 02:41:13.123 UTC walstreamer[4242] WARNING: message"
 * Each line is written with one fputs and flushed, so lines from librdkafka's
 * threads and the main loop do not interleave within a line.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {"debug", "info", "warning", "error"};
static const char *const level_tags[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static FILE *log_file = NULL;	/* NULL: stderr */
static char *log_path = NULL;
static char log_program[64] = "pgcdc";
static LogLevel log_level = LOG_INFO;

bool
log_parse_level(const char *name, LogLevel *level)
{
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
	{
		if (strcasecmp(name, level_names[i]) == 0)
		{
			*level = (LogLevel) i;
			return true;
		}
	}
	return false;
}

bool
log_open(const char *program, LogLevel level, const char *path, char *err, size_t errlen)
{
	log_close();
	snprintf(log_program, sizeof(log_program), "%s", program);
	log_level = level;
	if (path == NULL)
		return true;
	if ((log_path = strdup(path)) == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	return log_reopen(err, errlen);
}

/* Opens the file anew (after logrotate moved it); the old one stays on failure. */
bool
log_reopen(char *err, size_t errlen)
{
	FILE	   *f;

	if (log_path == NULL)
		return true;
	if ((f = fopen(log_path, "a")) == NULL)
	{
		snprintf(err, errlen, "could not open log file \"%s\": %s", log_path, strerror(errno));
		return false;
	}
	if (log_file != NULL)
		fclose(log_file);
	log_file = f;
	return true;
}

void
log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	free(log_path);
	log_path = NULL;
}

bool
log_enabled(LogLevel level)
{
	return level >= log_level;
}

static void
write_line(LogLevel level, const char *fmt, va_list ap)
{
	char		line[4096];
	size_t		cap = sizeof(line) - 1;	/* keeps a byte for the newline */
	struct timespec now;
	struct tm	tm;
	size_t		n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(line, cap, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t) snprintf(line + n, cap - n, ".%03ld UTC %s[%ld] %s: ",
						   now.tv_nsec / 1000000, log_program, (long) getpid(), level_tags[level]);
	if (n < cap)
		vsnprintf(line + n, cap - n, fmt, ap);
	n = strlen(line);
	if (n == cap - 1)
		memcpy(line + n - 3, "...", 3);		/* cut, and say so */
	line[n++] = '\n';
	line[n] = '\0';
	fputs(line, log_file ? log_file : stderr);
	fflush(log_file ? log_file : stderr);
}

void
log_msg(LogLevel level, const char *fmt,...)
{
	va_list		ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	write_line(level, fmt, ap);
	va_end(ap);
}

/* syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug. */
void
log_rdkafka(const struct rd_kafka_s *rk, int level, const char *facility, const char *message)
{
	LogLevel	mapped = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARNING
		: level <= 6 ? LOG_INFO : LOG_DEBUG;

	(void) rk;
	log_msg(mapped, "kafka %s: %s", facility, message);
}
