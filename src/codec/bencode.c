/*
 * bencode.c — bencode decoder and encoder (BEP 3). Codec layer.
 *
 * The decoder walks the input once with an explicit stack, so hostile
 * nesting cannot exhaust the C stack, and emits tokens that point back into
 * the caller's buffer. It never allocates by a length the input claims: a
 * string length is checked against the bytes that remain before anything
 * else happens. It touches no file, socket or clock.
 */
#include "codec/bencode.h"

#include <string.h>

#include "base/alloc.h"

/* First token array size; it doubles as needed up to the caller's cap. */
#define BENC_INITIAL_TOKENS 64

static int
fail(struct shoal_perr *err, size_t off, const char *why, int code)
{
    if (err) {
        err->off = off;
        err->why = why;
    }
    return code;
}

static int
push_token(struct benc_doc *d, uint32_t max_tokens)
{
    if (d->ntok >= max_tokens)
        return SHOAL_ETOOBIG;
    if (d->ntok == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : BENC_INITIAL_TOKENS;
        if (cap > max_tokens)
            cap = max_tokens;
        struct benc_tok *t = xreallocarray(d->tok, cap, sizeof(*t));
        if (!t)
            return SHOAL_ENOMEM;
        d->tok = t;
        d->cap = cap;
    }
    memset(&d->tok[d->ntok], 0, sizeof(d->tok[0]));
    d->ntok++;
    return 0;
}

/* Parses "i<digits>e" at p[pos]; on success *endpos is one past the 'e'. */
static int
parse_int(const uint8_t *p, size_t len, size_t pos, int64_t *val, size_t *endpos,
          struct shoal_perr *err)
{
    size_t i = pos + 1;
    int neg = 0;
    if (i < len && p[i] == '-') {
        neg = 1;
        i++;
    }
    size_t digits = i;
    uint64_t v = 0;
    /* Magnitude limit: 2^63 - 1 positive, 2^63 negative. */
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        unsigned dg = (unsigned)(p[i] - '0');
        if (v > (lim - dg) / 10)
            return fail(err, pos, "integer overflows 64 bits", SHOAL_EPARSE);
        v = v * 10 + dg;
        i++;
    }
    if (i >= len)
        return fail(err, len, "truncated integer", SHOAL_EPARSE);
    if (p[i] != 'e')
        return fail(err, i, "unexpected byte in integer", SHOAL_EPARSE);
    if (i == digits)
        return fail(err, pos, "integer has no digits", SHOAL_EPARSE);
    if (p[digits] == '0' && i - digits > 1)
        return fail(err, pos, "integer has a leading zero", SHOAL_EPARSE);
    if (neg && v == 0)
        return fail(err, pos, "integer is negative zero", SHOAL_EPARSE);
    *val = neg ? (int64_t)(0 - v) : (int64_t)v;
    *endpos = i + 1;
    return 0;
}

/* Parses "<len>:<bytes>" at p[pos]; *dataoff is where the bytes start. */
static int
parse_str(const uint8_t *p, size_t len, size_t pos, uint32_t *slen, size_t *dataoff,
          struct shoal_perr *err)
{
    size_t i = pos;
    uint64_t v = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        v = v * 10 + (unsigned)(p[i] - '0');
        /* Any length beyond the input is wrong; stop before it can overflow. */
        if (v > len)
            return fail(err, pos, "string length exceeds the input", SHOAL_EPARSE);
        i++;
    }
    if (i >= len)
        return fail(err, len, "truncated string length", SHOAL_EPARSE);
    if (p[i] != ':')
        return fail(err, i, "string length not followed by ':'", SHOAL_EPARSE);
    if (p[pos] == '0' && i - pos > 1)
        return fail(err, pos, "string length has a leading zero", SHOAL_EPARSE);
    i++;
    if (v > len - i)
        return fail(err, pos, "string length exceeds the input", SHOAL_EPARSE);
    *slen = (uint32_t)v;
    *dataoff = i;
    return 0;
}

/* Compares two string tokens bytewise: <0, 0, >0. */
static int
key_cmp(const struct benc_doc *d, uint32_t a, uint32_t b)
{
    size_t la = d->tok[a].count, lb = d->tok[b].count;
    int c = memcmp(d->buf + d->tok[a].val, d->buf + d->tok[b].val, la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

int
benc_decode(struct benc_doc *d, const void *buf, size_t len, uint32_t max_tokens,
            size_t *used, struct shoal_perr *err)
{
    const uint8_t *p = buf;
    uint32_t stack[BENC_MAX_DEPTH];
    /* Last key seen in each open dict, to refuse a key repeated in a row. */
    uint32_t lastkey[BENC_MAX_DEPTH];
    int depth = 0;
    size_t pos = 0;
    int rc;

    memset(d, 0, sizeof(*d));
    d->buf = p;
    d->len = len;
    if (len > BENC_MAX_INPUT)
        return fail(err, 0, "input too large for bencode", SHOAL_ETOOBIG);
    if (len == 0)
        return fail(err, 0, "empty input", SHOAL_EPARSE);

    for (;;) {
        if (pos >= len)
            return fail(err, len, "truncated: container not closed", SHOAL_EPARSE);

        if (depth > 0 && p[pos] == 'e') {
            struct benc_tok *c = &d->tok[stack[depth - 1]];
            if (c->type == BENC_DICT) {
                if (c->count % 2)
                    return fail(err, pos, "dictionary key has no value", SHOAL_EPARSE);
                c->count /= 2;
            }
            c->end = (uint32_t)(pos + 1);
            c->next = d->ntok;
            depth--;
            pos++;
            if (depth == 0)
                break;
            continue;
        }

        /* Tokens may move when the array grows: hold indexes, not pointers. */
        uint32_t pi = depth ? stack[depth - 1] : 0;
        int is_key = depth && d->tok[pi].type == BENC_DICT && d->tok[pi].count % 2 == 0;
        if (is_key && !(p[pos] >= '0' && p[pos] <= '9'))
            return fail(err, pos, "dictionary key is not a string", SHOAL_EPARSE);

        rc = push_token(d, max_tokens);
        if (rc == SHOAL_ETOOBIG)
            return fail(err, pos, "too many bencode values", rc);
        if (rc)
            return fail(err, pos, "out of memory", rc);
        uint32_t ti = d->ntok - 1;
        struct benc_tok *t = &d->tok[ti];
        if (depth)
            d->tok[pi].count++;
        t->start = (uint32_t)pos;

        uint8_t c = p[pos];
        if (c == 'i') {
            size_t endpos;
            rc = parse_int(p, len, pos, &t->val, &endpos, err);
            if (rc)
                return rc;
            t->type = BENC_INT;
            pos = endpos;
        } else if (c >= '0' && c <= '9') {
            uint32_t slen;
            size_t off;
            rc = parse_str(p, len, pos, &slen, &off, err);
            if (rc)
                return rc;
            t->type = BENC_STR;
            t->count = slen;
            t->val = (int64_t)off;
            pos = off + slen;
            if (is_key) {
                int di = depth - 1;
                if (d->tok[pi].count > 1 && key_cmp(d, lastkey[di], ti) == 0)
                    return fail(err, t->start, "duplicate dictionary key", SHOAL_EPARSE);
                lastkey[di] = ti;
            }
        } else if (c == 'l' || c == 'd') {
            if (depth == BENC_MAX_DEPTH)
                return fail(err, pos, "nesting too deep", SHOAL_EPARSE);
            t->type = c == 'l' ? BENC_LIST : BENC_DICT;
            stack[depth++] = ti;
            pos++;
            continue;
        } else {
            return fail(err, pos, "unexpected byte", SHOAL_EPARSE);
        }

        t->end = (uint32_t)pos;
        t->next = d->ntok;
        if (depth == 0)
            break;
    }

    if (used)
        *used = pos;
    else if (pos != len)
        return fail(err, pos, "trailing data after the value", SHOAL_EPARSE);
    return 0;
}

void
benc_doc_cleanup(struct benc_doc *d)
{
    xfree(d->tok);
    memset(d, 0, sizeof(*d));
}

int
benc_str_eq(const struct benc_doc *d, uint32_t t, const char *s)
{
    size_t n = strlen(s);
    return d->tok[t].type == BENC_STR && d->tok[t].count == n &&
           memcmp(d->buf + d->tok[t].val, s, n) == 0;
}

uint32_t
benc_dict_get(const struct benc_doc *d, uint32_t dict, const char *key)
{
    if (dict >= d->ntok || d->tok[dict].type != BENC_DICT)
        return 0;
    uint32_t k = benc_first(dict);
    for (uint32_t i = 0; i < d->tok[dict].count; i++) {
        uint32_t v = benc_next(d, k);
        if (benc_str_eq(d, k, key))
            return v;
        k = benc_next(d, v);
    }
    return 0;
}

uint32_t
benc_dict_get_type(const struct benc_doc *d, uint32_t dict, const char *key,
                   enum benc_type type)
{
    uint32_t v = benc_dict_get(d, dict, key);
    return v && d->tok[v].type == type ? v : 0;
}

/* ------------------------------------------------------------------ encoder */

void
benc_enc_init(struct benc_enc *e, size_t max)
{
    buf_init(&e->buf, max);
    e->depth = 0;
}

void
benc_enc_cleanup(struct benc_enc *e)
{
    buf_cleanup(&e->buf);
    e->depth = 0;
}

int
benc_enc_error(const struct benc_enc *e)
{
    return buf_error(&e->buf);
}

static int
set_error(struct benc_enc *e, int code)
{
    if (!e->buf.err)
        e->buf.err = code;
    return e->buf.err;
}

/* Checks that a value may be written here and records it in a dict. */
static int
before_value(struct benc_enc *e)
{
    if (e->buf.err)
        return e->buf.err;
    if (e->depth == 0)
        return e->buf.len == 0 ? 0 : set_error(e, SHOAL_EINVAL);
    struct benc_frame *f = &e->stack[e->depth - 1];
    if (f->is_dict) {
        if (!f->want_value)
            return set_error(e, SHOAL_EINVAL); /* a value needs a key first */
        f->want_value = 0;
    }
    return 0;
}

int
benc_put_int(struct benc_enc *e, int64_t v)
{
    int rc = before_value(e);
    if (rc)
        return rc;
    return buf_printf(&e->buf, "i%llde", (long long)v);
}

static int
put_str_raw(struct benc_enc *e, const void *p, size_t n)
{
    buf_printf(&e->buf, "%zu:", n);
    return buf_append(&e->buf, p, n);
}

int
benc_put_str(struct benc_enc *e, const void *p, size_t n)
{
    int rc = before_value(e);
    if (rc)
        return rc;
    return put_str_raw(e, p, n);
}

int
benc_put_cstr(struct benc_enc *e, const char *s)
{
    return benc_put_str(e, s, strlen(s));
}

int
benc_put_raw(struct benc_enc *e, const void *p, size_t n)
{
    int rc = before_value(e);
    if (rc)
        return rc;
    return buf_append(&e->buf, p, n);
}

int
benc_key(struct benc_enc *e, const char *key)
{
    if (e->buf.err)
        return e->buf.err;
    if (e->depth == 0)
        return set_error(e, SHOAL_EINVAL);
    struct benc_frame *f = &e->stack[e->depth - 1];
    if (!f->is_dict || f->want_value)
        return set_error(e, SHOAL_EINVAL);
    size_t n = strlen(key);
    if (f->has_key) {
        const uint8_t *prev = e->buf.data + f->key_off;
        size_t m = f->key_len < n ? f->key_len : n;
        int c = memcmp(prev, key, m);
        /* BEP 3: keys are sorted as raw strings; equal keys are an error too. */
        if (c > 0 || (c == 0 && f->key_len >= n))
            return set_error(e, SHOAL_EINVAL);
    }
    int rc = put_str_raw(e, key, n);
    if (rc)
        return rc;
    f->has_key = 1;
    f->want_value = 1;
    f->key_off = e->buf.len - n;
    f->key_len = n;
    return 0;
}

static int
open_container(struct benc_enc *e, int is_dict)
{
    int rc = before_value(e);
    if (rc)
        return rc;
    if (e->depth == BENC_MAX_DEPTH)
        return set_error(e, SHOAL_ETOOBIG);
    rc = buf_append_byte(&e->buf, is_dict ? 'd' : 'l');
    if (rc)
        return rc;
    struct benc_frame *f = &e->stack[e->depth++];
    memset(f, 0, sizeof(*f));
    f->is_dict = (uint8_t)is_dict;
    return 0;
}

int
benc_list_begin(struct benc_enc *e)
{
    return open_container(e, 0);
}

int
benc_dict_begin(struct benc_enc *e)
{
    return open_container(e, 1);
}

int
benc_end(struct benc_enc *e)
{
    if (e->buf.err)
        return e->buf.err;
    if (e->depth == 0 || e->stack[e->depth - 1].want_value)
        return set_error(e, SHOAL_EINVAL);
    e->depth--;
    return buf_append_byte(&e->buf, 'e');
}

int
benc_enc_finish(struct benc_enc *e, uint8_t **out, size_t *len)
{
    if (e->buf.err)
        return e->buf.err;
    if (e->depth != 0 || e->buf.len == 0)
        return set_error(e, SHOAL_EINVAL);
    *out = buf_steal(&e->buf, len);
    return *out ? 0 : SHOAL_ENOMEM;
}
