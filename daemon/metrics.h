/*
 * metrics.h — counters and gauges served as Prometheus text, plus /healthz.
 *
 * Cells are created on first use and never move, so a daemon keeps the
 * pointer and updates it with one relaxed atomic operation from any thread.
 * The HTTP server (libmicrohttpd) runs in its own thread and only reads.
 * The Metrics owns its cells; metrics_free() stops the server first.
 */
#ifndef PGCDC_DAEMON_METRICS_H
#define PGCDC_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum MetricType
{
	METRIC_COUNTER,
	METRIC_GAUGE
} MetricType;

typedef struct Metrics Metrics;
typedef struct MetricCell MetricCell;

extern Metrics *metrics_new(void);
extern void metrics_free(Metrics *m);

/*
 * The cell of a metric with one set of labels, e.g. name "walstreamer_events_total",
 * labels {"table", "public.t", "op", "c", NULL}: pairs of label name and raw value
 * (escaped here).  The same name must always come with the same type and help.
 */
extern MetricCell *metrics_cell(Metrics *m, const char *name, MetricType type,
								const char *help, const char *const *labels);
extern void metrics_add(MetricCell *c, int64_t delta);
extern void metrics_set(MetricCell *c, int64_t value);
extern int64_t metrics_get(const MetricCell *c);

/* What /healthz answers: 200 "ok", or 503 with the reason. */
extern void metrics_set_health(Metrics *m, bool healthy, const char *why);

/* The exposition text (malloc'd). */
extern char *metrics_render(Metrics *m);

/* Serves GET /metrics and /healthz at "host:port", or ":port" on 127.0.0.1. */
extern bool metrics_listen(Metrics *m, const char *address, char *err, size_t errlen);

#endif							/* PGCDC_DAEMON_METRICS_H */
