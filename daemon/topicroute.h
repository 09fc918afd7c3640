/*
 * topicroute.h — topic.routing.regex and topic.routing.replacement: a
 * table's topic renamed, as Debezium's ByLogicalTableRouter renames it,
 * so that several tables (shards, partitions kept apart) share one topic.
 *
 * The regex is a POSIX extended regular expression matched against the
 * whole topic name (topicname.h), case-sensitive as Java's; in the
 * replacement $0 to $9 name its groups and a backslash takes the next
 * character as it is.  A topic the regex does not match keeps its name.
 * walstreamer sends a table's changes to its routed topic; walsink, given
 * the same two settings, expects them there (a record applies only to its
 * topic's tables).
 */
#ifndef PGCDC_DAEMON_TOPICROUTE_H
#define PGCDC_DAEMON_TOPICROUTE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct TopicRoute TopicRoute;

/* NULL with err (naming the setting) when regex is not one, or replacement names a group it lacks. */
extern TopicRoute *topicroute_new(const char *regex, const char *replacement, char *err, size_t errlen);
extern void topicroute_free(TopicRoute *r);

/*
 * The topic routed: *out a malloc'd name (xalloc.h), or NULL when the
 * regex does not match (the topic keeps its name).  False, with err, when
 * the name made is not a Kafka topic name (1 to 249 of [A-Za-z0-9._-]).
 */
extern bool topicroute_apply(const TopicRoute *r, const char *topic, char **out, char *err, size_t errlen);

/*
 * The topic of schema.table: topicname_of(prefix, ...), routed by r (NULL:
 * no routing); malloc'd.  NULL with err when the routed name is no topic
 * name.  Every table's topic is named here, for walstreamer and walsink.
 */
extern char *topicroute_of(const TopicRoute *r, const char *prefix, const char *schema, size_t schema_len,
						   const char *table, size_t table_len, char *err, size_t errlen);

/* Whether topic is schema.table's (topicroute_of). */
extern bool topicroute_matches(const TopicRoute *r, const char *topic, const char *prefix, const char *schema,
							   const char *table);

#endif							/* PGCDC_DAEMON_TOPICROUTE_H */
