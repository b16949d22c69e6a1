/*
 * banlist.c — host bans with an expiry and a cap. Engine layer, pure.
 *
 * Every ban lasts the same time, so the order of banning is the order of
 * expiry: the bans sit in an array oldest first, expired ones leave from
 * the front, and a full list drops its front. A look-up walks the array;
 * at BANLIST_MAX entries of 9 bytes that is a few microseconds, paid once
 * per connection, not per message.
 */
#include "engine/banlist.h"

#include <netinet/in.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sockaddr.h"
#include "shoal.h"

struct ban {
    struct ban_key key;
    uint64_t until;
};

struct banlist {
    struct ban *b; /* BANLIST_MAX slots, oldest first */
    size_t n;
};

int
banlist_key(const struct sockaddr *sa, struct ban_key *key)
{
    uint8_t ip[16];
    size_t len = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, ip);
    memset(key, 0, sizeof(*key));
    if (len == 4) {
        key->family = AF_INET;
        memcpy(key->bytes, ip, 4);
    } else if (len == 16) {
        /* A /64: hosts get a whole prefix and pick addresses in it freely. */
        key->family = AF_INET6;
        memcpy(key->bytes, ip, 8);
    } else {
        return SHOAL_EINVAL;
    }
    return 0;
}

static int
key_eq(const struct ban_key *a, const struct ban_key *b)
{
    return a->family == b->family && !memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

int
banlist_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
    struct ban_key ka, kb;
    return banlist_key(a, &ka) == 0 && banlist_key(b, &kb) == 0 && key_eq(&ka, &kb);
}

struct banlist *
banlist_new(void)
{
    struct banlist *bl = xcalloc(1, sizeof(*bl));
    if (!bl)
        return NULL;
    bl->b = xcalloc(BANLIST_MAX, sizeof(*bl->b));
    if (!bl->b) {
        xfree(bl);
        return NULL;
    }
    return bl;
}

void
banlist_free(struct banlist *bl)
{
    if (!bl)
        return;
    xfree(bl->b);
    xfree(bl);
}

static void
drop_front(struct banlist *bl, size_t k)
{
    memmove(bl->b, bl->b + k, (bl->n - k) * sizeof(*bl->b));
    bl->n -= k;
}

/* Index of the ban on key in force at now, or bl->n. */
static size_t
find(const struct banlist *bl, const struct ban_key *key, uint64_t now)
{
    for (size_t i = 0; i < bl->n; i++)
        if (bl->b[i].until > now && key_eq(&bl->b[i].key, key))
            return i;
    return bl->n;
}

int
banlist_add(struct banlist *bl, const struct sockaddr *sa, uint64_t now)
{
    struct ban_key key;
    if (banlist_key(sa, &key) != 0)
        return SHOAL_EINVAL;
    size_t expired = 0;
    while (expired < bl->n && bl->b[expired].until <= now)
        expired++;
    drop_front(bl, expired);
    size_t i = find(bl, &key, now);
    int fresh = i == bl->n;
    if (!fresh) {
        /* Renewed: it moves to the back, where the newest bans are. */
        memmove(&bl->b[i], &bl->b[i + 1], (bl->n - i - 1) * sizeof(*bl->b));
        bl->n--;
    } else if (bl->n == BANLIST_MAX) {
        drop_front(bl, 1);
    }
    bl->b[bl->n++] = (struct ban){key, now + BANLIST_TTL_MS};
    return fresh;
}

void
banlist_del(struct banlist *bl, const struct sockaddr *sa)
{
    struct ban_key key;
    if (banlist_key(sa, &key) != 0)
        return;
    for (size_t i = 0; i < bl->n; i++) {
        if (key_eq(&bl->b[i].key, &key)) {
            memmove(&bl->b[i], &bl->b[i + 1], (bl->n - i - 1) * sizeof(*bl->b));
            bl->n--;
            return;
        }
    }
}

int
banlist_has(const struct banlist *bl, const struct sockaddr *sa, uint64_t now)
{
    struct ban_key key;
    return banlist_key(sa, &key) == 0 && find(bl, &key, now) < bl->n;
}

size_t
banlist_count(const struct banlist *bl, uint64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < bl->n; i++)
        n += bl->b[i].until > now;
    return n;
}
