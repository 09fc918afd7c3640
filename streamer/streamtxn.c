/*
 * streamtxn.c — transactions streamed while in progress, until they end.
 */
#include <stdlib.h>
#include <string.h>

#include "streamtxn.h"
#include "xalloc.h"

typedef struct StreamTxn
{
	uint32_t	xid;
	uint64_t	outstanding;
	StreamPart *parts;
	size_t		nparts;
	uint32_t   *aborted;		/* (first, count) pairs as they came */
	size_t		naborted;
	bool		merged;			/* aborted is sorted and merged */
	StreamKey  *keys;
	size_t		nkeys;
	uint8_t    *keybytes;
	size_t		keylen;
	size_t		keycap;
	bool		incomplete;		/* keys missed or past the bound: none kept */
	uint32_t   *relids;			/* the tables it changed */
	size_t		nrelids;
	StreamCount *counts;		/* per table, summed at the commit from bysub */
	size_t		ncounts;
	struct SubCount *bysub;		/* open addressing by (subxid, table) */
	size_t		subcap;			/* a power of two, or 0 */
	size_t		nsub;
	uint32_t   *aborted_subs;	/* rolled back */
	size_t		naborted_subs;
} StreamTxn;

/* Changes of one table by one subtransaction. */
typedef struct SubCount
{
	uint32_t	subxid;
	uint32_t	table;			/* index into counts + 1; 0: a free slot */
	uint64_t	n;
} SubCount;

typedef struct Block
{
	uint64_t	id;
	uint32_t	xid;
} Block;

struct StreamTxns
{
	uint64_t	run;
	size_t		mem;
	StreamTxn **txns;			/* few: the transactions being streamed at once */
	size_t		ntxns;
	Block	   *blocks;			/* by id, ascending */
	size_t		nblocks;
};

StreamTxns *
streamtxns_new(uint64_t run, size_t mem)
{
	StreamTxns *s = xcalloc(1, sizeof(StreamTxns));

	s->run = run;
	s->mem = mem;
	return s;
}

static void
txn_free(StreamTxn *t)
{
	for (size_t i = 0; i < t->nparts; i++)
		free(t->parts[i].topic);
	free(t->parts);
	free(t->aborted);
	free(t->keys);
	free(t->keybytes);
	free(t->relids);
	for (size_t i = 0; i < t->ncounts; i++)
		free(t->counts[i].name);
	free(t->counts);
	free(t->bysub);
	free(t->aborted_subs);
	free(t);
}

void
streamtxns_free(StreamTxns *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ntxns; i++)
		txn_free(s->txns[i]);
	free(s->txns);
	free(s->blocks);
	free(s);
}

uint64_t
streamtxns_run(const StreamTxns *s)
{
	return s->run;
}

static StreamTxn *
find(const StreamTxns *s, uint32_t xid)
{
	for (size_t i = 0; i < s->ntxns; i++)
		if (s->txns[i]->xid == xid)
			return s->txns[i];
	return NULL;
}

static StreamTxn *
get(StreamTxns *s, uint32_t xid)
{
	StreamTxn  *t = find(s, xid);

	if (t != NULL)
		return t;
	t = xcalloc(1, sizeof(StreamTxn));
	t->xid = xid;
	s->txns = xrealloc(s->txns, s->ntxns + 1, sizeof(StreamTxn *));
	s->txns[s->ntxns++] = t;
	return t;
}

void
streamtxns_block(StreamTxns *s, uint64_t block, uint32_t xid)
{
	(void) get(s, xid);
	s->blocks = xrealloc(s->blocks, s->nblocks + 1, sizeof(Block));
	s->blocks[s->nblocks++] = (Block) {block, xid};
}

void
streamtxns_sent(StreamTxns *s, uint32_t xid)
{
	get(s, xid)->outstanding++;
}

static const Block *
find_block(const StreamTxns *s, uint64_t id)
{
	size_t		lo = 0,
				hi = s->nblocks;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (s->blocks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nblocks && s->blocks[lo].id == id ? &s->blocks[lo] : NULL;
}

void
streamtxns_delivered(StreamTxns *s, uint64_t block, const char *topic, int32_t partition, int64_t offset)
{
	const Block *b = find_block(s, block);
	StreamTxn  *t;

	if (b == NULL || (t = find(s, b->xid)) == NULL)
		return;					/* not a block, or of a transaction that ended (aborted) */
	if (t->outstanding > 0)
		t->outstanding--;
	if (offset < 0)
		return;
	for (size_t i = 0; i < t->nparts; i++)
		if (t->parts[i].partition == partition && strcmp(t->parts[i].topic, topic) == 0)
		{
			if (offset < t->parts[i].first_offset)
				t->parts[i].first_offset = offset;
			return;
		}
	t->parts = xrealloc(t->parts, t->nparts + 1, sizeof(StreamPart));
	t->parts[t->nparts++] = (StreamPart) {xstrdup(topic), partition, offset};
}

static void
add_relid(StreamTxn *t, uint32_t relid)
{
	for (size_t i = 0; i < t->nrelids; i++)
		if (t->relids[i] == relid)
			return;
	t->relids = xrealloc(t->relids, t->nrelids + 1, sizeof(uint32_t));
	t->relids[t->nrelids++] = relid;
}

void
streamtxns_key(StreamTxns *s, uint32_t xid, uint32_t relid, uint32_t seq, const uint8_t *key, size_t keylen,
			   bool truncate, bool watching)
{
	StreamTxn  *t = get(s, xid);

	add_relid(t, relid);
	if (!t->incomplete && (!watching || t->keylen + keylen + (t->nkeys + 1) * sizeof(StreamKey) > s->mem))
	{
		free(t->keys);
		free(t->keybytes);
		t->keys = NULL;
		t->keybytes = NULL;
		t->nkeys = t->keylen = t->keycap = 0;
		t->incomplete = true;
	}
	if (t->incomplete)
		return;
	/* Grown by doubling: the bound keeps them within mem. */
	if ((t->nkeys & (t->nkeys - 1)) == 0)
		t->keys = xrealloc(t->keys, t->nkeys ? t->nkeys * 2 : 16, sizeof(StreamKey));
	t->keys[t->nkeys++] = (StreamKey) {relid, seq, truncate, t->keylen, keylen};
	if (keylen > 0)
	{
		if (t->keylen + keylen > t->keycap)
		{
			t->keycap = (t->keylen + keylen) * 2;
			t->keybytes = xrealloc(t->keybytes, t->keycap, 1);
		}
		memcpy(t->keybytes + t->keylen, key, keylen);
		t->keylen += keylen;
	}
}

static SubCount *
sub_slot(SubCount *slots, size_t cap, uint32_t subxid, uint32_t table)
{
	size_t		i = ((size_t) subxid * 2654435761u ^ table * 40503u) & (cap - 1);

	while (slots[i].table != 0 && (slots[i].subxid != subxid || slots[i].table != table))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

void
streamtxns_count(StreamTxns *s, uint32_t xid, uint32_t subxid, const char *name, size_t schema_len)
{
	StreamTxn  *t = get(s, xid);
	uint32_t	table = 0;
	SubCount   *slot;

	for (size_t i = 0; i < t->ncounts && table == 0; i++)
		if (strcmp(t->counts[i].name, name) == 0)
			table = (uint32_t) i + 1;
	if (table == 0)
	{
		t->counts = xrealloc(t->counts, t->ncounts + 1, sizeof(StreamCount));
		t->counts[t->ncounts++] = (StreamCount) {xstrdup(name), schema_len, 0};
		table = (uint32_t) t->ncounts;
	}
	if (2 * (t->nsub + 1) > t->subcap)
	{
		size_t		cap = t->subcap ? 2 * t->subcap : 64;
		SubCount   *slots = xcalloc(cap, sizeof(SubCount));

		for (size_t i = 0; i < t->subcap; i++)
			if (t->bysub[i].table != 0)
				*sub_slot(slots, cap, t->bysub[i].subxid, t->bysub[i].table) = t->bysub[i];
		free(t->bysub);
		t->bysub = slots;
		t->subcap = cap;
	}
	slot = sub_slot(t->bysub, t->subcap, subxid, table);
	if (slot->table == 0)
	{
		*slot = (SubCount) {subxid, table, 0};
		t->nsub++;
	}
	slot->n++;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a,
				y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* Whether subxid rolled back (aborted_subs sorted). */
static bool
rolled_back(const StreamTxn *t, uint32_t subxid)
{
	return t->naborted_subs > 0 &&
		bsearch(&subxid, t->aborted_subs, t->naborted_subs, sizeof(uint32_t), cmp_u32) != NULL;
}

const StreamCount *
streamtxns_counts(StreamTxns *s, uint32_t xid, size_t *n)
{
	StreamTxn  *t = find(s, xid);

	*n = 0;
	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < t->ncounts; i++)
		t->counts[i].n = 0;
	qsort(t->aborted_subs, t->naborted_subs, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < t->subcap; i++)
		if (t->bysub[i].table != 0 && !rolled_back(t, t->bysub[i].subxid))
			t->counts[t->bysub[i].table - 1].n += t->bysub[i].n;
	*n = t->ncounts;
	return t->counts;
}

void
streamtxns_abort_range(StreamTxns *s, uint32_t xid, uint32_t subxid, uint32_t first, uint32_t count)
{
	StreamTxn  *t = get(s, xid);

	t->aborted_subs = xrealloc(t->aborted_subs, t->naborted_subs + 1, sizeof(uint32_t));
	t->aborted_subs[t->naborted_subs++] = subxid;
	t->aborted = xrealloc(t->aborted, t->naborted + 2, sizeof(uint32_t));
	t->aborted[t->naborted++] = first;
	t->aborted[t->naborted++] = count;
	t->merged = false;
}

void
streamtxns_end(StreamTxns *s, uint32_t xid)
{
	size_t		out = 0;

	for (size_t i = 0; i < s->ntxns; i++)
	{
		if (s->txns[i]->xid == xid)
		{
			txn_free(s->txns[i]);
			continue;
		}
		s->txns[out++] = s->txns[i];
	}
	s->ntxns = out;
	out = 0;
	for (size_t i = 0; i < s->nblocks; i++)
		if (s->blocks[i].xid != xid)
			s->blocks[out++] = s->blocks[i];
	s->nblocks = out;
}

uint64_t
streamtxns_outstanding(const StreamTxns *s, uint32_t xid)
{
	const StreamTxn *t = find(s, xid);

	return t ? t->outstanding : 0;
}

const StreamPart *
streamtxns_parts(const StreamTxns *s, uint32_t xid, size_t *n)
{
	const StreamTxn *t = find(s, xid);

	*n = t ? t->nparts : 0;
	return t ? t->parts : NULL;
}

static int
cmp_pair(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a,
				y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* Sorted by first seq, overlapping or touching ranges joined (a parent's range holds its children's). */
static void
merge(StreamTxn *t)
{
	size_t		out = 0;

	if (t->merged)
		return;
	qsort(t->aborted, t->naborted / 2, 2 * sizeof(uint32_t), cmp_pair);
	for (size_t i = 0; i < t->naborted; i += 2)
	{
		uint64_t	first = t->aborted[i],
					end = first + t->aborted[i + 1];

		if (out > 0 && first <= (uint64_t) t->aborted[out - 2] + t->aborted[out - 1])
		{
			uint64_t	prev_end = (uint64_t) t->aborted[out - 2] + t->aborted[out - 1];

			if (end > prev_end)
				t->aborted[out - 1] = (uint32_t) (end - t->aborted[out - 2]);
			continue;
		}
		t->aborted[out++] = (uint32_t) first;
		t->aborted[out++] = (uint32_t) (end - first);
	}
	t->naborted = out;
	t->merged = true;
}

const uint32_t *
streamtxns_aborted(StreamTxns *s, uint32_t xid, size_t *n)
{
	StreamTxn  *t = find(s, xid);

	*n = 0;
	if (t == NULL)
		return NULL;
	merge(t);
	*n = t->naborted;
	return t->aborted;
}

bool
streamtxns_void(StreamTxns *s, uint32_t xid, uint32_t seq)
{
	size_t		n;
	const uint32_t *a = streamtxns_aborted(s, xid, &n);

	for (size_t i = 0; i < n; i += 2)
		if (seq >= a[i] && (uint64_t) seq < (uint64_t) a[i] + a[i + 1])
			return true;
	return false;
}

const StreamKey *
streamtxns_keys(const StreamTxns *s, uint32_t xid, size_t *n, const uint8_t **bytes, bool *complete,
				const uint32_t **relids, size_t *nrelids)
{
	const StreamTxn *t = find(s, xid);

	*n = t ? t->nkeys : 0;
	*bytes = t ? t->keybytes : NULL;
	*complete = t ? !t->incomplete : true;
	*relids = t ? t->relids : NULL;
	*nrelids = t ? t->nrelids : 0;
	return t ? t->keys : NULL;
}
