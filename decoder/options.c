/*
 * options.c — parsing and applying the output plugin's options.
 *
 * Options arrive as DefElems (START_REPLICATION ... (name 'value'), or the
 * variadic pairs of pg_logical_slot_get_changes).  Each is accepted once; an
 * unknown name, a repeated name or a bad value is an error that names it.
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "options.h"
#include "compat.h"

/* The only record version this plugin writes. */
#define PGCDC_VERSION_SUPPORTED 1

static void
error_duplicate(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("conflicting or redundant options"),
			 errdetail("Option \"%s\" was given more than once.", name)));
}

static void
error_value(DefElem *elem, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value \"%s\" for option \"%s\"",
					elem->arg ? strVal(elem->arg) : "", elem->defname),
			 errhint("%s", hint)));
}

/* A bool option given without a value means true, as in test_decoding. */
static bool
option_bool(DefElem *elem)
{
	bool		result;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		error_value(elem, "Use a boolean: on, off, true, false, 1 or 0.");
	return result;
}

static char *
option_string(DefElem *elem)
{
	if (elem->arg == NULL)
		error_value(elem, "This option needs a value.");
	return strVal(elem->arg);
}

/* A whole decimal number from 0 to max. */
static int
option_int(DefElem *elem, int max, const char *hint)
{
	const char *v = option_string(elem);
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0 || n > max)
		error_value(elem, hint);
	return (int) n;
}

/*
 * Scan one identifier at *p: "quoted" (with "" for a quote) kept as written,
 * or bare and folded to lower case as the parser would.  Returns NULL when
 * *p does not start an identifier.
 */
static char *
scan_identifier(const char **p)
{
	StringInfoData buf;
	const char *s = *p;
	bool		quoted = (*s == '"');

	initStringInfo(&buf);
	if (quoted)
	{
		for (s++;; s++)
		{
			if (*s == '\0')
				return NULL;
			if (*s == '"')
			{
				if (s[1] != '"')
					break;
				s++;
			}
			appendStringInfoChar(&buf, *s);
		}
		s++;
	}
	else
	{
		while (*s != '\0' && *s != '.' && *s != ',' && *s != '*' &&
			   *s != '"' && !scanner_isspace(*s))
			appendStringInfoChar(&buf, *s++);
	}
	if (buf.len == 0)
		return NULL;
	*p = s;
	return quoted ? buf.data : downcase_identifier(buf.data, buf.len, false, true);
}

/*
 * Parse "schema.table, schema.*, ..." into a list of PgcdcTablePattern.
 */
static List *
parse_table_list(DefElem *elem)
{
	const char *p = option_string(elem);
	List	   *result = NIL;

	for (;;)
	{
		PgcdcTablePattern *pat = palloc0(sizeof(PgcdcTablePattern));

		while (scanner_isspace(*p))
			p++;
		if ((pat->schema = scan_identifier(&p)) == NULL)
			error_value(elem, "List tables as schema.table or schema.*, separated by commas.");
		while (scanner_isspace(*p))
			p++;
		if (*p++ != '.')
			error_value(elem, "List tables as schema.table or schema.*, separated by commas.");
		while (scanner_isspace(*p))
			p++;
		if (*p == '*')
			p++;
		else if ((pat->table = scan_identifier(&p)) == NULL)
			error_value(elem, "List tables as schema.table or schema.*, separated by commas.");
		result = lappend(result, pat);
		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			return result;
		if (*p++ != ',')
			error_value(elem, "List tables as schema.table or schema.*, separated by commas.");
	}
}

/* Comma-separated message prefixes, taken literally (prefixes are not identifiers). */
static List *
parse_prefix_list(DefElem *elem)
{
	char	   *raw = pstrdup(option_string(elem));
	List	   *result = NIL;
	char	   *tok;
	char	   *save;

	for (tok = strtok_r(raw, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		while (scanner_isspace(*tok))
			tok++;
		for (char *end = tok + strlen(tok); end > tok && scanner_isspace(end[-1]); end--)
			end[-1] = '\0';
		if (*tok == '\0')
			error_value(elem, "List message prefixes separated by commas.");
		result = lappend(result, tok);
	}
	if (result == NIL)
		error_value(elem, "List message prefixes separated by commas.");
	return result;
}

void
pgcdc_options_parse(List *defels, PgcdcOptions *opts)
{
	bool		format_given = false;
	bool		include_transaction_given = false;
	bool		skip_empty_xacts_given = false;
	bool		messages_given = false;
	bool		message_prefixes_given = false;
	bool		include_tables_given = false;
	bool		exclude_tables_given = false;
	bool		inline_schema_given = false;
	bool		origin_given = false;
	bool		version_given = false;
	bool		batch_bytes_given = false;
	bool		streaming_given = false;
	bool		partition_root_given = false;
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->format = PGCDC_FORMAT_PROTOBUF;
	opts->include_transaction = true;
	opts->messages = true;

	foreach(lc, defels)
	{
		DefElem    *elem = lfirst_node(DefElem, lc);
		const char *name = elem->defname;

		Assert(elem->arg == NULL || IsA(elem->arg, String));

#define ONCE(flag) do { if (flag) error_duplicate(name); (flag) = true; } while (0)
		if (strcmp(name, "format") == 0)
		{
			const char *v = option_string(elem);

			ONCE(format_given);
			if (strcmp(v, "protobuf") == 0)
				opts->format = PGCDC_FORMAT_PROTOBUF;
			else if (strcmp(v, "json") == 0)
				opts->format = PGCDC_FORMAT_JSON;
			else
				error_value(elem, "Use \"protobuf\" or \"json\".");
		}
		else if (strcmp(name, "include-transaction") == 0)
		{
			ONCE(include_transaction_given);
			opts->include_transaction = option_bool(elem);
		}
		else if (strcmp(name, "skip-empty-xacts") == 0)
		{
			ONCE(skip_empty_xacts_given);
			opts->skip_empty_xacts = option_bool(elem);
		}
		else if (strcmp(name, "messages") == 0)
		{
			ONCE(messages_given);
			opts->messages = option_bool(elem);
		}
		else if (strcmp(name, "message-prefixes") == 0)
		{
			ONCE(message_prefixes_given);
			opts->message_prefixes = parse_prefix_list(elem);
		}
		else if (strcmp(name, "include-tables") == 0)
		{
			ONCE(include_tables_given);
			opts->include_tables = parse_table_list(elem);
		}
		else if (strcmp(name, "exclude-tables") == 0)
		{
			ONCE(exclude_tables_given);
			opts->exclude_tables = parse_table_list(elem);
		}
		else if (strcmp(name, "inline-schema") == 0)
		{
			ONCE(inline_schema_given);
			opts->inline_schema = option_bool(elem);
		}
		else if (strcmp(name, "origin") == 0)
		{
			const char *v = option_string(elem);

			ONCE(origin_given);
			if (pg_strcasecmp(v, "any") == 0)
				opts->origin_none = false;
			else if (pg_strcasecmp(v, "none") == 0)
				opts->origin_none = true;
			else
				error_value(elem, "Use \"any\" or \"none\".");
		}
		else if (strcmp(name, "batch-bytes") == 0)
		{
			ONCE(batch_bytes_given);
			opts->batch_bytes = option_int(elem, PGCDC_BATCH_BYTES_MAX,
										   "Use a number of bytes from 0 (one record per message) "
										   "to 67108864.");
		}
		else if (strcmp(name, "streaming") == 0)
		{
			ONCE(streaming_given);
			opts->streaming = option_bool(elem);
		}
		else if (strcmp(name, "partition-root") == 0)
		{
			ONCE(partition_root_given);
			opts->partition_root = option_bool(elem);
		}
		else if (strcmp(name, "version") == 0)
		{
			const char *v = option_string(elem);

			ONCE(version_given);
			if (strcmp(v, CppAsString2(PGCDC_VERSION_SUPPORTED)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("record version \"%s\" is not supported", v),
						 errdetail("This pgcdc writes record version %d.",
								   PGCDC_VERSION_SUPPORTED)));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is unknown", name)));
#undef ONCE
	}

	if (message_prefixes_given && !opts->messages)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"message-prefixes\" cannot be used with \"messages\" off")));
	if (opts->batch_bytes > 0 && opts->format == PGCDC_FORMAT_JSON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"batch-bytes\" needs format \"protobuf\""),
				 errhint("JSON output is one record per message, for reading by eye.")));
}

static bool
pattern_matches(List *patterns, const char *schema, const char *table)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		PgcdcTablePattern *pat = lfirst(lc);

		if (strcmp(pat->schema, schema) == 0 &&
			(pat->table == NULL || strcmp(pat->table, table) == 0))
			return true;
	}
	return false;
}

/* A table passes when include-tables (if given) matches it and exclude-tables does not. */
bool
pgcdc_options_table_included(const PgcdcOptions *opts, const char *schema, const char *table)
{
	if (opts->include_tables != NIL &&
		!pattern_matches(opts->include_tables, schema, table))
		return false;
	return !pattern_matches(opts->exclude_tables, schema, table);
}

bool
pgcdc_options_message_included(const PgcdcOptions *opts, const char *prefix)
{
	ListCell   *lc;

	if (!opts->messages)
		return false;
	if (opts->message_prefixes == NIL)
		return true;
	foreach(lc, opts->message_prefixes)
	{
		if (strcmp(lfirst(lc), prefix) == 0)
			return true;
	}
	return false;
}
