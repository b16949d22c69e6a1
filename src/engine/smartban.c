/*
 * smartban.c — block-level blame for pieces that fail their hash check.
 * Engine layer, pure. Records live only for pieces in progress or suspect,
 * in a small open hash keyed by piece index.
 */
#include "engine/smartban.h"

#include <netinet/in.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sha.h"
#include "base/sockaddr.h"
#include "engine/picker.h"
#include "shoal.h"

/* Blame is kept per block as the picker requests them: one sender each. */
#define SMARTBAN_BLOCK PICKER_BLOCK_SIZE

struct record {
    uint32_t piece;
    int used;
    int suspect;
    uint32_t nblocks;
    struct sockaddr_storage *who;     /* sender of each block, current attempt */
    struct sockaddr_storage *bad_who; /* sender of each block of the bad attempt */
    uint8_t (*bad_hash)[SHA1_LEN];    /* hash of each block of the bad attempt */
    uint64_t age;
};

struct smartban {
    uint32_t piece_length;
    uint64_t total_size;
    struct record *slot;
    size_t cap; /* power of two, twice SMARTBAN_MAX_RECORDS */
    size_t n;
    uint64_t clock;
};

static void
record_clear(struct record *r)
{
    xfree(r->who);
    xfree(r->bad_who);
    xfree(r->bad_hash);
    memset(r, 0, sizeof(*r));
}

struct smartban *
smartban_new(uint32_t piece_length, uint64_t total_size)
{
    struct smartban *sb = xcalloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    sb->piece_length = piece_length;
    sb->total_size = total_size;
    sb->cap = 2 * SMARTBAN_MAX_RECORDS;
    sb->slot = xcalloc(sb->cap, sizeof(*sb->slot));
    if (!sb->slot) {
        xfree(sb);
        return NULL;
    }
    return sb;
}

void
smartban_free(struct smartban *sb)
{
    if (!sb)
        return;
    for (size_t i = 0; i < sb->cap; i++)
        if (sb->slot[i].used)
            record_clear(&sb->slot[i]);
    xfree(sb->slot);
    xfree(sb);
}

static uint32_t
piece_size(const struct smartban *sb, uint32_t piece)
{
    uint64_t start = (uint64_t)piece * sb->piece_length;
    if (start >= sb->total_size)
        return 0;
    uint64_t left = sb->total_size - start;
    return left < sb->piece_length ? (uint32_t)left : sb->piece_length;
}

static size_t
find(const struct smartban *sb, uint32_t piece)
{
    size_t i = (piece * 2654435761u) & (sb->cap - 1);
    while (sb->slot[i].used && sb->slot[i].piece != piece)
        i = (i + 1) & (sb->cap - 1);
    return i;
}

/* Removes slot i and re-seats the records after it (linear probing). */
static void
remove_at(struct smartban *sb, size_t i)
{
    record_clear(&sb->slot[i]);
    sb->n--;
    size_t j = (i + 1) & (sb->cap - 1);
    while (sb->slot[j].used) {
        struct record r = sb->slot[j];
        memset(&sb->slot[j], 0, sizeof(r));
        size_t k = find(sb, r.piece);
        sb->slot[k] = r;
        j = (j + 1) & (sb->cap - 1);
    }
}

/* Makes room by dropping the oldest record that never failed. */
static void
evict(struct smartban *sb)
{
    size_t oldest = sb->cap;
    for (size_t i = 0; i < sb->cap; i++)
        if (sb->slot[i].used && !sb->slot[i].suspect &&
            (oldest == sb->cap || sb->slot[i].age < sb->slot[oldest].age))
            oldest = i;
    if (oldest == sb->cap) {
        for (size_t i = 0; i < sb->cap; i++)
            if (sb->slot[i].used &&
                (oldest == sb->cap || sb->slot[i].age < sb->slot[oldest].age))
                oldest = i;
    }
    if (oldest != sb->cap)
        remove_at(sb, oldest);
}

static struct record *
get_or_add(struct smartban *sb, uint32_t piece)
{
    size_t i = find(sb, piece);
    if (sb->slot[i].used)
        return &sb->slot[i];
    uint32_t size = piece_size(sb, piece);
    if (size == 0)
        return NULL;
    if (sb->n >= SMARTBAN_MAX_RECORDS) {
        evict(sb);
        i = find(sb, piece);
    }
    struct record *r = &sb->slot[i];
    r->nblocks = (size + SMARTBAN_BLOCK - 1) / SMARTBAN_BLOCK;
    r->who = xcalloc(r->nblocks, sizeof(*r->who));
    if (!r->who)
        return NULL;
    r->used = 1;
    r->piece = piece;
    r->age = ++sb->clock;
    sb->n++;
    return r;
}

int
smartban_block(struct smartban *sb, uint32_t piece, uint32_t begin,
               const struct sockaddr_storage *who)
{
    struct record *r = get_or_add(sb, piece);
    if (!r)
        return SHOAL_ENOMEM;
    uint32_t b = begin / SMARTBAN_BLOCK;
    if (b < r->nblocks)
        r->who[b] = *who;
    return 0;
}

int
smartban_is_suspect(const struct smartban *sb, uint32_t piece)
{
    size_t i = find(sb, piece);
    return sb->slot[i].used && sb->slot[i].suspect;
}

int
smartban_piece_failed(struct smartban *sb, uint32_t piece,
                      struct sockaddr_storage *single)
{
    size_t i = find(sb, piece);
    if (!sb->slot[i].used)
        return 0;
    struct record *r = &sb->slot[i];
    if (!r->bad_who) {
        r->bad_who = xcalloc(r->nblocks, sizeof(*r->bad_who));
        if (!r->bad_who) {
            remove_at(sb, i);
            return SHOAL_ENOMEM;
        }
    }
    int one = 1;
    for (uint32_t b = 0; b < r->nblocks; b++) {
        r->bad_who[b] = r->who[b];
        if (r->who[b].ss_family == 0 ||
            !sockaddr_same_endpoint((const struct sockaddr *)&r->who[b],
                                    (const struct sockaddr *)&r->who[0]))
            one = 0;
    }
    /* Hashes of an older bad attempt no longer match these senders. */
    xfree(r->bad_hash);
    r->bad_hash = NULL;
    r->suspect = 1;
    memset(r->who, 0, r->nblocks * sizeof(*r->who));
    if (one) {
        *single = r->bad_who[0];
        return 1;
    }
    return 0;
}

int
smartban_bad_data(struct smartban *sb, uint32_t piece, const uint8_t *data, size_t len)
{
    size_t i = find(sb, piece);
    if (!sb->slot[i].used || !sb->slot[i].suspect)
        return 0;
    struct record *r = &sb->slot[i];
    if (!r->bad_hash)
        r->bad_hash = xcalloc(r->nblocks, SHA1_LEN);
    if (!r->bad_hash)
        return SHOAL_ENOMEM;
    for (uint32_t b = 0; b < r->nblocks; b++) {
        size_t off = (size_t)b * SMARTBAN_BLOCK;
        size_t n = off < len ? len - off : 0;
        if (n > SMARTBAN_BLOCK)
            n = SMARTBAN_BLOCK;
        sha1(data + off, n, r->bad_hash[b]);
    }
    return 0;
}

size_t
smartban_piece_passed(struct smartban *sb, uint32_t piece, const uint8_t *data,
                      size_t len, struct sockaddr_storage *out, size_t max)
{
    size_t i = find(sb, piece);
    if (!sb->slot[i].used)
        return 0;
    struct record *r = &sb->slot[i];
    size_t n = 0;
    for (uint32_t b = 0; r->suspect && r->bad_hash && data && b < r->nblocks; b++) {
        size_t off = (size_t)b * SMARTBAN_BLOCK;
        size_t bl = off < len ? len - off : 0;
        if (bl > SMARTBAN_BLOCK)
            bl = SMARTBAN_BLOCK;
        uint8_t h[SHA1_LEN];
        sha1(data + off, bl, h);
        if (!memcmp(h, r->bad_hash[b], SHA1_LEN) || r->bad_who[b].ss_family == 0)
            continue;
        int seen = 0;
        for (size_t k = 0; k < n; k++)
            seen |= sockaddr_same_endpoint((const struct sockaddr *)&out[k],
                                           (const struct sockaddr *)&r->bad_who[b]);
        if (!seen && n < max)
            out[n++] = r->bad_who[b];
    }
    remove_at(sb, i);
    return n;
}

void
smartban_forget(struct smartban *sb, uint32_t piece)
{
    size_t i = find(sb, piece);
    if (sb->slot[i].used)
        remove_at(sb, i);
}
