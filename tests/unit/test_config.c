/*
 * test_config.c — the daemon configuration: sources, precedence, validation,
 * error messages with their origin, pass-through keys and masking.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config.h"
#include "unit.h"


static const char *const kafka_prefix[] = {"kafka.", NULL};

static const ConfigKey keys[] = {
	{"source", CONFIG_CONNINFO, NULL, "source database", NULL, 0, 0, false, true},
	{"slot.name", CONFIG_STRING, "pgcdc", "replication slot", NULL, 0, 0, false, false},
	{"snapshot.mode", CONFIG_ENUM, "initial", "when to snapshot", "initial|never|always", 0, 0, false, false},
	{"status.interval.ms", CONFIG_INT, "10000", "status interval", NULL, 1, 3600000, false, false},
	{"slot.create", CONFIG_BOOL, "on", "create the slot", NULL, 0, 0, false, false},
	{"api.token", CONFIG_STRING, NULL, "a secret", NULL, 0, 0, true, false},
	{NULL}
};

static char *
write_file(const char *text)
{
	char	   *path = strdup("/tmp/pgcdc-config-XXXXXX");
	int			fd = mkstemp(path);
	FILE	   *f = fdopen(fd, "w");

	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text as a file; returns the error message, or "" on success. */
static const char *
load(Config *c, const char *text, char **path_out)
{
	static char err[512];
	char	   *path = write_file(text);
	bool		ok = config_load_file(c, path, err, sizeof(err));
	const char *result = ok ? "" : strstr(err, ":") + 1;	/* drop the temp path */

	if (path_out)
		*path_out = path;
	else
	{
		unlink(path);
		free(path);
	}
	return result;
}

static void
test_file_and_defaults(void)
{
	Config	   *c = config_new(keys, kafka_prefix);
	char	   *path;
	const char *e = load(c, "# comment\n\n"
						 "source = host=db1 dbname=app password=s3cret  # trailing\n"
						 "slot.name=\"with # hash and \\\"quote\\\"\"\n"
						 "status.interval.ms = 500\n"
						 "kafka.acks = all\n"
						 "kafka.sasl.password = hunter2\n", &path);
	char		origin[600];

	CHECK(strcmp(e, "") == 0, "valid file refused: %s", e);
	CHECK(strcmp(config_string(c, "slot.name"), "with # hash and \"quote\"") == 0,
		  "quoted value: %s", config_string(c, "slot.name"));
	CHECK(config_int(c, "status.interval.ms") == 500, "int");
	CHECK(config_bool(c, "slot.create"), "bool default");
	CHECK(strcmp(config_string(c, "snapshot.mode"), "initial") == 0, "enum default");
	CHECK(config_string(c, "api.token") == NULL, "unset");
	snprintf(origin, sizeof(origin), "%s:3", path);
	CHECK(strcmp(config_origin(c, "source"), origin) == 0, "origin %s", config_origin(c, "source"));
	CHECK(strcmp(config_origin(c, "slot.create"), "default") == 0, "default origin");
	CHECK(config_passthrough_count(c) == 2 &&
		  strcmp(config_passthrough_name(c, 0), "kafka.acks") == 0 &&
		  strcmp(config_passthrough_value(c, 1), "hunter2") == 0, "pass-through");
	CHECK(strcmp(config_passthrough_find(c, "kafka.acks"), "all") == 0 &&
		  config_passthrough_find(c, "kafka.linger.ms") == NULL, "pass-through by name");
	unlink(path);
	free(path);
	config_free(c);
}

/*
 * What a value in a file is: a # in a password, in quotes, or in SQL's and
 * libpq's single quotes is kept; a comment starts at a # at the start of the
 * value or after a space, outside quotes.
 */
static void
test_file_values(void)
{
	static const struct
	{
		const char *line;
		const char *key;
		const char *value;
	}			cases[] = {
		{"source = host=db password=a#b\n", "source", "host=db password=a#b"},
		{"source = host=db password=a#b  # the password has a #\n", "source", "host=db password=a#b"},
		{"source = host=db password='a #b' user=x # comment\n", "source", "host=db password='a #b' user=x"},
		{"source = host=db password='it\\'s #1' # libpq's \\' inside quotes\n", "source",
		"host=db password='it\\'s #1'"},
		{"source = \"host=db password=a#b\"  # all in double quotes\n", "source", "host=db password=a#b"},
		{"slot.name = \"back\\\\slash \\n\"\n", "slot.name", "back\\slash \\n"},
		{"slot.name = x # comment\n", "slot.name", "x"},
		{"slot.name = x#y\n", "slot.name", "x#y"},
		{"slot.name = #only a comment\n", "slot.name", ""},
		{"slot.name = it's # an apostrophe opens no quote\n", "slot.name", "it's"},
		{"slot.name = status <> '#' AND x = 'a # b'  # SQL\n", "slot.name", "status <> '#' AND x = 'a # b'"},
		{"slot.name =\t\"\"\n", "slot.name", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		Config	   *c = config_new(keys, kafka_prefix);
		const char *e = load(c, cases[i].line, NULL);
		const char *v = config_string(c, cases[i].key);

		CHECK(strcmp(e, "") == 0 && v != NULL && strcmp(v, cases[i].value) == 0,
			  "case %zu: %s got [%s] (%s), want [%s]", i, cases[i].line, v ? v : "NULL", e, cases[i].value);
		config_free(c);
	}
	{
		Config	   *c = config_new(keys, kafka_prefix);
		const char *e = load(c, "kafka.sasl.password = p#ss'word # comment\n", NULL);

		CHECK(strcmp(e, "") == 0 && strcmp(config_passthrough_find(c, "kafka.sasl.password"), "p#ss'word") == 0,
			  "pass-through value: %s", config_passthrough_find(c, "kafka.sasl.password"));
		config_free(c);
	}
}

static void
test_file_errors(void)
{
	static const struct
	{
		const char *text;
		const char *message;
	}			cases[] = {
		{"a line without equals\n", "1: expected \"key = value\""},
		{"\n= value\n", "2: expected \"key = value\""},
		{"slot.nam = x\n", "1: unknown key \"slot.nam\""},
		{"status.interval.ms = 0\n", "1: invalid value \"0\" for \"status.interval.ms\": must be an integer from 1 to 3600000"},
		{"status.interval.ms = 12ms\n", "1: invalid value \"12ms\" for \"status.interval.ms\": must be an integer from 1 to 3600000"},
		{"slot.create = maybe\n", "1: invalid value \"maybe\" for \"slot.create\": must be on or off (true/false, yes/no, 1/0)"},
		{"snapshot.mode = sometimes\n", "1: invalid value \"sometimes\" for \"snapshot.mode\": must be one of initial|never|always"},
		{"source = host=x port\n", "1: invalid value for \"source\": is not a connection string: missing \"=\" after \"port\" in connection info string"},
		{"slot.name = \"open\n", "1: unterminated quoted value"},
		{"slot.name = \"a\" b\n", "1: text after the quoted value"},
		{"\n\nslot.name = \"a # b\\\"\n", "3: unterminated quoted value"},
		{"source = host=db password='a #b\n", "1: invalid value for \"source\": is not a connection string: "
		"unterminated quoted string in connection info string"},
		{"kafka. = x\n", "1: unknown key \"kafka.\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		Config	   *c = config_new(keys, kafka_prefix);
		const char *e = load(c, cases[i].text, NULL);

		CHECK(strcmp(e, cases[i].message) == 0, "case %zu: got \"%s\", want \"%s\"", i, e, cases[i].message);
		config_free(c);
	}
	{
		Config	   *c = config_new(keys, NULL);
		char		err[256];

		CHECK(!config_load_file(c, "/nonexistent/walstreamer.conf", err, sizeof(err)) &&
			  strcmp(err, "/nonexistent/walstreamer.conf: No such file or directory") == 0,
			  "missing file: %s", err);
		CHECK(!config_check(c, err, sizeof(err)) &&
			  strcmp(err, "\"source\" is required: source database") == 0, "required: %s", err);
		CHECK(strcmp(load(c, "kafka.acks = 1\n", NULL), "1: unknown key \"kafka.acks\"") == 0,
			  "no pass-through without a prefix");
		config_free(c);
	}
}

static void
test_precedence(void)
{
	Config	   *c = config_new(keys, kafka_prefix);
	char	   *env[] = {"WALSTREAMER_SLOT_NAME=from_env", "WALSTREAMER_STATUS_INTERVAL_MS=700",
		"WALSTREAMER_KAFKA_MESSAGE_TIMEOUT_MS=30000", "OTHER_SLOT_NAME=ignored",
	"WALSTREAMER_SLOT_CREATE=bogus", NULL};
	char	   *good_env[] = {"WALSTREAMER_SLOT_NAME=from_env", "WALSTREAMER_STATUS_INTERVAL_MS=700",
	"WALSTREAMER_KAFKA_MESSAGE_TIMEOUT_MS=30000", NULL};
	char		err[512];

	CHECK(strcmp(load(c, "slot.name = from_file\nsnapshot.mode = never\nkafka.message.timeout.ms = 5\n", NULL), "") == 0, "file");
	CHECK(!config_load_env(c, "WALSTREAMER", env, err, sizeof(err)) &&
		  strcmp(err, "environment WALSTREAMER_SLOT_CREATE: invalid value \"bogus\" for \"slot.create\": must be on or off (true/false, yes/no, 1/0)") == 0,
		  "bad environment value: %s", err);
	CHECK(config_load_env(c, "WALSTREAMER", good_env, err, sizeof(err)), "env: %s", err);
	CHECK(strcmp(config_string(c, "slot.name"), "from_env") == 0, "env beats file");
	CHECK(strcmp(config_string(c, "snapshot.mode"), "never") == 0, "file beats default");
	CHECK(config_int(c, "status.interval.ms") == 700, "env int");
	CHECK(strcmp(config_origin(c, "slot.name"), "environment WALSTREAMER_SLOT_NAME") == 0, "env origin");
	CHECK(config_passthrough_count(c) == 1 &&
		  strcmp(config_passthrough_name(c, 0), "kafka.message.timeout.ms") == 0 &&
		  strcmp(config_passthrough_value(c, 0), "30000") == 0, "env pass-through overrides file");
	CHECK(config_set(c, "slot.name", "from_cli", "command line", err, sizeof(err)) &&
		  strcmp(config_string(c, "slot.name"), "from_cli") == 0, "command line beats env");
	config_free(c);
}

static void
test_args_and_prefixes(void)
{
	static const char *const two[] = {"kafka.", "rule.", NULL};
	Config	   *c = config_new(keys, two);
	char	   *argv[] = {"prog", "--source=dbname=x", "--slot.name=a", "--check", "-c", "rule.t.ok=x > 0",
		"--kafka.acks", "all", "--snapshot.mode", "never", NULL};
	char	   *bad[] = {"prog", "stray", NULL};
	char	   *dangling[] = {"prog", "--slot.name", NULL};
	char	   *env[] = {NULL};
	bool		check = false;
	char		err[256];

	CHECK(config_load_args(c, 10, argv, "WALSTREAMER", env, &check, err, sizeof(err)), "args: %s", err);
	CHECK(check, "--check seen");
	CHECK(strcmp(config_string(c, "slot.name"), "a") == 0 &&
		  strcmp(config_string(c, "snapshot.mode"), "never") == 0, "--k=v and --k v");
	CHECK(config_passthrough_count(c) == 2 &&
		  strcmp(config_passthrough_name(c, 0), "rule.t.ok") == 0 &&
		  strcmp(config_passthrough_value(c, 0), "x > 0") == 0 &&
		  strcmp(config_passthrough_name(c, 1), "kafka.acks") == 0, "both prefixes pass through");
	CHECK(!config_load_args(c, 2, bad, "WALSTREAMER", env, &check, err, sizeof(err)) &&
		  strstr(err, "unexpected argument \"stray\"") != NULL, "stray argument: %s", err);
	CHECK(!config_load_args(c, 2, dangling, "WALSTREAMER", env, &check, err, sizeof(err)) &&
		  strstr(err, "needs a value") != NULL, "flag without value: %s", err);
	config_free(c);
}

static void
test_masking(void)
{
	Config	   *c = config_new(keys, kafka_prefix);
	char		err[256];
	char		buf[4096] = {0};
	FILE	   *out = fmemopen(buf, sizeof(buf) - 1, "w");
	char	   *masked = config_mask_conninfo("host=db port=5432 password='it\\'s secret' user=x");

	CHECK(masked != NULL && strstr(masked, "secret") == NULL && strstr(masked, "password='********'") &&
		  strstr(masked, "host='db'") && strstr(masked, "user='x'"), "mask: %s", masked ? masked : "NULL");
	free(masked);
	masked = config_mask_conninfo("postgresql://u:pw@h:5/d");
	CHECK(masked != NULL && strstr(masked, "pw") == NULL && strstr(masked, "dbname='d'"), "uri: %s", masked);
	free(masked);
	CHECK(config_mask_conninfo("host") == NULL, "unparsable");
	masked = config_mask_conninfo("");
	CHECK(masked != NULL && masked[0] == '\0', "empty conninfo");
	free(masked);

	config_set(c, "source", "host=db password=topsecret", "command line", err, sizeof(err));
	config_set(c, "api.token", "tok-123", "command line", err, sizeof(err));
	config_set(c, "kafka.sasl.password", "hunter2", "command line", err, sizeof(err));
	config_set(c, "kafka.ssl.key.pem", "PEMDATA", "command line", err, sizeof(err));
	config_show(c, out);
	fclose(out);
	CHECK(strstr(buf, "topsecret") == NULL && strstr(buf, "tok-123") == NULL &&
		  strstr(buf, "hunter2") == NULL && strstr(buf, "PEMDATA") == NULL, "secret shown:\n%s", buf);
	CHECK(strstr(buf, "slot.name = pgcdc  # default") != NULL, "show values:\n%s", buf);
	config_free(c);
}

/* libpq's own message for a conninfo it cannot parse, masked. */
static char *
masked_parse_error(const char *conninfo)
{
	char	   *pqerr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &pqerr);
	char	   *masked;

	if (opts != NULL)
	{
		PQconninfoFree(opts);
		return strdup("parsed");
	}
	masked = config_mask_pqerror(conninfo, pqerr);
	PQfreemem(pqerr);
	return masked;
}

/*
 * libpq's parse errors quote the token they stopped at, or a whole URI: a
 * password, or what follows it, never shows.
 */
static void
test_mask_pqerror(void)
{
	static const struct
	{
		const char *conninfo;
		const char *secret;		/* never in the message */
		const char *kept;		/* still in it */
	}			cases[] = {
		{"host=db password=sec ret-tail", "ret-tail", "missing \"=\" after \"********\""},
		{"host=db password='sec ret' ret-tail", "ret-tail", "missing \"=\" after \"********\""},
		{"host=db password = sec ret-tail", "ret-tail", "missing \"=\" after \"********\""},
		{"password=pw-secret host", "host", "missing \"=\" after \"********\""},
		{"postgresql://u:pw-secret@[::1/db", "pw-secret", "in URI: \"********\""},
		{"postgresql://u:pw%zzsecret@h/d", "zzsecret", "invalid percent-encoded token: \"********\""},
		{"postgres://u@h/d?password=pw-secret&junk", "pw-secret", "\"********\""},
		/* No password: nothing to hide, the message as libpq wrote it. */
		{"host junk password=x", "nothing", "missing \"=\" after \"host\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *m = masked_parse_error(cases[i].conninfo);

		CHECK(strstr(m, cases[i].secret) == NULL && strstr(m, cases[i].kept) != NULL,
			  "case %zu: %s -> %s", i, cases[i].conninfo, m);
		free(m);
	}
	{
		char	   *m = config_mask_pqerror("host=db password='hunter 22'", "server said: hunter 22? no");
		Config	   *c = config_new(keys, kafka_prefix);
		char		err[512];

		CHECK(strcmp(m, "server said: ********? no") == 0, "password in the text: %s", m);
		free(m);
		m = config_mask_pqerror(NULL, "connection refused \"x\"");
		CHECK(strcmp(m, "connection refused \"x\"") == 0, "no conninfo: %s", m);
		free(m);
		CHECK(!config_set(c, "source", "host=db password=sec ret-tail", "walstreamer.conf:3", err, sizeof(err)) &&
			  strstr(err, "ret-tail") == NULL && strstr(err, "sec") == NULL &&
			  strstr(err, "walstreamer.conf:3: invalid value for \"source\": is not a connection string") == err,
			  "config error: %s", err);
		config_free(c);
	}
}

static void
test_help(void)
{
	char		buf[4096] = {0};
	FILE	   *out = fmemopen(buf, sizeof(buf) - 1, "w");

	config_help(keys, "WALSTREAMER", out);
	fclose(out);
	for (const ConfigKey *k = keys; k->name; k++)
		CHECK(strstr(buf, k->name) && strstr(buf, k->help), "help lacks %s", k->name);
	CHECK(strstr(buf, "status.interval.ms (integer 1..3600000, default 10000)"), "help int:\n%s", buf);
	CHECK(strstr(buf, "environment: WALSTREAMER_SNAPSHOT_MODE"), "help env");
	CHECK(strstr(buf, "source (conninfo, required)"), "help required");
	/* The file's syntax, quoting included. */
	CHECK(strstr(buf, "double quotes") && strstr(buf, "single quotes") && strstr(buf, "# starts a comment"),
		  "help on quoting:\n%s", buf);
}

int
main(void)
{
	test_file_and_defaults();
	test_file_values();
	test_file_errors();
	test_precedence();
	test_args_and_prefixes();
	test_masking();
	test_mask_pqerror();
	test_help();
	return unit_summary("config");
}
