/*
 * test_netguard.c — the local-only guard refuses every address outside
 * 127.0.0.0/8 and ::1, and every DNS name but "localhost".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/netguard.h"
#include "base/sockaddr.h"
#include "shoal.h"

struct addr_case {
    const char *ip;
    int loopback;
};

static const struct addr_case cases[] = {
    {"127.0.0.1", 1},
    {"127.255.255.254", 1},
    {"127.1.2.3", 1},
    {"::1", 1},
    {"::ffff:127.0.0.1", 1},
    {"128.0.0.1", 0},
    {"126.255.255.255", 0},
    {"10.0.0.1", 0},
    {"192.168.1.1", 0},
    {"172.16.0.1", 0},
    {"0.0.0.0", 0},
    {"224.0.0.251", 0},
    {"239.192.152.143", 0},
    {"8.8.8.8", 0},
    {"::", 0},
    {"::2", 0},
    {"ff02::1", 0},
    {"fe80::1", 0},
    {"::ffff:10.0.0.1", 0},
    {"2001:db8::1", 0},
};

static void
fill(const char *ip, struct sockaddr_storage *ss)
{
    assert_int_equal(sockaddr_from_ip(ip, 6881, ss, NULL), 0);
}

static void
test_addresses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        fill(cases[i].ip, &ss);
        const struct sockaddr *sa = (const struct sockaddr *)&ss;
        if (netguard_is_loopback(sa) != cases[i].loopback)
            fail_msg("%s: loopback=%d", cases[i].ip, netguard_is_loopback(sa));
        /* Local-only refuses exactly the non-loopback ones... */
        int rc = netguard_check_addr(1, sa);
        assert_int_equal(rc, cases[i].loopback ? 0 : SHOAL_ELOCALONLY);
        /* ...and without it everything is allowed. */
        assert_int_equal(netguard_check_addr(0, sa), 0);
    }
}

static void
test_names(void **state)
{
    (void)state;
    assert_int_equal(netguard_check_name(1, "localhost"), 0);
    assert_int_equal(netguard_check_name(1, "127.0.0.1"), 0);
    assert_int_equal(netguard_check_name(1, "::1"), 0);
    assert_int_equal(netguard_check_name(1, "router.bittorrent.com"), SHOAL_ELOCALONLY);
    assert_int_equal(netguard_check_name(1, "dht.transmissionbt.com"), SHOAL_ELOCALONLY);
    assert_int_equal(netguard_check_name(1, "10.0.0.1"), SHOAL_ELOCALONLY);
    assert_int_equal(netguard_check_name(1, "localhost.example.com"), SHOAL_ELOCALONLY);
    assert_int_equal(netguard_check_name(0, "router.bittorrent.com"), 0);
}

static void
test_env(void **state)
{
    (void)state;
    setenv("SHOAL_LOCAL_ONLY", "1", 1);
    assert_true(netguard_env_local_only());
    setenv("SHOAL_LOCAL_ONLY", "0", 1);
    assert_false(netguard_env_local_only());
    setenv("SHOAL_LOCAL_ONLY", "", 1);
    assert_false(netguard_env_local_only());
    unsetenv("SHOAL_LOCAL_ONLY");
    assert_false(netguard_env_local_only());
    setenv("SHOAL_LOCAL_ONLY", "1", 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
