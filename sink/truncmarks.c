/*
 * truncmarks.c — the truncate marks of target tables in pgcdc.sink_truncate.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "truncmarks.h"

/* The truncate position of a target table ("schema.table"), or false when none. */
static bool
get_mark(Target *t, const char *table, Position *pos, bool *found, char *err, size_t errlen)
{
	const char *values[2] = {target_settings(t)->group_id, table};
	PGresult   *res;

	if (!target_exec_params(t, "SELECT commit_lsn - '0/0', seq FROM pgcdc.sink_truncate "
							"WHERE group_id = $1 AND target_table = $2", 2, values, NULL, &res, err, errlen))
		return false;
	*found = PQntuples(res) == 1;
	if (*found)
	{
		pos->lsn = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		pos->seq = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		pos->sub = 0;
	}
	PQclear(res);
	return true;
}

bool
truncmarks_load(Target *t, TableInfo *ti, char *err, size_t errlen)
{
	if (ti->trunc_known)
		return true;
	if (!get_mark(t, ti->name, &ti->trunc_mark, &ti->has_trunc_mark, err, errlen))
		return false;
	ti->trunc_known = true;
	return true;
}

bool
truncmarks_set(Target *t, const char *table, const Position *pos, char *err, size_t errlen)
{
	char		lsn[32],
				seq[16];
	const char *values[4] = {target_settings(t)->group_id, table, lsn, seq};

	if (pos == NULL)
		return target_exec_params(t, "DELETE FROM pgcdc.sink_truncate WHERE group_id = $1 AND target_table = $2",
								  2, values, NULL, NULL, err, errlen);
	snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(pos->lsn));
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long) pos->seq);
	return target_exec_params(t, "INSERT INTO pgcdc.sink_truncate VALUES ($1, $2, $3, $4) "
							  "ON CONFLICT (group_id, target_table) DO UPDATE "
							  "SET commit_lsn = EXCLUDED.commit_lsn, seq = EXCLUDED.seq",
							  4, values, NULL, NULL, err, errlen);
}
