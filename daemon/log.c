/*
 * log.c — formatting and writing log lines.
 *
 * "2026-11-23 02:41:13.123 UTC walstreamer[4242] WARNING: message"
 * Each line is written with one fputs and flushed, under the FILE's lock, so
 * lines from librdkafka's threads, walsink's apply thread, the snapshot
 * workers and the main loop do not interleave within a line.
 *
 * Those threads write while the main loop reopens the file on SIGHUP, so the
 * FILE they write through never changes once open: a reopen opens the path
 * anew and dup2()s that descriptor onto the FILE's own, which the kernel
 * does atomically.  A line goes wholly to the old file or wholly to the new.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

static const char *const level_names[] = {"debug", "info", "warning", "error"};
static const char *const level_tags[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static FILE *log_file = NULL;	/* NULL: stderr; set only by log_open, log_close */
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
	log_path = xstrdup(path);
	return log_reopen(err, errlen);
}

/*
 * Opens the file anew (after logrotate moved it); the old one stays on
 * failure.  Safe while other threads log: see the head of this file.
 */
bool
log_reopen(char *err, size_t errlen)
{
	int			fd;

	if (log_path == NULL)
		return true;
	if ((fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666)) < 0)
	{
		snprintf(err, errlen, "could not open log file \"%s\": %s", log_path, strerror(errno));
		return false;
	}
	if (log_file == NULL)
	{
		if ((log_file = fdopen(fd, "a")) == NULL)
		{
			snprintf(err, errlen, "could not open log file \"%s\": %s", log_path, strerror(errno));
			close(fd);
			return false;
		}
		return true;
	}
	/* Under the FILE's lock: what is buffered goes to the old file. */
	flockfile(log_file);
	fflush(log_file);
	if (dup2(fd, fileno(log_file)) < 0)
	{
		funlockfile(log_file);
		snprintf(err, errlen, "could not reopen log file \"%s\": %s", log_path, strerror(errno));
		close(fd);
		return false;
	}
	fcntl(fileno(log_file), F_SETFD, FD_CLOEXEC);	/* dup2 cleared it */
	funlockfile(log_file);
	close(fd);
	return true;
}

/* Only once no other thread logs any more: the FILE goes. */
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

__attribute__((format(printf, 2, 0)))
static void
write_line(LogLevel level, const char *fmt, va_list ap)
{
	char		line[4096];
	size_t		cap = sizeof(line) - 1;	/* keeps a byte for the newline */
	struct timespec now;
	struct tm	tm;
	size_t		n;
	FILE	   *out;

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
	out = log_file ? log_file : stderr;
	flockfile(out);
	fputs(line, out);
	fflush(out);
	funlockfile(out);
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
