/*
 * roundtrip_dump.c — an independent oracle for the decoder's JSON rendering.
 *
 * Reads pgcdc records from stdin, each framed as a 4-byte big-endian length
 * followed by that many bytes, unpacks them with libprotobuf-c and prints
 * each as one line of JSON under the conventions of decoder/json.c: fields
 * only when protobuf would serialize them, LSNs as "X/X", bytes as lowercase
 * hex, uuids in 8-4-4-4-12 form, enums as the lowercase word after the
 * prefix, Value members as {"int":5}, {"null":true}, {}.
 *
 * It shares nothing with json.c on purpose: it walks libprotobuf-c's
 * descriptors instead of naming fields, so a field the plugin's renderer
 * drops, or one added to cdc.proto later, comes out here and shows up as a
 * difference.  Floats are printed with 17 significant digits (enough to read
 * back the same double), not in shortest form: the test compares numbers.
 *
 * usage: roundtrip-dump < records
 * Exits 1 with a message naming the record when one is truncated, does not
 * unpack, or holds a string that is not UTF-8 or a uuid that is not 16 bytes.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.pb-c.h"

/* Where output goes and why it stopped, for main to report. */
typedef struct Dump
{
	FILE	   *out;
	const char *field;			/* the field being printed */
	char		error[200];
} Dump;

/* Whether s is well-formed UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
static bool
utf8_valid(const unsigned char *s)
{
	while (*s)
	{
		unsigned int c = *s;
		int			n;
		unsigned int cp;
		unsigned int min;

		if (c < 0x80)
		{
			s++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		for (int i = 1; i <= n; i++)
		{
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

static bool
put_string(Dump *d, const char *s)
{
	if (!utf8_valid((const unsigned char *) s))
	{
		snprintf(d->error, sizeof(d->error), "field \"%s\" is not valid UTF-8", d->field);
		return false;
	}
	fputc('"', d->out);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			fprintf(d->out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(d->out, "\\u%04x", *p);
		else
			fputc(*p, d->out);
	}
	fputc('"', d->out);
	return true;
}

static void
put_hex(Dump *d, const ProtobufCBinaryData *b)
{
	fputc('"', d->out);
	for (size_t i = 0; i < b->len; i++)
		fprintf(d->out, "%02x", b->data[i]);
	fputc('"', d->out);
}

static bool
put_uuid(Dump *d, const ProtobufCBinaryData *b)
{
	if (b->len != 16)
	{
		snprintf(d->error, sizeof(d->error), "uuid of %zu bytes, not 16", b->len);
		return false;
	}
	fputc('"', d->out);
	for (size_t i = 0; i < 16; i++)
		fprintf(d->out, "%s%02x", (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "",
				b->data[i]);
	fputc('"', d->out);
	return true;
}

static void
put_double(Dump *d, double v)
{
	if (isnan(v))
		fputs("\"NaN\"", d->out);
	else if (isinf(v))
		fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", d->out);
	else
		fprintf(d->out, "%.17g", v);
}

/* OP_BEGIN -> "begin", IDENTITY_FULL -> "full": the lowercase word after the prefix. */
static void
put_enum(Dump *d, const ProtobufCEnumDescriptor *desc, int value)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, value);
	const char *p;

	if (ev == NULL)
	{
		/* Not in this cdc.proto: the number, which no rendering by name can match. */
		fprintf(d->out, "%d", value);
		return;
	}
	p = strchr(ev->name, '_');
	p = p ? p + 1 : ev->name;
	fputc('"', d->out);
	for (; *p; p++)
		fputc(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p, d->out);
	fputc('"', d->out);
}

/* uint64 fields are LSNs in this contract: commit_lsn, lsn, end_lsn. */
static bool
is_lsn_field(const char *name)
{
	size_t		len = strlen(name);

	return strcmp(name, "lsn") == 0 || (len > 4 && strcmp(name + len - 4, "_lsn") == 0);
}

/* A Value's members print as "null", "int", "text"...; every other field by its own name. */
static const char *
json_key(const ProtobufCFieldDescriptor *f, char *buf, size_t size)
{
	size_t		len = strlen(f->name);

	if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return f->name;
	if (strcmp(f->name, "is_null") == 0)
		return "null";
	if (len > 6 && strcmp(f->name + len - 6, "_value") == 0 && len - 6 < size)
	{
		memcpy(buf, f->name, len - 6);
		buf[len - 6] = '\0';
		return buf;
	}
	return f->name;
}

static size_t
element_size(ProtobufCType type)
{
	switch (type)
	{
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			return 8;
		case PROTOBUF_C_TYPE_DOUBLE:
			return sizeof(double);
		case PROTOBUF_C_TYPE_BOOL:
			return sizeof(protobuf_c_boolean);
		case PROTOBUF_C_TYPE_STRING:
			return sizeof(char *);
		case PROTOBUF_C_TYPE_BYTES:
			return sizeof(ProtobufCBinaryData);
		case PROTOBUF_C_TYPE_MESSAGE:
			return sizeof(ProtobufCMessage *);
		default:				/* 32-bit integers, float, enum */
			return 4;
	}
}

static bool put_message(Dump *d, const ProtobufCMessage *msg);

/* One value of field f stored at p (a member, or an element of a repeated member). */
static bool
put_element(Dump *d, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			fprintf(d->out, "%" PRId32, *(const int32_t *) p);
			break;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			fprintf(d->out, "%" PRIu32, *(const uint32_t *) p);
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			fprintf(d->out, "%" PRId64, *(const int64_t *) p);
			break;
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			{
				uint64_t	v = *(const uint64_t *) p;

				if (is_lsn_field(f->name))
					fprintf(d->out, "\"%" PRIX32 "/%" PRIX32 "\"",
							(uint32_t) (v >> 32), (uint32_t) v);
				else
					fprintf(d->out, "%" PRIu64, v);
				break;
			}
		case PROTOBUF_C_TYPE_FLOAT:
			put_double(d, *(const float *) p);
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			put_double(d, *(const double *) p);
			break;
		case PROTOBUF_C_TYPE_BOOL:
			fputs(*(const protobuf_c_boolean *) p ? "true" : "false", d->out);
			break;
		case PROTOBUF_C_TYPE_ENUM:
			put_enum(d, f->descriptor, *(const int *) p);
			break;
		case PROTOBUF_C_TYPE_STRING:
			return put_string(d, *(const char *const *) p);
		case PROTOBUF_C_TYPE_BYTES:
			if (strcmp(f->name, "uuid_value") == 0)
				return put_uuid(d, p);
			put_hex(d, p);
			break;
		case PROTOBUF_C_TYPE_MESSAGE:
			return put_message(d, *(const ProtobufCMessage *const *) p);
	}
	return true;
}

/* Whether protobuf would write f: the set oneof member, a non-empty list, a non-default scalar. */
static bool
field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *) msg;
	const void *p = base + f->offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *) (base + f->quantifier_offset) == f->id;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *) (base + f->quantifier_offset) > 0;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
		f->type != PROTOBUF_C_TYPE_MESSAGE)
		return *(const protobuf_c_boolean *) (base + f->quantifier_offset);
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_STRING:
			return *(const char *const *) p != NULL && **(const char *const *) p != '\0';
		case PROTOBUF_C_TYPE_BYTES:
			return ((const ProtobufCBinaryData *) p)->len > 0;
		case PROTOBUF_C_TYPE_MESSAGE:
			return *(const void *const *) p != NULL;
		case PROTOBUF_C_TYPE_FLOAT:
			return *(const float *) p != 0;
		case PROTOBUF_C_TYPE_DOUBLE:
			return *(const double *) p != 0;
		case PROTOBUF_C_TYPE_BOOL:
			return *(const protobuf_c_boolean *) p;
		default:
			{
				static const char zero[8];

				return memcmp(p, zero, element_size(f->type)) != 0;
			}
	}
}

/* Every present field of msg, in descriptor (field number) order. */
static bool
put_message(Dump *d, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	const char *base = (const char *) msg;
	bool		first = true;

	fputc('{', d->out);
	for (unsigned int i = 0; i < desc->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		char		keybuf[64];

		if (!field_present(msg, f))
			continue;
		fputs(first ? "\"" : ",\"", d->out);
		fputs(json_key(f, keybuf, sizeof(keybuf)), d->out);
		fputs("\":", d->out);
		first = false;
		d->field = f->name;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
		{
			size_t		n = *(const size_t *) (base + f->quantifier_offset);
			const char *array = *(const char *const *) (base + f->offset);

			fputc('[', d->out);
			for (size_t j = 0; j < n; j++)
			{
				if (j > 0)
					fputc(',', d->out);
				if (!put_element(d, f, array + j * element_size(f->type)))
					return false;
			}
			fputc(']', d->out);
		}
		else if (!put_element(d, f, base + f->offset))
			return false;
	}
	fputc('}', d->out);
	return true;
}

typedef enum ReadResult
{
	READ_RECORD,
	READ_END,					/* clean end of input */
	READ_TRUNCATED,				/* input ends inside a record, or a read error */
	READ_NO_MEMORY
} ReadResult;

/* The next framed record from in into *buf (malloc'd, *len bytes). */
static ReadResult
read_record(FILE *in, uint8_t **buf, size_t *len)
{
	unsigned char hdr[4];
	size_t		got = fread(hdr, 1, sizeof(hdr), in);

	if (got == 0 && feof(in))
		return READ_END;
	if (got != sizeof(hdr))
		return READ_TRUNCATED;
	*len = ((size_t) hdr[0] << 24) | ((size_t) hdr[1] << 16) |
		((size_t) hdr[2] << 8) | (size_t) hdr[3];
	*buf = malloc(*len ? *len : 1);
	if (*buf == NULL)
		return READ_NO_MEMORY;
	if (fread(*buf, 1, *len, in) != *len)
	{
		free(*buf);
		return READ_TRUNCATED;
	}
	return READ_RECORD;
}

/*
 * On an error the exit status is 1 and stdout may end with the failing
 * record's partial line: the caller goes by the status.
 */
int
main(void)
{
	Dump		d = {.out = stdout};
	size_t		count = 0;
	uint8_t    *buf;
	size_t		len;
	ReadResult	rc;

	while ((rc = read_record(stdin, &buf, &len)) == READ_RECORD)
	{
		Pgcdc__ChangeEvent *ev = pgcdc__change_event__unpack(NULL, len, buf);
		bool		ok;

		free(buf);
		if (ev == NULL)
		{
			fprintf(stderr, "roundtrip-dump: record %zu (%zu bytes) does not unpack "
					"as a pgcdc.ChangeEvent\n", count, len);
			return 1;
		}
		ok = put_message(&d, &ev->base);
		pgcdc__change_event__free_unpacked(ev, NULL);
		if (!ok)
		{
			fprintf(stderr, "roundtrip-dump: record %zu: %s\n", count, d.error);
			return 1;
		}
		fputc('\n', d.out);
		count++;
	}
	if (rc == READ_NO_MEMORY)
	{
		fprintf(stderr, "roundtrip-dump: out of memory for record %zu (%zu bytes)\n", count, len);
		return 1;
	}
	if (rc == READ_TRUNCATED || ferror(stdin))
	{
		fprintf(stderr, "roundtrip-dump: input ends inside record %zu\n", count);
		return 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout))
	{
		perror("roundtrip-dump: stdout");
		return 1;
	}
	return 0;
}
