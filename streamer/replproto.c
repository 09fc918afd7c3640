/*
 * replproto.c — CopyData messages of the streaming replication protocol,
 * parsed and built byte by byte (big-endian, whatever the host).
 */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "replproto.h"

/* Seconds from the Unix epoch to the server's, 2000-01-01. */
#define POSTGRES_EPOCH_UNIX 946684800

static uint64_t
get_u64(const char *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | (uint8_t) p[i];
	return v;
}

static void
put_u64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (char) (v & 0xff);
}

ReplKind
replproto_parse(const char *buf, size_t len, ReplMessage *m)
{
	*m = (ReplMessage) {REPL_UNKNOWN, 0, 0, 0, false, NULL, 0};
	if (len >= REPLPROTO_XLOGDATA_HEADER && buf[0] == 'w')
	{
		m->kind = REPL_XLOGDATA;
		m->wal_start = get_u64(buf + 1);
		m->wal_end = get_u64(buf + 9);
		m->send_time = (int64_t) get_u64(buf + 17);
		m->data = buf + REPLPROTO_XLOGDATA_HEADER;
		m->len = len - REPLPROTO_XLOGDATA_HEADER;
	}
	else if (len >= REPLPROTO_KEEPALIVE_LEN && buf[0] == 'k')
	{
		m->kind = REPL_KEEPALIVE;
		m->wal_end = get_u64(buf + 1);
		m->send_time = (int64_t) get_u64(buf + 9);
		m->reply_requested = buf[17] != 0;
	}
	return m->kind;
}

size_t
replproto_status(char out[REPLPROTO_STATUS_LEN], uint64_t write_lsn, uint64_t flush_lsn,
				 uint64_t apply_lsn, int64_t now, bool reply)
{
	out[0] = 'r';
	put_u64(out + 1, write_lsn);
	put_u64(out + 9, flush_lsn);
	put_u64(out + 17, apply_lsn);
	put_u64(out + 25, (uint64_t) now);
	out[33] = reply ? 1 : 0;
	return REPLPROTO_STATUS_LEN;
}

int64_t
replproto_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec - POSTGRES_EPOCH_UNIX) * 1000000 + ts.tv_nsec / 1000;
}
