/*
 * test_metrics.c — the Prometheus registry: families in order, labels
 * escaped, cells shared by name and labels, and the HTTP endpoint.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "unit.h"

static char *
http_get(int port, const char *path)
{
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	char		req[256];
	char	   *buf = calloc(1, 65536);
	size_t		len = 0;
	ssize_t		n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
	{
		close(fd);
		return buf;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (write(fd, req, strlen(req)) < 0)
		return buf;
	while ((n = read(fd, buf + len, 65535 - len)) > 0)
		len += (size_t) n;
	close(fd);
	return buf;
}

int
main(void)
{
	Metrics    *m = metrics_new();
	const char *const a[] = {"table", "public.\"q\"\\x\n", "op", "c", NULL};
	const char *const b[] = {"table", "s.t", "op", "u", NULL};
	MetricCell *c1 = metrics_cell(m, "x_events_total", METRIC_COUNTER, "events", a);
	MetricCell *c2 = metrics_cell(m, "x_events_total", METRIC_COUNTER, "events", b);
	MetricCell *g = metrics_cell(m, "x_lsn", METRIC_GAUGE, "position", NULL);
	char	   *text;
	char		err[256];
	int			port;
	char	   *resp;

	metrics_add(c1, 2);
	metrics_add(metrics_cell(m, "x_events_total", METRIC_COUNTER, "events", a), 3);
	metrics_add(c2, 1);
	metrics_set(g, 1234567890123);
	CHECK(metrics_get(c1) == 5, "same labels, same cell: %lld", (long long) metrics_get(c1));
	text = metrics_render(m);
	CHECK(strcmp(text,
				 "# HELP x_events_total events\n# TYPE x_events_total counter\n"
				 "x_events_total{table=\"public.\\\"q\\\"\\\\x\\n\",op=\"c\"} 5\n"
				 "x_events_total{table=\"s.t\",op=\"u\"} 1\n"
				 "# HELP x_lsn position\n# TYPE x_lsn gauge\nx_lsn 1234567890123\n") == 0,
		  "exposition text:\n%s", text);
	free(text);

	CHECK(!metrics_listen(m, "no-port", err, sizeof(err)) && strstr(err, "host:port"), "%s", err);
	for (port = 19100; port < 19200 && !metrics_listen(m, (snprintf(err, sizeof(err), "127.0.0.1:%d", port), err), err, sizeof(err)); port++)
		;
	resp = http_get(port, "/metrics");
	CHECK(strstr(resp, "200 OK") && strstr(resp, "x_lsn 1234567890123"), "GET /metrics:\n%s", resp);
	free(resp);
	resp = http_get(port, "/healthz");
	CHECK(strstr(resp, "200 OK") && strstr(resp, "\r\n\r\nok\n"), "healthy:\n%s", resp);
	free(resp);
	metrics_set_health(m, false, "source unreachable");
	resp = http_get(port, "/healthz");
	CHECK(strstr(resp, "503") && strstr(resp, "source unreachable"), "unhealthy:\n%s", resp);
	free(resp);
	resp = http_get(port, "/nope");
	CHECK(strstr(resp, "404"), "unknown path:\n%s", resp);
	free(resp);
	metrics_free(m);
	return unit_summary("metrics");
}
