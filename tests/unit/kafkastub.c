/*
 * kafkastub.c — the librdkafka functions event.c calls, over messages made
 * by kafkastub_message.
 */
#include <stdlib.h>
#include <string.h>

#include "kafkastub.h"

/* What a stub message carries besides librdkafka's public fields (in _private). */
typedef struct Stub
{
	const char *key_role;		/* static, or NULL */
} Stub;

rd_kafka_message_t *
kafkastub_message(const void *payload, size_t len, const char *key_role)
{
	rd_kafka_message_t *m = calloc(1, sizeof(rd_kafka_message_t));
	Stub	   *s = calloc(1, sizeof(Stub));

	if (m == NULL || s == NULL)
		abort();
	/* payload NULL: a null value (a tombstone); else a value, perhaps empty, as librdkafka's. */
	if (payload != NULL)
	{
		if ((m->payload = malloc(len ? len : 1)) == NULL)
			abort();
		memcpy(m->payload, payload, len);
	}
	m->len = len;
	s->key_role = key_role;
	m->_private = s;
	return m;
}

rd_kafka_resp_err_t
rd_kafka_message_headers(const rd_kafka_message_t *rkmessage, rd_kafka_headers_t **hdrsp)
{
	const Stub *s = rkmessage->_private;

	if (s->key_role == NULL)
		return RD_KAFKA_RESP_ERR__NOENT;
	*hdrsp = (rd_kafka_headers_t *) s;
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t
rd_kafka_header_get_last(const rd_kafka_headers_t *hdrs, const char *name, const void **valuep, size_t *sizep)
{
	const Stub *s = (const Stub *) hdrs;

	if (strcmp(name, "pgcdc.key") != 0)
		return RD_KAFKA_RESP_ERR__NOENT;
	*valuep = s->key_role;
	*sizep = strlen(s->key_role);
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void
rd_kafka_message_destroy(rd_kafka_message_t *rkmessage)
{
	free(rkmessage->payload);
	free(rkmessage->_private);
	free(rkmessage);
}
