/*
 * stream.c — routing pgcdc records to Kafka, and what is safe to confirm.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "acktrack.h"
#include "buf.h"
#include "colpolicy.h"
#include "dbzjson.h"
#include "log.h"
#include "outbox.h"
#include "record.h"
#include "relations.h"
#include "replproto.h"
#include "rangerec.h"
#include "signals.h"
#include "snapwatch.h"
#include "standin.h"
#include "stream.h"
#include "streamtxn.h"
#include "topicroute.h"
#include "xalloc.h"

/* A message the producer refused for now (queue full), in order. */
typedef struct Pending
{
	rd_kafka_topic_t *rkt;		/* a reference of its own */
	int32_t		partition;
	uint8_t    *key;
	size_t		keylen;
	void	   *value;
	size_t		len;
	KafkaHeaders headers;
	uint64_t	txn;
} Pending;

struct Stream
{
	const Settings *settings;
	Kafka	   *kafka;
	FILE	   *out;
	Relations  *rels;
	Relations  *chunk_rels;		/* the RELATION records snapshot chunks were read with */
	SnapWatch  *watch;			/* NULL: no snapshot reads tables */
	PgoRecords *pgo;			/* source.plugin = pgoutput: its messages into records; else NULL */
	Buf			pgo_records;	/* the records of one pgoutput message */
	Signals    *signals;		/* where the signal table's rows go; NULL: none */
	AckTracker *acks;
	Record		rec;

	bool		in_txn;
	uint64_t	txn;
	uint64_t	commit_lsn;
	uint32_t	xid_value;
	char		xid[16];		/* of the open transaction, the transaction topic's key */
	int64_t		commit_ts;
	uint64_t	last_end;		/* where the last transaction streamed ended (Debezium's lastCommitLsn) */
	char	   *database;		/* of the last record that named one */
	uint64_t	txn_total;		/* its changes so far (value.format = debezium-json: total_order) */
	uint64_t	txn_messages;	/* its logical messages so far */
	Relation  **touched;		/* relations changed in the open transaction */
	size_t		ntouched;
	size_t		touched_cap;

	/* Transactions streamed in progress (streamtxn.h). */
	StreamTxns *streams;
	bool		in_block;		/* txn counts the messages of a block of block_xid's changes */
	uint32_t	block_xid;
	bool		committing;		/* a streamed transaction's commit waits for its changes' reports */
	Buf			commit;			/* its record */
	uint32_t	commit_xid;
	uint64_t	commit_at;		/* its commit LSN and end */
	uint64_t	commit_end;

	Pending    *outbox;
	size_t		nout;
	size_t		outhead;		/* first not yet produced */
	size_t		outcap;

	uint8_t    *keybuf;
	size_t		keycap;

	/* A record of a table with column settings as Kafka gets it (apply_columns). */
	Buf			sent_buf;
	Record		sent_rec;

	/* value.format = debezium-json (dbzjson.h): its options, and a message's parts as they are built. */
	DbzOptions	dbz;
	Buf			dbz_key;
	Buf			dbz_other;
	Buf			dbz_value;

	rd_kafka_topic_t *tx_topic;
	rd_kafka_topic_t *msg_topic;
	rd_kafka_topic_t *hb_topic;

	uint64_t	received_lsn;
	bool		reply_requested;
	bool		retryable;		/* the last failure was Kafka's refusal */
	char		failure[600];

	Metrics    *metrics;
	MetricCell *m_received;
	MetricCell *m_flushed;
	MetricCell *m_bytes;
	MetricCell *m_errors;
	MetricCell *m_messages;
	MetricCell *m_lag;
	MetricCell *m_oversized;
};

/* The pgcdc.op header's letter of each operation. */
static const char op_letter[] = {
	[PGCDC__OP__OP_BEGIN] = 'b', [PGCDC__OP__OP_COMMIT] = 'e', [PGCDC__OP__OP_INSERT] = 'c',
	[PGCDC__OP__OP_UPDATE] = 'u', [PGCDC__OP__OP_DELETE] = 'd', [PGCDC__OP__OP_TRUNCATE] = 't',
	[PGCDC__OP__OP_MESSAGE] = 'm', [PGCDC__OP__OP_READ] = 'r', [PGCDC__OP__OP_RELATION] = 's'
};

static bool finish_commit(Stream *st, char *err, size_t errlen);

/* This pipeline's run (streamtxn.h): random, so no two runs share one. */
static uint64_t
run_id(void)
{
	uint64_t	id = 0;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t) sizeof(id) || id == 0)
		id = ((uint64_t) time(NULL) << 20) ^ (uint64_t) getpid() ^ (uint64_t) clock();
	return id ? id : 1;
}

Stream *
stream_new(const Settings *s, Kafka *k, FILE *out, Metrics *m, uint64_t start_lsn, SnapWatch *watch,
		   Signals *signals, PgoRecords *pgo)
{
	Stream	   *st = xcalloc(1, sizeof(Stream));

	st->settings = s;
	st->pgo = pgo;
	st->kafka = k;
	st->out = out;
	if (out != NULL)
		setvbuf(out, NULL, _IOLBF, 0);	/* a reader sees each record as it comes */
	st->metrics = m;
	st->received_lsn = start_lsn;
	record_init(&st->rec);
	record_init(&st->sent_rec);
	st->rels = relations_new(s->topic_prefix, s->columns, s->route, k ? kafka_topic_release : NULL);
	st->chunk_rels = relations_new(s->topic_prefix, s->columns, s->route, k ? kafka_topic_release : NULL);
	st->watch = watch;
	st->signals = signals;
	st->acks = acktrack_new(start_lsn);
	st->streams = streamtxns_new(run_id(), STREAM_KEYS_MEM);
	st->dbz = (DbzOptions) {s->topic_prefix, s->schemas, s->placeholder, s->modes, s->route_key_field};
	st->database = xstrdup("");
	st->last_end = start_lsn;
	if (k != NULL)
	{
		char		name[256];

		snprintf(name, sizeof(name), "%s.transaction", s->topic_prefix);
		st->tx_topic = s->transaction_topic ? kafka_topic(k, name) : NULL;
		snprintf(name, sizeof(name), "%s.message", s->topic_prefix);
		st->msg_topic = kafka_topic(k, name);
		/* Debezium's heartbeat topic has its own name. */
		snprintf(name, sizeof(name), s->debezium ? "__debezium-heartbeat.%s" : "%s.heartbeat", s->topic_prefix);
		st->hb_topic = kafka_topic(k, name);
	}
	st->m_received = metrics_cell(m, "walstreamer_received_lsn", METRIC_GAUGE,
								  "WAL position received from the slot", NULL);
	st->m_flushed = metrics_cell(m, "walstreamer_acknowledged_lsn", METRIC_GAUGE,
								 "WAL position Kafka acknowledged, confirmed to the slot", NULL);
	st->m_bytes = metrics_cell(m, "walstreamer_produced_bytes_total", METRIC_COUNTER,
							   "Bytes of message values produced", NULL);
	st->m_messages = metrics_cell(m, "walstreamer_acknowledged_messages_total", METRIC_COUNTER,
								  "Messages Kafka acknowledged", NULL);
	st->m_errors = metrics_cell(m, "walstreamer_delivery_errors_total", METRIC_COUNTER,
								"Messages Kafka failed to deliver", NULL);
	st->m_lag = metrics_cell(m, "walstreamer_lag_bytes", METRIC_GAUGE,
							 "WAL received from the slot but not yet acknowledged by Kafka", NULL);
	st->m_oversized = metrics_cell(m, "walstreamer_oversized_total", METRIC_COUNTER,
								   "Changes larger than Kafka takes, sent as a stand-in (oversized.mode)", NULL);
	metrics_set(st->m_received, (int64_t) start_lsn);
	metrics_set(st->m_flushed, (int64_t) start_lsn);
	return st;
}

void
stream_free(Stream *st)
{
	if (st == NULL)
		return;
	for (size_t i = st->outhead; i < st->nout; i++)
	{
		free(st->outbox[i].key);
		free(st->outbox[i].value);
		free(st->outbox[i].headers.other_key);
		kafka_topic_release(st->outbox[i].rkt);
	}
	free(st->outbox);
	if (st->tx_topic)
		kafka_topic_release(st->tx_topic);
	if (st->msg_topic)
		kafka_topic_release(st->msg_topic);
	if (st->hb_topic)
		kafka_topic_release(st->hb_topic);
	relations_free(st->rels);
	relations_free(st->chunk_rels);
	acktrack_free(st->acks);
	streamtxns_free(st->streams);
	buf_free(&st->commit);
	record_free(&st->rec);
	record_free(&st->sent_rec);
	buf_free(&st->sent_buf);
	free(st->touched);
	free(st->keybuf);
	free(st->database);
	buf_free(&st->dbz_key);
	buf_free(&st->dbz_other);
	buf_free(&st->dbz_value);
	buf_free(&st->pgo_records);
	free(st);
}

/*
 * One message to the producer.  One larger than Kafka takes is replaced
 * where it stands, as oversized.mode says, by its stand-in (*value, *len
 * and *h become the stand-in's, so that the outbox keeps that), which goes
 * in its place: same topic, key and partition, same transaction.  Any
 * other refusal is Kafka's, and the pipeline restarts (st->retryable).
 */
static KafkaResult
produce(Stream *st, rd_kafka_topic_t *rkt, int32_t partition, const uint8_t *key, size_t keylen,
		void **value, size_t *len, KafkaHeaders *h, uint64_t txn, char *err, size_t errlen)
{
	for (;;)
	{
		Oversize	big;
		KafkaResult rc = kafka_produce(st->kafka, rkt, partition, key, keylen, *value, *len, h, txn,
									   &big, err, errlen);

		st->retryable = rc == KAFKA_REFUSED;
		if (rc != KAFKA_TOO_LARGE ||
			!standin_apply(st->settings->oversized_mode, &big, value, len, h, st->m_oversized, err, errlen))
			return rc;
	}
}

/* Produces, or queues behind what is already waiting. */
static bool
emit(Stream *st, rd_kafka_topic_t *rkt, int32_t partition, const uint8_t *key, size_t keylen,
	 void *value, size_t len, const KafkaHeaders *headers, char *err, size_t errlen)
{
	Pending    *p;
	KafkaHeaders h = *headers;

	acktrack_sent(st->acks, st->txn);
	if (st->in_block)
		streamtxns_sent(st->streams, st->block_xid);
	metrics_add(st->m_bytes, (int64_t) len);
	if (st->outhead == st->nout)
	{
		KafkaResult rc = produce(st, rkt, partition, key, keylen, &value, &len, &h, st->txn, err, errlen);

		if (rc == KAFKA_QUEUED)
		{
			free(h.other_key);
			return true;
		}
		if (rc != KAFKA_QUEUE_FULL)
		{
			free(value);
			free(h.other_key);
			return false;
		}
	}
	if (st->nout == st->outcap)
	{
		st->outcap = st->outcap ? st->outcap * 2 : 16;
		st->outbox = xrealloc(st->outbox, st->outcap, sizeof(Pending));
	}
	p = &st->outbox[st->nout++];
	p->rkt = kafka_topic_keep(st->kafka, rkt);
	p->partition = partition;
	p->key = keylen ? xmemdup(key, keylen) : NULL;
	p->keylen = keylen;
	p->value = value;
	p->len = len;
	p->headers = h;
	p->txn = st->txn;
	return true;
}

static bool
drain_outbox(Stream *st, char *err, size_t errlen)
{
	while (st->outhead < st->nout)
	{
		Pending    *p = &st->outbox[st->outhead];
		KafkaResult rc = produce(st, p->rkt, p->partition, p->key, p->keylen, &p->value, &p->len,
								 &p->headers, p->txn, err, errlen);

		if (rc == KAFKA_QUEUE_FULL)
			return true;
		if (rc != KAFKA_QUEUED)
			return false;
		free(p->key);
		free(p->headers.other_key);
		kafka_topic_release(p->rkt);
		st->outhead++;
	}
	st->outhead = st->nout = 0;
	return true;
}

bool
stream_drain(Stream *st, char *err, size_t errlen)
{
	if (!drain_outbox(st, err, errlen))
		return false;
	if (st->outhead == st->nout && st->committing && !acktrack_has_failed(st->acks))
		return finish_commit(st, err, errlen) && drain_outbox(st, err, errlen);
	return true;
}

bool
stream_blocked(const Stream *st)
{
	return st->outhead < st->nout || st->committing;
}

/*
 * The key of an image at the key positions, into st->keybuf: the table's
 * own (rel->keys, what the snapshot watches), or the Kafka key's in an
 * image as sent (rel->kafka_keys).
 */
static size_t
make_key(Stream *st, const uint32_t *keys, size_t nkeys, const SpanArray *image)
{
	size_t		need = record_key(image, keys, nkeys, st->keybuf, st->keycap);

	if (need > st->keycap)
	{
		free(st->keybuf);
		st->keycap = need * 2;
		st->keybuf = xmalloc(st->keycap);
		need = record_key(image, keys, nkeys, st->keybuf, st->keycap);
	}
	return need;
}

/*
 * A record of rel, a table with column settings (rel->cols), as Kafka gets
 * it: rewritten (colpolicy.h) into st->sent_buf, *buf and *len then
 * pointing there, and scanned into st->sent_rec.  NULL, with err, when the
 * record does not fit the table.
 */
static const Record *
apply_columns(Stream *st, const Relation *rel, const uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	char		why[256];

	if (coltable_rewrites(rel->cols))
	{
		if (!coltable_record(rel->cols, *buf, *len, &st->sent_buf, why, sizeof(why)))
		{
			snprintf(err, errlen, "a record of %s after " LSN_FMT ": %s", rel->name, LSN_ARGS(st->received_lsn),
					 why);
			return NULL;
		}
		*buf = (const uint8_t *) st->sent_buf.data;
		*len = st->sent_buf.len;
	}
	if (!record_scan(*buf, *len, &st->sent_rec, why, sizeof(why)))
	{
		snprintf(err, errlen, "a record of %s after " LSN_FMT ": %s", rel->name, LSN_ARGS(st->received_lsn), why);
		return NULL;
	}
	return &st->sent_rec;
}

/*
 * The partition of rel's messages: as their key says, except that a table
 * without a key of its own (REPLICA IDENTITY NOTHING, or no key) keeps all
 * its messages on one partition when message.key.columns keys them, so
 * that its snapshot's reset and its changes stay in one order.
 */
static bool
partition_for(Stream *st, const Relation *rel, int32_t *partition, char *err, size_t errlen)
{
	*partition = RD_KAFKA_PARTITION_UA;
	if (rel->nkeys > 0 || rel->nkafka_keys == 0)
		return true;
	if ((*partition = kafka_keyless_partition(st->kafka, rel->handle, err, errlen)) >= 0)
		return true;
	st->retryable = true;
	return false;
}

static void
count(Stream *st, Relation *rel, uint32_t op)
{
	if (rel->counters[op] == NULL)
	{
		const char *const labels[] = {"table", rel->name, "op", (char[]) {op_letter[op], 0}, NULL};

		rel->counters[op] = metrics_cell(st->metrics, "walstreamer_events_total", METRIC_COUNTER,
										 "Change events produced, by table and op", labels);
	}
	metrics_add(rel->counters[op], 1);
	if (!st->in_block)
		st->txn_total++;
	if (st->in_block)
	{
		/* A streamed transaction's, for its COMMIT on the transaction topic (finish_commit). */
		if (st->settings->transaction_topic)
			streamtxns_count(st->streams, st->rec.xid, st->rec.subxid, rel->name, rel->schema_len);
		return;
	}
	if (rel->txn_events++ == 0 && st->settings->transaction_topic)
	{
		if (st->ntouched == st->touched_cap)
		{
			st->touched_cap = st->touched_cap ? st->touched_cap * 2 : 16;
			st->touched = xrealloc(st->touched, st->touched_cap, sizeof(Relation *));
		}
		st->touched[st->ntouched++] = rel;
	}
}

/*
 * A key the stream changed, for the snapshot: a transaction's own now, a
 * streamed one's once it commits (streamtxn.h, stream_commit).
 */
static void
watch_key(Stream *st, uint32_t relid, const uint8_t *key, size_t keylen, bool truncate)
{
	bool		watching = snapwatch_watching(st->watch);

	if (st->rec.streamed)
		streamtxns_key(st->streams, st->rec.xid, relid, st->rec.seq, key, keylen, truncate, watching);
	else if (watching && truncate)
		snapwatch_truncate(st->watch, relid, st->xid_value);
	else if (watching)
		snapwatch_change(st->watch, relid, st->xid_value, key, keylen);
}

/*
 * A StreamInfo field (proto/cdc.proto), walstreamer's one writer of it: this
 * run's, and on a commit record the rolled-back ranges (n numbers) and the
 * first offset on its partition (first_offset < 0: none).  aborted_packed
 * is the size of the ranges' packed numbers, stream_info_body that of the
 * field's body; put_stream_info writes the field at p and returns where it
 * ends.
 */
static size_t
aborted_packed(const uint32_t *aborted, size_t n)
{
	size_t		packed = 0;

	for (size_t i = 0; i < n; i++)
		packed += wire_varint_size(aborted[i]);
	return packed;
}

static size_t
stream_info_body(uint64_t run, const uint32_t *aborted, size_t n, int64_t first_offset)
{
	return (n ? wire_len_field_size(WIRE_STREAM_INFO_ABORTED, aborted_packed(aborted, n)) : 0) +
		wire_varint_field_size(WIRE_STREAM_INFO_RUN, run) +
		(first_offset >= 0 ? wire_varint_field_size(WIRE_STREAM_INFO_FIRST_OFFSET, (uint64_t) first_offset) : 0);
}

static uint8_t *
put_stream_info(uint8_t *p, uint64_t run, const uint32_t *aborted, size_t n, int64_t first_offset)
{
	p = wire_put_tag(p, WIRE_CHANGE_EVENT_STREAM, WIRE_TYPE_LEN);
	p = wire_put_varint(p, stream_info_body(run, aborted, n, first_offset));
	if (n)
	{
		p = wire_put_tag(p, WIRE_STREAM_INFO_ABORTED, WIRE_TYPE_LEN);
		p = wire_put_varint(p, aborted_packed(aborted, n));
		for (size_t i = 0; i < n; i++)
			p = wire_put_varint(p, aborted[i]);
	}
	p = wire_put_varint_field(p, WIRE_STREAM_INFO_RUN, run);
	if (first_offset >= 0)
		p = wire_put_varint_field(p, WIRE_STREAM_INFO_FIRST_OFFSET, (uint64_t) first_offset);
	return p;
}

/*
 * The Kafka value of a record: rel's RELATION record in front (rel NULL:
 * none), and a streamed change's run behind (concatenated protobuf fields
 * merge).
 */
static void *
change_value(Stream *st, const Relation *rel, const uint8_t *buf, size_t len, size_t *total)
{
	size_t		front = rel ? rel->sent_len : 0;
	uint64_t	run = streamtxns_run(st->streams);
	size_t		back = st->rec.streamed ?
		wire_len_field_size(WIRE_CHANGE_EVENT_STREAM, stream_info_body(run, NULL, 0, -1)) : 0;
	uint8_t    *value = xmalloc(front + len + back);
	uint8_t    *p = value;

	if (rel != NULL)
		memcpy(p, rel->sent, front);
	memcpy(p + front, buf, len);
	p += front + len;
	if (st->rec.streamed)
		p = put_stream_info(p, run, NULL, 0, -1);
	*total = (size_t) (p - value);
	return value;
}


/*
 * value.format = debezium-json (dbzjson.h).  The keys the snapshot watches
 * stay pgcdc's (make_key); only what goes to Kafka is Debezium's.
 */

/* rel's columns as Debezium types them, made at the relation's first change. */
static DbzTable *
dbz_table_of(Stream *st, Relation *rel, char *err, size_t errlen)
{
	Record		r;
	char		why[256];
	/* Debezium's key is the Kafka key: message.key.columns' when it names the table's. */
	const Buf  *keyed = rel->cols ? coltable_relation(rel->cols, true) : NULL;

	if (rel->dbz != NULL)
		return rel->dbz;
	record_init(&r);
	if (!record_scan(keyed ? (const uint8_t *) keyed->data : rel->record, keyed ? keyed->len : rel->record_len,
					 &r, why, sizeof(why)))
		snprintf(err, errlen, "the RELATION record of %s: %s", rel->name, why);
	else
		rel->dbz = dbz_table_new(&st->dbz, &r, rel->cols ? coltable_masked(rel->cols) : NULL, rel->topic,
								 rel->physical, err, errlen);
	record_free(&r);
	return rel->dbz;
}

/* Where the current record stands, for its source and transaction blocks (rel NULL: a message). */
static DbzPosition
dbz_position(const Stream *st, const Relation *rel)
{
	DbzPosition pos = {st->commit_lsn, st->last_end, st->rec.lsn, st->xid_value, st->commit_ts,
	{(const uint8_t *) st->database, strlen(st->database)}, false, 0, 0};

	if (st->tx_topic != NULL)
	{
		pos.total_order = st->txn_total;
		pos.collection_order = rel != NULL ? rel->txn_events : st->txn_messages;
	}
	return pos;
}

/* The database a record names, kept for the source blocks of those that do not. */
static void
note_database(Stream *st, const Record *r)
{
	if (r->database.len == 0 ||
		(strlen(st->database) == r->database.len && memcmp(st->database, r->database.data, r->database.len) == 0))
		return;
	free(st->database);
	st->database = xstrndup((const char *) r->database.data, r->database.len);
}

/*
 * One Debezium message of rel's topic: key (empty: null), value (NULL: a
 * tombstone), and headers h with, when other_name is set, the other key's
 * header (st->dbz_other).
 */
static bool
dbz_emit(Stream *st, Relation *rel, const Buf *key, const Buf *value, KafkaHeaders h,
		 const char *other_name, char *err, size_t errlen)
{
	int32_t		partition;

	if (!partition_for(st, rel, &partition, err, errlen))
		return false;
	if (other_name != NULL)
	{
		h.other_key_name = other_name;
		h.other_key = xstrndup(st->dbz_other.data, st->dbz_other.len);
	}
	return emit(st, rel->handle, partition, key->len ? (const uint8_t *) key->data : NULL,
				key->len, value ? xmemdup(value->data, value->len) : NULL, value ? value->len : 0, &h,
				err, errlen);
}

/* The snapshot's view of a change: the keys it changed. */
static void
watch_change(Stream *st, const Relation *rel)
{
	Record	   *r = &st->rec;
	size_t		len;

	if (r->op == PGCDC__OP__OP_UPDATE && r->before.n > 0 && rel->nkeys > 0)
	{
		len = make_key(st, rel->keys, rel->nkeys, &r->before);
		watch_key(st, rel->relid, st->keybuf, len, false);
	}
	len = make_key(st, rel->keys, rel->nkeys, r->op == PGCDC__OP__OP_DELETE ? &r->before : &r->after);
	watch_key(st, rel->relid, st->keybuf, len, false);
}

/*
 * A change as Debezium writes it: c, u or d under the row's key, a
 * tombstone after a delete (tombstones.on.delete; not for a table without
 * a key, whose null key a compacted topic refuses), and a key change as a
 * delete of the old key (with its tombstone) and a create under the new
 * one, each naming the other key in a header.
 */
static bool
dbz_on_change(Stream *st, Relation *rel, const Record *r, KafkaHeaders h, char *err, size_t errlen)
{
	DbzTable   *t = dbz_table_of(st, rel, err, errlen);
	DbzPosition pos = dbz_position(st, rel);
	const SpanArray *before = r->before.n > 0 ? &r->before : NULL;
	const SpanArray *after = r->op == PGCDC__OP__OP_DELETE ? NULL : &r->after;
	char		op = r->op == PGCDC__OP__OP_INSERT ? 'c' : r->op == PGCDC__OP__OP_UPDATE ? 'u' : 'd';

	if (t == NULL)
		return false;
	h.with_seq = true;
	h.seq = r->seq;
	if (r->op == PGCDC__OP__OP_UPDATE && before != NULL && !dbz_table_keyless(t))
	{
		Buf			newkey = {0};
		bool		moved;

		if (!dbz_key(t, before, false, &st->dbz_key, err, errlen) ||
			!dbz_key(t, after, false, &newkey, err, errlen))
		{
			buf_free(&newkey);
			return false;
		}
		moved = newkey.len != st->dbz_key.len || memcmp(newkey.data, st->dbz_key.data, newkey.len) != 0;
		if (moved)
		{
			KafkaHeaders old = {'u', h.commit_lsn, "old", 0, NULL, NULL, true, r->seq};
			bool		ok;

			h.key_role = "new";
			st->dbz_other.len = 0;
			buf_append(&st->dbz_other, newkey.data, newkey.len);
			buf_free(&newkey);
			ok = dbz_key(t, before, true, &st->dbz_key, err, errlen) &&
				dbz_change(t, 'd', before, NULL, &pos, &st->dbz_value, err, errlen) &&
				dbz_emit(st, rel, &st->dbz_key, &st->dbz_value, old, "__debezium.newkey", err, errlen) &&
				(!st->settings->tombstones ||
				 dbz_emit(st, rel, &st->dbz_key, NULL, old, "__debezium.newkey", err, errlen));
			/* Two events of the transaction, as Debezium counts them. */
			st->txn_total++;
			rel->txn_events++;
			pos = dbz_position(st, rel);
			ok = ok && dbz_key(t, before, false, &st->dbz_other, err, errlen) &&
				dbz_key(t, after, true, &st->dbz_key, err, errlen) &&
				dbz_change(t, 'c', NULL, after, &pos, &st->dbz_value, err, errlen) &&
				dbz_emit(st, rel, &st->dbz_key, &st->dbz_value, h, "__debezium.oldkey", err, errlen);
			return ok;
		}
		buf_free(&newkey);
	}
	if (!dbz_key(t, after != NULL ? after : &r->before, true, &st->dbz_key, err, errlen) ||
		!dbz_change(t, op, before, after, &pos, &st->dbz_value, err, errlen) ||
		!dbz_emit(st, rel, &st->dbz_key, &st->dbz_value, h, NULL, err, errlen))
		return false;
	if (op == 'd' && st->settings->tombstones && st->dbz_key.len > 0)
		return dbz_emit(st, rel, &st->dbz_key, NULL, h, NULL, err, errlen);
	return true;
}

/*
 * An outbox event (outbox.h) of an inserted or read row of the outbox
 * table, on the topic the row names, with its "id" header.
 */
static bool
outbox_emit(Stream *st, Relation *rel, const SpanArray *after, KafkaHeaders h, char *err, size_t errlen)
{
	DbzTable   *t = dbz_table_of(st, rel, err, errlen);
	OutboxEvent ev;
	rd_kafka_topic_t *rkt;
	bool		ok;

	if (t == NULL || !outbox_event(st->settings->outbox, t, after, &ev, err, errlen))
		return false;
	if ((rkt = kafka_topic(st->kafka, ev.topic)) == NULL)
	{
		snprintf(err, errlen, "cannot create topic handle %s", ev.topic);
		outbox_event_clear(&ev);
		return false;
	}
	h.other_key_name = "id";
	h.other_key = ev.id;
	ev.id = NULL;
	ok = emit(st, rkt, RD_KAFKA_PARTITION_UA, ev.key.len ? (const uint8_t *) ev.key.data : NULL, ev.key.len,
			  xmemdup(ev.value.data, ev.value.len), ev.value.len, &h, err, errlen);
	kafka_topic_release(rkt);
	outbox_event_clear(&ev);
	return ok;
}

/* A change of the outbox table: an insert is an event; a delete nothing; an update a warning (Debezium's). */
static bool
outbox_change(Stream *st, Relation *rel, const Record *r, KafkaHeaders h, char *err, size_t errlen)
{
	if (r->op == PGCDC__OP__OP_UPDATE)
		log_msg(LOG_WARNING, "outbox.table %s: an update at " LSN_FMT " is no event (only inserts are): "
				"passed over", rel->name, LSN_ARGS(r->lsn));
	if (r->op != PGCDC__OP__OP_INSERT)
		return true;
	h.with_seq = true;
	h.seq = r->seq;
	return outbox_emit(st, rel, &r->after, h, err, errlen);
}

static bool
outbox_table(const Stream *st, const Relation *rel)
{
	return outbox_is_table(st->settings->outbox, rel->name, rel->schema_len, rel->name + rel->schema_len + 1,
						   strlen(rel->name) - rel->schema_len - 1);
}

static bool
on_change(Stream *st, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	const Record *r = &st->rec;
	Relation   *rel = relations_get(st->rels, r->relid);
	uint64_t	commit_lsn = r->streamed ? 0 : st->commit_lsn;
	KafkaHeaders h = {op_letter[r->op], commit_lsn, NULL};
	size_t		keylen,
				total;
	void	   *value;
	int32_t		partition;

	if (rel == NULL)
	{
		snprintf(err, errlen, "change for relation %u at " LSN_FMT " before its RELATION record",
				 r->relid, LSN_ARGS(r->lsn));
		return false;
	}
	/* The signal table's rows are walstreamer's, not a topic's. */
	if (st->signals != NULL && signal_table_is(st->settings, rel))
	{
		if (r->streamed)
			log_msg(LOG_WARNING, "a signal inserted by a transaction large enough to be streamed "
					"(transaction %u) is not executed: insert signals in transactions of their own", r->xid);
		else
			signals_add(st->signals, rel, r, st->commit_lsn);
		return true;
	}
	if (rel->handle == NULL && (rel->handle = kafka_topic(st->kafka, rel->topic)) == NULL)
	{
		snprintf(err, errlen, "cannot create topic handle %s", rel->topic);
		return false;
	}
	count(st, rel, r->op);
	watch_change(st, rel);
	if (rel->cols != NULL && (r = apply_columns(st, rel, &buf, &len, err, errlen)) == NULL)
		return false;
	if (outbox_table(st, rel))
		return outbox_change(st, rel, r, h, err, errlen);
	if (st->settings->debezium)
		return dbz_on_change(st, rel, r, h, err, errlen);
	if (!partition_for(st, rel, &partition, err, errlen))
		return false;

	/*
	 * A key change: first the change under the old key, marked so consumers
	 * apply it as the old key's delete, keeping that key's order; then under
	 * the new key.
	 */
	if (r->op == PGCDC__OP__OP_UPDATE && r->before.n > 0 && rel->nkafka_keys > 0)
	{
		size_t		newlen = make_key(st, rel->kafka_keys, rel->nkafka_keys, &r->after);
		uint8_t    *newkey = xmemdup(st->keybuf, newlen);
		size_t		oldlen;

		oldlen = make_key(st, rel->kafka_keys, rel->nkafka_keys, &r->before);
		if (oldlen > 0 && (oldlen != newlen || memcmp(newkey, st->keybuf, oldlen) != 0))
		{
			KafkaHeaders old = {'u', commit_lsn, "old"};

			value = change_value(st, rel, buf, len, &total);
			if (!emit(st, rel->handle, partition, st->keybuf, oldlen, value, total,
					  &old, err, errlen) ||
				(st->settings->tombstones &&
				 !emit(st, rel->handle, partition, st->keybuf, oldlen, NULL, 0, &old, err, errlen)))
			{
				free(newkey);
				return false;
			}
			h.key_role = "new";
		}
		value = change_value(st, rel, buf, len, &total);
		if (!emit(st, rel->handle, partition, newkey, newlen, value, total, &h, err, errlen))
		{
			free(newkey);
			return false;
		}
		free(newkey);
		return true;
	}
	keylen = make_key(st, rel->kafka_keys, rel->nkafka_keys, r->op == PGCDC__OP__OP_DELETE ? &r->before : &r->after);
	value = change_value(st, rel, buf, len, &total);
	if (!emit(st, rel->handle, partition, keylen ? st->keybuf : NULL, keylen,
			  value, total, &h, err, errlen))
		return false;
	/* tombstones.on.delete: the deleted key's tombstone, so that a compacted topic forgets it. */
	if (r->op == PGCDC__OP__OP_DELETE && st->settings->tombstones && keylen > 0)
		return emit(st, rel->handle, partition, st->keybuf, keylen, NULL, 0, &h, err, errlen);
	return true;
}

/* A copy on every partition of each table's topic: ordered with every key. */
static bool
on_truncate(Stream *st, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	KafkaHeaders h = {'t', st->rec.streamed ? 0 : st->commit_lsn, NULL, 0, NULL, NULL,
	st->settings->debezium, st->rec.seq};

	for (size_t i = 0; i < st->rec.truncated.n; i++)
	{
		Span		schema,
					table;
		uint32_t	relid;
		char	   *topic;
		rd_kafka_topic_t *rkt;
		int			parts;
		Relation   *rel;

		if (!record_relation_ref(st->rec.truncated.items[i], &schema, &table, &relid))
		{
			snprintf(err, errlen, "malformed TRUNCATE record at " LSN_FMT, LSN_ARGS(st->rec.lsn));
			return false;
		}
		if ((rel = relations_get(st->rels, relid)) != NULL)
			count(st, rel, PGCDC__OP__OP_TRUNCATE);
		watch_key(st, relid, NULL, 0, true);
		topic = topicroute_of(st->settings->route, st->settings->topic_prefix, (const char *) schema.data,
							  schema.len, (const char *) table.data, table.len, err, errlen);
		if (topic == NULL)
			return false;
		rkt = kafka_topic(st->kafka, topic);
		free(topic);
		if (rkt == NULL)
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
		/* A table's topic may not exist yet (nothing of it written): asking creates it, as a produce would. */
		if ((parts = kafka_partitions(st->kafka, rkt, 10000, err, errlen)) < 0)
			st->retryable = true;
		if (st->settings->debezium && parts > 0)
		{
			DbzPosition pos = dbz_position(st, rel);
			DbzTable   *t = rel != NULL ? dbz_table_of(st, rel, err, errlen) : NULL;

			if (rel != NULL && t == NULL)
				parts = -1;
			else
				dbz_truncate(&st->dbz, t, schema, table, &pos, &st->dbz_value);
		}
		for (int p = 0; p < parts; p++)
		{
			size_t		total = st->dbz_value.len;
			void	   *value = st->settings->debezium ? xmemdup(st->dbz_value.data, total)
				: change_value(st, NULL, buf, len, &total);

			if (!emit(st, rkt, p, NULL, 0, value, total, &h, err, errlen))
				parts = -1;
		}
		kafka_topic_release(rkt);
		if (parts < 0)
			return false;
	}
	return true;
}

/* The wall clock in µs: the time Debezium gives snapshot reads and messages outside a transaction. */
static int64_t
now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* Where a snapshot chunk's records stand: at its watermark, read now, in no transaction. */
static DbzPosition
dbz_read_position(const Stream *st, const Chunk *c)
{
	return (DbzPosition) {0, 0, c->lsn, 0, now_us(), {(const uint8_t *) st->database, strlen(st->database)},
	true, 0, 0};
}

/* A keyless table's snapshot chunk (all of it) in Debezium's format: first a truncate of it, at seq 0. */
static bool
dbz_keyless_reset(Stream *st, Relation *rel, const Chunk *c, char *err, size_t errlen)
{
	DbzTable   *t = dbz_table_of(st, rel, err, errlen);
	KafkaHeaders h = {'t', c->lsn, NULL, 0, NULL, NULL, true, 0};
	DbzPosition pos = dbz_read_position(st, c);
	Span		schema = {(const uint8_t *) rel->name, rel->schema_len};
	Span		table = {(const uint8_t *) rel->name + rel->schema_len + 1, strlen(rel->name) - rel->schema_len - 1};

	if (t == NULL)
		return false;
	dbz_truncate(&st->dbz, t, schema, table, &pos, &st->dbz_value);
	st->dbz_key.len = 0;
	return dbz_emit(st, rel, &st->dbz_key, &st->dbz_value, h, NULL, err, errlen);
}

/*
 * The chunk's range record, before its rows: on every partition of the
 * table's topic (the range spans them all), or on the one a keyless
 * table's changes take.
 */
static bool
place_range(Stream *st, Relation *rel, const Record *rel_rec, const Chunk *c, char *err, size_t errlen)
{
	KafkaHeaders h = {'g', c->lsn, NULL};
	size_t		len;
	uint8_t    *range = rangerec_build(rel_rec, c, &len);
	int			parts = 1;
	bool		ok = true;

	/*
	 * Debezium's format has no such record.  A table with a key needs none
	 * for the rows it reads (each replaces its key's row; what the source
	 * deleted before the read and the target still has stays).  A table
	 * without one is read whole, while changes of it stream: its rows
	 * follow a truncate of it at the chunk's position, so that a consumer
	 * holds the table as it was there, not the streamed rows twice.
	 */
	if (st->settings->debezium)
	{
		free(range);
		return !c->keyless || dbz_keyless_reset(st, rel, c, err, errlen);
	}
	if (!c->keyless && (parts = kafka_partitions(st->kafka, rel->handle, 10000, err, errlen)) < 0)
		st->retryable = true;
	for (int p = 0; p < parts && ok; p++)
	{
		size_t		total;
		void	   *value = relation_value(rel, range, len, &total);

		ok = emit(st, rel->handle, c->keyless ? RD_KAFKA_PARTITION_UA : p, NULL, 0, value, total, &h,
				  err, errlen);
	}
	free(range);
	return ok && parts >= 0;
}

/*
 * A snapshot row of rel as Kafka gets it, scanned: into row, or, for a
 * table with column settings, rewritten into st->sent_rec.  NULL with err.
 */
static const Record *
chunk_row(Stream *st, const Relation *rel, const ChunkRow *cr, Record *row, char *err, size_t errlen)
{
	const uint8_t *rec = cr->rec;
	size_t		len = cr->len;
	char		why[256];

	if (rel->cols != NULL)
		return apply_columns(st, rel, &rec, &len, err, errlen);
	if (record_scan(rec, len, row, why, sizeof(why)))
		return row;
	snprintf(err, errlen, "a malformed snapshot row of %s: %s", rel->name, why);
	return NULL;
}

/* A chunk's rows as Debezium's snapshot reads (op "r"), at the watermark's position. */
static bool
dbz_place_rows(Stream *st, Relation *rel, const Chunk *c, char *err, size_t errlen)
{
	DbzTable   *t = dbz_table_of(st, rel, err, errlen);
	Record		row;
	bool		ok = t != NULL;
	DbzPosition pos = dbz_read_position(st, c);

	record_init(&row);
	for (size_t i = 0, seq = 1; i < c->nrows && ok; i++)
	{
		/* At the watermark, each at its index as the protobuf rows are (place_chunk). */
		KafkaHeaders h = {'r', c->lsn, NULL, 0, NULL, NULL, true, (uint32_t) seq};
		const Record *r;

		if (c->rows[i].dropped)
			continue;
		if ((r = chunk_row(st, rel, &c->rows[i], &row, err, errlen)) == NULL)
		{
			ok = false;
			break;
		}
		if (r->database.len > 0)
			pos.database = r->database;
		seq++;
		ok = dbz_key(t, &r->after, true, &st->dbz_key, err, errlen) &&
			dbz_change(t, 'r', NULL, &r->after, &pos, &st->dbz_value, err, errlen) &&
			dbz_emit(st, rel, &st->dbz_key, &st->dbz_value, h, NULL, err, errlen);
	}
	record_free(&row);
	return ok;
}

/* A chunk of the outbox table: its rows as events (as Debezium's EventRouter takes its reads). */
static bool
outbox_place_rows(Stream *st, Relation *rel, const Chunk *c, char *err, size_t errlen)
{
	Record		row;
	bool		ok = true;

	record_init(&row);
	for (size_t i = 0, seq = 1; i < c->nrows && ok; i++)
	{
		KafkaHeaders h = {'r', c->lsn, NULL, 0, NULL, NULL, true, (uint32_t) seq};
		const Record *r;

		if (c->rows[i].dropped)
			continue;
		seq++;
		ok = (r = chunk_row(st, rel, &c->rows[i], &row, err, errlen)) != NULL &&
			outbox_emit(st, rel, &r->after, h, err, errlen);
	}
	record_free(&row);
	return ok;
}

/*
 * A snapshot chunk at its watermark (snapwatch.h), in the watermark's
 * transaction (or, written outside one, a transaction of its own): its range, then its rows not superseded
 * by the stream, each a READ record at the watermark's position, keyed and
 * routed as the table's changes.  They are one transaction for the tracker.
 */
static bool
place_chunk(Stream *st, Chunk *c, char *err, size_t errlen)
{
	Record		rel_rec;
	Relation   *rel;
	char		why[256];
	uint32_t	seq = 1;		/* 0 is kept for the chunk's range, before its rows */
	bool		ok = true;
	bool		events;

	record_init(&rel_rec);
	if (!record_scan(c->relation, c->relation_len, &rel_rec, why, sizeof(why)))
	{
		snprintf(err, errlen, "snapshot chunk with a malformed relation record: %s", why);
		record_free(&rel_rec);
		return false;
	}
	rel = relations_put(st->chunk_rels, &rel_rec, c->relation, c->relation_len, err, errlen);
	if (rel == NULL)
	{
		record_free(&rel_rec);
		return false;
	}
	if (rel->handle == NULL && (rel->handle = kafka_topic(st->kafka, rel->topic)) == NULL)
	{
		snprintf(err, errlen, "cannot create topic handle %s", rel->topic);
		record_free(&rel_rec);
		return false;
	}
	if (!st->in_txn)
		st->txn = acktrack_begin(st->acks);
	/* The outbox table's rows are events, not a table's: no range, no reset. */
	events = outbox_table(st, rel);
	ok = events ? outbox_place_rows(st, rel, c, err, errlen)
		: c->partial || place_range(st, rel, &rel_rec, c, err, errlen);
	record_free(&rel_rec);
	if (st->settings->debezium && !events)
		ok = ok && dbz_place_rows(st, rel, c, err, errlen);
	for (size_t i = 0; i < c->nrows && ok && !st->settings->debezium && !events; i++)
	{
		const ChunkRow *row = &c->rows[i];
		KafkaHeaders h = {'r', c->lsn, NULL};
		const uint8_t *rec = row->rec;
		size_t		len = row->len;
		const uint8_t *key = row->key;
		size_t		keylen = row->keylen;
		int32_t		partition = RD_KAFKA_PARTITION_UA;
		uint8_t    *value;
		uint8_t    *end;

		if (row->dropped)
			continue;
		if (rel->cols != NULL)
		{
			const Record *r = apply_columns(st, rel, &rec, &len, err, errlen);

			if (r == NULL || !partition_for(st, rel, &partition, err, errlen))
			{
				ok = false;
				break;
			}
			keylen = make_key(st, rel->kafka_keys, rel->nkafka_keys, &r->after);
			key = st->keybuf;
		}
		/* The table's RELATION record, the row's, its position: allocated here, freed by this thread's poll. */
		value = xmalloc(rel->sent_len + len + RECORD_POSITION_MAX);
		memcpy(value, rel->sent, rel->sent_len);
		memcpy(value + rel->sent_len, rec, len);
		end = record_put_position(value + rel->sent_len + len, c->lsn, seq++);
		ok = emit(st, rel->handle, partition, keylen ? key : NULL, keylen,
				  value, (size_t) (end - value), &h, err, errlen);
	}
	/* Every commit before the watermark is in the stream before it: the slot may move there. */
	if (!st->in_txn)
		acktrack_commit(st->acks, st->txn, c->lsn);
	/* The chunk keeps only its count until acknowledged. */
	chunk_free_rows(c);
	return ok;
}

/* A watermark "<slot>/<chunk id>": ours when of this slot. */
static bool
on_watermark(Stream *st, char *err, size_t errlen)
{
	const Record *r = &st->rec;
	size_t		slotlen = strlen(st->settings->slot_name);
	char		id[24];
	size_t		idlen;
	Chunk	   *c;
	bool		ok;

	if (st->watch == NULL || r->content.len <= slotlen + 1 ||
		memcmp(r->content.data, st->settings->slot_name, slotlen) != 0 || r->content.data[slotlen] != '/')
		return true;			/* another walstreamer's */
	idlen = r->content.len - slotlen - 1;
	if (idlen >= sizeof(id))
		return true;
	memcpy(id, r->content.data + slotlen + 1, idlen);
	id[idlen] = '\0';
	/* In its transaction (snapshot.c writes it so, its commit flushes it): at that commit. */
	if ((c = snapwatch_take(st->watch, strtoull(id, NULL, 10), st->in_txn ? st->commit_lsn : r->lsn)) == NULL)
		return true;			/* an earlier run's, or read again */
	ok = place_chunk(st, c, err, errlen);
	snapwatch_placed(st->watch, c);
	return ok;
}

/*
 * A logical message as Debezium's (<prefix>.message, keyed by its prefix;
 * one outside the transaction it was written in has none of its own), or
 * walstreamer's heartbeat as Debezium's heartbeat.
 */
static bool
dbz_on_message(Stream *st, bool heartbeat, KafkaHeaders h, char *err, size_t errlen)
{
	Record	   *r = &st->rec;
	bool		own_txn = !st->in_txn && !st->in_block;
	bool		ok;

	if (heartbeat)
		dbz_heartbeat(&st->dbz, now_us() / 1000, &st->dbz_key, &st->dbz_value);
	else
	{
		DbzPosition pos;

		if (r->transactional)
		{
			st->txn_messages++;
			st->txn_total++;
		}
		pos = dbz_position(st, NULL);
		if (!r->transactional)
		{
			/* Debezium counts it as a transaction of its own, ended where it is. */
			st->last_end = r->lsn;
			pos = (DbzPosition) {r->lsn, r->lsn, r->lsn, 0, now_us(), pos.database, false, 0, 0};
		}
		dbz_message(&st->dbz, r->prefix, r->content, &pos, &st->dbz_key, &st->dbz_value);
	}
	if (own_txn)
		st->txn = acktrack_begin(st->acks);
	ok = emit(st, heartbeat ? st->hb_topic : st->msg_topic, RD_KAFKA_PARTITION_UA,
			  (const uint8_t *) st->dbz_key.data, st->dbz_key.len,
			  xmemdup(st->dbz_value.data, st->dbz_value.len), st->dbz_value.len, &h, err, errlen);
	if (own_txn)
		acktrack_commit(st->acks, st->txn, 0);
	return ok;
}

static bool
on_message(Stream *st, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	Record	   *r = &st->rec;
	bool		heartbeat = r->prefix.len == strlen(HEARTBEAT_PREFIX) &&
		memcmp(r->prefix.data, HEARTBEAT_PREFIX, r->prefix.len) == 0;
	KafkaHeaders h = {'m', r->streamed ? 0 : st->commit_lsn, NULL};
	size_t		total;
	void	   *value;
	bool		own_txn = !st->in_txn && !st->in_block;
	bool		ok;

	if (r->prefix.len == strlen(SNAPWATCH_PREFIX) && memcmp(r->prefix.data, SNAPWATCH_PREFIX, r->prefix.len) == 0)
		return r->streamed || on_watermark(st, err, errlen);	/* ours are never streamed */
	if (st->settings->debezium)
		return dbz_on_message(st, heartbeat, h, err, errlen);
	value = change_value(st, NULL, buf, len, &total);
	/* A non-transactional message outside a transaction is tracked on its own. */
	if (own_txn)
		st->txn = acktrack_begin(st->acks);
	ok = emit(st, heartbeat ? st->hb_topic : st->msg_topic, RD_KAFKA_PARTITION_UA,
			  r->prefix.data, r->prefix.len, value, total, &h, err, errlen);
	if (own_txn)
		acktrack_commit(st->acks, st->txn, 0);
	return ok;
}

/* A TableCount's body: the table's schema and name, and its changes in the transaction. */
static size_t
table_count_size(const StreamCount *c)
{
	const char *table = c->name + c->schema_len + 1;

	return wire_len_field_size(WIRE_TABLE_COUNT_SCHEMA, c->schema_len) +
		wire_len_field_size(WIRE_TABLE_COUNT_TABLE, strlen(table)) +
		wire_varint_field_size(WIRE_TABLE_COUNT_COUNT, c->n);
}

/* A COMMIT record (buf) plus its per-table counts, appended as TableCounts (event_counts). */
static void *
commit_summary(const uint8_t *buf, size_t len, const StreamCount *counts, size_t n, size_t *total)
{
	size_t		size = len;
	uint8_t    *out;
	uint8_t    *p;

	for (size_t i = 0; i < n; i++)
		size += wire_len_field_size(WIRE_CHANGE_EVENT_EVENT_COUNTS, table_count_size(&counts[i]));
	out = xmalloc(size);
	memcpy(out, buf, len);
	p = out + len;
	for (size_t i = 0; i < n; i++)
	{
		const char *table = counts[i].name + counts[i].schema_len + 1;

		p = wire_put_tag(p, WIRE_CHANGE_EVENT_EVENT_COUNTS, WIRE_TYPE_LEN);
		p = wire_put_varint(p, table_count_size(&counts[i]));
		p = wire_put_len_field(p, WIRE_TABLE_COUNT_SCHEMA, counts[i].name, counts[i].schema_len);
		p = wire_put_len_field(p, WIRE_TABLE_COUNT_TABLE, table, strlen(table));
		p = wire_put_varint_field(p, WIRE_TABLE_COUNT_COUNT, counts[i].n);
	}
	*total = (size_t) (p - out);
	return out;
}

/* The open transaction's COMMIT, with the changes of each table it touched. */
static void *
txn_commit_summary(Stream *st, const uint8_t *buf, size_t len, size_t *total)
{
	StreamCount *counts = xcalloc(st->ntouched ? st->ntouched : 1, sizeof(StreamCount));
	void	   *out;

	for (size_t i = 0; i < st->ntouched; i++)
		counts[i] = (StreamCount) {st->touched[i]->name, st->touched[i]->schema_len, st->touched[i]->txn_events};
	out = commit_summary(buf, len, counts, st->ntouched, total);
	free(counts);
	return out;
}

/*
 * A streamed transaction on the transaction topic, at its commit: BEGIN and
 * COMMIT as a whole transaction's, made from its STREAM_COMMIT record
 * (later fields win: the op, and BEGIN's seq and end_lsn zeroed), keyed by
 * its xid; the COMMIT's counts leave out rolled-back subtransactions.
 */
static bool
streamed_to_transaction_topic(Stream *st, char *err, size_t errlen)
{
	KafkaHeaders b = {'b', st->commit_at, NULL};
	KafkaHeaders e = {'e', st->commit_at, NULL};
	uint8_t		tail[3 * (WIRE_VARINT_MAX + 2)];
	uint8_t    *p;
	uint8_t    *begin;
	size_t		n,
				total;
	const StreamCount *counts = streamtxns_counts(st->streams, st->commit_xid, &n);
	Buf			commit = {0};
	void	   *value;
	char		xid[16];
	uint64_t	changes = 0;

	/* As skip-empty-xacts: none left (all filtered, or rolled back), none there. */
	for (size_t i = 0; i < n; i++)
		changes += counts[i].n;
	if (changes == 0)
		return true;
	snprintf(xid, sizeof(xid), "%u", st->commit_xid);
	p = wire_put_varint_field(tail, WIRE_CHANGE_EVENT_OP, PGCDC__OP__OP_BEGIN);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_SEQ, 0);
	p = wire_put_varint_field(p, WIRE_CHANGE_EVENT_END_LSN, 0);
	begin = xmalloc(st->commit.len + (size_t) (p - tail));
	memcpy(begin, st->commit.data, st->commit.len);
	memcpy(begin + st->commit.len, tail, (size_t) (p - tail));
	if (!emit(st, st->tx_topic, RD_KAFKA_PARTITION_UA, (uint8_t *) xid, strlen(xid), begin,
			  st->commit.len + (size_t) (p - tail), &b, err, errlen))
		return false;
	buf_append(&commit, st->commit.data, st->commit.len);
	buf_reserve(&commit, WIRE_VARINT_MAX + 2);
	commit.len = (size_t) (wire_put_varint_field((uint8_t *) commit.data + commit.len, WIRE_CHANGE_EVENT_OP,
												 PGCDC__OP__OP_COMMIT) - (uint8_t *) commit.data);
	value = commit_summary((const uint8_t *) commit.data, commit.len, counts, n, &total);
	buf_free(&commit);
	return emit(st, st->tx_topic, RD_KAFKA_PARTITION_UA, (uint8_t *) xid, strlen(xid), value, total, &e,
				err, errlen);
}

/* The block of streamed changes ends: its messages count for nothing but their transaction's commit. */
static void
block_close(Stream *st)
{
	if (!st->in_block)
		return;
	acktrack_commit(st->acks, st->txn, 0);
	st->in_block = false;
}

/* Streamed changes of xid follow: their messages are counted under a block of xid's. */
static void
block_open(Stream *st, uint32_t xid)
{
	if (st->in_block && st->block_xid == xid)
		return;
	block_close(st);
	st->txn = acktrack_begin(st->acks);
	st->in_block = true;
	st->block_xid = xid;
	streamtxns_block(st->streams, st->txn, xid);
}

/*
 * A streamed transaction committed.  Its OP_STREAM_COMMIT goes to every
 * partition its changes went to, with the offset of the first there, once
 * Kafka has reported them all: until then the stream waits
 * (stream_blocked), and stream_drain finishes it (finish_commit).
 */
static bool
on_stream_commit(Stream *st, const uint8_t *buf, size_t len)
{
	st->commit.len = 0;
	buf_append(&st->commit, buf, len);
	st->commit_xid = st->rec.xid;
	st->commit_at = st->rec.commit_lsn;
	st->commit_end = st->rec.end_lsn;
	st->committing = true;
	return true;
}

/* The commit record for one partition: the decoder's, its StreamInfo behind (fields merge). */
static void *
commit_value(Stream *st, const StreamPart *part, const uint32_t *aborted, size_t naborted, size_t *total)
{
	uint64_t	run = streamtxns_run(st->streams);
	size_t		body = stream_info_body(run, aborted, naborted, part->first_offset);
	uint8_t    *value = xmalloc(st->commit.len + wire_len_field_size(WIRE_CHANGE_EVENT_STREAM, body));
	uint8_t    *p;

	memcpy(value, st->commit.data, st->commit.len);
	p = put_stream_info(value + st->commit.len, run, aborted, naborted, part->first_offset);
	*total = (size_t) (p - value);
	return value;
}

/*
 * The snapshot learns what the committed transaction changed now, as if it
 * had been decoded whole at its commit: its keys but those of rolled-back
 * subtransactions, or, when they were not all kept, the chunks of its
 * tables in flight are read again.
 */
static void
commit_to_snapshot(Stream *st, uint32_t xid)
{
	size_t		n,
				nrelids;
	const uint8_t *bytes;
	bool		complete;
	const uint32_t *relids;
	const StreamKey *keys = streamtxns_keys(st->streams, xid, &n, &bytes, &complete, &relids, &nrelids);

	if (st->watch == NULL)
		return;
	if (!complete)
	{
		for (size_t i = 0; i < nrelids; i++)
			snapwatch_spoil(st->watch, relids[i]);
		return;
	}
	snapwatch_begin(st->watch, xid);
	for (size_t i = 0; i < n; i++)
	{
		if (streamtxns_void(st->streams, xid, keys[i].seq))
			continue;
		if (keys[i].truncate)
			snapwatch_truncate(st->watch, keys[i].relid, xid);
		else
			snapwatch_change(st->watch, keys[i].relid, xid, bytes + keys[i].off, keys[i].len);
	}
}

/* The streamed transaction's commit, once every one of its changes is reported. */
static bool
finish_commit(Stream *st, char *err, size_t errlen)
{
	size_t		nparts,
				naborted;
	const StreamPart *parts;
	const uint32_t *aborted;
	KafkaHeaders h = {'e', st->commit_at, NULL};
	bool		ok = true;

	if (streamtxns_outstanding(st->streams, st->commit_xid) > 0)
		return true;			/* still waiting */
	parts = streamtxns_parts(st->streams, st->commit_xid, &nparts);
	aborted = streamtxns_aborted(st->streams, st->commit_xid, &naborted);
	st->txn = acktrack_begin(st->acks);
	if (st->tx_topic)
		ok = streamed_to_transaction_topic(st, err, errlen);
	for (size_t i = 0; i < nparts && ok; i++)
	{
		rd_kafka_topic_t *rkt = kafka_topic(st->kafka, parts[i].topic);
		size_t		total;
		void	   *value;

		if (rkt == NULL)
		{
			snprintf(err, errlen, "cannot create topic handle %s", parts[i].topic);
			ok = false;
			break;
		}
		value = commit_value(st, &parts[i], aborted, naborted, &total);
		ok = emit(st, rkt, parts[i].partition, NULL, 0, value, total, &h, err, errlen);
		kafka_topic_release(rkt);
	}
	commit_to_snapshot(st, st->commit_xid);
	acktrack_commit(st->acks, st->txn, st->commit_end);
	streamtxns_end(st->streams, st->commit_xid);
	st->committing = false;
	return ok;
}

/* A streamed record: a change in a block, or its transaction's end. */
static bool
on_streamed(Stream *st, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	Record	   *r = &st->rec;

	if (st->in_txn)
	{
		snprintf(err, errlen, "streamed record (op %u) of transaction %u inside transaction %u at " LSN_FMT,
				 (unsigned) r->op, r->xid, st->xid_value, LSN_ARGS(r->lsn));
		return false;
	}
	switch (r->op)
	{
		case PGCDC__OP__OP_STREAM_ABORT:
			block_close(st);
			if (r->subxid == r->xid || r->subxid == 0)
				streamtxns_end(st->streams, r->xid);
			else if (r->has_aborted)
				streamtxns_abort_range(st->streams, r->xid, r->subxid, r->aborted[0], r->aborted[1]);
			return true;
		case PGCDC__OP__OP_STREAM_COMMIT:
			block_close(st);
			return on_stream_commit(st, buf, len);
		case PGCDC__OP__OP_INSERT:
		case PGCDC__OP__OP_UPDATE:
		case PGCDC__OP__OP_DELETE:
			block_open(st, r->xid);
			return on_change(st, buf, len, err, errlen);
		case PGCDC__OP__OP_TRUNCATE:
			block_open(st, r->xid);
			return on_truncate(st, buf, len, err, errlen);
		case PGCDC__OP__OP_MESSAGE:
			block_open(st, r->xid);
			return on_message(st, buf, len, err, errlen);
		default:
			snprintf(err, errlen, "unexpected streamed record (op %u) at " LSN_FMT, (unsigned) r->op,
					 LSN_ARGS(r->lsn));
			return false;
	}
}

/*
 * The open transaction's BEGIN and END on Debezium's transaction topic, the
 * END with its events per table; none for a transaction that wrote no
 * event (walstreamer's own watermarks, changes of tables not streamed), as
 * Debezium writes none.
 */
static bool
dbz_commit(Stream *st, char *err, size_t errlen)
{
	KafkaHeaders b = {'b', st->commit_lsn, NULL, 0, NULL, NULL};
	KafkaHeaders h = {'e', st->commit_lsn, NULL, 0, NULL, NULL};
	DbzCount   *counts;
	size_t		n = 0;

	if (st->txn_total == 0)
		return true;
	dbz_transaction(&st->dbz, st->xid_value, st->commit_lsn, st->commit_ts, NULL, 0, &st->dbz_key, &st->dbz_value);
	if (!emit(st, st->tx_topic, RD_KAFKA_PARTITION_UA, (uint8_t *) st->dbz_key.data, st->dbz_key.len,
			  xmemdup(st->dbz_value.data, st->dbz_value.len), st->dbz_value.len, &b, err, errlen))
		return false;
	counts = xcalloc(st->ntouched + 1, sizeof(DbzCount));

	for (size_t i = 0; i < st->ntouched; i++)
		counts[n++] = (DbzCount) {st->touched[i]->name, st->touched[i]->txn_events};
	/* Debezium counts a transaction's logical messages as one more collection's events. */
	if (st->txn_messages > 0)
		counts[n++] = (DbzCount) {"message", st->txn_messages};
	dbz_transaction(&st->dbz, st->xid_value, st->commit_lsn, st->commit_ts, counts, n, &st->dbz_key,
					&st->dbz_value);
	free(counts);
	return emit(st, st->tx_topic, RD_KAFKA_PARTITION_UA, (uint8_t *) st->dbz_key.data, st->dbz_key.len,
				xmemdup(st->dbz_value.data, st->dbz_value.len), st->dbz_value.len, &h, err, errlen);
}

static bool
on_record(Stream *st, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	Record	   *r = &st->rec;
	char		why[256];

	if (!record_scan(buf, len, r, why, sizeof(why)))
	{
		snprintf(err, errlen, "malformed record after " LSN_FMT ": %s", LSN_ARGS(st->received_lsn), why);
		return false;
	}
	note_database(st, r);
	if (r->streamed || r->op == PGCDC__OP__OP_STREAM_ABORT || r->op == PGCDC__OP__OP_STREAM_COMMIT)
		return on_streamed(st, buf, len, err, errlen);
	if (r->op != PGCDC__OP__OP_RELATION)
		block_close(st);
	if (r->op != PGCDC__OP__OP_RELATION && r->op != PGCDC__OP__OP_MESSAGE && r->op != PGCDC__OP__OP_BEGIN && !st->in_txn)
	{
		snprintf(err, errlen, "record (op %u) outside a transaction after " LSN_FMT,
				 (unsigned) r->op, LSN_ARGS(st->received_lsn));
		return false;
	}
	switch (r->op)
	{
		case PGCDC__OP__OP_BEGIN:
			if (st->in_txn)
			{
				snprintf(err, errlen, "BEGIN inside a transaction at " LSN_FMT, LSN_ARGS(r->commit_lsn));
				return false;
			}
			st->in_txn = true;
			st->txn = acktrack_begin(st->acks);
			st->commit_lsn = r->commit_lsn;
			st->commit_ts = r->commit_ts;
			st->xid_value = r->xid;
			st->txn_total = st->txn_messages = 0;
			snapwatch_begin(st->watch, r->xid);
			/* Debezium's BEGIN goes with its END, at the commit (dbz_commit). */
			if (st->tx_topic && !st->settings->debezium)
			{
				KafkaHeaders h = {'b', r->commit_lsn, NULL};
				void	   *value = xmemdup(buf, len);

				/* Keyed by xid: BEGIN and COMMIT share a partition. */
				snprintf(st->xid, sizeof(st->xid), "%u", r->xid);
				return emit(st, st->tx_topic, RD_KAFKA_PARTITION_UA, (uint8_t *) st->xid,
							strlen(st->xid), value, len, &h, err, errlen);
			}
			return true;
		case PGCDC__OP__OP_COMMIT:
			if (st->tx_topic && st->settings->debezium && !dbz_commit(st, err, errlen))
				return false;
			if (st->tx_topic && !st->settings->debezium)
			{
				KafkaHeaders h = {'e', st->commit_lsn, NULL};
				size_t		total = 0;
				void	   *value = txn_commit_summary(st, buf, len, &total);

				if (!emit(st, st->tx_topic, RD_KAFKA_PARTITION_UA, (uint8_t *) st->xid,
						  strlen(st->xid), value, total, &h, err, errlen))
					return false;
			}
			for (size_t i = 0; i < st->ntouched; i++)
				st->touched[i]->txn_events = 0;
			st->ntouched = 0;
			st->in_txn = false;
			st->last_end = r->end_lsn;
			acktrack_commit(st->acks, st->txn, r->end_lsn);
			return true;
		case PGCDC__OP__OP_RELATION:
			return relations_put(st->rels, r, buf, len, err, errlen) != NULL;
		case PGCDC__OP__OP_INSERT:
		case PGCDC__OP__OP_UPDATE:
		case PGCDC__OP__OP_DELETE:
			return on_change(st, buf, len, err, errlen);
		case PGCDC__OP__OP_TRUNCATE:
			return on_truncate(st, buf, len, err, errlen);
		case PGCDC__OP__OP_MESSAGE:
			return on_message(st, buf, len, err, errlen);
		default:
			snprintf(err, errlen, "unexpected record (op %u) in the stream after " LSN_FMT,
					 (unsigned) r->op, LSN_ARGS(st->received_lsn));
			return false;
	}
}

/* Records framed by their varint lengths, the decoder's batch-bytes form. */
static bool
on_batch(Stream *st, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	size_t		at = 0;

	while (at < len)
	{
		const uint8_t *rec;
		size_t		reclen;
		char		why[128];

		if (!record_frame(buf, len, &at, &rec, &reclen, why, sizeof(why)))
		{
			snprintf(err, errlen, "malformed batch after " LSN_FMT ": %s", LSN_ARGS(st->received_lsn), why);
			return false;
		}
		if (!on_record(st, rec, reclen, err, errlen))
			return false;
		/* A streamed commit waits for its changes' reports: nothing after it goes first. */
		if (st->committing && at < len)
		{
			snprintf(err, errlen, "records after a streamed transaction's commit in the same message at " LSN_FMT,
					 LSN_ARGS(st->received_lsn));
			return false;
		}
	}
	block_close(st);
	return true;
}

/*
 * A pgoutput message: its records (pgorecords.h), as a batch.  A
 * transaction that made none is complete for the tracker once the ones
 * before it are.
 */
static bool
on_pgoutput(Stream *st, uint64_t wal_start, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	uint64_t	skipped_end;

	st->pgo_records.len = 0;
	if (!pgorecords_add(st->pgo, wal_start, buf, len, &st->pgo_records, &skipped_end, err, errlen))
	{
		/* A catalog query that failed (the connection) may pass after a restart; malformed input not. */
		st->retryable = pgorecords_retryable(st->pgo);
		return false;
	}
	if (!on_batch(st, (const uint8_t *) st->pgo_records.data, st->pgo_records.len, err, errlen))
		return false;
	if (skipped_end != 0 && !st->in_txn)
		acktrack_commit(st->acks, acktrack_begin(st->acks), skipped_end);
	return true;
}

static void
update_positions(Stream *st)
{
	uint64_t	flush = acktrack_flush_lsn(st->acks);

	metrics_set(st->m_received, (int64_t) st->received_lsn);
	metrics_set(st->m_flushed, (int64_t) flush);
	metrics_set(st->m_lag, st->received_lsn > flush ? (int64_t) (st->received_lsn - flush) : 0);
}

bool
stream_message(Stream *st, const char *buf, size_t len, char *err, size_t errlen)
{
	ReplMessage m;

	switch (replproto_parse(buf, len, &m))
	{
		case REPL_XLOGDATA:
			if (m.wal_start > st->received_lsn)
				st->received_lsn = m.wal_start;
			update_positions(st);
			if (st->out != NULL)
			{
				fwrite(m.data, 1, m.len, st->out);
				fputc('\n', st->out);
				if (ferror(st->out))
				{
					snprintf(err, errlen, "cannot write the output");
					return false;
				}
				return true;
			}
			if (st->pgo != NULL)
				return on_pgoutput(st, m.wal_start, (const uint8_t *) m.data, m.len, err, errlen);
			return on_batch(st, (const uint8_t *) m.data, m.len, err, errlen);
		case REPL_KEEPALIVE:
			if (m.wal_end > st->received_lsn)
				st->received_lsn = m.wal_end;
			/* Caught up and nothing unacknowledged: the slot may move here. */
			if (st->out == NULL && !st->in_txn)
				acktrack_idle(st->acks, m.wal_end);
			update_positions(st);
			if (m.reply_requested)
				st->reply_requested = true;
			return true;
		case REPL_UNKNOWN:
			break;
	}
	snprintf(err, errlen, "unexpected replication message '%c' (%zu bytes)", len > 0 ? buf[0] : '?', len);
	return false;
}

void
stream_delivered(Stream *st, uint64_t txn, const char *topic, int32_t partition, int64_t offset,
				 const char *failure)
{
	streamtxns_delivered(st->streams, txn, topic, partition, failure ? -1 : offset);
	if (failure != NULL)
	{
		metrics_add(st->m_errors, 1);
		if (!acktrack_has_failed(st->acks))
			snprintf(st->failure, sizeof(st->failure), "%s", failure);
		acktrack_failed(st->acks, txn);
		return;
	}
	metrics_add(st->m_messages, 1);
	acktrack_acked(st->acks, txn);
	update_positions(st);
}

bool
stream_take_reply_request(Stream *st)
{
	bool		r = st->reply_requested;

	st->reply_requested = false;
	return r;
}

uint64_t
stream_received_lsn(const Stream *st)
{
	return st->received_lsn;
}

uint64_t
stream_flush_lsn(const Stream *st)
{
	return acktrack_flush_lsn(st->acks);
}

bool
stream_retryable(const Stream *st)
{
	return st->retryable;
}

bool
stream_failed(const Stream *st, char *err, size_t errlen)
{
	if (!acktrack_has_failed(st->acks))
		return false;
	snprintf(err, errlen, "%s", st->failure[0] ? st->failure : "a delivery failed");
	return true;
}
