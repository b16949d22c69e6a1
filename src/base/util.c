/*
 * util.c — hex, base32 and percent-encoding helpers. Base layer, pure.
 */
#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shoal.h"

static const char hexdig[] = "0123456789abcdef";
static const char b32alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void
hex_encode(const uint8_t *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
hex_decode(const char *in, uint8_t *out, size_t outlen)
{
    for (size_t i = 0; i < outlen; i++) {
        int hi = hexval(in[2 * i]);
        int lo = hi < 0 ? -1 : hexval(in[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int
b32val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int
base32_decode_20(const char *in, uint8_t out[20])
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (int i = 0; i < 32; i++) {
        int v = b32val(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 5 | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return 0;
}

void
base32_encode_20(const uint8_t in[20], char out[33])
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[n++] = b32alpha[(acc >> bits) & 31];
        }
    }
    out[n] = '\0';
}

long
pct_decode(const char *in, size_t len, char *out, size_t *bad_off)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        int hi = i + 2 < len ? hexval(in[i + 1]) : -1;
        int lo = hi < 0 ? -1 : hexval(in[i + 2]);
        if (lo < 0) {
            if (bad_off)
                *bad_off = i;
            return -1;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    return (long)o;
}

int
pct_is_unreserved(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int
parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || (len > 1 && s[0] == '0'))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

size_t
utf8_seq_len(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int
utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq_len(p + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

void
shoal_hex(const uint8_t *in, size_t len, char *out)
{
    hex_encode(in, len, out);
}

int
perr_fail(struct shoal_perr *err, size_t off, int code, const char *why)
{
    if (err) {
        err->off = off;
        err->why = why;
        err->msg[0] = '\0';
    }
    return code;
}

int
perr_failf(struct shoal_perr *err, size_t off, int code, const char *why, const char *fmt,
           ...)
{
    perr_fail(err, off, code, why);
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
