/*
 * jsonout.c — JSON text appended to a Buf (jsonout.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

/*
 * Jackson's escapes: the short ones, \u00XX (upper case) for the other
 * control characters, and a character outside the Basic Multilingual Plane
 * as its UTF-16 surrogate pair; all else as it is, UTF-8.
 */
void
json_str(Buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		run = 0;

	buf_reserve(b, n + 2);
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];
		const char *esc = NULL;
		char		u[16];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0xf0)
			continue;
		if (c >= 0xf0)
		{
			uint32_t	cp;

			/* A four-byte sequence (the decoder's text is valid UTF-8); anything else passes as it is. */
			if (c > 0xf4 || i + 3 >= n || ((unsigned char) s[i + 1] & 0xc0) != 0x80 ||
				((unsigned char) s[i + 2] & 0xc0) != 0x80 || ((unsigned char) s[i + 3] & 0xc0) != 0x80)
				continue;
			cp = ((uint32_t) (c & 0x07) << 18) | ((uint32_t) (s[i + 1] & 0x3f) << 12) |
				((uint32_t) (s[i + 2] & 0x3f) << 6) | (uint32_t) (s[i + 3] & 0x3f);
			buf_append(b, s + run, i - run);
			cp -= 0x10000;
			snprintf(u, sizeof(u), "\\u%04X\\u%04X", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
			buf_append(b, u, 12);
			i += 3;
			run = i + 1;
			continue;
		}
		buf_append(b, s + run, i - run);
		run = i + 1;
		switch (c)
		{
			case '"': esc = "\\\""; break;
			case '\\': esc = "\\\\"; break;
			case '\n': esc = "\\n"; break;
			case '\r': esc = "\\r"; break;
			case '\t': esc = "\\t"; break;
			case '\b': esc = "\\b"; break;
			case '\f': esc = "\\f"; break;
			default:
				memcpy(u, "\\u00", 4);
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
		}
		buf_append(b, esc, strlen(esc));
	}
	buf_append(b, s + run, n - run);
	buf_putc(b, '"');
}

void
json_cstr(Buf *b, const char *s)
{
	json_str(b, s, strlen(s));
}

static void
base64_with(Buf *b, const uint8_t *p, size_t n, const char *abc)
{
	char	   *o;

	buf_reserve(b, (n + 2) / 3 * 4 + 2);
	o = b->data + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i += 3)
	{
		uint32_t	v = (uint32_t) p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t) p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = abc[v >> 18];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? abc[v & 63] : '=';
	}
	*o++ = '"';
	b->len = (size_t) (o - b->data);
}

void
json_base64(Buf *b, const uint8_t *p, size_t n)
{
	base64_with(b, p, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

void
json_base64_url(Buf *b, const uint8_t *p, size_t n)
{
	base64_with(b, p, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

void
json_hex(Buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	buf_reserve(b, 2 * n + 2);
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++)
	{
		buf_putc(b, hex[p[i] >> 4]);
		buf_putc(b, hex[p[i] & 15]);
	}
	buf_putc(b, '"');
}

void
json_i64(Buf *b, int64_t v)
{
	char		s[24];

	buf_append(b, s, (size_t) snprintf(s, sizeof(s), "%lld", (long long) v));
}

void
json_u64(Buf *b, uint64_t v)
{
	char		s[24];

	buf_append(b, s, (size_t) snprintf(s, sizeof(s), "%llu", (unsigned long long) v));
}

/*
 * As Java's Double.toString and Float.toString write a number, with the
 * fewest digits that read back as the same double (or float): plain from
 * 10^-3 up to 10^7 ("100.0", "0.001"), else "1.0E10", "1.5E-5".
 */
void
json_double(Buf *b, double v, bool single)
{
	char		s[40];
	char		digits[24];
	size_t		nd = 0;
	int			exp10;
	char	   *e;

	if (isnan(v))
	{
		buf_puts(b, "\"NaN\"");
		return;
	}
	if (isinf(v))
	{
		buf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	if (v == 0)
	{
		buf_puts(b, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	for (int precision = 0; precision <= 16; precision++)
	{
		snprintf(s, sizeof(s), "%.*e", precision, v);
		if (single ? (float) strtod(s, NULL) == (float) v : strtod(s, NULL) == v)
		{
			/*
			 * Java writes at least two digits, and when one would do takes
			 * the two closest to the value that still read back as it:
			 * Double.MIN_VALUE is "4.9E-324", not "5.0E-324" (only
			 * subnormals, whose few bits leave room for that, differ).
			 */
			if (precision == 0)
			{
				char		two[40];

				snprintf(two, sizeof(two), "%.1e", v);
				if (single ? (float) strtod(two, NULL) == (float) v : strtod(two, NULL) == v)
					memcpy(s, two, sizeof(s));
			}
			break;
		}
	}
	/* s is "-d.ddde-XX": its digits, and the exponent of the first. */
	for (const char *p = s; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	e = strchr(s, 'e');
	exp10 = atoi(e + 1);
	if (v < 0)
		buf_putc(b, '-');
	if (exp10 >= -3 && exp10 < 7)
	{
		if (exp10 < 0)
		{
			buf_puts(b, "0.");
			for (int i = -1; i > exp10; i--)
				buf_putc(b, '0');
			buf_append(b, digits, nd);
			return;
		}
		for (int i = 0; i <= exp10; i++)
			buf_putc(b, (size_t) i < nd ? digits[i] : '0');
		buf_putc(b, '.');
		if ((size_t) exp10 + 1 < nd)
			buf_append(b, digits + exp10 + 1, nd - (size_t) exp10 - 1);
		else
			buf_putc(b, '0');
		return;
	}
	buf_putc(b, digits[0]);
	buf_putc(b, '.');
	if (nd > 1)
		buf_append(b, digits + 1, nd - 1);
	else
		buf_putc(b, '0');
	buf_printf(b, "E%d", exp10);
}
