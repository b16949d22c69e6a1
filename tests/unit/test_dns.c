/*
 * test_dns.c — the session's resolver (session/dns.h) without sending a
 * single query: literals and "localhost" answered without a look-up
 * (table-driven), by dns_literal() and by dns_lookup() itself without a
 * query, names refused in local-only mode before any look-up, and
 * the callback contract — from the loop, never inside dns_lookup(), exactly
 * once, with SHOAL_ECANCELED when dns_cancel() or dns_resolver_free() ends
 * the look-up.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "session/dns.h"
#include "shoal.h"

struct literal_case {
    const char *host;
    int family; /* asked for */
    int rc;
    int got_family;
    const char *ip;
};

static const struct literal_case literals[] = {
    {"127.0.0.1", AF_UNSPEC, 0, AF_INET, "127.0.0.1"},
    {"10.1.2.3", AF_INET6, 0, AF_INET, "10.1.2.3"},
    {"::1", AF_UNSPEC, 0, AF_INET6, "::1"},
    {"2001:db8::7", AF_INET, 0, AF_INET6, "2001:db8::7"},
    {"localhost", AF_UNSPEC, 0, AF_INET, "127.0.0.1"},
    {"localhost", AF_INET, 0, AF_INET, "127.0.0.1"},
    {"LocalHost", AF_INET6, 0, AF_INET6, "::1"},
    {"fe80::1%lo", AF_UNSPEC, 0, AF_INET6, "fe80::1"},
    {"example.com", AF_UNSPEC, SHOAL_EINVAL, 0, NULL},
    {"localhost.example", AF_UNSPEC, SHOAL_EINVAL, 0, NULL},
    {"", AF_UNSPEC, SHOAL_EINVAL, 0, NULL},
    {"1.2.3", AF_UNSPEC, SHOAL_EINVAL, 0, NULL},
    {"[::1]", AF_UNSPEC, SHOAL_EINVAL, 0, NULL},
    {"fe80::1%no-such-interface", AF_UNSPEC, SHOAL_EINVAL, 0, NULL},
};

static void
test_literals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
        const struct literal_case *c = &literals[i];
        struct sockaddr_storage sa;
        int rc = dns_literal(c->host, 6881, c->family, &sa);
        if (rc != c->rc)
            fail_msg("%s: rc %d, expected %d", c->host, rc, c->rc);
        if (rc)
            continue;
        assert_int_equal(sa.ss_family, c->got_family);
        char ip[INET6_ADDRSTRLEN];
        if (sa.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
            assert_int_equal(ntohs(in->sin_port), 6881);
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        } else {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
            assert_int_equal(ntohs(in6->sin6_port), 6881);
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            if (strchr(c->host, '%'))
                assert_int_equal(in6->sin6_scope_id, if_nametoindex("lo"));
        }
        if (strcmp(ip, c->ip) != 0)
            fail_msg("%s: got %s, expected %s", c->host, ip, c->ip);
    }
}

/* What one look-up's callback saw. */
struct seen {
    int calls;
    int rc;
    size_t n;
    struct sockaddr_storage first;
};

static void
record(void *arg, int rc, const struct sockaddr_storage *addrs, size_t n, const char *why)
{
    struct seen *s = arg;
    s->calls++;
    s->rc = rc;
    s->n = n;
    if (rc == 0) {
        assert_true(n >= 1);
        s->first = addrs[0];
    } else {
        assert_non_null(why);
        assert_int_equal(n, 0);
    }
}

static void
spin(struct event_base *base)
{
    for (int i = 0; i < 20; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void
test_local_only_refuses_names(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct dns_resolver *r;
    assert_int_equal(dns_resolver_new(base, 1, &r), 0);
    struct seen s = {0};
    struct dns_lookup *l = NULL;
    assert_int_equal(
        dns_lookup(r, "tracker.example", 80, AF_UNSPEC, SOCK_STREAM, record, &s, &l),
        SHOAL_ELOCALONLY);
    assert_null(l);
    spin(base);
    assert_int_equal(s.calls, 0);
    dns_resolver_free(r);
    event_base_free(base);
}

static void
test_answer_from_the_loop(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct dns_resolver *r;
    assert_int_equal(dns_resolver_new(base, 1, &r), 0);

    /* A literal is known at once; the answer still comes from the loop. */
    struct seen s = {0};
    struct dns_lookup *l = NULL;
    assert_int_equal(
        dns_lookup(r, "127.0.0.1", 6969, AF_UNSPEC, SOCK_DGRAM, record, &s, &l), 0);
    assert_non_null(l);
    assert_int_equal(s.calls, 0);
    spin(base);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.first.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&s.first)->sin_port), 6969);

    /* Cancelled: the callback runs inside dns_cancel(), and never again. */
    struct seen c = {0};
    assert_int_equal(dns_lookup(r, "::1", 1, AF_UNSPEC, SOCK_STREAM, record, &c, &l), 0);
    dns_cancel(l);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.rc, SHOAL_ECANCELED);
    spin(base);
    assert_int_equal(c.calls, 1);

    /* Still running when the resolver goes: cancelled the same way. */
    struct seen f = {0};
    assert_int_equal(
        dns_lookup(r, "127.0.0.2", 1, AF_UNSPEC, SOCK_STREAM, record, &f, NULL), 0);
    dns_resolver_free(r);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.rc, SHOAL_ECANCELED);
    spin(base);
    assert_int_equal(f.calls, 1);
    event_base_free(base);
}

/* dns_lookup() answers literals and "localhost" itself, from the loop,
 * without evdns: nothing leaves the machine even for a caller that never
 * called dns_literal(). */
static void
test_lookup_answers_literals(void **state)
{
    (void)state;
    static const struct {
        const char *host;
        int family;
        int rc;    /* of dns_lookup() */
        size_t n;  /* addresses in the answer */
        int first; /* family of the first one */
    } cases[] = {
        {"127.0.0.1", AF_UNSPEC, 0, 1, AF_INET},
        {"::1", AF_INET6, 0, 1, AF_INET6},
        {"localhost", AF_UNSPEC, 0, 2, AF_INET},
        {"localhost", AF_INET, 0, 1, AF_INET},
        {"LOCALHOST", AF_INET6, 0, 1, AF_INET6},
        {"127.0.0.1", AF_INET6, SHOAL_EINVAL, 0, 0},
        {"::1", AF_INET, SHOAL_EINVAL, 0, 0},
    };
    for (int local_only = 0; local_only <= 1; local_only++) {
        struct event_base *base = event_base_new();
        struct dns_resolver *r;
        assert_int_equal(dns_resolver_new(base, local_only, &r), 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct seen s = {0};
            int rc = dns_lookup(r, cases[i].host, 6881, cases[i].family, SOCK_DGRAM,
                                record, &s, NULL);
            if (rc != cases[i].rc)
                fail_msg("%s: rc %d, expected %d", cases[i].host, rc, cases[i].rc);
            assert_int_equal(s.calls, 0); /* never inside dns_lookup() */
            spin(base);
            assert_int_equal(s.calls, rc ? 0 : 1);
            if (rc)
                continue;
            assert_int_equal(s.rc, 0);
            assert_int_equal(s.n, cases[i].n);
            assert_int_equal(s.first.ss_family, cases[i].first);
        }
        assert_int_equal(dns_resolver_queries(r), 0);
        dns_resolver_free(r);
        event_base_free(base);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_local_only_refuses_names),
        cmocka_unit_test(test_answer_from_the_loop),
        cmocka_unit_test(test_lookup_answers_literals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
