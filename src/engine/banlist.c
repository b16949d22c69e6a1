/*
 * banlist.c — host bans with an expiry and a cap. Engine layer, pure.
 *
 * Every ban lasts the same time, so the order of banning is the order of
 * expiry: the bans sit in an array oldest first, expired ones leave from
 * the front, and a full list drops its front. A look-up walks the array;
 * at BANLIST_MAX entries of 21 bytes that is a few microseconds, paid once
 * per connection, not per message. Address and peer-id bans share the
 * array and its cap.
 */
#include "engine/banlist.h"

#include <netinet/in.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sockaddr.h"
#include "engine/admission.h"
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
    memset(key, 0, sizeof(*key));
    if (admission_addr_shared(sa)) {
        /* Every local client is here: only the port tells them apart. */
        uint8_t ip[16];
        size_t len = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, ip);
        uint16_t port = sockaddr_port(sa);
        key->kind = BAN_ENDPOINT;
        memcpy(key->bytes, ip, len);
        key->bytes[16] = (uint8_t)(port >> 8);
        key->bytes[17] = (uint8_t)port;
        return 0;
    }
    uint8_t host[16];
    size_t len = sockaddr_host_bytes(sa, host);
    if (len == 0)
        return SHOAL_EINVAL;
    key->kind = len == 4 ? BAN_HOST_V4 : BAN_HOST_V6;
    memcpy(key->bytes, host, len);
    return 0;
}

static int
key_eq(const struct ban_key *a, const struct ban_key *b)
{
    return a->kind == b->kind && !memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

static struct ban_key
id_key(const uint8_t *id)
{
    struct ban_key key = {.kind = BAN_PEER_ID};
    memcpy(key.bytes, id, sizeof(key.bytes));
    return key;
}

int
banlist_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
    struct ban_key ka, kb;
    return banlist_key(a, &ka) == 0 && banlist_key(b, &kb) == 0 && key_eq(&ka, &kb);
}

int
banlist_same_peer(const struct sockaddr *a, const uint8_t *id_a, const struct sockaddr *b,
                  const uint8_t *id_b)
{
    if (banlist_same_host(a, b))
        return 1;
    return admission_addr_shared(a) && admission_addr_shared(b) && id_a && id_b &&
           !memcmp(id_a, id_b, 20);
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

static int
add_key(struct banlist *bl, const struct ban_key *key, uint64_t now)
{
    size_t expired = 0;
    while (expired < bl->n && bl->b[expired].until <= now)
        expired++;
    drop_front(bl, expired);
    size_t i = find(bl, key, now);
    int fresh = i == bl->n;
    if (!fresh) {
        /* Renewed: it moves to the back, where the newest bans are. */
        memmove(&bl->b[i], &bl->b[i + 1], (bl->n - i - 1) * sizeof(*bl->b));
        bl->n--;
    } else if (bl->n == BANLIST_MAX) {
        drop_front(bl, 1);
    }
    bl->b[bl->n++] = (struct ban){*key, now + BANLIST_TTL_MS};
    return fresh;
}

static void
del_key(struct banlist *bl, const struct ban_key *key)
{
    for (size_t i = 0; i < bl->n; i++) {
        if (key_eq(&bl->b[i].key, key)) {
            memmove(&bl->b[i], &bl->b[i + 1], (bl->n - i - 1) * sizeof(*bl->b));
            bl->n--;
            return;
        }
    }
}

int
banlist_add(struct banlist *bl, const struct sockaddr *sa, uint64_t now)
{
    struct ban_key key;
    if (banlist_key(sa, &key) != 0)
        return SHOAL_EINVAL;
    return add_key(bl, &key, now);
}

void
banlist_del(struct banlist *bl, const struct sockaddr *sa)
{
    struct ban_key key;
    if (banlist_key(sa, &key) == 0)
        del_key(bl, &key);
}

int
banlist_has(const struct banlist *bl, const struct sockaddr *sa, uint64_t now)
{
    struct ban_key key;
    return banlist_key(sa, &key) == 0 && find(bl, &key, now) < bl->n;
}

int
banlist_add_peer(struct banlist *bl, const struct sockaddr *sa, const uint8_t *id,
                 uint64_t now)
{
    int rc = banlist_add(bl, sa, now);
    if (rc >= 0 && id && admission_addr_shared(sa)) {
        struct ban_key key = id_key(id);
        add_key(bl, &key, now);
    }
    return rc;
}

void
banlist_del_peer(struct banlist *bl, const struct sockaddr *sa, const uint8_t *id)
{
    banlist_del(bl, sa);
    if (id && admission_addr_shared(sa)) {
        struct ban_key key = id_key(id);
        del_key(bl, &key);
    }
}

int
banlist_has_peer(const struct banlist *bl, const struct sockaddr *sa, const uint8_t *id,
                 uint64_t now)
{
    if (banlist_has(bl, sa, now))
        return 1;
    if (!id || !admission_addr_shared(sa))
        return 0;
    struct ban_key key = id_key(id);
    return find(bl, &key, now) < bl->n;
}

size_t
banlist_count(const struct banlist *bl, uint64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < bl->n; i++)
        n += bl->b[i].until > now;
    return n;
}
