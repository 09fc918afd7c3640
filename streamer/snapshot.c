/*
 * snapshot.c — the snapshot's workers: snapshot.parallelism connections that
 * take the parts of the tables to read, largest tables first, and read each
 * chunk by chunk until Kafka has acknowledged every chunk (snapshot.h).
 * How a chunk is read is snapread.c's, where the parts are, snapparts.c's.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "pgcatalog.h"
#include "snapread.h"
#include "snapshot.h"
#include "source.h"
#include "topicroute.h"
#include "xalloc.h"

/* Chunks of one worker read but not yet acknowledged, at most (placed, they hold no rows)... */
#define IN_FLIGHT 6
/* ...of them not yet placed, holding their rows, at most. */
#define UNPLACED 2
/* Parts of a table per connection, at most: a connection done with its part takes another. */
#define PARTS_PER_WORKER 4

typedef enum TableState
{
	TABLE_WAITING,				/* no worker has taken it yet */
	TABLE_PLANNING,				/* a worker finds (or chooses) its parts */
	TABLE_PLANNED				/* its parts are there to take */
} TableState;

typedef struct Table
{
	uint32_t	relid;
	char	   *schema;
	char	   *name;
	char	   *filter;			/* NULL: every row */
	bool		partitioned;	/* a partitioned table's root (publish.via.partition.root) */
	TableState	state;
	Part	   *parts;			/* set once PLANNED, never moved after */
	int			nparts;
	int			parts_done;
	MetricCell *m_rows;
	MetricCell *m_chunks;
	MetricCell *m_estimated;
	MetricCell *m_estimated_chunks;
} Table;

struct Snapshot
{
	const Settings *settings;
	SnapWatch  *watch;
	Kafka	   *kafka;			/* NULL: none (the stream writes to stdout) */
	Metrics    *metrics;

	pthread_mutex_t lock;
	pthread_cond_t planned;		/* a table's parts are there to take */
	Table	   *tables;
	size_t		ntables;
	int			nworkers;
	pthread_t  *threads;
	int			finished;
	int			done_tables;
	char		error[1024];	/* first failure */
	bool		fatal;

	atomic_bool stop;
	atomic_uint_fast64_t flushed;
	atomic_uint_fast64_t rows;

	MetricCell *m_rows;
	MetricCell *m_tables_done;
	MetricCell *m_tables_total;
};

/* A chunk read and handed to the stream, not yet acknowledged. */
typedef struct Flight
{
	Chunk	   *chunk;
	Key			from;			/* the chunk's rows are after this key */
	Key			last;			/* its last row's key */
} Flight;

/* What one worker knows of the part it reads. */
typedef struct Reader
{
	Snapshot   *snap;
	TableRead	tr;
	Table	   *t;
	const Part *part;
	Key			last;			/* the last key read (sent to the stream) */
	Flight		flights[IN_FLIGHT];
	int			nflights;
	int			keyless_spoiled;	/* reads of a keyless table the table changed under */
} Reader;

__attribute__((format(printf, 3, 4)))
static void
fail_as(Snapshot *snap, bool fatal, const char *fmt,...)
{
	pthread_mutex_lock(&snap->lock);
	if (snap->error[0] == '\0')
	{
		va_list		ap;

		snap->fatal = fatal;
		va_start(ap, fmt);
		vsnprintf(snap->error, sizeof(snap->error), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&snap->planned);
	pthread_mutex_unlock(&snap->lock);
	atomic_store(&snap->stop, true);
}

#define fail(snap, ...) fail_as((snap), false, __VA_ARGS__)

/* The reader's call failed: its reason becomes the snapshot's (unless it is stopping anyway). */
static bool
failed(Reader *r)
{
	if (!atomic_load(&r->snap->stop))
		fail_as(r->snap, r->tr.fatal, "%s", r->tr.err);
	return false;
}

/*
 * A connection to the source (conninfo: source, or source.primary where
 * walstreamer writes); NULL after fail().
 */
static PGconn *
connect_source(Snapshot *snap, const char *conninfo)
{
	char		err[1024];
	PGconn	   *conn = source_connect_sql(conninfo, "walstreamer snapshot", "snapshot", err, sizeof(err));

	if (conn == NULL)
		fail(snap, "%s", err);
	/* Without the extension, rows are read in text: the settings pgvalue.h reads them in. */
	else if (snap->settings->plugin == PLUGIN_PGOUTPUT && !pgcatalog_prepare(conn, err, sizeof(err)))
	{
		fail(snap, "snapshot: %s", err);
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

static void
drop_flights(Reader *r)
{
	for (int i = 0; i < r->nflights; i++)
	{
		snapwatch_release(r->snap->watch, r->flights[i].chunk);
		key_free(&r->flights[i].from);
		key_free(&r->flights[i].last);
	}
	r->nflights = 0;
}

/*
 * Settles the oldest chunk in flight: acknowledged, its progress saved;
 * spoiled, every chunk from it on is read again.  1 when one was
 * acknowledged, 2 when they are to be read again, 0 when nothing moved, -1
 * after a failure.
 */
static int
settle(Reader *r)
{
	Flight	   *f = &r->flights[0];
	ChunkState	state;

	if (r->nflights == 0)
		return 0;
	state = snapwatch_state(r->snap->watch, f->chunk);
	if (state == CHUNK_SPOILED)
	{
		log_msg(LOG_INFO, "snapshot of %s.%s: a chunk is read again (%s)", r->t->schema, r->t->name,
				f->chunk->keyless ? "the table changed while it was read" : "too many changes while it was read");
		key_free(&r->last);
		r->last = key_copy(&f->from);
		r->keyless_spoiled += f->chunk->keyless;
		drop_flights(r);
		return tableread_await_pending(&r->tr) ? 2 : (failed(r), -1);
	}
	if (state != CHUNK_PLACED || atomic_load(&r->snap->flushed) < f->chunk->lsn)
		return 0;
	if (!part_save(&r->tr, r->part->no, &f->last, f->chunk->nrows))
		return (failed(r), -1);
	metrics_add(r->t->m_chunks, 1);
	metrics_add(r->t->m_rows, (int64_t) f->chunk->nrows);
	snapwatch_release(r->snap->watch, f->chunk);
	key_free(&f->from);
	key_free(&f->last);
	memmove(&r->flights[0], &r->flights[1], (size_t) (r->nflights - 1) * sizeof(Flight));
	r->nflights--;
	return 1;
}

/* The chunks in flight still waiting for their watermark (they hold their rows). */
static int
unplaced(Reader *r)
{
	int			n = 0;

	for (int i = 0; i < r->nflights; i++)
		n += snapwatch_state(r->snap->watch, r->flights[i].chunk) == CHUNK_SUBMITTED;
	return n;
}


/*
 * Waits until Kafka has told the table topic's partition count: the stream
 * writes each chunk's range on every partition, and must not wait for the
 * brokers when it places one (kafka_partitions keeps the count).
 */
static bool
await_topic(Reader *r)
{
	char	   *topic;
	rd_kafka_topic_t *rkt;
	char		err[512];
	bool		said = false;
	int			n = -1;

	if (r->snap->kafka == NULL)
		return true;
	topic = topicroute_of(r->snap->settings->route, r->snap->settings->topic_prefix, r->t->schema,
						  strlen(r->t->schema), r->t->name, strlen(r->t->name), err, sizeof(err));
	if (topic == NULL)
		return tableread_fail(&r->tr, true, "%s", err);
	rkt = kafka_topic(r->snap->kafka, topic);
	free(topic);
	if (rkt == NULL)
		return tableread_fail(&r->tr, false, "out of memory");
	while (!atomic_load(&r->snap->stop) && (n = kafka_partitions(r->snap->kafka, rkt, 10000, err, sizeof(err))) < 0)
	{
		if (!said)
			log_msg(LOG_WARNING, "snapshot of %s.%s waits for Kafka: %s", r->t->schema, r->t->name, err);
		said = true;
		snapwatch_wait(r->snap->watch, 1000);
	}
	kafka_topic_release(rkt);
	return n > 0 || tableread_fail(&r->tr, false, "stopped");
}

/* Reads one part chunk by chunk until every chunk is acknowledged; false after a failure or a stop. */
static bool
read_part(Reader *r)
{
	Snapshot   *snap = r->snap;
	bool		more = true;
	bool		ok = false;

	key_free(&r->last);
	r->last = key_copy(&r->part->last);
	r->keyless_spoiled = 0;
	snapwatch_table_start(snap->watch, r->t->relid);
	if (!await_topic(r) || !tableread_await_pending(&r->tr))
		goto out;
	while (!atomic_load(&snap->stop))
	{
		Chunk	   *c;
		Key			last = {0};
		bool		full;
		bool		lock;
		int			s;

		if (r->nflights == IN_FLIGHT || (!more && r->nflights > 0) || unplaced(r) >= UNPLACED)
		{
			if ((s = settle(r)) < 0)
				goto out;
			if (s == 0)
				snapwatch_wait(snap->watch, 100);
			else if (s == 2)
				more = true;
			continue;
		}
		if (!more)
			break;
		c = snapwatch_reserve(snap->watch, r->t->relid, false);
		lock = r->keyless_spoiled >= SNAPSHOT_KEYLESS_TRIES;
		if (lock)
			log_msg(LOG_INFO, "snapshot of %s.%s: changed under %d reads, read under a SHARE lock%s", r->t->schema,
					r->t->name, r->keyless_spoiled, snap->settings->primary ? " on source.primary" : "");
		if (!tableread_chunk(&r->tr, c, &r->last, &r->part->upto, &last, &full, lock))
		{
			snapwatch_release(snap->watch, c);
			key_free(&last);
			goto out;
		}
		atomic_fetch_add(&snap->rows, c->nrows);
		metrics_add(snap->m_rows, (int64_t) c->nrows);
		/* An empty chunk too: its range says the target has nothing more there. */
		if (!lock)
		{
			snapwatch_submit(snap->watch, c);
			if (!tableread_watermark(&r->tr, c, false))
			{
				snapwatch_release(snap->watch, c);
				key_free(&last);
				goto out;
			}
		}
		r->flights[r->nflights++] = (Flight) {c, key_copy(&r->last), last};
		if (last.n > 0)
		{
			key_free(&r->last);
			r->last = key_copy(&last);
		}
		more = full;
	}
	ok = !atomic_load(&snap->stop) && r->nflights == 0;
out:
	if (!ok && !atomic_load(&snap->stop))
		failed(r);
	drop_flights(r);
	snapwatch_table_stop(snap->watch, r->t->relid);
	return ok;
}

/*
 * The next part to read, largest tables first: *part NULL when the table is
 * to be planned first (its parts found or chosen).  False when nothing is
 * left for this worker.
 */
static bool
take(Snapshot *snap, Table **table, Part **part)
{
	bool		found = false;

	pthread_mutex_lock(&snap->lock);
	while (!found && !atomic_load(&snap->stop))
	{
		bool		planning = false;

		for (size_t i = 0; i < snap->ntables && !found; i++)
		{
			Table	   *t = &snap->tables[i];

			if (t->state == TABLE_WAITING)
			{
				t->state = TABLE_PLANNING;
				*table = t;
				*part = NULL;
				found = true;
			}
			else if (t->state == TABLE_PLANNING)
				planning = true;
			else
				for (int p = 0; p < t->nparts && !found; p++)
					if (!t->parts[p].done && !t->parts[p].taken)
					{
						t->parts[p].taken = true;
						*table = t;
						*part = &t->parts[p];
						found = true;
					}
		}
		/* A table being planned may yet give this worker a part. */
		if (!found && !planning)
			break;
		if (!found)
		{
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&snap->planned, &snap->lock, &until);
		}
	}
	pthread_mutex_unlock(&snap->lock);
	return found;
}

/* The table is read: counted, logged. */
static void
finish_table(Snapshot *snap, const Table *t)
{
	pthread_mutex_lock(&snap->lock);
	snap->done_tables++;
	pthread_mutex_unlock(&snap->lock);
	metrics_add(snap->m_tables_done, 1);
	log_msg(LOG_INFO, "snapshot: %s.%s read", t->schema, t->name);
}

/* The part is read (or was, found done at the start); the last of the table's marks the table done. */
static bool
finish_part(Reader *r, Part *part)
{
	Snapshot   *snap = r->snap;
	Table	   *t = r->t;
	bool		table;

	pthread_mutex_lock(&snap->lock);
	if (!part->done)
	{
		part->done = true;
		t->parts_done++;
	}
	table = t->parts_done == t->nparts;
	pthread_mutex_unlock(&snap->lock);
	if (!part_done(&r->tr, part->no, table))
		return failed(r);
	if (table)
		finish_table(snap, t);
	return true;
}

/* Finds or chooses the table's parts; takes the first one not done into *part (NULL: none left). */
static bool
plan(Reader *r, Part **part)
{
	Snapshot   *snap = r->snap;
	Table	   *t = r->t;
	Part	   *parts;
	int			nparts;
	int			most = snap->settings->snapshot_parallelism * PARTS_PER_WORKER;
	Part	   *last_done = NULL;

	*part = NULL;
	if (!parts_plan(&r->tr, most, &parts, &nparts))
	{
		pthread_mutex_lock(&snap->lock);
		t->state = TABLE_WAITING;
		pthread_cond_broadcast(&snap->planned);
		pthread_mutex_unlock(&snap->lock);
		return failed(r);
	}
	pthread_mutex_lock(&snap->lock);
	t->parts = parts;
	t->nparts = nparts;
	for (int i = 0; i < nparts; i++)
	{
		if (parts[i].done)
		{
			t->parts_done++;
			last_done = &parts[i];
		}
		else if (*part == NULL)
		{
			parts[i].taken = true;
			*part = &parts[i];
		}
	}
	t->state = TABLE_PLANNED;
	pthread_cond_broadcast(&snap->planned);
	pthread_mutex_unlock(&snap->lock);
	/* Every part was done (a kill before the table was marked), or the request is gone. */
	if (*part == NULL && nparts > 0)
		return finish_part(r, last_done);
	if (nparts == 0)
		finish_table(snap, t);
	return true;
}

static void *
worker(void *arg)
{
	Snapshot   *snap = arg;
	Reader		r = {snap};
	PGconn	   *conn = NULL;
	PGconn	   *book = NULL;	/* progress and watermarks: conn, or on source.primary */
	Table	   *t;
	Part	   *part;

	while (take(snap, &t, &part))
	{
		bool		ok;

		if (conn == NULL)
		{
			if ((conn = connect_source(snap, snap->settings->source)) == NULL)
				break;
			book = conn;
			if (snap->settings->primary != NULL &&
				(book = connect_source(snap, snap->settings->primary)) == NULL)
				break;
			/*
			 * Progress rows are not waited for: one lost in a crash only
			 * means its chunk is read again (the watermarks are,
			 * tableread_watermark()).
			 */
			PQclear(PQexec(book, "SET synchronous_commit = off"));
		}
		r.t = t;
		tableread_init(&r.tr, snap->settings, snap->watch, &snap->stop, conn, book, t->relid, t->schema, t->name,
					   t->partitioned, t->filter);
		ok = part != NULL || plan(&r, &part);
		if (ok && part != NULL)
		{
			r.part = part;
			ok = read_part(&r) && finish_part(&r, part);
		}
		tableread_free(&r.tr);
		if (!ok)
			break;
	}
	key_free(&r.last);
	if (book != conn)
		PQfinish(book);
	PQfinish(conn);

	pthread_mutex_lock(&snap->lock);
	snap->finished++;
	pthread_mutex_unlock(&snap->lock);
	return NULL;
}

/* The tables not read yet, largest first; false with err. */
static bool
list_tables(Snapshot *snap, char *err, size_t errlen)
{
	PGconn	   *conn = connect_source(snap, snap->settings->writes);
	const char *params[1] = {snap->settings->slot_name};
	PGresult   *res;

	if (conn == NULL)
	{
		snprintf(err, errlen, "%s", snap->error);
		return false;
	}
	/* A table dropped since it was asked for has nothing left to read. */
	res = PQexecParams(conn,
					   "WITH gone AS (DELETE FROM pgcdc.snapshot_progress p WHERE p.slot_name = $1 "
					   "  AND p.done IS NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c "
					   "  WHERE c.oid = p.relid AND c.relkind IN ('r', 'p'))) "
					   "SELECT p.relid, p.schema_name, p.table_name, p.filter, "
					   "coalesce(p.estimated_rows, 0), p.rows, c.relkind = 'p' "
					   "FROM pgcdc.snapshot_progress p JOIN pg_catalog.pg_class c ON c.oid = p.relid "
					   "WHERE p.slot_name = $1 AND p.done IS NULL "
					   "AND NOT coalesce((SELECT s.snapshot_paused FROM pgcdc.streamer_slot s "
					   "  WHERE s.slot_name = $1), false) "
					   "ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, 2, 3",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "snapshot: cannot read pgcdc.snapshot_progress (is the pgcdc extension "
				 "installed in this database? CREATE EXTENSION pgcdc): %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return false;
	}
	snap->ntables = (size_t) PQntuples(res);
	snap->tables = xcalloc(snap->ntables ? snap->ntables : 1, sizeof(Table));
	for (size_t i = 0; i < snap->ntables; i++)
	{
		Table	   *t = &snap->tables[i];
		char		label[512];
		const char *labels[3] = {"table", label, NULL};
		long long	estimated;

		t->relid = (uint32_t) strtoul(PQgetvalue(res, (int) i, 0), NULL, 10);
		t->schema = xstrdup(PQgetvalue(res, (int) i, 1));
		t->name = xstrdup(PQgetvalue(res, (int) i, 2));
		if (!PQgetisnull(res, (int) i, 3))
			t->filter = xstrdup(PQgetvalue(res, (int) i, 3));
		t->partitioned = strcmp(PQgetvalue(res, (int) i, 6), "t") == 0;
		snprintf(label, sizeof(label), "%s.%s", t->schema, t->name);
		t->m_rows = metrics_cell(snap->metrics, "walstreamer_snapshot_table_rows", METRIC_GAUGE,
								 "Rows of the table its snapshot has sent and Kafka acknowledged", labels);
		t->m_chunks = metrics_cell(snap->metrics, "walstreamer_snapshot_table_chunks", METRIC_GAUGE,
								   "Chunks of the table its snapshot has sent and Kafka acknowledged", labels);
		t->m_estimated = metrics_cell(snap->metrics, "walstreamer_snapshot_table_estimated_rows", METRIC_GAUGE,
									  "Rows the table had when its snapshot was asked for (pg_class.reltuples)",
									  labels);
		t->m_estimated_chunks = metrics_cell(snap->metrics, "walstreamer_snapshot_table_estimated_chunks",
											 METRIC_GAUGE, "Chunks the table's estimated rows make "
											 "(snapshot.chunk.rows each; wide rows make more)", labels);
		estimated = strtoll(PQgetvalue(res, (int) i, 4), NULL, 10);
		metrics_set(t->m_estimated, estimated);
		metrics_set(t->m_estimated_chunks, estimated / snap->settings->snapshot_chunk_rows + 1);
		metrics_set(t->m_rows, strtoll(PQgetvalue(res, (int) i, 5), NULL, 10));
	}
	PQclear(res);
	PQfinish(conn);
	return true;
}

Snapshot *
snapshot_start(const Settings *s, SnapWatch *w, Kafka *k, Metrics *m, char *err, size_t errlen)
{
	Snapshot   *snap = xcalloc(1, sizeof(Snapshot));

	err[0] = '\0';
	snap->settings = s;
	snap->watch = w;
	snap->kafka = k;
	snap->metrics = m;
	pthread_mutex_init(&snap->lock, NULL);
	pthread_cond_init(&snap->planned, NULL);
	snap->m_rows = metrics_cell(m, "walstreamer_snapshot_rows_total", METRIC_COUNTER,
								"Rows read by snapshots", NULL);
	snap->m_tables_done = metrics_cell(m, "walstreamer_snapshot_tables_done", METRIC_GAUGE,
									   "Tables the running snapshot has read", NULL);
	snap->m_tables_total = metrics_cell(m, "walstreamer_snapshot_tables", METRIC_GAUGE,
										"Tables the running snapshot reads", NULL);
	metrics_set(snap->m_tables_done, 0);
	if (!list_tables(snap, err, errlen) || snap->ntables == 0)
	{
		snapshot_free(snap);
		return NULL;
	}
	metrics_set(snap->m_tables_total, (int64_t) snap->ntables);
	log_msg(LOG_INFO, "snapshot: %zu table(s) to read, %d connection(s), chunks of %d rows",
			snap->ntables, s->snapshot_parallelism, s->snapshot_chunk_rows);

	/* As many as asked for: a big table's parts keep them all busy. */
	snap->nworkers = s->snapshot_parallelism;
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
	return snap;
}

void
snapshot_flushed(Snapshot *snap, uint64_t lsn)
{
	if (atomic_exchange(&snap->flushed, lsn) != lsn)
		snapwatch_wake(snap->watch);
}

bool
snapshot_complete(Snapshot *snap)
{
	bool		done;

	pthread_mutex_lock(&snap->lock);
	done = snap->finished == snap->nworkers && snap->error[0] == '\0' &&
		(size_t) snap->done_tables == snap->ntables;
	pthread_mutex_unlock(&snap->lock);
	return done;
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
	pthread_mutex_lock(&snap->lock);
	pthread_cond_broadcast(&snap->planned);
	pthread_mutex_unlock(&snap->lock);
	for (int i = 0; i < snap->nworkers; i++)
		pthread_join(snap->threads[i], NULL);
	for (size_t i = 0; i < snap->ntables; i++)
	{
		free(snap->tables[i].schema);
		free(snap->tables[i].name);
		free(snap->tables[i].filter);
		parts_free(snap->tables[i].parts, snap->tables[i].nparts);
	}
	free(snap->tables);
	free(snap->threads);
	pthread_cond_destroy(&snap->planned);
	pthread_mutex_destroy(&snap->lock);
	free(snap);
}
