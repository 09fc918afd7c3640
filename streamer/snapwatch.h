/*
 * snapwatch.h — where the stream and the snapshot's chunks meet: which keys
 * streamed transactions changed while chunks were read, and where each chunk
 * goes in the stream.
 *
 * A chunk is read in a short REPEATABLE READ transaction whose snapshot T
 * (xmin, xmax, in-progress xids) the worker hands over with the rows.  Then
 * the worker writes a watermark into the WAL (a logical message in a
 * transaction of its own, whose commit flushes it) after T.  When the stream
 * reaches the watermark, every
 * transaction visible to T is behind it (it committed before T was taken),
 * so the chunk's rows go into the stream right there, at the watermark's
 * position, minus the rows whose key a transaction invisible to T changed
 * before the watermark: the stream already carries their newer state.
 *
 * For that, the stream records, per table being read, every changed key with
 * its transaction's xid, from the moment the table's reading starts
 * (snapwatch_table_start) until it ends; a record is forgotten once it is
 * visible to every chunk still in flight and to one chunk placed after it.
 * A transaction that committed in the WAL before the recording started but
 * is still in progress for T (a commit waiting for a synchronous standby)
 * would escape the record: snapwatch_table_start answers which of the
 * snapshot's in-progress xids the stream has already begun, and the worker
 * waits until they end before reading (snapshot.c).
 *
 * Thread-safety: one mutex; the stream thread calls snapwatch_change,
 * snapwatch_truncate, snapwatch_begin and snapwatch_take, the snapshot
 * workers the rest.  snapwatch_watching is a lock-free check for the stream's
 * hot path.
 */
#ifndef PGCDC_STREAMER_SNAPWATCH_H
#define PGCDC_STREAMER_SNAPWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The logical message prefix of the watermarks; the content is "<slot>/<chunk id>". */
#define SNAPWATCH_PREFIX "pgcdc.snapshot"

/* A snapshot's transaction ids (pg_current_snapshot()), in 32 bits as the stream's xids are. */
typedef struct XidSnapshot
{
	uint32_t	xmin;
	uint32_t	xmax;
	uint32_t   *xip;
	size_t		nxip;
} XidSnapshot;

/* Parses pg_current_snapshot()'s text "xmin:xmax:xip,xip,..."; false when malformed. */
extern bool xidsnap_parse(const char *text, XidSnapshot *out);
extern void xidsnap_free(XidSnapshot *s);
/* Whether a committed transaction x is visible to s (32-bit xids compared modulo 2^32). */
extern bool xidsnap_visible(const XidSnapshot *s, uint32_t x);

/* One row of a chunk: its READ record and its Kafka key, in the chunk's arena. */
typedef struct ChunkRow
{
	const uint8_t *rec;			/* the READ record without its position */
	size_t		len;
	const uint8_t *key;			/* NULL for a table without a key */
	size_t		keylen;
	bool		dropped;		/* a newer change of its key is in the stream */
} ChunkRow;

/* Keys, each its Kafka key's bytes. */
typedef struct KeyList
{
	uint8_t   **keys;
	size_t	   *lens;
	size_t		n;
	size_t		bytes;
} KeyList;

extern void keylist_add(KeyList *l, const uint8_t *key, size_t len);
extern void keylist_free(KeyList *l);

typedef enum ChunkState
{
	CHUNK_READING,				/* reserved: its snapshot is being taken */
	CHUNK_SUBMITTED,			/* read, waiting for its watermark in the stream */
	CHUNK_PLACED,				/* its rows went to the producer at lsn */
	CHUNK_SPOILED				/* cannot be placed safely (a keyless table changed, the record
								 * overflowed): read it again */
} ChunkState;

typedef struct Chunk
{
	uint64_t	id;
	uint32_t	relid;
	ChunkState	state;
	XidSnapshot snap;			/* set by snapwatch_snapshot */
	bool		has_snap;
	uint64_t	reserved_at;	/* the watch's clock when reserved, and when its snapshot was given */
	uint64_t	snap_at;
	uint8_t    *relation;		/* the table's RELATION record, as read with the rows */
	size_t		relation_len;
	ChunkRow   *rows;			/* NULL once placed: the producer has them */
	size_t		nrows;
	size_t		cap;
	uint8_t   **blocks;			/* the arena the rows' bytes are in (chunk_alloc) */
	size_t		nblocks;
	size_t		block_used;		/* of the last block */
	size_t		block_size;
	size_t		bytes;
	size_t		key_bytes;		/* of its rows' keys: the range's keep list */
	bool		keyless;
	bool		partial;		/* read with a filter: no range, it says nothing of the rows it left out */
	/* The range the chunk covers (proto SnapshotRange): keys after `after`, up to `last`. */
	uint8_t    *after;			/* NULL: from the table's first row */
	size_t		after_len;
	uint8_t    *last;			/* NULL: to the table's end */
	size_t		last_len;
	char	  **collations;		/* per key column ("" when none) */
	size_t		ncollations;
	uint64_t	lsn;			/* PLACED: the watermark's position, the rows' commit_lsn */
	size_t		ndropped;		/* PLACED: rows left out for a newer streamed change */
	KeyList		touched;		/* PLACED: keys the stream changed that the chunk could not see */
} Chunk;

typedef struct SnapWatch SnapWatch;

/* mem: the most bytes of recorded keys per table before its chunks in flight are spoiled. */
extern SnapWatch *snapwatch_new(size_t mem);
extern void snapwatch_free(SnapWatch *w);

/* Workers. */

/*
 * Starts recording relid's changed keys (or keeps recording: tables are
 * counted).  Then the caller takes a snapshot and asks snapwatch_pending
 * until it answers 0.
 */
extern void snapwatch_table_start(SnapWatch *w, uint32_t relid);
extern void snapwatch_table_stop(SnapWatch *w, uint32_t relid);
/* How many of s's in-progress xids the stream has already begun (must end before reading). */
extern size_t snapwatch_pending(SnapWatch *w, const XidSnapshot *s);

/* A new chunk of relid, CHUNK_READING: from now on nothing it may need is forgotten. */
extern Chunk *snapwatch_reserve(SnapWatch *w, uint32_t relid, bool keyless);
/* The chunk's snapshot, just taken (moved into c): entries it sees may be forgotten. */
extern void snapwatch_snapshot(SnapWatch *w, Chunk *c, XidSnapshot *snap);
/*
 * n bytes in the chunk's arena (freed with its rows, one block of a
 * megabyte for many rows): the worker writes a row's record and key there,
 * then adds the row.  Nothing is freed row by row, nor by another thread
 * than the one that allocates, which kept glibc's arenas busy.
 */
extern uint8_t *chunk_alloc(Chunk *c, size_t n);
extern void chunk_add_row(Chunk *c, const uint8_t *rec, size_t len, const uint8_t *key, size_t keylen);
/* The rows and their arena freed (placed: the producer has copies). */
extern void chunk_free_rows(Chunk *c);
/* The chunk is read (c->snap set): it waits for its watermark. */
extern void snapwatch_submit(SnapWatch *w, Chunk *c);
/* The chunk's current state, and its position once placed. */
extern ChunkState snapwatch_state(SnapWatch *w, const Chunk *c);
/* Waits up to ms for any chunk's state to change, or snapwatch_wake. */
extern void snapwatch_wait(SnapWatch *w, int ms);
/* Wakes the waiters: something they wait for moved (what Kafka acknowledged). */
extern void snapwatch_wake(SnapWatch *w);
/* Forgets the chunk (in any state) and frees it. */
extern void snapwatch_release(SnapWatch *w, Chunk *c);

/* The stream. */

/* Whether any table is being read: the stream's cheap check before snapwatch_change. */
extern bool snapwatch_watching(SnapWatch *w);
/* A transaction begins in the stream. */
extern void snapwatch_begin(SnapWatch *w, uint32_t xid);
/* A streamed change of relid's row with this key, by transaction xid. */
extern void snapwatch_change(SnapWatch *w, uint32_t relid, uint32_t xid, const uint8_t *key, size_t keylen);
/* relid's chunks being read or waiting for their watermark cannot be placed safely: read them again. */
extern void snapwatch_spoil(SnapWatch *w, uint32_t relid);
/* A streamed truncate of relid by xid: every row of a chunk it is invisible to goes. */
extern void snapwatch_truncate(SnapWatch *w, uint32_t relid, uint32_t xid);
/*
 * The watermark of chunk id reached the stream at lsn: returns the chunk,
 * its rows marked dropped where the stream is newer and the keys the
 * stream changed that the chunk could not see in touched, for the stream to
 * produce (then snapwatch_placed), or NULL when it is not one of ours
 * (spoiled, released, or another process's).
 */
extern Chunk *snapwatch_take(SnapWatch *w, uint64_t id, uint64_t lsn);
/* The taken chunk's rows went to the producer. */
extern void snapwatch_placed(SnapWatch *w, Chunk *c);

#endif							/* PGCDC_STREAMER_SNAPWATCH_H */
