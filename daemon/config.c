/*
 * config.c — parsing, validating and showing a daemon's configuration.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "config.h"

#include "buf.h"
#include "xalloc.h"

#define MASK "********"

typedef struct Passthrough
{
	char	   *name;
	char	   *value;
	char	   *origin;
} Passthrough;

struct Config
{
	const ConfigKey *keys;
	size_t		nkeys;
	char	  **values;			/* per key; NULL when unset */
	char	  **origins;		/* "default", "file:line", "environment X", ... */
	const char *const *prefixes;	/* pass-through prefixes, NULL-terminated; the caller's */
	Passthrough *pass;
	size_t		npass;
};

static void
replace(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? xstrdup(value) : NULL;
}

static int
key_index(const Config *c, const char *name)
{
	for (size_t i = 0; i < c->nkeys; i++)
	{
		if (strcmp(c->keys[i].name, name) == 0)
			return (int) i;
	}
	return -1;
}

static int
known_key(const Config *c, const char *name)
{
	int			i = key_index(c, name);

	if (i < 0)
	{
		fprintf(stderr, "config: no key \"%s\" in the table\n", name);
		abort();
	}
	return i;
}

Config *
config_new(const ConfigKey *keys, const char *const *passthrough_prefixes)
{
	Config	   *c = xmalloc(sizeof(Config));

	memset(c, 0, sizeof(*c));
	c->keys = keys;
	while (keys[c->nkeys].name != NULL)
		c->nkeys++;
	c->values = xmalloc(sizeof(char *) * (c->nkeys + 1));
	c->origins = xmalloc(sizeof(char *) * (c->nkeys + 1));
	for (size_t i = 0; i < c->nkeys; i++)
	{
		c->values[i] = keys[i].default_value ? xstrdup(keys[i].default_value) : NULL;
		c->origins[i] = xstrdup("default");
	}
	c->prefixes = passthrough_prefixes;
	return c;
}

void
config_free(Config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nkeys; i++)
	{
		free(c->values[i]);
		free(c->origins[i]);
	}
	for (size_t i = 0; i < c->npass; i++)
	{
		free(c->pass[i].name);
		free(c->pass[i].value);
		free(c->pass[i].origin);
	}
	free(c->values);
	free(c->origins);
	free(c->pass);
	free(c);
}

static bool
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};

	for (size_t i = 0; i < 4; i++)
	{
		if (strcasecmp(s, yes[i]) == 0)
		{
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0)
		{
			*out = false;
			return true;
		}
	}
	return false;
}

static bool
parse_long(const char *s, long *out)
{
	char	   *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

static bool
enum_has(const char *choices, const char *value)
{
	size_t		n = strlen(value);

	for (const char *p = choices; p != NULL; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
	{
		const char *end = strchr(p, '|');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len == n && strncmp(p, value, n) == 0)
			return true;
	}
	return false;
}

/* Checks value against key's type; describes the problem in err. */
static bool
validate(const ConfigKey *key, const char *value, char *err, size_t errlen)
{
	long		n;
	bool		b;
	char	   *pqerr = NULL;
	char	   *masked;
	PQconninfoOption *opts;

	switch (key->type)
	{
		case CONFIG_STRING:
			return true;
		case CONFIG_INT:
			if (parse_long(value, &n) && n >= key->min && n <= key->max)
				return true;
			snprintf(err, errlen, "must be an integer from %ld to %ld", key->min, key->max);
			return false;
		case CONFIG_BOOL:
			if (parse_bool(value, &b))
				return true;
			snprintf(err, errlen, "must be on or off (true/false, yes/no, 1/0)");
			return false;
		case CONFIG_ENUM:
			if (enum_has(key->choices, value))
				return true;
			snprintf(err, errlen, "must be one of %s", key->choices);
			return false;
		case CONFIG_CONNINFO:
			opts = PQconninfoParse(value, &pqerr);
			if (opts != NULL)
			{
				PQconninfoFree(opts);
				return true;
			}
			masked = config_mask_pqerror(value, pqerr ? pqerr : "out of memory");
			snprintf(err, errlen, "is not a connection string: %s", masked);
			free(masked);
			if (pqerr != NULL)
			{
				char	   *nl = strchr(err, '\n');

				if (nl != NULL)
					*nl = '\0';
				PQfreemem(pqerr);
			}
			return false;
	}
	return false;
}

/* The pass-through prefix name starts with (and goes on after), or NULL. */
static const char *
passthrough_prefix(const Config *c, const char *name)
{
	for (const char *const *prefix = c->prefixes; prefix && *prefix; prefix++)
	{
		size_t		n = strlen(*prefix);

		if (strncmp(name, *prefix, n) == 0 && name[n] != '\0')
			return *prefix;
	}
	return NULL;
}

static void
set_passthrough(Config *c, const char *name, const char *value, const char *origin)
{
	for (size_t i = 0; i < c->npass; i++)
	{
		if (strcmp(c->pass[i].name, name) == 0)
		{
			replace(&c->pass[i].value, value);
			replace(&c->pass[i].origin, origin);
			return;
		}
	}
	c->pass = xrealloc(c->pass, c->npass + 1, sizeof(Passthrough));
	c->pass[c->npass].name = xstrdup(name);
	c->pass[c->npass].value = xstrdup(value);
	c->pass[c->npass].origin = xstrdup(origin);
	c->npass++;
}

bool
config_set(Config *c, const char *name, const char *value, const char *origin,
		   char *err, size_t errlen)
{
	int			i = key_index(c, name);
	char		why[300];

	if (i < 0 && passthrough_prefix(c, name) != NULL)
	{
		set_passthrough(c, name, value, origin);
		return true;
	}
	if (i < 0)
	{
		snprintf(err, errlen, "%s: unknown key \"%s\"", origin, name);
		return false;
	}
	if (!validate(&c->keys[i], value, why, sizeof(why)))
	{
		/* The value is shown unless it may hold a secret. */
		if (c->keys[i].secret || c->keys[i].type == CONFIG_CONNINFO)
			snprintf(err, errlen, "%s: invalid value for \"%s\": %s", origin, name, why);
		else
			snprintf(err, errlen, "%s: invalid value \"%.100s\" for \"%s\": %s", origin, value, name, why);
		return false;
	}
	replace(&c->values[i], value);
	replace(&c->origins[i], origin);
	return true;
}

static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/*
 * Where the comment of a bare value starts: at a '#' that begins the value
 * or follows a space, outside single quotes when quotes is set.  In single
 * quotes a backslash escapes the next character, as in libpq's conninfo.
 */
static char *
comment_start(char *s, bool quotes, bool *open_quote)
{
	bool		in_quote = false;

	for (char *p = s; *p; p++)
	{
		if (in_quote && *p == '\\' && p[1] != '\0')
			p++;
		else if (quotes && *p == '\'' && (in_quote || p == s || !isalnum((unsigned char) p[-1])))
			in_quote = !in_quote;
		else if (!in_quote && *p == '#' && (p == s || isspace((unsigned char) p[-1])))
			return p;
	}
	*open_quote = in_quote;
	return NULL;
}

/*
 * The value part of a line, one of:
 *   "quoted"  taken as it is, \" and \\ standing for " and \; only a
 *             comment may follow;
 *   bare      up to a comment: a '#' at its start or after a space, outside
 *             single quotes ('a #b', as conninfo strings and SQL quote).  So
 *             password=a#b keeps its '#'.  A single quote after a letter or
 *             digit (it's) opens nothing, and neither does one never closed.
 * Returns NULL, with why set, when it is malformed.
 */
static char *
line_value(char *s, const char **why)
{
	char	   *out;
	char	   *rest;

	s = trim(s);
	if (*s != '"')
	{
		bool		open_quote = false;
		char	   *hash = comment_start(s, true, &open_quote);

		if (hash == NULL && open_quote)
			hash = comment_start(s, false, &open_quote);
		if (hash != NULL)
			*hash = '\0';
		return trim(s);
	}
	out = s;
	for (rest = s + 1; *rest != '"'; rest++)
	{
		if (*rest == '\0')
		{
			*why = "unterminated quoted value";
			return NULL;
		}
		if (*rest == '\\' && (rest[1] == '"' || rest[1] == '\\'))
			rest++;
		*out++ = *rest;
	}
	*out = '\0';
	rest = trim(rest + 1);
	if (*rest != '\0' && *rest != '#')
	{
		*why = "text after the quoted value";
		return NULL;
	}
	return s;
}

bool
config_load_file(Config *c, const char *path, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char		line[8192];
	int			lineno = 0;
	bool		ok = true;

	if (f == NULL)
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL)
	{
		char		origin[1100];
		char	   *s = trim(line);
		char	   *eq = strchr(s, '=');
		const char *why = NULL;
		char	   *value;

		lineno++;
		snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
		if (*s == '\0' || *s == '#')
			continue;
		if (eq == NULL || eq == s)
		{
			snprintf(err, errlen, "%s: expected \"key = value\"", origin);
			ok = false;
			break;
		}
		*eq = '\0';
		if ((value = line_value(eq + 1, &why)) == NULL)
		{
			snprintf(err, errlen, "%s: %s", origin, why);
			ok = false;
			break;
		}
		ok = config_set(c, trim(s), value, origin, err, errlen);
	}
	if (ok && ferror(f))
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ok = false;
	}
	fclose(f);
	return ok;
}

/* PREFIX_SLOT_NAME for "slot.name". */
static void
env_name(const char *prefix, const char *key, char *out, size_t outlen)
{
	size_t		n = (size_t) snprintf(out, outlen, "%s_", prefix);

	for (const char *k = key; *k && n + 1 < outlen; k++)
		out[n++] = (*k == '.' || *k == '-') ? '_' : (char) toupper((unsigned char) *k);
	out[n] = '\0';
}

static const char *
env_lookup(char *const *envp, const char *name)
{
	size_t		n = strlen(name);

	for (char *const *e = envp; *e != NULL; e++)
	{
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	}
	return NULL;
}

bool
config_load_env(Config *c, const char *env_prefix, char *const *envp, char *err, size_t errlen)
{
	char		name[256];
	char		origin[300];
	char		pass_env[256];
	size_t		pass_len = 0;

	for (size_t i = 0; i < c->nkeys; i++)
	{
		const char *value;

		env_name(env_prefix, c->keys[i].name, name, sizeof(name));
		if ((value = env_lookup(envp, name)) == NULL)
			continue;
		snprintf(origin, sizeof(origin), "environment %s", name);
		if (!config_set(c, c->keys[i].name, value, origin, err, errlen))
			return false;
	}
	/* WALSTREAMER_KAFKA_MESSAGE_TIMEOUT_MS -> kafka.message.timeout.ms */
	for (const char *const *prefix = c->prefixes; prefix && *prefix; prefix++)
	{
		env_name(env_prefix, *prefix, pass_env, sizeof(pass_env));
		pass_len = strlen(pass_env);
		for (char *const *e = envp; *e != NULL; e++)
		{
			const char *eq = strchr(*e, '=');
			char		key[256];
			size_t		n;

			if (eq == NULL || strncmp(*e, pass_env, pass_len) != 0 || eq == *e + pass_len)
				continue;
			n = (size_t) snprintf(key, sizeof(key), "%s", *prefix);
			for (const char *p = *e + pass_len; p < eq && n + 1 < sizeof(key); p++)
				key[n++] = *p == '_' ? '.' : (char) tolower((unsigned char) *p);
			key[n] = '\0';
			snprintf(origin, sizeof(origin), "environment %.*s", (int) (eq - *e), *e);
			set_passthrough(c, key, eq + 1, origin);
		}
	}
	return true;
}

bool
config_load_args(Config *c, int argc, char **argv, const char *env_prefix, char *const *envp,
				 bool *check, char *err, size_t errlen)
{
	const char *file = NULL;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
	}
	if (file && !config_load_file(c, file, err, errlen))
		return false;
	if (!config_load_env(c, env_prefix, envp, err, errlen))
		return false;
	for (int i = 1; i < argc; i++)
	{
		char		name[256];
		const char *arg = argv[i];
		const char *value;
		const char *eq;

		if (strcmp(arg, "--config") == 0)
		{
			i++;
			continue;
		}
		if (strncmp(arg, "--config=", 9) == 0)
			continue;
		if (strcmp(arg, "--check") == 0)
		{
			*check = true;
			continue;
		}
		if (strcmp(arg, "-c") == 0 && i + 1 < argc)
			arg = argv[++i];
		else if (strncmp(arg, "--", 2) == 0)
			arg += 2;
		else
		{
			snprintf(err, errlen, "unexpected argument \"%s\" (try --help)", arg);
			return false;
		}
		if ((eq = strchr(arg, '=')) != NULL)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
		{
			snprintf(err, errlen, "--%s needs a value", arg);
			return false;
		}
		snprintf(name, sizeof(name), "%.*s", (int) (eq ? eq - arg : (long) strlen(arg)), arg);
		if (!config_set(c, name, value, "command line", err, errlen))
			return false;
	}
	return config_check(c, err, errlen);
}

bool
config_check(const Config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nkeys; i++)
	{
		if (c->keys[i].required && c->values[i] == NULL)
		{
			snprintf(err, errlen, "\"%s\" is required: %s", c->keys[i].name, c->keys[i].help);
			return false;
		}
	}
	return true;
}

const char *
config_string(const Config *c, const char *name)
{
	return c->values[known_key(c, name)];
}

long
config_int(const Config *c, const char *name)
{
	const char *v = config_string(c, name);
	long		n = 0;

	return v != NULL && parse_long(v, &n) ? n : 0;
}

bool
config_bool(const Config *c, const char *name)
{
	const char *v = config_string(c, name);
	bool		b = false;

	return v != NULL && parse_bool(v, &b) ? b : false;
}

const char *
config_origin(const Config *c, const char *name)
{
	return c->origins[known_key(c, name)];
}

size_t
config_passthrough_count(const Config *c)
{
	return c->npass;
}

const char *
config_passthrough_name(const Config *c, size_t i)
{
	return i < c->npass ? c->pass[i].name : NULL;
}

const char *
config_passthrough_value(const Config *c, size_t i)
{
	return i < c->npass ? c->pass[i].value : NULL;
}

const char *
config_passthrough_find(const Config *c, const char *name)
{
	for (size_t i = 0; i < c->npass; i++)
		if (strcmp(c->pass[i].name, name) == 0)
			return c->pass[i].value;
	return NULL;
}

static const char *const type_names[] = {"string", "integer", "boolean", "choice", "conninfo"};

void
config_help(const ConfigKey *keys, const char *env_prefix, FILE *out)
{
	char		env[256];

	/* Indented by two and never "  word" alone: not read as a key (tools/config_reference.py). */
	fputs("  In a --config file, # starts a comment at the start of a value or after a space,\n"
		  "  outside quotes: password=a#b keeps its #.  A value in double quotes is taken as it is\n"
		  "  (\"a #b\", with \\\" and \\\\ for \" and \\); in a bare value, text in single quotes\n"
		  "  ('a #b', as connection strings and SQL quote) keeps its # too.\n\n", out);

	for (const ConfigKey *k = keys; k->name != NULL; k++)
	{
		env_name(env_prefix, k->name, env, sizeof(env));
		fprintf(out, "  %s (%s", k->name, k->type == CONFIG_ENUM ? k->choices : type_names[k->type]);
		if (k->type == CONFIG_INT)
			fprintf(out, " %ld..%ld", k->min, k->max);
		if (k->required)
			fprintf(out, ", required");
		else
			fprintf(out, ", default %s", k->default_value ? k->default_value : "unset");
		fprintf(out, ")\n      %s\n      environment: %s\n", k->help, env);
	}
}

/* Pass-through keys that hold credentials, by their names. */
static bool
secret_name(const char *name)
{
	return strstr(name, "password") != NULL || strstr(name, "secret") != NULL ||
		strstr(name, "key.pem") != NULL || strstr(name, "oauthbearer") != NULL;
}

void
config_show(const Config *c, FILE *out)
{
	for (size_t i = 0; i < c->nkeys; i++)
	{
		const ConfigKey *k = &c->keys[i];
		const char *v = c->values[i];
		char	   *masked = NULL;

		if (v != NULL && k->secret)
			v = MASK;
		else if (v != NULL && k->type == CONFIG_CONNINFO)
			v = masked = config_mask_conninfo(v);
		fprintf(out, "%s = %s  # %s\n", k->name, v ? v : "(unset)", c->origins[i]);
		free(masked);
	}
	for (size_t i = 0; i < c->npass; i++)
		fprintf(out, "%s = %s  # %s\n", c->pass[i].name,
				secret_name(c->pass[i].name) ? MASK : c->pass[i].value, c->pass[i].origin);
}

char *
config_mask_conninfo(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	Buf			b = {0};

	if (opts == NULL)
		return NULL;
	buf_puts(&b, "");
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		const char *v = o->val;

		if (v == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0)
			v = MASK;
		if (b.len > 0)
			buf_putc(&b, ' ');
		buf_puts(&b, o->keyword);
		buf_puts(&b, "='");
		for (; *v; v++)
		{
			if (*v == '\'' || *v == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *v);
		}
		buf_putc(&b, '\'');
	}
	PQconninfoFree(opts);
	buf_puts(&b, "");			/* NUL-terminated */
	return b.data;
}

/*
 * Where the first password in conninfo starts (an offset), or -1: a
 * "password =" keyword, or a URI's user:password@.  *pw gets the value
 * (malloc'd, unquoted), or NULL.
 */
static long
password_start(const char *conninfo, char **pw)
{
	long		start = -1;
	const char *end = NULL;
	Buf			b = {0};

	*pw = NULL;
	for (const char *p = conninfo; *p; p++)
	{
		const char *v = p + 8;

		if (strncasecmp(p, "password", 8) != 0)
			continue;
		while (isspace((unsigned char) *v))
			v++;
		if (*v != '=')
			continue;
		for (v++; isspace((unsigned char) *v); v++)
			;
		start = v - conninfo;
		break;
	}
	if (strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0)
	{
		const char *user = strstr(conninfo, "//") + 2;
		size_t		n = strcspn(user, "@/");
		const char *colon = memchr(user, ':', n);

		if (user[n] == '@' && colon != NULL && (start < 0 || colon + 1 - conninfo < start))
		{
			start = colon + 1 - conninfo;
			end = user + n;
		}
	}
	if (start < 0)
		return -1;
	buf_puts(&b, "");
	if (end != NULL)
		for (const char *p = conninfo + start; p < end; p++)
			buf_putc(&b, *p);
	else if (conninfo[start] == '\'')
	{
		for (const char *p = conninfo + start + 1; *p && *p != '\''; p++)
			buf_putc(&b, *p == '\\' && p[1] ? *++p : *p);
	}
	else
		for (const char *p = conninfo + start; *p && !isspace((unsigned char) *p); p++)
			buf_putc(&b, *p);
	buf_puts(&b, "");			/* NUL-terminated */
	*pw = b.data;
	return start;
}

/* Whether text (len bytes) occurs in conninfo reaching past offset from. */
static bool
found_from(const char *conninfo, const char *text, size_t len, long from)
{
	size_t		n = strlen(conninfo);

	for (size_t i = 0; i + len <= n; i++)
		if ((long) (i + len) > from && memcmp(conninfo + i, text, len) == 0)
			return true;
	return false;
}

char *
config_mask_pqerror(const char *conninfo, const char *message)
{
	char	   *pw = NULL;
	long		from = conninfo ? password_start(conninfo, &pw) : -1;
	Buf			b = {0};

	buf_puts(&b, "");
	if (message == NULL)
		message = "";
	for (const char *p = message; *p; p++)
	{
		const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
		size_t		len = close ? (size_t) (close - p - 1) : 0;

		/* libpq quotes what it stopped at; "=" is its own text, not the input's. */
		if (from >= 0 && len > 0 && !(len == 1 && p[1] == '=') &&
			found_from(conninfo, p + 1, len, from))
		{
			buf_puts(&b, "\"" MASK "\"");
			p = close;
			continue;
		}
		/*
		 * XXX A password shorter than 4 bytes is masked only where quoted:
		 * masking every "ab" would leave nothing readable.
		 */
		if (pw != NULL && strlen(pw) >= 4 && strncmp(p, pw, strlen(pw)) == 0)
		{
			buf_puts(&b, MASK);
			p += strlen(pw) - 1;
			continue;
		}
		buf_putc(&b, *p);
	}
	free(pw);
	buf_puts(&b, "");			/* NUL-terminated */
	return b.data;
}
