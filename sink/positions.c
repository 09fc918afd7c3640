/*
 * positions.c — claiming partitions in pgcdc.sink_position and storing
 * their positions with the batch that applied them.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "positions.h"
#include "xalloc.h"

bool
positions_claim(Target *t, PartState *p, char *err, size_t errlen)
{
	static unsigned claims;
	char		part[16];
	char		host[64] = "";
	const char *values[4] = {target_settings(t)->group_id, p->topic, part, p->owner};
	PGresult   *res;

	gethostname(host, sizeof(host) - 1);
	snprintf(p->owner, sizeof(p->owner), "%.40s/%d/%u", host, (int) getpid(), ++claims);
	snprintf(part, sizeof(part), "%d", p->partition);
	if (!target_exec_params(t, "INSERT INTO pgcdc.sink_position AS p (group_id, topic, partition, \"offset\", owner) "
							"VALUES ($1, $2, $3, -1, $4) ON CONFLICT (group_id, topic, partition) DO UPDATE "
							"SET owner = EXCLUDED.owner RETURNING \"offset\", commit_lsn - '0/0', seq, sub, source",
							4, values, NULL, &res, err, errlen))
		return false;
	p->offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	p->has_pos = !PQgetisnull(res, 0, 1);
	if (p->has_pos)
	{
		p->pos.lsn = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		p->pos.seq = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
		p->pos.sub = (uint32_t) strtoul(PQgetvalue(res, 0, 3), NULL, 10);
	}
	free(p->source);
	p->source = PQgetisnull(res, 0, 4) ? NULL : xstrdup(PQgetvalue(res, 0, 4));
	free(p->former);
	p->former = NULL;
	PQclear(res);
	return true;
}

/* A position write of a partition claimed by another member fails on a text that is no bigint: this one. */
#define FENCED "'walsink fenced: partition '"
#define FENCED_TEXT "walsink fenced: partition "

bool
positions_commit(Target *t, PartState *const *parts, size_t n, char *err, size_t errlen)
{
	Buf			arrays[8] = {{0}};
	const char *values[9] = {target_settings(t)->group_id};
	bool		ok;

	if (n == 0)
		return target_exec(t, "COMMIT", err, errlen);
	for (size_t i = 0; i < n; i++)
	{
		const PartState *p = parts[i];
		char		part[16],
					off[32],
					lsn[32],
					seq[16],
					sub[16];
		const char *row[8] = {p->topic, part, off, p->has_pos ? lsn : NULL,
			p->has_pos ? seq : NULL, p->has_pos ? sub : NULL, p->owner, p->source};

		snprintf(part, sizeof(part), "%d", p->partition);
		snprintf(off, sizeof(off), "%" PRId64, p->offset);
		snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(p->pos.lsn));
		snprintf(seq, sizeof(seq), "%llu", (unsigned long long) p->pos.seq);
		snprintf(sub, sizeof(sub), "%u", p->pos.sub);
		target_array_add(arrays, 8, row);
	}
	for (size_t i = 0; i < 8; i++)
	{
		buf_append(&arrays[i], "}", 2);	/* with the terminator */
		values[i + 1] = arrays[i].data;
	}
	/*
	 * One statement for the batch's partitions (a round trip each was a tenth
	 * of a batch), and COMMIT.  Fenced: a partition claimed by another member
	 * since this one claimed it fails the statement (a text that is no
	 * bigint, with what happened), and the batch rolls back.
	 */
	ok = target_exec_params(t, "INSERT INTO pgcdc.sink_position AS p "
					   "(group_id, topic, partition, \"offset\", commit_lsn, seq, sub, owner, source) "
					   "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::pg_lsn[], "
					   "$6::bigint[], $7::int[], $8::text[], $9::text[]) ON CONFLICT (group_id, topic, partition) "
					   "DO UPDATE SET \"offset\" = CASE WHEN p.owner = EXCLUDED.owner THEN EXCLUDED.\"offset\" "
					   "ELSE (" FENCED " || p.topic || ' [' || p.partition || '] belongs to ' || "
					   "coalesce(p.owner, 'another') || ' now')::bigint END, commit_lsn = EXCLUDED.commit_lsn, "
					   "seq = EXCLUDED.seq, sub = EXCLUDED.sub, source = EXCLUDED.source, updated = now()",
					   9, values, "COMMIT", NULL, err, errlen);
	if (!ok && strstr(err, FENCED_TEXT) != NULL)
	{
		char		what[512];
		const char *from = strstr(err, FENCED_TEXT) + strlen("walsink fenced: ");

		snprintf(what, sizeof(what), "%.*s", (int) strcspn(from, "\""), from);
		snprintf(err, errlen, "fenced: %s: another member of the group applies it since this one lost it "
				 "(dropped from the group while a batch was applying); the batch is rolled back, and walsink "
				 "joins the group again", what);
	}
	for (size_t i = 0; i < 8; i++)
		buf_free(&arrays[i]);
	return ok;
}
