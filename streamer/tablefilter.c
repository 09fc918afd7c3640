/*
 * tablefilter.c — the table and message lists, parsed and matched (tablefilter.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tablefilter.h"
#include "xalloc.h"

typedef struct Pattern
{
	char	   *schema;
	char	   *table;			/* NULL: schema.* */
} Pattern;

typedef struct List
{
	Pattern    *items;
	size_t		n;
} List;

struct TableFilter
{
	List		include;
	bool		include_given;
	List		exclude;
	char	  **prefixes;		/* NULL: every prefix */
	size_t		nprefixes;
};

/* PostgreSQL's scanner_isspace. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* One identifier at *p, quoted (kept) or bare (ASCII folded); NULL when none starts there. */
static char *
scan_identifier(const char **p)
{
	const char *s = *p;
	Buf			b = {0};

	if (*s == '"')
	{
		for (s++;; s++)
		{
			if (*s == '\0')
			{
				buf_free(&b);
				return NULL;
			}
			if (*s == '"')
			{
				if (s[1] != '"')
					break;
				s++;
			}
			buf_putc(&b, *s);
		}
		s++;
	}
	else
	{
		for (; *s && *s != '.' && *s != ',' && *s != '*' && *s != '"' && !is_space(*s); s++)
			buf_putc(&b, *s >= 'A' && *s <= 'Z' ? (char) (*s + 'a' - 'A') : *s);
	}
	if (b.len == 0)
	{
		buf_free(&b);
		return NULL;
	}
	buf_putc(&b, '\0');
	*p = s;
	return b.data;
}

static void
list_free(List *l)
{
	for (size_t i = 0; i < l->n; i++)
	{
		free(l->items[i].schema);
		free(l->items[i].table);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static bool
parse_tables(const char *text, List *out)
{
	const char *p = text;

	for (;;)
	{
		Pattern		pat = {0};

		out->items = xrealloc(out->items, out->n + 1, sizeof(Pattern));
		while (is_space(*p))
			p++;
		if ((pat.schema = scan_identifier(&p)) == NULL)
			return false;
		out->items[out->n++] = pat;
		while (is_space(*p))
			p++;
		if (*p++ != '.')
			return false;
		while (is_space(*p))
			p++;
		if (*p == '*')
			p++;
		else if ((out->items[out->n - 1].table = scan_identifier(&p)) == NULL)
			return false;
		while (is_space(*p))
			p++;
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

TableFilter *
tablefilter_new(const char *include, const char *exclude, const char *messages, char *err, size_t errlen)
{
	TableFilter *f = xcalloc(1, sizeof(TableFilter));
	const char *bad = NULL;

	f->include_given = include != NULL;
	if (include != NULL && !parse_tables(include, &f->include))
		bad = "table.include.list";
	else if (exclude != NULL && !parse_tables(exclude, &f->exclude))
		bad = "table.exclude.list";
	if (bad != NULL)
	{
		snprintf(err, errlen, "%s: list tables as schema.table or schema.*, separated by commas", bad);
		tablefilter_free(f);
		return NULL;
	}
	if (messages != NULL)
	{
		char	   *copy = xstrdup(messages);
		char	   *save = NULL;
		bool		empty = false;

		f->prefixes = xcalloc(1, sizeof(char *));
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			char	   *end;

			while (is_space(*tok))
				tok++;
			for (end = tok + strlen(tok); end > tok && is_space(end[-1]); end--)
				end[-1] = '\0';
			if (*tok == '\0')
			{
				empty = true;
				break;
			}
			f->prefixes = xrealloc(f->prefixes, f->nprefixes + 1, sizeof(char *));
			f->prefixes[f->nprefixes++] = xstrdup(tok);
		}
		free(copy);
		if (empty || f->nprefixes == 0)
		{
			snprintf(err, errlen, "message.prefix.include.list: list message prefixes separated by commas");
			tablefilter_free(f);
			return NULL;
		}
	}
	return f;
}

void
tablefilter_free(TableFilter *f)
{
	if (f == NULL)
		return;
	list_free(&f->include);
	list_free(&f->exclude);
	for (size_t i = 0; i < f->nprefixes; i++)
		free(f->prefixes[i]);
	free(f->prefixes);
	free(f);
}

static bool
matches(const List *l, const char *schema, size_t schema_len, const char *table, size_t table_len)
{
	for (size_t i = 0; i < l->n; i++)
	{
		const Pattern *p = &l->items[i];

		if (strlen(p->schema) == schema_len && memcmp(p->schema, schema, schema_len) == 0 &&
			(p->table == NULL || (strlen(p->table) == table_len && memcmp(p->table, table, table_len) == 0)))
			return true;
	}
	return false;
}

bool
tablefilter_table(const TableFilter *f, const char *schema, size_t schema_len, const char *table,
				  size_t table_len)
{
	if (f->include_given && !matches(&f->include, schema, schema_len, table, table_len))
		return false;
	return !matches(&f->exclude, schema, schema_len, table, table_len);
}

bool
tablefilter_message(const TableFilter *f, const char *prefix, size_t len)
{
	if (f->prefixes == NULL)
		return true;
	for (size_t i = 0; i < f->nprefixes; i++)
	{
		if (strlen(f->prefixes[i]) == len && memcmp(f->prefixes[i], prefix, len) == 0)
			return true;
	}
	return false;
}
