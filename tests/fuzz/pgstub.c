/*
 * pgstub.c — stand-ins for the backend functions decoder/options.c calls.
 */
#include "postgres.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "parser/scansup.h"
#include "utils/builtins.h"

#include "pgstub.h"

/* port.h maps vsnprintf to libpgport's, which is not linked: libc's does here. */
#undef vsnprintf

jmp_buf		pgstub_jmp;
char		pgstub_message[256];

static int	error_level;

/* Allocations since the last reset, each behind its link. */
typedef struct Chunk
{
	struct Chunk *next;
	max_align_t data[];
} Chunk;

static Chunk *chunks;

void
pgstub_reset(void)
{
	while (chunks)
	{
		Chunk	   *next = chunks->next;

		free(chunks);
		chunks = next;
	}
}

void *
palloc(Size size)
{
	Chunk	   *c = malloc(sizeof(Chunk) + size);

	if (c == NULL)
		abort();
	c->next = chunks;
	chunks = c;
	return c->data;
}

void *
palloc0(Size size)
{
	return memset(palloc(size), 0, size);
}

char *
pstrdup(const char *in)
{
	return strcpy(palloc(strlen(in) + 1), in);
}

void
initStringInfo(StringInfo str)
{
	str->maxlen = 16;
	str->data = palloc(str->maxlen);
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	if (str->len + 1 >= str->maxlen)
	{
		char	   *bigger = palloc((Size) str->maxlen * 2);

		memcpy(bigger, str->data, (size_t) str->len + 1);
		str->data = bigger;
		str->maxlen *= 2;
	}
	str->data[str->len++] = ch;
	str->data[str->len] = '\0';
}

List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc(offsetof(List, initial_elements) + 4 * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = 4;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		ListCell   *bigger = palloc(2 * (Size) list->max_length * sizeof(ListCell));

		memcpy(bigger, list->elements, (size_t) list->length * sizeof(ListCell));
		list->elements = bigger;
		list->max_length *= 2;
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}

bool
parse_bool(const char *value, bool *result)
{
	static const char *const yes[] = {"t", "true", "y", "yes", "on", "1"};
	static const char *const no[] = {"f", "false", "n", "no", "off", "0"};

	for (size_t i = 0; i < lengthof(yes); i++)
		if (pg_strcasecmp(value, yes[i]) == 0 || pg_strcasecmp(value, no[i]) == 0)
			return *result = pg_strcasecmp(value, yes[i]) == 0, true;
	return false;
}

bool
scanner_isspace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

char *
downcase_identifier(const char *ident, int len, bool warn, bool truncate)
{
	char	   *out = palloc((Size) len + 1);

	for (int i = 0; i < len; i++)
		out[i] = (ident[i] >= 'A' && ident[i] <= 'Z') ? (char) (ident[i] + 'a' - 'A') : ident[i];
	out[len] = '\0';
	if (truncate && len >= NAMEDATALEN)
		out[NAMEDATALEN - 1] = '\0';
	return out;
}

int
pg_strcasecmp(const char *s1, const char *s2)
{
	for (;; s1++, s2++)
	{
		int			c1 = tolower((unsigned char) *s1);
		int			c2 = tolower((unsigned char) *s2);

		if (c1 != c2 || c1 == 0)
			return c1 - c2;
	}
}

bool
errstart(int elevel, const char *domain)
{
	error_level = elevel;
	pgstub_message[0] = '\0';
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	return 0;
}

/*
 * The message and its details, formatted as the server would (so a bad
 * argument shows).  elog.h marks errmsg and the rest gnu_printf, a format
 * clang ignores: to it their fmt is any string.
 */
#pragma clang diagnostic ignored "-Wformat-nonliteral"

static int
add_message(const char *fmt, va_list ap)
{
	size_t		n = strlen(pgstub_message);

	vsnprintf(pgstub_message + n, sizeof(pgstub_message) - n, fmt, ap);
	return 0;
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	add_message(fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	add_message(fmt, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	add_message(fmt, ap);
	va_end(ap);
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (error_level >= ERROR)
		longjmp(pgstub_jmp, 1);
}
