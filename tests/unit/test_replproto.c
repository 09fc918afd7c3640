/*
 * test_replproto.c — the replication protocol's messages: an XLogData and a
 * keepalive parsed from bytes as the server sends them, a standby status
 * update built to the byte, positions big-endian, and every message too
 * short for its kind refused.
 */
#include <string.h>

#include "replproto.h"
#include "unit.h"

static void
xlogdata(void)
{
	const char	msg[] = "w"
		"\x00\x00\x00\x01\x6B\x3E\x00\x00"	/* start 1/6B3E0000 */
		"\x00\x00\x00\x01\x6B\x3F\x28\x00"	/* end 1/6B3F2800 */
		"\x00\x02\xD5\x3A\x4B\x5C\x6D\x7E"	/* send time */
		"abc";
	ReplMessage m;

	CHECK(replproto_parse(msg, sizeof(msg) - 1, &m) == REPL_XLOGDATA && m.kind == REPL_XLOGDATA,
		  "kind %d", (int) m.kind);
	CHECK(m.wal_start == UINT64_C(0x16B3E0000) && m.wal_end == UINT64_C(0x16B3F2800),
		  "start %llx end %llx", (unsigned long long) m.wal_start, (unsigned long long) m.wal_end);
	CHECK(m.send_time == INT64_C(0x0002D53A4B5C6D7E), "send time %llx", (unsigned long long) m.send_time);
	CHECK(m.len == 3 && m.data == msg + REPLPROTO_XLOGDATA_HEADER && memcmp(m.data, "abc", 3) == 0,
		  "data of %zu bytes", m.len);

	/* Empty data is a message; one byte short of the header is not. */
	CHECK(replproto_parse(msg, REPLPROTO_XLOGDATA_HEADER, &m) == REPL_XLOGDATA && m.len == 0,
		  "XLogData without data");
	for (size_t len = 0; len < REPLPROTO_XLOGDATA_HEADER; len++)
		if (!CHECK(replproto_parse(msg, len, &m) == REPL_UNKNOWN && m.kind == REPL_UNKNOWN,
				   "XLogData of %zu bytes read", len))
			break;
}

static void
keepalive(void)
{
	const char	msg[] = "k"
		"\xFF\x00\x00\x00\x00\x00\x00\x01"	/* WAL end: high bit set, low byte 1 */
		"\x00\x00\x00\x00\x00\x00\x03\xE8"	/* send time 1000 */
		"\x01";					/* reply requested */
	char		quiet[REPLPROTO_KEEPALIVE_LEN];
	ReplMessage m;

	CHECK(replproto_parse(msg, sizeof(msg) - 1, &m) == REPL_KEEPALIVE, "kind %d", (int) m.kind);
	CHECK(m.wal_end == UINT64_C(0xFF00000000000001), "end %llx", (unsigned long long) m.wal_end);
	CHECK(m.send_time == 1000 && m.reply_requested, "time %lld reply %d", (long long) m.send_time,
		  m.reply_requested);
	memcpy(quiet, msg, sizeof(quiet));
	quiet[17] = 0;
	CHECK(replproto_parse(quiet, sizeof(quiet), &m) == REPL_KEEPALIVE && !m.reply_requested,
		  "reply not requested");
	for (size_t len = 0; len < REPLPROTO_KEEPALIVE_LEN; len++)
		if (!CHECK(replproto_parse(msg, len, &m) == REPL_UNKNOWN, "keepalive of %zu bytes read", len))
			break;

	/* Neither 'w' nor 'k'. */
	CHECK(replproto_parse("r0123456789abcdef0123456789abcdef0", 34, &m) == REPL_UNKNOWN, "'r' read");
}

static void
status(void)
{
	const char	want[REPLPROTO_STATUS_LEN] = "r"
		"\x00\x00\x00\x01\x6B\x3F\x28\x00"	/* written 1/6B3F2800 */
		"\x00\x00\x00\x01\x6B\x3E\x00\x00"	/* flushed 1/6B3E0000 */
		"\x00\x00\x00\x01\x6B\x3D\x00\x00"	/* applied 1/6B3D0000 */
		"\x00\x02\xD5\x3A\x4B\x5C\x6D\x7E"	/* now */
		"\x01";					/* reply requested */
	char		out[REPLPROTO_STATUS_LEN];
	size_t		n;

	memset(out, 0x55, sizeof(out));
	n = replproto_status(out, UINT64_C(0x16B3F2800), UINT64_C(0x16B3E0000), UINT64_C(0x16B3D0000),
						 INT64_C(0x0002D53A4B5C6D7E), true);
	CHECK(n == REPLPROTO_STATUS_LEN && memcmp(out, want, sizeof(want)) == 0, "status update bytes");
	replproto_status(out, 0, 0, 0, 0, false);
	CHECK(out[0] == 'r' && out[33] == 0 && memcmp(out + 1, "\0\0\0\0\0\0\0\0", 8) == 0,
		  "status update without a reply request");
}

static void
clock_epoch(void)
{
	int64_t		now = replproto_now();

	/* After 2020-01-01 (631 152 000 s after 2000-01-01), before 2100. */
	CHECK(now > INT64_C(631152000) * 1000000 && now < INT64_C(3155760000) * 1000000,
		  "now is %lld µs after 2000", (long long) now);
}

int
main(void)
{
	xlogdata();
	keepalive();
	status();
	clock_epoch();
	return unit_summary("test_replproto");
}
