/*
 * topicname.c — the topic of a source table (topicname.h).
 */
#include "topicname.h"

#include <string.h>

#include "xalloc.h"

static char
sanitised(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-' ? c : '_';
}

char *
topicname_of(const char *prefix, const char *schema, size_t schema_len, const char *table, size_t table_len)
{
	size_t		plen = strlen(prefix);
	size_t		len = plen + 1 + schema_len + 1 + table_len;
	char	   *topic;
	size_t		n;

	if (len > TOPICNAME_MAX)
		len = TOPICNAME_MAX;
	topic = xmalloc(len + 1);
	memcpy(topic, prefix, plen < len ? plen : len);
	n = plen;
	if (n < len)
		topic[n++] = '.';
	for (size_t i = 0; i < schema_len && n < len; i++)
		topic[n++] = sanitised(schema[i]);
	if (n < len)
		topic[n++] = '.';
	for (size_t i = 0; i < table_len && n < len; i++)
		topic[n++] = sanitised(table[i]);
	topic[len] = '\0';
	return topic;
}

char *
topicname_sanitised(const char *name, size_t len)
{
	char	   *topic;

	if (len > TOPICNAME_MAX)
		len = TOPICNAME_MAX;
	topic = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		topic[i] = sanitised(name[i]);
	topic[len] = '\0';
	return topic;
}

/* Compares *t with the sanitised name, advancing both; false at the first difference. */
static bool
match_part(const char **t, size_t *left, const char *name, size_t len)
{
	for (size_t i = 0; i < len && *left > 0; i++, (*t)++, (*left)--)
		if (**t != sanitised(name[i]))
			return false;
	return true;
}

bool
topicname_matches(const char *topic, const char *prefix, const char *schema, const char *table)
{
	size_t		plen = strlen(prefix);
	size_t		full = plen + 1 + strlen(schema) + 1 + strlen(table);
	size_t		left = full > TOPICNAME_MAX ? TOPICNAME_MAX : full;
	const char *t = topic;

	if (strlen(topic) != left || strncmp(topic, prefix, plen < left ? plen : left) != 0)
		return false;
	t += plen;
	left -= plen < left ? plen : left;
	return match_part(&t, &left, ".", 1) &&
		match_part(&t, &left, schema, strlen(schema)) &&
		match_part(&t, &left, ".", 1) &&
		match_part(&t, &left, table, strlen(table));
}
