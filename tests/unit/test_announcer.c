/*
 * test_announcer.c — BEP 12 tier order and promotion, intervals, back-off
 * after failures, and the started/completed/stopped events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/announcer.h"

static const char *
url_of(const struct announcer *a, const struct announce_job *j)
{
    return a->t[j->tracker].url;
}

static void
test_first_announce_is_started_then_interval(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 1);
    announcer_add(&a, "http://127.0.0.1:1/announce", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint64_t wake;
    assert_int_equal(announcer_next(&a, 1000, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_STARTED);
    /* Busy until the answer comes. */
    assert_int_equal(announcer_next(&a, 1001, &j, &wake), 0);
    announcer_done(&a, &j, 1, 900, 60, "id1", 3, 4, -1, NULL, 2000);
    assert_int_equal(announcer_next(&a, 2001, &j, &wake), 0);
    assert_int_equal(wake, 2000 + 900 * 1000);
    assert_int_equal(announcer_next(&a, wake, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_NONE);
    assert_string_equal(a.t[0].trackerid, "id1");
    announcer_cleanup(&a);
}

static void
test_completed_respects_min_interval(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 1);
    announcer_add(&a, "udp://127.0.0.1:2", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint64_t wake;
    announcer_next(&a, 0, &j, &wake);
    announcer_done(&a, &j, 1, 1800, 120, NULL, -1, -1, -1, NULL, 0);
    announcer_completed(&a);
    assert_int_equal(announcer_next(&a, 60000, &j, &wake), 0);
    assert_int_equal(wake, 120000);
    assert_int_equal(announcer_next(&a, 120000, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_COMPLETED);
    announcer_done(&a, &j, 1, 1800, 120, NULL, -1, -1, -1, NULL, 120000);
    /* Sent once. */
    assert_int_equal(announcer_next(&a, 120000 + 1800 * 1000, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_NONE);
    announcer_cleanup(&a);
}

static void
test_failover_within_tier_then_next_tier(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 7);
    announcer_add(&a, "http://127.0.0.1:10/a", 0);
    announcer_add(&a, "http://127.0.0.1:11/a", 0);
    announcer_add(&a, "http://127.0.0.1:20/a", 1);
    announcer_shuffle(&a);
    /* Tier order survives the shuffle. */
    assert_int_equal(a.t[0].tier, 0);
    assert_int_equal(a.t[1].tier, 0);
    assert_int_equal(a.t[2].tier, 1);
    struct announce_job j;
    uint64_t wake;
    char seen[3][64];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(announcer_next(&a, 1000, &j, &wake), 1);
        assert_int_equal(j.event, ANNOUNCER_EV_STARTED);
        strcpy(seen[i], url_of(&a, &j));
        if (i < 2)
            announcer_done(&a, &j, 0, 0, 0, NULL, -1, -1, -1, "connection refused", 1000);
    }
    /* Both tier-0 trackers were tried before the tier-1 one. */
    assert_string_equal(seen[2], "http://127.0.0.1:20/a");
    assert_string_not_equal(seen[0], seen[1]);
    announcer_done(&a, &j, 1, 600, 0, NULL, -1, -1, -1, NULL, 1000);
    assert_string_equal(a.t[a.current].url, "http://127.0.0.1:20/a");
    assert_string_equal(a.t[0].error, "connection refused");
    announcer_cleanup(&a);
}

static void
test_promotion_within_tier(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 3);
    announcer_add(&a, "udp://127.0.0.1:1", 0);
    announcer_add(&a, "udp://127.0.0.1:2", 0);
    announcer_add(&a, "udp://127.0.0.1:3", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint64_t wake;
    announcer_next(&a, 0, &j, &wake);
    announcer_done(&a, &j, 0, 0, 0, NULL, -1, -1, -1, "timeout", 0);
    announcer_next(&a, 0, &j, &wake);
    const char *second = url_of(&a, &j);
    char keep[64];
    strcpy(keep, second);
    announcer_done(&a, &j, 1, 1800, 0, NULL, -1, -1, -1, NULL, 0);
    /* BEP 12: the one that answered is now first in its tier. */
    assert_string_equal(a.t[0].url, keep);
    assert_int_equal(a.current, 0);
    announcer_cleanup(&a);
}

static void
test_backoff_doubles(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 1);
    announcer_add(&a, "http://127.0.0.1:1/a", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint64_t wake, now = 0;
    uint64_t want[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(announcer_next(&a, now, &j, &wake), 1);
        announcer_done(&a, &j, 0, 0, 0, NULL, -1, -1, -1, "down", now);
        assert_int_equal(announcer_next(&a, now, &j, &wake), 0);
        assert_int_equal(wake - now, want[i] * 1000);
        now = wake;
    }
    announcer_cleanup(&a);
}

static void
test_stop(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 1);
    announcer_add(&a, "http://127.0.0.1:1/a", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint64_t wake;
    /* Never announced: stopping needs no message. */
    announcer_stop(&a);
    assert_int_equal(announcer_next(&a, 0, &j, &wake), 0);
    assert_true(announcer_is_finished(&a));
    announcer_cleanup(&a);

    announcer_init(&a, 1);
    announcer_add(&a, "http://127.0.0.1:1/a", 0);
    announcer_add(&a, "http://127.0.0.1:1/a", 0); /* duplicate ignored */
    assert_int_equal(a.n, 1);
    announcer_shuffle(&a);
    announcer_next(&a, 0, &j, &wake);
    announcer_done(&a, &j, 1, 1800, 0, NULL, -1, -1, -1, NULL, 0);
    announcer_stop(&a);
    assert_int_equal(announcer_next(&a, 5, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_STOPPED);
    assert_false(announcer_is_finished(&a));
    announcer_done(&a, &j, 0, 0, 0, NULL, -1, -1, -1, "gone", 6);
    assert_true(announcer_is_finished(&a));
    assert_int_equal(announcer_next(&a, 10, &j, &wake), 0);
    announcer_cleanup(&a);
}

static void
test_completed_before_stopped(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 1);
    announcer_add(&a, "http://127.0.0.1:1/a", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint64_t wake;
    announcer_next(&a, 0, &j, &wake);
    announcer_done(&a, &j, 1, 1800, 900, NULL, -1, -1, -1, NULL, 0);
    /* Finished and leaving at once: completed, then stopped, no waiting. */
    announcer_completed(&a);
    announcer_stop(&a);
    assert_int_equal(announcer_next(&a, 1, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_COMPLETED);
    announcer_done(&a, &j, 1, 1800, 900, NULL, -1, -1, -1, NULL, 2);
    assert_int_equal(announcer_next(&a, 3, &j, &wake), 1);
    assert_int_equal(j.event, ANNOUNCER_EV_STOPPED);
    announcer_done(&a, &j, 1, 0, 0, NULL, -1, -1, -1, NULL, 4);
    assert_true(announcer_is_finished(&a));
    announcer_cleanup(&a);
}

/* Every tracker is scraped at start, except the one being announced to,
 * which follows its announce's answer; then every half hour. */
static void
test_scrape_schedule(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 5);
    announcer_add(&a, "http://127.0.0.1:1/announce", 0);
    announcer_add(&a, "udp://127.0.0.1:2", 1);
    announcer_shuffle(&a);
    struct announce_job j;
    uint32_t id;
    uint64_t wake;
    assert_int_equal(announcer_next(&a, 1000, &j, &wake), 1);
    uint32_t announced = a.t[j.tracker].id;
    assert_int_equal(announcer_next_scrape(&a, 1000, &id, &wake), 1);
    assert_int_not_equal(id, announced);
    /* The other tracker waits for its announce. */
    uint32_t id2;
    assert_int_equal(announcer_next_scrape(&a, 1000, &id2, &wake), 0);
    announcer_scrape_done(&a, id, ANNOUNCER_SCRAPE_OK, 4, 5, 6, 0, NULL, 1500);
    /* The announced tracker waits for its announce. */
    assert_int_equal(announcer_next_scrape(&a, 1600, &id2, &wake), 0);
    assert_int_equal(wake, 1500 + ANNOUNCER_SCRAPE_INTERVAL_S * 1000ull);
    announcer_done(&a, &j, 1, 1800, 0, NULL, 2, 3, -1, NULL, 2000);
    assert_int_equal(announcer_next_scrape(&a, 2000, &id2, &wake), 1);
    assert_int_equal(id2, announced);
    announcer_scrape_done(&a, id2, ANNOUNCER_SCRAPE_OK, 7, 1, 9, 0, NULL, 2100);
    int k = announcer_find(&a, announced);
    assert_true(k >= 0);
    assert_int_equal(a.t[k].seeders, 7);
    assert_int_equal(a.t[k].leechers, 1);
    assert_int_equal(a.t[k].completed, 9);
    assert_int_equal(a.t[k].counts_ms, 2100);
    int64_t s, l, c;
    announcer_best_counts(&a, &s, &l, &c);
    assert_int_equal(s, 7);
    assert_int_equal(l, 5);
    assert_int_equal(c, 9);
    /* Nothing more until the interval is up. */
    assert_int_equal(announcer_next_scrape(&a, 3000, &id2, &wake), 0);
    assert_int_equal(wake, 1500 + ANNOUNCER_SCRAPE_INTERVAL_S * 1000ull);
    assert_int_equal(announcer_next_scrape(&a, wake, &id2, &wake), 1);
    assert_int_equal(id2, id);
    announcer_cleanup(&a);
}

/* Failures back off; an unsupported tracker is never asked again; an
 * announce reply that leaves a count out keeps the scraped one. */
static void
test_scrape_failures(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 5);
    announcer_add(&a, "http://127.0.0.1:1/tracker", 0);
    announcer_add(&a, "udp://127.0.0.1:2", 1);
    announcer_shuffle(&a);
    uint32_t id, id2;
    uint64_t wake;
    assert_int_equal(announcer_next_scrape(&a, 0, &id, &wake), 1);
    int k = announcer_find(&a, id);
    int udp = !strncmp(a.t[k].url, "udp", 3);
    announcer_scrape_done(&a, id,
                          udp ? ANNOUNCER_SCRAPE_FAILED : ANNOUNCER_SCRAPE_UNSUPPORTED,
                          -1, -1, -1, 0, "nope", 0);
    assert_int_equal(announcer_next_scrape(&a, 0, &id2, &wake), 1);
    announcer_scrape_done(&a, id2,
                          udp ? ANNOUNCER_SCRAPE_UNSUPPORTED : ANNOUNCER_SCRAPE_FAILED,
                          -1, -1, -1, 0, "nope", 0);
    uint32_t failing = udp ? id : id2;
    assert_int_equal(announcer_next_scrape(&a, 0, &id, &wake), 0);
    assert_int_equal(wake, ANNOUNCER_RETRY_MIN_S * 1000);
    assert_int_equal(announcer_next_scrape(&a, wake, &id, &wake), 1);
    assert_int_equal(id, failing);
    announcer_scrape_done(&a, id, ANNOUNCER_SCRAPE_FAILED, -1, -1, -1, 0, "again", 30000);
    assert_int_equal(announcer_next_scrape(&a, 30000, &id, &wake), 0);
    assert_int_equal(wake, 30000 + 2 * ANNOUNCER_RETRY_MIN_S * 1000);
    k = announcer_find(&a, failing);
    assert_string_equal(a.t[k].scrape_error, "again");
    /* Back-off is capped by the scrape interval. */
    for (int i = 0; i < 10; i++) {
        announcer_next_scrape(&a, wake, &id, &wake);
        announcer_scrape_done(&a, id, ANNOUNCER_SCRAPE_FAILED, -1, -1, -1, 0, "x", 0);
        announcer_next_scrape(&a, 0, &id, &wake);
    }
    assert_true(wake <= ANNOUNCER_SCRAPE_INTERVAL_S * 1000ull);
    announcer_scrape_done(&a, failing, ANNOUNCER_SCRAPE_OK, 3, 4, 10, 0, NULL, 1);
    assert_string_equal(a.t[k].scrape_error, "");

    /* UDP announces carry no completed count: the scraped one stays. */
    struct announce_job j;
    a.current = k;
    assert_int_equal(announcer_next(&a, 2, &j, &wake), 1);
    announcer_done(&a, &j, 1, 1800, 0, NULL, 5, 0, -1, NULL, 3);
    k = announcer_find(&a, failing);
    assert_int_equal(a.t[k].seeders, 5);
    assert_int_equal(a.t[k].leechers, 0);
    assert_int_equal(a.t[k].completed, 10);
    /* No scrapes once stopping. */
    a.t[k].scrape_next_ms = 0;
    announcer_stop(&a);
    assert_int_equal(announcer_next_scrape(&a, 10, &id, &wake), 0);
    announcer_cleanup(&a);
}

/* A scrape answer finds its tracker by id even after promotion moved it. */
static void
test_scrape_after_promotion(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 9);
    announcer_add(&a, "udp://127.0.0.1:1", 0);
    announcer_add(&a, "udp://127.0.0.1:2", 0);
    announcer_shuffle(&a);
    struct announce_job j;
    uint32_t id;
    uint64_t wake;
    assert_int_equal(announcer_next(&a, 0, &j, &wake), 1);
    announcer_done(&a, &j, 0, 0, 0, NULL, -1, -1, -1, "timeout", 0);
    assert_int_equal(announcer_next(&a, 0, &j, &wake), 1);
    assert_int_equal(j.tracker, 1);
    /* Tracker 0 is idle: scrape it while tracker 1 is announced to. */
    assert_int_equal(announcer_next_scrape(&a, 0, &id, &wake), 1);
    assert_int_equal(id, a.t[0].id);
    char url[64];
    snprintf(url, sizeof(url), "%s", a.t[0].url);
    announcer_done(&a, &j, 1, 1800, 0, NULL, 1, 1, -1, NULL, 0);
    /* Promotion swapped them. */
    assert_string_equal(a.t[1].url, url);
    announcer_scrape_done(&a, id, ANNOUNCER_SCRAPE_OK, 8, 8, 8, 0, NULL, 1);
    assert_int_equal(a.t[1].seeders, 8);
    assert_int_equal(a.t[0].seeders, 1);
    assert_int_equal(announcer_find(&a, 12345), -1);
    /* An answer for a tracker that is gone is ignored. */
    announcer_next_scrape(&a, 1, &id, &wake);
    announcer_scrape_done(&a, 12345, ANNOUNCER_SCRAPE_OK, 1, 1, 1, 0, NULL, 1);
    assert_int_equal(a.scrapes, 0);
    announcer_cleanup(&a);
}

/* BEP 48 min_request_interval stretches the gap, never shortens it. */
static void
test_scrape_min_interval(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 4);
    announcer_add(&a, "http://127.0.0.1:1/announce", 0);
    announcer_shuffle(&a);
    uint32_t id;
    uint64_t wake;
    assert_int_equal(announcer_next_scrape(&a, 0, &id, &wake), 1);
    announcer_scrape_done(&a, id, ANNOUNCER_SCRAPE_OK, 1, 1, 1, 7200, NULL, 1000);
    assert_int_equal(announcer_next_scrape(&a, 1000, &id, &wake), 0);
    assert_int_equal(wake, 1000 + 7200 * 1000ull);
    assert_int_equal(announcer_next_scrape(&a, wake, &id, &wake), 1);
    announcer_scrape_done(&a, id, ANNOUNCER_SCRAPE_OK, 1, 1, 1, 60, NULL, 5000);
    assert_int_equal(announcer_next_scrape(&a, 5000, &id, &wake), 0);
    assert_int_equal(wake, 5000 + ANNOUNCER_SCRAPE_INTERVAL_S * 1000ull);
    announcer_cleanup(&a);
}

/* A few scrapes run at once, one per tracker. */
static void
test_scrape_limit(void **state)
{
    (void)state;
    struct announcer a;
    announcer_init(&a, 2);
    char url[64];
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES + 2; i++) {
        snprintf(url, sizeof(url), "udp://127.0.0.1:%d", i + 1);
        announcer_add(&a, url, i);
    }
    announcer_shuffle(&a);
    uint32_t ids[ANNOUNCER_MAX_SCRAPES], id;
    uint64_t wake;
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++) {
        assert_int_equal(announcer_next_scrape(&a, 0, &ids[i], &wake), 1);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);
    }
    assert_int_equal(announcer_next_scrape(&a, 0, &id, &wake), 0);
    announcer_scrape_done(&a, ids[1], ANNOUNCER_SCRAPE_FAILED, -1, -1, -1, 0, "x", 0);
    assert_int_equal(announcer_next_scrape(&a, 0, &id, &wake), 1);
    for (int j = 0; j < ANNOUNCER_MAX_SCRAPES; j++)
        assert_int_not_equal(id, ids[j]);
    announcer_cleanup(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_announce_is_started_then_interval),
        cmocka_unit_test(test_completed_respects_min_interval),
        cmocka_unit_test(test_failover_within_tier_then_next_tier),
        cmocka_unit_test(test_promotion_within_tier),
        cmocka_unit_test(test_backoff_doubles),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_completed_before_stopped),
        cmocka_unit_test(test_scrape_schedule),
        cmocka_unit_test(test_scrape_failures),
        cmocka_unit_test(test_scrape_after_promotion),
        cmocka_unit_test(test_scrape_limit),
        cmocka_unit_test(test_scrape_min_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
