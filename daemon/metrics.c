/*
 * metrics.c — a tiny Prometheus registry and its HTTP endpoint.
 *
 * Families keep the order they were first used in; each holds a list of
 * cells.  Creation and rendering take the registry's mutex; updates are
 * atomic and lock-free.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics.h"

#include "xalloc.h"

struct MetricCell
{
	_Atomic int64_t value;
	char	   *labels;			/* rendered: table="a",op="c"; "" for none */
	struct MetricCell *next;
};

typedef struct Family
{
	char	   *name;
	char	   *help;
	MetricType	type;
	MetricCell *cells;
	MetricCell **tail;
	struct Family *next;
} Family;

struct Metrics
{
	pthread_mutex_t lock;
	Family	   *families;
	Family	  **tail;
	bool		healthy;
	char		why[256];
	struct MHD_Daemon *httpd;
};

Metrics *
metrics_new(void)
{
	Metrics    *m = xcalloc(1, sizeof(Metrics));

	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->families;
	m->healthy = true;
	return m;
}

void
metrics_free(Metrics *m)
{
	Family	   *f,
			   *fnext;

	if (m == NULL)
		return;
	if (m->httpd != NULL)
		MHD_stop_daemon(m->httpd);
	for (f = m->families; f; f = fnext)
	{
		MetricCell *c,
				   *cnext;

		fnext = f->next;
		for (c = f->cells; c; c = cnext)
		{
			cnext = c->next;
			free(c->labels);
			free(c);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* name="value",... with \\, \" and \n escaped as the exposition format asks. */
static char *
render_labels(const char *const *labels)
{
	size_t		cap = 1;
	char	   *out,
			   *p;

	for (int i = 0; labels && labels[i] && labels[i + 1]; i += 2)
		cap += strlen(labels[i]) + 2 * strlen(labels[i + 1]) + 4;
	p = out = xcalloc(1, cap);
	for (int i = 0; labels && labels[i] && labels[i + 1]; i += 2)
	{
		if (p != out)
			*p++ = ',';
		p += sprintf(p, "%s=\"", labels[i]);
		for (const char *v = labels[i + 1]; *v; v++)
		{
			if (*v == '\\' || *v == '"' || *v == '\n')
			{
				*p++ = '\\';
				*p++ = *v == '\n' ? 'n' : *v;
			}
			else
				*p++ = *v;
		}
		*p++ = '"';
	}
	*p = '\0';
	return out;
}

MetricCell *
metrics_cell(Metrics *m, const char *name, MetricType type, const char *help,
			 const char *const *labels)
{
	char	   *rendered = render_labels(labels);
	Family	   *f;
	MetricCell *c;

	pthread_mutex_lock(&m->lock);
	for (f = m->families; f && strcmp(f->name, name) != 0; f = f->next)
		;
	if (f == NULL)
	{
		f = xcalloc(1, sizeof(Family));
		f->name = xstrdup(name);
		f->help = xstrdup(help);
		f->type = type;
		f->tail = &f->cells;
		*m->tail = f;
		m->tail = &f->next;
	}
	for (c = f->cells; c && strcmp(c->labels, rendered) != 0; c = c->next)
		;
	if (c == NULL)
	{
		c = xcalloc(1, sizeof(MetricCell));
		c->labels = rendered;
		rendered = NULL;
		*f->tail = c;
		f->tail = &c->next;
	}
	pthread_mutex_unlock(&m->lock);
	free(rendered);
	return c;
}

void
metrics_add(MetricCell *c, int64_t delta)
{
	atomic_fetch_add_explicit(&c->value, delta, memory_order_relaxed);
}

void
metrics_set(MetricCell *c, int64_t value)
{
	atomic_store_explicit(&c->value, value, memory_order_relaxed);
}

int64_t
metrics_get(const MetricCell *c)
{
	return atomic_load_explicit(&((MetricCell *) c)->value, memory_order_relaxed);
}

void
metrics_set_health(Metrics *m, bool healthy, const char *why)
{
	pthread_mutex_lock(&m->lock);
	m->healthy = healthy;
	snprintf(m->why, sizeof(m->why), "%s", why ? why : "");
	pthread_mutex_unlock(&m->lock);
}

/* A growing string for the exposition text. */
typedef struct Text
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Text;

__attribute__((format(printf, 2, 3)))
static void
text_printf(Text *t, const char *fmt,...)
{
	va_list		ap;
	int			n;

	for (;;)
	{
		va_start(ap, fmt);
		n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if ((size_t) n < t->cap - t->len)
			break;
		t->cap = (t->cap + (size_t) n + 1) * 2;
		t->data = xrealloc(t->data, t->cap, 1);
	}
	t->len += (size_t) n;
}

char *
metrics_render(Metrics *m)
{
	Text		t = {xcalloc(1, 4096), 0, 4096};

	pthread_mutex_lock(&m->lock);
	for (Family *f = m->families; f; f = f->next)
	{
		text_printf(&t, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
					f->type == METRIC_COUNTER ? "counter" : "gauge");
		for (MetricCell *c = f->cells; c; c = c->next)
			text_printf(&t, *c->labels ? "%s{%s} %lld\n" : "%s%s %lld\n", f->name, c->labels,
						(long long) metrics_get(c));
	}
	pthread_mutex_unlock(&m->lock);
	return t.data;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	Metrics    *m = cls;
	struct MHD_Response *resp;
	unsigned	status = MHD_HTTP_OK;
	char	   *body;
	enum MHD_Result ret;

	if (strcmp(method, "GET") != 0)
	{
		body = xstrdup("only GET\n");
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	}
	else if (strcmp(url, "/metrics") == 0)
		body = metrics_render(m);
	else if (strcmp(url, "/healthz") == 0)
	{
		pthread_mutex_lock(&m->lock);
		status = m->healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		body = xcalloc(1, sizeof(m->why) + 8);
		sprintf(body, "%s\n", m->healthy ? "ok" : m->why);
		pthread_mutex_unlock(&m->lock);
	}
	else
	{
		body = xstrdup("not found: try /metrics or /healthz\n");
		status = MHD_HTTP_NOT_FOUND;
	}
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type",
							strcmp(url, "/metrics") == 0 ? "text/plain; version=0.0.4" : "text/plain");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

bool
metrics_listen(Metrics *m, const char *address, char *err, size_t errlen)
{
	char		host[256];
	const char *colon = strrchr(address, ':');
	struct addrinfo hints = {0},
			   *ai = NULL;
	int			rc;

	if (colon == NULL || colon[1] == '\0' || (size_t) (colon - address) >= sizeof(host))
	{
		snprintf(err, errlen, "metrics.listen \"%s\" is not host:port", address);
		return false;
	}
	memcpy(host, address, (size_t) (colon - address));
	host[colon - address] = '\0';
	/*
	 * ":port" is loopback: metrics and /healthz name tables and positions,
	 * and are served to whoever connects.  Every interface must be asked
	 * for (0.0.0.0:port), as PostgreSQL's listen_addresses must.
	 */
	if (host[0] == '\0')
		strcpy(host, "127.0.0.1");
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
	{
		snprintf(err, errlen, "metrics.listen \"%s\": %s", address, gai_strerror(rc));
		return false;
	}
	m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
								0, NULL, NULL, answer, m,
								MHD_OPTION_SOCK_ADDR, ai->ai_addr,
								MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
								MHD_OPTION_END);
	freeaddrinfo(ai);
	if (m->httpd == NULL)
	{
		snprintf(err, errlen, "metrics.listen \"%s\": cannot listen there (in use, or not a local address)",
				 address);
		return false;
	}
	return true;
}
