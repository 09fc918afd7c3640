/*
 * snapshot.c — parallel, chunked, consistent table reads into Kafka.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "config.h"
#include "log.h"
#include "record.h"
#include "relations.h"
#include "snapshot.h"
#include "standin.h"
#include "xalloc.h"

typedef struct Table
{
	char	   *oid;
	char	   *schema;
	char	   *name;
} Table;

struct Snapshot
{
	const Settings *settings;
	Kafka	   *kafka;
	char		name[128];
	char		lsn[32];
	uint64_t	lsn_value;

	pthread_mutex_t lock;
	pthread_cond_t changed;
	Table	   *tables;
	size_t		ntables;
	size_t		next_table;
	int			nworkers;
	pthread_t  *threads;
	int			imported;		/* workers that imported the snapshot, or failed to */
	int			finished;
	char		error[1024];	/* first failure */
	bool		fatal;			/* it: a retry cannot help */

	atomic_bool stop;
	atomic_uint_fast64_t sent;
	atomic_uint_fast64_t acked;
	atomic_uint_fast64_t rows;

	MetricCell *m_rows;
	MetricCell *m_tables_done;
	MetricCell *m_tables_total;
	MetricCell *m_oversized;
};

/* Records the first failure (fatal: one a retry cannot help) and stops every worker. */
__attribute__((format(printf, 3, 4)))
static void
fail_as(Snapshot *snap, bool fatal, const char *fmt,...)
{
	pthread_mutex_lock(&snap->lock);
	if (snap->error[0] == '\0')
	{
		size_t		n;
		va_list		ap;

		snap->fatal = fatal;
		va_start(ap, fmt);
		vsnprintf(snap->error, sizeof(snap->error), fmt, ap);
		va_end(ap);
		n = strlen(snap->error);
		while (n > 0 && snap->error[n - 1] == '\n')
			snap->error[--n] = '\0';
	}
	pthread_mutex_unlock(&snap->lock);
	atomic_store(&snap->stop, true);
}

#define fail(snap, ...) fail_as((snap), false, __VA_ARGS__)

/*
 * A worker's fetch, in bytes (snapshot.fetch.size bounds it in rows): what
 * libpq holds of a table at a time, whatever its rows' width.
 */
#define SNAPSHOT_FETCH_BYTES (8 * 1024 * 1024)

/* Rows of avg bytes in one fetch: SNAPSHOT_FETCH_BYTES' worth, 1 to most. */
static size_t
fetch_rows(size_t avg, size_t most)
{
	size_t		n = SNAPSHOT_FETCH_BYTES / (avg ? avg : 1);

	return n < 1 ? 1 : n > most ? most : n;
}

static PGconn *
connect_and_import(Snapshot *snap)
{
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *values[] = {"10", snap->settings->source, "walstreamer snapshot", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);
	char		sql[256];
	PGresult   *res;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *masked = config_mask_pqerror(snap->settings->source, PQerrorMessage(conn));

		fail(snap, "snapshot: cannot connect to the source: %s", masked ? masked : "(message withheld)");
		free(masked);
		PQfinish(conn);
		return NULL;
	}
	snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
			 "SET TRANSACTION SNAPSHOT '%s'", snap->name);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fail(snap, "snapshot: cannot import the slot's snapshot: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/*
 * Produces one row, waiting (not dropping) while the producer's queue is
 * full.  A row larger than Kafka takes goes as oversized.mode says: its
 * stand-in in its place, or the snapshot fails for good.
 */
static bool
produce_row(Snapshot *snap, Relation *rel, Record *rec, const uint8_t *row, size_t len)
{
	KafkaHeaders h = {'r', snap->lsn_value, NULL, 0};
	uint8_t		keybuf[512];
	uint8_t    *key = keybuf;
	size_t		keylen;
	size_t		total;
	void	   *value;
	char		err[900];
	char		why[256];
	KafkaResult rc;
	Oversize	big;

	if (!record_scan(row, len, rec, why, sizeof(why)))
	{
		fail(snap, "snapshot: malformed record from pgcdc.read_record: %s", why);
		return false;
	}
	keylen = record_key(&rec->after, rel->keys, rel->nkeys, keybuf, sizeof(keybuf));
	if (keylen > sizeof(keybuf))
	{
		key = xmalloc(keylen);
		record_key(&rec->after, rel->keys, rel->nkeys, key, keylen);
	}
	value = relation_value(rel, row, len, &total);
	while ((rc = kafka_produce(snap->kafka, rel->handle, RD_KAFKA_PARTITION_UA, keylen ? key : NULL,
							   keylen, value, total, &h, SNAPSHOT_OPAQUE, &big, err, sizeof(err))) != KAFKA_QUEUED)
	{
		struct timespec ts = {0, 1000000};

		if (rc == KAFKA_TOO_LARGE &&
			standin_apply(snap->settings->oversized_mode, &big, &value, &total, &h, snap->m_oversized,
						  err, sizeof(err)))
			continue;
		if (rc != KAFKA_QUEUE_FULL || atomic_load(&snap->stop))
			break;
		nanosleep(&ts, NULL);	/* the main thread serves the producer's reports */
	}
	if (key != keybuf)
		free(key);
	if (rc != KAFKA_QUEUED)
	{
		free(value);
		if (rc != KAFKA_QUEUE_FULL)
			fail_as(snap, rc == KAFKA_TOO_LARGE, "snapshot: %s", err);
		return false;
	}
	atomic_fetch_add(&snap->sent, 1);
	return true;
}

static PGresult *
exec_binary(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 1);
}

/* One table: its RELATION record, then its rows through a cursor. */
static bool
read_table(Snapshot *snap, PGconn *conn, Relations *rels, Record *rec, const Table *t)
{
	const char *params[2] = {t->oid, snap->lsn};
	char	   *qschema = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
	char	   *qname = PQescapeIdentifier(conn, t->name, strlen(t->name));
	char		sql[1024];
	char		fetch[64];
	PGresult   *res;
	Relation   *rel;
	char		why[256];
	bool		ok = false;
	uint64_t	rows = 0;

	res = exec_binary(conn, "SELECT pgcdc.relation_record($1::oid::regclass)", 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		fail(snap, "snapshot: pgcdc.relation_record: %s", PQerrorMessage(conn));
		goto done;
	}
	if (!record_scan((const uint8_t *) PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), rec,
					 why, sizeof(why)))
	{
		fail(snap, "snapshot: bad relation record: %s", why);
		goto done;
	}
	rel = relations_put(rels, rec, (const uint8_t *) PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
	PQclear(res);
	res = NULL;
	if (rel->handle == NULL)
		rel->handle = kafka_topic(snap->kafka, rel->topic);

	snprintf(sql, sizeof(sql), "DECLARE pgcdc_snapshot NO SCROLL CURSOR FOR "
			 "SELECT pgcdc.read_record(t.*, $1::pg_lsn) FROM ONLY %s.%s t", qschema, qname);
	res = PQexecParams(conn, sql, 1, NULL, params + 1, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fail(snap, "snapshot: %s", PQerrorMessage(conn));
		goto done;
	}
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM pgcdc_snapshot", snap->settings->snapshot_fetch_size);
	for (;;)
	{
		int			n;
		size_t		bytes = 0;

		PQclear(res);
		res = exec_binary(conn, fetch, 0, NULL);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fail(snap, "snapshot: %s", PQerrorMessage(conn));
			goto done;
		}
		if ((n = PQntuples(res)) == 0)
			break;
		for (int i = 0; i < n; i++)
		{
			bytes += (size_t) PQgetlength(res, i, 0);
			if (!produce_row(snap, rel, rec, (const uint8_t *) PQgetvalue(res, i, 0),
							 (size_t) PQgetlength(res, i, 0)))
				goto done;
		}
		/* The next fetch in bytes, at most SNAPSHOT_FETCH_BYTES by these rows' size: wide rows, fewer. */
		snprintf(fetch, sizeof(fetch), "FETCH %zu FROM pgcdc_snapshot",
				 fetch_rows(bytes / (size_t) n, (size_t) snap->settings->snapshot_fetch_size));
		rows += (uint64_t) n;
		atomic_fetch_add(&snap->rows, (uint64_t) n);
		metrics_add(snap->m_rows, n);
		if (atomic_load(&snap->stop))
			goto done;
	}
	PQclear(res);
	res = PQexec(conn, "CLOSE pgcdc_snapshot");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fail(snap, "snapshot: %s", PQerrorMessage(conn));
	else
	{
		metrics_add(snap->m_tables_done, 1);
		log_msg(LOG_INFO, "snapshot: %s.%s: %llu rows", t->schema, t->name, (unsigned long long) rows);
	}

done:
	PQclear(res);
	PQfreemem(qschema);
	PQfreemem(qname);
	return ok;
}

static void *
worker(void *arg)
{
	Snapshot   *snap = arg;
	PGconn	   *conn = connect_and_import(snap);
	Relations  *rels = relations_new(snap->settings->topic_prefix, kafka_topic_release);
	Record		rec;

	record_init(&rec);
	pthread_mutex_lock(&snap->lock);
	snap->imported++;
	pthread_cond_broadcast(&snap->changed);
	pthread_mutex_unlock(&snap->lock);

	while (conn != NULL && !atomic_load(&snap->stop))
	{
		Table	   *t = NULL;

		pthread_mutex_lock(&snap->lock);
		if (snap->next_table < snap->ntables)
			t = &snap->tables[snap->next_table++];
		pthread_mutex_unlock(&snap->lock);
		if (t == NULL || !read_table(snap, conn, rels, &rec, t))
			break;
	}
	record_free(&rec);
	relations_free(rels);
	PQfinish(conn);				/* read only: ending the session ends the transaction */

	pthread_mutex_lock(&snap->lock);
	snap->finished++;
	pthread_cond_broadcast(&snap->changed);
	pthread_mutex_unlock(&snap->lock);
	return NULL;
}

/* The tables to read, largest first, as seen by the snapshot itself. */
static bool
list_tables(Snapshot *snap, char *err, size_t errlen)
{
	PGconn	   *conn = connect_and_import(snap);
	const char *params[2] = {snap->settings->include_tables, snap->settings->exclude_tables};
	PGresult   *res;

	if (conn == NULL)
	{
		snprintf(err, errlen, "%s", snap->error);
		return false;
	}
	res = PQexecParams(conn,
					   "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c "
					   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					   "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
					   "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
					   "AND n.nspname !~ '^pg_(toast|temp)' "
					   "AND pgcdc.table_included(c.oid, $1, $2) "
					   "ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, 2, 3",
					   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "snapshot: cannot list the tables (is the pgcdc extension installed "
				 "in this database? CREATE EXTENSION pgcdc): %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return false;
	}
	snap->ntables = (size_t) PQntuples(res);
	snap->tables = xcalloc(snap->ntables, sizeof(Table));
	for (size_t i = 0; i < snap->ntables; i++)
	{
		snap->tables[i].oid = xstrdup(PQgetvalue(res, (int) i, 0));
		snap->tables[i].schema = xstrdup(PQgetvalue(res, (int) i, 1));
		snap->tables[i].name = xstrdup(PQgetvalue(res, (int) i, 2));
	}
	PQclear(res);
	PQfinish(conn);
	return true;
}

Snapshot *
snapshot_start(const Settings *s, Kafka *k, Metrics *m, const char *snapshot_name,
			   uint64_t lsn, char *err, size_t errlen)
{
	Snapshot   *snap = xcalloc(1, sizeof(Snapshot));

	snap->settings = s;
	snap->kafka = k;
	snprintf(snap->name, sizeof(snap->name), "%s", snapshot_name);
	snprintf(snap->lsn, sizeof(snap->lsn), LSN_FMT, LSN_ARGS(lsn));
	snap->lsn_value = lsn;
	pthread_mutex_init(&snap->lock, NULL);
	pthread_cond_init(&snap->changed, NULL);
	snap->m_rows = metrics_cell(m, "walstreamer_snapshot_rows_total", METRIC_COUNTER,
								"Rows read by snapshots", NULL);
	snap->m_tables_done = metrics_cell(m, "walstreamer_snapshot_tables_done", METRIC_GAUGE,
									   "Tables the running snapshot has read", NULL);
	snap->m_tables_total = metrics_cell(m, "walstreamer_snapshot_tables", METRIC_GAUGE,
										"Tables the running snapshot reads", NULL);
	snap->m_oversized = metrics_cell(m, "walstreamer_oversized_total", METRIC_COUNTER,
									 "Changes larger than Kafka takes, sent as a stand-in (oversized.mode)", NULL);
	metrics_set(snap->m_tables_done, 0);
	if (!list_tables(snap, err, errlen))
	{
		snapshot_free(snap);
		return NULL;
	}
	metrics_set(snap->m_tables_total, (int64_t) snap->ntables);
	log_msg(LOG_INFO, "snapshot at " LSN_FMT ": %zu table(s), %d connection(s)",
			LSN_ARGS(lsn), snap->ntables, s->snapshot_parallelism);

	snap->nworkers = s->snapshot_parallelism;
	if ((size_t) snap->nworkers > snap->ntables)
		snap->nworkers = snap->ntables > 0 ? (int) snap->ntables : 1;
	snap->threads = xcalloc((size_t) snap->nworkers, sizeof(pthread_t));
	for (int i = 0; i < snap->nworkers; i++)
	{
		if (pthread_create(&snap->threads[i], NULL, worker, snap) != 0)
		{
			snap->nworkers = i;
			fail(snap, "snapshot: cannot start a thread");
			break;
		}
	}
	/* The exporting connection must stay idle until every worker has imported. */
	pthread_mutex_lock(&snap->lock);
	while (snap->imported < snap->nworkers)
		pthread_cond_wait(&snap->changed, &snap->lock);
	pthread_mutex_unlock(&snap->lock);
	if (snapshot_failed(snap, err, errlen))
	{
		snapshot_free(snap);
		return NULL;
	}
	return snap;
}

bool
snapshot_complete(Snapshot *snap)
{
	bool		done;

	pthread_mutex_lock(&snap->lock);
	done = snap->finished == snap->nworkers && snap->error[0] == '\0';
	pthread_mutex_unlock(&snap->lock);
	return done && atomic_load(&snap->acked) == atomic_load(&snap->sent);
}

bool
snapshot_failed(Snapshot *snap, char *err, size_t errlen)
{
	bool		failed;

	pthread_mutex_lock(&snap->lock);
	failed = snap->error[0] != '\0';
	if (failed)
		snprintf(err, errlen, "%s", snap->error);
	pthread_mutex_unlock(&snap->lock);
	return failed;
}

void
snapshot_delivered(Snapshot *snap, const char *failure)
{
	if (failure == NULL)
	{
		atomic_fetch_add(&snap->acked, 1);
		return;
	}
	fail(snap, "snapshot: %s", failure);
}

bool
snapshot_fatal(Snapshot *snap)
{
	bool		fatal;

	pthread_mutex_lock(&snap->lock);
	fatal = snap->fatal;
	pthread_mutex_unlock(&snap->lock);
	return fatal;
}

uint64_t
snapshot_rows(Snapshot *snap)
{
	return atomic_load(&snap->rows);
}

void
snapshot_free(Snapshot *snap)
{
	if (snap == NULL)
		return;
	atomic_store(&snap->stop, true);
	for (int i = 0; i < snap->nworkers; i++)
		pthread_join(snap->threads[i], NULL);
	for (size_t i = 0; i < snap->ntables; i++)
	{
		free(snap->tables[i].oid);
		free(snap->tables[i].schema);
		free(snap->tables[i].name);
	}
	free(snap->tables);
	free(snap->threads);
	pthread_mutex_destroy(&snap->lock);
	pthread_cond_destroy(&snap->changed);
	free(snap);
}
