/*
 * fuzz_bencode.c — libFuzzer target for the bencode decoder. Besides not
 * crashing, every decoded document must be self-consistent: spans inside
 * the input, `next` links moving forward, and a canonical input re-encodes
 * to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "codec/bencode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes token t and its subtree; returns the index after it. */
static uint32_t
reencode(const struct benc_doc *d, uint32_t t, struct benc_enc *e, int *canonical)
{
    const struct benc_tok *k = &d->tok[t];
    size_t len;
    switch (k->type) {
    case BENC_INT:
        benc_put_int(e, k->val);
        return t + 1;
    case BENC_STR: {
        const uint8_t *s = benc_str(d, t, &len);
        benc_put_str(e, s, len);
        return t + 1;
    }
    case BENC_LIST: {
        benc_list_begin(e);
        uint32_t c = t + 1;
        for (uint32_t i = 0; i < k->count; i++)
            c = reencode(d, c, e, canonical);
        benc_end(e);
        return c;
    }
    default: {
        benc_dict_begin(e);
        uint32_t c = t + 1;
        for (uint32_t i = 0; i < k->count; i++) {
            const uint8_t *s = benc_str(d, c, &len);
            char key[256];
            /* Keys with NULs or long keys cannot go through benc_key(). */
            if (len >= sizeof(key) || memchr(s, 0, len)) {
                *canonical = 0;
                return k->next;
            }
            memcpy(key, s, len);
            key[len] = '\0';
            if (benc_key(e, key) != 0) {
                *canonical = 0; /* unsorted input: fine to read, not canonical */
                return k->next;
            }
            c = reencode(d, c + 1, e, canonical);
        }
        benc_end(e);
        return c;
    }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct benc_doc d;
    struct shoal_perr err = {0};
    int rc = benc_decode(&d, data, size, 100000, NULL, &err);
    if (rc != 0) {
        if (err.why == NULL || err.off > size)
            abort();
        benc_doc_cleanup(&d);
        return 0;
    }
    for (uint32_t i = 0; i < d.ntok; i++) {
        const struct benc_tok *t = &d.tok[i];
        if (t->start >= t->end || t->end > size || t->next <= i || t->next > d.ntok)
            abort();
    }
    if (d.tok[0].start != 0 || d.tok[0].end != size || d.tok[0].next != d.ntok)
        abort();

    /* Decoded input re-encodes byte for byte when it was canonical. */
    struct benc_enc e;
    benc_enc_init(&e, size + 1);
    int canonical = 1;
    reencode(&d, 0, &e, &canonical);
    if (canonical) {
        uint8_t *out;
        size_t len;
        if (benc_enc_finish(&e, &out, &len) != 0 || len != size ||
            memcmp(out, data, size) != 0)
            abort();
        xfree(out);
    }
    benc_enc_cleanup(&e);
    benc_doc_cleanup(&d);
    return 0;
}
