/*
 * test_dht_id.c — the DHT's shared vocabulary (src/engine/dht_id.c): the
 * BEP 42 test vectors (id made from each address and checked), CRC-32C
 * against its check value, the addresses BEP 42 is not enforced for, XOR
 * distance order and common prefixes, and address conversions (compact
 * forms, socket addresses, IPv4-mapped IPv6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "base/util.h"
#include "engine/dht_id.h"
#include "shoal.h"

/* BEP 42's table: IP, rand (the last byte) and the id's first three bytes
 * (the third byte's low 3 bits are random and not given). */
static const struct {
    const char *ip;
    uint8_t rand;
    uint8_t prefix[3];
} vectors[] = {
    {"124.31.75.21", 1, {0x5f, 0xbf, 0xbf}},  {"21.75.31.124", 86, {0x5a, 0x3c, 0xe9}},
    {"65.23.51.170", 22, {0xa5, 0xd4, 0x32}}, {"84.124.73.14", 65, {0x1b, 0x03, 0x21}},
    {"43.213.53.83", 90, {0xe5, 0x6f, 0x6c}},
};

static void
test_bep42_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t ip[4], rnd[20], id[20];
        assert_int_equal(inet_pton(AF_INET, vectors[i].ip, ip), 1);
        memset(rnd, 0x55, sizeof(rnd));
        rnd[2] = vectors[i].prefix[2] & 7; /* the vector's 3 random bits */
        rnd[19] = vectors[i].rand;
        assert_int_equal(dht_id_make(id, ip, 4, rnd), 0);
        assert_memory_equal(id, vectors[i].prefix, 3);
        assert_int_equal(id[19], vectors[i].rand);
        assert_true(dht_id_valid(id, ip, 4));
        /* The id of one address is not valid for another, nor with another
         * r in the last byte. */
        uint8_t other[4] = {ip[0], ip[1], (uint8_t)(ip[2] ^ 0x20), ip[3]};
        assert_false(dht_id_valid(id, other, 4));
        id[19] ^= 1;
        assert_false(dht_id_valid(id, ip, 4));
    }
    /* The bits the mask drops do not count: only the low 2 bits of the
     * first byte of an IPv4 address are kept. */
    uint8_t a[4] = {124, 31, 75, 21}, b[4] = {124 ^ 0x80, 31, 75, 21}, rnd[20] = {0},
            id[20];
    assert_int_equal(dht_id_make(id, a, 4, rnd), 0);
    assert_true(dht_id_valid(id, b, 4));
    /* IPv6 uses the first 8 bytes. */
    uint8_t v6[16], v6b[16];
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678::1", v6), 1);
    memcpy(v6b, v6, 16);
    v6b[15] = 9;
    assert_int_equal(dht_id_make(id, v6, 16, rnd), 0);
    assert_true(dht_id_valid(id, v6b, 16));
    v6b[7] ^= 1;
    assert_false(dht_id_valid(id, v6b, 16));
    assert_int_equal(dht_id_make(id, v6, 5, rnd), SHOAL_EINVAL);
}

static void
test_crc32c(void **state)
{
    (void)state;
    /* The standard check value of CRC-32C. */
    assert_int_equal(dht_crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
}

static void
test_exempt(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        int exempt;
    } cases[] = {
        {"127.0.0.1", 1},
        {"127.9.8.7", 1},
        {"10.1.2.3", 1},
        {"192.168.1.1", 1},
        {"172.16.0.1", 1},
        {"172.31.255.1", 1},
        {"172.32.0.1", 0},
        {"169.254.3.4", 1},
        {"100.64.0.1", 1},
        {"100.128.0.1", 0},
        {"0.0.0.0", 1},
        {"8.8.8.8", 0},
        {"124.31.75.21", 0},
        {"::1", 1},
        {"::", 1},
        {"fe80::1", 1},
        {"fd00::5", 1},
        {"fc01::5", 1},
        {"2001:db8::1", 0},
        {"::ffff:10.0.0.1", 1},
        {"::ffff:8.8.8.8", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t ip[16];
        size_t len = strchr(cases[i].ip, ':') ? 16 : 4;
        assert_int_equal(inet_pton(len == 4 ? AF_INET : AF_INET6, cases[i].ip, ip), 1);
        if (dht_id_exempt(ip, len) != cases[i].exempt)
            fail_msg("%s: exempt %d, want %d", cases[i].ip, !cases[i].exempt,
                     cases[i].exempt);
    }
}

static void
test_distance(void **state)
{
    (void)state;
    uint8_t t[20] = {0}, a[20] = {0}, b[20] = {0};
    a[19] = 1;
    b[0] = 0x80;
    assert_int_equal(dht_id_cmp_dist(t, a, b), -1);
    assert_int_equal(dht_id_cmp_dist(t, b, a), 1);
    assert_int_equal(dht_id_cmp_dist(t, a, a), 0);
    t[0] = 0x80; /* now b is the target itself */
    assert_int_equal(dht_id_cmp_dist(t, b, a), -1);
    assert_int_equal(dht_id_common_bits(t, t), 160);
    assert_int_equal(dht_id_common_bits(a, b), 0);
    uint8_t c[20] = {0};
    c[2] = 0x10;
    assert_int_equal(dht_id_common_bits(a, c), 19);
    assert_int_equal(dht_id_common_bits(a, (uint8_t[20]){0}), 159);
}

static void
test_addresses(void **state)
{
    (void)state;
    struct dht_addr a, b;
    static const uint8_t c4[6] = {127, 0, 0, 1, 0x1a, 0xe1};
    assert_int_equal(dht_addr_from_compact(&a, c4, 6), 0);
    assert_int_equal(a.len, 4);
    assert_int_equal(a.port, 6881);
    uint8_t out[18];
    assert_int_equal(dht_addr_to_compact(&a, out), 6);
    assert_memory_equal(out, c4, 6);
    assert_int_equal(dht_addr_from_compact(&a, c4, 5), SHOAL_EINVAL);

    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(dht_addr_from_compact(&a, c4, 6), 0);
    assert_int_equal(dht_addr_to_sockaddr(&a, &ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(dht_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
    assert_true(dht_addr_eq(&a, &b));

    /* An IPv4-mapped IPv6 address is the IPv4 address. */
    struct sockaddr_in6 s6 = {0};
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(6881);
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr), 1);
    assert_int_equal(dht_addr_from_sockaddr(&b, (struct sockaddr *)&s6), 0);
    assert_true(dht_addr_eq(&a, &b));
    assert_int_equal(inet_pton(AF_INET6, "::1", &s6.sin6_addr), 1);
    assert_int_equal(dht_addr_from_sockaddr(&b, (struct sockaddr *)&s6), 0);
    assert_int_equal(b.len, 16);
    assert_false(dht_addr_eq(&a, &b));

    /* Compact nodes of both families. */
    uint8_t nodes[2 * 38];
    memset(nodes, 0xab, sizeof(nodes));
    be16_put(nodes + 38 + 36, 4242);
    uint8_t id[20];
    dht_node_from_compact(nodes, 1, 6, id, &a);
    assert_int_equal(a.len, 16);
    assert_int_equal(a.port, 4242);
    dht_node_from_compact(nodes, 1, 4, id, &a);
    assert_int_equal(a.len, 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bep42_vectors), cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_exempt),        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
