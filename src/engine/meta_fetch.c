/*
 * meta_fetch.c — assembling metadata from peers (meta_fetch.h). Engine
 * layer: no I/O, no clock of its own.
 *
 * One size is fetched at a time: the one most peers claim. A peer claiming
 * another is left alone, so a liar about the size can waste at most its
 * own requests: when it wins the vote, the hash check fails, it is
 * excluded, and the next size in the vote is fetched. Each piece remembers
 * who was asked and who sent it, so a failed check names every
 * contributor, and a departed peer's requests go back at once.
 *
 * A failed check where one peer, still connected, sent every piece
 * excludes it. Otherwise (several senders, or one that left) any of them
 * may be the liar: all become suspects, asked for nothing while another
 * peer offers the metadata; when only suspects are left, one of them at a
 * time sends a whole copy alone, and one whose own copy fails is
 * excluded. So a liar cannot take an honest peer down with it.
 */
#include "engine/meta_fetch.h"

#include <string.h>

#include "base/alloc.h"
#include "base/sha.h"
#include "shoal.h"

enum piece_state { PIECE_WANTED, PIECE_ASKED, PIECE_HAVE };

struct mf_peer {
    void *key;
    uint32_t size; /* its claim */
    int excluded;  /* its own copy failed the check */
    int suspect;   /* sent part of a copy that failed, with others */
    int inflight;  /* our requests it has not answered */
    uint64_t hold_until;
};

struct mf_piece {
    uint8_t state; /* enum piece_state */
    void *asked;   /* PIECE_ASKED: of whom */
    void *from;    /* PIECE_HAVE: who sent it (NULL once it left) */
    void *avoid;   /* rejected or let it time out: ask another first */
    uint64_t sent_ms;
};

struct meta_fetch {
    uint8_t ih[SHA1_LEN];
    struct mf_peer *peers; /* META_FETCH_MAX_PEERS slots, npeers used */
    int npeers;
    uint32_t size; /* being fetched; 0 = none */
    uint32_t npieces;
    uint32_t received;
    struct mf_piece *pieces;
    uint8_t *buf;
    void *solo; /* only suspects left: the one sending this copy alone */
    int done;
};

struct meta_fetch *
meta_fetch_new(const uint8_t ih[20])
{
    struct meta_fetch *mf = xcalloc(1, sizeof(*mf));
    if (!mf)
        return NULL;
    mf->peers = xcalloc(META_FETCH_MAX_PEERS, sizeof(*mf->peers));
    if (!mf->peers) {
        xfree(mf);
        return NULL;
    }
    memcpy(mf->ih, ih, SHA1_LEN);
    return mf;
}

/* Drops the buffer of the size being fetched; every request is void. */
static void
drop_buffer(struct meta_fetch *mf)
{
    xfree(mf->buf);
    xfree(mf->pieces);
    mf->buf = NULL;
    mf->pieces = NULL;
    mf->size = mf->npieces = mf->received = 0;
    mf->solo = NULL;
    for (int i = 0; i < mf->npeers; i++)
        mf->peers[i].inflight = 0;
}

void
meta_fetch_free(struct meta_fetch *mf)
{
    if (!mf)
        return;
    xfree(mf->buf);
    xfree(mf->pieces);
    xfree(mf->peers);
    xfree(mf);
}

static struct mf_peer *
find(const struct meta_fetch *mf, const void *key)
{
    for (int i = 0; i < mf->npeers; i++)
        if (mf->peers[i].key == key)
            return &mf->peers[i];
    return NULL;
}

int
meta_fetch_add_peer(struct meta_fetch *mf, void *key, uint32_t size)
{
    if (size == 0 || size > UT_METADATA_MAX_SIZE)
        return SHOAL_EINVAL;
    struct mf_peer *p = find(mf, key);
    if (p && p->excluded)
        return SHOAL_EBANNED;
    if (!p) {
        if (mf->npeers >= META_FETCH_MAX_PEERS)
            return SHOAL_ETOOBIG;
        p = &mf->peers[mf->npeers++];
        memset(p, 0, sizeof(*p));
        p->key = key;
    }
    p->size = size;
    return 0;
}

/* Puts piece i back to be asked again, remembering whom to avoid. */
static void
give_back(struct meta_fetch *mf, uint32_t i, void *avoid)
{
    struct mf_piece *pc = &mf->pieces[i];
    struct mf_peer *p = find(mf, pc->asked);
    if (p && p->inflight > 0)
        p->inflight--;
    pc->state = PIECE_WANTED;
    pc->asked = NULL;
    pc->avoid = avoid;
}

void
meta_fetch_remove_peer(struct meta_fetch *mf, void *key)
{
    struct mf_peer *p = find(mf, key);
    if (!p)
        return;
    for (uint32_t i = 0; mf->pieces && i < mf->npieces; i++) {
        struct mf_piece *pc = &mf->pieces[i];
        if (pc->state == PIECE_ASKED && pc->asked == key)
            give_back(mf, i, NULL);
        /* The key may come back as another peer: it must not carry blame
         * or avoidance over. */
        if (pc->from == key)
            pc->from = NULL;
        if (pc->avoid == key)
            pc->avoid = NULL;
    }
    if (mf->solo == key)
        mf->solo = NULL;
    *p = mf->peers[--mf->npeers];
}

/* Votes for size among the peers that are not excluded. */
static int
votes(const struct meta_fetch *mf, uint32_t size)
{
    int n = 0;
    for (int i = 0; i < mf->npeers; i++)
        n += !mf->peers[i].excluded && mf->peers[i].size == size;
    return n;
}

/* The size most peers claim (the first seen among equals), or 0. */
static uint32_t
best_size(const struct meta_fetch *mf)
{
    uint32_t best = 0;
    int best_votes = 0;
    for (int i = 0; i < mf->npeers; i++) {
        if (mf->peers[i].excluded)
            continue;
        int v = votes(mf, mf->peers[i].size);
        if (v > best_votes) {
            best_votes = v;
            best = mf->peers[i].size;
        }
    }
    return best;
}

/* Makes sure a size is being fetched that some peer still claims:
 * 0, or SHOAL_ENOMEM. */
static int
choose_size(struct meta_fetch *mf)
{
    if (mf->size && votes(mf, mf->size) > 0)
        return 0;
    drop_buffer(mf);
    uint32_t size = best_size(mf);
    if (!size)
        return 0;
    uint32_t n = ut_metadata_piece_count(size);
    mf->buf = xmalloc(size);
    mf->pieces = xcalloc(n, sizeof(*mf->pieces));
    if (!mf->buf || !mf->pieces) {
        drop_buffer(mf);
        return SHOAL_ENOMEM;
    }
    mf->size = size;
    mf->npieces = n;
    return 0;
}

/* A wanted piece to ask key for: one it has not failed first. */
static int
pick(const struct meta_fetch *mf, const void *key, uint32_t *piece)
{
    int fallback = -1;
    for (uint32_t i = 0; i < mf->npieces; i++) {
        if (mf->pieces[i].state != PIECE_WANTED)
            continue;
        if (mf->pieces[i].avoid != key) {
            *piece = i;
            return 1;
        }
        if (fallback < 0)
            fallback = (int)i;
    }
    if (fallback < 0)
        return 0;
    *piece = (uint32_t)fallback;
    return 1;
}

/* 1 when a peer neither excluded nor suspect claims the size. */
static int
clean_supporter(const struct meta_fetch *mf)
{
    for (int i = 0; i < mf->npeers; i++)
        if (!mf->peers[i].excluded && !mf->peers[i].suspect &&
            mf->peers[i].size == mf->size)
            return 1;
    return 0;
}

/* 1 when no piece of this copy is asked for or in: a solo may begin. */
static int
untouched(const struct meta_fetch *mf)
{
    for (uint32_t i = 0; i < mf->npieces; i++)
        if (mf->pieces[i].state != PIECE_WANTED)
            return 0;
    return 1;
}

/* A suspect may be asked only when no clean peer can be, one at a time. */
static int
suspect_may_ask(struct meta_fetch *mf, void *key)
{
    if (clean_supporter(mf))
        return 0;
    if (!mf->solo && untouched(mf))
        mf->solo = key;
    return mf->solo == key;
}

int
meta_fetch_next(struct meta_fetch *mf, void *key, uint64_t now, uint32_t *piece)
{
    if (mf->done)
        return 0;
    struct mf_peer *p = find(mf, key);
    if (!p || p->excluded || now < p->hold_until ||
        p->inflight >= META_FETCH_PEER_INFLIGHT)
        return 0;
    int rc = choose_size(mf);
    if (rc)
        return rc;
    if (!mf->size || p->size != mf->size)
        return 0;
    if (p->suspect && !suspect_may_ask(mf, key))
        return 0;
    if (!pick(mf, key, piece))
        return 0;
    struct mf_piece *pc = &mf->pieces[*piece];
    pc->state = PIECE_ASKED;
    pc->asked = key;
    pc->sent_ms = now;
    p->inflight++;
    return 1;
}

/* The whole failed its check: a lone sender is excluded, several become
 * suspects; the buffer goes. */
static void
failed_check(struct meta_fetch *mf)
{
    void *first = NULL;
    int several = 0;
    for (uint32_t i = 0; i < mf->npieces; i++) {
        void *from = mf->pieces[i].from;
        /* A sender that left may have been the liar: the ones still here
         * are only suspects. */
        if (!from)
            several = 1;
        else if (!first)
            first = from;
        else if (from != first)
            several = 1;
    }
    for (uint32_t i = 0; i < mf->npieces; i++) {
        struct mf_peer *p = mf->pieces[i].from ? find(mf, mf->pieces[i].from) : NULL;
        if (p && several)
            p->suspect = 1;
        else if (p)
            p->excluded = 1;
    }
    drop_buffer(mf);
}

int
meta_fetch_data(struct meta_fetch *mf, void *key, uint32_t piece, uint32_t total_size,
                const uint8_t *data, size_t len, uint64_t now)
{
    (void)now;
    struct mf_peer *p = find(mf, key);
    if (mf->done || !p || !mf->size || total_size != mf->size || piece >= mf->npieces ||
        len != ut_metadata_piece_len(mf->size, piece))
        return SHOAL_EINVAL;
    struct mf_piece *pc = &mf->pieces[piece];
    if (pc->state != PIECE_ASKED || pc->asked != key)
        return SHOAL_EINVAL;
    memcpy(mf->buf + (size_t)piece * UT_METADATA_PIECE, data, len);
    p->inflight--;
    pc->state = PIECE_HAVE;
    pc->asked = NULL;
    pc->from = key;
    if (++mf->received < mf->npieces)
        return META_FETCH_TAKEN;
    uint8_t h[SHA1_LEN];
    if (sha1(mf->buf, mf->size, h) == 0 && !memcmp(h, mf->ih, SHA1_LEN)) {
        mf->done = 1;
        return META_FETCH_DONE;
    }
    failed_check(mf);
    return META_FETCH_BAD_HASH;
}

/* The peer sending a copy alone failed a request: its part is dropped, so
 * that the next suspect starts a clean copy of its own. */
static void
end_solo(struct meta_fetch *mf, const void *key)
{
    if (!mf->solo || mf->solo != key)
        return;
    for (uint32_t i = 0; i < mf->npieces; i++) {
        struct mf_piece *pc = &mf->pieces[i];
        if (pc->state == PIECE_ASKED)
            give_back(mf, i, pc->asked);
        else if (pc->state == PIECE_HAVE)
            memset(pc, 0, sizeof(*pc));
    }
    mf->received = 0;
    mf->solo = NULL;
}

void
meta_fetch_reject(struct meta_fetch *mf, void *key, uint32_t piece, uint64_t now)
{
    struct mf_peer *p = find(mf, key);
    if (mf->done || !p || piece >= mf->npieces)
        return;
    struct mf_piece *pc = &mf->pieces[piece];
    if (pc->state != PIECE_ASKED || pc->asked != key)
        return;
    give_back(mf, piece, key);
    p->hold_until = now + META_FETCH_HOLD_MS;
    end_solo(mf, key);
}

void
meta_fetch_tick(struct meta_fetch *mf, uint64_t now)
{
    for (uint32_t i = 0; !mf->done && i < mf->npieces; i++) {
        struct mf_piece *pc = &mf->pieces[i];
        if (pc->state != PIECE_ASKED || now - pc->sent_ms < META_FETCH_TIMEOUT_MS)
            continue;
        void *key = pc->asked;
        struct mf_peer *p = find(mf, key);
        if (p)
            p->hold_until = now + META_FETCH_HOLD_MS;
        give_back(mf, i, key);
        end_solo(mf, key);
    }
}

const uint8_t *
meta_fetch_result(const struct meta_fetch *mf, size_t *len)
{
    if (!mf->done)
        return NULL;
    *len = mf->size;
    return mf->buf;
}

int
meta_fetch_peer_count(const struct meta_fetch *mf)
{
    int n = 0;
    for (int i = 0; i < mf->npeers; i++)
        n += !mf->peers[i].excluded;
    return n;
}

int
meta_fetch_is_excluded(const struct meta_fetch *mf, const void *key)
{
    const struct mf_peer *p = find(mf, key);
    return p && p->excluded;
}

uint32_t
meta_fetch_size(const struct meta_fetch *mf)
{
    return mf->size;
}

uint32_t
meta_fetch_received(const struct meta_fetch *mf)
{
    return mf->received;
}
