/*
 * snapwatch.c — the keys streamed transactions changed while chunks were
 * read, and each chunk's place in the stream (snapwatch.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "snapwatch.h"
#include "xalloc.h"

/* How many of the stream's latest transactions snapwatch_pending knows. */
#define RING 65536

/* A changed key (or, keylen 0 and truncate, a truncate) of a watched table. */
typedef struct Entry
{
	uint32_t	xid;
	uint32_t	keylen;
	size_t		off;			/* in the table's bytes */
	bool		truncate;
} Entry;

typedef struct Watched
{
	uint32_t	relid;
	int			users;			/* workers reading it */
	Entry	   *entries;
	size_t		nentries;
	size_t		cap;
	uint8_t    *keys;
	size_t		nkeys;
	size_t		keycap;
} Watched;

struct SnapWatch
{
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t		mem;
	Watched    *tables;
	size_t		ntables;
	atomic_int	watching;
	Chunk	  **chunks;			/* in flight: READING or SUBMITTED */
	size_t		nchunks;
	size_t		chunkcap;
	uint64_t	next_id;
	uint64_t	clock;			/* orders reservations and snapshots */
	uint32_t	ring[RING];
	size_t		ringlen;
	size_t		ringpos;
};

/* a precedes b, modulo 2^32 (PostgreSQL's TransactionIdPrecedes for normal xids). */
static bool
precedes(uint32_t a, uint32_t b)
{
	return (int32_t) (a - b) < 0;
}

bool
xidsnap_parse(const char *text, XidSnapshot *out)
{
	char	   *end;
	uint64_t	xmin,
				xmax;
	size_t		cap = 0;

	memset(out, 0, sizeof(*out));
	errno = 0;
	xmin = strtoull(text, &end, 10);
	if (errno || end == text || *end != ':')
		return false;
	text = end + 1;
	xmax = strtoull(text, &end, 10);
	if (errno || end == text || *end != ':')
		return false;
	text = end + 1;
	out->xmin = (uint32_t) xmin;
	out->xmax = (uint32_t) xmax;
	while (*text)
	{
		uint64_t	x = strtoull(text, &end, 10);

		if (errno || end == text || (*end != ',' && *end != '\0') || (*end == ',' && end[1] == '\0'))
		{
			xidsnap_free(out);
			return false;
		}
		if (out->nxip == cap)
		{
			cap = cap ? cap * 2 : 8;
			out->xip = xrealloc(out->xip, cap, sizeof(uint32_t));
		}
		out->xip[out->nxip++] = (uint32_t) x;
		text = *end ? end + 1 : end;
	}
	return true;
}

void
xidsnap_free(XidSnapshot *s)
{
	free(s->xip);
	s->xip = NULL;
	s->nxip = 0;
}

bool
xidsnap_visible(const XidSnapshot *s, uint32_t x)
{
	if (precedes(x, s->xmin))
		return true;
	if (!precedes(x, s->xmax))
		return false;
	for (size_t i = 0; i < s->nxip; i++)
		if (s->xip[i] == x)
			return false;
	return true;
}

/*
 * This run's first chunk id, at random: a watermark an earlier run wrote
 * (killed before the stream reached it) names a chunk of that run, and must
 * never be taken for one of this run's, which would then be placed where
 * the earlier one was read, before changes it saw.  (For a table without
 * a key, those changes were then applied twice.)
 */
static uint64_t
first_id(void)
{
	uint64_t	id = 0;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t) sizeof(id))
		id = (uint64_t) time(NULL) << 20 ^ (uint64_t) getpid();
	/* Room to count up without wrapping, and never 0. */
	return (id >> 2) | 1;
}

SnapWatch *
snapwatch_new(size_t mem)
{
	SnapWatch  *w = xcalloc(1, sizeof(SnapWatch));

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->changed, NULL);
	w->mem = mem;
	w->next_id = first_id();
	return w;
}

void
keylist_add(KeyList *l, const uint8_t *key, size_t len)
{
	l->keys = xrealloc(l->keys, l->n + 1, sizeof(uint8_t *));
	l->lens = xrealloc(l->lens, l->n + 1, sizeof(size_t));
	l->keys[l->n] = xmemdup(key, len ? len : 1);
	l->lens[l->n++] = len;
	l->bytes += len;
}

void
keylist_free(KeyList *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->keys[i]);
	free(l->keys);
	free(l->lens);
	memset(l, 0, sizeof(*l));
}

void
chunk_free_rows(Chunk *c)
{
	for (size_t i = 0; i < c->nblocks; i++)
		free(c->blocks[i]);
	free(c->blocks);
	free(c->rows);
	c->blocks = NULL;
	c->rows = NULL;
	c->nblocks = c->block_used = c->block_size = c->cap = 0;
}

static void
chunk_free(Chunk *c)
{
	chunk_free_rows(c);
	free(c->relation);
	free(c->after);
	free(c->last);
	for (size_t i = 0; i < c->ncollations; i++)
		free(c->collations[i]);
	free(c->collations);
	keylist_free(&c->touched);
	xidsnap_free(&c->snap);
	free(c);
}

void
snapwatch_free(SnapWatch *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->ntables; i++)
	{
		free(w->tables[i].entries);
		free(w->tables[i].keys);
	}
	free(w->tables);
	for (size_t i = 0; i < w->nchunks; i++)
		chunk_free(w->chunks[i]);
	free(w->chunks);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->changed);
	free(w);
}

static Watched *
find_table(SnapWatch *w, uint32_t relid)
{
	for (size_t i = 0; i < w->ntables; i++)
		if (w->tables[i].relid == relid)
			return &w->tables[i];
	return NULL;
}

static void
clear_entries(Watched *t)
{
	t->nentries = 0;
	t->nkeys = 0;
}

void
snapwatch_table_start(SnapWatch *w, uint32_t relid)
{
	Watched    *t;

	pthread_mutex_lock(&w->lock);
	if ((t = find_table(w, relid)) == NULL)
	{
		w->tables = xrealloc(w->tables, w->ntables + 1, sizeof(Watched));
		t = &w->tables[w->ntables++];
		memset(t, 0, sizeof(*t));
		t->relid = relid;
		atomic_fetch_add(&w->watching, 1);
	}
	t->users++;
	pthread_mutex_unlock(&w->lock);
}

void
snapwatch_table_stop(SnapWatch *w, uint32_t relid)
{
	Watched    *t;

	pthread_mutex_lock(&w->lock);
	if ((t = find_table(w, relid)) != NULL && --t->users == 0)
	{
		free(t->entries);
		free(t->keys);
		*t = w->tables[--w->ntables];
		atomic_fetch_sub(&w->watching, 1);
	}
	pthread_mutex_unlock(&w->lock);
}

size_t
snapwatch_pending(SnapWatch *w, const XidSnapshot *s)
{
	size_t		n = 0;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < s->nxip; i++)
		for (size_t j = 0; j < w->ringlen; j++)
			if (w->ring[j] == s->xip[i])
			{
				n++;
				break;
			}
	pthread_mutex_unlock(&w->lock);
	return n;
}

Chunk *
snapwatch_reserve(SnapWatch *w, uint32_t relid, bool keyless)
{
	Chunk	   *c = xcalloc(1, sizeof(Chunk));

	c->relid = relid;
	c->keyless = keyless;
	c->state = CHUNK_READING;
	pthread_mutex_lock(&w->lock);
	c->id = w->next_id++;
	c->reserved_at = ++w->clock;
	if (w->nchunks == w->chunkcap)
	{
		w->chunkcap = w->chunkcap ? w->chunkcap * 2 : 8;
		w->chunks = xrealloc(w->chunks, w->chunkcap, sizeof(Chunk *));
	}
	w->chunks[w->nchunks++] = c;
	pthread_mutex_unlock(&w->lock);
	return c;
}

void
snapwatch_snapshot(SnapWatch *w, Chunk *c, XidSnapshot *snap)
{
	pthread_mutex_lock(&w->lock);
	c->snap = *snap;
	c->has_snap = true;
	c->snap_at = ++w->clock;
	pthread_mutex_unlock(&w->lock);
	memset(snap, 0, sizeof(*snap));
}

/* A block of the arena: a megabyte, or more for a row larger than that. */
#define CHUNK_BLOCK (1024 * 1024)

uint8_t *
chunk_alloc(Chunk *c, size_t n)
{
	uint8_t    *p;

	if (c->nblocks == 0 || c->block_size - c->block_used < n)
	{
		c->blocks = xrealloc(c->blocks, c->nblocks + 1, sizeof(uint8_t *));
		c->block_size = n > CHUNK_BLOCK ? n : CHUNK_BLOCK;
		c->blocks[c->nblocks++] = xmalloc(c->block_size);
		c->block_used = 0;
	}
	p = c->blocks[c->nblocks - 1] + c->block_used;
	c->block_used += n;
	return p;
}

void
chunk_add_row(Chunk *c, const uint8_t *rec, size_t len, const uint8_t *key, size_t keylen)
{
	if (c->nrows == c->cap)
	{
		c->cap = c->cap ? c->cap * 2 : 256;
		c->rows = xrealloc(c->rows, c->cap, sizeof(ChunkRow));
	}
	c->rows[c->nrows++] = (ChunkRow) {rec, len, key, keylen, false};
	c->bytes += len + keylen;
}

void
snapwatch_submit(SnapWatch *w, Chunk *c)
{
	pthread_mutex_lock(&w->lock);
	if (c->state == CHUNK_READING)
		c->state = CHUNK_SUBMITTED;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
}

ChunkState
snapwatch_state(SnapWatch *w, const Chunk *c)
{
	ChunkState	s;

	pthread_mutex_lock(&w->lock);
	s = c->state;
	pthread_mutex_unlock(&w->lock);
	return s;
}

void
snapwatch_wait(SnapWatch *w, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
	{
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	pthread_cond_timedwait(&w->changed, &w->lock, &ts);
	pthread_mutex_unlock(&w->lock);
}

void
snapwatch_wake(SnapWatch *w)
{
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
}

/* Removes c from the chunks in flight (under the lock). */
static void
unlist(SnapWatch *w, const Chunk *c)
{
	for (size_t i = 0; i < w->nchunks; i++)
		if (w->chunks[i] == c)
		{
			memmove(&w->chunks[i], &w->chunks[i + 1], (w->nchunks - i - 1) * sizeof(Chunk *));
			w->nchunks--;
			return;
		}
}

void
snapwatch_release(SnapWatch *w, Chunk *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	unlist(w, c);
	pthread_mutex_unlock(&w->lock);
	chunk_free(c);
}

bool
snapwatch_watching(SnapWatch *w)
{
	return w != NULL && atomic_load_explicit(&w->watching, memory_order_relaxed) > 0;
}

void
snapwatch_begin(SnapWatch *w, uint32_t xid)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->ring[w->ringpos] = xid;
	w->ringpos = (w->ringpos + 1) % RING;
	if (w->ringlen < RING)
		w->ringlen++;
	pthread_mutex_unlock(&w->lock);
}

/* The table's record grew past its memory: its chunks in flight cannot be placed safely. */
static void
overflow(SnapWatch *w, Watched *t)
{
	for (size_t i = 0; i < w->nchunks; i++)
		if (w->chunks[i]->relid == t->relid)
			w->chunks[i]->state = CHUNK_SPOILED;
	clear_entries(t);
	pthread_cond_broadcast(&w->changed);
}

static void
record(SnapWatch *w, uint32_t relid, uint32_t xid, const uint8_t *key, size_t keylen, bool truncate)
{
	Watched    *t;

	pthread_mutex_lock(&w->lock);
	if ((t = find_table(w, relid)) != NULL)
	{
		if (t->nkeys + keylen + t->nentries * sizeof(Entry) > w->mem)
			overflow(w, t);
		else
		{
			if (t->nentries == t->cap)
			{
				t->cap = t->cap ? t->cap * 2 : 256;
				t->entries = xrealloc(t->entries, t->cap, sizeof(Entry));
			}
			if (t->nkeys + keylen > t->keycap)
			{
				t->keycap = (t->nkeys + keylen) * 2;
				t->keys = xrealloc(t->keys, t->keycap, 1);
			}
			if (keylen)
				memcpy(t->keys + t->nkeys, key, keylen);
			t->entries[t->nentries++] = (Entry) {xid, (uint32_t) keylen, t->nkeys, truncate};
			t->nkeys += keylen;
		}
	}
	pthread_mutex_unlock(&w->lock);
}

void
snapwatch_change(SnapWatch *w, uint32_t relid, uint32_t xid, const uint8_t *key, size_t keylen)
{
	record(w, relid, xid, key, keylen, false);
}

void
snapwatch_truncate(SnapWatch *w, uint32_t relid, uint32_t xid)
{
	record(w, relid, xid, NULL, 0, true);
}

void
snapwatch_spoil(SnapWatch *w, uint32_t relid)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->nchunks; i++)
		if (w->chunks[i]->relid == relid &&
			(w->chunks[i]->state == CHUNK_READING || w->chunks[i]->state == CHUNK_SUBMITTED))
			w->chunks[i]->state = CHUNK_SPOILED;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
}

static uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * UINT64_C(1099511628211);
	return h;
}

/* A set of keys, to list each touched key once. */
typedef struct Seen
{
	const uint8_t **keys;
	size_t	   *lens;
	size_t		size;			/* a power of two, or 0 */
	size_t		n;
} Seen;

/* Whether key was seen; adds it if not. */
static bool
seen_before(Seen *s, const uint8_t *key, size_t len)
{
	size_t		h;

	if (s->n * 2 >= s->size)
	{
		Seen		bigger = {xcalloc(s->size ? s->size * 2 : 64, sizeof(uint8_t *)),
		xcalloc(s->size ? s->size * 2 : 64, sizeof(size_t)), s->size ? s->size * 2 : 64, 0};

		for (size_t i = 0; i < s->size; i++)
			if (s->keys[i] != NULL)
				seen_before(&bigger, s->keys[i], s->lens[i]);
		free(s->keys);
		free(s->lens);
		*s = bigger;
	}
	for (h = (size_t) hash_bytes(key, len) & (s->size - 1); s->keys[h] != NULL; h = (h + 1) & (s->size - 1))
		if (s->lens[h] == len && memcmp(s->keys[h], key, len) == 0)
			return true;
	s->keys[h] = key;
	s->lens[h] = len;
	s->n++;
	return false;
}

static void
seen_free(Seen *s)
{
	free(s->keys);
	free(s->lens);
}

/* Marks c's rows whose key is in t's entries invisible to c's snapshot; false: c must be read again. */
static bool
drop_newer(Chunk *c, const Watched *t)
{
	size_t		size = 16;
	size_t	   *slots;
	bool		ok = true;
	Seen		seen = {0};

	while (size < c->nrows * 2)
		size *= 2;
	slots = xcalloc(size, sizeof(size_t));	/* row index + 1; 0: empty */
	for (size_t i = 0; i < c->nrows; i++)
	{
		size_t		h = (size_t) hash_bytes(c->rows[i].key, c->rows[i].keylen) & (size - 1);

		while (slots[h] != 0)
			h = (h + 1) & (size - 1);
		slots[h] = i + 1;
	}
	for (size_t e = 0; e < t->nentries && ok; e++)
	{
		const Entry *en = &t->entries[e];
		const uint8_t *key = t->keys + en->off;
		size_t		h;

		if (xidsnap_visible(&c->snap, en->xid))
			continue;
		if (en->truncate)
		{
			/* The rows read are gone from the source, and the stream says so before them. */
			for (size_t i = 0; i < c->nrows; i++)
				c->rows[i].dropped = true;
			continue;
		}
		if (c->keyless)
		{
			ok = false;			/* no key to tell the changed rows by */
			break;
		}
		h = (size_t) hash_bytes(key, en->keylen) & (size - 1);
		for (; slots[h] != 0; h = (h + 1) & (size - 1))
		{
			ChunkRow   *r = &c->rows[slots[h] - 1];

			if (r->keylen == en->keylen && memcmp(r->key, key, en->keylen) == 0)
			{
				r->dropped = true;
				break;
			}
		}
		/* A key not among the rows: the target keeps it too (the range's keep list). */
		if (slots[h] == 0 && !seen_before(&seen, key, en->keylen))
			keylist_add(&c->touched, key, en->keylen);
	}
	free(slots);
	seen_free(&seen);
	c->ndropped = 0;
	for (size_t i = 0; i < c->nrows; i++)
		c->ndropped += c->rows[i].dropped;
	return ok;
}

/*
 * Forgets t's entries that no chunk of t can need: visible to the snapshot
 * of the chunk just placed, which later snapshots see too, and to every
 * chunk of t in flight.  A chunk whose snapshot is not taken yet will take
 * it after the placed one's only when it was reserved after that one's was
 * given; otherwise nothing is forgotten this time.
 */
static void
prune(SnapWatch *w, Watched *t, const Chunk *placed)
{
	size_t		keep = 0;
	size_t		keyat = 0;

	for (size_t i = 0; i < w->nchunks; i++)
	{
		const Chunk *c = w->chunks[i];

		if (c->relid == t->relid && c->state == CHUNK_READING && !c->has_snap &&
			c->reserved_at < placed->snap_at)
			return;
	}
	for (size_t e = 0; e < t->nentries; e++)
	{
		Entry		en = t->entries[e];
		bool		needed = !xidsnap_visible(&placed->snap, en.xid);

		for (size_t i = 0; i < w->nchunks && !needed; i++)
		{
			const Chunk *c = w->chunks[i];

			if (c->relid == t->relid && c->has_snap &&
				(c->state == CHUNK_READING || c->state == CHUNK_SUBMITTED) &&
				!xidsnap_visible(&c->snap, en.xid))
				needed = true;
		}
		if (!needed)
			continue;
		memmove(t->keys + keyat, t->keys + en.off, en.keylen);
		en.off = keyat;
		keyat += en.keylen;
		t->entries[keep++] = en;
	}
	t->nentries = keep;
	t->nkeys = keyat;
}

Chunk *
snapwatch_take(SnapWatch *w, uint64_t id, uint64_t lsn)
{
	Chunk	   *c = NULL;
	Watched    *t;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->nchunks; i++)
		if (w->chunks[i]->id == id && w->chunks[i]->state == CHUNK_SUBMITTED)
			c = w->chunks[i];
	if (c != NULL)
	{
		unlist(w, c);
		if ((t = find_table(w, c->relid)) == NULL)
			c->state = CHUNK_SPOILED;	/* cannot happen: its worker watches the table */
		else if (!drop_newer(c, t))
			c->state = CHUNK_SPOILED;
		else
		{
			c->lsn = lsn;
			prune(w, t, c);
		}
		if (c->state == CHUNK_SPOILED)
		{
			/* Back in the list for its worker to see and release. */
			w->chunks[w->nchunks++] = c;
			pthread_cond_broadcast(&w->changed);
			c = NULL;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return c;
}

void
snapwatch_placed(SnapWatch *w, Chunk *c)
{
	pthread_mutex_lock(&w->lock);
	c->state = CHUNK_PLACED;
	/* Back in the list so that snapwatch_release finds it wherever it is. */
	if (w->nchunks == w->chunkcap)
	{
		w->chunkcap = w->chunkcap ? w->chunkcap * 2 : 8;
		w->chunks = xrealloc(w->chunks, w->chunkcap, sizeof(Chunk *));
	}
	w->chunks[w->nchunks++] = c;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
}
