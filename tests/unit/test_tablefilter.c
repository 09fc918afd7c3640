/*
 * test_tablefilter.c — the table and message lists as walstreamer applies
 * them (streamer/tablefilter.c), with the pgcdc plugin's rules
 * (decoder/options.c): bare names folded to lower case, quoted ones kept
 * ("" a quote), schema.*, spaces, exclude over include, prefixes taken
 * literally; and malformed lists refused naming the key.
 */
#include <string.h>

#include "tablefilter.h"
#include "unit.h"

static char err[256];

static bool
in(const TableFilter *f, const char *schema, const char *table)
{
	return tablefilter_table(f, schema, strlen(schema), table, strlen(table));
}

int
main(void)
{
	TableFilter *f = tablefilter_new(" Public.Orders , \"Odd \"\"S\"\"\".* ,sales.\"Items\"", "sales.*x",
									 NULL, err, sizeof(err));

	/* "sales.*x" is not a list: refused. */
	CHECK(f == NULL && strstr(err, "table.exclude.list") != NULL, "a malformed exclude list: %s", err);
	f = tablefilter_new(" Public.Orders , \"Odd \"\"S\"\"\".* ,sales.\"Items\"", "\"Odd \"\"S\"\"\".secret",
						"app, other ", err, sizeof(err));
	CHECK(f != NULL, "lists: %s", err);
	CHECK(in(f, "public", "orders") && !in(f, "Public", "Orders"), "bare names fold to lower case");
	CHECK(in(f, "Odd \"S\"", "anything") && !in(f, "Odd \"S\"", "secret"), "schema.*, and exclude over include");
	CHECK(in(f, "sales", "Items") && !in(f, "sales", "items"), "quoted names kept as written");
	CHECK(!in(f, "public", "other"), "a table no pattern names");
	CHECK(tablefilter_message(f, "app", 3) && tablefilter_message(f, "other", 5) &&
		  !tablefilter_message(f, "ap", 2) && !tablefilter_message(f, "app ", 4), "prefixes, trimmed, exact");
	tablefilter_free(f);

	f = tablefilter_new(NULL, NULL, NULL, err, sizeof(err));
	CHECK(f != NULL && in(f, "any", "table") && tablefilter_message(f, "any", 3), "no lists: everything");
	tablefilter_free(f);

	CHECK(tablefilter_new("public", NULL, NULL, err, sizeof(err)) == NULL && strstr(err, "table.include.list"),
		  "a name without its schema");
	CHECK(tablefilter_new("public.a,", NULL, NULL, err, sizeof(err)) == NULL, "a trailing comma");
	CHECK(tablefilter_new("\"unterminated.a", NULL, NULL, err, sizeof(err)) == NULL, "an open quote");
	CHECK(tablefilter_new(NULL, NULL, "a, ,b", err, sizeof(err)) == NULL && strstr(err, "message.prefix"),
		  "an empty prefix");
	return unit_summary("unit-tablefilter");
}
