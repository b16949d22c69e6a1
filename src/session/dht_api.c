/*
 * dht_api.c — the session's DHT node: made on the session's UDP socket
 * when settings.dht is on, told each tick which public torrents to look up,
 * and the public shoal_session_dht_* calls. Session layer; the node itself
 * (dht.c) never sees the session.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/netguard.h"
#include "base/sockaddr.h"
#include "codec/metainfo.h"
#include "session/dht.h"
#include "session/dns.h"
#include "session/session.h"
#include "session/torrent.h"

/* Peers handed to a lookup's callback per call. */
#define DHT_API_PEERS_PER_CALL 64

int
session_dht_start(struct shoal_session *ss)
{
    struct dht_cfg c = {
        .base = ss->base,
        .udp = ss->udp,
        .dns = ss->dns,
        .h = &ss->hooks,
        .local_only = ss->local_only,
        .read_only = ss->cfg.dht_read_only,
        .peer_port = (uint16_t)ss->port,
        .bootstrap = ss->cfg.dht_bootstrap,
        .state_path = ss->cfg.dht_state_path,
    };
    return dht_new(&c, &ss->dht);
}

void
session_dht_tick(struct shoal_session *ss)
{
    if (!ss->dht)
        return;
    for (struct torrent *t = ss->torrents; t; t = t->next) {
        /* BEP 27: a private torrent is never looked up nor announced. A
         * magnet's torrent counts as public until its metadata comes. One
         * in error (its metadata unusable, its disk failing) serves no
         * peer: announcing it would only send peers to a dead end. */
        if ((t->m && t->m->private_flag) || t->state == SHOAL_TS_STOPPED ||
            t->state == SHOAL_TS_ERROR)
            continue;
        dht_torrent_want(ss->dht, t->infohash, t->npeers);
    }
}

int
shoal_session_dht_status(const shoal_session *ss, struct shoal_dht_status *out)
{
    memset(out, 0, sizeof(*out));
    if (!ss->dht)
        return SHOAL_EUNSUPPORTED;
    struct dht_info in;
    dht_info(ss->dht, &in);
    memcpy(out->id, in.id, sizeof(out->id));
    out->port = in.port;
    for (int f = 0; f < 2; f++) {
        out->nodes[f] = in.nodes[f];
        out->good[f] = in.good[f];
        out->buckets[f] = in.buckets[f];
        out->waiting[f] = in.replacements[f];
    }
    out->infohashes = in.infohashes;
    out->peers = in.peers;
    out->torrents = in.torrents;
    out->queries_in = in.queries_in;
    out->replies_out = in.replies_out;
    out->queries_out = in.queries_out;
    out->replies_in = in.replies_in;
    out->dropped = in.dropped;
    out->rate_limited = in.rate_limited;
    out->bad_tokens = in.bad_tokens;
    out->pending = in.pending;
    return 0;
}

char *
shoal_session_dht_table(const shoal_session *ss)
{
    return ss->dht ? dht_table_text(ss->dht) : NULL;
}

int
shoal_session_dht_save(shoal_session *ss)
{
    return ss->dht ? dht_save(ss->dht) : SHOAL_EUNSUPPORTED;
}

/* A lookup of the API: the user's callback. */
struct api_lookup {
    shoal_dht_lookup_cb cb;
    void *user;
};

static void
lookup_peers(void *user, const struct sockaddr_storage *peers, size_t n)
{
    struct api_lookup *al = user;
    char text[DHT_API_PEERS_PER_CALL][SOCKADDR_TEXT_MAX];
    const char *ptr[DHT_API_PEERS_PER_CALL];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; i < n && k < DHT_API_PEERS_PER_CALL; i++, k++) {
            sockaddr_format((const struct sockaddr *)&peers[i], text[k], sizeof(text[k]));
            ptr[k] = text[k];
        }
        al->cb(al->user, ptr, k, 0, NULL);
    }
}

static void
lookup_done(void *user, const struct dht_search_stats *st)
{
    struct api_lookup *al = user;
    struct shoal_dht_lookup_stats out = {
        .queries = st->queries,
        .replies = st->replies,
        .round_trips = st->round_trips,
        .peers = st->peers,
        .announced = st->announced,
        .ms = st->ms > 0 ? (uint64_t)st->ms : 0,
    };
    al->cb(al->user, NULL, 0, 1, &out);
    xfree(al);
}

int
shoal_session_dht_lookup(shoal_session *ss, const uint8_t ih[20], int announce_port,
                         shoal_dht_lookup_cb cb, void *user)
{
    if (!ss->dht)
        return SHOAL_EUNSUPPORTED;
    if (!cb || announce_port < 0 || announce_port > 65535)
        return SHOAL_EINVAL;
    struct api_lookup *al = xcalloc(1, sizeof(*al));
    if (!al)
        return SHOAL_ENOMEM;
    al->cb = cb;
    al->user = user;
    struct dht_search_cb scb = {lookup_peers, lookup_done, al};
    int rc = dht_search(ss->dht, ih, (uint16_t)announce_port, &scb);
    if (rc)
        xfree(al);
    return rc;
}

int
shoal_session_dht_add_node(shoal_session *ss, const char *hostport)
{
    if (!ss->dht)
        return SHOAL_EUNSUPPORTED;
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    if (sockaddr_split_hostport(hostport, 0, host, sizeof(host), &port) != 0)
        return SHOAL_EINVAL;
    if (netguard_check_name(ss->local_only, host) != 0)
        return SHOAL_ELOCALONLY;
    return dht_add_node_name(ss->dht, hostport);
}

/* A sample request of the API. */
struct api_sample {
    shoal_dht_sample_cb cb;
    void *user;
};

static void
sample_done(void *user, int rc, const uint8_t (*ih)[20], size_t n, int64_t num,
            int64_t interval)
{
    struct api_sample *as = user;
    as->cb(as->user, rc, ih ? &ih[0][0] : NULL, n, num, interval);
    xfree(as);
}

int
shoal_session_dht_sample(shoal_session *ss, const char *hostport,
                         const uint8_t target[20], shoal_dht_sample_cb cb, void *user)
{
    if (!ss->dht)
        return SHOAL_EUNSUPPORTED;
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    struct sockaddr_storage sa;
    if (!cb || sockaddr_split_hostport(hostport, 0, host, sizeof(host), &port) != 0 ||
        dns_literal(host, port, AF_UNSPEC, &sa) != 0)
        return SHOAL_EINVAL;
    struct api_sample *as = xcalloc(1, sizeof(*as));
    if (!as)
        return SHOAL_ENOMEM;
    as->cb = cb;
    as->user = user;
    int rc = dht_sample(ss->dht, (struct sockaddr *)&sa, target, sample_done, as);
    if (rc)
        xfree(as);
    return rc;
}
