/*
 * bencode.h — bencode decoder and encoder (BEP 3). Codec layer: pure.
 *
 * The decoder is zero-copy and iterative: it turns a buffer into a flat array
 * of tokens that point back into the buffer, in document order. Each token
 * records its raw byte span, so a caller can hash a value exactly as it was
 * written (the infohash is SHA-1 over the raw bytes of `info`). Containers
 * record where their subtree ends, so skipping a value is one step.
 *
 * Everything is validated: integer syntax (no leading zeros, no "-0", no
 * overflow), string lengths against the bytes actually present (nothing is
 * allocated by a length the input claims), nesting depth, token count, and
 * trailing garbage. Dictionary keys must be strings and not repeat the key
 * before them; keys out of order are accepted, as other clients do.
 *
 * The encoder writes canonical bencode and refuses dictionary keys that are
 * not in strictly increasing byte order.
 */
#ifndef SHOAL_BENCODE_H
#define SHOAL_BENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "shoal.h"

/* Nesting deeper than this is refused: real torrents nest a handful deep. */
#define BENC_MAX_DEPTH 100
/* Token offsets are 32-bit; no bencoded input we read comes near this. */
#define BENC_MAX_INPUT 0xfffffff0u

enum benc_type { BENC_INT = 1, BENC_STR, BENC_LIST, BENC_DICT };

struct benc_tok {
    uint8_t type;   /* enum benc_type */
    uint32_t start; /* offset of the value's first byte */
    uint32_t end;   /* offset one past its last byte */
    uint32_t next;  /* index of the token after this value and its children */
    uint32_t count; /* STR: byte length; LIST: elements; DICT: key/value pairs */
    int64_t val;    /* INT: the value; STR: offset of the first string byte */
};

struct benc_doc {
    const uint8_t *buf; /* borrowed: must outlive the doc */
    size_t len;
    struct benc_tok *tok;
    uint32_t ntok;
    uint32_t cap;
};

/*
 * Decodes one value from buf[0..len). Token 0 is the root. Keeps a pointer
 * to buf (not a copy). At most max_tokens tokens are made (SHOAL_ETOOBIG
 * beyond). If `used` is NULL, bytes after the value are an error; otherwise
 * *used receives the length of the value and the rest is left to the caller.
 * Returns 0, or a negative code with *err naming the offset and reason.
 * The doc must be freed with benc_doc_cleanup() in either case.
 */
int benc_decode(struct benc_doc *d, const void *buf, size_t len, uint32_t max_tokens,
                size_t *used, struct shoal_perr *err);
void benc_doc_cleanup(struct benc_doc *d);

/* Value of `key` in dictionary token `dict`, or 0 when absent (token 0 is
 * always the root, never a dictionary value) or when `dict` is no dict. */
uint32_t benc_dict_get(const struct benc_doc *d, uint32_t dict, const char *key);
/* Same, but 0 also when the value is not of type `type`. */
uint32_t benc_dict_get_type(const struct benc_doc *d, uint32_t dict, const char *key,
                            enum benc_type type);

/* Index of the first child of a container (valid only when count > 0). */
static inline uint32_t
benc_first(uint32_t t)
{
    return t + 1;
}

/* Index of the sibling after token t. */
static inline uint32_t
benc_next(const struct benc_doc *d, uint32_t t)
{
    return d->tok[t].next;
}

/* Bytes of string token t (not NUL-terminated). */
static inline const uint8_t *
benc_str(const struct benc_doc *d, uint32_t t, size_t *len)
{
    *len = d->tok[t].count;
    return d->buf + d->tok[t].val;
}

/* 1 when string token t equals the C string s. */
int benc_str_eq(const struct benc_doc *d, uint32_t t, const char *s);

/* ------------------------------------------------------------------ encoder */

struct benc_frame {
    uint8_t is_dict;
    uint8_t want_value; /* dict: a key was written, its value is next */
    uint8_t has_key;    /* dict: some key was written */
    size_t key_off;     /* dict: where the last key's bytes start in buf */
    size_t key_len;
};

struct benc_enc {
    struct buf buf;
    int depth;
    struct benc_frame stack[BENC_MAX_DEPTH];
};

/* Starts an encoder whose output may grow to `max` bytes. */
void benc_enc_init(struct benc_enc *e, size_t max);
void benc_enc_cleanup(struct benc_enc *e);

/* Each of these is a no-op after an earlier error (errors are sticky). */
int benc_put_int(struct benc_enc *e, int64_t v);
int benc_put_str(struct benc_enc *e, const void *p, size_t n);
int benc_put_cstr(struct benc_enc *e, const char *s);
/* Writes an already-encoded value as is (for example a raw info dict). */
int benc_put_raw(struct benc_enc *e, const void *p, size_t n);
/* A dictionary key: must sort strictly after the previous key. */
int benc_key(struct benc_enc *e, const char *key);
int benc_list_begin(struct benc_enc *e);
int benc_dict_begin(struct benc_enc *e);
/* Closes the innermost list or dictionary. */
int benc_end(struct benc_enc *e);

/* The first error, or 0. */
int benc_enc_error(const struct benc_enc *e);

/* Finishes: fails if containers are open or an error occurred. On success
 * *out is a heap block (free with xfree) of *len bytes plus a NUL. */
int benc_enc_finish(struct benc_enc *e, uint8_t **out, size_t *len);

#endif
