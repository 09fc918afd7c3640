/*
 * pgoutput_read.c — reads pgoutput messages, one per line as psql prints a
 * bytea ("\x0a1b..."), through streamer/pgoutput.c, and prints how many of
 * each type it read ("B 3 C 3 I 10 ..."), then "refused N"; exit status 1
 * when any was refused (the reason on stderr).  Argument "parallel": the
 * messages were asked for with streaming = parallel.  For tests/pgoutput,
 * against real servers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"

int
main(int argc, char **argv)
{
	static char line[1 << 22];
	static uint8_t buf[1 << 21];
	long		counts[128] = {0};
	long		refused = 0;
	bool		parallel = argc > 1 && strcmp(argv[1], "parallel") == 0;
	bool		in_stream = false;
	PgoMessage	m;
	char		err[512];

	pgo_init(&m);
	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		size_t		len = strcspn(line, "\n");
		size_t		n = 0;

		if (len < 2 || line[0] != '\\' || line[1] != 'x')
			continue;
		for (size_t i = 2; i + 1 < len && n < sizeof(buf); i += 2)
		{
			unsigned	byte;

			if (sscanf(line + i, "%2x", &byte) != 1)
				break;
			buf[n++] = (uint8_t) byte;
		}
		if (!pgo_parse(buf, n, in_stream, parallel, &m, err, sizeof(err)))
		{
			fprintf(stderr, "%s\n", err);
			refused++;
			continue;
		}
		counts[m.kind & 0x7f]++;
		if (m.kind == PGO_STREAM_START)
			in_stream = true;
		else if (m.kind == PGO_STREAM_STOP)
			in_stream = false;
	}
	for (int k = 0; k < 128; k++)
		if (counts[k])
			printf("%c %ld ", k, counts[k]);
	printf("refused %ld\n", refused);
	pgo_free(&m);
	return refused == 0 ? 0 : 1;
}
