/*
 * colpolicy.c — the column settings compiled, and applied to a table's
 * records (colpolicy.h).
 */
#define _GNU_SOURCE

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "colpolicy.h"
#include "recwrite.h"
#include "xalloc.h"

/* PostgreSQL's character types, the JDBC CHAR and VARCHAR columns Debezium masks. */
#define CHAR_OID 18
#define NAME_OID 19
#define TEXT_OID 25
#define BPCHAR_OID 1042
#define VARCHAR_OID 1043

/* Regular expressions of one setting, each anchored to the whole name. */
typedef struct Patterns
{
	regex_t    *items;
	size_t		n;
} Patterns;

typedef enum MaskKind
{
	MASK_NONE,
	MASK_CHARS,					/* N '*' */
	MASK_HASH					/* a digest, hex */
} MaskKind;

/* One column.mask.* setting. */
typedef struct Mask
{
	char	   *setting;		/* its key, for errors */
	MaskKind	kind;
	int			chars;			/* MASK_CHARS */
	const EVP_MD *md;			/* MASK_HASH */
	char	   *salt;
	bool		v2;				/* the value's bytes, not Java's serialized String */
	Patterns	columns;
} Mask;

/* One table regex of message.key.columns and its columns. */
typedef struct KeyRule
{
	regex_t		table;
	char	  **columns;
	size_t		ncolumns;
} KeyRule;

struct ColPolicy
{
	Patterns	include;		/* n 0: every column */
	bool		include_given;
	Patterns	exclude;
	Mask	   *masks;
	size_t		nmasks;
	KeyRule    *keys;
	size_t		nkeys;
	bool		unset_too;		/* debezium-json: a value not in the image (null there) is starred too */
};

/* What happens to one column of the table as read. */
typedef struct ColPlan
{
	bool		kept;
	const Mask *mask;			/* NULL: its values as they are */
	long		length;			/* the declared length a hash is cut to; 0: none */
} ColPlan;

struct ColTable
{
	ColPlan    *plans;			/* per column as read */
	size_t		ncols;
	bool		unset_too;
	bool		rewrites;
	Buf			relation;		/* as sent */
	Buf			keyed;			/* as sent, the Kafka key's columns marked as the key */
	bool	   *masked;			/* per column as sent */
	uint32_t   *keys;			/* the Kafka key's positions as sent */
	size_t		nkeys;
};

/* Compiles "^(re)$", extended, case-insensitive; false with err naming the setting. */
static bool
compile(regex_t *out, const char *re, size_t len, const char *setting, char *err, size_t errlen)
{
	char	   *anchored = xmalloc(len + 5);
	int			rc;

	snprintf(anchored, len + 5, "^(%.*s)$", (int) len, re);
	rc = regcomp(out, anchored, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	free(anchored);
	if (rc != 0)
	{
		char		why[128];

		regerror(rc, out, why, sizeof(why));
		snprintf(err, errlen, "%s: \"%.*s\" is not a regular expression: %s", setting, (int) len, re, why);
		return false;
	}
	return true;
}

/* The next entry of a comma-separated list at *s, blanks trimmed (*len 0: an empty one); moves *s past it. */
static const char *
next_entry(const char **s, size_t *len)
{
	const char *start = *s;
	size_t		n = strcspn(start, ",");

	*s += n + ((*s)[n] == ',');
	while (n > 0 && (*start == ' ' || *start == '\t'))
		start++, n--;
	while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
		n--;
	*len = n;
	return start;
}

/* A comma-separated list of regular expressions (empty entries skipped). */
static bool
compile_list(Patterns *p, const char *list, const char *setting, char *err, size_t errlen)
{
	for (const char *s = list; *s;)
	{
		size_t		len;
		const char *start = next_entry(&s, &len);

		if (len == 0)
			continue;
		p->items = xrealloc(p->items, p->n + 1, sizeof(regex_t));
		if (!compile(&p->items[p->n], start, len, setting, err, errlen))
			return false;
		p->n++;
	}
	if (p->n == 0)
	{
		snprintf(err, errlen, "%s: the list is empty", setting);
		return false;
	}
	return true;
}

static bool
matches(const Patterns *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (regexec(&p->items[i], name, 0, NULL, 0) == 0)
			return true;
	return false;
}

static void
patterns_free(Patterns *p)
{
	for (size_t i = 0; i < p->n; i++)
		regfree(&p->items[i]);
	free(p->items);
}

/* Java's MessageDigest names (case-insensitive) and OpenSSL's for them. */
static const EVP_MD *
digest_named(const char *java)
{
	static const char *const names[][2] = {
		{"MD5", "MD5"}, {"SHA-1", "SHA1"}, {"SHA", "SHA1"}, {"SHA-224", "SHA224"},
		{"SHA-256", "SHA256"}, {"SHA-384", "SHA384"}, {"SHA-512", "SHA512"},
		{"SHA-512/224", "SHA512-224"}, {"SHA-512/256", "SHA512-256"}, {"SHA3-224", "SHA3-224"},
		{"SHA3-256", "SHA3-256"}, {"SHA3-384", "SHA3-384"}, {"SHA3-512", "SHA3-512"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(java, names[i][0]) == 0)
			return EVP_get_digestbyname(names[i][1]);
	return NULL;
}

/*
 * A column.mask.* key: column.mask.with.<N>.chars, or
 * column.mask.hash[.v2].<algorithm>.with.salt.<salt>.
 */
static bool
parse_mask(Mask *m, const char *key, const char *value, char *err, size_t errlen)
{
	const char *rest = key + strlen(COLPOLICY_MASK_PREFIX);

	m->setting = xstrdup(key);
	if (strncmp(rest, "with.", 5) == 0)
	{
		char	   *end;
		long		n = strtol(rest + 5, &end, 10);

		if (end == rest + 5 || strcmp(end, ".chars") != 0 || n < 1 || n > 1000)
		{
			snprintf(err, errlen, "%s: a mask with characters is column.mask.with.<N>.chars, N from 1 to 1000", key);
			return false;
		}
		m->kind = MASK_CHARS;
		m->chars = (int) n;
	}
	else if (strncmp(rest, "hash.", 5) == 0)
	{
		const char *alg = rest + 5;
		const char *with = strstr(alg, ".with.salt.");
		char	   *name;

		if (strncmp(alg, "v2.", 3) == 0)
		{
			m->v2 = true;
			alg += 3;
		}
		if (with == NULL || with <= alg || with[strlen(".with.salt.")] == '\0')
		{
			snprintf(err, errlen, "%s: a hash mask is column.mask.hash[.v2].<algorithm>.with.salt.<salt>", key);
			return false;
		}
		name = xstrndup(alg, (size_t) (with - alg));
		m->md = digest_named(name);
		if (m->md == NULL)
		{
			snprintf(err, errlen, "%s: no hash algorithm \"%s\" (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512, "
					 "SHA-512/224, SHA-512/256, SHA3-224, SHA3-256, SHA3-384, SHA3-512)", key, name);
			free(name);
			return false;
		}
		free(name);
		m->kind = MASK_HASH;
		m->salt = xstrdup(with + strlen(".with.salt."));
	}
	else
	{
		snprintf(err, errlen, "%s: not a mask setting (column.mask.with.<N>.chars, "
				 "column.mask.hash[.v2].<algorithm>.with.salt.<salt>)", key);
		return false;
	}
	return compile_list(&m->columns, value, key, err, errlen);
}

/* message.key.columns: "<table regex>:<column>,<column>;..." */
static bool
parse_keys(ColPolicy *p, const char *value, const char *setting, char *err, size_t errlen)
{
	for (const char *s = value; *s;)
	{
		size_t		len = strcspn(s, ";");
		char	   *rule = xstrndup(s, len);
		char	   *colon = strrchr(rule, ':');
		KeyRule    *k;

		s += len + (s[len] == ';');
		if (strspn(rule, " \t") == strlen(rule))
		{
			free(rule);
			continue;
		}
		if (colon == NULL || colon == rule)
		{
			snprintf(err, errlen, "%s: \"%s\" is not <table regex>:<column>[,<column>...]", setting, rule);
			free(rule);
			return false;
		}
		p->keys = xrealloc(p->keys, p->nkeys + 1, sizeof(KeyRule));
		k = &p->keys[p->nkeys];
		memset(k, 0, sizeof(*k));
		if (!compile(&k->table, rule, (size_t) (colon - rule), setting, err, errlen))
		{
			free(rule);
			return false;
		}
		p->nkeys++;
		for (const char *c = colon + 1; *c;)
		{
			size_t		n;
			const char *start = next_entry(&c, &n);

			if (n == 0)
				continue;
			k->columns = xrealloc(k->columns, k->ncolumns + 1, sizeof(char *));
			k->columns[k->ncolumns++] = xstrndup(start, n);
		}
		if (k->ncolumns == 0)
		{
			snprintf(err, errlen, "%s: \"%s\" names no column", setting, rule);
			free(rule);
			return false;
		}
		free(rule);
	}
	return true;
}

ColPolicy *
colpolicy_new(const Config *c, bool *ok, char *err, size_t errlen)
{
	ColPolicy  *p = xcalloc(1, sizeof(ColPolicy));
	const char *include = config_string(c, "column.include.list");
	const char *exclude = config_string(c, "column.exclude.list");
	const char *keys = config_string(c, "message.key.columns");
	bool		any = false;

	*ok = false;
	p->unset_too = strcmp(config_string(c, "value.format"), "debezium-json") == 0;
	if (include && exclude)
	{
		snprintf(err, errlen, "%s: column.include.list and column.exclude.list cannot both be set",
				 config_origin(c, "column.exclude.list"));
		goto fail;
	}
	if (include)
	{
		char		setting[256];

		snprintf(setting, sizeof(setting), "%s: column.include.list", config_origin(c, "column.include.list"));
		if (!compile_list(&p->include, include, setting, err, errlen))
			goto fail;
		p->include_given = any = true;
	}
	if (exclude)
	{
		char		setting[256];

		snprintf(setting, sizeof(setting), "%s: column.exclude.list", config_origin(c, "column.exclude.list"));
		if (!compile_list(&p->exclude, exclude, setting, err, errlen))
			goto fail;
		any = true;
	}
	if (keys)
	{
		char		setting[256];

		snprintf(setting, sizeof(setting), "%s: message.key.columns", config_origin(c, "message.key.columns"));
		if (!parse_keys(p, keys, setting, err, errlen))
			goto fail;
		any = any || p->nkeys > 0;
	}
	for (size_t i = 0; i < config_passthrough_count(c); i++)
	{
		const char *name = config_passthrough_name(c, i);

		if (strncmp(name, COLPOLICY_MASK_PREFIX, strlen(COLPOLICY_MASK_PREFIX)) != 0)
			continue;
		p->masks = xrealloc(p->masks, p->nmasks + 1, sizeof(Mask));
		memset(&p->masks[p->nmasks], 0, sizeof(Mask));
		p->nmasks++;
		if (!parse_mask(&p->masks[p->nmasks - 1], name, config_passthrough_value(c, i), err, errlen))
			goto fail;
		any = true;
	}
	*ok = true;
	if (any)
		return p;
fail:
	colpolicy_free(p);
	return NULL;
}

void
colpolicy_free(ColPolicy *p)
{
	if (p == NULL)
		return;
	patterns_free(&p->include);
	patterns_free(&p->exclude);
	for (size_t i = 0; i < p->nmasks; i++)
	{
		free(p->masks[i].setting);
		free(p->masks[i].salt);
		patterns_free(&p->masks[i].columns);
	}
	free(p->masks);
	for (size_t i = 0; i < p->nkeys; i++)
	{
		regfree(&p->keys[i].table);
		for (size_t j = 0; j < p->keys[i].ncolumns; j++)
			free(p->keys[i].columns[j]);
		free(p->keys[i].columns);
	}
	free(p->keys);
	free(p);
}

/* What the table needs of a Column's bytes. */
typedef struct ColumnInfo
{
	Span		name;
	uint32_t	type_oid;		/* the base type's, for a domain */
	Span		type_name;		/* the base type's, for a domain */
	bool		key;
} ColumnInfo;

static bool
column_info(Span column, ColumnInfo *ci)
{
	size_t		at = 0;
	RecordField f;
	uint32_t	base = 0;
	Span		base_name = {NULL, 0};

	memset(ci, 0, sizeof(*ci));
	while (record_next_field(column.data, column.len, &at, &f))
	{
		if (f.number == WIRE_COLUMN_NAME && f.wire == WIRE_TYPE_LEN)
			ci->name = f.payload;
		else if (f.number == WIRE_COLUMN_TYPE_OID && f.wire == WIRE_TYPE_VARINT)
			ci->type_oid = (uint32_t) f.varint;
		else if (f.number == WIRE_COLUMN_TYPE_NAME && f.wire == WIRE_TYPE_LEN)
			ci->type_name = f.payload;
		else if (f.number == WIRE_COLUMN_KEY && f.wire == WIRE_TYPE_VARINT)
			ci->key = f.varint != 0;
		else if (f.number == WIRE_COLUMN_BASE_TYPE_OID && f.wire == WIRE_TYPE_VARINT)
			base = (uint32_t) f.varint;
		else if (f.number == WIRE_COLUMN_BASE_TYPE_NAME && f.wire == WIRE_TYPE_LEN)
			base_name = f.payload;
	}
	if (at != column.len || ci->name.len == 0)
		return false;
	if (base != 0)
	{
		ci->type_oid = base;
		ci->type_name = base_name;
	}
	return true;
}

static bool
is_character(uint32_t oid)
{
	return oid == TEXT_OID || oid == VARCHAR_OID || oid == BPCHAR_OID || oid == CHAR_OID || oid == NAME_OID;
}

/* The n of "character varying(n)" or "character(n)"; 0 when there is none. */
static long
declared_length(Span type_name)
{
	const uint8_t *p = memchr(type_name.data, '(', type_name.len);
	const uint8_t *end = type_name.data + type_name.len;
	long		n = 0;

	for (p = p ? p + 1 : end; p < end && *p >= '0' && *p <= '9' && n < 100000000; p++)
		n = n * 10 + (*p - '0');
	return n;
}

/*
 * Marks in key[] the columns message.key.columns names for the table;
 * false when no rule names the table, or (*failed, with err) when a
 * column it names is not the table's.
 */
static bool
key_rule(const ColPolicy *p, const char *table, const ColumnInfo *cols, size_t ncols, bool *key,
		 char *err, size_t errlen, bool *failed)
{
	*failed = false;
	for (size_t i = 0; i < p->nkeys; i++)
	{
		const KeyRule *k = &p->keys[i];

		if (regexec(&k->table, table, 0, NULL, 0) != 0)
			continue;
		memset(key, 0, ncols * sizeof(bool));
		for (size_t j = 0; j < k->ncolumns; j++)
		{
			size_t		c;
			size_t		len = strlen(k->columns[j]);

			for (c = 0; c < ncols; c++)
				if (cols[c].name.len == len && memcmp(cols[c].name.data, k->columns[j], len) == 0)
					break;
			if (c == ncols)
				for (c = 0; c < ncols; c++)
					if (cols[c].name.len == len && strncasecmp((const char *) cols[c].name.data, k->columns[j], len) == 0)
						break;
			if (c == ncols)
			{
				snprintf(err, errlen, "message.key.columns: table %s has no column \"%s\"", table, k->columns[j]);
				*failed = true;
				return false;
			}
			key[c] = true;
		}
		return true;
	}
	return false;
}

/* A Column's bytes with its key flag set to key. */
static void
put_column(Buf *out, Span column, bool key)
{
	Buf			body = {0};
	size_t		at = 0;
	RecordField f;
	bool		placed = false;

	while (record_next_field(column.data, column.len, &at, &f))
	{
		if (f.number == WIRE_COLUMN_KEY)
			continue;
		if (!placed && f.number > WIRE_COLUMN_KEY)
		{
			recwrite_varint(&body, WIRE_COLUMN_KEY, key);
			placed = true;
		}
		buf_append(&body, f.whole.data, f.whole.len);
	}
	if (!placed)
		recwrite_varint(&body, WIRE_COLUMN_KEY, key);
	recwrite_message(out, WIRE_CHANGE_EVENT_COLUMNS, body.data, body.len);
	buf_free(&body);
}

/* The RELATION record (buf) as sent: kept columns only; key NULL: their own key flags, else key[]'s. */
static void
put_relation(const ColTable *t, const uint8_t *buf, size_t len, const bool *key, Buf *out)
{
	size_t		at = 0;
	size_t		col = 0;
	RecordField f;

	out->len = 0;
	while (record_next_field(buf, len, &at, &f))
	{
		if (f.number == WIRE_CHANGE_EVENT_COLUMNS && f.wire == WIRE_TYPE_LEN)
		{
			size_t		i = col++;

			if (i < t->ncols && !t->plans[i].kept)
				continue;
			if (key != NULL && i < t->ncols)
			{
				put_column(out, f.payload, key[i]);
				continue;
			}
		}
		buf_append(out, f.whole.data, f.whole.len);
	}
}

/*
 * A Java String as ObjectOutputStream.writeObject writes it, into out: the
 * stream header, then TC_STRING and a 16-bit length, or TC_LONGSTRING and
 * a 64-bit one, and the text in Java's modified UTF-8 (NUL as C0 80, a
 * character past U+FFFF as its two surrogates, three bytes each).
 */
static void
java_serialized(Span text, Buf *out)
{
	Buf			utf = {0};
	const uint8_t *p = text.data;
	const uint8_t *end = text.data + text.len;

	while (p < end)
	{
		if (*p == 0)
		{
			buf_append(&utf, "\xc0\x80", 2);
			p++;
		}
		else if ((*p & 0xf8) == 0xf0 && end - p >= 4)
		{
			uint32_t	cp = ((uint32_t) (p[0] & 0x07) << 18) | ((uint32_t) (p[1] & 0x3f) << 12) |
				((uint32_t) (p[2] & 0x3f) << 6) | (uint32_t) (p[3] & 0x3f);
			uint32_t	units[2] = {0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)};

			for (int i = 0; i < 2; i++)
			{
				uint8_t		b[3] = {(uint8_t) (0xe0 | (units[i] >> 12)), (uint8_t) (0x80 | ((units[i] >> 6) & 0x3f)),
				(uint8_t) (0x80 | (units[i] & 0x3f))};

				buf_append(&utf, b, 3);
			}
			p += 4;
		}
		else
			buf_append(&utf, p++, 1);
	}
	buf_append(out, "\xac\xed\x00\x05", 4);
	if (utf.len <= 0xffff)
	{
		uint8_t		head[3] = {0x74, (uint8_t) (utf.len >> 8), (uint8_t) utf.len};

		buf_append(out, head, sizeof(head));
	}
	else
	{
		uint8_t		head[9] = {0x7c};

		for (int i = 0; i < 8; i++)
			head[1 + i] = (uint8_t) ((uint64_t) utf.len >> (56 - 8 * i));
		buf_append(out, head, sizeof(head));
	}
	buf_append(out, utf.data, utf.len);
	buf_free(&utf);
}

/* A masked text into out: N stars, or the salted digest in hex cut to the column's length. */
static void
mask_text(const ColPlan *pl, Span text, Buf *out)
{
	const Mask *m = pl->mask;
	EVP_MD_CTX *ctx;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (m->kind == MASK_CHARS)
	{
		for (int i = 0; i < m->chars; i++)
			buf_putc(out, '*');
		return;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
	{
		fputs("FATAL: out of memory (a digest context)\n", stderr);
		abort();
	}
	EVP_DigestInit_ex(ctx, m->md, NULL);
	EVP_DigestUpdate(ctx, m->salt, strlen(m->salt));
	if (m->v2)
		EVP_DigestUpdate(ctx, text.data, text.len);
	else
	{
		Buf			ser = {0};

		java_serialized(text, &ser);
		EVP_DigestUpdate(ctx, ser.data, ser.len);
		buf_free(&ser);
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < mdlen; i++)
		buf_printf(out, "%02x", md[i]);
	if (pl->length > 0 && out->len > (size_t) pl->length)
		out->len = (size_t) pl->length;
}

/*
 * A Value field of a masked column.  As Debezium's: stars replace any
 * value, NULL and an unchanged TOASTed one included (and, when unset_too,
 * one the image does not carry, which Debezium's format writes as null);
 * a hash replaces a text, and leaves NULL and an unchanged value as they
 * are.
 */
static void
put_masked(Buf *out, const RecordField *f, const ColPlan *pl, bool unset_too)
{
	Span		text = {(const uint8_t *) "", 0};
	Buf			masked = {0};
	Buf			body = {0};
	bool		is_text = record_value_text(f->payload, &text);

	if (pl->mask->kind == MASK_CHARS ? (f->payload.len == 0 && !unset_too) : !is_text)
	{
		buf_append(out, f->whole.data, f->whole.len);
		return;
	}
	mask_text(pl, text, &masked);
	recwrite_message(&body, WIRE_VALUE_TEXT_VALUE, masked.data, masked.len);
	recwrite_message(out, (uint32_t) f->number, body.data, body.len);
	buf_free(&masked);
	buf_free(&body);
}

bool
coltable_record(const ColTable *t, const uint8_t *buf, size_t len, Buf *out, char *err, size_t errlen)
{
	size_t		at = 0;
	size_t		nbefore = 0;
	size_t		nafter = 0;
	RecordField f;

	out->len = 0;
	while (record_next_field(buf, len, &at, &f))
	{
		size_t	   *n = f.number == WIRE_CHANGE_EVENT_BEFORE ? &nbefore
			: f.number == WIRE_CHANGE_EVENT_AFTER ? &nafter : NULL;
		size_t		i;

		if (n == NULL || f.wire != WIRE_TYPE_LEN)
		{
			buf_append(out, f.whole.data, f.whole.len);
			continue;
		}
		i = (*n)++;
		if (i >= t->ncols)
			break;
		if (!t->plans[i].kept)
			continue;
		if (t->plans[i].mask != NULL)
			put_masked(out, &f, &t->plans[i], t->unset_too);
		else
			buf_append(out, f.whole.data, f.whole.len);
	}
	if (at != len)
	{
		snprintf(err, errlen, "a malformed record at byte %zu of %zu", at, len);
		return false;
	}
	if ((nbefore != 0 && nbefore != t->ncols) || (nafter != 0 && nafter != t->ncols))
	{
		snprintf(err, errlen, "a row image of %zu values for a table of %zu columns",
				 nbefore != 0 && nbefore != t->ncols ? nbefore : nafter, t->ncols);
		return false;
	}
	return true;
}

bool
colpolicy_table(const ColPolicy *p, const Record *r, const uint8_t *buf, size_t len, ColTable **out,
				char *err, size_t errlen)
{
	size_t		n = r->columns.n;
	ColumnInfo *cols = xcalloc(n ? n : 1, sizeof(ColumnInfo));
	bool	   *kafka_key = xcalloc(n ? n : 1, sizeof(bool));
	ColTable   *t = xcalloc(1, sizeof(ColTable));
	char		table[2 * 256 + 2];
	bool		keyed = false;
	bool		failed;
	bool		ok = false;

	*out = NULL;
	snprintf(table, sizeof(table), "%.*s.%.*s", (int) r->schema.len, (const char *) r->schema.data,
			 (int) r->table.len, (const char *) r->table.data);
	t->plans = xcalloc(n ? n : 1, sizeof(ColPlan));
	t->ncols = n;
	t->unset_too = p->unset_too;
	for (size_t i = 0; i < n; i++)
	{
		char		name[sizeof(table) + 256];
		ColPlan    *pl = &t->plans[i];

		if (!column_info(r->columns.items[i], &cols[i]))
		{
			snprintf(err, errlen, "a malformed column %zu in the RELATION record of %s", i + 1, table);
			goto done;
		}
		kafka_key[i] = cols[i].key;
		snprintf(name, sizeof(name), "%s.%.*s", table, (int) cols[i].name.len, (const char *) cols[i].name.data);
		pl->kept = p->include_given ? matches(&p->include, name) : !matches(&p->exclude, name);
		for (size_t m = 0; m < p->nmasks && pl->kept && pl->mask == NULL; m++)
			if (matches(&p->masks[m].columns, name))
				pl->mask = &p->masks[m];
		if (cols[i].key && (!pl->kept || pl->mask))
		{
			snprintf(err, errlen, "%s: %s is a column of the table's key, which the snapshot and walsink "
					 "need as it is: it cannot be %s", !pl->kept ? (p->include_given ? "column.include.list"
																	  : "column.exclude.list") : pl->mask->setting,
					 name, !pl->kept ? "left out" : "masked");
			goto done;
		}
		if (pl->mask != NULL && !is_character(cols[i].type_oid))
		{
			snprintf(err, errlen, "%s: %s is of type %.*s: masks apply to character columns "
					 "(text, varchar, char), as Debezium's", pl->mask->setting, name,
					 (int) cols[i].type_name.len, (const char *) cols[i].type_name.data);
			goto done;
		}
		if (pl->mask != NULL)
			pl->length = declared_length(cols[i].type_name);
		t->rewrites = t->rewrites || !pl->kept || pl->mask;
	}
	keyed = key_rule(p, table, cols, n, kafka_key, err, errlen, &failed);
	if (failed)
		goto done;
	for (size_t i = 0; i < n && keyed; i++)
		if (kafka_key[i] && !t->plans[i].kept)
		{
			snprintf(err, errlen, "message.key.columns: column \"%.*s\" of %s is left out by the column lists",
					 (int) cols[i].name.len, (const char *) cols[i].name.data, table);
			goto done;
		}
	ok = true;
	if (!t->rewrites && !keyed)
		goto done;
	t->masked = xcalloc(n ? n : 1, sizeof(bool));
	t->keys = xcalloc(n ? n : 1, sizeof(uint32_t));
	for (size_t i = 0, sent = 0; i < n; i++)
	{
		if (!t->plans[i].kept)
			continue;
		t->masked[sent] = t->plans[i].mask != NULL;
		if (kafka_key[i])
			t->keys[t->nkeys++] = (uint32_t) sent;
		sent++;
	}
	put_relation(t, buf, len, NULL, &t->relation);
	put_relation(t, buf, len, kafka_key, &t->keyed);
	*out = t;
	t = NULL;
done:
	free(cols);
	free(kafka_key);
	coltable_free(t);
	return ok;
}

void
coltable_free(ColTable *t)
{
	if (t == NULL)
		return;
	free(t->plans);
	buf_free(&t->relation);
	buf_free(&t->keyed);
	free(t->masked);
	free(t->keys);
	free(t);
}

const Buf *
coltable_relation(const ColTable *t, bool keyed)
{
	return keyed ? &t->keyed : &t->relation;
}

const bool *
coltable_masked(const ColTable *t)
{
	return t->masked;
}

const uint32_t *
coltable_keys(const ColTable *t, size_t *n)
{
	*n = t->nkeys;
	return t->keys;
}

bool
coltable_rewrites(const ColTable *t)
{
	return t->rewrites;
}
