/*
 * deadtable.c — dead letters written to the target's dead-letter table.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "copytext.h"
#include "deadtable.h"
#include "log.h"

bool
deadtable_write(Target *t, const Event *e, const char *reason, const char *detail,
				bool *written, char *err, size_t errlen)
{
	char		part[16],
				off[32],
				lsn[32],
				seq[16];
	const rd_kafka_message_t *m = e->msg;
	const char *values[10];
	int			lengths[10] = {0};
	int			formats[10] = {0};
	char		size[32];
	char		sql[2048];
	const char *dl;
	Buf			why = {0};
	Buf			more = {0};
	PGresult   *res;
	bool		ok;

	/* Names from a message may be any bytes: the text columns take them cleaned. */
	buf_put_utf8(&why, reason);
	if (detail)
		buf_put_utf8(&more, detail);
	snprintf(part, sizeof(part), "%d", m->partition);
	snprintf(off, sizeof(off), "%" PRId64, m->offset);
	snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(e->rec ? e->rec->commit_lsn : 0));
	snprintf(seq, sizeof(seq), "%u", e->rec ? e->rec->seq : 0);
	values[0] = rd_kafka_topic_name(m->rkt);
	values[1] = part;
	values[2] = off;
	values[3] = m->key;
	lengths[3] = (int) EVENT_DEAD_LEN(m->key_len);
	formats[3] = 1;
	values[4] = m->payload ? m->payload : "";
	lengths[4] = (int) EVENT_DEAD_LEN(m->len);
	formats[4] = 1;
	snprintf(size, sizeof(size), "%zu", m->len);
	values[9] = size;
	values[5] = e->rec && e->rec->commit_lsn ? lsn : NULL;
	values[6] = e->rec && e->rec->commit_lsn ? seq : NULL;
	values[7] = why.data;
	values[8] = detail ? more.data : NULL;
	/*
	 * The same message consumed again (a replay from an earlier offset) is
	 * already there: the row it left is its record, and nothing is added.
	 * So is a copy walstreamer sent again (at another offset, at the same
	 * source position): a dead letter never moves the stored position, so
	 * its copies are not skipped as applied.
	 */
	dl = target_dead_letter_table(t);
	snprintf(sql, sizeof(sql), "INSERT INTO %s (topic, partition, \"offset\", key, value, commit_lsn, "
			 "seq, reason, detail, value_bytes) SELECT $1::text, $2::int, $3::bigint, $4::bytea, $5::bytea, "
			 "$6::pg_lsn, $7::bigint, $8::text, $9::text, $10::bigint WHERE NOT EXISTS (SELECT FROM %s d "
			 "WHERE d.topic = $1 AND d.partition = $2 AND d.\"offset\" = $3 "
			 "AND d.key IS NOT DISTINCT FROM $4 AND d.value = $5) AND ($6::pg_lsn IS NULL OR NOT EXISTS "
			 "(SELECT FROM %s d WHERE d.topic = $1 AND d.commit_lsn = $6::pg_lsn AND d.seq = $7::bigint "
			 "AND d.partition = $2 AND d.key IS NOT DISTINCT FROM $4 AND d.value = $5))",
			 dl, dl, dl);
	res = target_query_params(t, sql, 10, values, lengths, formats, NULL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		target_error(t, res, err, errlen);
	*written = ok && strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	buf_free(&why);
	buf_free(&more);
	return ok;
}
