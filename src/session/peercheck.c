/*
 * peercheck.c — checks a peer address the way shoal_torrent_add_peer()
 * will use it, for a program before its session starts: so that a name that
 * does not resolve is refused before any port is opened or any tracker
 * contacted. Session layer. The name is looked up by the session's own
 * resolver (evdns, on a loop made for this one look-up), so the answer is
 * the one the session will get; the local-only guard decides first, so a
 * name it refuses is never looked up.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "base/netguard.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "session/dns.h"
#include "shoal.h"

/* A resolver that has not answered by then is taken as no answer. */
#define PEERCHECK_TIMEOUT_S 20

struct answer {
    struct event_base *base;
    int local_only;
    int done;
    int rc;
    int allowed; /* some address passes the local-only guard */
    const char *why;
};

static void
on_answer(void *arg, int rc, const struct sockaddr_storage *addrs, size_t n,
          const char *why)
{
    struct answer *a = arg;
    a->done = 1;
    a->rc = rc;
    a->why = why;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (netguard_check_addr(a->local_only, (const struct sockaddr *)&addrs[i]) == 0)
            a->allowed = 1;
    event_base_loopbreak(a->base);
}

/* Looks host up; fills *a. Returns 0 when an answer (good or bad) came. */
static int
look_up(const char *host, uint16_t port, struct answer *a)
{
    struct dns_resolver *r = NULL;
    a->base = event_base_new();
    if (!a->base)
        return SHOAL_ENOMEM;
    int rc = dns_resolver_new(a->base, a->local_only, &r);
    if (!rc)
        rc = dns_lookup(r, host, port, AF_UNSPEC, SOCK_STREAM, on_answer, a, NULL);
    if (!rc) {
        struct timeval tv = {PEERCHECK_TIMEOUT_S, 0};
        event_base_loopexit(a->base, &tv);
        event_base_dispatch(a->base);
        if (!a->done)
            rc = -ETIMEDOUT;
    }
    dns_resolver_free(r); /* a look-up still out ends here */
    event_base_free(a->base);
    return rc;
}

int
shoal_peer_check(const char *hostport, int local_only, struct shoal_perr *err)
{
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    if (sockaddr_split_hostport(hostport, 0, host, sizeof(host), &port) != 0)
        return perr_failf(err, 0, SHOAL_EINVAL, "malformed address",
                          "expected HOST:PORT or [IPV6]:PORT, port 1-65535");
    local_only = local_only || netguard_env_local_only();
    if (netguard_check_name(local_only, host) != 0)
        return perr_failf(err, 0, SHOAL_ELOCALONLY, "refused by local-only mode",
                          "local-only mode allows only 127.0.0.0/8, ::1 and localhost");
    /* Literals and "localhost" need no look-up. */
    struct sockaddr_storage lit;
    if (dns_literal(host, port, AF_UNSPEC, &lit) == 0)
        return 0;
    struct answer a = {.local_only = local_only};
    int rc = look_up(host, port, &a);
    if (rc == -ETIMEDOUT)
        return perr_failf(err, 0, -ENOENT, "no answer", "no answer for %s in %d s", host,
                          PEERCHECK_TIMEOUT_S);
    if (rc == SHOAL_ENOMEM)
        return perr_fail(err, 0, rc, "out of memory");
    if (rc || a.rc)
        return perr_failf(err, 0, -ENOENT, "name does not resolve",
                          "%s does not resolve%s%s", host, a.why ? ": " : "",
                          a.why ? a.why : "");
    if (!a.allowed)
        return perr_failf(err, 0, SHOAL_ELOCALONLY, "refused by local-only mode",
                          "%s is not a loopback address (local-only mode)", host);
    return 0;
}
