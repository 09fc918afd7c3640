/*
 * heartbeat.c — the heartbeat thread.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "heartbeat.h"
#include "config.h"
#include "log.h"
#include "settings.h"
#include "xalloc.h"

struct Heartbeat
{
	char	   *conninfo;
	char	   *action_query;	/* NULL: none */
	int			interval_ms;
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool		stop;
};

/* Waits one interval; false once asked to stop. */
static bool
sleep_interval(Heartbeat *hb)
{
	struct timespec until;
	bool		stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += hb->interval_ms / 1000;
	until.tv_nsec += (long) (hb->interval_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&hb->lock);
	while (!hb->stop && pthread_cond_timedwait(&hb->wake, &hb->lock, &until) == 0)
		;
	stop = hb->stop;
	pthread_mutex_unlock(&hb->lock);
	return !stop;
}

/*
 * What went wrong with the connection or a statement (res NULL: the
 * connection), logged once until it works again.
 */
static void
warn_once(Heartbeat *hb, PGconn *conn, PGresult *res, const char *what, bool *failing)
{
	char	   *msg = config_mask_pqerror(hb->conninfo, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	size_t		n = msg ? strlen(msg) : 0;

	if (!*failing)
	{
		while (n > 0 && msg[n - 1] == '\n')
			n--;
		log_msg(LOG_WARNING, "%s failed (retrying every interval): %.*s", what, (int) n, msg ? msg : "");
	}
	*failing = true;
	free(msg);
}

/* The user's heartbeat.action.query; false when it failed. */
static bool
run_action(Heartbeat *hb, PGconn *conn, bool *failing)
{
	PGresult   *res = PQexec(conn, hb->action_query);
	ExecStatusType st = PQresultStatus(res);
	bool		ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	/* A statement that leaves a transaction open would keep every later heartbeat uncommitted. */
	if (ok && PQtransactionStatus(conn) != PQTRANS_IDLE)
	{
		PQclear(PQexec(conn, "ROLLBACK"));
		if (!*failing)
			log_msg(LOG_WARNING, "heartbeat.action.query left a transaction open: rolled back; end it with COMMIT");
		*failing = true;
		PQclear(res);
		return false;
	}
	if (!ok)
		warn_once(hb, conn, res, "heartbeat.action.query", failing);
	else if (*failing)
		log_msg(LOG_INFO, "heartbeat.action.query works again");
	if (ok)
		*failing = false;
	PQclear(res);
	return ok;
}

static void *
run(void *arg)
{
	Heartbeat  *hb = arg;
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *values[] = {"10", hb->conninfo, "walstreamer heartbeat", NULL};
	PGconn	   *conn = NULL;
	bool		failing = false;
	bool		action_failing = false;

	while (sleep_interval(hb))
	{
		PGresult   *res = NULL;
		bool		ok;

		if (conn == NULL)
			conn = PQconnectdbParams(keys, values, 1);
		ok = PQstatus(conn) == CONNECTION_OK;
		if (ok)
		{
			res = PQexec(conn, "SELECT pg_catalog.pg_logical_emit_message(true, '" HEARTBEAT_PREFIX
						 "', pg_catalog.now()::text)");
			ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		}
		if (!ok)
			warn_once(hb, conn, NULL, "heartbeat", &failing);
		else if (failing)
			log_msg(LOG_INFO, "heartbeat works again");
		failing = !ok;
		PQclear(res);
		/* A failed action query leaves the connection as it was: only a lost connection is made again. */
		if (ok && hb->action_query != NULL)
			ok = run_action(hb, conn, &action_failing) || PQstatus(conn) == CONNECTION_OK;
		if (!ok)
		{
			PQfinish(conn);
			conn = NULL;
		}
	}
	PQfinish(conn);
	return NULL;
}

Heartbeat *
heartbeat_start(const char *conninfo, int interval_ms, const char *action_query)
{
	Heartbeat  *hb;

	if (interval_ms <= 0)
		return NULL;
	hb = xcalloc(1, sizeof(Heartbeat));
	hb->conninfo = xstrdup(conninfo);
	hb->action_query = action_query ? xstrdup(action_query) : NULL;
	hb->interval_ms = interval_ms;
	pthread_mutex_init(&hb->lock, NULL);
	pthread_cond_init(&hb->wake, NULL);
	if (pthread_create(&hb->thread, NULL, run, hb) != 0)
	{
		log_msg(LOG_ERROR, "cannot start the heartbeat thread");
		free(hb->conninfo);
		free(hb->action_query);
		free(hb);
		return NULL;
	}
	return hb;
}

void
heartbeat_stop(Heartbeat *hb)
{
	if (hb == NULL)
		return;
	pthread_mutex_lock(&hb->lock);
	hb->stop = true;
	pthread_cond_signal(&hb->wake);
	pthread_mutex_unlock(&hb->lock);
	pthread_join(hb->thread, NULL);
	pthread_mutex_destroy(&hb->lock);
	pthread_cond_destroy(&hb->wake);
	free(hb->conninfo);
	free(hb->action_query);
	free(hb);
}
