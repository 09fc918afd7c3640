/*
 * deadtopic.c — the dead-letter topic's producer.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "copytext.h"
#include "deadtopic.h"
#include "log.h"
#include "xalloc.h"

/* Longer than message.timeout.ms below: every message has its report by then. */
#define FLUSH_WAIT_MS 45000

struct DeadTopic
{
	rd_kafka_t *rk;
	const char *topic;
	int			failed;			/* delivery reports with an error since the last flush */
	char		first_error[256];
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	DeadTopic  *d = opaque;

	(void) rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (d->failed++ == 0)
		snprintf(d->first_error, sizeof(d->first_error), "%s", rd_kafka_err2str(m->err));
}

DeadTopic *
deadtopic_new(const Settings *s, char *err, size_t errlen)
{
	static const char *const defaults[][2] = {
		{"client.id", "walsink-dead-letters"},
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"message.timeout.ms", "30000"},
		{"linger.ms", "5"},
		{NULL, NULL}
	};
	DeadTopic  *d = xcalloc(1, sizeof(DeadTopic));
	char		why[512];
	/* The consumer's kafka.* keys: connection and security apply here too. */
	rd_kafka_conf_t *conf = settings_kafka_conf(s, defaults, true, why, sizeof(why));

	if (conf == NULL)
		goto fail;
	rd_kafka_conf_set_opaque(conf, d);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, log_rdkafka);
	d->topic = s->dead_letter_topic;
	if ((d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why))) != NULL)
		return d;
fail:
	snprintf(err, errlen, "dead.letter.topic producer: %s", why);
	if (conf)
		rd_kafka_conf_destroy(conf);
	free(d);
	return NULL;
}

void
deadtopic_free(DeadTopic *d)
{
	if (d == NULL)
		return;
	rd_kafka_flush(d->rk, 5000);
	rd_kafka_destroy(d->rk);
	free(d);
}

/* Adds name = s, cleaned to UTF-8. */
static void
add_text(rd_kafka_headers_t *h, const char *name, const char *s)
{
	Buf			b = {0};

	buf_put_utf8(&b, s);
	rd_kafka_header_add(h, name, -1, b.data, (ssize_t) b.len);
	buf_free(&b);
}

bool
deadtopic_send(DeadTopic *d, const Event *e, const char *reason, const char *detail,
			   char *err, size_t errlen)
{
	const rd_kafka_message_t *m = e->msg;
	rd_kafka_headers_t *orig;
	rd_kafka_headers_t *h;
	char		num[32];
	rd_kafka_resp_err_t rc;

	h = rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR ?
		rd_kafka_headers_copy(orig) : rd_kafka_headers_new(6);
	add_text(h, "pgcdc.dl.reason", reason);
	if (detail)
		add_text(h, "pgcdc.dl.detail", detail);
	add_text(h, "pgcdc.dl.topic", rd_kafka_topic_name(m->rkt));
	snprintf(num, sizeof(num), "%" PRId32, m->partition);
	rd_kafka_header_add(h, "pgcdc.dl.partition", -1, num, -1);
	snprintf(num, sizeof(num), "%" PRId64, m->offset);
	rd_kafka_header_add(h, "pgcdc.dl.offset", -1, num, -1);
	snprintf(num, sizeof(num), "%zu", m->len);
	rd_kafka_header_add(h, "pgcdc.dl.value_bytes", -1, num, -1);
	rc = rd_kafka_producev(d->rk, RD_KAFKA_V_TOPIC(d->topic),
						   RD_KAFKA_V_KEY(m->key, EVENT_DEAD_LEN(m->key_len)),
						   RD_KAFKA_V_VALUE(m->payload, EVENT_DEAD_LEN(m->len)),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_HEADERS(h),
						   RD_KAFKA_V_END);
	if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
		return true;
	rd_kafka_headers_destroy(h);	/* owned by the message only once accepted */
	snprintf(err, errlen, "dead.letter.topic %s: %s", d->topic, rd_kafka_err2str(rc));
	return false;
}

bool
deadtopic_flush(DeadTopic *d, char *err, size_t errlen)
{
	rd_kafka_resp_err_t rc = rd_kafka_flush(d->rk, FLUSH_WAIT_MS);

	if (rc == RD_KAFKA_RESP_ERR_NO_ERROR && d->failed == 0)
		return true;
	if (d->failed)
		snprintf(err, errlen, "dead.letter.topic %s: %d dead letters not delivered: %s", d->topic,
				 d->failed, d->first_error);
	else
		snprintf(err, errlen, "dead.letter.topic %s: not acknowledged within %d ms", d->topic, FLUSH_WAIT_MS);
	d->failed = 0;
	return false;
}
