/*
 * test_metrics_bind.c — where metrics.listen binds: ":port" on loopback
 * only, every interface only when asked for (0.0.0.0:port).  Read from the
 * kernel's table of listening sockets, /proc/net/tcp.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "unit.h"

/* The local address (hex, as /proc/net/tcp shows it) listening on port, or "". */
static const char *
listening_address(int port)
{
	static char found[16];
	char		line[512];
	FILE	   *f = fopen("/proc/net/tcp", "r");

	found[0] = '\0';
	if (f == NULL)
		return found;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char		addr[16];
		unsigned	lport;
		unsigned	state;

		if (sscanf(line, " %*d: %8[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", addr, &lport, &state) == 3 &&
			(int) lport == port && state == 0x0A)
			snprintf(found, sizeof(found), "%s", addr);
	}
	fclose(f);
	return found;
}

/* Serves on the first free port from 19300 with address "<host>:<port>"; the port. */
static int
listen_somewhere(Metrics *m, const char *host)
{
	char		address[64];
	char		err[256];

	for (int port = 19300; port < 19400; port++)
	{
		snprintf(address, sizeof(address), "%s:%d", host, port);
		if (metrics_listen(m, address, err, sizeof(err)))
			return port;
	}
	return -1;
}

int
main(void)
{
	Metrics    *m = metrics_new();
	int			port = listen_somewhere(m, "");

	CHECK(port > 0, "\":port\" did not listen");
	CHECK(strcmp(listening_address(port), "0100007F") == 0,
		  "\":%d\" listens on %s, not 127.0.0.1 (0100007F)", port, listening_address(port));
	metrics_free(m);

	m = metrics_new();
	port = listen_somewhere(m, "0.0.0.0");
	CHECK(port > 0 && strcmp(listening_address(port), "00000000") == 0,
		  "\"0.0.0.0:%d\" listens on %s", port, listening_address(port));
	metrics_free(m);
	return unit_summary("metrics-bind");
}
