/*
 * streamreplay.c — a partition reading a streamed transaction back at its commit.
 */
#include <stdlib.h>
#include <string.h>

#include "streamreplay.h"
#include "xalloc.h"

void
streamreplay_reset(StreamReplay *r)
{
	free(r->aborted);
	memset(r, 0, sizeof(*r));
	r->resume = -1;
	r->until = -1;
}

int64_t
streamreplay_start(StreamReplay *r, const Event *e)
{
	StreamCommit c = event_stream_commit(e);

	streamreplay_reset(r);
	r->commit = c;
	if (c.naborted > 0)
	{
		r->aborted = xmalloc(c.naborted * sizeof(uint32_t));
		memcpy(r->aborted, c.aborted, c.naborted * sizeof(uint32_t));
	}
	r->commit.aborted = r->aborted;
	r->active = true;
	r->until = e->msg->offset;
	r->resume = c.first_offset;
	return c.first_offset;
}

bool
streamreplay_stale(StreamReplay *r, int64_t offset)
{
	if (!r->active || r->resume < 0)
		return false;
	if (offset != r->resume)
		return true;
	r->resume = -1;
	return false;
}

const StreamCommit *
streamreplay_commit(const StreamReplay *r)
{
	return r->active ? &r->commit : NULL;
}
