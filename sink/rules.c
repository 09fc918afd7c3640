/*
 * rules.c — validation rules on the staged rows (see rules.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>

#include "rules.h"
#include "stmt.h"

/*
 * A rule judges the row as it will be: a column a row does not have (an
 * unchanged TOASTed value) is the target's (stmt_rule).
 */
bool
rules_check(Target *t, Buf *sql, TableInfo *ti, Row *rows, const Shapes *sh, DeadLetters *dead,
			char *err, size_t errlen)
{
	for (size_t k = 0; k < ti->nrules; k++)
	{
		PGresult   *res;

		sql->len = 0;
		stmt_rule(sql, ti, k, sh->partial);
		res = target_query(t, stmt_text(sql));
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			target_error(t, res, err, errlen);
			PQclear(res);
			return false;
		}
		for (int i = 0; i < PQntuples(res); i++)
		{
			char		reason[300];

			snprintf(reason, sizeof(reason), "validation rule \"%s\" failed", ti->rules[k]->name);
			deadletters_add(dead, rows[atoi(PQgetvalue(res, i, 0))].e, reason, ti->rules[k]->expr);
		}
		PQclear(res);
	}
	return true;
}
