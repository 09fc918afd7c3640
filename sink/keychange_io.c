/*
 * keychange_io.c — what key changes need outside memory: pgcdc.sink_key_move
 * (values left for a later batch, tombstones), the old keys' rows in the
 * target, and held partitions consumed again (see keychange.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "dedupe.h"
#include "keychange.h"
#include "log.h"
#include "runtime.h"
#include "stmt.h"
#include "xalloc.h"


/*
 * sql over $1 (the group), the key changes moves[0..n) as three arrays
 * (topics $2, commit LSNs $3, seqs $4) and with images their images ($5).
 */
static bool
moves_exec(Target *t, const char *sql, bool images, size_t n, const KeyMove *moves, PGresult **out,
		   char *err, size_t errlen)
{
	Buf			arrays[4] = {{0}};
	const char *values[5] = {target_settings(t)->group_id};
	bool		ok;

	for (size_t i = 0; i < n; i++)
	{
		char		lsn[32],
					seq[16];
		const char *row[4] = {moves[i].topic, lsn, seq, moves[i].image};

		snprintf(lsn, sizeof(lsn), LSN_FMT, LSN_ARGS(moves[i].pos.lsn));
		snprintf(seq, sizeof(seq), "%llu", (unsigned long long) moves[i].pos.seq);
		target_array_add(arrays, images ? 4 : 3, row);
	}
	for (size_t i = 0; i < 4; i++)
	{
		buf_append(&arrays[i], "}", 2);
		values[i + 1] = arrays[i].data;
	}
	ok = target_exec_params(t, sql, images ? 5 : 4, values, NULL, out, err, errlen);
	for (size_t i = 0; i < 4; i++)
		buf_free(&arrays[i]);
	return ok;
}

/* Deletes the rows of moves (topic, position) for which which (SQL over m) holds. */
static bool
moves_delete(Target *t, const char *which, size_t n, const KeyMove *moves, char *err, size_t errlen)
{
	char		sql[512];

	snprintf(sql, sizeof(sql),
			 "DELETE FROM pgcdc.sink_key_move m USING unnest($2::text[], $3::pg_lsn[], $4::bigint[]) "
			 "AS w(topic, commit_lsn, seq) WHERE m.group_id = $1 AND m.topic = w.topic "
			 "AND m.commit_lsn = w.commit_lsn AND m.seq = w.seq AND %s", which);
	return moves_exec(t, sql, false, n, moves, NULL, err, errlen);
}

/*
 * Stores images of key changes.  An image that meets its key change's
 * tombstone is not stored, and the tombstone goes.  Two statements, because
 * another walsink of the group may be writing that tombstone in a
 * transaction still open: the INSERT waits for it and leaves it alone, and
 * the DELETE, with a snapshot taken after, sees and removes it.
 */
static bool
moves_put(Target *t, size_t n, const KeyMove *moves, char *err, size_t errlen)
{
	return n == 0 ||
		(moves_exec(t, "INSERT INTO pgcdc.sink_key_move AS m (group_id, topic, commit_lsn, seq, image) "
					"SELECT $1, * FROM unnest($2::text[], $3::pg_lsn[], $4::bigint[], $5::bytea[]) "
					"ON CONFLICT (group_id, topic, commit_lsn, seq) DO UPDATE SET image = EXCLUDED.image "
					"WHERE m.image IS NOT NULL",
					true, n, moves, NULL, err, errlen) &&
		 moves_delete(t, "m.image IS NULL", n, moves, err, errlen));
}

/*
 * Tombstones of key changes whose new key's copy is a dead letter.  The
 * reverse of moves_put: an image another walsink stored after this one
 * looked for it is for a copy that is now a dead letter, so it goes instead
 * of the tombstone.
 */
static bool
moves_gone(Target *t, size_t n, const KeyMove *moves, char *err, size_t errlen)
{
	return n == 0 ||
		(moves_exec(t, "INSERT INTO pgcdc.sink_key_move (group_id, topic, commit_lsn, seq, image) "
					"SELECT $1, *, NULL FROM unnest($2::text[], $3::pg_lsn[], $4::bigint[]) "
					"ON CONFLICT (group_id, topic, commit_lsn, seq) DO NOTHING",
					false, n, moves, NULL, err, errlen) &&
		 moves_delete(t, "m.image IS NOT NULL", n, moves, err, errlen));
}

/* What the old key's copies applied in earlier batches left for the new key's copies here. */
static bool
find_stored(KeyChanges *kc, Target *t, ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	KeyMove    *want = xmalloc((kc->n + 1) * sizeof(KeyMove));
	size_t		nwant = 0;
	PGresult   *res;

	for (size_t i = 0; i < kc->n; i++)
		if (kc->items[i].new && !kc->items[i].old)
			want[nwant++] = (KeyMove) {kc->items[i].topic, kc->items[i].pos, NULL};
	if (nwant == 0 ||
		!moves_exec(t, "SELECT m.topic, m.commit_lsn - '0/0', m.seq, m.image FROM pgcdc.sink_key_move m "
					"JOIN unnest($2::text[], $3::pg_lsn[], $4::bigint[]) AS w(topic, commit_lsn, seq) "
					"USING (topic, commit_lsn, seq) WHERE m.group_id = $1 AND m.image IS NOT NULL",
					false, nwant, want, &res, err, errlen))
	{
		free(want);
		return nwant == 0;
	}
	for (int r = 0; r < PQntuples(res); r++)
	{
		Position	pos = {strtoull(PQgetvalue(res, r, 1), NULL, 10),
		(uint32_t) strtoul(PQgetvalue(res, r, 2), NULL, 10), 0};
		Move	   *mv = keychange_find(kc, PQgetvalue(res, r, 0), &pos);
		size_t		len;
		unsigned char *bytes = PQunescapeBytea((const unsigned char *) PQgetvalue(res, r, 3), &len);

		if (mv && bytes)
			mv->stored = pgcdc__change_event__unpack(alloc, len, bytes);
		PQfreemem(bytes);
	}
	PQclear(res);
	free(want);
	return true;
}

bool
keychange_plan(KeyChanges *kc, Target *t, Event *events, PartState **states, size_t n, int wait_ms,
			   ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	keychange_put_reset(kc);
	kc->ngone = 0;
	keychange_pair(kc, events, states, n);
	if (kc->n == 0)
		return true;
	if (!find_stored(kc, t, alloc, err, errlen))
		return false;
	keychange_hold(kc, events, states, n, wait_ms, runtime_now_ms());
	return (kc->ntaken == 0 || moves_delete(t, "true", kc->ntaken, kc->taken, err, errlen)) &&
		moves_gone(t, kc->ngone, kc->gone, err, errlen);
}

bool
keychange_finish(KeyChanges *kc, Target *t, ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	bool		ok;

	keychange_unresolved(kc, alloc);
	ok = moves_put(t, kc->nput, kc->put, err, errlen);
	keychange_put_reset(kc);
	return ok;
}

/* A key change's copy under its old key, among a table's rows: the values it finds. */
typedef struct OldCopy
{
	size_t		r;				/* rows[r] */
	Event	   *e;
	Pgcdc__Value **vals;		/* per column of its record: the value, NULL unknown */
	bool	   *from_target;	/* per column: the value is the target's row's */
	bool		any_from_target;
} OldCopy;

static int
by_position(const void *x, const void *y)
{
	return position_cmp(&((const OldCopy *) x)->e->pos, &((const OldCopy *) y)->e->pos);
}

/* Zeroed memory of the batch. */
static void *
scratch(ProtobufCAllocator *alloc, size_t size)
{
	void	   *p = alloc->alloc(alloc->allocator_data, size ? size : 1);

	memset(p, 0, size);
	return p;
}

/* A value as the target printed it (NULL: SQL NULL), in the batch's memory. */
static Pgcdc__Value *
text_value(ProtobufCAllocator *alloc, const char *text)
{
	Pgcdc__Value *v = scratch(alloc, sizeof(Pgcdc__Value));

	pgcdc__value__init(v);
	if (text == NULL)
	{
		v->kind_case = PGCDC__VALUE__KIND_IS_NULL;
		v->is_null = true;
		return v;
	}
	v->kind_case = PGCDC__VALUE__KIND_TEXT_VALUE;
	v->text_value = scratch(alloc, strlen(text) + 1);
	strcpy(v->text_value, text);
	return v;
}

/* The target column e's column i lands in (map: tables_map's), or -1. */
static int
target_column(const TableInfo *ti, const int *map, size_t i)
{
	for (size_t j = 0; j < ti->ncols; j++)
		if (map[j] == (int) i)
			return (int) j;
	return -1;
}

/* The old keys into the stage (op 'm'); col[j] numbers the target columns wanted. */
static bool
stage_old_keys(RowCopy *c, Buf *sql, TableInfo *ti, OldCopy *olds, size_t nold, int *col, int *ncol,
			   char *err, size_t errlen)
{
	bool		ok;

	sql->len = 0;
	stmt_copy_keys(sql, ti);
	ok = rowcopy_start(c, stmt_text(sql), err, errlen);
	for (size_t k = 0; k < nold && ok; k++)
	{
		const Event *e = olds[k].e;
		const int  *map = tables_map(ti, e);
		char		num[24];
		int			j;

		if (!olds[k].any_from_target)
			continue;
		for (size_t i = 0; i < e->rec->n_columns; i++)
			if (olds[k].from_target[i] && (j = target_column(ti, map, i)) >= 0 && col[j] == 0)
				col[j] = ++*ncol;
		buf_append(&c->data, num, (size_t) sprintf(num, "%zu\tm", k));
		for (size_t k2 = 0; k2 < ti->nkeys; k2++)
		{
			buf_putc(&c->data, '\t');
			copytext_value(&c->data, e->image[map[ti->keycols[k2]]]);
		}
		buf_putc(&c->data, '\n');
		rowcopy_send(c, COPY_PIECE);
	}
	return ok && rowcopy_end(c, false, err, errlen) == COPY_OK;
}

/*
 * The target's rows of the old keys, as they are before the batch, for the
 * columns the old key's copies take from there: the keys copied into the
 * staging table and joined, in a savepoint.  When the target refuses a key,
 * the values stay unknown (the copy's delete meets the same refusal, and is
 * a dead letter).
 */
static bool
target_values(RowCopy *c, Buf *sql, TableInfo *ti, OldCopy *olds, size_t nold, ProtobufCAllocator *alloc,
			  char *err, size_t errlen)
{
	Target	   *t = c->target;
	int		   *col = xcalloc(ti->ncols + 1, sizeof(int));	/* target column → result column, or 0 */
	int			ncol = 0;
	char		why[1024];
	PGresult   *res = NULL;
	bool		ok;

	if (!target_defer(t, "SAVEPOINT pgcdc_moves", err, errlen))
	{
		free(col);
		return false;
	}
	ok = stage_old_keys(c, sql, ti, olds, nold, col, &ncol, why, sizeof(why));
	if (ok)
	{
		sql->len = 0;
		stmt_old_rows(sql, ti, col, ncol);
		res = target_query(t, stmt_text(sql));
		if (!(ok = PQresultStatus(res) == PGRES_TUPLES_OK))
			target_error(t, res, why, sizeof(why));
	}
	for (int row = 0; ok && row < PQntuples(res); row++)
	{
		OldCopy    *o = &olds[atoi(PQgetvalue(res, row, 0))];
		const int  *map = tables_map(ti, o->e);
		int			j;

		for (size_t i = 0; i < o->e->rec->n_columns; i++)
			if (o->from_target[i] && (j = target_column(ti, map, i)) >= 0)
				o->vals[i] = text_value(alloc, PQgetisnull(res, row, col[j]) ? NULL :
										PQgetvalue(res, row, col[j]));
	}
	PQclear(res);
	free(col);
	if (ok)
		return target_exec(t, "RELEASE SAVEPOINT pgcdc_moves", err, errlen);
	if (target_broken(t))
	{
		snprintf(err, errlen, "%s", why);
		return false;
	}
	log_msg(LOG_WARNING, "%s: cannot read the old keys' rows of key changes: %s", ti->name, why);
	return target_exec(t, "ROLLBACK TO SAVEPOINT pgcdc_moves; RELEASE SAVEPOINT pgcdc_moves", err, errlen);
}

/*
 * Each old key's copy finds the values of the columns its update left
 * unchanged: from the old key's latest earlier change here that has them,
 * else from the target's row.  In source order, so that a key changed twice
 * in the batch passes on what the first change found.
 */
bool
keychange_resolve(KeyChanges *kc, RowCopy *c, Buf *sql, TableInfo *ti, Row *rows, size_t n,
				  ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	OldCopy    *olds;
	size_t		nold = 0;
	bool		any_from_target = false;
	bool		ok = true;

	for (size_t r = 0; r < n; r++)
		nold += rows[r].e->move != NULL && rows[r].e->move->old == rows[r].e;
	if (nold == 0)
		return true;
	olds = xcalloc(nold, sizeof(OldCopy));
	nold = 0;
	for (size_t r = 0; r < n; r++)
	{
		Event	   *e = rows[r].e;
		OldCopy    *o = &olds[nold];

		if (e->move == NULL || e->move->old != e)
			continue;
		nold++;
		*o = (OldCopy) {r, e, scratch(alloc, e->rec->n_columns * sizeof(Pgcdc__Value *)),
		scratch(alloc, e->rec->n_columns * sizeof(bool))};
		for (size_t i = 0; i < e->rec->n_columns; i++)
			if (e->rec->after[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST)
			{
				dedupe_earlier_value(rows, r, e, i, &o->from_target[i]);
				o->any_from_target |= o->from_target[i];
			}
		any_from_target |= o->any_from_target;
	}
	if (any_from_target)
		ok = target_values(c, sql, ti, olds, nold, alloc, err, errlen);
	qsort(olds, nold, sizeof(OldCopy), by_position);
	for (size_t k = 0; k < nold && ok; k++)
	{
		OldCopy    *o = &olds[k];
		bool		before_batch;

		for (size_t i = 0; i < o->e->rec->n_columns; i++)
			if (o->e->rec->after[i]->kind_case == PGCDC__VALUE__KIND_UNCHANGED_TOAST && !o->from_target[i])
				o->vals[i] = dedupe_earlier_value(rows, o->r, o->e, i, &before_batch);
		keychange_resolved(kc, o->e->move, o->vals, alloc);
	}
	free(olds);
	return ok;
}

bool
keychange_seek(rd_kafka_t *rk, PartState **states, size_t n, void (*drop) (void *arg, const PartState *st),
			   void *arg, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
	rd_kafka_error_t *error;
	bool		ok = true;

	for (size_t i = 0; i < n; i++)
	{
		PartState  *st = states[i];

		if (st->hold.from < 0)
			continue;
		rd_kafka_topic_partition_list_add(list, st->topic, st->partition)->offset = st->hold.from;
		drop(arg, st);
		st->hold.resume = st->hold.from;
		st->hold.from = -1;
	}
	if (list->cnt > 0 && (error = rd_kafka_seek_partitions(rk, list, 10000)) != NULL)
	{
		snprintf(err, errlen, "cannot consume a held partition again: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		ok = false;
	}
	for (int i = 0; i < list->cnt && ok; i++)
		if (list->elems[i].err)
		{
			snprintf(err, errlen, "cannot consume %s [%d] again from offset %" PRId64 ": %s",
					 list->elems[i].topic, list->elems[i].partition, list->elems[i].offset,
					 rd_kafka_err2str(list->elems[i].err));
			ok = false;
		}
	rd_kafka_topic_partition_list_destroy(list);
	return ok;
}
