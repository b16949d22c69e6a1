/*
 * dns.c — name look-ups for a session through evdns, on its loop. Session
 * layer: this file owns the evdns base and every request in flight, and
 * turns evdns's answers into plain socket addresses. It never blocks, and
 * in local-only mode it never sends a query: only "localhost" and
 * loopback literals pass netguard_check_name(), and dns_lookup() answers
 * those itself, without evdns.
 *
 * evdns reports a cancelled request on a later loop iteration, so a
 * look-up has two lives: the caller's (dns_lookup() until its callback
 * runs, which dns_cancel() ends at once) and evdns's (until evdns reports,
 * however the caller's ended). The resolver counts the second kind and
 * lets the loop run a few rounds before it frees the evdns base, so that
 * neither kind leaks.
 */
#include "session/dns.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "base/alloc.h"
#include "base/netguard.h"
#include "base/sockaddr.h"
#include "shoal.h"

/* Loop rounds a closing resolver runs for evdns to report cancelled
 * look-ups (one is enough; the rest is a margin, never a wait). */
#define DNS_DRAIN_ROUNDS 16

struct dns_resolver {
    struct event_base *base;
    int local_only;
    struct evdns_base *evdns; /* made on the first look-up */
    struct dns_lookup *live;  /* look-ups whose callback has not run */
    int pending;              /* evdns requests not yet reported, cancelled ones too */
    uint64_t queries;         /* look-ups handed to evdns */
};

struct dns_lookup {
    struct dns_resolver *r;
    struct dns_lookup *prev, *next; /* in r->live while cb is set */
    dns_done_cb cb;                 /* NULL once it ran or the look-up was cancelled */
    void *arg;
    struct evdns_getaddrinfo_request *req; /* NULL for an answer known at once */
    struct event *deferred;                /* reports an answer known at once */
    int starting; /* inside evdns_getaddrinfo(): an answer is kept, not used */
    int result;
    struct evutil_addrinfo *res;
    /* A literal or "localhost", answered without evdns. */
    struct sockaddr_storage lit[2];
    size_t nlit;
};

/* ------------------------------------------------------------------ literals */

int
dns_literal(const char *host, uint16_t port, int family, struct sockaddr_storage *out)
{
    if (sockaddr_from_ip(host, port, out, NULL) == 0)
        return 0;
    if (!strcasecmp(host, "localhost"))
        return sockaddr_from_ip(family == AF_INET6 ? "::1" : "127.0.0.1", port, out,
                                NULL);
    /* A scoped IPv6 literal ("fe80::1%eth0"): getaddrinfo() reads it
     * without any look-up when told the host is numeric. */
    if (strchr(host, '%')) {
        struct addrinfo hints = {.ai_family = AF_INET6, .ai_flags = AI_NUMERICHOST};
        struct addrinfo *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) == 0 && res &&
            res->ai_addrlen <= sizeof(*out)) {
            memcpy(out, res->ai_addr, res->ai_addrlen);
            sockaddr_set_port((struct sockaddr *)out, port);
            freeaddrinfo(res);
            return 0;
        }
        if (res)
            freeaddrinfo(res);
    }
    memset(out, 0, sizeof(*out));
    return SHOAL_EINVAL;
}

/* ------------------------------------------------------------------ look-ups */

/*
 * The answer to host when it needs no look-up: fills lit (room for two)
 * and returns how many addresses, 0 when host is a name for evdns, or
 * SHOAL_EINVAL for a literal of another family than the one asked for.
 * "localhost" asked for AF_UNSPEC is both loopback addresses, IPv4 first.
 */
static int
literal_answer(const char *host, uint16_t port, int family, struct sockaddr_storage *lit)
{
    if (dns_literal(host, port, family, &lit[0]) != 0)
        return 0;
    if (family != AF_UNSPEC && lit[0].ss_family != family)
        return SHOAL_EINVAL;
    if (family == AF_UNSPEC && !strcasecmp(host, "localhost") &&
        dns_literal(host, port, AF_INET6, &lit[1]) == 0)
        return 2;
    return 1;
}

static void
unlink_live(struct dns_lookup *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else if (l->r->live == l)
        l->r->live = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

/* Hands the answer to the caller: the INET addresses of res, or why none. */
static void
report(dns_done_cb cb, void *arg, int result, const struct evutil_addrinfo *res)
{
    struct sockaddr_storage addrs[DNS_MAX_ADDRS];
    size_t n = 0;
    if (result != 0) {
        cb(arg, SHOAL_EINVAL, NULL, 0, evutil_gai_strerror(result));
        return;
    }
    for (const struct evutil_addrinfo *ai = res; ai && n < DNS_MAX_ADDRS;
         ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(addrs[0]))
            continue;
        memset(&addrs[n], 0, sizeof(addrs[n]));
        memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
        n++;
    }
    if (n == 0)
        cb(arg, SHOAL_EINVAL, NULL, 0, "no IPv4 or IPv6 address");
    else
        cb(arg, 0, addrs, n, NULL);
}

static void
on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct dns_lookup *l = arg;
    if (l->starting) {
        /* Answered before evdns_getaddrinfo() returned (a hosts file
         * entry, or an error found at once): dns_lookup() takes it. */
        l->result = result;
        l->res = res;
        return;
    }
    l->r->pending--;
    dns_done_cb cb = l->cb;
    void *cb_arg = l->arg;
    if (cb)
        unlink_live(l);
    xfree(l);
    /* Cancelled (result is EVUTIL_EAI_CANCEL): the caller heard already. */
    if (cb)
        report(cb, cb_arg, result, res);
    if (res)
        evutil_freeaddrinfo(res);
}

/* An answer evdns gave at once, reported from the loop as promised. */
static void
on_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dns_lookup *l = arg;
    dns_done_cb cb = l->cb;
    void *cb_arg = l->arg;
    struct evutil_addrinfo *res = l->res;
    struct sockaddr_storage lit[2];
    size_t nlit = l->nlit;
    memcpy(lit, l->lit, sizeof(lit));
    unlink_live(l);
    event_free(l->deferred);
    xfree(l);
    if (nlit > 0)
        cb(cb_arg, 0, lit, nlit, NULL);
    else
        report(cb, cb_arg, 0, res);
    if (res)
        evutil_freeaddrinfo(res);
}

int
dns_resolver_new(struct event_base *base, int local_only, struct dns_resolver **out)
{
    *out = xcalloc(1, sizeof(**out));
    if (!*out)
        return SHOAL_ENOMEM;
    (*out)->base = base;
    (*out)->local_only = local_only;
    return 0;
}

void
dns_resolver_free(struct dns_resolver *r)
{
    if (!r)
        return;
    while (r->live)
        dns_cancel(r->live);
    /* evdns reports cancelled look-ups from the loop; let it, so that they
     * and evdns's own requests are freed before its base goes. */
    for (int i = 0; i < DNS_DRAIN_ROUNDS && r->pending > 0; i++)
        event_base_loop(r->base, EVLOOP_NONBLOCK);
    if (r->evdns)
        evdns_base_free(r->evdns, 0);
    xfree(r);
}

int
dns_lookup(struct dns_resolver *r, const char *host, uint16_t port, int family,
           int socktype, dns_done_cb cb, void *arg, struct dns_lookup **out)
{
    if (out)
        *out = NULL;
    if (netguard_check_name(r->local_only, host) != 0)
        return SHOAL_ELOCALONLY;
    struct dns_lookup *l = xcalloc(1, sizeof(*l));
    if (!l)
        return SHOAL_ENOMEM;
    int rc = 0;
    l->r = r;
    /* Literals and "localhost" are answered here, so that no caller can
     * make a query leave the machine by forgetting dns_literal() first. */
    int nlit = literal_answer(host, port, family, l->lit);
    if (nlit < 0) {
        rc = nlit;
        goto out;
    }
    if (nlit > 0) {
        l->nlit = (size_t)nlit;
        goto deferred;
    }
    if (!r->evdns) {
        /* Made on first use, so that sessions that never meet a name
         * (tests, local swarms) never read the resolver settings. */
        r->evdns = evdns_base_new(r->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                               EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!r->evdns) {
            rc = SHOAL_ENOMEM;
            goto out;
        }
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", (unsigned)port);
    l->starting = 1;
    r->queries++;
    l->req = evdns_getaddrinfo(r->evdns, host, ps, &hints, on_resolved, l);
    l->starting = 0;
    if (l->req) {
        r->pending++;
        goto live;
    }
    /* The callback already ran and left its answer in l. A name refused at
     * once (malformed, or known not to exist) is bad input. */
    if (l->result != 0) {
        rc = SHOAL_EINVAL;
        goto out;
    }
deferred:
    l->deferred = evtimer_new(r->base, on_deferred, l);
    if (!l->deferred) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    event_active(l->deferred, EV_TIMEOUT, 1);
live:
    l->cb = cb;
    l->arg = arg;
    l->next = r->live;
    if (r->live)
        r->live->prev = l;
    r->live = l;
    if (out)
        *out = l;
out:
    if (rc) {
        if (l->res)
            evutil_freeaddrinfo(l->res);
        xfree(l);
    }
    return rc;
}

uint64_t
dns_resolver_queries(const struct dns_resolver *r)
{
    return r->queries;
}

void
dns_cancel(struct dns_lookup *l)
{
    if (!l || !l->cb)
        return;
    dns_done_cb cb = l->cb;
    void *arg = l->arg;
    l->cb = NULL;
    unlink_live(l);
    if (l->deferred) {
        event_free(l->deferred);
        if (l->res)
            evutil_freeaddrinfo(l->res);
        xfree(l);
    } else {
        /* on_resolved() frees l when evdns reports the cancellation. */
        evdns_getaddrinfo_cancel(l->req);
    }
    cb(arg, SHOAL_ECANCELED, NULL, 0, shoal_strerror(SHOAL_ECANCELED));
}
