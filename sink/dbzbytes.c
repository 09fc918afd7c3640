/*
 * dbzbytes.c — Debezium's encodings of bytes and decimals decoded (dbzbytes.h).
 */
#include <ctype.h>
#include <string.h>

#include "dbzbytes.h"

static void *
amem(ProtobufCAllocator *a, size_t n)
{
	void	   *p = a->alloc(a->allocator_data, n ? n : 1);

	memset(p, 0, n ? n : 1);
	return p;
}

static int
b64_digit(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

bool
dbzbytes_base64(ProtobufCAllocator *a, const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t    *o = amem(a, n / 4 * 3 + 3);
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		len = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		int			d = b64_digit((unsigned char) s[i]);

		if (d < 0)
			return false;
		acc = (acc << 6) | (uint32_t) d;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			o[len++] = (uint8_t) (acc >> bits);
		}
	}
	*out = o;
	*outlen = len;
	return true;
}

static int
hex_digit(unsigned char ch)
{
	if (!isxdigit(ch))
		return -1;
	return isdigit(ch) ? ch - '0' : (ch | 32) - 'a' + 10;
}

bool
dbzbytes_hex(ProtobufCAllocator *a, const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t    *o = amem(a, n / 2 + 1);

	if (n % 2 != 0)
		return false;
	for (size_t i = 0; i < n; i += 2)
	{
		int			hi = hex_digit((unsigned char) s[i]);
		int			lo = hex_digit((unsigned char) s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		o[i / 2] = (uint8_t) (hi << 4 | lo);
	}
	*out = o;
	*outlen = n / 2;
	return true;
}

char *
dbzbytes_decimal(ProtobufCAllocator *a, const uint8_t *b, size_t n, long scale)
{
	bool		neg = n > 0 && (b[0] & 0x80);
	uint8_t    *mag = amem(a, n);
	size_t		cap = n * 3 + (size_t) (scale > 0 ? scale : 0) + 4;
	char	   *digits = amem(a, cap);
	char	   *out = amem(a, cap + (size_t) (scale < 0 ? -scale : 0) + 2);
	size_t		nd = 0,
				o = 0;

	memcpy(mag, b, n);
	if (neg)
	{
		unsigned	carry = 1;

		for (size_t i = n; i-- > 0;)
		{
			unsigned	v = (uint8_t) ~mag[i] + carry;

			mag[i] = (uint8_t) v;
			carry = v >> 8;
		}
	}
	/* Divided by ten until nothing is left: the digits, least significant first. */
	for (;;)
	{
		unsigned	rem = 0;
		bool		zero = true;

		for (size_t i = 0; i < n; i++)
		{
			unsigned	v = (rem << 8) | mag[i];

			mag[i] = (uint8_t) (v / 10);
			rem = v % 10;
			zero &= mag[i] == 0;
		}
		digits[nd++] = (char) ('0' + rem);
		if (zero)
			break;
	}
	while ((long) nd <= scale)
		digits[nd++] = '0';
	if (neg)
		out[o++] = '-';
	for (size_t i = nd; i-- > 0;)
	{
		out[o++] = digits[i];
		if (scale > 0 && (long) i == scale)
			out[o++] = '.';
	}
	for (long i = scale; i < 0; i++)
		out[o++] = '0';
	out[o] = '\0';
	return out;
}
