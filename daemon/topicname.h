/*
 * topicname.h — the Kafka topic of a source table: <prefix>.<schema>.<table>,
 * every byte of the names outside [A-Za-z0-9._-] made '_', cut to Kafka's
 * 249 bytes.  walstreamer names its topics with it; walsink checks with it
 * that a record arrived on its own table's topic.
 */
#ifndef PGCDC_DAEMON_TOPICNAME_H
#define PGCDC_DAEMON_TOPICNAME_H

#include <stdbool.h>
#include <stddef.h>

#define TOPICNAME_MAX 249

/* The topic of schema.table (lengths given: the names need no terminator); malloc'd by xalloc.h. */
extern char *topicname_of(const char *prefix, const char *schema, size_t schema_len,
						  const char *table, size_t table_len);

/* A name made a topic name by the same rule: bytes outside [A-Za-z0-9._-] made '_', cut to 249; malloc'd. */
extern char *topicname_sanitised(const char *name, size_t len);

/* Whether topic is the one topicname_of would give (without allocating). */
extern bool topicname_matches(const char *topic, const char *prefix, const char *schema, const char *table);

#endif							/* PGCDC_DAEMON_TOPICNAME_H */
