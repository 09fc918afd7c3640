/*
 * check.c — walsink --check: the target, the rules, Kafka's metadata.
 */
#define _POSIX_C_SOURCE 200809L

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "config.h"
#include "pipeline.h"
#include "rulecheck.h"
#include "target.h"

/* Whether topic is one of those walsink applies (a list, or a ^regex). */
static bool
topic_wanted(const Settings *s, const regex_t *re, const char *topic)
{
	size_t		n = strlen(topic);

	if (s->topics[0] == '^')
		return regexec(re, topic, 0, NULL, 0) == 0;
	for (const char *p = s->topics; (p = strstr(p, topic)) != NULL; p++)
		if ((p == s->topics || p[-1] == ',' || p[-1] == ' ') && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
	return false;
}

/* --check's Kafka half: brokers reachable, and which topics would be applied. */
static bool
check_kafka(const Settings *s)
{
	char		err[1024];
	rd_kafka_t *rk;
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t rc;
	regex_t		re;
	int			wanted = 0;

	if ((rk = pipeline_consumer_new(s, err, sizeof(err))) == NULL)
	{
		printf("%s\n", err);
		return false;
	}
	rc = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		const char *bootstrap = config_passthrough_find(s->config, "kafka.bootstrap.servers");

		printf("kafka: no metadata: no broker of kafka.bootstrap.servers (%s) answered: %s\n",
			   bootstrap ? bootstrap : "unset", rd_kafka_err2str(rc));
		pipeline_consumer_free(rk);
		return false;
	}
	if (s->topics[0] == '^' && regcomp(&re, s->topics, REG_EXTENDED | REG_NOSUB) != 0)
	{
		printf("topics: \"%s\" is not a regular expression\n", s->topics);
		rd_kafka_metadata_destroy(md);
		pipeline_consumer_free(rk);
		return false;
	}
	printf("kafka: %d brokers; topics applied now:", md->broker_cnt);
	for (int i = 0; i < md->topic_cnt; i++)
		if (topic_wanted(s, &re, md->topics[i].topic))
			printf("%s %s (%d partitions)", wanted++ ? "," : "", md->topics[i].topic, md->topics[i].partition_cnt);
	printf("%s\n", wanted ? "" : " none yet (they are taken up as they appear)");
	if (s->topics[0] == '^')
		regfree(&re);
	rd_kafka_metadata_destroy(md);
	pipeline_consumer_free(rk);
	return true;
}

bool
check_run(const Settings *s)
{
	char		err[1024];
	Target	   *t = target_connect(s, err, sizeof(err));
	bool		target_ok = t != NULL;

	if (t == NULL)
		printf("target: %s\n", err);
	else
		printf("target: connected; positions in pgcdc.sink_position, dead letters in %s\n", target_dead_letter_table(t));
	if (t != NULL && target_superuser(t))
		printf("target: warning: %s\n", target_superuser_warning);
	if (t != NULL && !rulecheck_run(t, err, sizeof(err)))
	{
		printf("%s\n", err);
		target_ok = false;
	}
	target_free(t);
	return check_kafka(s) && target_ok;
}
