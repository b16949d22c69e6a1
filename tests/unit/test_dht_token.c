/*
 * test_dht_token.c — BEP 5 write tokens (src/engine/dht_token.c) with a
 * fake clock: a token is accepted at 9:59 and refused at 10:01 after it
 * was made, accepted across one rotation but not two, refused for another
 * IP (IPv4 and IPv6), refused when altered or of the wrong length, and
 * differs between nodes with different keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/dht_token.h"

#define SEC 1000
#define MIN (60 * SEC)

static const uint8_t KEY[DHT_TOKEN_KEY_LEN] = "0123456789abcdef";
static const uint8_t IP[4] = {192, 0, 2, 7};
static const uint8_t OTHER[4] = {192, 0, 2, 8};

static void
test_ten_minutes(void **state)
{
    (void)state;
    struct dht_token t;
    dht_token_init(&t, KEY, 0);
    uint8_t tok[DHT_TOKEN_LEN];
    assert_int_equal(dht_token_make(&t, IP, 4, 0, tok), DHT_TOKEN_LEN);
    assert_true(dht_token_check(&t, IP, 4, tok, sizeof(tok), 0));
    assert_true(dht_token_check(&t, IP, 4, tok, sizeof(tok), 4 * MIN + 59 * SEC));
    assert_true(dht_token_check(&t, IP, 4, tok, sizeof(tok), 5 * MIN + 1 * SEC));
    assert_true(dht_token_check(&t, IP, 4, tok, sizeof(tok), 9 * MIN + 59 * SEC));
    assert_false(dht_token_check(&t, IP, 4, tok, sizeof(tok), 10 * MIN + 1 * SEC));
    assert_false(dht_token_check(&t, IP, 4, tok, sizeof(tok), 60 * MIN));
}

static void
test_made_later(void **state)
{
    (void)state;
    /* Epochs count from the start, so a token made at 12:00 (epoch 2) is
     * good until 20:00 and a fresh one is made then. */
    struct dht_token t;
    dht_token_init(&t, KEY, 1000 * MIN);
    int64_t t0 = 1000 * MIN + 12 * MIN;
    uint8_t tok[DHT_TOKEN_LEN], tok2[DHT_TOKEN_LEN];
    dht_token_make(&t, IP, 4, t0, tok);
    assert_true(dht_token_check(&t, IP, 4, tok, sizeof(tok), t0 + 7 * MIN + 59 * SEC));
    assert_false(dht_token_check(&t, IP, 4, tok, sizeof(tok), t0 + 8 * MIN));
    /* Within one epoch the token is the same; the next epoch's differs. */
    dht_token_make(&t, IP, 4, t0 + 2 * MIN, tok2);
    assert_memory_equal(tok, tok2, DHT_TOKEN_LEN);
    dht_token_make(&t, IP, 4, t0 + 4 * MIN, tok2);
    assert_memory_not_equal(tok, tok2, DHT_TOKEN_LEN);
    /* A clock before the start counts as the first epoch. */
    dht_token_make(&t, IP, 4, 0, tok);
    assert_true(dht_token_check(&t, IP, 4, tok, sizeof(tok), 1000 * MIN + 9 * MIN));
}

static void
test_other_ip_and_forgeries(void **state)
{
    (void)state;
    struct dht_token t;
    dht_token_init(&t, KEY, 0);
    uint8_t tok[DHT_TOKEN_LEN];
    dht_token_make(&t, IP, 4, 1 * MIN, tok);
    assert_false(dht_token_check(&t, OTHER, 4, tok, sizeof(tok), 1 * MIN));
    /* IPv6, and an IPv6 address is not the IPv4 one. */
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    uint8_t tok6[DHT_TOKEN_LEN];
    dht_token_make(&t, v6, 16, 1 * MIN, tok6);
    assert_true(dht_token_check(&t, v6, 16, tok6, sizeof(tok6), 2 * MIN));
    assert_false(dht_token_check(&t, IP, 4, tok6, sizeof(tok6), 2 * MIN));
    v6[15] = 1;
    assert_false(dht_token_check(&t, v6, 16, tok6, sizeof(tok6), 2 * MIN));
    /* Altered, cut short, too long, empty. */
    for (size_t i = 0; i < DHT_TOKEN_LEN; i++) {
        uint8_t bad[DHT_TOKEN_LEN];
        memcpy(bad, tok, sizeof(bad));
        bad[i] ^= 0x01;
        assert_false(dht_token_check(&t, IP, 4, bad, sizeof(bad), 1 * MIN));
    }
    uint8_t longer[DHT_TOKEN_LEN + 1];
    memcpy(longer, tok, DHT_TOKEN_LEN);
    longer[DHT_TOKEN_LEN] = 0;
    assert_false(dht_token_check(&t, IP, 4, tok, DHT_TOKEN_LEN - 1, 1 * MIN));
    assert_false(dht_token_check(&t, IP, 4, longer, sizeof(longer), 1 * MIN));
    assert_false(dht_token_check(&t, IP, 4, tok, 0, 1 * MIN));
    /* Another node's key makes other tokens. */
    struct dht_token u;
    uint8_t key2[DHT_TOKEN_KEY_LEN];
    memcpy(key2, KEY, sizeof(key2));
    key2[0] ^= 1;
    dht_token_init(&u, key2, 0);
    assert_false(dht_token_check(&u, IP, 4, tok, sizeof(tok), 1 * MIN));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_minutes),
        cmocka_unit_test(test_made_later),
        cmocka_unit_test(test_other_ip_and_forgeries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
