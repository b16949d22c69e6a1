/*
 * test_sockaddr.c — socket address helpers: equality of host and of host
 * and port, lengths, ports, text form, addresses to and from wire bytes,
 * the port a bound socket got, and the "host:port" parser with the inputs
 * it must refuse.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/sockaddr.h"
#include "base/util.h"
#include "shoal.h"

/* Builds an address from a literal; the test fails on a bad one. */
static struct sockaddr_storage
addr(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    assert_int_equal(sockaddr_from_ip(ip, port, &ss, NULL), 0);
    return ss;
}

#define SA(ss) ((struct sockaddr *)&(ss))

struct cmp_case {
    const char *a;
    uint16_t pa;
    const char *b;
    uint16_t pb;
    int same_host;
    int same_endpoint;
};

static const struct cmp_case cmps[] = {
    {"127.0.0.1", 6881, "127.0.0.1", 6881, 1, 1},
    {"127.0.0.1", 6881, "127.0.0.1", 6882, 1, 0},
    {"127.0.0.1", 6881, "127.0.0.2", 6881, 0, 0},
    {"10.1.2.3", 1, "3.2.1.10", 1, 0, 0},
    {"::1", 6881, "::1", 6881, 1, 1},
    {"::1", 6881, "::1", 1, 1, 0},
    {"::1", 6881, "::2", 6881, 0, 0},
    {"2001:db8::1", 80, "2001:db8:0:0:0:0:0:1", 80, 1, 1},
    /* Families differ: an IPv4 address is not its IPv4-mapped form. */
    {"127.0.0.1", 6881, "::ffff:127.0.0.1", 6881, 0, 0},
    {"0.0.0.0", 0, "::", 0, 0, 0},
};

static void
test_compare(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cmps); i++) {
        const struct cmp_case *c = &cmps[i];
        struct sockaddr_storage a = addr(c->a, c->pa), b = addr(c->b, c->pb);
        assert_int_equal(sockaddr_same_host(SA(a), SA(b)), c->same_host);
        assert_int_equal(sockaddr_same_host(SA(b), SA(a)), c->same_host);
        assert_int_equal(sockaddr_same_endpoint(SA(a), SA(b)), c->same_endpoint);
        assert_int_equal(sockaddr_same_endpoint(SA(b), SA(a)), c->same_endpoint);
    }
    /* IPv6 flow information and scope are not part of the address. */
    struct sockaddr_storage a = addr("fe80::1", 5), b = addr("fe80::1", 5);
    ((struct sockaddr_in6 *)&b)->sin6_flowinfo = htonl(7);
    ((struct sockaddr_in6 *)&b)->sin6_scope_id = 2;
    assert_true(sockaddr_same_endpoint(SA(a), SA(b)));
    /* An unknown family equals nothing, itself included. */
    struct sockaddr_storage u;
    memset(&u, 0, sizeof(u));
    u.ss_family = AF_UNIX;
    assert_false(sockaddr_same_host(SA(u), SA(u)));
    assert_false(sockaddr_same_endpoint(SA(u), SA(u)));
    u.ss_family = AF_UNSPEC;
    assert_false(sockaddr_same_endpoint(SA(u), SA(u)));
}

static void
test_len_and_port(void **state)
{
    (void)state;
    assert_int_equal(sockaddr_len(AF_INET), sizeof(struct sockaddr_in));
    assert_int_equal(sockaddr_len(AF_INET6), sizeof(struct sockaddr_in6));
    assert_int_equal(sockaddr_len(AF_UNIX), 0);
    assert_int_equal(sockaddr_len(AF_UNSPEC), 0);

    static const uint16_t ports[] = {0, 1, 80, 6881, 32768, 65535};
    static const char *const ips[] = {"192.0.2.7", "2001:db8::7"};
    for (size_t i = 0; i < ARRAY_LEN(ips); i++) {
        for (size_t k = 0; k < ARRAY_LEN(ports); k++) {
            struct sockaddr_storage ss = addr(ips[i], 1);
            sockaddr_set_port(SA(ss), ports[k]);
            assert_int_equal(sockaddr_port(SA(ss)), ports[k]);
            /* Stored in network order, where the kernel reads it. */
            uint16_t raw = ss.ss_family == AF_INET
                               ? ((struct sockaddr_in *)&ss)->sin_port
                               : ((struct sockaddr_in6 *)&ss)->sin6_port;
            assert_int_equal(raw, htons(ports[k]));
        }
    }
    struct sockaddr_storage u;
    memset(&u, 0xff, sizeof(u));
    u.ss_family = AF_UNIX;
    assert_int_equal(sockaddr_port(SA(u)), 0);
    sockaddr_set_port(SA(u), 5); /* no effect, no crash */
}

struct fmt_case {
    const char *ip;
    uint16_t port;
    const char *text;
};

static const struct fmt_case fmts[] = {
    {"1.2.3.4", 5, "1.2.3.4:5"},
    {"127.0.0.1", 6881, "127.0.0.1:6881"},
    {"255.255.255.255", 65535, "255.255.255.255:65535"},
    {"::1", 5, "[::1]:5"},
    {"2001:db8::1", 443, "[2001:db8::1]:443"},
    {"::ffff:127.0.0.1", 80, "[::ffff:127.0.0.1]:80"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535,
     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
};

static void
test_format(void **state)
{
    (void)state;
    char out[SOCKADDR_TEXT_MAX];
    for (size_t i = 0; i < ARRAY_LEN(fmts); i++) {
        struct sockaddr_storage ss = addr(fmts[i].ip, fmts[i].port);
        sockaddr_format(SA(ss), out, sizeof(out));
        assert_string_equal(out, fmts[i].text);
    }
    /* Cut short, still terminated. */
    struct sockaddr_storage ss = addr("127.0.0.1", 6881);
    sockaddr_format(SA(ss), out, 6);
    assert_string_equal(out, "127.0");
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    sockaddr_format(SA(ss), out, sizeof(out));
    assert_string_equal(out, "(unknown address family 1)");
}

struct split_case {
    const char *in;
    unsigned flags;
    int rc;
    const char *host;
    uint16_t port;
};

static const struct split_case splits[] = {
    {"127.0.0.1:6881", 0, 0, "127.0.0.1", 6881},
    {"localhost:1", 0, 0, "localhost", 1},
    {"example.org:65535", 0, 0, "example.org", 65535},
    {"[::1]:5", 0, 0, "::1", 5},
    {"[2001:db8::1]:6969", 0, 0, "2001:db8::1", 6969},
    {"[::ffff:1.2.3.4]:80", 0, 0, "::ffff:1.2.3.4", 80},
    {"127.0.0.1:0", SOCKADDR_ANY_PORT, 0, "127.0.0.1", 0},
    {"[::1]:0", SOCKADDR_ANY_PORT, 0, "::1", 0},
    {"", 0, SHOAL_EINVAL, NULL, 0},
    {":1", 0, SHOAL_EINVAL, NULL, 0},
    {"h:", 0, SHOAL_EINVAL, NULL, 0},
    {"h:0", 0, SHOAL_EINVAL, NULL, 0},
    {"h:65536", 0, SHOAL_EINVAL, NULL, 0},
    {"h:65536", SOCKADDR_ANY_PORT, SHOAL_EINVAL, NULL, 0},
    {"h:99999999999999999999", 0, SHOAL_EINVAL, NULL, 0},
    {"[::1", 0, SHOAL_EINVAL, NULL, 0},
    {"[::1]5", 0, SHOAL_EINVAL, NULL, 0},
    {"[::1]", 0, SHOAL_EINVAL, NULL, 0},
    {"[]:5", 0, SHOAL_EINVAL, NULL, 0},
    {"a:b:c", 0, SHOAL_EINVAL, NULL, 0},
    {"::1:80", 0, SHOAL_EINVAL, NULL, 0},
    {"nocolon", 0, SHOAL_EINVAL, NULL, 0},
    {"h:-1", 0, SHOAL_EINVAL, NULL, 0},
    {"h:+1", 0, SHOAL_EINVAL, NULL, 0},
    {"h:080", 0, SHOAL_EINVAL, NULL, 0},
    {"h:80 ", 0, SHOAL_EINVAL, NULL, 0},
    {"h:0x50", 0, SHOAL_EINVAL, NULL, 0},
};

static void
test_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(splits); i++) {
        const struct split_case *c = &splits[i];
        char host[SOCKADDR_HOST_MAX];
        uint16_t port = 12345;
        int rc = sockaddr_split_hostport(c->in, c->flags, host, sizeof(host), &port);
        if (rc != c->rc)
            fail_msg("\"%s\": got %d, want %d", c->in, rc, c->rc);
        if (rc == 0) {
            assert_string_equal(host, c->host);
            assert_int_equal(port, c->port);
        }
    }
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    assert_int_equal(sockaddr_split_hostport(NULL, 0, host, sizeof(host), &port),
                     SHOAL_EINVAL);
    /* The host must fit with its NUL. */
    char small[4];
    assert_int_equal(sockaddr_split_hostport("abc:1", 0, small, sizeof(small), &port), 0);
    assert_string_equal(small, "abc");
    assert_int_equal(sockaddr_split_hostport("abcd:1", 0, small, sizeof(small), &port),
                     SHOAL_EINVAL);
    assert_int_equal(sockaddr_split_hostport("[abcd]:1", 0, small, sizeof(small), &port),
                     SHOAL_EINVAL);
}

/* The public form the command line uses. */
static void
test_public_split(void **state)
{
    (void)state;
    char host[256];
    uint16_t port = 0;
    assert_int_equal(shoal_parse_hostport("[::1]:6881", 0, host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 6881);
    assert_int_equal(shoal_parse_hostport("h:0", 0, host, sizeof(host), &port),
                     SHOAL_EINVAL);
    assert_int_equal(
        shoal_parse_hostport("h:0", SHOAL_HOSTPORT_ANY_PORT, host, sizeof(host), &port),
        0);
    assert_int_equal(port, 0);
    assert_int_equal(shoal_parse_hostport("nocolon", 0, host, sizeof(host), &port),
                     SHOAL_EINVAL);
}

struct parse_case {
    const char *in;
    unsigned flags;
    int rc;
    int family;
    const char *text; /* sockaddr_format of the result */
};

static const struct parse_case parses[] = {
    {"127.0.0.1:6969", 0, 0, AF_INET, "127.0.0.1:6969"},
    {"0.0.0.0:0", SOCKADDR_ANY_PORT, 0, AF_INET, "0.0.0.0:0"},
    {"[::1]:6969", 0, 0, AF_INET6, "[::1]:6969"},
    {"[::]:0", SOCKADDR_ANY_PORT, 0, AF_INET6, "[::]:0"},
    {"localhost:6969", 0, SHOAL_EINVAL, 0, NULL}, /* names are not looked up */
    {"127.0.0.1:0", 0, SHOAL_EINVAL, 0, NULL},
    {"256.0.0.1:1", 0, SHOAL_EINVAL, 0, NULL},
    {"[127.0.0.1]:1", 0, 0, AF_INET, "127.0.0.1:1"},
    {"[::1%lo]:1", 0, SHOAL_EINVAL, 0, NULL},
};

static void
test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(parses); i++) {
        const struct parse_case *c = &parses[i];
        struct sockaddr_storage ss;
        socklen_t len = 0;
        int rc = sockaddr_parse(c->in, c->flags, &ss, &len);
        if (rc != c->rc)
            fail_msg("\"%s\": got %d, want %d", c->in, rc, c->rc);
        if (rc)
            continue;
        assert_int_equal(ss.ss_family, c->family);
        assert_int_equal(len, sockaddr_len(c->family));
        char out[SOCKADDR_TEXT_MAX];
        sockaddr_format(SA(ss), out, sizeof(out));
        assert_string_equal(out, c->text);
    }
}

static void
test_from_bytes(void **state)
{
    (void)state;
    static const uint8_t v4[4] = {10, 1, 2, 3};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char out[SOCKADDR_TEXT_MAX];
    assert_int_equal(sockaddr_from_bytes(v4, 4, 6881, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    sockaddr_format(SA(ss), out, sizeof(out));
    assert_string_equal(out, "10.1.2.3:6881");
    assert_int_equal(sockaddr_from_bytes(v6, 16, 1, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    sockaddr_format(SA(ss), out, sizeof(out));
    assert_string_equal(out, "[2001:db8::7]:1");
    assert_int_equal(sockaddr_from_bytes(v6, 6, 1, &ss, NULL), SHOAL_EINVAL);
    assert_int_equal(sockaddr_from_bytes(v6, 0, 1, &ss, NULL), SHOAL_EINVAL);
}

static void
test_ip_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        unsigned flags;
        size_t n;
        uint8_t want[16];
    } cases[] = {
        {"10.1.2.3", 0, 4, {10, 1, 2, 3}},
        {"10.1.2.3", SOCKADDR_UNMAP_V4, 4, {10, 1, 2, 3}},
        {"2001:db8::7", SOCKADDR_UNMAP_V4, 16, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}},
        /* A mapped address stays IPv6 unless asked, then is the IPv4 one. */
        {"::ffff:10.1.2.3", 0, 16, {[10] = 0xff, [11] = 0xff, 10, 1, 2, 3}},
        {"::ffff:10.1.2.3", SOCKADDR_UNMAP_V4, 4, {10, 1, 2, 3}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_storage ss = addr(cases[i].ip, 80);
        uint8_t out[16];
        assert_int_equal(sockaddr_ip_bytes(SA(ss), cases[i].flags, out), cases[i].n);
        assert_memory_equal(out, cases[i].want, cases[i].n);
    }
    struct sockaddr_storage unix_sa = {.ss_family = AF_UNIX};
    uint8_t out[16];
    assert_int_equal(sockaddr_ip_bytes(SA(unix_sa), 0, out), 0);
}

/* One host: an IPv4 address (mapped or not), or an IPv6 /64. */
static void
test_host_bytes(void **state)
{
    (void)state;
    uint8_t out[16];
    struct sockaddr_storage a = addr("::ffff:10.1.2.3", 80);
    assert_int_equal(sockaddr_host_bytes(SA(a), out), 4);
    assert_memory_equal(out, ((uint8_t[]){10, 1, 2, 3}), 4);
    a = addr("2001:db8:0:5:aaaa::1", 80);
    struct sockaddr_storage b = addr("2001:db8:0:5:bbbb::2", 81);
    uint8_t other[16];
    assert_int_equal(sockaddr_host_bytes(SA(a), out), 8);
    assert_int_equal(sockaddr_host_bytes(SA(b), other), 8);
    assert_memory_equal(out, other, 8);
    struct sockaddr_storage unix_sa = {.ss_family = AF_UNIX};
    assert_int_equal(sockaddr_host_bytes(SA(unix_sa), out), 0);
}

static void
test_bound_port(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    /* Not bound yet: no port. */
    assert_int_equal(sockaddr_bound_port(fd), 0);
    struct sockaddr_storage ss = addr("127.0.0.1", 0);
    assert_int_equal(bind(fd, SA(ss), sockaddr_len(AF_INET)), 0);
    uint16_t port = sockaddr_bound_port(fd);
    assert_true(port != 0);
    close(fd);
    /* A closed descriptor cannot be read. */
    assert_int_equal(sockaddr_bound_port(fd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare),    cmocka_unit_test(test_len_and_port),
        cmocka_unit_test(test_format),     cmocka_unit_test(test_split),
        cmocka_unit_test(test_parse),      cmocka_unit_test(test_public_split),
        cmocka_unit_test(test_from_bytes), cmocka_unit_test(test_ip_bytes),
        cmocka_unit_test(test_host_bytes), cmocka_unit_test(test_bound_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
