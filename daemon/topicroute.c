/*
 * topicroute.c — a table's topic renamed by regex (topicroute.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "topicname.h"
#include "topicroute.h"
#include "xalloc.h"

#define GROUPS 10

struct TopicRoute
{
	regex_t		re;
	char	   *replacement;
};

TopicRoute *
topicroute_new(const char *regex, const char *replacement, char *err, size_t errlen)
{
	TopicRoute *r = xcalloc(1, sizeof(TopicRoute));
	size_t		len = strlen(regex);
	char	   *anchored = xmalloc(len + 5);
	int			rc;

	snprintf(anchored, len + 5, "^(%s)$", regex);
	rc = regcomp(&r->re, anchored, REG_EXTENDED);
	free(anchored);
	if (rc != 0)
	{
		char		why[128];

		regerror(rc, &r->re, why, sizeof(why));
		snprintf(err, errlen, "topic.routing.regex \"%s\" is not a regular expression: %s", regex, why);
		free(r);
		return NULL;
	}
	r->replacement = xstrdup(replacement);
	/* The anchoring group is the first: the user's groups are one further. */
	for (const char *p = replacement; *p; p++)
	{
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '$' && (p[1] < '0' || p[1] > '9' || (size_t) (p[1] - '0') > r->re.re_nsub - 1))
		{
			snprintf(err, errlen, "topic.routing.replacement \"%s\": $%c names no group of the regex "
					 "(it has %zu; a literal $ is \\$)", replacement, p[1] ? p[1] : ' ', r->re.re_nsub - 1);
			topicroute_free(r);
			return NULL;
		}
	}
	return r;
}

void
topicroute_free(TopicRoute *r)
{
	if (r == NULL)
		return;
	regfree(&r->re);
	free(r->replacement);
	free(r);
}

bool
topicroute_apply(const TopicRoute *r, const char *topic, char **out, char *err, size_t errlen)
{
	regmatch_t	m[GROUPS + 1];
	Buf			b = {0};
	size_t		len;

	*out = NULL;
	if (r == NULL || regexec(&r->re, topic, GROUPS + 1, m, 0) != 0)
		return true;
	for (const char *p = r->replacement; *p; p++)
	{
		if (*p == '\\' && p[1] != '\0')
			buf_putc(&b, *++p);
		else if (*p == '$')
		{
			/* $0 is the whole name, the anchoring group; $n the user's n-th, one further. */
			const regmatch_t *g = &m[*++p == '0' ? 0 : *p - '0' + 1];

			if (g->rm_so >= 0)
				buf_append(&b, topic + g->rm_so, (size_t) (g->rm_eo - g->rm_so));
		}
		else
			buf_putc(&b, *p);
	}
	buf_putc(&b, '\0');
	len = strlen(b.data);
	if (len == 0 || len > TOPICNAME_MAX ||
		strspn(b.data, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
	{
		snprintf(err, errlen, "topic.routing: %s would be routed to \"%s\", which is not a Kafka topic name "
				 "(1 to %d of a-z, A-Z, 0-9, '.', '_' and '-')", topic, b.data, TOPICNAME_MAX);
		buf_free(&b);
		return false;
	}
	*out = b.data;
	return true;
}

char *
topicroute_of(const TopicRoute *r, const char *prefix, const char *schema, size_t schema_len, const char *table,
			  size_t table_len, char *err, size_t errlen)
{
	char	   *own = topicname_of(prefix, schema, schema_len, table, table_len);
	char	   *routed;

	if (!topicroute_apply(r, own, &routed, err, errlen))
	{
		free(own);
		return NULL;
	}
	if (routed == NULL)
		return own;
	free(own);
	return routed;
}

bool
topicroute_matches(const TopicRoute *r, const char *topic, const char *prefix, const char *schema,
				   const char *table)
{
	char		why[512];
	char	   *own;
	bool		same;

	if (r == NULL)
		return topicname_matches(topic, prefix, schema, table);
	own = topicroute_of(r, prefix, schema, strlen(schema), table, strlen(table), why, sizeof(why));
	same = own != NULL && strcmp(topic, own) == 0;
	free(own);
	return same;
}
