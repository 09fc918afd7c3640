/*
 * fuzz_value.c — libFuzzer target: one packed Value (proto/cdc.proto)
 * through copytext_check and both COPY renderers for every column type
 * (render.c), and a text value through buf_put_utf8, whose output must be
 * valid UTF-8 and, for valid input, the input itself.  Quicker to explore
 * than whole records (fuzz_event.c): every input is a value.  Seeds:
 * corpus/value, the values of real records (make_corpus.py).
 */
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "render.h"

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
utf8_field(const char *s)
{
	Buf			b = {0};

	buf_put_utf8(&b, s);
	RENDER_ASSERT(b.data[b.len] == '\0' && strlen(b.data) == b.len, "buf_put_utf8's terminator");
	RENDER_ASSERT(utf8_valid(b.data), "buf_put_utf8 wrote text that is not UTF-8");
	RENDER_ASSERT(!utf8_valid(s) || strcmp(b.data, s) == 0, "buf_put_utf8 changed valid UTF-8");
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Pgcdc__Value *v = pgcdc__value__unpack(NULL, size, data);

	if (v == NULL)
		return 0;
	render_value(v);
	if (v->kind_case == PGCDC__VALUE__KIND_TEXT_VALUE)
		utf8_field(v->text_value);
	pgcdc__value__free_unpacked(v, NULL);
	return 0;
}
