/*
 * log.h — the daemons' one log: levels, one line per message, to stderr or
 * to a file that SIGHUP reopens (for logrotate).  librdkafka's own log lines
 * come through log_rdkafka() so that they obey the same level and format.
 * Callers never pass secrets; conninfo strings go through
 * config_mask_conninfo() first.
 */
#ifndef PGCDC_DAEMON_LOG_H
#define PGCDC_DAEMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR
} LogLevel;

/* LSNs as PostgreSQL prints them: printf("at " LSN_FMT, LSN_ARGS(lsn)). */
#define LSN_FMT "%X/%X"
#define LSN_ARGS(lsn) (unsigned) ((uint64_t) (lsn) >> 32), (unsigned) (lsn)

extern bool log_parse_level(const char *name, LogLevel *level);
/* path NULL: stderr.  Returns false, with err set, when the file cannot be opened. */
extern bool log_open(const char *program, LogLevel level, const char *path,
					 char *err, size_t errlen);
extern bool log_reopen(char *err, size_t errlen);
extern void log_close(void);
extern bool log_enabled(LogLevel level);

extern void log_msg(LogLevel level, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* librdkafka's log callback (syslog levels), for rd_kafka_conf_set_log_cb. */
struct rd_kafka_s;
extern void log_rdkafka(const struct rd_kafka_s *rk, int level, const char *facility,
						const char *message);

#endif							/* PGCDC_DAEMON_LOG_H */
