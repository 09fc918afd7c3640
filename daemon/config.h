/*
 * config.h — a daemon's configuration, described by one table of keys.
 *
 * Values come from a `key = value` file, then the environment
 * (<PREFIX>_<KEY>, dots and dashes as underscores), then the command line;
 * each later source overrides the earlier.  Keys under a pass-through
 * prefix (`kafka.`) are not checked here but kept, in order, for what
 * they configure.  Every value is validated when it is set, and
 * every error names where the value came from ("walstreamer.conf:12").
 *
 * A Config owns copies of every string it holds; config_free() releases
 * them.  The key table is the caller's and must outlive the Config.
 */
#ifndef PGCDC_DAEMON_CONFIG_H
#define PGCDC_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum ConfigType
{
	CONFIG_STRING,
	CONFIG_INT,					/* within [min, max] */
	CONFIG_BOOL,				/* on/off, true/false, yes/no, 1/0 */
	CONFIG_ENUM,				/* one of choices, "a|b|c" */
	CONFIG_CONNINFO				/* a libpq connection string; its password is secret */
} ConfigType;

typedef struct ConfigKey
{
	const char *name;			/* "slot.name" */
	ConfigType	type;
	const char *default_value;	/* NULL: unset unless given */
	const char *help;
	const char *choices;		/* CONFIG_ENUM */
	long		min;			/* CONFIG_INT */
	long		max;
	bool		secret;			/* never shown */
	bool		required;		/* config_check() fails while unset */
} ConfigKey;

/* The table ends with an entry whose name is NULL. */

typedef struct Config Config;

/*
 * The keys every daemon has, with the same meaning: the end of each
 * daemon's key table (followed by its {NULL}).
 */
#define CONFIG_DAEMON_KEYS \
	{"reconnect.backoff.max.ms", CONFIG_INT, "30000", \
		"longest wait between reconnection attempts (doubling from 100 ms)", \
		NULL, 100, 3600000, false, false}, \
	{"metrics.listen", CONFIG_STRING, NULL, \
		"serve Prometheus metrics and /healthz at host:port (:port is 127.0.0.1:port; " \
		"0.0.0.0:port, every interface, only when asked for); unset: off", \
		NULL, 0, 0, false, false}, \
	{"log.level", CONFIG_ENUM, "info", "least severe level logged", "debug|info|warning|error", \
		0, 0, false, false}, \
	{"log.file", CONFIG_STRING, NULL, "append the log here (SIGHUP reopens it); unset: stderr", \
		NULL, 0, 0, false, false}

/* passthrough_prefixes: NULL-terminated ("kafka.", NULL), or NULL; must outlive c. */
extern Config *config_new(const ConfigKey *keys, const char *const *passthrough_prefixes);
extern void config_free(Config *c);

/* These return false and describe the first problem in err. */
extern bool config_set(Config *c, const char *name, const char *value, const char *origin,
					   char *err, size_t errlen);
extern bool config_load_file(Config *c, const char *path, char *err, size_t errlen);
extern bool config_load_env(Config *c, const char *env_prefix, char *const *envp,
							char *err, size_t errlen);
extern bool config_check(const Config *c, char *err, size_t errlen);
/*
 * A daemon's command line: --config FILE first, then the environment, then
 * --KEY=VALUE, --KEY VALUE and -c KEY=VALUE in order; --check sets *check.
 * Ends with config_check().
 */
extern bool config_load_args(Config *c, int argc, char **argv, const char *env_prefix,
							 char *const *envp, bool *check, char *err, size_t errlen);

/* Values; NULL for an unset string.  Asking for an unknown key aborts. */
extern const char *config_string(const Config *c, const char *name);
extern long config_int(const Config *c, const char *name);
extern bool config_bool(const Config *c, const char *name);
extern const char *config_origin(const Config *c, const char *name);

/* Pass-through keys ("kafka.acks"), in the order given, later ones last. */
extern size_t config_passthrough_count(const Config *c);
extern const char *config_passthrough_name(const Config *c, size_t i);
extern const char *config_passthrough_value(const Config *c, size_t i);
/* A pass-through key's value by its whole name ("kafka.bootstrap.servers"), or NULL. */
extern const char *config_passthrough_find(const Config *c, const char *name);

/* --help text from the table; the effective configuration with secrets masked. */
extern void config_help(const ConfigKey *keys, const char *env_prefix, FILE *out);
extern void config_show(const Config *c, FILE *out);

/* A conninfo with its password replaced by ******** (malloc'd; NULL if unparsable). */
extern char *config_mask_conninfo(const char *conninfo);

/*
 * libpq's message about conninfo (from PQconninfoParse or a failed
 * connection) with whatever of the password it may echo replaced by
 * ********: every quoted part of the message found in conninfo at or after
 * a password, and the password itself.  malloc'd; conninfo may be NULL.
 */
extern char *config_mask_pqerror(const char *conninfo, const char *message);

#endif							/* PGCDC_DAEMON_CONFIG_H */
