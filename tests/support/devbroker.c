/*
 * devbroker.c — a Kafka dev broker: librdkafka's mock cluster as a process.
 *
 * usage: devbroker [--brokers N]
 *
 * Starts N brokers (default 3) listening on loopback, prints one line
 * "bootstrap.servers=HOST:PORT,..." and then reads commands from standard
 * input, one per line, answering each with "ok" or "error: <why>":
 *
 *   topic NAME PARTITIONS [REPLICATION]  create a topic
 *   leader TOPIC PARTITION BROKER        make a broker the partition's leader
 *   down BROKER | up BROKER              stop / resume accepting connections
 *   rtt BROKER MS                        delay every response of a broker
 *   errors API ERROR [ERROR ...]         the next requests of API (produce,
 *                                        fetch, metadata, ...) fail with these
 *                                        errors, by librdkafka name, e.g.
 *                                        NOT_ENOUGH_REPLICAS
 *   clear API                            drop errors still pending for API
 *   quit                                 exit
 *
 * At end of input it keeps serving until SIGINT or SIGTERM, so it can run in
 * the background.  Clients see an ordinary Kafka cluster speaking the wire
 * protocol on real sockets; nothing in them needs to know it is a mock.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define LINE_MAX_LEN 1024
#define MAX_WORDS 32

static volatile sig_atomic_t stop_requested = 0;

/* Kafka protocol ApiKeys the error commands accept. */
static const struct
{
	const char *name;
	int16_t		key;
}			api_keys[] = {
	{"produce", 0}, {"fetch", 1}, {"listoffsets", 2}, {"metadata", 3},
	{"offsetcommit", 8}, {"offsetfetch", 9}, {"findcoordinator", 10},
	{"joingroup", 11}, {"heartbeat", 12}, {"leavegroup", 13}, {"syncgroup", 14},
	{"initproducerid", 22},
};

static void
on_signal(int signo)
{
	(void) signo;
	stop_requested = 1;
}

static int
api_key(const char *name)
{
	for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++)
	{
		if (strcasecmp(api_keys[i].name, name) == 0)
			return api_keys[i].key;
	}
	return -1;
}

/* An error code by its librdkafka name ("NOT_ENOUGH_REPLICAS", "_TRANSPORT"). */
static int
error_code(const char *name, rd_kafka_resp_err_t *err)
{
	const struct rd_kafka_err_desc *descs;
	size_t		cnt;

	rd_kafka_get_err_descs(&descs, &cnt);
	for (size_t i = 0; i < cnt; i++)
	{
		if (descs[i].name != NULL && strcasecmp(descs[i].name, name) == 0)
		{
			*err = descs[i].code;
			return 0;
		}
	}
	return -1;
}

/* A non-negative integer word, or -1. */
static long
number(const char *word)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(word, &end, 10);
	if (errno != 0 || end == word || *end != '\0' || v < 0)
		return -1;
	return v;
}

static int
split(char *line, char **words)
{
	int			n = 0;

	for (char *w = strtok(line, " \t\r\n"); w != NULL && n < MAX_WORDS; w = strtok(NULL, " \t\r\n"))
		words[n++] = w;
	return n;
}

static int
cmd_errors(rd_kafka_mock_cluster_t *mc, int argc, char **argv, char *why, size_t whylen)
{
	rd_kafka_resp_err_t errs[MAX_WORDS];
	int			key;

	if (argc < 3 || (key = api_key(argv[1])) < 0)
	{
		snprintf(why, whylen, "usage: errors API ERROR [ERROR ...] (API: produce, fetch, ...)");
		return -1;
	}
	for (int i = 2; i < argc; i++)
	{
		if (error_code(argv[i], &errs[i - 2]) != 0)
		{
			snprintf(why, whylen, "unknown error name \"%s\"", argv[i]);
			return -1;
		}
	}
	rd_kafka_mock_push_request_errors_array(mc, (int16_t) key, (size_t) (argc - 2), errs);
	return 0;
}

/* Runs one command line; fills why and returns -1 when it is refused. */
static int
run_command(rd_kafka_mock_cluster_t *mc, int brokers, char *line, char *why, size_t whylen)
{
	char	   *argv[MAX_WORDS];
	int			argc = split(line, argv);
	long		broker = argc >= 2 ? number(argv[1]) : -1;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (argc == 0)
	{
		snprintf(why, whylen, "empty command");
		return -1;
	}
	if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0 ||
		 strcmp(argv[0], "rtt") == 0) && (broker < 1 || broker > brokers))
	{
		snprintf(why, whylen, "%s needs a broker id from 1 to %d", argv[0], brokers);
		return -1;
	}
	if (strcmp(argv[0], "down") == 0 && argc == 2)
		err = rd_kafka_mock_broker_set_down(mc, (int32_t) broker);
	else if (strcmp(argv[0], "up") == 0 && argc == 2)
		err = rd_kafka_mock_broker_set_up(mc, (int32_t) broker);
	else if (strcmp(argv[0], "rtt") == 0 && argc == 3 && number(argv[2]) >= 0)
		err = rd_kafka_mock_broker_set_rtt(mc, (int32_t) broker, (int) number(argv[2]));
	else if (strcmp(argv[0], "errors") == 0)
		return cmd_errors(mc, argc, argv, why, whylen);
	else if (strcmp(argv[0], "clear") == 0 && argc == 2 && api_key(argv[1]) >= 0)
		rd_kafka_mock_clear_request_errors(mc, (int16_t) api_key(argv[1]));
	else if (strcmp(argv[0], "leader") == 0 && argc == 4 && number(argv[2]) >= 0 &&
			 number(argv[3]) >= 1 && number(argv[3]) <= brokers)
		err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t) number(argv[2]),
												 (int32_t) number(argv[3]));
	else if (strcmp(argv[0], "topic") == 0 && (argc == 3 || argc == 4) && number(argv[2]) > 0)
	{
		long		rf = argc == 4 ? number(argv[3]) : (brokers < 3 ? brokers : 3);

		if (rf < 1 || rf > brokers)
		{
			snprintf(why, whylen, "replication factor must be 1 to %d", brokers);
			return -1;
		}
		err = rd_kafka_mock_topic_create(mc, argv[1], (int) number(argv[2]), (int) rf);
	}
	else
	{
		snprintf(why, whylen, "unknown or malformed command \"%s\"", argv[0]);
		return -1;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		snprintf(why, whylen, "%s", rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

static rd_kafka_t *
new_handle(char *errstr, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, errlen) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* rd_kafka_new takes the conf only when it succeeds. */
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
	if (rk == NULL)
		rd_kafka_conf_destroy(conf);
	return rk;
}

int
main(int argc, char **argv)
{
	int			brokers = 3;
	char		errstr[512];
	char		line[LINE_MAX_LEN];
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	struct sigaction sa;

	if (argc == 3 && strcmp(argv[1], "--brokers") == 0 && number(argv[2]) >= 1)
		brokers = (int) number(argv[2]);
	else if (argc != 1)
	{
		fprintf(stderr, "usage: devbroker [--brokers N]\n");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if ((rk = new_handle(errstr, sizeof(errstr))) == NULL)
	{
		fprintf(stderr, "devbroker: %s\n", errstr);
		return 1;
	}
	if ((mc = rd_kafka_mock_cluster_new(rk, brokers)) == NULL)
	{
		fprintf(stderr, "devbroker: could not start the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	printf("bootstrap.servers=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	while (!stop_requested && fgets(line, sizeof(line), stdin) != NULL)
	{
		char		why[256];

		if (strncmp(line, "quit", 4) == 0)
			break;
		if (run_command(mc, brokers, line, why, sizeof(why)) == 0)
			printf("ok\n");
		else
			printf("error: %s\n", why);
		fflush(stdout);
	}
	/* End of input: keep serving in the background until signalled. */
	while (!stop_requested && feof(stdin))
		sleep(1);


	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
