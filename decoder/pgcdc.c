/*
 * pgcdc.c — the logical decoding output plugin: callbacks and session state.
 *
 * Each callback switches into a scratch context that is reset when it
 * returns, builds ChangeEvents there and packs them straight into ctx->out,
 * or with batch-bytes into a batch written at COMMIT or once it is full.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "encode.h"
#include "options.h"
#include "pack.h"
#include "relcache.h"
#include "compat.h"
#include "wire.h"

PG_MODULE_MAGIC;

/* Filtered changes between two progress updates, as pgoutput does. */
#define PROGRESS_EVERY_CHANGES 100

/* A transaction being streamed (option streaming): how many changes so far. */
typedef struct StreamedTxn
{
	TransactionId xid;			/* the hash key: the top-level transaction */
	uint32		seq;			/* index of its next streamed change */
} StreamedTxn;

/*
 * A subtransaction's streamed changes, consecutive in seq since one backend
 * runs one subtransaction at a time: what its rollback voids.
 */
typedef struct StreamedSub
{
	TransactionId top;			/* the key: top-level and sub-transaction */
	TransactionId sub;
	uint32		first;
	uint32		last;
} StreamedSub;

typedef struct PgcdcState
{
	PgcdcOptions opts;
	MemoryContext scratch;		/* reset at the end of every callback */
	char	   *database;		/* UTF-8, looked up at the first BEGIN */

	/* The transaction being decoded. */
	uint32		seq;			/* index of the next change */
	bool		begin_written;	/* BEGIN sent (skip-empty-xacts delays it) */
	bool		wrote_changes;	/* any record for this transaction */
	int			guc_nestlevel;	/* from pgcdc_stable_output_begin() */
	int			unreported;		/* filtered changes since the last progress update */

	/* batch-bytes: framed records not yet written; empty between transactions. */
	StringInfo	batch;

	/* streaming: the transactions streamed and not yet ended, and the one in its block. */
	HTAB	   *streamed;		/* StreamedTxn by xid */
	HTAB	   *streamed_subs;	/* StreamedSub by (top, sub) */
	StreamedTxn *streaming;		/* between stream_start and stream_stop */
} PgcdcState;

extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);

/* Writes the pending batch as one message. */
static void
write_batch(LogicalDecodingContext *ctx, PgcdcState *state, bool last)
{
	if (state->batch->len == 0)
		return;
	OutputPluginPrepareWrite(ctx, last);
	appendBinaryStringInfo(ctx->out, state->batch->data, state->batch->len);
	OutputPluginWrite(ctx, last);
	resetStringInfo(state->batch);
	/* A huge record grew the buffer: give the memory back. */
	if (state->batch->maxlen > 2 * state->opts.batch_bytes + BLCKSZ)
	{
		pfree(state->batch->data);
		state->batch->data = MemoryContextAlloc(ctx->context, BLCKSZ);
		state->batch->maxlen = BLCKSZ;
		resetStringInfo(state->batch);
	}
}

/*
 * Appends ev to the batch, preceded by its length as a varint (protobuf's
 * delimited form); writes the batch once it holds batch-bytes.
 */
static void
batch_event(LogicalDecodingContext *ctx, PgcdcState *state, const Pgcdc__ChangeEvent *ev)
{
	StringInfo	b = state->batch;
	int			start = b->len;
	uint8		prefix[WIRE_VARINT_MAX];
	int			n;

	pgcdc_pack(b, ev);
	n = (int) (wire_put_varint(prefix, (uint64) (b->len - start)) - prefix);
	enlargeStringInfo(b, n);
	memmove(b->data + start + n, b->data + start, b->len - start);
	memcpy(b->data + start, prefix, n);
	b->len += n;
	b->data[b->len] = '\0';
	if (b->len >= state->opts.batch_bytes)
		write_batch(ctx, state, false);
}

static void
write_event(LogicalDecodingContext *ctx, const Pgcdc__ChangeEvent *ev, bool last)
{
	PgcdcState *state = ctx->output_plugin_private;

	if (state->batch != NULL)
	{
		batch_event(ctx, state, ev);
		return;
	}
	OutputPluginPrepareWrite(ctx, last);
	pgcdc_append_record(ctx->out, ev, state->opts.format);
	OutputPluginWrite(ctx, last);
}

/*
 * Position fields every record of txn carries.  In a streamed block txn is
 * still in progress: no commit yet, and the change's subtransaction noted.
 */
static void
event_init_txn(PgcdcState *state, Pgcdc__ChangeEvent *ev, Pgcdc__Op op,
			   ReorderBufferTXN *txn, ReorderBufferChange *change)
{
	pgcdc_event_init(ev, op);
	ev->database = state->database;
	ev->xid = txn->xid;
	if (state->streaming != NULL)
	{
		ev->streamed = true;
		ev->subxid = change != NULL ? change->txn->xid : txn->xid;
		return;
	}
	ev->commit_lsn = txn->final_lsn;
	ev->commit_ts = pgcdc_unix_usecs(PGCDC_TXN_COMMIT_TIME(txn));
}

/*
 * The seq of the transaction's next change.  A streamed one's counts across
 * the transaction's blocks, and its subtransaction's range grows to it (the
 * rollback of that subtransaction voids the range).  A transactional
 * message has no change to name its subtransaction (change NULL): it counts,
 * and lies within the range of a rolled-back subtransaction only when that
 * subtransaction made changes before and after it.
 */
static uint32
next_seq(PgcdcState *state, ReorderBufferTXN *txn, ReorderBufferChange *change)
{
	uint32		seq;

	if (state->streaming == NULL)
		return state->seq++;
	seq = state->streaming->seq++;
	if (change != NULL && change->txn != txn)
	{
		TransactionId key[2] = {txn->xid, change->txn->xid};
		bool		found;
		StreamedSub *sub = hash_search(state->streamed_subs, key, HASH_ENTER, &found);

		if (!found)
			sub->first = seq;
		sub->last = seq;
	}
	return seq;
}

/* Let the walsender send keepalives and the slot advance past filtered work. */
static void
note_filtered(LogicalDecodingContext *ctx, PgcdcState *state)
{
	if (++state->unreported >= PROGRESS_EVERY_CHANGES)
	{
		OutputPluginUpdateProgress(ctx, false);
		state->unreported = 0;
	}
}

/*
 * The database's name, UTF-8, in cxt.  The SQL interface calls the startup
 * callback inside a transaction, the walsender does not: there a short one
 * is needed for the catalog lookup (non-transactional messages can come
 * before any transaction is decoded, so this cannot wait for BEGIN).
 */
static char *
database_name(MemoryContext cxt)
{
	bool		own_xact = !IsTransactionState();
	char	   *name;
	char	   *result;

	if (own_xact)
		StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	if (name == NULL)
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	result = MemoryContextStrdup(cxt, pgcdc_to_utf8(name, strlen(name)));
	if (own_xact)
		CommitTransactionCommand();
	return result;
}

static void
pgcdc_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	PgcdcState *state = MemoryContextAllocZero(ctx->context, sizeof(PgcdcState));
	MemoryContext old = MemoryContextSwitchTo(ctx->context);

	pgcdc_options_parse(ctx->output_plugin_options, &state->opts);
	MemoryContextSwitchTo(old);

	state->scratch = AllocSetContextCreate(ctx->context, "pgcdc scratch",
										   ALLOCSET_DEFAULT_SIZES);
	state->guc_nestlevel = -1;
	state->database = database_name(ctx->context);
	if (state->opts.batch_bytes > 0)
	{
		old = MemoryContextSwitchTo(ctx->context);
		state->batch = makeStringInfo();
		MemoryContextSwitchTo(old);
	}
	pgcdc_relcache_create(ctx->context);
	if (state->opts.streaming)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(TransactionId);
		ctl.entrysize = sizeof(StreamedTxn);
		ctl.hcxt = ctx->context;
		state->streamed = hash_create("pgcdc streamed transactions", 16, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		ctl.keysize = 2 * sizeof(TransactionId);
		ctl.entrysize = sizeof(StreamedSub);
		state->streamed_subs = hash_create("pgcdc streamed subtransactions", 64, &ctl,
										   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	/* PostgreSQL streams only if the plugin has the callbacks and leaves this on. */
	ctx->streaming &= state->opts.streaming;

	opt->output_type = state->opts.format == PGCDC_FORMAT_JSON
		? OUTPUT_PLUGIN_TEXTUAL_OUTPUT : OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;
	ctx->output_plugin_private = state;
}

static void
pgcdc_shutdown(LogicalDecodingContext *ctx)
{
	/* Everything lives in ctx->context, which the caller deletes. */
	pgcdc_relcache_destroy();
}

static void
write_begin(LogicalDecodingContext *ctx, PgcdcState *state, ReorderBufferTXN *txn, bool last)
{
	Pgcdc__ChangeEvent ev;

	event_init_txn(state, &ev, PGCDC__OP__OP_BEGIN, txn, NULL);
	ev.lsn = txn->first_lsn;
	write_event(ctx, &ev, last);
	state->begin_written = true;
}

/* Called before a transaction's first record; writes the delayed BEGIN (a streamed one has none). */
static void
start_output(LogicalDecodingContext *ctx, PgcdcState *state, ReorderBufferTXN *txn)
{
	if (state->opts.include_transaction && !state->begin_written && state->streaming == NULL)
		write_begin(ctx, state, txn, false);
	state->wrote_changes = true;
}

static void
pgcdc_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgcdcState *state = ctx->output_plugin_private;
	MemoryContext old;

	state->seq = 0;
	state->begin_written = false;
	state->wrote_changes = false;
	state->guc_nestlevel = pgcdc_stable_output_begin();

	if (state->opts.include_transaction && !state->opts.skip_empty_xacts)
	{
		old = MemoryContextSwitchTo(state->scratch);
		write_begin(ctx, state, txn, true);
		MemoryContextSwitchTo(old);
		MemoryContextReset(state->scratch);
	}
}

static void
pgcdc_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	PgcdcState *state = ctx->output_plugin_private;
	Pgcdc__ChangeEvent ev;
	MemoryContext old;

	pgcdc_stable_output_end(state->guc_nestlevel);
	state->guc_nestlevel = -1;
	state->unreported = 0;

	if (!state->opts.include_transaction ||
		(state->opts.skip_empty_xacts && !state->wrote_changes))
	{
		if (state->batch != NULL)
			write_batch(ctx, state, true);
		OutputPluginUpdateProgress(ctx, !state->wrote_changes);
		return;
	}

	old = MemoryContextSwitchTo(state->scratch);
	event_init_txn(state, &ev, PGCDC__OP__OP_COMMIT, txn, NULL);
	ev.lsn = commit_lsn;
	ev.seq = state->seq;
	ev.end_lsn = txn->end_lsn;
	write_event(ctx, &ev, true);
	if (state->batch != NULL)
		write_batch(ctx, state, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->scratch);
}

static void
write_relation(LogicalDecodingContext *ctx, PgcdcState *state, PgcdcRelation *entry,
			   XLogRecPtr lsn)
{
	Pgcdc__ChangeEvent ev;

	pgcdc_event_init(&ev, PGCDC__OP__OP_RELATION);
	ev.database = state->database;
	ev.lsn = lsn;
	pgcdc_event_set_relation(&ev, entry, true);
	write_event(ctx, &ev, false);
	entry->schema_sent = true;
}

static void
pgcdc_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
			 ReorderBufferChange *change)
{
	PgcdcState *state = ctx->output_plugin_private;
	TupleDesc	desc = RelationGetDescr(relation);
	HeapTuple	newtuple = change->data.tp.newtuple ? &change->data.tp.newtuple->tuple : NULL;
	HeapTuple	oldtuple = change->data.tp.oldtuple ? &change->data.tp.oldtuple->tuple : NULL;
	uint32		seq = next_seq(state, txn, change);
	PgcdcRelation *entry;
	Pgcdc__ChangeEvent ev;
	MemoryContext old;
	Relation	root = NULL;
	TupleConversionMap *to_root = NULL;

	entry = pgcdc_relcache_get(relation, &state->opts);
	/* Option partition-root: a partition's change is its root's, in the root's columns (as pgoutput's). */
	if (OidIsValid(entry->root))
	{
		to_root = entry->to_root;
		root = RelationIdGetRelation(entry->root);
		if (!RelationIsValid(root))
			elog(ERROR, "could not open relation %u, the root of partition %u", entry->root, entry->relid);
		entry = pgcdc_relcache_get(root, &state->opts);
		desc = RelationGetDescr(root);
	}
	if (!entry->included)
	{
		if (root != NULL)
			RelationClose(root);
		note_filtered(ctx, state);
		return;
	}

	old = MemoryContextSwitchTo(state->scratch);
	if (to_root != NULL)
	{
		newtuple = newtuple ? execute_attr_map_tuple(newtuple, to_root) : NULL;
		oldtuple = oldtuple ? execute_attr_map_tuple(oldtuple, to_root) : NULL;
	}
	start_output(ctx, state, txn);
	if (!entry->schema_sent && !state->opts.inline_schema)
		write_relation(ctx, state, entry, change->lsn);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			event_init_txn(state, &ev, PGCDC__OP__OP_INSERT, txn, change);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			event_init_txn(state, &ev, PGCDC__OP__OP_UPDATE, txn, change);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			event_init_txn(state, &ev, PGCDC__OP__OP_DELETE, txn, change);
			break;
		default:
			elog(ERROR, "unexpected change action %d", (int) change->action);
	}
	ev.lsn = change->lsn;
	ev.seq = seq;
	pgcdc_event_set_relation(&ev, entry, state->opts.inline_schema);
	if (newtuple != NULL && change->action != REORDER_BUFFER_CHANGE_DELETE)
		pgcdc_event_set_image(entry, desc, newtuple, false, &ev.n_after, &ev.after);
	if (oldtuple != NULL)
		pgcdc_event_set_image(entry, desc, oldtuple, entry->old_key_only,
							  &ev.n_before, &ev.before);
	write_event(ctx, &ev, true);

	MemoryContextSwitchTo(old);
	MemoryContextReset(state->scratch);
	if (root != NULL)
		RelationClose(root);
}

/*
 * A TRUNCATE of the tables the filters pass.  Option partition-root: of
 * the partitioned tables themselves, not their partitions, whose rows
 * their root's changes carry (as pgoutput with publish_via_partition_root,
 * a partition truncated alone is not streamed).
 */
static void
pgcdc_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
			   Relation relations[], ReorderBufferChange *change)
{
	PgcdcState *state = ctx->output_plugin_private;
	uint32		seq = next_seq(state, txn, change);
	Pgcdc__ChangeEvent ev;
	Pgcdc__RelationRef *refs;
	Pgcdc__RelationRef **ptrs;
	PgcdcRelation **entries;
	MemoryContext old;
	int			n = 0;

	old = MemoryContextSwitchTo(state->scratch);
	refs = palloc(sizeof(Pgcdc__RelationRef) * nrelations);
	ptrs = palloc(sizeof(Pgcdc__RelationRef *) * nrelations);
	entries = palloc(sizeof(PgcdcRelation *) * nrelations);
	for (int i = 0; i < nrelations; i++)
	{
		PgcdcRelation *entry = pgcdc_relcache_get(relations[i], &state->opts);

		if (!entry->included || OidIsValid(entry->root))
			continue;
		entries[n] = entry;
		pgcdc__relation_ref__init(&refs[n]);
		refs[n].schema = entry->schema;
		refs[n].table = entry->table;
		refs[n].relid = entry->relid;
		ptrs[n] = &refs[n];
		n++;
	}

	if (n == 0)
		note_filtered(ctx, state);
	else
	{
		start_output(ctx, state, txn);
		/* Each truncated table described first, as pgoutput does: a consumer may know it from nothing else. */
		for (int i = 0; i < n; i++)
			if (!entries[i]->schema_sent && !state->opts.inline_schema)
				write_relation(ctx, state, entries[i], change->lsn);
		event_init_txn(state, &ev, PGCDC__OP__OP_TRUNCATE, txn, change);
		ev.lsn = change->lsn;
		ev.seq = seq;
		ev.n_truncated = n;
		ev.truncated = ptrs;
		ev.cascade = change->data.truncate.cascade;
		ev.restart_identity = change->data.truncate.restart_seqs;
		write_event(ctx, &ev, true);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->scratch);
}

/*
 * Transactional messages are changes of their transaction; the others come
 * at once, outside any BEGIN/COMMIT, with txn possibly NULL.
 */
static void
pgcdc_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr lsn,
			  bool transactional, const char *prefix, Size sz, const char *message)
{
	PgcdcState *state = ctx->output_plugin_private;
	uint32		seq = transactional ? next_seq(state, txn, NULL) : 0;
	Pgcdc__ChangeEvent ev;
	MemoryContext old;

	if (!pgcdc_options_message_included(&state->opts, prefix))
	{
		if (transactional)
			note_filtered(ctx, state);
		return;
	}

	old = MemoryContextSwitchTo(state->scratch);
	if (transactional)
	{
		start_output(ctx, state, txn);
		event_init_txn(state, &ev, PGCDC__OP__OP_MESSAGE, txn, NULL);
		ev.seq = seq;
	}
	else
	{
		pgcdc_event_init(&ev, PGCDC__OP__OP_MESSAGE);
		ev.database = state->database;
		if (txn != NULL)
			ev.xid = txn->xid;
	}
	ev.lsn = lsn;
	ev.transactional = transactional;
	ev.prefix = pgcdc_to_utf8(prefix, strlen(prefix));
	ev.content.len = sz;
	ev.content.data = (uint8_t *) message;
	write_event(ctx, &ev, true);
	if (!transactional && state->batch != NULL)
		write_batch(ctx, state, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->scratch);
}

/*
 * Streaming (option streaming): a transaction larger than
 * logical_decoding_work_mem comes in blocks while in progress, each between
 * stream_start and stream_stop, its changes through the same callbacks as a
 * decoded transaction's (state->streaming tells them apart); then its
 * stream_commit or stream_abort.  Blocks of different transactions
 * interleave with each other and with whole transactions.
 */
static void
pgcdc_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgcdcState *state = ctx->output_plugin_private;
	bool		found;

	state->streaming = hash_search(state->streamed, &txn->xid, HASH_ENTER, &found);
	if (!found)
		state->streaming->seq = 0;
	state->guc_nestlevel = pgcdc_stable_output_begin();
	pgcdc_relcache_invalidate_all();
}

static void
pgcdc_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgcdcState *state = ctx->output_plugin_private;

	pgcdc_stable_output_end(state->guc_nestlevel);
	state->guc_nestlevel = -1;
	state->unreported = 0;
	state->streaming = NULL;
	if (state->batch != NULL)
		write_batch(ctx, state, true);
	pgcdc_relcache_invalidate_all();
}

/* Forgets the streamed subtransactions of top (all of them, or the one sub). */
static void
forget_subs(PgcdcState *state, TransactionId top)
{
	HASH_SEQ_STATUS it;
	StreamedSub *sub;

	hash_seq_init(&it, state->streamed_subs);
	while ((sub = hash_seq_search(&it)) != NULL)
		if (sub->top == top)
			hash_search(state->streamed_subs, sub, HASH_REMOVE, NULL);
}

/* Writes one record outside any block, a streamed transaction's end: its abort or commit. */
static void
write_stream_end(LogicalDecodingContext *ctx, PgcdcState *state, Pgcdc__ChangeEvent *ev)
{
	MemoryContext old = MemoryContextSwitchTo(state->scratch);

	write_event(ctx, ev, true);
	if (state->batch != NULL)
		write_batch(ctx, state, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->scratch);
}

/*
 * A streamed (sub)transaction rolled back.  For the top-level transaction,
 * everything it streamed is void; for a subtransaction, the range of its
 * streamed changes (none streamed: nothing to say).
 */
static void
pgcdc_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr abort_lsn)
{
	PgcdcState *state = ctx->output_plugin_private;
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	Pgcdc__ChangeEvent ev;
	Pgcdc__StreamInfo info;
	uint32		range[2];

	pgcdc_event_init(&ev, PGCDC__OP__OP_STREAM_ABORT);
	ev.database = state->database;
	ev.xid = top->xid;
	ev.subxid = txn->xid;
	ev.lsn = abort_lsn;
	if (top == txn)
	{
		hash_search(state->streamed, &top->xid, HASH_REMOVE, NULL);
		forget_subs(state, top->xid);
	}
	else
	{
		TransactionId key[2] = {top->xid, txn->xid};
		StreamedSub *sub = hash_search(state->streamed_subs, key, HASH_FIND, NULL);

		if (sub == NULL)
			return;
		pgcdc__stream_info__init(&info);
		range[0] = sub->first;
		range[1] = sub->last - sub->first + 1;
		info.n_aborted = 2;
		info.aborted = range;
		ev.stream = &info;
		hash_search(state->streamed_subs, key, HASH_REMOVE, NULL);
	}
	write_stream_end(ctx, state, &ev);
}

static void
pgcdc_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	PgcdcState *state = ctx->output_plugin_private;
	StreamedTxn *st = hash_search(state->streamed, &txn->xid, HASH_FIND, NULL);
	Pgcdc__ChangeEvent ev;

	pgcdc_event_init(&ev, PGCDC__OP__OP_STREAM_COMMIT);
	ev.database = state->database;
	ev.xid = txn->xid;
	ev.commit_lsn = txn->final_lsn;
	ev.lsn = commit_lsn;
	ev.end_lsn = txn->end_lsn;
	ev.commit_ts = pgcdc_unix_usecs(PGCDC_TXN_COMMIT_TIME(txn));
	ev.seq = st != NULL ? st->seq : 0;
	hash_search(state->streamed, &txn->xid, HASH_REMOVE, NULL);
	forget_subs(state, txn->xid);
	write_stream_end(ctx, state, &ev);
}

static bool
pgcdc_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	PgcdcState *state = ctx->output_plugin_private;

	return state->opts.origin_none && origin_id != InvalidRepOriginId;
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = pgcdc_startup;
	cb->begin_cb = pgcdc_begin;
	cb->change_cb = pgcdc_change;
	cb->truncate_cb = pgcdc_truncate;
	cb->commit_cb = pgcdc_commit;
	cb->message_cb = pgcdc_message;
	cb->filter_by_origin_cb = pgcdc_filter_by_origin;
	cb->shutdown_cb = pgcdc_shutdown;
	cb->stream_start_cb = pgcdc_stream_start;
	cb->stream_stop_cb = pgcdc_stream_stop;
	cb->stream_abort_cb = pgcdc_stream_abort;
	cb->stream_commit_cb = pgcdc_stream_commit;
	cb->stream_change_cb = pgcdc_change;
	cb->stream_truncate_cb = pgcdc_truncate;
	cb->stream_message_cb = pgcdc_message;
}
