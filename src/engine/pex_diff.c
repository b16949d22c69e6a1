/*
 * pex_diff.c — what a peer exchange message says and which received
 * addresses to keep. Engine layer: pure functions over address lists, so
 * the diff and the filter are tested without a network.
 *
 * The sets are small (a torrent keeps well under a hundred peers
 * connected), so plain arrays and linear searches are the cheapest shape.
 */
#include "engine/pex_diff.h"

#include <string.h>

#include "base/alloc.h"

void
pex_sent_init(struct pex_sent *s)
{
    memset(s, 0, sizeof(*s));
}

void
pex_sent_cleanup(struct pex_sent *s)
{
    xfree(s->v);
    memset(s, 0, sizeof(*s));
}

static int
contains(const struct ut_pex_peer *v, size_t n, const struct ut_pex_peer *e)
{
    for (size_t i = 0; i < n; i++)
        if (ut_pex_same(&v[i], e))
            return 1;
    return 0;
}

int
pex_diff(struct pex_sent *s, const struct ut_pex_peer *cur, size_t ncur,
         struct ut_pex_peer *added, size_t max_added, size_t *nadded,
         struct ut_pex_peer *dropped, size_t max_dropped, size_t *ndropped)
{
    *nadded = *ndropped = 0;
    /* Room for every addition first, so that a failed allocation leaves
     * the set as it was. */
    size_t want = s->n + (ncur < max_added ? ncur : max_added);
    if (want > PEX_MAX_SENT)
        want = PEX_MAX_SENT;
    if (want > s->cap) {
        struct ut_pex_peer *v = xreallocarray(s->v, want, sizeof(*v));
        if (!v)
            return SHOAL_ENOMEM;
        s->v = v;
        s->cap = want;
    }
    /* Dropped: told before, gone now. Removing keeps the rest in order. */
    for (size_t i = 0; i < s->n && *ndropped < max_dropped;) {
        if (contains(cur, ncur, &s->v[i])) {
            i++;
            continue;
        }
        dropped[(*ndropped)++] = s->v[i];
        dropped[*ndropped - 1].flags = 0;
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
        s->n--;
    }
    /* Added: here now, not told yet. A duplicate in cur counts once. */
    for (size_t i = 0; i < ncur && *nadded < max_added && s->n < s->cap; i++) {
        if (contains(s->v, s->n, &cur[i]))
            continue;
        added[(*nadded)++] = cur[i];
        s->v[s->n++] = cur[i];
    }
    return (int)(*nadded + *ndropped);
}

static int
v4_acceptable(const uint8_t *ip, int sender_loopback)
{
    if (ip[0] == 0)
        return 0; /* 0.0.0.0/8: "this network", never a peer */
    if (ip[0] >= 224)
        return 0; /* multicast, reserved and broadcast */
    if (ip[0] == 127 && !sender_loopback)
        return 0;
    return 1;
}

int
pex_acceptable(const struct ut_pex_peer *e, int sender_loopback,
               const struct ut_pex_peer *self, size_t nself)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t zero[16];

    if (e->port == 0)
        return 0;
    if (contains(self, nself, e))
        return 0;
    if (e->ip_len == 4)
        return v4_acceptable(e->ip, sender_loopback);
    if (e->ip_len != 16)
        return 0;
    if (!memcmp(e->ip, mapped, 12)) {
        /* Our own address may come mapped too. */
        struct ut_pex_peer v4 = {.ip_len = 4, .port = e->port};
        memcpy(v4.ip, e->ip + 12, 4);
        if (contains(self, nself, &v4))
            return 0;
        return v4_acceptable(v4.ip, sender_loopback);
    }
    if (!memcmp(e->ip, zero, 16))
        return 0; /* :: */
    if (e->ip[0] == 0xff)
        return 0; /* multicast */
    if (!memcmp(e->ip, zero, 15) && e->ip[15] == 1 && !sender_loopback)
        return 0; /* ::1 */
    return 1;
}
