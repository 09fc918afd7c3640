/*
 * rulecheck.c — validation rules tried on their tables at start.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rulecheck.h"
#include "xalloc.h"

bool
rulecheck_run(Target *t, char *err, size_t errlen)
{
	const Settings *s = target_settings(t);

	for (size_t i = 0; i < s->nrules; i++)
	{
		const Rule *r = &s->rules[i];
		const char *dot = strchr(r->target, '.');
		char	   *schema = xstrndup(r->target, (size_t) (dot - r->target));
		char	   *table = target_quote_qualified(t, schema, dot + 1);
		const char *values[1] = {table};
		PGresult   *res;
		bool		exists = false;
		bool		ok = target_exec_params(t, "SELECT to_regclass($1) IS NOT NULL", 1, values, NULL, &res,
											err, errlen);
		char	   *sql;
		char		why[1024];

		if (ok)
		{
			exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
			PQclear(res);
		}
		if (ok && exists)
		{
			sql = xmalloc(strlen(r->expr) + strlen(table) + 64);
			sprintf(sql, "SELECT (%s)::boolean FROM %s LIMIT 0", r->expr, table);
			if (!target_exec(t, sql, why, sizeof(why)))
			{
				snprintf(err, errlen, "rule.%s.%s does not work on %s: %s", r->target, r->name, table, why);
				ok = false;
			}
			free(sql);
		}
		free(schema);
		free(table);
		if (!ok)
			return false;
	}
	return true;
}
