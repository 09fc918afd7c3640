/*
 * fuzz_options.c — libFuzzer target: the output plugin's option parser
 * (decoder/options.c) outside the server, on pgstub.c's stand-ins.
 *
 * An input is one option per line, "name=value" or "name" alone (a value
 * cannot hold a newline or NUL: the replication protocol's strings cannot
 * either).  The options are parsed as START_REPLICATION's would be; an
 * ereport(ERROR) must come with a message; parsed options are then used as
 * the plugin uses them (table and message filters).  Seeds: corpus/options.
 */
#include "postgres.h"

#include "nodes/parsenodes.h"
#include "nodes/value.h"

#include "options.h"
#include "pgstub.h"

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One DefElem of line [p, end): name, '=', value. */
static DefElem *
option_of(const char *p, const char *end)
{
	DefElem    *d = palloc0(sizeof(DefElem));
	const char *eq = memchr(p, '=', (size_t) (end - p));
	char	   *line = palloc((Size) (end - p) + 1);

	memcpy(line, p, (size_t) (end - p));
	line[end - p] = '\0';
	d->type = T_DefElem;
	d->defname = line;
	d->location = -1;
	if (eq)
	{
		String	   *s = palloc0(sizeof(String));

		line[eq - p] = '\0';
		s->type = T_String;
		s->sval = line + (eq - p) + 1;
		d->arg = (Node *) s;
	}
	return d;
}

static void
use(const PgcdcOptions *opts)
{
	ListCell   *lc;

	foreach(lc, opts->include_tables)
	{
		PgcdcTablePattern *pat = lfirst(lc);

		if (pat->schema == NULL || pat->schema[0] == '\0' || (pat->table && pat->table[0] == '\0'))
			abort();
	}
	(void) pgcdc_options_table_included(opts, "public", "t");
	(void) pgcdc_options_table_included(opts, "s", "");
	(void) pgcdc_options_message_included(opts, "p");
	(void) pgcdc_options_message_included(opts, "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data;
	const char *end = p + size;
	List	   *volatile defels = NIL;
	PgcdcOptions opts;

	if (memchr(data, '\0', size) != NULL)
		return 0;
	while (p < end)
	{
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *line_end = nl ? nl : end;

		defels = lappend(defels, option_of(p, line_end));
		p = line_end + 1;
	}
	if (setjmp(pgstub_jmp) == 0)
	{
		pgcdc_options_parse(defels, &opts);
		use(&opts);
	}
	else if (pgstub_message[0] == '\0')
		abort();				/* an error without a message */
	pgstub_reset();
	return 0;
}
